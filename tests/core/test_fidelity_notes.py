"""The fidelity notes say what the simulator does where it differs from Windows or where the
reference leaves a choice open; each note here is checked against the simulator itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal
from uuid import UUID

import pytest

from vsssim import (
    ApplicationLevel,
    Async,
    BackupComponents,
    BackupType,
    SnapshotContext,
    VolumeSnapshotAttributes,
    VssBadStateError,
    VssInvalidArgumentError,
    VssSystem,
    WriterState,
)
from vsssim import hresult as hr
from vsssim.options import CopiesAfterRevert, VssOptions, fidelity_markdown
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
    assert "**Events reach writers one at a time**" in fidelity_markdown()  # and why not an option


@pytest.mark.parametrize(("abort_after_abandon", "aborts"), [("again", 2), ("once", 1)])
def test_abort_backup_after_a_veto_sends_abort_again_unless_told_once(
        tmp_path: Path, abort_after_abandon: Literal["again", "once"], aborts: int) -> None:
    options = VssOptions(abort_after_abandon=abort_after_abandon)
    with VssSystem(tmp_path / "m", seed=1, options=options) as system:
        system.add_volume("C:\\", size=8 * 2**20)
        vetoing = RecordingWriter("Vetoing", answers={"Freeze": False})
        other = RecordingWriter("Other")
        system.add_writer(vetoing)
        system.add_writer(other)
        bc, creation = _snapshot_set(system, prepare=True)
        assert creation is not None and hr.is_error(creation.query_status())
        assert vetoing.events.count("Abort") == other.events.count("Abort") == 1  # VSS's own
        bc.abort_backup()  # what the reference asks of a requester whose DoSnapshotSet failed
        bc.release()
        assert vetoing.events.count("Abort") == other.events.count("Abort") == aborts
    note = VssOptions.model_fields["abort_after_abandon"].description or ""
    assert "a writer can receive several Abort events" in note
    assert note in fidelity_markdown()


def _snapshot_set(system: VssSystem, *, prepare: bool = False
                         ) -> tuple[BackupComponents, Async | None]:
    """A writer backup up to DoSnapshotSet, without PrepareForBackup unless ``prepare``: the
    session and DoSnapshotSet's operation (None when the call was refused)."""
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    bc.set_backup_state(False, False, BackupType.FULL)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    if prepare:
        bc.prepare_for_backup().result()
    try:
        creation = bc.do_snapshot_set()
    except VssBadStateError:
        return bc, None
    creation.wait()
    return bc, creation


def test_do_snapshot_set_without_prepare_for_backup_is_accepted_by_default(
        system: VssSystem, make_writer: MakeWriter) -> None:
    w = make_writer("W")
    bc, creation = _snapshot_set(system)
    assert creation is not None and hr.is_success(creation.query_status())
    assert "PrepareForBackup" not in w.events and "PrepareForSnapshot" in w.events
    bc.gather_writer_status().result()
    assert bc.writer_status[0].state == WriterState.WAITING_FOR_BACKUP_COMPLETE
    bc.release()
    note = VssOptions.model_fields["prepare_before_snapshot"].description or ""
    assert "'optional': the call is accepted" in note and "check_requester" in note
    assert note in fidelity_markdown()


def test_prepare_before_snapshot_required_refuses_an_unprepared_do_snapshot_set(
        tmp_path: Path) -> None:
    options = VssOptions(prepare_before_snapshot="required")
    with VssSystem(tmp_path / "m", seed=1, options=options) as system:
        system.add_volume("C:\\", size=8 * 2**20)
        w = RecordingWriter("W")
        system.add_writer(w)
        bc, creation = _snapshot_set(system)
        assert creation is None
        with pytest.raises(VssBadStateError) as refused:
            bc.do_snapshot_set()
        assert refused.value.hresult == hr.VSS_E_BAD_STATE
        assert "DoSnapshotSet needs: PrepareForBackup has been called" in str(refused.value)
        # Nothing changed: no writer event, no snapshot, the same state; the sequence goes on.
        assert w.events == ["Identify"]
        assert bc.state == "SnapshotSetStarted"
        assert "DoSnapshotSet" not in bc.legal_calls() and "PrepareForBackup" in bc.legal_calls()
        assert system.all_snapshots() == []
        bc.prepare_for_backup().result()
        bc.do_snapshot_set().result()
        assert w.events[-4:] == ["PrepareForSnapshot", "Freeze", "Thaw", "PostSnapshot"]
        bc.abort_backup()
        bc.release()
        # A writerless context cannot call PrepareForBackup, so it never needs it.
        with system.create_backup_components() as nas:
            nas.initialize_for_backup()
            nas.set_context(SnapshotContext.NAS_ROLLBACK)
            nas.start_snapshot_set()
            nas.add_to_snapshot_set("C:\\")
            nas.do_snapshot_set().result()


