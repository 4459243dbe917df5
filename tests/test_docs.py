"""Generated documentation stays in sync with the code that generates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vsssim.cli.docs import state_diagram_markdown
from vsssim.options import fidelity_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_fidelity_page_is_current() -> None:
    assert (DOCS / "fidelity.md").read_text(encoding="utf-8") == fidelity_markdown(), (
        "regenerate with: vsssim fidelity > docs/fidelity.md")


@pytest.mark.parametrize("which", ["writer", "requester"])
def test_state_diagrams_are_current(which: str) -> None:
    page = DOCS / f"state-{which}.md"
    assert page.read_text(encoding="utf-8") == state_diagram_markdown(which), (
        f"regenerate with: vsssim state-diagram {which} --markdown > docs/state-{which}.md")


def test_every_option_is_documented() -> None:
    from vsssim.options import VssOptions

    text = fidelity_markdown()
    for name, field in VssOptions.model_fields.items():
        assert f"`{name}`" in text
        assert field.description and len(field.description) > 20


# ------------------------------------------------------------- docs/testing.md, its examples
def _guide_files() -> dict[str, str]:
    import re

    text = (DOCS / "testing.md").read_text(encoding="utf-8")
    return {block.splitlines()[0][2:-3]: block
            for block in re.findall(r"```python\n(.*?)```", text, re.S)}


def _guide_module(name: str, source: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run one of the guide's files as module ``name`` (importable until the test ends)."""
    import sys
    import types

    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(source, f"docs/testing.md ({name}.py)", "exec"), module.__dict__)
    return module


def test_the_guides_state_hooks_catch_a_writer_that_forgets_to_save_at_freeze(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/testing.md: without the save in on_freeze every backup equals the files at the
    freeze (the default check passes), but the guide's freeze_state / consistency_check see
    the old count in the restored file."""
    from hypothesis import settings

    from vsssim.testing import ConformanceError, check_writer
    from vsssim.testing.writer_conformance import conformance_settings

    files = _guide_files()
    app_source = files["my_app"]
    assert app_source.count("        self.app.save()") == 1
    without_save = app_source.replace("        self.app.save()", "        pass")
    forgetful = _guide_module("my_app", without_save, monkeypatch)
    hooks = _guide_module("test_counter_state", files["test_counter_state"], monkeypatch)
    search = settings(conformance_settings(examples=30), derandomize=True)
    check_writer(forgetful.CounterWriter, application_factory=forgetful.CounterApp,
                 settings=search)
    with pytest.raises(ConformanceError) as info:
        check_writer(forgetful.CounterWriter, application_factory=forgetful.CounterApp,
                     freeze_state=hooks.count_at_freeze, consistency_check=hooks.holds_count,
                     settings=search)
    assert info.value.rule.id == "consistent-restore"
    assert "at the freeze" in str(info.value)
