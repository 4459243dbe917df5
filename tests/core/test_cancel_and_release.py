"""Cancelling DoSnapshotSet and releasing the requester while it runs.

``IVssAsync::Cancel`` on a DoSnapshotSet that has frozen writers is an abort: providers get
AbortSnapshots, writers get Abort (and resume), no copy is left, and the creation lock is free.
Releasing the requester while a background DoSnapshotSet runs does the same, and the lock is
given back only once the service has finished the set.
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable

from vsssim import hresult as hr
from vsssim.constants import BackupType
from vsssim.requester import BackupComponents
from vsssim.system import VssSystem
from vsssim.trace import EventKind

from .conftest import RecordingWriter


def _prepared(system: VssSystem, mode: str) -> BackupComponents:
    bc = system.create_backup_components(async_mode=mode)  # type: ignore[arg-type]
    bc.initialize_for_backup()
    bc.gather_writer_metadata().wait()
    bc.set_backup_state(False, False, BackupType.FULL)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    bc.prepare_for_backup().wait()
    return bc


def test_cancel_after_freeze_aborts_the_set(system: VssSystem,
                                            make_writer: Callable[..., RecordingWriter]) -> None:
    w = make_writer("W")
    bc = _prepared(system, "manual")
    op = bc.do_snapshot_set()
    while "Freeze" not in w.events:
        assert op.step() is not None
    assert op.cancel() == hr.S_OK
    assert op.query_status() == hr.VSS_S_ASYNC_CANCELLED
    assert w.events[-1] == "Abort"
    assert "Thaw" not in w.events
    assert system.trace.last("AbortSnapshots") is not None
    assert system.all_snapshots() == []
    assert system.coordinator.creating is None
    bc.release()
    # The machine is usable again.
    assert system.backup(["C:\\"], copy_files=False).succeeded


def test_cancel_before_freeze_takes_no_abort_snapshots_before_end_prepare(
        system: VssSystem, make_writer: Callable[..., RecordingWriter]) -> None:
    w = make_writer("W")
    bc = _prepared(system, "manual")
    op = bc.do_snapshot_set()
    assert op.step() is not None  # PrepareForSnapshot only
    op.cancel()
    assert "Freeze" not in w.events
    assert system.trace.first("AbortSnapshots") is None  # rule 5
    assert system.coordinator.creating is None
    bc.release()


def test_release_during_a_background_set_waits_for_the_service(
        system: VssSystem, make_writer: Callable[..., RecordingWriter]) -> None:
    in_freeze, go_on = threading.Event(), threading.Event()

    def slow_freeze(writer: RecordingWriter) -> bool:
        in_freeze.set()
        go_on.wait(10.0)
        return True

    w = make_writer("W", answers={"Freeze": slow_freeze})
    bc = _prepared(system, "background")
    op = bc.do_snapshot_set()
    assert in_freeze.wait(10.0)
    released = threading.Thread(target=bc.release)
    released.start()
    released.join(0.2)
    assert released.is_alive()  # the release waits for the set...
    assert system.coordinator.creating is not None  # ...which still holds the creation lock
    go_on.set()
    released.join(10.0)
    assert not released.is_alive()
    assert op.done and op.query_status() == hr.VSS_S_ASYNC_CANCELLED
    assert "Abort" in w.events and w.events[-1] == "BackupShutdown"
    assert system.coordinator.creating is None
    assert system.all_snapshots() == []
    assert [e.name for e in system.trace if e.kind == EventKind.NOTE
            and e.name == "CreationFailed"] == ["CreationFailed"]


def test_a_released_requester_is_freed_without_the_cycle_collector(
        system: VssSystem, make_writer: Callable[..., RecordingWriter]) -> None:
    # An ended asynchronous operation lets go of its completion callback (which refers to
    # the requester that holds the operation).
    make_writer("W")
    bc = _prepared(system, "immediate")
    bc.abort_backup()
    bc.release()
    released = weakref.ref(bc)
    gc.disable()
    try:
        del bc
        assert released() is None
    finally:
        gc.enable()


def test_calls_that_need_only_an_idle_object_wait_for_the_running_operation(
        system: VssSystem) -> None:
    """A requester decides most calls from one fact, "no operation runs" (a fast path): a
    call made while an operation is still pending must be refused, naming that fact, and be
    legal once the operation is over."""
    import pytest

    from vsssim.errors import VssBadStateError

    bc = system.create_backup_components(async_mode="manual")
    bc.initialize_for_backup()
    op = bc.gather_writer_metadata()
    assert not op.done
    with pytest.raises(VssBadStateError, match="no asynchronous operation is still running"):
        bc.set_backup_state(False, False, BackupType.FULL)
    op.wait()
    bc.set_backup_state(False, False, BackupType.FULL)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    op = bc.prepare_for_backup()
    assert not op.done
    with pytest.raises(VssBadStateError, match="no asynchronous operation is still running"):
        bc.gather_writer_status()
    op.wait()
    assert op.succeeded
    bc.gather_writer_status().wait()
    bc.release()