@pytest.mark.parametrize(("system_rm_writers", "freezes"), [
    ("after_system", ["System", "SystemRm"]),  # a level of its own, after the system writers
    ("with_system", ["SystemRm", "System"]),  # one system level: registration order
    ("refuse", None),
])
def test_system_rm_writers_freeze_after_the_system_writers_unless_told_otherwise(
        tmp_path: Path, system_rm_writers: Literal["after_system", "with_system", "refuse"],
        freezes: list[str] | None) -> None:
    options = VssOptions(system_rm_writers=system_rm_writers)
    with VssSystem(tmp_path / "m", seed=1, options=options) as system:
        system.add_volume("C:\\", size=8 * 2**20)
        rm = RecordingWriter("SystemRm", level=ApplicationLevel.SYSTEM_RM)
        if freezes is None:
            with pytest.raises(VssInvalidArgumentError, match="SYSTEM_RM"):
                system.add_writer(rm)
            assert system.writers == []
            return
        system.add_writer(rm)  # registered first: only its level puts it after "System"
        system.add_writer(RecordingWriter("System", level=ApplicationLevel.SYSTEM))
        system.backup(["C:\\"], copy_files=False)
        frozen = [e.target for e in system.trace.filter(kind=EventKind.EVENT, name="Freeze")]
        assert frozen == freezes
    note = VssOptions.model_fields["system_rm_writers"].description or ""
    assert "VSS_APP_SYSTEM_RM" in note and note in fidelity_markdown()


def _rollback_copy(system: VssSystem) -> UUID:
    """A persistent, writerless shadow copy of C: (one that can be reverted to)."""
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(SnapshotContext.NAS_ROLLBACK)
        bc.start_snapshot_set()
        sid = bc.add_to_snapshot_set("C:\\")
        bc.do_snapshot_set().result()
    return sid


@pytest.mark.parametrize(("copies_after_revert", "left"), [
    ("keep", ["old", "target", "new"]),
    ("delete_target", ["old", "new"]),
    ("delete_all", []),
])
def test_a_finished_revert_keeps_the_volume_s_copies_unless_told_to_delete(
        tmp_path: Path, copies_after_revert: CopiesAfterRevert, left: list[str]) -> None:
    options = VssOptions(copies_after_revert=copies_after_revert)
    with VssSystem(tmp_path / "m", seed=1, options=options) as system:
        fs = system.add_volume("C:\\", size=8 * 2**20).fs
        ids = {}
        for name in ("old", "target", "new"):
            fs.write_file("C:\\f.txt", name.encode())
            ids[name] = _rollback_copy(system)
        system.expose_snapshot(ids["target"], None, int(VolumeSnapshotAttributes.EXPOSED_LOCALLY),
                               "X:")
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.set_context(SnapshotContext.ALL)
            bc.revert_to_snapshot(ids["target"])  # (immediate: it has finished on return)
        assert system.volume("C:\\").fs.read_file("C:\\f.txt") == b"target"
        remaining = {s.snapshot_id for s in system.all_snapshots()}
        assert remaining == {ids[name] for name in left}
        for name in left:  # what is kept still shows the volume as it was
            assert system.shadow_fs(ids[name]).read_file("\\f.txt") == name.encode()
        assert [e.name for e in system.exposures] == (["X:"] if "target" in left else [])
    note = VssOptions.model_fields["copies_after_revert"].description or ""
    assert "providers reference §3.11" in note and note in fidelity_markdown()


def test_a_revert_finished_at_boot_deletes_what_copies_after_revert_says(
        tmp_path: Path) -> None:
    options = VssOptions(copies_after_revert="delete_target")
    with VssSystem(tmp_path / "m", seed=1, options=options) as system:
        fs = system.add_volume("C:\\", size=8 * 2**20).fs
        fs.write_file("C:\\big.bin", bytes(range(256)) * 8192)  # 2 MiB
        target = _rollback_copy(system)
        fs.write_file("C:\\big.bin", b"\xff" * (2 * 2**20))
        newer = _rollback_copy(system)
        bc = system.create_backup_components(async_mode="manual")
        bc.initialize_for_backup()
        bc.set_context(SnapshotContext.ALL)
        bc.revert_to_snapshot(target)
        assert bc.query_revert_status("C:\\").step() == "revert"  # part of the way ...
        assert {s.snapshot_id for s in system.all_snapshots()} == {target, newer}
        system.reboot()  # ... and the revert ends at boot
        assert system.trace.first("RevertResumed") is not None
        assert system.volume("C:\\").fs.read_file("C:\\big.bin") == bytes(range(256)) * 8192
        assert [s.snapshot_id for s in system.all_snapshots()] == [newer]


