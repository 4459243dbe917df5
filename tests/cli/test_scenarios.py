"""``vsssim demo --scenario``: every scenario tells its story; ``--step`` driven through a
pseudo-terminal; seeds make runs repeatable; demos are saved as runs of an existing lab."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli.conftest import ROOT, Lab
from vsssim.cli import cli
from vsssim.cli.explain import explain, is_specific
from vsssim.cli.scenarios import SCENARIOS, ScenarioContext, running
from vsssim.constants import RestoreMethod
from vsssim.trace import EventKind


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_goes_the_way_it_explains(name: str) -> None:
    with running(ScenarioContext(seed=2)) as ctx:
        run = SCENARIOS[name].run(ctx)
    assert run.as_expected, "\n".join(run.summary)
    assert len(run.trace) > 20
    assert run.look_at and run.summary
    assert [e.seq for e in run.trace] == list(range(1, len(run.trace) + 1))


def test_every_restore_method_has_a_scenario() -> None:
    methods = {m for m in RestoreMethod if m != RestoreMethod.UNDEFINED}
    titles = {s.title for s in SCENARIOS.values()}
    assert {f"restore with {m.name}" for m in methods} <= titles


def test_scenarios_are_deterministic_for_a_seed() -> None:
    def names_and_details(seed: int) -> list[tuple[str, str]]:
        with running(ScenarioContext(seed=seed)) as ctx:
            trace = SCENARIOS["storage-full"].run(ctx).trace
        return [(e.name, e.detail) for e in trace]

    assert names_and_details(4) == names_and_details(4)
    assert names_and_details(4) != names_and_details(5)


@pytest.mark.parametrize("name", ["basic", "hold-timeout", "transportable",
                                  "restore-at-reboot", "writer-veto", "storage-full"])
def test_every_event_of_a_scenario_has_an_explanation(name: str) -> None:
    """Calls, events, provider calls, holds and snapshot changes each have their own sentence;
    replies, results, states and faults share one per kind."""
    generic_kinds = {EventKind.REPLY, EventKind.RESULT, EventKind.STATE, EventKind.FAULT}
    with running(ScenarioContext(seed=0)) as ctx:
        trace = SCENARIOS[name].run(ctx).trace
    for event in trace:
        text = explain(event)
        assert text and not any(f"{{{k}}}" in text for k in ("source", "target", "detail",
                                                             "name")), text
        assert event.kind in generic_kinds or is_specific(event), (event.kind, event.name)


@pytest.mark.parametrize(("name", "needles"), [
    ("writer-veto", ["FAILED_AT_FREEZE", "VSS_E_WRITERERROR_RETRYABLE", "AbortSnapshots"]),
    ("hold-timeout", ["HoldWritesTimeout", "VSS_E_HOLD_WRITES_TIMEOUT"]),
    ("storage-full", ["ShadowCopyPurged", "purged"]),
    ("excluded-writer", ["without its writer", "replayed"]),
    ("two-providers", ["Array provider", "provider chosen: E:\\ -> Array provider"]),
])
def test_demo_command_prints_the_story(name: str, needles: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--root", str(tmp_path / "nolab"), "demo", "--scenario",
                                      name, "--all-events"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    for needle in needles:
        assert needle in result.output
    assert "What to look at" in result.output
    assert not (tmp_path / "nolab").exists()  # no lab there: nothing is saved


def test_demo_list_and_svg(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["demo", "--list"])
    assert listed.exit_code == 0
    for name in SCENARIOS:
        assert name in listed.output
    svg = tmp_path / "veto.svg"
    result = runner.invoke(cli, ["demo", "--scenario", "writer-veto", "--svg", str(svg)])
    assert result.exit_code == 0
    assert svg.read_text().startswith("<svg")


def test_a_demo_is_saved_as_a_run_of_an_existing_lab(lab: Lab) -> None:
    out = lab.ok("demo", "--scenario", "freeze-timeout")
    assert "Saved as run 1" in out
    assert "FreezeWindowExpired" in lab.ok("trace", "show", "1")


def test_unknown_scenario_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["demo", "--scenario", "nope"])
    assert result.exit_code == 2


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never came; got:\n{seen.decode(errors='replace')}")
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen.extend(chunk)


def test_step_through_a_pseudo_terminal() -> None:
    """--step pauses after each event (nothing more appears until Enter), explains it in
    one line, and 'c' runs to the end."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vsssim.cli", "demo", "--scenario", "writer-veto",
         "--step", "--seed", "1"],
        stdin=child, stdout=child, stderr=child, cwd=ROOT, close_fds=True,
        env={**os.environ, "COLUMNS": "120", "TERM": "dumb"})
    os.close(child)
    seen = bytearray()
    try:
        _read_until(main, b"run to the end", seen)
        assert b"CreateVssBackupComponents" in seen
        assert b"one object for one backup" in seen  # the explanation
        assert b"InitializeForBackup" not in seen  # paused: the next event waits
        os.write(main, b"\n")
        _read_until(main, b"InitializeForBackup", seen)
        _read_until(main, b"must come first", seen)
        os.write(main, b"c\n")
        _read_until(main, b"What to look at", seen)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    text = seen.decode(errors="replace")
    assert "KvStore Writer answered Freeze with a failure" in text
    assert "FAILED_AT_FREEZE" in text


@pytest.mark.parametrize("page", ["docs/cli.md", "vsssim/cli/scenarios.py"])
def test_the_scenario_lists_name_every_scenario(page: str) -> None:
    """The docs list scenarios by name, and the restore ones by their pattern: a new scenario
    must be added to both lists."""
    text = (ROOT / page).read_text(encoding="utf-8")
    missing = [name for name in SCENARIOS
               if not name.startswith("restore-") and f"`{name}`" not in text]
    assert not missing, f"{page} does not name the scenario(s) {missing}"
    assert "restore-" in text
