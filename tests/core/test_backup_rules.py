"""The backup side of VSS, one test per rule of reference §11 that concerns backup.

Each test is named after its rule and drives the public API the way a requester would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from tests.core.conftest import RecordingWriter
from vsssim import hresult as hr
from vsssim._state import SessionState
from vsssim.constants import (
    ApplicationLevel,
    BackupSchema,
    BackupType,
    ComponentType,
    SnapshotContext,
    WriterState,
)
from vsssim.documents import ComponentKind, WriterMetadataBuilder, kind_of
from vsssim.errors import (
    VssBadStateError,
    VssInvalidArgumentError,
    VssMaximumNumberOfVolumesReachedError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
    VssSnapshotSetInProgressError,
)
from vsssim.faults import FaultPlan, IdentifyDuring, WriterFault
from vsssim.providers.base import GUID_NULL
from vsssim.requester import BackupComponents
from vsssim.system import VssSystem
from vsssim.trace import EventKind

MakeWriter = Callable[..., RecordingWriter]


def start(system: VssSystem, *, component_mode: bool = True,
          select: dict[RecordingWriter, list[str]] | None = None,
          context: int | None = None,
          backup_type: BackupType = BackupType.FULL) -> BackupComponents:
    """Initialize, gather, set the backup state, add components, start the set with C:."""
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    if context is not None:
        bc.set_context(context)
    bc.gather_writer_metadata().result()
    bc.set_backup_state(component_mode, False, backup_type)
    if component_mode:
        for instance_id, wmd in bc.writer_metadata:
            for w in system.writers:
                if w.instance_id == instance_id:
                    wanted = next((names for k, names in (select or {}).items() if k is w),
                                  None)
                    if select is not None and wanted is None:
                        continue
                    for comp in wmd.components:
                        top = kind_of(wmd, comp) in (ComponentKind.REQUIRED,
                                                     ComponentKind.SELECTABLE)
                        if top and (wanted is None or comp.component_name in wanted):
                            bc.add_component(instance_id, wmd.identity.writer_id,
                                             comp.component_type, comp.logical_path,
                                             comp.component_name)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    return bc


def full_backup(system: VssSystem, **kwargs: Any) -> BackupComponents:
    bc = start(system, **kwargs)
    bc.prepare_for_backup().result()
    bc.do_snapshot_set().result()
    bc.backup_complete().result()
    return bc


def states(bc: BackupComponents) -> dict[str, WriterState]:
    bc.gather_writer_status().result()
    return {s.writer_name: s.state for s in bc.writer_status}


# ---------------------------------------------------------------------- the documented order
def test_documented_event_order_with_several_writers(system: VssSystem,
                                                      make_writer: MakeWriter) -> None:
    front = make_writer("Front", level=ApplicationLevel.FRONT_END)
    back = make_writer("Back", level=ApplicationLevel.BACK_END)
    sysw = make_writer("Sys", level=ApplicationLevel.SYSTEM)
    bc = full_backup(system)
    bc.release()
    expected = ["Identify", "PrepareForBackup", "PrepareForSnapshot", "Freeze", "Thaw",
                "PostSnapshot", "BackupComplete", "BackupShutdown"]
    for w in (front, back, sysw):
        assert w.events == expected
    trace = system.trace
    # Rule 9: Freeze front-end -> back-end -> system; Thaw in the reverse order (option default).
    freezes = [e.target for e in trace.filter(kind=EventKind.EVENT, name="Freeze")]
    thaws = [e.target for e in trace.filter(kind=EventKind.EVENT, name="Thaw")]
    assert freezes == ["Front", "Back", "Sys"]
    assert thaws == ["Sys", "Back", "Front"]
    # Providers sit between writer events exactly as documented (providers reference §2.2).
    order = [e.name for e in trace if e.kind in (EventKind.EVENT, EventKind.PROVIDER,
                                                  EventKind.HOLD, EventKind.RELEASE)
             and e.name not in ("Identify",)]
    def first(name: str) -> int:
        return order.index(name)
    assert first("PrepareForSnapshot") < first("BeginPrepareSnapshot") < first(
        "EndPrepareSnapshots") < first("Freeze") < first("PreCommitSnapshots") < first(
        "FlushAndHoldWrites") < first("CommitSnapshots") < first("ReleaseWrites") < first(
        "PostCommitSnapshots") < first("Thaw") < first("PreFinalCommitSnapshots") < first(
        "PostSnapshot") < first("PostFinalCommitSnapshots") < first("BackupComplete")


def test_writer_states_follow_the_table(system: VssSystem, make_writer: MakeWriter) -> None:
    make_writer("W")
    bc = full_backup(system)
    assert system.trace.writer_states("W") == [
        "STABLE", "WAITING_FOR_FREEZE", "WAITING_FOR_THAW", "WAITING_FOR_POST_SNAPSHOT",
        "WAITING_FOR_BACKUP_COMPLETE", "STABLE"]
    assert states(bc) == {"W": WriterState.STABLE}


# ------------------------------------------------------------------------------ the rules
def test_rule_01_identify_is_not_part_of_any_session(system: VssSystem,
                                                     make_writer: MakeWriter) -> None:
    w = make_writer("W")
    system.coordinator.faults.add(IdentifyDuring("Thaw"))
    bc = full_backup(system)
    # Identify arrived from another program in the middle of the backup ...
    assert w.events.count("Identify") == 2
    thaw = next(i for i, e in enumerate(w.events) if e == "Thaw")
    assert w.events[thaw - 1] == "Identify"
    # ... and changed no state: the backup completed normally.
    assert states(bc) == {"W": WriterState.STABLE}


def test_rule_01_set_writer_failure_is_forbidden_in_identify(
        system: VssSystem, make_writer: MakeWriter) -> None:
    def identify(w: RecordingWriter, md: WriterMetadataBuilder) -> bool:
        w.set_writer_failure(hr.VSS_E_WRITERERROR_RETRYABLE)
        return True

    make_writer("W", answers={"Identify": identify})
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    assert bc.writer_metadata == []  # the handler raised VSS_E_BAD_STATE: Identify failed
    raised = system.trace.filter(name="HandlerRaised")
    assert "must not be called from OnIdentify" in raised[0].detail


def test_rule_02_a_writer_failing_identify_disappears(system: VssSystem,
                                                      make_writer: MakeWriter) -> None:
    make_writer("Good")
    make_writer("Bad", answers={"Identify": False})
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    assert [wmd.identity.writer_name for _, wmd in bc.writer_metadata] == ["Good"]
    bc.gather_writer_status().result()
    assert [s.writer_name for s in bc.writer_status] == ["Good"]  # not FAILED_AT_IDENTIFY


def test_rule_03_unselected_writers_go_silent(system: VssSystem, make_writer: MakeWriter) -> None:
    chosen = make_writer("Chosen")
    other = make_writer("Other")
    bc = full_backup(system, select={chosen: ["data"]})
    bc.release()
    assert other.events == ["Identify"]
    assert "BackupShutdown" in chosen.events


def test_identify_reports_the_writers_identity_as_it_is_now(
        system: VssSystem, make_writer: MakeWriter) -> None:
    # The identity part of the metadata follows the writer's attributes (version, instance
    # name), not what they were at the first Identify.
    w = make_writer("W")

    def identity() -> tuple[str, int, str]:
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        bc.gather_writer_metadata().result()
        ident = bc.writer_metadata[0][1].identity
        bc.release()
        return ident.instance_name, ident.version_major, str(ident.instance_id)

    first = identity()
    assert first[:2] == ("", 0)
    w.version = (3, 1)
    w.instance_name = "second"
    assert identity() == ("second", 3, first[2])  # the same instance, described anew


def test_non_component_mode_sends_events_to_every_identified_writer(
        system: VssSystem, make_writer: MakeWriter) -> None:
    a, b = make_writer("A"), make_writer("B")
    bc = full_backup(system, component_mode=False)
    assert bc.document.writers == []
    for w in (a, b):
        assert "Freeze" in w.events and "BackupComplete" in w.events


def test_rule_04_late_enable_disable_is_a_silent_no_op(system: VssSystem,
                                                       make_writer: MakeWriter) -> None:
    a = make_writer("A")
    b = make_writer("B")
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    bc.disable_writer_classes([a.writer_id])  # too late: no error, no effect
    assert len(bc.writer_metadata) == 2
    # The first EnableWriterClasses disables every class not listed.
    bc2 = system.create_backup_components()
    bc2.initialize_for_backup()
    bc2.enable_writer_classes([b.writer_id])
    bc2.gather_writer_metadata().result()
    assert [m.identity.writer_name for _, m in bc2.writer_metadata] == ["B"]
    # Disable then Enable: the first Enable cancels earlier Disables.
    bc3 = system.create_backup_components()
    bc3.initialize_for_backup()
    bc3.disable_writer_classes([a.writer_id, b.writer_id])
    bc3.enable_writer_classes([a.writer_id])
    bc3.gather_writer_metadata().result()
    assert [m.identity.writer_name for _, m in bc3.writer_metadata] == ["A"]
    # DisableWriterInstances affects only the instance.
    bc4 = system.create_backup_components()
    bc4.initialize_for_backup()
    bc4.disable_writer_instances([a.instance_id])
    bc4.gather_writer_metadata().result()
    assert [m.identity.writer_name for _, m in bc4.writer_metadata] == ["B"]


def test_rule_05_call_order(system: VssSystem, make_writer: MakeWriter) -> None:
    w = make_writer("W")
    bc = system.create_backup_components()
    with pytest.raises(VssBadStateError):
        bc.gather_writer_metadata()  # not initialized
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    (iid, _wmd), = bc.writer_metadata
    bc.start_snapshot_set()
    before = bc.state
    with pytest.raises(VssBadStateError) as info:
        bc.add_component(iid, w.writer_id, ComponentType.FILEGROUP, "", "data")
    assert bc.state == before  # refused and nothing changed
    assert "AddToSnapshotSet" in info.value.legal
    with pytest.raises(VssBadStateError, match="SetBackupState"):
        bc.prepare_for_backup()  # SetBackupState is required first
    bc.set_backup_state(True, False, BackupType.FULL)
    bc.add_to_snapshot_set("C:\\")
    bc.prepare_for_backup().result()
    with pytest.raises(VssBadStateError):
        bc.set_backup_options(w.writer_id, ComponentType.FILEGROUP, "", "data", "x")


def test_a_call_legal_by_the_table_is_refused_once_the_machine_restarted(
        system: VssSystem, make_writer: MakeWriter) -> None:
    # The requester decides legal calls in line; the dead object must still refuse them.
    make_writer("W")
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    system.reboot()
    with pytest.raises(VssBadStateError, match="machine restarted"):
        bc.gather_writer_metadata()
    refused = system.trace.last("GatherWriterMetadata")
    assert refused is not None and refused.get("refused") == "VSS_E_BAD_STATE"


def test_requester_calls_and_results_name_their_object_first_in_their_data(
        system: VssSystem, make_writer: MakeWriter) -> None:
    # The requester hands the tracer its events' data as pairs: the session, then the rest.
    make_writer("W")
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    set_id = bc.start_snapshot_set()
    key = str(bc.session_id)
    result = system.trace.last("StartSnapshotSet", kind=EventKind.RESULT)
    assert result is not None and result.data == (("session", key), ("set", str(set_id)))
    with pytest.raises(VssBadStateError):
        bc.prepare_for_backup()  # SetBackupState is missing
    refused = system.trace.last("PrepareForBackup", kind=EventKind.CALL)
    assert refused is not None and refused.data == (("session", key),
                                                    ("refused", "VSS_E_BAD_STATE"))


def test_rule_06_the_bcd_holds_only_explicit_components(system: VssSystem,
                                                        make_writer: MakeWriter) -> None:
    def identify(w: RecordingWriter, md: WriterMetadataBuilder) -> bool:
        md.add_component(ComponentType.FILEGROUP, "set", "member", selectable=False)
        return True

    make_writer("W", components={"set": "C:\\W"}, answers={"Identify": identify})
    bc = start(system)
    names = [c.component_name for w in bc.document.writers for c in w.components]
    assert names == ["set"]  # "member" is included implicitly, never recorded


def test_rule_08_no_selectable_subcomponent_under_an_added_ancestor(
        system: VssSystem, make_writer: MakeWriter) -> None:
    def identify(w: RecordingWriter, md: WriterMetadataBuilder) -> bool:
        md.add_component(ComponentType.FILEGROUP, "top", "sub", selectable=True)
        md.add_component(ComponentType.FILEGROUP, "top", "hidden", selectable=False)
        return True

    w = make_writer("W", components={"top": "C:\\W"}, answers={"Identify": identify})
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    bc.set_backup_state(True, False, BackupType.FULL)
    iid = w.instance_id
    bc.add_component(iid, w.writer_id, ComponentType.FILEGROUP, "", "top")
    before = bc.document.model_copy(deep=True)
    with pytest.raises(VssInvalidArgumentError, match="implicitly"):
        bc.add_component(iid, w.writer_id, ComponentType.FILEGROUP, "top", "sub")
    with pytest.raises(VssInvalidArgumentError, match="non-selectable subcomponent"):
        bc.add_component(iid, w.writer_id, ComponentType.FILEGROUP, "top", "hidden")
    with pytest.raises(VssObjectAlreadyExistsError):
        bc.add_component(iid, w.writer_id, ComponentType.FILEGROUP, "", "top")
    with pytest.raises(VssObjectNotFoundError):
        bc.add_component(iid, w.writer_id, ComponentType.FILEGROUP, "", "nope")
    assert bc.document == before


def test_rule_10_a_70_second_freeze_fails_in_milliseconds(
        system: VssSystem, make_writer: MakeWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    # Virtual seconds cost no real time: nothing in the run sleeps for real (checked by
    # counting real sleeps, not by a wall-clock bound that noisy machines would break).
    real_sleep: list[float] = []
    monkeypatch.setattr(time, "sleep", lambda s: real_sleep.append(s))

    def slow_freeze(w: RecordingWriter) -> bool:
        w.clock.sleep(70.0)
        return True

    slow = make_writer("Slow", answers={"Freeze": slow_freeze})
    fast = make_writer("Fast", freeze_timeout=100.0)
    bc = start(system)
    bc.prepare_for_backup().result()
    op = bc.do_snapshot_set()
    assert sum(real_sleep) < 0.1, real_sleep
    assert op.query_status() == hr.VSS_E_UNEXPECTED_WRITER_ERROR
    bc.gather_writer_status().result()
    status = {s.writer_name: s for s in bc.writer_status}
    assert status["Slow"].state == WriterState.FAILED_AT_FREEZE
    assert status["Slow"].failure == hr.VSS_E_WRITERERROR_TIMEOUT
    # The timer fired at exactly 60 s after Freeze, with no requester action.
    expired = system.trace.first("FreezeWindowExpired")
    freeze = system.trace.first("Freeze", target="Slow")
    assert expired is not None and freeze is not None
    assert expired.time - freeze.time == pytest.approx(60.0)
    assert "Abort" in slow.events and "Abort" in fast.events  # OnAbort without AbortBackup
    assert fast.events.count("Thaw") == 0


def test_rule_11_prepare_snapshot_failure_does_not_abort(system: VssSystem,
                                                         make_writer: MakeWriter) -> None:
    def fail(w: RecordingWriter) -> bool:
        w.set_writer_failure(hr.VSS_E_WRITERERROR_RETRYABLE)
        return False

    bad = make_writer("Bad", answers={"PrepareForSnapshot": fail})
    good = make_writer("Good")
    bc = start(system)
    bc.prepare_for_backup().result()
    op = bc.do_snapshot_set()
    assert op.succeeded
    assert "Abort" not in bad.events and "Abort" not in good.events
    assert "Freeze" not in bad.events  # option failed_writers_get_freeze=False
    assert states(bc)["Bad"] == WriterState.FAILED_AT_PREPARE_SNAPSHOT


def test_rule_11_freeze_veto_aborts(system: VssSystem, make_writer: MakeWriter) -> None:
    def veto(w: RecordingWriter) -> bool:
        w.set_writer_failure(hr.VSS_E_WRITERERROR_NONRETRYABLE)
        return False

    bad = make_writer("Bad", answers={"Freeze": veto})
    good = make_writer("Good", level=ApplicationLevel.BACK_END)
    bc = start(system)
    bc.prepare_for_backup().result()
    op = bc.do_snapshot_set()
    assert op.query_status() == hr.VSS_E_UNEXPECTED_WRITER_ERROR
    assert bc.state == SessionState.SNAPSHOTS_FAILED
    for w in (bad, good):
        assert w.events[-1] == "Abort"
    st = states(bc)
    assert st["Bad"] == WriterState.FAILED_AT_FREEZE
    assert st["Good"] == WriterState.STABLE
    # AbortSnapshots went to the provider (after EndPrepareSnapshots, rule 5 of providers).
    assert system.trace.first("AbortSnapshots") is not None


def test_rule_11_post_snapshot_failure_does_not_abort(system: VssSystem,
                                                      make_writer: MakeWriter) -> None:
    w = make_writer("W", answers={"PostSnapshot": False})
    bc = start(system)
    bc.prepare_for_backup().result()
    assert bc.do_snapshot_set().succeeded
    assert "Abort" not in w.events
    assert states(bc)["W"] == WriterState.FAILED_AT_POST_SNAPSHOT


def test_rule_12_abort_more_than_once_never_after_post_snapshot(
        system: VssSystem, make_writer: MakeWriter) -> None:
    w = make_writer("W", answers={"Thaw": False})
    bc = start(system)
    bc.prepare_for_backup().result()
    assert not bc.do_snapshot_set().succeeded
    bc.abort_backup()  # a requester cannot know an Abort already went out (rule 16)
    assert w.events.count("Abort") == 2
    bc.release()
    assert w.events[-1] == "BackupShutdown"
    # After PostSnapshot: no Abort at all.
    w2 = make_writer("W2")
    bc2 = full_backup(system, select={w2: ["data"]})
    bc2.abort_backup()
    assert "Abort" not in w2.events


def test_rule_13_succeeded_handlers_can_be_failures(system: VssSystem,
                                                    make_writer: MakeWriter) -> None:
    def nonfatal(w: RecordingWriter, comps: Any) -> bool:
        w.set_writer_failure(hr.VSS_E_WRITERERROR_RETRYABLE)
        return True

    make_writer("W", answers={"PrepareForBackup": nonfatal})
    bc = start(system)
    bc.prepare_for_backup().result()
    bc.gather_writer_status().result()
    (st,) = bc.writer_status
    assert st.state == WriterState.FAILED_AT_PREPARE_BACKUP
    assert st.failure == hr.VSS_E_WRITERERROR_RETRYABLE


def test_rule_14_four_pure_virtual_handlers() -> None:
    from vsssim.writer import Writer

    class Incomplete(Writer):
        writer_id = UUID(int=1)
        writer_name = "Incomplete"

        def on_prepare_snapshot(self) -> bool:
            return True

        def on_freeze(self) -> bool:
            return True

        def on_thaw(self) -> bool:
            return True

    with pytest.raises(TypeError, match="on_abort"):
        Incomplete()  # type: ignore[abstract]


def test_rule_15_the_bcd_is_read_only_from_backup_complete(
        system: VssSystem, make_writer: MakeWriter) -> None:
    seen: dict[str, Any] = {}

    def post(w: RecordingWriter, comps: Any) -> bool:
        for c in comps:
            c.set_backup_stamp("stamp-1")
        return True

    def complete(w: RecordingWriter, comps: Any) -> bool:
        for c in comps:
            seen["stamp"] = c.get_backup_stamp()
            try:
                c.set_backup_stamp("too late")
            except VssBadStateError as exc:
                seen["error"] = exc
        return True

    make_writer("W", answers={"PostSnapshot": post, "BackupComplete": complete})
    bc = start(system)
    with pytest.raises(VssBadStateError):
        bc.save_as_xml()  # never before PrepareForBackup
    full = bc.prepare_for_backup()
    full.result()
    bc.do_snapshot_set().result()
    bc.backup_complete().result()
    assert seen["stamp"] == "stamp-1"
    assert isinstance(seen["error"], VssBadStateError)
    assert "stamp-1" in bc.save_as_xml()


def test_rule_16_no_backup_complete_after_a_failed_snapshot(
        system: VssSystem, make_writer: MakeWriter) -> None:
    make_writer("W", answers={"Freeze": False})
    bc = start(system)
    bc.prepare_for_backup().result()
    bc.do_snapshot_set().wait()
    for call in (bc.backup_complete,
                 lambda: bc.set_backup_succeeded(UUID(int=0), UUID(int=0),
                                                 ComponentType.FILEGROUP, "", "data", True)):
        with pytest.raises(VssBadStateError):
            call()
    bc.abort_backup()
    assert bc.state == SessionState.BACKUP_ABORTED


def test_rule_17_backup_shutdown_on_release_with_guid_null(
        system: VssSystem, make_writer: MakeWriter) -> None:
    w = make_writer("W", answers={"Freeze": False})
    bc = start(system)
    bc.prepare_for_backup().result()
    bc.do_snapshot_set().wait()
    bc.release()
    assert w.events[-1] == "BackupShutdown"
    assert w.seen["shutdown_set"] == GUID_NULL  # no snapshot was made
    system.remove_writer(w)
    w2 = make_writer("W2")
    with system.create_backup_components() as bc2:
        bc2.initialize_for_backup()
        bc2.gather_writer_metadata().result()
        bc2.set_backup_state(False, False, BackupType.FULL)
        set_id = bc2.start_snapshot_set()
        bc2.add_to_snapshot_set("C:\\")
        bc2.prepare_for_backup().result()
        bc2.do_snapshot_set().result()
    assert w2.seen["shutdown_set"] == set_id


@pytest.mark.parametrize("after", ["Freeze", "PostSnapshot"])
def test_rule_17_a_crashed_requester_still_produces_backup_shutdown(
        system: VssSystem, make_writer: MakeWriter, after: str) -> None:
    from vsssim.faults import RequesterCrash

    w = make_writer("W")
    system.coordinator.faults.add(RequesterCrash(after=after))
    bc = start(system)
    bc.prepare_for_backup().result()
    bc.do_snapshot_set().wait()
    assert bc.state == SessionState.RELEASED
    # After PostSnapshot the copies were made: no Abort, but the release deletes them.
    assert w.events[-2:] == (["Abort", "BackupShutdown"] if after == "Freeze"
                             else ["PostSnapshot", "BackupShutdown"])
    assert system.all_snapshots() == []  # nothing leaked
    assert system.coordinator.creating is None


def test_rule_18_context_dependent_helpers(system: VssSystem, make_writer: MakeWriter) -> None:
    seen: dict[str, Any] = {}

    def freeze(w: RecordingWriter) -> bool:
        try:
            w.get_snapshot_device_name("C:\\")
        except VssBadStateError as exc:
            seen["device_in_freeze"] = exc
        seen["set_in_freeze"] = w.get_current_snapshot_set_id()
        seen["affected"] = w.is_path_affected("C:\\W\\x")
        seen["type"] = w.get_backup_type()
        return True

    def post(w: RecordingWriter, comps: Any) -> bool:
        seen["device"] = w.get_snapshot_device_name("C:\\")
        try:
            next(iter(comps)).set_prepare_for_backup_failure_msg("x")
        except VssBadStateError as exc:
            seen["msg_in_post"] = exc
        return True

    def shutdown(w: RecordingWriter) -> bool:
        try:
            w.get_current_snapshot_set_id()
        except VssBadStateError as exc:
            seen["set_in_shutdown"] = exc
        return True

    w = make_writer("W", answers={"Freeze": freeze, "PostSnapshot": post,
                                  "BackupShutdown": shutdown})
    with pytest.raises(VssBadStateError):
        w.get_backup_type()  # outside any handler
    bc = full_backup(system)
    bc.release()
    assert isinstance(seen["device_in_freeze"], VssBadStateError)
    assert seen["set_in_freeze"] == bc.document.snapshot_set_id
    assert seen["affected"] is True
    assert seen["type"] == BackupType.FULL
    assert seen["device"].startswith("\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy")
    assert isinstance(seen["msg_in_post"], VssBadStateError)
    assert isinstance(seen["set_in_shutdown"], VssBadStateError)


def test_rule_19_set_writer_failure_on_the_handler_thread_only(
        system: VssSystem, make_writer: MakeWriter) -> None:
    seen: dict[str, Any] = {}

    def freeze(w: RecordingWriter) -> bool:
        def worker() -> None:
            try:
                w.set_writer_failure(hr.VSS_E_WRITERERROR_RETRYABLE)
            except VssBadStateError as exc:
                seen["error"] = exc

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        return True

    make_writer("W", answers={"Freeze": freeze})
    bc = start(system)
    bc.prepare_for_backup().result()
    assert bc.do_snapshot_set().succeeded
    assert "thread" in str(seen["error"])


def test_rule_20_writer_status_is_sticky(system: VssSystem, make_writer: MakeWriter) -> None:
    make_writer("W", answers={"PostSnapshot": False})
    full_backup(system).release()
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    # Outside a sequence the status still shows the previous session's failure.
    assert states(bc) == {"W": WriterState.FAILED_AT_POST_SNAPSHOT}


def test_rule_21_one_snapshot_creation_at_a_time(system: VssSystem,
                                                 make_writer: MakeWriter) -> None:
    make_writer("W")
    first = start(system)
    second = system.create_backup_components()
    second.initialize_for_backup()
    with pytest.raises(VssSnapshotSetInProgressError):
        second.start_snapshot_set()
    assert second.state == SessionState.BACKUP_INITIALIZED
    first.prepare_for_backup().result()
    first.do_snapshot_set().result()  # DoSnapshotSet returned: the lock is free
    second.start_snapshot_set()


def test_rule_22_snapshot_set_rules(system: VssSystem) -> None:
    for letter in "DEFG":
        system.add_volume(f"{letter}:\\", size=2 * 2**20)
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.set_context(SnapshotContext.FILE_SHARE_BACKUP)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    with pytest.raises(VssObjectAlreadyExistsError):
        bc.add_to_snapshot_set("c:\\")
    with pytest.raises(VssInvalidArgumentError, match="backslash"):
        bc.add_to_snapshot_set("D:")
    with pytest.raises(VssObjectNotFoundError):
        bc.add_to_snapshot_set("Q:\\")
    assert bc.do_snapshot_set().succeeded
    with pytest.raises(VssBadStateError):
        bc.add_to_snapshot_set("D:\\")  # fixed at DoSnapshotSet
    # An empty set is legal.
    empty = system.create_backup_components()
    empty.initialize_for_backup()
    empty.set_context(SnapshotContext.FILE_SHARE_BACKUP)
    bc.release()
    empty.start_snapshot_set()
    assert empty.do_snapshot_set().succeeded


def test_rule_22_at_most_64_volumes(system: VssSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    import vsssim.requester as requester

    monkeypatch.setattr(requester, "MAX_VOLUMES_PER_SET", 1)
    system.add_volume("D:\\", size=2 * 2**20)
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    with pytest.raises(VssMaximumNumberOfVolumesReachedError):
        bc.add_to_snapshot_set("D:\\")


def test_rule_23_writerless_contexts(system: VssSystem, make_writer: MakeWriter) -> None:
    w = make_writer("W")
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.set_context(SnapshotContext.NAS_ROLLBACK)
    bc.set_backup_state(True, False, BackupType.FULL)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    with pytest.raises(VssBadStateError, match="writers"):
        bc.prepare_for_backup()
    assert bc.do_snapshot_set().succeeded  # no GatherWriterMetadata needed
    with pytest.raises(VssBadStateError):
        bc.backup_complete()
    bc.release()
    assert w.events == []
    assert len(system.all_snapshots()) == 1  # persistent: survives the release


def test_rule_32_unsupported_backup_types_degrade_to_full(
        system: VssSystem, make_writer: MakeWriter) -> None:
    seen: dict[str, BackupType] = {}

    def identify(w: RecordingWriter, md: WriterMetadataBuilder) -> bool:
        md.set_backup_schema(BackupSchema.INCREMENTAL if w.writer_name == "Incr" else 0)
        return True

    def prepare(w: RecordingWriter, comps: Any) -> bool:
        seen[w.writer_name] = w.get_backup_type()
        return True

    for name in ("Incr", "Plain"):
        make_writer(name, answers={"Identify": identify, "PrepareForBackup": prepare})
    bc = start(system, backup_type=BackupType.INCREMENTAL)
    bc.prepare_for_backup().result()
    assert seen == {"Incr": BackupType.INCREMENTAL, "Plain": BackupType.FULL}


def test_rule_34_get_writer_components_counts_writers(
        system: VssSystem, make_writer: MakeWriter) -> None:
    make_writer("A", components={"one": "C:\\A1", "two": "C:\\A2"})
    make_writer("B", components={"three": "C:\\B"})
    bc = start(system)
    views = bc.get_writer_components()
    assert len(views) == 2
    assert sorted(len(v) for v in views) == [1, 2]
    bc.prepare_for_backup().result()  # an event-generating call kills the views (rule 25)
    with pytest.raises(VssBadStateError, match="no longer valid"):
        len(views[0])


def test_rule_35_wait_says_nothing_about_the_outcome(system: VssSystem,
                                                     make_writer: MakeWriter) -> None:
    make_writer("W", answers={"Freeze": False})
    bc = start(system)
    bc.prepare_for_backup().result()
    op = bc.do_snapshot_set()
    assert op.wait() == hr.S_OK
    assert op.query_status() == hr.VSS_E_UNEXPECTED_WRITER_ERROR
    with pytest.raises(Exception, match="VSS_E_UNEXPECTED_WRITER_ERROR"):
        op.result()


def test_rule_36_abort_is_ignored_when_nothing_runs(system: VssSystem,
                                                    make_writer: MakeWriter) -> None:
    w = make_writer("W")
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.abort_backup()
    assert bc.state == SessionState.BACKUP_INITIALIZED
    assert w.events == []


def test_handler_exceptions_and_none_are_writer_failures(system: VssSystem,
                                                         make_writer: MakeWriter) -> None:
    def boom(w: RecordingWriter) -> bool:
        raise RuntimeError("bug in the writer")

    make_writer("Raiser", answers={"PrepareForSnapshot": boom})
    make_writer("Forgetful", answers={"PrepareForSnapshot": None})
    bc = start(system)
    bc.prepare_for_backup().result()
    assert bc.do_snapshot_set().succeeded  # PrepareForSnapshot failures do not abort
    st = states(bc)
    assert st["Raiser"] == st["Forgetful"] == WriterState.FAILED_AT_PREPARE_SNAPSHOT
    note = system.trace.first("HandlerReturnedNone")
    assert note is not None and "return True" in note.detail


def test_fault_plan_veto_with_application_error(system: VssSystem,
                                                make_writer: MakeWriter) -> None:
    make_writer("W")
    system.coordinator.faults.add(WriterFault(
        "Freeze", writer="W", action="veto", hresult=hr.VSS_E_WRITERERROR_RETRYABLE,
        application_hresult=0x80070070, application_message="disk full"))
    bc = start(system)
    bc.prepare_for_backup().result()
    assert not bc.do_snapshot_set().succeeded
    bc.gather_writer_status().result()
    (st,) = bc.writer_status
    assert (st.state, st.failure, st.application_failure, st.application_message) == (
        WriterState.FAILED_AT_FREEZE, hr.VSS_E_WRITERERROR_RETRYABLE, 0x80070070, "disk full")
    assert system.trace.first("WriterFault") is not None


def test_fault_plan_nth_occurrence(tmp_path: Any) -> None:
    plan = FaultPlan([WriterFault("Freeze", action="veto", occurrence=2)])
    with VssSystem(tmp_path / "m", faults=plan) as system:
        system.add_volume("C:\\", size=4 * 2**20)
        w = RecordingWriter("W")
        system.volume("C:\\").fs.makedirs("C:\\W")
        system.add_writer(w)
        results = []
        for _ in range(3):
            with system.create_backup_components() as bc:
                bc.initialize_for_backup()
                bc.gather_writer_metadata().result()
                bc.set_backup_state(False, False, BackupType.FULL)
                bc.start_snapshot_set()
                bc.add_to_snapshot_set("C:\\")
                bc.prepare_for_backup().result()
                results.append(bc.do_snapshot_set().succeeded)
        assert results == [True, False, True]


def test_a_component_setter_called_out_of_place_names_where_it_is_legal() -> None:
    """The events a setter is legal in are put into words only when it is refused (a fast
    path): the messages must still list them."""
    from vsssim._state import WriterEvent
    from vsssim.components import Component, ComponentScope
    from vsssim.constants import ComponentType
    from vsssim.documents import BcdComponent
    from vsssim.errors import VssBadStateError

    data = BcdComponent(component_type=ComponentType.FILEGROUP, component_name="data")
    requester_view = Component(data, ComponentScope(writer_side=False, event=None,
                                                    restore=False))
    with pytest.raises(VssBadStateError, match=r"SetBackupMetadata is for writers, inside "
                       r"their handlers \(PostSnapshot, PrepareForBackup\); requesters use"):
        requester_view.set_backup_metadata("x")
    in_freeze = Component(data, ComponentScope(writer_side=True, event=WriterEvent.FREEZE,
                                               restore=False))
    with pytest.raises(VssBadStateError, match=r"SetBackupMetadata is not legal in OnFreeze; "
                       r"legal in: PostSnapshot, PrepareForBackup"):
        in_freeze.set_backup_metadata("x")
    in_post = Component(data, ComponentScope(writer_side=True, event=WriterEvent.POST_SNAPSHOT,
                                             restore=False))
    in_post.set_backup_metadata("x")
    assert data.backup_metadata == "x"
