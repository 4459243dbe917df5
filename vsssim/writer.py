"""``CVssWriter``: the base class of every writer, with its event handlers and helper calls.

Subclass :class:`Writer`, set the identity attributes (the arguments of ``CVssWriter::Initialize``)
and implement the handlers.  As in the SDK, four handlers are pure virtual and must be implemented
(``on_prepare_snapshot``, ``on_freeze``, ``on_thaw``, ``on_abort``, rule 14); the others return
``True`` by default::

    class MyWriter(Writer):
        writer_id = UUID("...")
        writer_name = "MyDb Writer"
        usage_type = UsageType.USER_DATA
        source_type = SourceType.TRANSACTED_DB
        level = ApplicationLevel.FRONT_END      # VSS_APPLICATION_LEVEL
        freeze_timeout = 60.0                   # dwTimeoutFreeze, seconds on the system clock

        def on_identify(self, metadata):
            metadata.add_component(ComponentType.DATABASE, "", "db", selectable=True)
            metadata.add_database_files("", "db", "C:\\\\db", "*.mdf")
            metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
            return True

        def on_prepare_snapshot(self): return True
        def on_freeze(self): ...            # flush and suspend writes
        def on_thaw(self): ...              # resume writes
        def on_abort(self): ...             # undo what Freeze/Thaw/PostSnapshot would undo

A handler returns ``True`` to go on and ``False`` to veto (after ``set_writer_failure``).  A handler
that calls ``set_writer_failure`` and returns ``True`` reports a non-fatal failure (rule 13).  A
handler that raises (the reference's advice is "never throw") is recorded as a writer failure, a
veto with ``VssOptions.default_failure``, and never crashes the coordinator; one that returns
``None`` is reported with a message saying what to return.  The exception is kept for you: it is
logged with its traceback on the ``vsssim`` logger (``vsssim.coordinator``; pytest shows it among
a failing test's captured logs), the trace's ``HandlerRaised`` note names the file, line and
function it was raised from (``data``: ``file``, ``line``, ``function``), and
``BackupResult.handler_exceptions`` / ``RestoreResult.handler_exceptions`` hold the exception
objects, their tracebacks starting at your handler.

The helper methods (``get_backup_type``, ``is_path_affected``, ``get_snapshot_device_name`` ...)
are only meaningful inside a handler and, like their SDK counterparts, some only inside certain
handlers (rule 18): called elsewhere they raise :class:`~vsssim.errors.VssBadStateError`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from vsssim import hresult as hr
from vsssim._state import WriterEvent
from vsssim.clock import Clock
from vsssim.constants import (
    ApplicationLevel,
    BackupType,
    RestoreType,
    SourceType,
    UsageType,
)
from vsssim.errors import VssBadStateError, VssInvalidArgumentError

if TYPE_CHECKING:
    from vsssim.components import WriterComponents
    from vsssim.documents import WriterMetadataBuilder
    from vsssim.storage.simfs import SimFS

__all__ = ["HandlerContext", "SessionInfo", "Writer", "WriterFailure"]

#: ``SetWriterFailure`` accepts exactly these codes (reference §5).
CLASSIC_FAILURES = frozenset({
    hr.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT,
    hr.VSS_E_WRITERERROR_NONRETRYABLE,
    hr.VSS_E_WRITERERROR_OUTOFRESOURCES,
    hr.VSS_E_WRITERERROR_RETRYABLE,
    hr.VSS_E_WRITERERROR_TIMEOUT,
})
#: ``SetWriterFailureEx`` also accepts S_OK and PARTIAL_FAILURE.
EX_FAILURES = CLASSIC_FAILURES | {hr.S_OK, hr.VSS_E_WRITERERROR_PARTIAL_FAILURE}

_BACKUP_EVENTS = frozenset({
    WriterEvent.PREPARE_FOR_BACKUP, WriterEvent.PREPARE_FOR_SNAPSHOT, WriterEvent.FREEZE,
    WriterEvent.THAW, WriterEvent.POST_SNAPSHOT, WriterEvent.ABORT,
    WriterEvent.BACKUP_COMPLETE, WriterEvent.BACKUP_SHUTDOWN,
})
# GetCurrentSnapshotSetId: reliable in backup handlers up to PostSnapshot (rule 18).
_SET_ID_EVENTS = frozenset({
    WriterEvent.PREPARE_FOR_BACKUP, WriterEvent.PREPARE_FOR_SNAPSHOT, WriterEvent.FREEZE,
    WriterEvent.THAW, WriterEvent.POST_SNAPSHOT, WriterEvent.ABORT,
})


@dataclass(frozen=True, slots=True)
class WriterFailure:
    """What ``SetWriterFailure[Ex]`` recorded: writer HRESULT, application HRESULT, message."""

    hresult: int
    application_hresult: int = hr.S_OK
    application_message: str = ""


class SessionInfo(Protocol):
    """What a writer's helper calls may learn about the session its event belongs to."""

    @property
    def session_id(self) -> UUID: ...
    @property
    def restore(self) -> bool: ...
    @property
    def context(self) -> int: ...
    @property
    def backup_type(self) -> BackupType: ...
    @property
    def restore_type(self) -> RestoreType: ...
    @property
    def component_mode(self) -> bool: ...
    @property
    def bootable_system_state(self) -> bool: ...
    @property
    def partial_file_support(self) -> bool: ...
    @property
    def snapshot_set_id(self) -> UUID: ...
    @property
    def volume_names(self) -> list[str]: ...

    def snapshot_device_name(self, volume: str) -> str: ...

    def snapshot_fs(self, volume: str) -> SimFS: ...

    def path_affected(self, path: str) -> bool: ...


