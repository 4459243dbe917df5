"""Generated documentation stays in sync with the code that generates it."""

from __future__ import annotations

from pathlib import Path

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
