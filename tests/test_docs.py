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


def test_the_guides_example_count_and_seed_precedence_is_what_the_run_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/testing.md §8: a profile is chosen with --hypothesis-profile (no environment
    variable), examples= > --vss-conformance-examples > the class's max_examples > the
    profile, and a seed written in the test beats --vss-seed."""
    from hypothesis import settings

    from vsssim.testing import _session
    from vsssim.testing.writer_conformance import WriterConformance, conformance_settings

    text = (DOCS / "testing.md").read_text(encoding="utf-8")
    assert "--hypothesis-profile NAME" in text and "hypothesis reads none" in text
    listed = ["1. `examples=N`", "2. `--vss-conformance-examples N`", "3. `max_examples = N`",
              "4. `max_examples` of the active hypothesis profile"]
    places = [text.index(item) for item in listed]
    assert places == sorted(places)
    assert "A seed written in the test wins over `--vss-seed`" in text

    class Machine(WriterConformance):
        max_examples = 5

    # The active settings, kept as a profile to load back (settings.get_current_profile_name
    # needs hypothesis >= 6.139).
    settings.register_profile("vsssim-docs-previous", settings.default)
    settings.register_profile("vsssim-docs-precedence", max_examples=7)
    settings.load_profile("vsssim-docs-precedence")
    try:
        monkeypatch.setattr(_session, "conformance_examples", 4)
        assert conformance_settings(Machine, examples=3).max_examples == 3
        assert conformance_settings(Machine).max_examples == 4
        monkeypatch.setattr(_session, "conformance_examples", None)
        assert conformance_settings(Machine).max_examples == 5
        assert conformance_settings(WriterConformance).max_examples == 7
    finally:
        settings.load_profile("vsssim-docs-previous")
    monkeypatch.setattr(_session, "seed", 11)
    assert _session.machine_seed(3, 99) == 3   # the class's (or check_writer's) seed
    assert _session.machine_seed(None, 99) == 11
    monkeypatch.setattr(_session, "seed", None)
    assert _session.machine_seed(None, 99) == 99  # drawn per example
