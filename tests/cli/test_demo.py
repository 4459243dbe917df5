"""``vsssim demo`` through click's runner and as a real process; the examples run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vsssim.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_timeline_and_summary(tmp_path: Path) -> None:
    mermaid = tmp_path / "run.mmd"
    result = CliRunner().invoke(cli, ["demo", "--seed", "3", "--mermaid", str(mermaid),
                                      "--target", str(tmp_path / "b")],
                                env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.output
    for needle in ("DoSnapshotSet", "Freeze", "Thaw", "FlushAndHoldWrites", "BackupComplete",
                   "backup succeeded", "suspended", "writes held"):
        assert needle in out
    assert mermaid.read_text().startswith("sequenceDiagram")
    assert (tmp_path / "b" / "backup_components.xml").exists()


def test_demo_fail_option_makes_a_writer_veto() -> None:
    result = CliRunner().invoke(cli, ["demo", "--fail", "kvstore:Freeze:retryable"],
                                env={"COLUMNS": "160"})
    assert result.exit_code == 1
    assert "FAILED_AT_FREEZE" in result.output
    assert "VSS_E_WRITERERROR_RETRYABLE" in result.output


def test_demo_fail_accepts_the_full_writer_name() -> None:
    result = CliRunner().invoke(cli, ["demo", "--fail", "file share writer:freeze"],
                                env={"COLUMNS": "160"})
    assert result.exit_code == 1
    assert "writer File Share Writer: [9] FAILED_AT_FREEZE" in result.output


@pytest.mark.parametrize("spec", ["kvstore", "kvstore:Melt", "kvstore:Freeze:maybe",
                                  "Nope:Freeze", "SqlServerWriter:Freeze"])
def test_demo_rejects_bad_fail_specs(spec: str) -> None:
    result = CliRunner().invoke(cli, ["demo", "--fail", spec])
    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_demo_refuses_a_target_that_already_holds_a_backup(tmp_path: Path) -> None:
    target = str(tmp_path / "backup")
    assert CliRunner().invoke(cli, ["demo", "--target", target]).exit_code == 0
    again = CliRunner().invoke(cli, ["demo", "--target", target])
    assert again.exit_code == 1
    assert "Error: target_dir" in again.output and "already holds a backup" in again.output
    assert "Traceback" not in again.output


def test_same_seed_same_output() -> None:
    runner = CliRunner()
    a = runner.invoke(cli, ["demo", "--seed", "5"], env={"COLUMNS": "200"}).output
    b = runner.invoke(cli, ["demo", "--seed", "5"], env={"COLUMNS": "200"}).output
    strip = [line for line in a.splitlines() if "/tmp" not in line and "vsssim-demo" not in line]
    assert strip == [line for line in b.splitlines()
                     if "/tmp" not in line and "vsssim-demo" not in line]


def test_demo_as_a_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "vsssim.cli.main", "demo", "--seed", "1"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "160"})
    assert proc.returncode == 0, proc.stderr
    assert "backup succeeded" in proc.stdout


@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "examples").glob("*.py")))
def test_examples_run(example: str) -> None:
    # A script's own directory, not the working directory, starts sys.path: PYTHONPATH makes
    # the example import this checkout's vsssim (not another one installed in the venv).
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / example)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("scenario", ["writer-veto", "two-providers", "restore-custom"])
def test_demo_refuses_fail_outside_the_basic_scenario(scenario: str) -> None:
    result = CliRunner().invoke(cli, ["demo", "--scenario", scenario, "--fail",
                                      "fileshare:Freeze"], catch_exceptions=False)
    assert result.exit_code == 2
    assert (f"Error: --fail works with the basic scenario only (--scenario {scenario} scripts "
            "its own failure)") in result.output
    assert "Summary" not in result.output


def test_docs_list_every_demo_option() -> None:
    """docs/cli.md's command table names every option of `vsssim demo`."""
    from vsssim.cli.demo import demo

    row = next(line for line in (ROOT / "docs" / "cli.md").read_text().splitlines()
               if line.startswith("| `vsssim demo"))
    for param in demo.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in row, opt
