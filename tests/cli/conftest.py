"""Fixtures for the CLI tests: a lab machine in a temporary root, commands run through click's
runner, golden files compared with a diff, and a snapshot of a root's bytes."""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vsssim.cli import cli

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Lab:
    """A lab root and a way to run ``vsssim`` commands on it (exit code and output)."""

    root: Path
    runner: CliRunner
    cwd: Path

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None
            ) -> Result:
        old = os.getcwd()
        os.chdir(self.cwd)
        try:
            return self.runner.invoke(cli, list(args), input=input, catch_exceptions=False,
                                      env={"VSSSIM_ROOT": str(self.root), "COLUMNS": "200",
                                           "VSSSIM_LOCK_WAIT": "0.3", **(env or {})})
        finally:
            os.chdir(old)

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    """An initialised lab machine (seed 7), commands run from ``tmp_path/work``."""
    work = tmp_path / "work"
    work.mkdir()
    lab = Lab(tmp_path / "lab", CliRunner(), work)
    lab.ok("init", "--seed", "7", "--size", "16")
    return lab


@pytest.fixture
def empty_lab(tmp_path: Path) -> Lab:
    """A root where no lab machine exists yet."""
    work = tmp_path / "work"
    work.mkdir()
    return Lab(tmp_path / "lab", CliRunner(), work)


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes (to prove nothing changed)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def check_golden(name: str, text: str) -> None:
    """Compare with ``golden/<name>``, showing a unified diff; ``UPDATE_GOLDEN=1`` rewrites."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            f"golden/{name}", "actual"))
        pytest.fail(f"output differs from golden/{name} (UPDATE_GOLDEN=1 to accept):\n{diff}",
                    pytrace=False)


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """``golden(name, text)``: compare ``text`` with ``tests/cli/golden/name``."""
    return check_golden


@pytest.fixture
def chdir_tmp(tmp_path: Path) -> Iterator[Path]:
    """Run in ``tmp_path`` (diskshadow writes relative files there)."""
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)
