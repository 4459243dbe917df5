"""Provider call order with several providers in one set (providers reference §2.2, §1.3).

Each phase goes to every provider of the set before the next phase starts; the writer events
and the kernel's flush-and-hold sit between the phases exactly where §2.2 puts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.conftest import RecordingWriter
from vsssim.constants import ProviderType
from vsssim.system import VssSystem
from vsssim.trace import EventKind

from .conftest import FakeProvider

#: §2.2 steps 4..17 as (phase, per-provider?) pairs.
_PHASES = [
    ("PrepareForSnapshot", False),
    ("BeginPrepareSnapshot", True),
    ("EndPrepareSnapshots", True),
    ("Freeze", False),
    ("PreCommitSnapshots", True),
    ("FlushAndHoldWrites", False),
    ("CommitSnapshots", True),
    ("ReleaseWrites", False),
    ("PostCommitSnapshots", True),
    ("Thaw", False),
    ("PreFinalCommitSnapshots", True),
    ("PostSnapshot", False),
    ("PostFinalCommitSnapshots", True),
]


@pytest.fixture
def three_volumes(tmp_path: Path) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "m", seed=5) as s:
        for name in ("C:\\", "D:\\", "E:\\"):
            s.add_volume(name, size=8 * 2**20)
        s.volume("C:\\").fs.makedirs("C:\\W")
        s.add_writer(RecordingWriter("W"))
        yield s


def _sequence(system: VssSystem) -> list[tuple[str, str]]:
    kinds = (EventKind.EVENT, EventKind.PROVIDER, EventKind.HOLD, EventKind.RELEASE)
    return [(e.name, e.target) for e in system.trace if e.kind in kinds
            and e.name not in ("Identify", "PrepareForBackup", "BackupComplete",
                               "BackupShutdown")]


@pytest.mark.parametrize("hardware", [False, True])
def test_each_phase_reaches_every_provider_before_the_next(three_volumes: VssSystem,
                                                           hardware: bool) -> None:
    system = three_volumes
    ptype = ProviderType.HARDWARE if hardware else ProviderType.SOFTWARE
    system.add_provider(FakeProvider("A", ptype, volumes=("C:\\",)))
    system.add_provider(FakeProvider("B", volumes=("D:\\",)))
    # E: has no provider of its own: the system provider takes it, a third provider in the set.
    result = system.backup(["C:\\", "D:\\", "E:\\"], copy_files=False)
    assert result.succeeded, result.summary()
    seq = _sequence(system)
    system_provider = system.system_provider.provider_name
    expected: list[tuple[str, str]] = []
    for phase, per_provider in _PHASES:
        if not per_provider:  # writer events go to W; the kernel's hold is VSS's
            expected.append((phase, "W" if phase[0] in "PFT" and "Writes" not in phase
                             else "VSS"))
        else:  # once per volume (Begin) or per provider, in the order they joined the set
            expected += [(phase, "A"), (phase, "B"), (phase, system_provider)]
    if hardware:  # §2.2 step 18: hardware only, after PostFinalCommitSnapshots
        expected.append(("GetTargetLuns", "A"))
    assert seq == expected


def test_a_provider_with_two_volumes_gets_one_call_per_phase(three_volumes: VssSystem) -> None:
    system = three_volumes
    calls: list[str] = []
    system.add_provider(FakeProvider("A", volumes=("C:\\",), calls=calls))
    system.add_provider(FakeProvider("B", volumes=("D:\\", "E:\\"), calls=calls))
    assert system.backup(["C:\\", "D:\\", "E:\\"], copy_files=False).succeeded
    assert calls[:3] == ["A.BeginPrepareSnapshot", "B.BeginPrepareSnapshot",
                         "B.BeginPrepareSnapshot"]
    rest = calls[3:]
    for phase in ("EndPrepareSnapshots", "PreCommitSnapshots", "CommitSnapshots",
                  "PostCommitSnapshots", "PreFinalCommitSnapshots", "PostFinalCommitSnapshots"):
        assert [c for c in rest if c.endswith("." + phase)] == [f"A.{phase}", f"B.{phase}"]


def test_writes_are_released_right_after_the_last_commit(three_volumes: VssSystem) -> None:
    system = three_volumes
    system.add_provider(FakeProvider("A", volumes=("C:\\",)))
    system.add_provider(FakeProvider("B", volumes=("D:\\",)))
    assert system.backup(["C:\\", "D:\\"], copy_files=False).succeeded
    names = [n for n, _ in _sequence(system)]
    last_commit = max(i for i, n in enumerate(names) if n == "CommitSnapshots")
    assert names[last_commit + 1] == "ReleaseWrites"
    hold = system.trace.first("FlushAndHoldWrites")
    assert hold is not None and "C:\\" in hold.detail and "D:\\" in hold.detail


def test_one_failing_provider_aborts_every_provider_of_the_set(three_volumes: VssSystem) -> None:
    system = three_volumes
    calls: list[str] = []
    from vsssim import hresult as hr

    system.add_provider(FakeProvider("A", volumes=("C:\\",), calls=calls))
    system.add_provider(FakeProvider("B", volumes=("D:\\",), calls=calls,
                                     fail={"CommitSnapshots": hr.E_FAIL}))
    result = system.backup(["C:\\", "D:\\", "E:\\"], copy_files=False)
    assert not result.succeeded
    assert "A.AbortSnapshots" in calls and "B.AbortSnapshots" in calls
    assert "A.PostCommitSnapshots" not in calls  # no partial commit (rule 4)
    names = [n for n, _ in _sequence(system)]
    assert "ReleaseWrites" in names  # the hold never outlives the failed commit
    assert system.all_snapshots() == []