def test_the_machine_s_revert_to_snapshot_only_starts_the_revert_as_its_docstring_says(
        tmp_path: Path) -> None:
    options = VssOptions(copies_after_revert="delete_target")
    with VssSystem(tmp_path / "m", seed=1, options=options) as system:
        fs = system.add_volume("C:\\", size=8 * 2**20).fs
        fs.write_file("C:\\f.txt", b"target")
        target = _rollback_copy(system)
        fs.write_file("C:\\f.txt", b"later")
        volume = system.revert_to_snapshot(target, False)
        assert fs.read_file("C:\\f.txt") == b"later"  # started, not run
        assert target in {s.snapshot_id for s in system.all_snapshots()}
        system.finish_revert(volume)
        assert fs.read_file("C:\\f.txt") == b"target"
        assert target not in {s.snapshot_id for s in system.all_snapshots()}
    doc = VssSystem.revert_to_snapshot.__doc__ or ""
    assert "This only starts the revert" in doc and ":meth:`finish_revert`" in doc


def test_post_snapshot_comes_between_the_final_commits_and_the_notes_say_why(
        system: VssSystem, make_writer: MakeWriter) -> None:
    make_writer("W")
    system.backup(["C:\\"], copy_files=False)
    steps = ("Thaw", "PreFinalCommitSnapshots", "PostSnapshot", "PostFinalCommitSnapshots")
    seen = [e.name for e in system.trace
            if e.name in steps and e.kind in (EventKind.EVENT, EventKind.PROVIDER)]
    assert seen == list(steps)
    assert "**PostSnapshot runs inside the auto-recovery window.**" in fidelity_markdown()


def test_shadow_copy_device_numbers_are_never_reused_and_the_notes_say_so(
        tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=1) as system:
        system.add_volume("C:\\", size=8 * 2**20)
        first, second = _rollback_copy(system), _rollback_copy(system)
        system.delete_snapshot(second)
        system.reboot()
        third = _rollback_copy(system)
        names = {s.snapshot_id: s.snapshot_device_object.rsplit("Copy", 1)[1]
                 for s in system.all_snapshots()}
        assert names == {first: "1", third: "3"}  # kept across the reboot; 2 not reused
    assert "**Shadow copy device numbers are never reused.**" in fidelity_markdown()


def test_the_apis_listed_as_not_simulated_are_really_absent() -> None:
    """When one of them is added, its line in NOT_SIMULATED must go (and the page with it)."""
    page = fidelity_markdown()
    for name, windows in [("set_selected_for_restore_ex", "SetSelectedForRestoreEx"),
                          ("pre_fast_recovery", "PreFastRecovery"),
                          ("fast_recovery", "FastRecovery"),
                          ("add_snapshot_to_recovery_set", "AddSnapshotToRecoverySet"),
                          ("recover_set", "RecoverSet"),
                          ("get_root_and_logical_prefix_paths", "GetRootAndLogicalPrefixPaths")]:
        assert not hasattr(BackupComponents, name), f"{windows} exists now: update NOT_SIMULATED"
        assert windows in page.split("## Not simulated")[1]


@pytest.mark.parametrize("resets", [True, False])
def test_abort_resets_state_decides_what_abort_leaves(tmp_path: Path, resets: bool) -> None:
    """After Abort an in-backup writer is STABLE again, or (abort_resets_state=False) keeps the
    state it had; a FAILED_AT_* state is kept either way (§12.5)."""
    with VssSystem(tmp_path / "m", seed=1,
                   options=VssOptions(abort_resets_state=resets)) as system:
        system.add_volume("C:\\", size=8 * 2**20)
        system.add_writer(RecordingWriter("Vetoing", answers={"Freeze": False}))
        system.add_writer(RecordingWriter("Other"))
        bc, creation = _snapshot_set(system, prepare=True)
        assert creation is not None and hr.is_error(creation.query_status())
        bc.gather_writer_status().result()
        states = {s.writer_name: s.state for s in bc.writer_status}
        bc.abort_backup()
        bc.release()
    assert states["Vetoing"] == WriterState.FAILED_AT_FREEZE
    assert states["Other"] == (WriterState.STABLE if resets else WriterState.WAITING_FOR_THAW)
    note = VssOptions.model_fields["abort_resets_state"].description or ""
    assert note and note in fidelity_markdown()
