"""The workshop's expected outputs are what the commands print today, and its README shows
every exercise's commands."""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.cli.conftest import ROOT

WORKSHOP = ROOT / "examples" / "workshop"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("workshop", WORKSHOP / "workshop.py")
    if spec is None or spec.loader is None:
        raise ImportError("examples/workshop/workshop.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_expected_outputs_are_current(tmp_path: Path) -> None:
    workshop = _module()
    transcripts = workshop.play(tmp_path)
    assert set(transcripts) == {e.slug for e in workshop.EXERCISES}
    for slug, text in transcripts.items():
        text = text.replace(str(tmp_path), "<workdir>")
        expected = (WORKSHOP / "expected" / f"{slug}.txt").read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(difflib.unified_diff(expected.splitlines(True),
                                                text.splitlines(True), f"expected/{slug}.txt",
                                                "now"))
            pytest.fail(f"regenerate with: python examples/workshop/workshop.py --update\n"
                        f"{diff}", pytrace=False)


def test_the_readme_walks_through_every_exercise() -> None:
    workshop = _module()
    readme = (WORKSHOP / "README.md").read_text(encoding="utf-8")
    for exercise in workshop.EXERCISES:
        assert exercise.title in readme
        assert f"expected/{exercise.slug}.txt" in readme
        for step in exercise.steps:
            if "{shadow}" not in step.command:
                assert f"vsssim {step.command}" in readme, step.command
    assert sum(e.minutes for e in workshop.EXERCISES) <= 90


def test_the_readme_asks_for_a_terminal_wide_enough_for_exercise_3() -> None:
    workshop = _module()
    readme = (WORKSHOP / "README.md").read_text(encoding="utf-8")
    assert f"at least {workshop.COLUMNS} columns wide" in readme
    assert f"COLUMNS={workshop.COLUMNS} vsssim trace show" in readme
    shown = (WORKSHOP / "expected" / "03-writers-at-work.txt").read_text(encoding="utf-8")
    assert "a lane timeline needs" not in shown and "●" in shown  # lanes, with F and H
    assert re.search(r"^\s*\S+s  FH ", shown, flags=re.MULTILINE)


def test_every_readme_exercise_command_has_its_expected_output() -> None:
    """The command block of each exercise in README.md is the steps workshop.py plays, in the
    same order (so expected/ shows everything the README lists for it)."""
    workshop = _module()
    readme = (WORKSHOP / "README.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", readme, flags=re.MULTILINE)
    for exercise in workshop.EXERCISES:
        section = next(s for s in sections if exercise.title in s.splitlines()[0])
        typed = [re.sub(r"\s{2,}\(.*$", "", line.strip()).removeprefix("vsssim ")
                 for line in section.splitlines() if line.startswith("    vsssim ")]
        steps = [step.command.replace("{shadow}", "{the id create printed}")
                 for step in exercise.steps]
        assert typed == steps, exercise.slug


def test_the_readme_warns_that_extra_commands_shift_the_ids() -> None:
    readme = " ".join((WORKSHOP / "README.md").read_text(encoding="utf-8").split())
    assert "identical on every machine, as long as the commands are typed as listed" in readme
    assert "Every extra command that opens the lab machine" in readme
