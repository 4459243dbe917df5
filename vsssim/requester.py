"""``IVssBackupComponents``: the requester's object for one backup, one restore or one query.

Get one from ``VssSystem.create_backup_components()`` and call it the way a Windows backup
program calls VSS (snake_case names, parameters in the SDK's order)::

    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.gather_writer_metadata().wait()
        bc.set_backup_state(True, False, BackupType.FULL)
        for instance_id, wmd in bc.writer_metadata: ...
            bc.add_component(instance_id, wmd.identity.writer_id, ComponentType.DATABASE, "", "db")
        set_id = bc.start_snapshot_set()
        bc.add_to_snapshot_set("C:\\\\")
        bc.prepare_for_backup().wait()
        bc.do_snapshot_set().wait()
        ...                                   # copy files from the shadow copies
        bc.backup_complete().wait()
    # leaving the block releases the object: BackupShutdown, auto-release copies deleted

Every call is checked against the session table of :mod:`vsssim._state`: a call out of order
raises :class:`~vsssim.errors.VssBadStateError` naming the current state and the calls that are
legal now, and changes nothing.  Writer and provider failures are *reported* (writer status, the
async result), not raised, as on Windows.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from vsssim import hresult as hr
from vsssim._state import (
    GUARD_BITS,
    Call,
    Guard,
    SessionState,
    decide_mask,
    guards_of,
    legal_calls,
)
from vsssim.asyncop import Async, AsyncMode, check_mode
from vsssim.components import ComponentScope, WriterComponents
from vsssim.constants import (
    BackupSchema,
    BackupType,
    ComponentType,
    FileRestoreStatus,
    ObjectType,
    RestoreType,
    RollforwardType,
    SnapshotContext,
    VolumeSnapshotAttributes,
)
from vsssim.coordinator import (
    Coordinator,
    Participant,
    ProviderFailure,
    RequesterCrashed,
    Session,
    SetMember,
    SnapshotSet,
)
from vsssim.documents import (
    BackupComponentsDocument,
    ProviderProperties,
    SnapshotProperties,
    WriterMetadata,
    WriterStatus,
    can_add_for_backup,
)
from vsssim.documents._fields import enum_argument
from vsssim.errors import (
    VssBadStateError,
    VssError,
    VssInvalidArgumentError,
    VssMaximumNumberOfVolumesReachedError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
    VssSnapshotSetInProgressError,
    VssUnsupportedContextError,
    error_for,
)
from vsssim.providers.base import GUID_NULL
from vsssim.trace import EventKind

if TYPE_CHECKING:
    from vsssim.system import VssSystem

__all__ = ["MAX_VOLUMES_PER_SET", "BackupComponents", "check_context_bits"]

MAX_VOLUMES_PER_SET = 64
_A = VolumeSnapshotAttributes
# The bits that make up a context (the rest are modifiers such as TRANSPORTABLE).
CONTEXT_BITS = int(_A.PERSISTENT | _A.CLIENT_ACCESSIBLE | _A.NO_AUTO_RELEASE | _A.NO_WRITERS)
# Modifiers a requester may OR into a context (providers reference §3.1).
CONTEXT_MODIFIERS = int(_A.TRANSPORTABLE | _A.DIFFERENTIAL | _A.PLEX | _A.NO_AUTORECOVERY
                        | _A.NOT_TRANSACTED | _A.ROLLBACK_RECOVERY | _A.TXF_RECOVERY)
# The predefined contexts, plus NO_AUTO_RELEASE on the non-persistent ones: the third lifetime
# (non-persistent copies that survive their requester and die at reboot) has no predefined
# context (providers reference §3.5), so vsssim lets a requester ask for it this way.
_CONTEXTS = {int(c) for c in SnapshotContext} | {
    int(SnapshotContext.BACKUP | _A.NO_AUTO_RELEASE),
    int(SnapshotContext.FILE_SHARE_BACKUP | _A.NO_AUTO_RELEASE)}
# The guard bits, named once (``_guard_mask`` runs before every call).
_NOTHING_PENDING = GUARD_BITS[Guard.NOTHING_PENDING]
_CONTEXT_NOT_SET = GUARD_BITS[Guard.CONTEXT_NOT_SET]
_NOTHING_GATHERED = GUARD_BITS[Guard.NOTHING_GATHERED]
_METADATA_GATHERED = GUARD_BITS[Guard.METADATA_GATHERED]
_METADATA_AVAILABLE = GUARD_BITS[Guard.METADATA_AVAILABLE]
_WRITER_CONTEXT = GUARD_BITS[Guard.WRITER_CONTEXT]
_WRITERS_GATHERED_IF_NEEDED = GUARD_BITS[Guard.WRITERS_GATHERED_IF_NEEDED]
_BACKUP_STATE_SET = GUARD_BITS[Guard.BACKUP_STATE_SET]
_STATUS_GATHERED = GUARD_BITS[Guard.STATUS_GATHERED]
_PREPARED_IF_REQUIRED = GUARD_BITS[Guard.PREPARED_IF_REQUIRED]
# Call names as plain strings (``Call.value`` is a Python-level property on every read).
_CALL_NAMES = {c: c.value for c in Call}


def check_context_bits(context: int) -> int:
    """``context`` as the 32-bit value ``SetContext`` takes, whatever the machine: one of
    :class:`SnapshotContext` (or ``ALL``), optionally with modifier bits (DIFFERENTIAL and
    PLEX exclude each other; nothing modifies ``CLIENT_ACCESSIBLE``).  Else
    ``VssInvalidArgumentError`` (``E_INVALIDARG``).  Whether the machine's edition supports
    it is the requester's check."""
    context &= 0xFFFFFFFF
    if context == SnapshotContext.ALL:
        return context
    base = context & ~CONTEXT_MODIFIERS
    mods = context & CONTEXT_MODIFIERS
    if base not in _CONTEXTS:
        raise VssInvalidArgumentError(
            f"context=0x{context:x} is not a VSS_SNAPSHOT_CONTEXT (optionally with modifier "
            "bits)")
    if mods & _A.DIFFERENTIAL and mods & _A.PLEX:
        raise VssInvalidArgumentError("context: DIFFERENTIAL and PLEX exclude each other")
    if base == SnapshotContext.CLIENT_ACCESSIBLE and mods:
        raise VssInvalidArgumentError("context: VSS_CTX_CLIENT_ACCESSIBLE takes no modifiers")
    return context


