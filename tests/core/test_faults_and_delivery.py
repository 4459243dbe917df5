"""Fault plans (every kind of writer fault, storage faults) and the order of event delivery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.core.conftest import RecordingWriter
from vsssim import hresult as hr
from vsssim._state import WriterEvent
from vsssim.constants import ApplicationLevel, BackupType, WriterState
from vsssim.faults import (
    FaultPlan,
    IdentifyDuring,
    ProviderFault,
    RequesterCrash,
    StorageFault,
    WriterFault,
)
from vsssim.options import VssOptions
from vsssim.system import VssSystem
from vsssim.trace import EventKind

NAMES = ("A", "B", "C", "D", "E")


def _machine(tmp: Path, *, seed: int = 1, faults: FaultPlan | None = None,
             options: VssOptions | None = None) -> VssSystem:
    system = VssSystem(tmp, seed=seed, faults=faults or FaultPlan(), options=options)
    system.add_volume("C:\\", size=8 * 2**20)
    for name in NAMES:  # E is a back-end writer: its Freeze comes after the front-end ones
        w = RecordingWriter(name, level=ApplicationLevel.BACK_END if name == "E"
                            else ApplicationLevel.FRONT_END)
        system.volume("C:\\").fs.makedirs(w.components["data"], exist_ok=True)
        system.add_writer(w)
    return system


def _backup(system: VssSystem) -> tuple[int, dict[str, tuple[WriterState, int]]]:
    """One non-component-mode backup of C:; (DoSnapshotSet's status, writer status)."""
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.gather_writer_metadata().result()
        bc.set_backup_state(False, False, BackupType.FULL)
        bc.start_snapshot_set()
        bc.add_to_snapshot_set("C:\\")
        bc.prepare_for_backup().result()
        op = bc.do_snapshot_set()
        op.wait()
        code = op.query_status()
        if code == hr.VSS_S_ASYNC_FINISHED:
            bc.backup_complete().result()
        bc.gather_writer_status().result()
        return code, {s.writer_name: (s.state, s.failure) for s in bc.writer_status}


def _order(system: VssSystem, event: str) -> list[str]:
    return [e.target for e in system.trace.filter(name=event)
            if e.source == "VSS" and e.target in NAMES]


def test_registration_order_is_the_default(tmp_path: Path) -> None:
    with _machine(tmp_path / "m") as system:
        _backup(system)
        assert _order(system, "PrepareForBackup") == list(NAMES)
        assert _order(system, "Freeze") == list(NAMES)


def test_shuffled_delivery_is_seeded_and_keeps_the_freeze_levels(tmp_path: Path) -> None:
    shuffled = VssOptions(delivery="shuffled")
    orders = []
    for seed in range(4):
        runs = []
        for run in range(2):
            with _machine(tmp_path / f"m{seed}-{run}", seed=seed, options=shuffled) as system:
                assert _backup(system)[0] == hr.VSS_S_ASYNC_FINISHED
                runs.append({ev: _order(system, ev) for ev in
                             ("PrepareForBackup", "PrepareForSnapshot", "Freeze")})
        assert runs[0] == runs[1]  # the same seed gives the same order
        for order in runs[0].values():
            assert sorted(order) == list(NAMES)  # every writer got the event once
        assert runs[0]["Freeze"][-1] == "E"  # back-end writers freeze after front-end ones
        orders.append(runs[0]["PrepareForBackup"])
    assert any(order != list(NAMES) for order in orders)  # really shuffled
    assert len({tuple(o) for o in orders}) > 1  # and the seed decides


def test_a_writer_fault_can_fire_every_time(tmp_path: Path) -> None:
    plan = FaultPlan([WriterFault("Freeze", writer="B", action="veto", every=True)])
    with _machine(tmp_path / "m", faults=plan) as system:
        for _ in range(3):
            code, status = _backup(system)
            assert code == hr.VSS_E_UNEXPECTED_WRITER_ERROR  # the set failed at Freeze
            assert status["B"] == (WriterState.FAILED_AT_FREEZE,
                                   hr.VSS_E_WRITERERROR_NONRETRYABLE)
        assert len(system.trace.filter(name="WriterFault")) == 3


def test_a_raise_fault_is_a_handler_exception_and_aborts_at_freeze(tmp_path: Path) -> None:
    plan = FaultPlan([WriterFault("Freeze", writer="C", action="raise")])
    with _machine(tmp_path / "m", faults=plan) as system:
        code, status = _backup(system)
        assert code == hr.VSS_E_UNEXPECTED_WRITER_ERROR
        assert status["C"][0] == WriterState.FAILED_AT_FREEZE
        assert system.trace.first("HandlerRaised") is not None
        assert system.trace.first("Abort") is not None
        fault = system.trace.first("WriterFault")
        assert fault is not None and fault.kind == EventKind.FAULT


def test_a_fail_fault_runs_the_handler_and_post_snapshot_does_not_abort(
        tmp_path: Path) -> None:
    plan = FaultPlan([WriterFault("PostSnapshot", writer="A", action="fail",
                                  hresult=hr.VSS_E_WRITERERROR_RETRYABLE)])
    with _machine(tmp_path / "m", faults=plan) as system:
        code, status = _backup(system)
        assert code == hr.VSS_S_ASYNC_FINISHED  # PostSnapshot failures never abort
        assert status["A"] == (WriterState.FAILED_AT_POST_SNAPSHOT,
                               hr.VSS_E_WRITERERROR_RETRYABLE)
        writer = next(w for w in system.writers if w.writer_name == "A")
        assert "PostSnapshot" in writer.events  # type: ignore[attr-defined]
        assert system.trace.first("Abort") is None


def test_a_delay_fault_passes_virtual_time_only(tmp_path: Path) -> None:
    plan = FaultPlan([WriterFault("PrepareForBackup", writer="D", action="delay", delay=45.0)])
    with _machine(tmp_path / "m", faults=plan) as system:
        code, status = _backup(system)
        assert code == hr.VSS_S_ASYNC_FINISHED  # no window covers PrepareForBackup
        assert system.clock.now() >= 45.0
        assert status["D"][1] == hr.S_OK


@pytest.mark.parametrize("max_size", [0, 1, 16383])
def test_a_storage_fault_without_room_fails_creation_with_insufficient_storage(
        tmp_path: Path, max_size: int) -> None:
    """StorageFault's documented behaviour: a diff area smaller than one block cannot take a
    new shadow copy; creation fails in EndPrepareSnapshots, before anything is frozen."""
    plan = FaultPlan([StorageFault("C:\\", max_size=max_size, occurrence=2)])
    with _machine(tmp_path / "m", faults=plan) as system:
        assert _backup(system)[0] == hr.VSS_S_ASYNC_FINISHED  # the diff area exists now
        code, status = _backup(system)
        assert code == hr.VSS_E_INSUFFICIENT_STORAGE
        assert all(state == WriterState.STABLE for state, _ in status.values())
        last = system.trace.filter(name="StorageFault")[-1]
        assert f"limited to {max_size} bytes" in last.detail
        after = [e.name for e in system.trace][system.trace.names().index("StorageFault"):]
        assert "Freeze" not in after and "AbortSnapshots" in after


@pytest.mark.parametrize(("build", "error", "words"), [
    # The HRESULT passed where the provider name goes: the fault would never fire.
    (lambda: ProviderFault("CommitSnapshots", hr.E_FAIL),  # type: ignore[arg-type]
     TypeError, "provider must be str"),
    (lambda: WriterFault("Freeze", action="explode"),  # type: ignore[arg-type]
     ValueError, "action must be one of"),
    (lambda: WriterFault("Freeze", occurrence=0), ValueError, "occurrence counts from 1"),
    (lambda: WriterFault("Freeze", delay=-1.0), ValueError, "delay must be"),
    (lambda: WriterFault(3), TypeError, "event must be str"),  # type: ignore[arg-type]
    (lambda: StorageFault("C:\\", max_size=1.5),  # type: ignore[arg-type]
     TypeError, "max_size must be int"),
    (lambda: RequesterCrash(after=None), TypeError, "after must be str"),  # type: ignore[arg-type]
    (lambda: IdentifyDuring("Thaw", every="yes"),  # type: ignore[arg-type]
     TypeError, "every must be bool"),
    # A name nothing is called by: the fault would never fire, and the test would pass.
    (lambda: WriterFault("freeze"), ValueError,
     r"WriterFault.event must be one of .*, not 'freeze' \(names are case-sensitive: "
     r"'Freeze'\)"),
    (lambda: ProviderFault("Nope"), ValueError, "ProviderFault.method must be one of"),
    (lambda: RequesterCrash(after="DoSnapshotSet"), ValueError,
     "RequesterCrash.after must be one of"),
    (lambda: IdentifyDuring("Backup"), ValueError, "IdentifyDuring.event must be one of"),
    # Identify and BackupShutdown are delivered on their own: nothing can come between.
    (lambda: IdentifyDuring("Identify"), ValueError, "IdentifyDuring.event must be one of"),
    (lambda: RequesterCrash(after="BackupShutdown"), ValueError,
     "RequesterCrash.after must be one of"),
    (lambda: StorageFault("C:\\", at="Freeze"), ValueError, "StorageFault.at must be one of"),
])
def test_a_fault_with_a_wrong_field_is_refused_when_built(
        build: Callable[[], object], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        build()


def test_a_fault_plan_subclass_that_decides_at_run_time_fires(tmp_path: Path) -> None:
    """The coordinator asks the plan (its ``__bool__`` and methods), not the plan's list."""

    class Deciding(FaultPlan):
        def __bool__(self) -> bool:
            return True

        def provider_fault(self, method: str, provider: str) -> ProviderFault | None:
            if method == "CommitSnapshots":
                return ProviderFault("CommitSnapshots", hresult=hr.VSS_E_PROVIDER_VETO)
            return None

    with VssSystem(tmp_path / "m") as system:
        system.add_volume("C:", 64 << 20)
        system.faults = Deciding()
        assert _backup(system)[0] == hr.VSS_E_PROVIDER_VETO


def test_a_fault_plan_given_later_or_filled_later_is_asked(tmp_path: Path) -> None:
    """The coordinator reads a plain plan's list (no call per event) and asks a plan with
    its own ``__bool__``: a plan replaced on the machine, or filled after the machine was
    built, must fire."""

    class Never(FaultPlan):
        def __bool__(self) -> bool:
            return False

        def provider_fault(self, method: str, provider: str) -> ProviderFault | None:
            raise AssertionError("a plan that is False is not asked")

    with VssSystem(tmp_path / "m") as system:
        system.add_volume("C:", 64 << 20)
        plan = system.faults
        assert _backup(system)[0] == hr.VSS_S_ASYNC_FINISHED
        plan.add(ProviderFault("CommitSnapshots", hresult=hr.VSS_E_PROVIDER_VETO))
        assert _backup(system)[0] == hr.VSS_E_PROVIDER_VETO
        never = Never()
        never.add(ProviderFault("CommitSnapshots", hresult=hr.VSS_E_PROVIDER_VETO))
        system.faults = never
        assert _backup(system)[0] == hr.VSS_S_ASYNC_FINISHED
        system.faults = FaultPlan([ProviderFault("CommitSnapshots",
                                                 hresult=hr.VSS_E_PROVIDER_VETO)])
        assert _backup(system)[0] == hr.VSS_E_PROVIDER_VETO
    # An empty plan given to the machine is the one it keeps: filled later, it fires.
    given = FaultPlan()
    with VssSystem(tmp_path / "m2", faults=given) as system:
        system.add_volume("C:", 64 << 20)
        assert system.faults is given
        assert _backup(system)[0] == hr.VSS_S_ASYNC_FINISHED
        given.add(ProviderFault("CommitSnapshots", hresult=hr.VSS_E_PROVIDER_VETO))
        assert _backup(system)[0] == hr.VSS_E_PROVIDER_VETO


@pytest.mark.parametrize("writers", [1, 2, 3])
def test_shuffled_delivery_draws_only_to_order_several_writers(tmp_path: Path,
                                                               writers: int) -> None:
    """Ordering one writer draws nothing (a fast path skips the shuffle): the delivery
    generator must move exactly as ``random.shuffle`` moves it, for one writer or more."""
    import random

    system = VssSystem(tmp_path / "m", seed=3, options=VssOptions(delivery="shuffled"))
    with system:
        system.add_volume("C:\\", size=8 * 2**20)
        for name in NAMES[:writers]:
            w = RecordingWriter(name)
            system.volume("C:\\").fs.makedirs(w.components["data"], exist_ok=True)
            system.add_writer(w)
        shuffle = system.coordinator._shuffle
        expected = random.Random()
        expected.setstate(shuffle.getstate())
        regs = system.coordinator.writers
        order = system.coordinator._ordered(regs, WriterEvent.PREPARE_FOR_BACKUP)
        twin = sorted(regs, key=lambda r: r.order)
        expected.shuffle(twin)
        assert order == twin
        assert shuffle.getstate() == expected.getstate()


def test_a_handler_over_its_time_limit_did_not_answer(tmp_path: Path) -> None:
    """``handler_timeouts``: the clock is read around a handler only when a limit applies;
    a handler that works longer than its limit is a writer that did not answer."""

    def slow(seconds: float) -> Callable[[RecordingWriter], bool]:
        def handler(writer: RecordingWriter) -> bool:
            system.clock.sleep(seconds)
            return True
        return handler

    for seconds, expected in ((1.0, "ok"), (30.0, "did not answer")):
        system = VssSystem(tmp_path / f"m{seconds}", seed=1,
                           options=VssOptions(handler_timeouts={"PrepareForSnapshot": 10.0}))
        with system:
            system.add_volume("C:\\", size=8 * 2**20)
            w = RecordingWriter("A", answers={"PrepareForSnapshot": slow(seconds)})
            system.volume("C:\\").fs.makedirs(w.components["data"], exist_ok=True)
            system.add_writer(w)
            system.backup(["C:\\"])
            reply = system.trace.last("PrepareForSnapshot", kind=EventKind.REPLY)
            assert reply is not None and reply.detail == expected


def test_each_session_hands_its_writers_its_own_session_info(tmp_path: Path) -> None:
    """The SessionInfo a handler sees is kept per participant (a fast path): in a second
    backup it must describe the second session."""
    seen: list[object] = []

    def record(writer: RecordingWriter) -> bool:
        seen.append(writer.get_session_id())
        return True

    with VssSystem(tmp_path / "m", seed=1) as system:
        system.add_volume("C:\\", size=8 * 2**20)
        w = RecordingWriter("A", answers={"Freeze": record, "Thaw": record})
        system.volume("C:\\").fs.makedirs(w.components["data"], exist_ok=True)
        system.add_writer(w)
        sessions = []
        for _ in range(2):
            with system.create_backup_components() as bc:
                bc.initialize_for_backup()
                bc.gather_writer_metadata().wait()
                bc.set_backup_state(False, False, BackupType.FULL)
                bc.start_snapshot_set()
                bc.add_to_snapshot_set("C:\\")
                bc.prepare_for_backup().wait()
                bc.do_snapshot_set().wait()
                sessions.append(bc.session_id)
        assert sessions[0] != sessions[1]
        assert seen == [sessions[0], sessions[0], sessions[1], sessions[1]]