@dataclass
class HandlerContext:
    """The event a writer is handling right now (set by the coordinator around each handler)."""

    event: WriterEvent
    session: SessionInfo | None
    thread_id: int
    shutting_down: bool = False
    failure: WriterFailure | None = None


class _Registration(Protocol):
    """What the coordinator keeps for a subscribed writer (see :mod:`vsssim.coordinator`)."""

    @property
    def instance_id(self) -> UUID: ...
    @property
    def clock(self) -> Clock: ...


class Writer(ABC):
    """Base class of writers (``CVssWriter`` / ``CVssWriterEx`` / ``CVssWriterEx2``).

    Identity (the ``Initialize`` arguments) comes from these attributes, on the class or the
    instance: ``writer_id`` (class id, a UUID, required), ``writer_name`` (required),
    ``usage_type``, ``source_type``, ``level`` (default ``FRONT_END``), ``freeze_timeout``
    (seconds, default 60), ``instance_name`` (required to tell instances of one class apart),
    ``version`` ((major, minor), ``CVssWriterEx::InitializeEx``).
    """

    writer_id: UUID
    writer_name: str = ""
    usage_type: UsageType = UsageType.USER_DATA
    source_type: SourceType = SourceType.OTHER
    level: ApplicationLevel = ApplicationLevel.FRONT_END
    freeze_timeout: float = 60.0
    instance_name: str = ""
    version: tuple[int, int] = (0, 0)

    # Set by the coordinator; not part of the writer's own state.
    _vss_reg: _Registration | None = None
    _vss_ctx: HandlerContext | None = None

    # ------------------------------------------------------------------------- handlers
    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        """``OnIdentify``: describe the writer's components and restore method.

        Must be deterministic and touch no backup state: Identify can come at any time, from any
        program (rule 1).  ``set_writer_failure`` is not allowed here.
        """
        return True

    def on_prepare_backup(self, components: WriterComponents) -> bool:
        """``OnPrepareBackup``: read the backup type, the selected components, set metadata."""
        return True

    @abstractmethod
    def on_prepare_snapshot(self) -> bool:
        """``OnPrepareSnapshot`` (pure virtual): heavy preparation before the freeze."""

    @abstractmethod
    def on_freeze(self) -> bool:
        """``OnFreeze`` (pure virtual): flush and stop writing; last chance to veto.

        The freeze window (``freeze_timeout``) starts now and ends at Thaw.
        """

    @abstractmethod
    def on_thaw(self) -> bool:
        """``OnThaw`` (pure virtual): resume writing."""

    @abstractmethod
    def on_abort(self) -> bool:
        """``OnAbort`` (pure virtual): undo Freeze/Thaw/PostSnapshot work; must be idempotent."""

    def on_post_snapshot(self, components: WriterComponents) -> bool:
        """``OnPostSnapshot``: clean up, set backup stamps, auto-recover the shadow copy."""
        return True

    def on_backup_complete(self, components: WriterComponents) -> bool:
        """``OnBackupComplete``: the requester finished; the document is read-only now."""
        return True

    def on_backup_shutdown(self, snapshot_set_id: UUID) -> bool:
        """``OnBackupShutdown``: the requester object was released (``GUID_NULL``: no copy)."""
        return True

    def on_pre_restore(self, components: WriterComponents) -> bool:
        """``OnPreRestore``: prepare for files being restored (close, unlock, set targets)."""
        return True

    def on_post_restore(self, components: WriterComponents) -> bool:
        """``OnPostRestore``: files are back; read the restore status and recover."""
        return True

    # ------------------------------------------------------------------ identity helpers
    @property
    def instance_id(self) -> UUID:
        """The writer instance id VSS generated when the writer was subscribed."""
        reg = self._vss_reg
        if reg is None:
            raise VssBadStateError("the writer is not subscribed (add it to a VssSystem)",
                                   state="unsubscribed", call="instance_id")
        return reg.instance_id

    @property
    def clock(self) -> Clock:
        """The system clock; spend virtual time with ``self.clock.sleep(seconds)``."""
        reg = self._vss_reg
        if reg is None:
            raise VssBadStateError("the writer is not subscribed (add it to a VssSystem)",
                                   state="unsubscribed", call="clock")
        return reg.clock

    @property
    def subscribed(self) -> bool:
        """True between ``add_writer`` (Initialize + Subscribe) and ``remove_writer`` or the
        machine's ``close()``."""
        return self._vss_reg is not None

    # ------------------------------------------------------------------ handler helpers
    def _context(self, api: str, *, events: frozenset[WriterEvent] | None = None,
                 same_thread: bool = False) -> HandlerContext:
        ctx = self._vss_ctx
        if ctx is None:
            raise VssBadStateError(
                f"CVssWriter::{api} can only be called inside an event handler",
                state="no event", call=api)
        if events is not None and ctx.event not in events:
            raise VssBadStateError(
                f"CVssWriter::{api} is not legal in On{ctx.event.value}",
                state=ctx.event.value, call=api,
                legal=[f"On{e.value}" for e in sorted(events)])
        if same_thread and threading.get_ident() != ctx.thread_id:
            raise VssBadStateError(
                f"CVssWriter::{api} must be called on the thread that runs the handler; marshal "
                "errors from worker threads back to it", state=ctx.event.value, call=api)
        return ctx

    def _session(self, api: str, events: frozenset[WriterEvent] | None = None) -> SessionInfo:
        ctx = self._context(api, events=events)
        if ctx.session is None:
            raise VssBadStateError(
                f"CVssWriter::{api} is not meaningful in On{ctx.event.value} (no session)",
                state=ctx.event.value, call=api)
        return ctx.session

    def set_writer_failure(self, hresult: int) -> None:
        """``SetWriterFailure``: report why this event failed (a ``VSS_E_WRITERERROR_*`` code).

        Not in ``OnIdentify``; only on the handler's thread (rule 19).  Accepts
        INCONSISTENTSNAPSHOT, NONRETRYABLE, OUTOFRESOURCES, RETRYABLE and TIMEOUT.
        """
        self._set_failure("SetWriterFailure", hresult, hr.S_OK, "", CLASSIC_FAILURES)

    def set_writer_failure_ex(self, hresult: int, application_hresult: int = hr.S_FALSE,
                              application_message: str | None = None) -> None:
        """``CVssWriterEx2::SetWriterFailureEx``: also an application HRESULT and message."""
        self._set_failure("SetWriterFailureEx", hresult, application_hresult,
                          application_message or "", EX_FAILURES)

    def _set_failure(self, api: str, code: int, app_code: int, message: str,
                     allowed: frozenset[int]) -> None:
        ctx = self._context(api, same_thread=True)
        if ctx.event == WriterEvent.IDENTIFY:
            raise VssBadStateError(
                f"{api} must not be called from OnIdentify: return False to fail Identify",
                state=ctx.event.value, call=api)
        code = hr.to_unsigned(code)
        if not isinstance(message, str):
            raise TypeError(f"application_message must be a str, not {type(message).__name__}")
        if code not in allowed:
            raise VssInvalidArgumentError(
                f"hresult={hr.name_of(code)} is not a code {api} accepts; use one of "
                + ", ".join(sorted(hr.name_of(c) for c in allowed)))
        ctx.failure = WriterFailure(code, hr.to_unsigned(app_code), message)

    def get_session_id(self) -> UUID:
        """``CVssWriterEx2::GetSessionId`` (on the handler's thread)."""
        self._context("GetSessionId", same_thread=True)
        return self._session("GetSessionId").session_id

    def is_writer_shutting_down(self) -> bool:
        """``CVssWriterEx2::IsWriterShuttingDown``."""
        return self._context("IsWriterShuttingDown").shutting_down

    def get_backup_type(self) -> BackupType:
        """``GetBackupType``: the type the requester set with ``SetBackupState``.

        A type the writer's backup schema does not support is reported as ``FULL`` (rule 32).
        """
        return self._session("GetBackupType").backup_type

    def get_restore_type(self) -> RestoreType:
        """``GetRestoreType``: ``UNDEFINED`` is reported as ``BY_COPY``, as writers treat it."""
        rtype = self._session("GetRestoreType").restore_type
        return RestoreType.BY_COPY if rtype == RestoreType.UNDEFINED else rtype

    def get_context(self) -> int:
        """``GetContext``: the snapshot context of the current operation."""
        return self._session("GetContext").context

    def get_current_level(self) -> ApplicationLevel:
        """``GetCurrentLevel``: this writer's application level."""
        self._context("GetCurrentLevel")
        return ApplicationLevel(self.level)

    def are_components_selected(self) -> bool:
        """``AreComponentsSelected``: True in component mode."""
        return self._session("AreComponentsSelected").component_mode

    def is_bootable_system_state_backed_up(self) -> bool:
        """``IsBootableSystemStateBackedUp``."""
        return self._session("IsBootableSystemStateBackedUp").bootable_system_state

    def is_partial_file_support_enabled(self) -> bool:
        """``IsPartialFileSupportEnabled``."""
        return self._session("IsPartialFileSupportEnabled").partial_file_support

    def get_current_volume_array(self) -> list[str]:
        """``GetCurrentVolumeArray``: original names of the volumes in the current set."""
        return list(self._session("GetCurrentVolumeArray", _BACKUP_EVENTS).volume_names)

    def get_current_volume_count(self) -> int:
        """``GetCurrentVolumeCount``."""
        return len(self.get_current_volume_array())

    def get_current_snapshot_set_id(self) -> UUID:
        """``GetCurrentSnapshotSetId``: reliable in backup handlers up to PostSnapshot.

        Not after ``OnPostSnapshot`` returns and not in ``OnBackupShutdown`` (rule 18).
        """
        return self._session("GetCurrentSnapshotSetId", _SET_ID_EVENTS).snapshot_set_id

    snapshot_set_id = get_current_snapshot_set_id

    def is_path_affected(self, path: str) -> bool:
        """``IsPathAffected``: True if ``path`` lies on a volume of the current snapshot set."""
        if any(ch in path for ch in "*?"):
            raise VssInvalidArgumentError(f"path={path!r}: IsPathAffected takes no wildcards")
        return self._session("IsPathAffected", _BACKUP_EVENTS).path_affected(path)

    def shadow_copy_fs(self, volume: str) -> SimFS:
        """The file system of ``volume``'s shadow copy, as a writer reaches it by opening paths
        under the device name.  Only in PostSnapshot; writable only while the copy is being
        auto-recovered (the context allows it), read-only otherwise.  (vsssim extension.)

        Paths on it start with the device name, as on Windows (a ``C:\\`` path reaches the
        live volume, not the copy)::

            device = self.get_snapshot_device_name("C:\\\\")
            shadow = self.shadow_copy_fs("C:\\\\")
            shadow.write_file(device + "\\\\MyDb\\\\data.mdb", recovered_bytes)
        """
        session = self._session("GetSnapshotDeviceName",
                                frozenset({WriterEvent.POST_SNAPSHOT}))
        return session.snapshot_fs(volume)

    def get_snapshot_device_name(self, volume: str) -> str:
        """``GetSnapshotDeviceName``: the shadow copy device of ``volume``; only in PostSnapshot.

        ``VSS_E_OBJECT_NOT_FOUND`` if the volume is not in the set.
        """
        session = self._session("GetSnapshotDeviceName",
                                frozenset({WriterEvent.POST_SNAPSHOT}))
        return session.snapshot_device_name(volume)
