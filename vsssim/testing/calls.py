"""Run a requester call sequence, legal or not, and record what each call answered.

:func:`vsssim.strategies.call_sequences` draws sequences of ``IVssBackupComponents`` calls
(:class:`~vsssim._state.Call` values) around the documented backup sequence, with calls dropped,
repeated, swapped and inserted.  :func:`perform` makes each of them on one requester object with
plausible arguments taken from what the sequence has done so far (the first writer component
that metadata named, the first volume of the machine, the shadow copy the set added, the
document the sequence saved), and records the outcome per call::

    @given(calls=call_sequences())
    def test_only_documented_errors(vss_factory, calls):
        with vss_factory() as system:
            ...                                         # add your writer
            for outcome in perform(system, calls):
                if not outcome.legal:
                    assert outcome.hresult_name == "VSS_E_BAD_STATE"

What a call answers is the HRESULT Windows would return: ``S_OK`` for a call that returned, the
HRESULT of the :class:`~vsssim.errors.VssError` it raised, or, for an asynchronous call, the
status of its ``IVssAsync`` after ``Wait`` (``S_OK`` once finished).  ``legal`` says whether the
session table of :mod:`vsssim._state` allowed the call where it was made: a call that was not
legal must answer ``VSS_E_BAD_STATE`` and change nothing.  Only ``VssError`` is caught: any
other exception is a bug (of the simulator, or of your writer) and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from vsssim import hresult as hr
from vsssim._state import Call, SessionState
from vsssim.constants import (
    BackupType,
    ComponentType,
    FileRestoreStatus,
    ObjectType,
    RestoreType,
    RollforwardType,
    SnapshotContext,
    VolumeSnapshotAttributes,
)
from vsssim.errors import VssError

if TYPE_CHECKING:
    from vsssim.asyncop import Async
    from vsssim.requester import BackupComponents
    from vsssim.system import VssSystem

__all__ = ["PERFORMABLE", "CallOutcome", "outcomes_text", "perform"]

_NULL = UUID(int=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOutcome:
    """One call of a sequence: where the session was, whether the call was legal there, what
    it answered (``hresult``, unsigned; ``S_OK`` for success) and where the session went."""

    call: Call
    state_before: SessionState
    state_after: SessionState
    legal: bool
    hresult: int = hr.S_OK
    message: str = ""

    @property
    def hresult_name(self) -> str:
        """The answer by name (``"S_OK"``, ``"VSS_E_BAD_STATE"`` ...)."""
        return hr.name_of(self.hresult)

    @property
    def succeeded(self) -> bool:
        """True if the call (and, for an asynchronous one, its operation) succeeded."""
        return self.hresult == hr.S_OK

    def __str__(self) -> str:
        mark = "" if self.legal else "  (illegal here)"
        moved = "" if self.state_after == self.state_before else f" -> {self.state_after.value}"
        return (f"{self.call.value} in {self.state_before.value}: {self.hresult_name}"
                f"{moved}{mark}")


@dataclass
class _Context:
    """What the sequence has done so far, for the arguments of later calls."""

    system: VssSystem
    bc: BackupComponents
    component: tuple[UUID, UUID, ComponentType, str, str] | None = None
    added: list[tuple[UUID, UUID, ComponentType, str, str]] = field(default_factory=list)
    snapshot_id: UUID = _NULL
    snapshot_set_id: UUID = _NULL
    saved_xml: str | None = None

    @property
    def volume(self) -> str:
        names = self.system.volume_names()
        return names[0] if names else "C:\\"

    def first_component(self) -> tuple[UUID, UUID, ComponentType, str, str]:
        """The first component of the gathered metadata (a made-up one if there is none: the
        call then answers VSS_E_OBJECT_NOT_FOUND, as on Windows)."""
        if self.component is None:
            try:
                gathered = self.bc.writer_metadata
            except VssError:
                gathered = []
            for instance_id, wmd in gathered:
                if wmd.components:
                    c = wmd.components[0]
                    self.component = (instance_id, wmd.identity.writer_id, c.component_type,
                                      c.logical_path, c.component_name)
                    break
        return self.component or (_NULL, _NULL, ComponentType.FILEGROUP, "", "none")

    def writer_component(self) -> tuple[UUID, ComponentType, str, str]:
        _, writer_id, ctype, path, name = self.added[0] if self.added else self.first_component()
        return writer_id, ctype, path, name

    def restore_xml(self) -> str:
        if self.saved_xml is not None:
            return self.saved_xml
        from vsssim.documents import BackupComponentsDocument

        return BackupComponentsDocument().save_as_xml()


def _wait(op: Async) -> int:
    op.wait()
    status = op.query_status()
    return hr.S_OK if status == hr.VSS_S_ASYNC_FINISHED else hr.to_unsigned(status)


def _add_component(ctx: _Context) -> None:
    key = ctx.first_component()
    ctx.bc.add_component(*key)
    ctx.added.append(key)


def _add_to_set(ctx: _Context) -> None:
    ctx.snapshot_id = ctx.bc.add_to_snapshot_set(ctx.volume)


def _start_set(ctx: _Context) -> None:
    ctx.snapshot_set_id = ctx.bc.start_snapshot_set()


def _save(ctx: _Context) -> None:
    ctx.saved_xml = ctx.bc.save_as_xml()


def _succeeded(ctx: _Context) -> None:
    instance_id, writer_id, ctype, path, name = ctx.added[0] if ctx.added \
        else ctx.first_component()
    ctx.bc.set_backup_succeeded(instance_id, writer_id, ctype, path, name, True)


def _status_items(ctx: _Context) -> None:
    _ = ctx.bc.writer_status


def _metadata_items(ctx: _Context) -> None:
    _ = ctx.bc.writer_metadata


def _query(ctx: _Context) -> None:
    ctx.bc.query()


def _delete(ctx: _Context) -> None:
    ctx.bc.delete_snapshots(ctx.snapshot_id, ObjectType.SNAPSHOT)


def _expose(ctx: _Context) -> None:
    ctx.bc.expose_snapshot(ctx.snapshot_id, None, int(VolumeSnapshotAttributes.EXPOSED_LOCALLY),
                           "X:\\")


def _break(ctx: _Context) -> None:
    ctx.bc.break_snapshot_set(ctx.snapshot_set_id)


# Calls that return at once, with their arguments.
_PLAIN: dict[Call, Callable[[_Context], object]] = {
    Call.INITIALIZE_FOR_BACKUP: lambda c: c.bc.initialize_for_backup(),
    Call.INITIALIZE_FOR_RESTORE: lambda c: c.bc.initialize_for_restore(c.restore_xml()),
    Call.SET_CONTEXT: lambda c: c.bc.set_context(SnapshotContext.BACKUP),
    Call.SET_BACKUP_STATE: lambda c: c.bc.set_backup_state(True, False, BackupType.FULL),
    Call.SET_RESTORE_STATE: lambda c: c.bc.set_restore_state(RestoreType.BY_COPY),
    Call.ENABLE_WRITER_CLASSES: lambda c: c.bc.enable_writer_classes([]),
    Call.DISABLE_WRITER_CLASSES: lambda c: c.bc.disable_writer_classes([]),
    Call.DISABLE_WRITER_INSTANCES: lambda c: c.bc.disable_writer_instances([]),
    Call.GET_WRITER_METADATA: _metadata_items,
    Call.FREE_WRITER_METADATA: lambda c: c.bc.free_writer_metadata(),
    Call.ADD_COMPONENT: _add_component,
    Call.SET_BACKUP_OPTIONS: lambda c: c.bc.set_backup_options(*c.writer_component(), "opt"),
    Call.SET_PREVIOUS_BACKUP_STAMP: lambda c: c.bc.set_previous_backup_stamp(
        *c.writer_component(), "stamp"),
    Call.START_SNAPSHOT_SET: _start_set,
    Call.ADD_TO_SNAPSHOT_SET: _add_to_set,
    Call.IS_VOLUME_SUPPORTED: lambda c: c.bc.is_volume_supported(c.volume),
    Call.GET_WRITER_STATUS: _status_items,
    Call.FREE_WRITER_STATUS: lambda c: c.bc.free_writer_status(),
    Call.GET_WRITER_COMPONENTS: lambda c: c.bc.get_writer_components(),
    Call.GET_SNAPSHOT_PROPERTIES: lambda c: c.bc.get_snapshot_properties(c.snapshot_id),
    Call.QUERY: _query,
    Call.SET_BACKUP_SUCCEEDED: _succeeded,
    Call.SAVE_AS_XML: _save,
    Call.ABORT_BACKUP: lambda c: c.bc.abort_backup(),
    Call.DELETE_SNAPSHOTS: _delete,
    Call.EXPOSE_SNAPSHOT: _expose,
    Call.UNEXPOSE_SNAPSHOT: lambda c: c.bc.unexpose_snapshot(c.snapshot_id),
    Call.BREAK_SNAPSHOT_SET: _break,
    Call.REVERT_TO_SNAPSHOT: lambda c: c.bc.revert_to_snapshot(c.snapshot_id),
    Call.SET_SELECTED_FOR_RESTORE: lambda c: c.bc.set_selected_for_restore(
        *c.writer_component(), True),
    Call.ADD_RESTORE_SUBCOMPONENT: lambda c: c.bc.add_restore_subcomponent(
        *c.writer_component(), "", "member"),
    Call.SET_RESTORE_OPTIONS: lambda c: c.bc.set_restore_options(*c.writer_component(), "opt"),
    Call.SET_ADDITIONAL_RESTORES: lambda c: c.bc.set_additional_restores(
        *c.writer_component(), False),
    Call.SET_AUTHORITATIVE_RESTORE: lambda c: c.bc.set_authoritative_restore(
        *c.writer_component(), True),
    Call.SET_ROLL_FORWARD: lambda c: c.bc.set_roll_forward(
        *c.writer_component(), RollforwardType.ALL),
    Call.SET_RESTORE_NAME: lambda c: c.bc.set_restore_name(*c.writer_component(), "renamed"),
    Call.ADD_NEW_TARGET: lambda c: c.bc.add_new_target(
        *c.writer_component(), "C:\\data", "*", False, "C:\\elsewhere"),
    Call.SET_FILE_RESTORE_STATUS: lambda c: c.bc.set_file_restore_status(
        *c.writer_component(), FileRestoreStatus.ALL),
    Call.ADD_ALTERNATIVE_LOCATION_MAPPING: lambda c: c.bc.add_alternative_location_mapping(
        *c.writer_component(), "C:\\data", "*", False, "C:\\elsewhere"),
    Call.SET_RANGES_FILE_PATH: lambda c: c.bc.set_ranges_file_path(
        *c.writer_component(), 0, "C:\\ranges"),
    Call.RELEASE: lambda c: c.bc.release(),
}

# Calls that start an asynchronous operation: the requester waits for it.
_ASYNC: dict[Call, Callable[[_Context], Async]] = {
    Call.GATHER_WRITER_METADATA: lambda c: c.bc.gather_writer_metadata(),
    Call.PREPARE_FOR_BACKUP: lambda c: c.bc.prepare_for_backup(),
    Call.DO_SNAPSHOT_SET: lambda c: c.bc.do_snapshot_set(),
    Call.GATHER_WRITER_STATUS: lambda c: c.bc.gather_writer_status(),
    Call.BACKUP_COMPLETE: lambda c: c.bc.backup_complete(),
    Call.IMPORT_SNAPSHOTS: lambda c: c.bc.import_snapshots(),
    Call.QUERY_REVERT_STATUS: lambda c: c.bc.query_revert_status(c.volume),
    Call.PRE_RESTORE: lambda c: c.bc.pre_restore(),
    Call.POST_RESTORE: lambda c: c.bc.post_restore(),
}

#: The calls :func:`perform` can make (every public ``IVssBackupComponents`` call of
#: :class:`~vsssim._state.Call`).
PERFORMABLE: frozenset[Call] = frozenset(_PLAIN) | frozenset(_ASYNC)


def perform(
    system: VssSystem,
    calls: Iterable[Call | str],
    *,
    bc: BackupComponents | None = None,
    release: bool = True,
) -> list[CallOutcome]:
    """Make ``calls`` on one requester object of ``system`` and return one
    :class:`CallOutcome` per call.

    ``calls`` are :class:`~vsssim._state.Call` values or their Windows names
    (``"DoSnapshotSet"``).  ``bc``: the object to use (default: a new one from
    ``system.create_backup_components()``); it is released at the end unless ``release`` is
    False or the sequence released it.  Every call is made, legal or not; an illegal call
    answers ``VSS_E_BAD_STATE`` and the sequence goes on, as a careless requester's would.
    Only :class:`~vsssim.errors.VssError` is caught: anything else propagates.
    """
    obj = bc if bc is not None else system.create_backup_components()
    ctx = _Context(system, obj)
    out: list[CallOutcome] = []
    try:
        for item in calls:
            call = item if isinstance(item, Call) else Call(item)
            if call not in PERFORMABLE:
                raise ValueError(f"{call.value!r} is internal to VSS, not a requester call")
            before = obj.state
            legal = call.value in obj.legal_calls()
            code: int = hr.S_OK
            message = ""
            try:
                if call in _ASYNC:
                    op = _ASYNC[call](ctx)
                    code = _wait(op)
                    if op.error is not None:
                        message = str(op.error)
                    if call is Call.GATHER_WRITER_METADATA and code == hr.S_OK:
                        ctx.first_component()  # remembered, as a requester would
                else:
                    _PLAIN[call](ctx)
            except VssError as exc:
                code, message = hr.to_unsigned(exc.hresult), str(exc)
            out.append(CallOutcome(call=call, state_before=before, state_after=obj.state,
                                   legal=legal, hresult=code, message=message))
    finally:
        if release and obj.state != SessionState.RELEASED:
            obj.release()
    return out


def outcomes_text(outcomes: Iterable[CallOutcome]) -> str:
    """The outcomes, one line each (for failure messages)."""
    return "\n".join(f"{i:3}. {o}" for i, o in enumerate(outcomes, 1))
