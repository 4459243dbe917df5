"""The three small hooks the testing toolkit needs from the core (listed in the toolkit's docs):

* a writer's reply in the trace says whether the handler called ``SetWriterFailure``
  (``set_failure``), so a bare ``False`` can be told from a documented veto;
* every requester call and result names its requester object (``session``);
* ``VssSystem.faults`` reads and replaces the fault plan between operations.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vsssim import FaultPlan, VssSystem, WriterFault, hresult
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.trace import EventKind


class _BareVeto(KvStoreWriter):
    def on_prepare_snapshot(self) -> bool:
        return False


class _DocumentedVeto(KvStoreWriter):
    def on_prepare_snapshot(self) -> bool:
        self.set_writer_failure(hresult.VSS_E_WRITERERROR_RETRYABLE)
        return False


@pytest.mark.parametrize(("writer_class", "expected"), [(_BareVeto, False),
                                                        (_DocumentedVeto, True),
                                                        (KvStoreWriter, False)])
def test_replies_say_whether_set_writer_failure_was_called(
        tmp_path: Path, writer_class: type[KvStoreWriter], expected: bool) -> None:
    with VssSystem(tmp_path / "m") as system:
        app = system.add_application(KvStoreApp(system.add_volume("C:\\").fs))
        system.add_writer(writer_class(app))
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        reply = result.trace.first("PrepareForSnapshot", kind=EventKind.REPLY)
        assert reply is not None
        assert reply.get("set_failure") is expected
        assert reply.get("result") is (writer_class is KvStoreWriter)


def test_calls_and_results_name_their_requester_object(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m") as system:
        system.add_volume("C:\\")
        first = system.create_backup_components()
        second = system.create_backup_components()
        first.initialize_for_backup()
        second.initialize_for_backup()
        first.start_snapshot_set()
        first.release()
        second.release()
        calls = system.trace.filter(kind=EventKind.CALL)
        sessions = {e.name: set() for e in calls}  # type: dict[str, set[object]]
        for e in calls:
            sessions[e.name].add(e.get("session"))
        assert sessions["InitializeForBackup"] == {str(first.session_id), str(second.session_id)}
        assert sessions["StartSnapshotSet"] == {str(first.session_id)}
        result = system.trace.first("StartSnapshotSet", kind=EventKind.RESULT)
        assert result is not None and result.get("session") == str(first.session_id)


def test_the_fault_plan_can_be_replaced_between_operations(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m") as system:
        app = system.add_application(KvStoreApp(system.add_volume("C:\\").fs))
        system.add_writer(KvStoreWriter(app))
        assert not system.faults
        system.faults = FaultPlan([WriterFault("Freeze", action="veto")])
        assert not system.backup(["C:\\"], target_dir=tmp_path / "b1").succeeded
        system.faults = None
        assert not system.faults
        assert system.backup(["C:\\"], target_dir=tmp_path / "b2").succeeded
        with pytest.raises(TypeError, match="FaultPlan"):
            system.faults = [WriterFault("Freeze")]  # type: ignore[assignment]
        assert not system.faults  # a refused assignment changes nothing
