"""Random requester call sequences, legal and illegal (hypothesis).

Properties: only ``VssError``s escape; a refused call changes nothing (session state, the Backup
Components Document, the set of shadow copies); and every writer state change recorded in the
trace follows the writer table of ``vsssim._state``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.core.conftest import RecordingWriter
from vsssim._state import Outcome, WriterEvent, next_writer_state
from vsssim.constants import (
    ApplicationLevel,
    BackupType,
    ComponentType,
    ObjectType,
    SnapshotContext,
    WriterState,
)
from vsssim.errors import VssError
from vsssim.requester import BackupComponents
from vsssim.system import VssSystem
from vsssim.trace import EventKind

Call = Callable[[BackupComponents, Any, list[RecordingWriter]], object]


def _component(data: Any, writers: list[RecordingWriter]) -> tuple[Any, ...]:
    w = data.draw(st.sampled_from(writers), label="writer")
    name = data.draw(st.sampled_from(["data", "other", "nope"]), label="component")
    return w, name


def _add_component(bc: BackupComponents, data: Any, writers: list[RecordingWriter]) -> object:
    w, name = _component(data, writers)
    right = data.draw(st.booleans(), label="right instance")
    iid = w.instance_id if right else writers[0].writer_id
    bc.add_component(iid, w.writer_id, ComponentType.FILEGROUP, "", name)
    return None


def _set_succeeded(bc: BackupComponents, data: Any, writers: list[RecordingWriter]) -> object:
    w, name = _component(data, writers)
    bc.set_backup_succeeded(w.instance_id, w.writer_id, ComponentType.FILEGROUP, "", name,
                            data.draw(st.booleans()))
    return None


def _delete(bc: BackupComponents, data: Any, writers: list[RecordingWriter]) -> object:
    snaps = bc._system.all_snapshots()
    if snaps and data.draw(st.booleans()):
        target = data.draw(st.sampled_from(snaps)).snapshot_id
    else:
        target = writers[0].writer_id
    return bc.delete_snapshots(target, ObjectType.SNAPSHOT)


CALLS: dict[str, Call] = {
    "InitializeForBackup": lambda bc, d, w: bc.initialize_for_backup(),
    "SetContext": lambda bc, d, w: bc.set_context(d.draw(st.sampled_from(
        [SnapshotContext.BACKUP, SnapshotContext.APP_ROLLBACK, SnapshotContext.NAS_ROLLBACK,
         SnapshotContext.ALL, 0x12345]))),
    "SetBackupState": lambda bc, d, w: bc.set_backup_state(
        d.draw(st.booleans()), False, d.draw(st.sampled_from(list(BackupType)))),
    "DisableWriterClasses": lambda bc, d, w: bc.disable_writer_classes([w[1].writer_id]),
    "GatherWriterMetadata": lambda bc, d, w: bc.gather_writer_metadata(),
    "GetWriterMetadata": lambda bc, d, w: bc.writer_metadata,
    "AddComponent": _add_component,
    "StartSnapshotSet": lambda bc, d, w: bc.start_snapshot_set(),
    "AddToSnapshotSet": lambda bc, d, w: bc.add_to_snapshot_set(
        d.draw(st.sampled_from(["C:\\", "D:\\", "C:", "Q:\\"]))),
    "PrepareForBackup": lambda bc, d, w: bc.prepare_for_backup(),
    "DoSnapshotSet": lambda bc, d, w: bc.do_snapshot_set(),
    "GatherWriterStatus": lambda bc, d, w: bc.gather_writer_status(),
    "GetWriterStatus": lambda bc, d, w: bc.writer_status,
    "SetBackupSucceeded": _set_succeeded,
    "SaveAsXML": lambda bc, d, w: bc.save_as_xml(),
    "BackupComplete": lambda bc, d, w: bc.backup_complete(),
    "AbortBackup": lambda bc, d, w: bc.abort_backup(),
    "Query": lambda bc, d, w: bc.query(),
    "DeleteSnapshots": _delete,
    "Release": lambda bc, d, w: bc.release(),
}


def _snapshot_ids(system: VssSystem) -> set[Any]:
    return {p.snapshot_id for p in system.all_snapshots()}


def _check_writer_transitions(system: VssSystem) -> None:
    last: dict[tuple[str, str], WriterState] = {}
    for e in system.trace.filter(kind=EventKind.STATE):
        key = (e.source, str(e.get("session")))
        prev = last.get(key, WriterState.STABLE)
        event = WriterEvent(str(e.get("event")))
        new = WriterState[str(e.get("state"))]
        allowed = set()
        for outcome in Outcome:
            try:
                allowed.add(next_writer_state(prev, event, outcome))
            except KeyError:
                continue
        assert new in allowed, f"{e.source}: {prev.name} --{event.value}--> {new.name}"
        last[key] = new


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_requester_call_sequences(data: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp, VssSystem(Path(tmp), seed=0) as system:
        system.add_volume("C:\\", size=4 * 2**20)
        system.add_volume("D:\\", size=4 * 2**20)
        answers = data.draw(st.fixed_dictionaries({}, optional={
            "Freeze": st.booleans(), "Thaw": st.booleans(), "PrepareForSnapshot": st.booleans(),
            "PostSnapshot": st.booleans()}), label="writer answers")
        writers = [RecordingWriter("A", answers=answers),
                   RecordingWriter("B", level=ApplicationLevel.BACK_END,
                                   components={"data": "D:\\B", "other": "C:\\B2"})]
        for w in writers:
            system.add_writer(w)
        bc = system.create_backup_components()
        names = sorted(CALLS)
        for _ in range(data.draw(st.integers(1, 30), label="length")):
            # Mostly legal calls, so that sequences get deep; endings and illegal calls too.
            legal = [n for n in bc.legal_calls() if n in CALLS
                     and n not in ("Release", "AbortBackup", "Query", "DisableWriterClasses")]
            pick_legal = legal and data.draw(st.integers(0, 4), label="bias") > 0
            name = data.draw(st.sampled_from(legal if pick_legal else names), label="call")
            before = (bc.state, bc.document.model_dump(), _snapshot_ids(system))
            try:
                CALLS[name](bc, data, writers)
                event(f"ok: {name}")
            except VssError:
                after = (bc.state, bc.document.model_dump(), _snapshot_ids(system))
                assert after == before, f"{name} failed but changed something"
        if bc.state.value != "Released":
            bc.release()
        _check_writer_transitions(system)
        assert system.coordinator.creating is None  # released objects give the lock back