class BackupComponents:
    """``IVssBackupComponents`` (and the Ex interfaces' useful members) for one operation."""

    def __init__(self, system: VssSystem, *, async_mode: AsyncMode = "immediate") -> None:
        check_mode(async_mode, "async_mode")
        self._system = system
        self._coord: Coordinator = system.coordinator
        self._mode: AsyncMode = async_mode
        self._state = SessionState.CREATED
        self._session = Session(self._coord.ids.uuid(), restore=False,
                                bcd=BackupComponentsDocument(), coordinator=self._coord)
        self._session_key = str(self._session.session_id)  # names the object in the trace
        self._context_set = False
        self._gather_called = False
        self._gather_async: Async | None = None
        self._metadata: list[tuple[UUID, WriterMetadata]] | None = None
        self._metadata_freed = False
        self._backup_state_set = False
        self._prepare_called = False
        # VssOptions are frozen: whether DoSnapshotSet needs PrepareForBackup is known now.
        self._prepare_optional = system.options.prepare_before_snapshot == "optional"
        self._status: list[WriterStatus] | None = None
        self._status_async: Async | None = None
        self._pending: Async | None = None
        self._from_document = False
        self._restore_participants: list[Participant] = []
        self._gone = False  # the machine restarted under this object
        self._trace("CreateVssBackupComponents")

    def __repr__(self) -> str:
        return f"<BackupComponents {self._state.value}>"

    def __enter__(self) -> BackupComponents:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._state != SessionState.RELEASED:
            self.release()

    # ----------------------------------------------------------------------- plumbing
    @property
    def state(self) -> SessionState:
        """The session state (see :mod:`vsssim._state`)."""
        return self._state

    @property
    def session_id(self) -> UUID:
        """``IVssBackupComponentsEx3::GetSessionId``."""
        return self._session.session_id

    @property
    def context(self) -> int:
        """The context set with :meth:`set_context` (``VSS_CTX_BACKUP`` by default)."""
        return self._session.context

    @property
    def document(self) -> BackupComponentsDocument:
        """The Backup Components Document (read it; change it only through the API)."""
        return self._session.bcd

    def legal_calls(self) -> list[str]:
        """The calls that are legal now (as a ``VssBadStateError`` would list them)."""
        return [c.value for c in legal_calls(self._state, self._guards())]

    # Every call and result names its requester object (``session``), so that observers can
    # follow several objects of one machine (a retry on a new object, a second requester).
    # (Both hand the tracer (key, value) pairs: what ``emit(..., session=..., **data)`` does.)
    def _trace(self, name: str, detail: str = "", **data: str | int | None) -> None:
        self._coord.tracer._emit_data("requester", "VSS", EventKind.CALL, name, detail,
                                      (("session", self._session_key), *data.items()))

    def _result(self, name: str, detail: str, **data: str | int | None) -> None:
        self._coord.tracer._emit_data("VSS", "requester", EventKind.RESULT, name, detail,
                                      (("session", self._session_key), *data.items()))

    def _guards(self) -> set[Guard]:
        return guards_of(self._guard_mask())

    def _guard_mask(self) -> int:
        """The :class:`Guard` conditions that hold now, as a mask (``_state.GUARD_BITS``)."""
        s = self._session
        pending = self._pending
        g = _NOTHING_PENDING if pending is None or pending._over else 0
        if not self._context_set:
            g |= _CONTEXT_NOT_SET
        if not self._gather_called:
            g |= _NOTHING_GATHERED
        gathered = self._metadata is not None
        if gathered:
            g |= _METADATA_GATHERED
            if not self._metadata_freed:
                g |= _METADATA_AVAILABLE
        writerless = s.writerless
        if not writerless:
            g |= _WRITER_CONTEXT
        if writerless or gathered:
            g |= _WRITERS_GATHERED_IF_NEEDED
        if writerless or self._prepare_called or self._prepare_optional:
            g |= _PREPARED_IF_REQUIRED
        if self._backup_state_set:
            g |= _BACKUP_STATE_SET
        if self._status is not None:
            g |= _STATUS_GATHERED
        return g

    def _decide(self, call: Call) -> SessionState:
        if self._gone:
            raise VssBadStateError(
                "the machine restarted: this IVssBackupComponents object died with its "
                "process; create a new one", state="gone", call=_CALL_NAMES[call])
        return decide_mask(self._state, call, self._guard_mask())

    def _machine_restarted(self) -> None:
        """The machine rebooted: the object is gone (no BackupShutdown, its copies died)."""
        self._gone = True
        self._session.released = True

    def _move(self, call: Call, detail: str = "", **data: str | int | None) -> SessionState:
        """Check ``call`` against the table; trace it; return the state it leads to."""
        try:
            nxt = self._decide(call)
        except VssBadStateError as exc:
            self._trace(_CALL_NAMES[call], detail, refused=exc.hresult_name)
            raise
        # (what ``_trace`` does, written out: this runs at every call)
        session = ("session", self._session_key)
        self._coord.tracer._emit_data(
            "requester", "VSS", EventKind.CALL, _CALL_NAMES[call], detail,
            (session, *data.items()) if data else (session,))
        return nxt

    def _async(self, name: str, operation: Generator[str, None, int],
               on_finish: Callable[[int], int] | None = None) -> Async:
        def finish(code: int) -> int:
            # The operation's own ending first (DoSnapshotSet records its auto-release copies),
            # then the death of the requester, whose release deletes them (rule 17).
            if on_finish is not None:
                code = on_finish(code)
            if self._session.crash is not None:
                self._crash()
            # (what ``_result`` does, written out: this ends every asynchronous operation)
            self._coord.tracer._emit_data(
                "VSS", "requester", EventKind.RESULT, name,
                hr.name_of(code if code else hr.VSS_S_ASYNC_FINISHED),
                (("session", self._session_key), ("hresult", code)))
            return code

        # The requester process dying inside the operation ends it with E_UNEXPECTED.
        op = Async(name, operation, mode=self._mode, on_finish=finish,
                   ends_on=(RequesterCrashed, hr.E_UNEXPECTED))
        # Only an operation still running is pending (an immediate one is over already).
        self._pending = None if op._over else op
        return op

    def _crash(self) -> None:
        """The requester process died: VSS releases its object for it (rule 17)."""
        if self._state != SessionState.RELEASED:
            self._coord.tracer.emit("VSS", "requester", EventKind.NOTE, "RequesterGone",
                                    "the requester crashed; VSS releases its object")
            self._release_session()

    # ------------------------------------------------------------------ initialization
    def initialize_for_backup(self, bcd_xml: str | None = None) -> None:
        """``InitializeForBackup``: first call of a backup (``bcd_xml`` only to import a
        transportable shadow copy set)."""
        nxt = self._move(Call.INITIALIZE_FOR_BACKUP)
        if bcd_xml is not None:
            self._session.bcd = BackupComponentsDocument.load_from_xml(bcd_xml)
            self._session.context = self._session.bcd.context
            self._from_document = True
            self._gather_called = True  # the document replaces discovery: import only
            self._state = nxt
            return
        self._session.bcd.originating_machine = self._system.machine_name
        self._session.bcd.os_version = self._system.os_version
        self._state = nxt

    def initialize_for_restore(self, bcd_xml: str) -> None:
        """``InitializeForRestore``: the Backup Components Document saved at backup time; the
        object is now a restore object (backup-only calls are ``VSS_E_BAD_STATE``)."""
        nxt = self._move(Call.INITIALIZE_FOR_RESTORE)
        if not isinstance(bcd_xml, (str, bytes)):
            raise TypeError(f"bcd_xml must be str or bytes, not {type(bcd_xml).__name__}")
        bcd = BackupComponentsDocument.load_from_xml(bcd_xml)
        for writer in bcd.writers:  # a fresh restore: nothing selected yet
            for comp in writer.components:
                comp.selected_for_restore = False
        self._session.bcd = bcd
        self._session.restore = True
        self._session.context = bcd.context
        self._state = nxt

    def set_context(self, context: int) -> None:
        """``SetContext``: once, before metadata is gathered (``VSS_CTX_BACKUP`` by default).

        A context is one of :class:`SnapshotContext`, optionally with the modifier bits
        TRANSPORTABLE, DIFFERENTIAL or PLEX (not both), NO_AUTORECOVERY, NOT_TRANSACTED,
        ROLLBACK_RECOVERY, TXF_RECOVERY; nothing may modify ``CLIENT_ACCESSIBLE``.
        """
        if not isinstance(context, int) or isinstance(context, bool):
            raise TypeError(f"context must be an int (VSS_SNAPSHOT_CONTEXT bits), not "
                            f"{type(context).__name__}")
        nxt = self._move(Call.SET_CONTEXT, f"0x{int(context) & 0xFFFFFFFF:08x}")
        try:
            ctx = self._check_context(int(context))
        except VssError as exc:  # the call was made and refused: the trace says so
            self._result("SetContext", exc.hresult_name, hresult=exc.hresult,
                         refused=exc.hresult_name)
            raise
        self._session.context = ctx
        self._session.bcd._assign_checked("context", ctx)  # a checked 32-bit context
        self._context_set = True
        self._state = nxt

    def _check_context(self, context: int) -> int:
        if not isinstance(context, int):
            raise TypeError(f"context must be an int, not {type(context).__name__}")
        context = check_context_bits(context)
        if context != SnapshotContext.ALL and not self._system.allows_context(context):
            raise VssUnsupportedContextError(
                f"context 0x{context:x} is not supported on this {self._system.edition} edition "
                f"of Windows {self._system.os_version}")
        return context

    def set_backup_state(self, select_components: bool, backup_bootable_system_state: bool,
                         backup_type: BackupType, partial_file_support: bool = False) -> None:
        """``SetBackupState``: component mode, bootable system state, type, partial files.

        Required before ``PrepareForBackup``.  ``backup_type`` is a :class:`BackupType`
        (``VSS_BACKUP_TYPE``; its int value is accepted too); anything else is refused with
        ``VssInvalidArgumentError`` (``E_INVALIDARG``) saying what to pass.
        """
        for name, flag in (("select_components", select_components),
                           ("backup_bootable_system_state", backup_bootable_system_state),
                           ("partial_file_support", partial_file_support)):
            _check_flag(flag, name)
        try:
            btype: BackupType | None = enum_argument("backup_type", BackupType, backup_type)
            refusal = ""
        except ValueError as exc:
            btype, refusal = None, str(exc)
        nxt = self._move(Call.SET_BACKUP_STATE, btype.name if btype else repr(backup_type))
        if btype is None:  # the call was made and refused: the trace says so
            error = VssInvalidArgumentError(refusal)
            self._result("SetBackupState", error.hresult_name, hresult=error.hresult,
                         refused=error.hresult_name)
            raise error
        # Checked above (bools, a BackupType member): stored without validating them again.
        bcd = self._session.bcd
        bcd._assign_checked("select_components", select_components)
        bcd._assign_checked("bootable_system_state", backup_bootable_system_state)
        bcd._assign_checked("backup_type", btype)
        bcd._assign_checked("partial_file_support", partial_file_support)
        self._backup_state_set = True
        self._state = nxt

    # ------------------------------------------------------------------ writer selection
    def enable_writer_classes(self, writer_ids: Iterable[UUID]) -> None:
        """``EnableWriterClasses``: the first call disables every class not listed (rule 4);
        silently ignored after ``GatherWriterMetadata``."""
        ids = set(writer_ids)
        self._state = self._move(Call.ENABLE_WRITER_CLASSES, f"{len(ids)} classes")
        if self._gather_called:
            return
        s = self._session
        if s.enabled_classes is None:
            s.enabled_classes = set()
            s.disabled_classes.clear()  # the first Enable cancels earlier Disables
        s.enabled_classes |= ids

    def disable_writer_classes(self, writer_ids: Iterable[UUID]) -> None:
        """``DisableWriterClasses`` (silently ignored after ``GatherWriterMetadata``)."""
        ids = set(writer_ids)
        self._state = self._move(Call.DISABLE_WRITER_CLASSES, f"{len(ids)} classes")
        if self._gather_called:
            return
        s = self._session
        if s.enabled_classes is not None:
            s.enabled_classes -= ids
        else:
            s.disabled_classes |= ids

    def disable_writer_instances(self, instance_ids: Iterable[UUID]) -> None:
        """``DisableWriterInstances``: only the listed instances, not their siblings."""
        ids = set(instance_ids)
        self._state = self._move(Call.DISABLE_WRITER_INSTANCES, f"{len(ids)} instances")
        if not self._gather_called:
            self._session.disabled_instances |= ids

    # ---------------------------------------------------------------------- discovery
    def gather_writer_metadata(self) -> Async:
        """``GatherWriterMetadata``: Identify to every enabled writer (once per object)."""
        nxt = self._move(Call.GATHER_WRITER_METADATA)
        self._gather_called = True
        self._state = nxt
        session = self._session

        def run() -> Generator[str, None, int]:
            gathered = yield from self._coord.identify(session)
            session.participants = {
                reg.instance_id: Participant(reg, wmd, session.session_id)
                for reg, wmd in gathered}
            session.gathered = True
            # The requester gets its own copies, once: what it does with them cannot change
            # what VSS knows of the writers.
            self._metadata = [(reg.instance_id, wmd.clone())
                              for reg, wmd in gathered]
            return hr.S_OK

        self._gather_async = self._async("GatherWriterMetadata", run())
        return self._gather_async

    @property
    def writer_metadata(self) -> list[tuple[UUID, WriterMetadata]]:
        """``GetWriterMetadataCount`` / ``GetWriterMetadata(i)``: (instance id, metadata) pairs
        of the writers that answered Identify (the requester's own copies)."""
        self._decide(Call.GET_WRITER_METADATA)
        return list(self._metadata or [])

    def get_writer_metadata_count(self) -> int:
        """``GetWriterMetadataCount``."""
        return len(self.writer_metadata)

    def get_writer_metadata(self, index: int) -> tuple[UUID, WriterMetadata]:
        """``GetWriterMetadata(i)``: (instance id, metadata); ``VSS_E_OBJECT_NOT_FOUND`` if out
        of range."""
        _check_index(index)
        items = self.writer_metadata
        if not 0 <= index < len(items):
            raise VssObjectNotFoundError(f"no writer metadata #{index} ({len(items)} gathered)")
        return items[index]

    def free_writer_metadata(self) -> None:
        """``FreeWriterMetadata``: irreversible on this object."""
        self._state = self._move(Call.FREE_WRITER_METADATA)
        self._metadata_freed = True

    def _participant(self, instance_id: UUID, writer_id: UUID) -> Participant:
        p = self._session.participants.get(instance_id)
        if p is None or p.reg.writer_id != writer_id:
            raise VssObjectNotFoundError(
                f"no writer instance {{{instance_id}}} of class {{{writer_id}}} answered "
                "GatherWriterMetadata")
        return p

    def add_component(self, instance_id: UUID, writer_id: UUID, component_type: ComponentType,
                      logical_path: str | None, component_name: str) -> None:
        """``AddComponent``: explicitly include a component (component mode, before
        ``StartSnapshotSet``).

        Allowed: selectable components and required (non-selectable, top-level) ones.  A
        component the writer does not declare, a non-selectable subcomponent, or a selectable
        subcomponent whose selectable ancestor is already added is refused (rule 8).
        """
        _check_address(writer_id, logical_path, component_name, component_type)
        _check_id(instance_id, "instance_id")
        nxt = self._move(Call.ADD_COMPONENT,
                         f"{logical_path or ''}\\{component_name}".lstrip("\\"))
        if self._backup_state_set and not self._session.bcd.select_components:
            raise VssBadStateError(
                "AddComponent has meaning only in component mode: SetBackupState was called "
                "with select_components=False", state=self._state.value, call="AddComponent")
        p = self._participant(instance_id, writer_id)
        wmd = p.metadata
        try:
            comp = wmd.component(logical_path or "", component_name)
        except VssObjectNotFoundError:
            raise error_for(self._coord.options.add_component_error,
                            f"writer {p.reg.label!r} declares no component "
                            f"{component_name!r} at logical path {logical_path or ''!r}") from None
        if comp.component_type != component_type:
            raise error_for(self._coord.options.add_component_error,
                            f"component {comp.full_path!r} is a {comp.component_type.name}, not "
                            f"a {ComponentType(component_type).name}")
        added = []
        for entry in self._session.bcd.writers_for_class(writer_id):
            for c in entry.components:
                try:
                    added.append(wmd.component(c.logical_path, c.component_name))
                except VssObjectNotFoundError:
                    continue
        if any(a.key == comp.key for a in added):
            raise VssObjectAlreadyExistsError(f"component {comp.full_path!r} is already added")
        verdict = can_add_for_backup(wmd, comp, added)
        if not verdict:
            raise VssInvalidArgumentError(f"AddComponent refused: {verdict.reason}")
        entry_exists = any(w.instance_id == instance_id for w in self._session.bcd.writers)
        self._session.bcd.add_component(instance_id, writer_id, comp.component_type,
                                        comp.logical_path, comp.component_name)
        if not entry_exists:
            for w in self._session.bcd.writers:
                if w.instance_id == instance_id:
                    w.instance_name = p.reg.writer.instance_name
        self._state = nxt

    def set_backup_options(self, writer_id: UUID, component_type: ComponentType,
                           logical_path: str | None, component_name: str, options: str) -> None:
        """``SetBackupOptions``: writer-specific options for an added component."""
        _check_address(writer_id, logical_path, component_name, component_type)
        _check_str(options, "options")
        nxt = self._move(Call.SET_BACKUP_OPTIONS)
        _, comp = self._session.bcd.find_component(writer_id, component_type, logical_path,
                                                   component_name)
        comp.backup_options = options
        self._state = nxt

    def set_previous_backup_stamp(self, writer_id: UUID, component_type: ComponentType,
                                  logical_path: str | None, component_name: str,
                                  previous_backup_stamp: str) -> None:
        """``SetPreviousBackupStamp``: the stamp of the backup an incremental builds on."""
        _check_address(writer_id, logical_path, component_name, component_type)
        _check_str(previous_backup_stamp, "previous_backup_stamp")
        nxt = self._move(Call.SET_PREVIOUS_BACKUP_STAMP)
        _, comp = self._session.bcd.find_component(writer_id, component_type, logical_path,
                                                   component_name)
        comp.previous_backup_stamp = previous_backup_stamp
        self._state = nxt

    set_previous_backup_timestamp = set_previous_backup_stamp

    # ------------------------------------------------------------------- snapshot set
    def start_snapshot_set(self) -> UUID:
        """``StartSnapshotSet``: a new, empty set; takes the machine-wide creation lock."""
        nxt = self._move(Call.START_SNAPSHOT_SET)
        context = self._session.context
        if context == SnapshotContext.ALL:
            raise VssUnsupportedContextError(
                "VSS_CTX_ALL is for queries and management; it cannot create shadow copies")
        self._coord.acquire_creation(self._session)
        set_id = self._coord.ids.uuid()
        self._session.snapshot_set = SnapshotSet(set_id, context)
        self._session.bcd._assign_checked("snapshot_set_id", set_id)  # a new UUID
        key = str(set_id)
        self._result("StartSnapshotSet", f"{{{key}}}", set=key)
        self._state = nxt
        return set_id

    def is_volume_supported(self, volume_name: str, provider_id: UUID = GUID_NULL) -> bool:
        """``IsVolumeSupported``: could the volume ever be shadow-copied (by that provider)?"""
        _check_str(volume_name, "volume_name")
        _check_id(provider_id, "provider_id")
        self._state = self._move(Call.IS_VOLUME_SUPPORTED, volume_name)
        return self._system.is_volume_supported(volume_name, provider_id, self._session.context)

    def add_to_snapshot_set(self, volume_name: str, provider_id: UUID = GUID_NULL) -> UUID:
        """``AddToSnapshotSet``: add a volume (name with a trailing backslash); returns the
        shadow copy id.  Provider: the one named, else hardware, software, system (§1.2)."""
        _check_str(volume_name, "volume_name")
        _check_id(provider_id, "provider_id")
        nxt = self._move(Call.ADD_TO_SNAPSHOT_SET, volume_name)
        ss = self._session.snapshot_set
        if ss is None or ss.fixed:
            raise VssBadStateError("the snapshot set is fixed once DoSnapshotSet is called",
                                   state=self._state.value, call="AddToSnapshotSet")
        volume = self._system.resolve_volume(volume_name, strict=True)
        if any(m.volume.guid_path == volume.guid_path for m in ss.members):
            raise VssObjectAlreadyExistsError(f"{volume.name} is already in the snapshot set")
        if len(ss.members) >= MAX_VOLUMES_PER_SET:
            raise VssMaximumNumberOfVolumesReachedError(
                f"a shadow copy set holds at most {MAX_VOLUMES_PER_SET} volumes")
        context = self._session.context
        provider = self._system.select_provider(volume, provider_id, context)
        self._system.check_snapshot_limit(volume, provider, context)
        snapshot_id = self._coord.ids.uuid()
        member = SetMember(snapshot_id, volume, provider)
        if self._coord.options.begin_prepare_at == "add_to_snapshot_set":
            try:
                self._coord.call_provider(
                    provider, "BeginPrepareSnapshot",
                    lambda: provider.begin_prepare_snapshot(ss.set_id, snapshot_id, volume,
                                                            ss.context), detail=volume.name)
            except ProviderFailure as failure:
                raise error_for(failure.hresult, str(failure)) from None
            ss.begun.add(snapshot_id)
        ss.members.append(member)
        self._result("AddToSnapshotSet", f"{volume.name} -> {provider.provider_name}",
                     snapshot=str(snapshot_id), provider=provider.provider_name)
        self._state = nxt
        return snapshot_id

    def prepare_for_backup(self) -> Async:
        """``PrepareForBackup``: the PrepareForBackup event to participating writers."""
        nxt = self._move(Call.PREPARE_FOR_BACKUP)
        self._session.invalidate_views()
        self._state = nxt
        self._prepare_called = True
        self._check_crash_point("PrepareForBackup")
        return self._async("PrepareForBackup", self._coord.prepare_for_backup(self._session))

    def do_snapshot_set(self) -> Async:
        """``DoSnapshotSet``: create the shadow copies (PrepareForSnapshot, Freeze, commit inside
        flush-and-hold, Thaw, PostSnapshot); the async result is the outcome.

        After a failure the requester must call ``abort_backup`` and must not call
        ``backup_complete`` (rule 16).
        """
        self._state = self._move(Call.DO_SNAPSHOT_SET)
        session = self._session
        session.invalidate_views()
        faults = self._coord.faults
        for fault in faults.storage_faults("DoSnapshotSet"):
            self._system.apply_storage_fault(fault)

        def finish(code: int) -> int:
            if self._state == SessionState.CREATING_SNAPSHOTS:
                call = Call.SNAPSHOTS_DONE if code == hr.S_OK else Call.SNAPSHOTS_FAILED
                self._state = decide_mask(self._state, call, self._guard_mask())
            self._record_snapshots()
            return code

        return self._async("DoSnapshotSet", self._coord.do_snapshot_set(session), finish)

    def _record_snapshots(self) -> None:
        """After creation: describe the set in the document (for SaveAsXML and imports)."""
        ss = self._session.snapshot_set
        if ss is None or not ss.created:
            return
        from vsssim.documents import SnapshotDescription

        snapshots = []
        for m in ss.members:
            props = m.provider.get_snapshot_properties(m.snapshot_id)
            snapshots.append(SnapshotDescription(
                snapshot_id=m.snapshot_id, original_volume=m.volume.guid_path,
                provider_id=m.provider.provider_id, attributes=props.snapshot_attributes,
                timestamp=props.creation_timestamp, original_luns=list(m.volume.luns),
                target_luns=list(m.target_luns)))
        # Validated one by one just now, one per member of the set (so no id twice).
        self._session.bcd._assign_checked("snapshots", snapshots)
        self._system.snapshot_set_created(self._session, ss)

    def _check_crash_point(self, point: str) -> None:
        crash = self._coord.faults.requester_crash(point)
        if crash is not None:
            self._coord.tracer.emit("requester", "VSS", EventKind.FAULT, "RequesterCrash",
                                    crash.describe())
            self._session.crash = crash

    # ------------------------------------------------------------------------- status
    def gather_writer_status(self) -> Async:
        """``GatherWriterStatus``: refresh the writer status list."""
        nxt = self._move(Call.GATHER_WRITER_STATUS)
        self._state = nxt

        def run() -> Generator[str, None, int]:
            self._status = self._coord.writer_status(self._session)
            return hr.S_OK
            yield ""  # pragma: no cover - makes this a generator

        self._status_async = self._async("GatherWriterStatus", run())
        return self._status_async

    @property
    def writer_status(self) -> list[WriterStatus]:
        """``GetWriterStatusCount`` / ``GetWriterStatus(i)`` after ``gather_writer_status``."""
        self._decide(Call.GET_WRITER_STATUS)
        return list(self._status or [])

    def get_writer_status_count(self) -> int:
        """``GetWriterStatusCount``."""
        return len(self.writer_status)

    def get_writer_status(self, index: int) -> WriterStatus:
        """``GetWriterStatus(i)``; ``VSS_E_OBJECT_NOT_FOUND`` if out of range."""
        _check_index(index)
        items = self.writer_status
        if not 0 <= index < len(items):
            raise VssObjectNotFoundError(f"no writer status #{index} ({len(items)} gathered)")
        return items[index]

    def free_writer_status(self) -> None:
        """``FreeWriterStatus``."""
        self._state = self._move(Call.FREE_WRITER_STATUS)
        self._status = None

    def get_writer_components(self) -> list[WriterComponents]:
        """``GetWriterComponentsCount`` / ``GetWriterComponents(i)``: one read-only view per
        writer *with components* (rule 34); views die at the next event-generating call."""
        self._state = self._move(Call.GET_WRITER_COMPONENTS)
        out = []
        for entry in self._session.bcd.writers:
            scope = ComponentScope(writer_side=False, event=None,
                                   restore=self._session.restore, owner="requester")
            self._session.views.append(scope)
            out.append(WriterComponents(entry, entry.instance_id, entry.writer_id, scope))
        return out

    # -------------------------------------------------------------------- snapshots
    def get_snapshot_properties(self, snapshot_id: UUID) -> SnapshotProperties:
        """``GetSnapshotProperties`` (``VSS_E_OBJECT_NOT_FOUND`` while still being created)."""
        _check_id(snapshot_id, "snapshot_id")
        self._state = self._move(Call.GET_SNAPSHOT_PROPERTIES, f"{{{snapshot_id}}}")
        return self._system.snapshot_properties(snapshot_id)

    def query(self, queried_object_id: UUID = GUID_NULL,
              queried_object_type: ObjectType = ObjectType.NONE,
              returned_object_type: ObjectType = ObjectType.SNAPSHOT
              ) -> list[SnapshotProperties] | list[ProviderProperties]:
        """``Query``: completed shadow copies of the current context (``VSS_CTX_ALL`` sees all,
        rule 11), or the registered providers."""
        self._state = self._move(Call.QUERY, ObjectType(returned_object_type).name)
        if queried_object_id != GUID_NULL or queried_object_type != ObjectType.NONE:
            raise VssInvalidArgumentError(
                "Query takes queried_object_id=GUID_NULL and queried_object_type=NONE")
        if returned_object_type == ObjectType.PROVIDER:
            return [p.properties() for p in self._system.providers]
        if returned_object_type != ObjectType.SNAPSHOT:
            raise VssInvalidArgumentError(
                f"returned_object_type={ObjectType(returned_object_type).name}: "
                "Query returns SNAPSHOT or PROVIDER objects")
        return [p for p in self._system.all_snapshots() if self._in_context(p)]

    def _in_context(self, props: SnapshotProperties) -> bool:
        ctx = self._session.context
        if ctx == SnapshotContext.ALL:
            return True
        return (props.snapshot_attributes & CONTEXT_BITS) == (ctx & CONTEXT_BITS)

    def delete_snapshots(self, source_object_id: UUID, source_object_type: ObjectType,
                         force_delete: bool = False) -> tuple[int, UUID]:
        """``DeleteSnapshots``: one copy or every copy of a set, one at a time, stopping at the
        first failure; returns (deleted count, id of the copy that could not be deleted or
        ``GUID_NULL``).  Copies outside the current context are not found (rule 16)."""
        self._state = self._move(Call.DELETE_SNAPSHOTS, f"{{{source_object_id}}}")
        _check_id(source_object_id, "source_object_id")
        if source_object_type not in (ObjectType.SNAPSHOT, ObjectType.SNAPSHOT_SET):
            raise VssInvalidArgumentError(
                "source_object_type must be VSS_OBJECT_SNAPSHOT or VSS_OBJECT_SNAPSHOT_SET")
        found = [p for p in self._system.all_snapshots() if self._in_context(p) and (
            p.snapshot_id == source_object_id if source_object_type == ObjectType.SNAPSHOT
            else p.snapshot_set_id == source_object_id)]
        if not found:
            raise VssObjectNotFoundError(
                f"no shadow copy {'set ' if source_object_type == ObjectType.SNAPSHOT_SET else ''}"
                f"{{{source_object_id}}} in the current context")
        deleted = 0
        for props in found:
            try:
                self._system.delete_snapshot(props.snapshot_id, bool(force_delete))
            except VssError as exc:
                # Not transactional: what was deleted stays deleted; the error says how many
                # and which copy stopped it (pDeletedSnapshots, pNondeletedSnapshotID).
                exc.deleted = deleted  # type: ignore[attr-defined]
                exc.non_deleted_id = props.snapshot_id  # type: ignore[attr-defined]
                self._result("DeleteSnapshots", f"{deleted} deleted, stopped at "
                             f"{{{props.snapshot_id}}}: {exc.hresult_name}")
                raise
            deleted += 1
        self._result("DeleteSnapshots", f"{deleted} deleted")
        return deleted, GUID_NULL

    # --------------------------------------------------------------------- completion
    def set_backup_succeeded(self, instance_id: UUID, writer_id: UUID,
                             component_type: ComponentType, logical_path: str | None,
                             component_name: str, succeeded: bool) -> None:
        """``SetBackupSucceeded``: after a successful ``DoSnapshotSet``, before
        ``BackupComplete``; for an explicitly added component (covers its whole set)."""
        _check_address(writer_id, logical_path, component_name, component_type)
        _check_id(instance_id, "instance_id")
        _check_flag(succeeded, "succeeded")
        nxt = self._move(Call.SET_BACKUP_SUCCEEDED,
                         f"{logical_path or ''}\\{component_name}".lstrip("\\") +
                         f" = {bool(succeeded)}")
        entry, comp = self._session.bcd.find_component(writer_id, component_type, logical_path,
                                                       component_name)
        if entry.instance_id != instance_id:
            raise VssObjectNotFoundError(
                f"component {comp.full_path!r} was added for instance {{{entry.instance_id}}}, "
                f"not {{{instance_id}}}")
        comp.backup_succeeded = bool(succeeded)
        self._state = nxt

    def save_as_xml(self) -> str:
        """``SaveAsXML``: the Backup Components Document (never before ``PrepareForBackup``)."""
        self._state = self._move(Call.SAVE_AS_XML)
        return self._session.bcd.save_as_xml()

    def backup_complete(self) -> Async:
        """``BackupComplete``: tell writers the backup is over (only after a successful
        ``DoSnapshotSet``); from now on the document is read-only."""
        nxt = self._move(Call.BACKUP_COMPLETE)
        self._session.invalidate_views()
        self._state = nxt
        return self._async("BackupComplete", self._coord.backup_complete(self._session))

    def abort_backup(self) -> None:
        """``AbortBackup``: Abort to writers that have not run PostSnapshot; ignored when
        nothing is in progress (rule 36)."""
        nxt = self._move(Call.ABORT_BACKUP)
        if nxt != self._state or self._state == SessionState.CREATING_SNAPSHOTS:
            self._coord.abort_backup(self._session)
        else:
            self._coord.tracer.emit("VSS", "requester", EventKind.NOTE, "AbortIgnored",
                                    "nothing in progress")
        self._state = nxt

    # ------------------------------------------------------------------------ restore
    def _restore_component(self, writer_id: UUID, component_type: ComponentType,
                           logical_path: str | None, component_name: str,
                           schema: BackupSchema = BackupSchema.UNDEFINED, what: str = ""
                           ) -> tuple[Participant, Any]:
        """The BCD entry of an explicitly added component and the running writer it belongs
        to (``VSS_E_OBJECT_NOT_FOUND`` if either is missing, rule 24, or if the writer's backup
        schema lacks the ``schema`` bit that gates the call, named ``what``).  Its callers have
        checked the address (:func:`_check_address`) before making the call."""
        entry, comp = self._session.bcd.find_component(writer_id, component_type, logical_path,
                                                       component_name)
        p = next((p for p in self._session.participants.values()
                  if p.reg.writer_id == writer_id and p.reg.subscribed
                  and (p.reg.writer.instance_name or "") == (entry.instance_name or "")), None)
        if p is None and not self._session.gathered:
            raise VssObjectNotFoundError(
                f"no writer is known to be running for {comp.full_path!r}: call "
                "gather_writer_metadata() (GatherWriterMetadata) and wait for it first; a "
                "restore needs it too, to learn which writers run now")
        if p is None:
            raise VssObjectNotFoundError(
                f"the writer of {comp.full_path!r} (class {{{writer_id}}}) is not running now: "
                "its data can only be restored without writer participation")
        if schema and not p.metadata.backup_schema & schema:
            raise VssObjectNotFoundError(
                f"{p.reg.label} does not support {what} (VSS_BS_{schema.name} is not in its "
                "backup schema)")
        return p, comp

    def set_selected_for_restore(self, writer_id: UUID, component_type: ComponentType,
                                 logical_path: str | None, component_name: str,
                                 selected_for_restore: bool) -> None:
        """``SetSelectedForRestore``: only components explicitly added at backup, of a writer
        that runs now; any of them, whatever its selectable-for-restore flag (rule 24)."""
        _check_address(writer_id, logical_path, component_name, component_type)
        _check_flag(selected_for_restore, "selected_for_restore")
        nxt = self._move(Call.SET_SELECTED_FOR_RESTORE,
                         f"{logical_path or ''}\\{component_name}".lstrip("\\"))
        _, comp = self._restore_component(writer_id, component_type, logical_path,
                                          component_name)
        comp.selected_for_restore = bool(selected_for_restore)
        self._state = nxt

    def add_restore_subcomponent(self, writer_id: UUID, component_type: ComponentType,
                                 logical_path: str | None, component_name: str,
                                 subcomponent_logical_path: str | None,
                                 subcomponent_name: str, repair: bool = False) -> None:
        """``AddRestoreSubcomponent``: restore only named members of a selected component set;
        the member must be selectable for restore (``VSS_E_OBJECT_NOT_FOUND`` otherwise)."""
        from vsssim.documents import RestoreSubcomponent, can_add_restore_subcomponent

        _check_address(writer_id, logical_path, component_name, component_type)
        _check_address(writer_id, subcomponent_logical_path, subcomponent_name)
        _check_flag(repair, "repair")
        nxt = self._move(Call.ADD_RESTORE_SUBCOMPONENT,
                         f"{subcomponent_logical_path or ''}\\{subcomponent_name}".lstrip("\\"))
        p, comp = self._restore_component(writer_id, component_type, logical_path,
                                          component_name)
        if not comp.selected_for_restore:
            raise VssBadStateError(
                f"select {comp.full_path!r} with set_selected_for_restore first",
                state=self._state.value, call="AddRestoreSubcomponent")
        wmd = p.metadata
        try:
            defining = wmd.component(comp.logical_path, comp.component_name)
            member = wmd.component(subcomponent_logical_path or "", subcomponent_name)
        except VssObjectNotFoundError:
            raise VssObjectNotFoundError(
                f"no component {subcomponent_name!r} at {subcomponent_logical_path or ''!r} in "
                f"the writer's metadata") from None
        verdict = can_add_restore_subcomponent(wmd, defining, member)
        if not verdict:
            raise VssObjectNotFoundError(f"AddRestoreSubcomponent refused: {verdict.reason}")
        key = (member.logical_path.lower(), member.component_name.lower())
        if any((r.logical_path.lower(), r.component_name.lower()) == key
               for r in comp.restore_subcomponents):
            raise VssObjectAlreadyExistsError(f"{member.full_path!r} is already named")
        comp.restore_subcomponents.append(RestoreSubcomponent(
            logical_path=member.logical_path, component_name=member.component_name,
            repair=bool(repair)))
        self._state = nxt

    def set_restore_options(self, writer_id: UUID, component_type: ComponentType,
                            logical_path: str | None, component_name: str,
                            restore_options: str) -> None:
        """``SetRestoreOptions``: writer-specific options (§8.8 syntax), at most once per
        component (a second call: ``VSS_E_OBJECT_ALREADY_EXISTS``)."""
        from vsssim.documents import parse_restore_options

        _check_address(writer_id, logical_path, component_name, component_type)
        _check_str(restore_options, "restore_options")
        nxt = self._move(Call.SET_RESTORE_OPTIONS)
        _, comp = self._restore_component(writer_id, component_type, logical_path,
                                          component_name)
        if comp.restore_options:
            raise VssObjectAlreadyExistsError(
                f"restore options of {comp.full_path!r} are already set (once per component)")
        try:
            parse_restore_options(restore_options)
        except ValueError as exc:
            raise VssInvalidArgumentError(f"restore_options: {exc}") from None
        comp.restore_options = restore_options
        self._state = nxt

    def set_additional_restores(self, writer_id: UUID, component_type: ComponentType,
                                logical_path: str | None, component_name: str,
                                additional_restores: bool) -> None:
        """``SetAdditionalRestores``: True tells the writer more restores follow (no final
        recovery yet)."""
        _check_address(writer_id, logical_path, component_name, component_type)
        _check_flag(additional_restores, "additional_restores")
        nxt = self._move(Call.SET_ADDITIONAL_RESTORES)
        _, comp = self._restore_component(writer_id, component_type, logical_path,
                                          component_name)
        comp.additional_restores = bool(additional_restores)
        self._state = nxt

    def set_authoritative_restore(self, writer_id: UUID, component_type: ComponentType,
                                  logical_path: str | None, component_name: str,
                                  auth: bool) -> None:
        """``IVssBackupComponentsEx2::SetAuthoritativeRestore``: mark the restore of a component
        added at backup authoritative (its data wins over replicas), before PreRestore, as
        ``SetRestoreOptions`` (it need not be selected yet); the writer must declare
        ``VSS_BS_AUTHORITATIVE_RESTORE`` (``VSS_E_OBJECT_NOT_FOUND`` otherwise).  The writer
        reads it with ``IVssComponentEx::GetAuthoritativeRestore``."""
        _check_address(writer_id, logical_path, component_name, component_type)
        _check_flag(auth, "auth")
        nxt = self._move(Call.SET_AUTHORITATIVE_RESTORE)
        _, comp = self._restore_component(
            writer_id, component_type, logical_path, component_name,
            BackupSchema.AUTHORITATIVE_RESTORE, "authoritative restores")
        comp.authoritative_restore = bool(auth)
        self._state = nxt

    def set_roll_forward(self, writer_id: UUID, component_type: ComponentType,
                         logical_path: str | None, component_name: str,
                         roll_type: RollforwardType, roll_forward_point: str = "") -> None:
        """``IVssBackupComponentsEx2::SetRollForward``: how far the writer rolls the restored
        component forward (``VSS_RF_NONE``, ``ALL``, or ``PARTIAL`` up to
        ``roll_forward_point``, a writer-specific string); the writer must declare
        ``VSS_BS_ROLLFORWARD_RESTORE`` (``VSS_E_OBJECT_NOT_FOUND`` otherwise).  The writer reads
        it with ``IVssComponentEx::GetRollForward``."""
        _check_address(writer_id, logical_path, component_name, component_type)
        roll = enum_argument("roll_type", RollforwardType, roll_type)
        _check_str(roll_forward_point, "roll_forward_point")
        if roll == RollforwardType.UNDEFINED:
            raise VssInvalidArgumentError(
                "roll_type: VSS_RF_UNDEFINED is what an unset component reports; pass NONE, ALL "
                "or PARTIAL")
        if (roll == RollforwardType.PARTIAL) != bool(roll_forward_point):
            raise VssInvalidArgumentError(
                "roll_forward_point: give one with VSS_RF_PARTIAL (where to stop), and none "
                "with NONE or ALL")
        nxt = self._move(Call.SET_ROLL_FORWARD, roll.name)
        _, comp = self._restore_component(
            writer_id, component_type, logical_path, component_name,
            BackupSchema.ROLLFORWARD_RESTORE, "roll-forward restores")
        comp.roll_forward_type = roll
        comp.roll_forward_point = roll_forward_point
        self._state = nxt

    def set_restore_name(self, writer_id: UUID, component_type: ComponentType,
                         logical_path: str | None, component_name: str,
                         restore_name: str) -> None:
        """``IVssBackupComponentsEx2::SetRestoreName``: restore the component under another
        name (a writer-specific string, e.g. a database's new name); the writer must declare
        ``VSS_BS_RESTORE_RENAME`` (``VSS_E_OBJECT_NOT_FOUND`` otherwise).  The writer reads it
        with ``IVssComponentEx::GetRestoreName``."""
        _check_address(writer_id, logical_path, component_name, component_type)
        _check_str(restore_name, "restore_name")
        if not restore_name:
            raise VssInvalidArgumentError("restore_name: give the name to restore under")
        nxt = self._move(Call.SET_RESTORE_NAME)
        _, comp = self._restore_component(
            writer_id, component_type, logical_path, component_name,
            BackupSchema.RESTORE_RENAME, "restores under another name")
        comp.restore_name = restore_name
        self._state = nxt

    def add_new_target(self, writer_id: UUID, component_type: ComponentType,
                       logical_path: str | None, component_name: str, path: str,
                       filespec: str, recursive: bool, alternate_location: str) -> None:
        """``AddNewTarget``: restore a file set of the component to a new directory; the writer
        must support it (``VSS_BS_WRITER_SUPPORTS_NEW_TARGET``) and the file set must match
        exactly (``VSS_E_OBJECT_NOT_FOUND``)."""
        from vsssim.documents import LocationMapping

        _check_address(writer_id, logical_path, component_name, component_type)
        _check_flag(recursive, "recursive")
        nxt = self._move(Call.ADD_NEW_TARGET, f"{path}\\{filespec} -> {alternate_location}")
        p, comp = self._restore_component(writer_id, component_type, logical_path,
                                          component_name, BackupSchema.WRITER_SUPPORTS_NEW_TARGET,
                                          "new targets")
        self._check_file_set(p, comp, path, filespec, recursive)
        _check_windows_path(alternate_location, "alternate_location")
        comp.new_targets.append(LocationMapping(path=path, filespec=filespec,
                                                recursive=bool(recursive),
                                                destination=alternate_location))
        self._state = nxt

    def _check_file_set(self, p: Participant, comp: Any, path: str, filespec: str,
                        recursive: bool) -> Any:
        from vsssim.documents import set_members

        wmd = p.metadata
        defining = wmd.component(comp.logical_path, comp.component_name)
        key = (path.rstrip("\\").lower(), filespec.lower(), bool(recursive))
        for member in set_members(wmd, defining):
            for fd in member.all_files:
                if (fd.path.rstrip("\\").lower(), fd.filespec.lower(), fd.recursive) == key:
                    return fd
        raise VssObjectNotFoundError(
            f"no file set ({path}, {filespec}, recursive={recursive}) in {comp.full_path!r} "
            "(the path, spec and recursion must match exactly)")

    def set_restore_state(self, restore_type: RestoreType) -> None:
        """``SetRestoreState``: the restore type (default UNDEFINED, treated as BY_COPY)."""
        nxt = self._move(Call.SET_RESTORE_STATE, f"{RestoreType(restore_type).name}")
        self._session.bcd.restore_type = RestoreType(restore_type)
        self._state = nxt

    def pre_restore(self) -> Async:
        """``PreRestore``: the PreRestore event to the running writers with a selected
        component (``VSS_WRE_NEVER`` writers are not told)."""
        nxt = self._move(Call.PRE_RESTORE)
        self._session.invalidate_views()
        self._state = nxt
        session = self._session
        self._restore_participants = self._coord.restore_participants(session)
        return self._async("PreRestore",
                           self._coord.pre_restore(session, self._restore_participants))

    def set_file_restore_status(self, writer_id: UUID, component_type: ComponentType,
                                logical_path: str | None, component_name: str,
                                status: FileRestoreStatus) -> None:
        """``SetFileRestoreStatus``: between PreRestore and PostRestore, for every selected
        component: ALL, NONE (nothing written) or FAILED (some files written: corrupt)."""
        _check_address(writer_id, logical_path, component_name, component_type)
        status = enum_argument("status", FileRestoreStatus, status)
        nxt = self._move(Call.SET_FILE_RESTORE_STATUS, status.name)
        _, comp = self._session.bcd.find_component(writer_id, component_type, logical_path,
                                                   component_name)
        comp.file_restore_status = status
        self._state = nxt

    def add_alternative_location_mapping(self, writer_id: UUID, component_type: ComponentType,
                                         logical_path: str | None, component_name: str,
                                         path: str, filespec: str, recursive: bool,
                                         destination: str) -> None:
        """``AddAlternativeLocationMapping``: record that a file set really went to its
        alternate location (only for file sets the writer gave a mapping)."""
        from vsssim.documents import LocationMapping

        _check_address(writer_id, logical_path, component_name, component_type)
        _check_flag(recursive, "recursive")
        nxt = self._move(Call.ADD_ALTERNATIVE_LOCATION_MAPPING, f"{path} -> {destination}")
        p, comp = self._restore_component(writer_id, component_type, logical_path,
                                          component_name)
        self._check_file_set(p, comp, path, filespec, recursive)
        key = (path.rstrip("\\").lower(), filespec.lower(), bool(recursive))
        if not any((m.path.rstrip("\\").lower(), m.filespec.lower(), m.recursive) == key
                   for m in p.metadata.alternate_location_mappings):
            raise VssObjectNotFoundError(
                f"the writer defines no alternate location mapping for ({path}, {filespec})")
        _check_windows_path(destination, "destination")
        comp.alternate_location_mappings.append(LocationMapping(
            path=path, filespec=filespec, recursive=bool(recursive), destination=destination))
        self._state = nxt

    def set_ranges_file_path(self, writer_id: UUID, component_type: ComponentType,
                             logical_path: str | None, component_name: str,
                             partial_file: int, ranges_file: str) -> None:
        """``SetRangesFilePath``: where the ranges file of a partial file was restored."""
        _check_address(writer_id, logical_path, component_name, component_type)
        nxt = self._move(Call.SET_RANGES_FILE_PATH)
        _, comp = self._session.bcd.find_component(writer_id, component_type, logical_path,
                                                   component_name)
        if not 0 <= partial_file < len(comp.partial_files):
            raise VssObjectNotFoundError(f"no partial file #{partial_file}")
        comp.partial_files[partial_file].ranges_file_restore_path = ranges_file
        self._state = nxt

    def post_restore(self, *, replace_failed: set[UUID] | None = None) -> Async:
        """``PostRestore``: the PostRestore event (writers read the file restore status).

        ``replace_failed`` (vsssim extension) names writer classes whose replace failed, for
        ``VSS_WRE_IF_REPLACE_FAILS`` writers when that option is honoured."""
        nxt = self._move(Call.POST_RESTORE)
        self._session.invalidate_views()
        self._state = nxt
        return self._async("PostRestore", self._coord.post_restore(
            self._session, self._restore_participants, replace_failed))

    # ------------------------------------------------------------- snapshot management
    def expose_snapshot(self, snapshot_id: UUID, path_from_root: str | None, attributes: int,
                        expose: str | None) -> str:
        """``ExposeSnapshot``: make a shadow copy visible as a drive letter or mount folder
        (``EXPOSED_LOCALLY``, persistent copies only, ``path_from_root`` None) or as a share
        (``EXPOSED_REMOTELY``); returns the name used."""
        self._state = self._move(Call.EXPOSE_SNAPSHOT, f"{{{snapshot_id}}} as {expose}")
        self._visible(snapshot_id)
        return self._system.expose_snapshot(snapshot_id, path_from_root, attributes, expose)

    def unexpose_snapshot(self, snapshot_id: UUID) -> None:
        """``IVssBackupComponentsEx2::UnexposeSnapshot``."""
        self._state = self._move(Call.UNEXPOSE_SNAPSHOT, f"{{{snapshot_id}}}")
        self._visible(snapshot_id)
        self._system.unexpose_snapshot(snapshot_id)

    def _visible(self, snapshot_id: UUID) -> SnapshotProperties:
        _check_id(snapshot_id, "snapshot_id")
        props = next((p for p in self._system.all_snapshots()
                      if p.snapshot_id == snapshot_id and self._in_context(p)), None)
        if props is None:
            raise VssObjectNotFoundError(
                f"no shadow copy {{{snapshot_id}}} in the current context (0x"
                f"{self._session.context:x}; VSS_CTX_ALL sees every copy)")
        return props

    def break_snapshot_set(self, snapshot_set_id: UUID) -> list[str]:
        """``BreakSnapshotSet``: VSS forgets a hardware shadow copy set; its LUNs become
        ordinary read-only volumes (returned by name).  Software copies: ``VSS_E_PROVIDER_VETO``."""
        return self.break_snapshot_set_ex(snapshot_set_id, 0)

    def break_snapshot_set_ex(self, snapshot_set_id: UUID, break_flags: int) -> list[str]:
        """``IVssBackupComponentsEx2::BreakSnapshotSetEx`` (``MAKE_READ_WRITE`` honoured)."""
        from vsssim.constants import HardwareOptions

        self._state = self._move(Call.BREAK_SNAPSHOT_SET, f"{{{snapshot_set_id}}}")
        members = [p.snapshot_id for p in self._system.all_snapshots()
                   if p.snapshot_set_id == snapshot_set_id and self._in_context(p)]
        if not members:
            raise VssObjectNotFoundError(f"no shadow copy set {{{snapshot_set_id}}} here")
        writable = bool(break_flags & HardwareOptions.BREAKEX_FLAG_MAKE_READ_WRITE)
        return self._system.break_snapshot_set(members, writable)

    def import_snapshots(self) -> Async:
        """``ImportSnapshots``: bring in the transportable copies of the document given to
        ``InitializeForBackup``; the async result is ``S_OK``, ``VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED``
        or ``VSS_E_NO_SNAPSHOTS_IMPORTED``.

        Imports are one at a time on a machine (rule 31).  Another import already running is
        refused with ``VSS_E_SNAPSHOT_SET_IN_PROGRESS`` (state unchanged), or waited for with
        ``VssOptions(concurrent_import="wait")``.
        """
        system = self._system
        refuse = system.options.concurrent_import == "refuse"
        if refuse and system.import_lock.locked():
            raise VssSnapshotSetInProgressError(
                "another ImportSnapshots is running on this machine; imports are one at a time "
                "(the requester serializes them): wait for it and retry")
        nxt = self._move(Call.IMPORT_SNAPSHOTS)
        if not self._from_document:
            raise VssBadStateError(
                "ImportSnapshots needs InitializeForBackup(bcd_xml) with the exporting "
                "machine's document", state=self._state.value, call="ImportSnapshots")
        session = self._session
        manual = self._mode == "manual"

        def run() -> Generator[str, None, int]:
            lock = system.import_lock
            # A manual-mode import yields while it waits, so the caller can step the import in
            # progress in between; the others wait on their thread.
            while not (lock.acquire(False) if manual else lock.acquire(timeout=0.01)):
                if refuse:
                    return hr.VSS_E_SNAPSHOT_SET_IN_PROGRESS
                yield "waiting for the import in progress"
            try:
                yield "LocateLuns"
                done, described, ids = system.import_from_document(session.bcd)
            finally:
                lock.release()
            if not session.bcd.context & _A.NO_AUTO_RELEASE:
                system.remember_auto_release(session, ids)
            if done == 0:
                return hr.VSS_E_NO_SNAPSHOTS_IMPORTED
            return hr.S_OK if done == described else hr.VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED

        self._state = nxt
        return self._async("ImportSnapshots", run())

    def revert_to_snapshot(self, snapshot_id: UUID, force_dismount: bool = False) -> None:
        """``RevertToSnapshot``: make the volume equal to a persistent shadow copy.

        Windows Server only (``E_NOTIMPL`` on client editions); persistent contexts only
        (``VSS_E_UNSUPPORTED_CONTEXT``); one revert per volume (``VSS_E_REVERT_IN_PROGRESS``);
        a volume in use needs ``force_dismount`` (``VSS_E_VOLUME_IN_USE``).  It cannot be
        cancelled and continues after a reboot; follow it with :meth:`query_revert_status`.
        With the default immediate async mode it completes before returning.
        """
        self._state = self._move(Call.REVERT_TO_SNAPSHOT, f"{{{snapshot_id}}}")
        volume = self._system.revert_to_snapshot(snapshot_id, bool(force_dismount))
        if self._mode == "immediate":
            self._system.finish_revert(volume)

    def query_revert_status(self, volume_name: str) -> Async:
        """``QueryRevertStatus``: an async that completes with the revert of the volume (never
        ``VSS_S_ASYNC_CANCELLED``: a revert cannot be cancelled)."""
        self._state = self._move(Call.QUERY_REVERT_STATUS, volume_name)
        volume = self._system.resolve_volume(volume_name, strict=True)
        system = self._system

        def run() -> Generator[str, None, int]:
            # Small steps, so a lesson (or a test) can stop a revert half-way.
            while not system.revert_step(volume, 16):
                yield "revert"
            return hr.S_OK

        return Async("QueryRevertStatus", run(), mode=self._mode, cancellable=False)

    # ------------------------------------------------------------------------ release
    def release(self) -> None:
        """Release the object: BackupShutdown to the writers of the backup, auto-release
        shadow copies deleted, the creation lock given back.  Any later call is refused."""
        self._move(Call.RELEASE)
        self._release_session()

    def _release_session(self) -> None:
        pending = self._pending
        if pending is not None and not pending.done:
            pending.cancel()
            if pending.mode == "background":
                # The service finishes (aborts) the operation on its own thread; the creation
                # lock is free only once it has, so no other set starts while writers of this
                # one may still be frozen.
                pending.wait()
        self._coord.shutdown(self._session)
        self._system.release_auto_release(self._session)
        self._state = SessionState.RELEASED


