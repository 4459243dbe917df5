"""The fidelity notes say what the simulator does where it differs from Windows or where the
reference leaves a choice open; each note here is checked against the simulator itself."""

from __future__ import annotations

from collections.abc import Callable

from vsssim import BackupType, VssSystem, WriterState
from vsssim import hresult as hr
from vsssim.options import VssOptions, fidelity_markdown
from vsssim.trace import EventKind

from .conftest import RecordingWriter

MakeWriter = Callable[..., RecordingWriter]


def test_delivery_is_one_writer_at_a_time_and_the_notes_say_so(
        system: VssSystem, make_writer: MakeWriter) -> None:
    def slow_freeze(w: RecordingWriter) -> bool:
        w.clock.sleep(70.0)
        return True

    make_writer("Slow", answers={"Freeze": slow_freeze}, freeze_timeout=600.0)
    make_writer("Next", freeze_timeout=600.0)
    system.backup(["C:\\"], copy_files=False)
    freezes = {e.target: e.time for e in system.trace.filter(kind=EventKind.EVENT,
                                                              name="Freeze")}
    assert freezes["Next"] - freezes["Slow"] >= 70.0  # it waited for the slow handler
    note = VssOptions.model_fields["delivery"].description or ""
    assert "one writer at a time" in note
    assert "in parallel" in note
    assert note in fidelity_markdown()


def test_a_vetoing_backup_sends_abort_twice_and_the_notes_say_so(
        system: VssSystem, make_writer: MakeWriter) -> None:
    w = make_writer("W", answers={"Freeze": False})
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    bc.set_backup_state(False, False, BackupType.FULL)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    bc.prepare_for_backup().result()
    creation = bc.do_snapshot_set()
    creation.wait()
    assert hr.is_error(creation.query_status())
    bc.abort_backup()  # what the reference asks of a requester whose DoSnapshotSet failed
    bc.release()
    assert w.events.count("Abort") == 2
    assert "A writer can receive Abort twice for one backup" in fidelity_markdown()


def test_do_snapshot_set_without_prepare_for_backup_is_accepted_and_the_notes_say_so(
        system: VssSystem, make_writer: MakeWriter) -> None:
    w = make_writer("W")
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    bc.set_backup_state(False, False, BackupType.FULL)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    creation = bc.do_snapshot_set()
    creation.wait()
    assert hr.is_success(creation.query_status())
    assert "PrepareForBackup" not in w.events and "PrepareForSnapshot" in w.events
    bc.gather_writer_status().result()
    assert bc.writer_status[0].state == WriterState.WAITING_FOR_BACKUP_COMPLETE
    bc.release()
    page = fidelity_markdown()
    assert "DoSnapshotSet without PrepareForBackup is accepted" in page
    assert "check_requester" in page