def _check_id(value: object, name: str) -> None:
    if not isinstance(value, UUID):
        hint = " (use uuid.UUID(text) for a GUID string)" if isinstance(value, str) else ""
        raise TypeError(f"{name} must be a uuid.UUID, not {type(value).__name__}{hint}")


def _check_index(index: object) -> None:
    if not isinstance(index, int) or isinstance(index, bool):
        raise TypeError(f"index must be an int, not {type(index).__name__}")


def _check_str(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")


def _check_flag(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")


def _check_address(writer_id: object, logical_path: object, component_name: object,
                   component_type: object = ComponentType.UNDEFINED) -> None:
    """How the setters name a component: the writer class, its type (a
    :class:`~vsssim.ComponentType`), a logical path (a str, or None for none) and a name;
    checked before the call is made, so that a mistyped one is a ``TypeError`` (``ValueError``
    for a type that is not a ``VSS_COMPONENT_TYPE``) rather than a component that cannot be
    found."""
    _check_id(writer_id, "writer_id")
    enum_argument("component_type", ComponentType, component_type)
    if logical_path is not None:
        _check_str(logical_path, "logical_path")
    _check_str(component_name, "component_name")


def _check_windows_path(path: str, name: str) -> None:
    """A destination given to VSS: an absolute Windows path without ``..`` components."""
    if not isinstance(path, str):
        raise TypeError(f"{name} must be a str, not {type(path).__name__}")
    import re

    if not re.match(r"^[A-Za-z]:\\|^\\\\\?\\Volume\{", path):
        raise VssInvalidArgumentError(f"{name}={path!r} must be an absolute path on a volume")
    if any(part in ("..", ".") for part in path.replace("/", "\\").split("\\")):
        raise VssInvalidArgumentError(f"{name}={path!r} must not contain '.' or '..'")
