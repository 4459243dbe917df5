"""``IVssComponent`` and ``IVssWriterComponents``: access to the Backup Components Document.

Writers receive a :class:`WriterComponents` in ``OnPrepareBackup``, ``OnPostSnapshot``,
``OnBackupComplete``, ``OnPreRestore`` and ``OnPostRestore``; requesters get the same view from
``BackupComponents.get_writer_components()``.  Each :class:`Component` wraps one explicitly included
component of the document and enforces who may change what, and when (reference §6.5, §7.2):

* writers may write only inside their handlers, and on the backup side only until PostSnapshot
  ends (from BackupComplete on the document is read-only, rule 15);
* some setters are tied to one event (``SetPrepareForBackupFailureMsg`` only in
  ``OnPrepareBackup``, ``SetPostSnapshotFailureMsg`` only in ``OnPostSnapshot``), to backups
  (``SetBackupStamp``, ``AddPartialFile``, ``AddDifferencedFiles...``) or to restores
  (``SetRestoreTarget``, ``AddDirectedTarget``, the restore failure messages) (rule 18);
* a view handed to a writer dies when its handler returns, and a requester's view dies at the
  next event-generating call (rule 25): using a dead view raises ``VssBadStateError``.

Violations raise :class:`~vsssim.errors.VssBadStateError` (``VSS_E_BAD_STATE``) and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID

from vsssim import hresult as hr
from vsssim._state import WriterEvent
from vsssim.constants import (
    BackupSchema,
    BackupType,
    ComponentType,
    FileRestoreStatus,
    RestoreTarget,
    RollforwardType,
)
from vsssim.documents import (
    BcdComponent,
    ComponentFailure,
    DifferencedFile,
    DirectedTarget,
    LocationMapping,
    PartialFile,
    RestoreSubcomponent,
)
from vsssim.documents import (
    WriterComponents as BcdWriterComponents,
)
from vsssim.documents.ranges import is_ranges_file_path, parse_ranges
from vsssim.errors import VssBadStateError, VssInvalidArgumentError

__all__ = ["Component", "ComponentScope", "WriterComponents"]

_BACKUP_WRITE_EVENTS = frozenset({WriterEvent.PREPARE_FOR_BACKUP, WriterEvent.POST_SNAPSHOT})
_RESTORE_METADATA_EVENTS = _BACKUP_WRITE_EVENTS | {WriterEvent.PRE_RESTORE}


@dataclass
class ComponentScope:
    """Who is looking at the document, during which event, and whether the view is still valid.

    ``event`` is the writer event being handled (None for a requester's view).  ``alive`` is
    checked on every access; the coordinator clears it when the handler returns or when the
    requester makes its next event-generating call.
    """

    writer_side: bool
    event: WriterEvent | None
    restore: bool
    partial_file_support: bool = False
    backup_type: BackupType = BackupType.UNDEFINED
    backup_schema: BackupSchema = BackupSchema.UNDEFINED
    alive: bool = True
    owner: str = ""

    def check_alive(self) -> None:
        if not self.alive:
            who = f"{self.owner}'s " if self.owner else ""
            raise VssBadStateError(
                f"this {who}IVssComponent view is no longer valid: writer views die when their "
                "handler returns, requester views at the next event-generating call; get a "
                "fresh one",
                state="stale view",
                call="IVssComponent",
            )


def _legal_events(events: frozenset[WriterEvent] | None) -> str:
    """The events a setter is legal in, for its error message (built only to raise)."""
    return ", ".join(sorted(e.value for e in events)) if events else "writer handlers"


class Component:
    """One explicitly included component of the Backup Components Document (``IVssComponent``).

    Getters work for writers and requesters alike; setters are writer-only and phase-checked.
    Properties set on a component that defines a component set apply to the whole set (rule 7).
    """

    def __init__(self, data: BcdComponent, scope: ComponentScope) -> None:
        self._data = data
        self._scope = scope

    def __repr__(self) -> str:
        return f"<Component {self._data.full_path!r} ({self._data.component_type.name})>"

    # -- checks ---------------------------------------------------------------------------
    def _read(self) -> BcdComponent:
        self._scope.check_alive()
        return self._data

    def _write(self, api: str, *, events: frozenset[WriterEvent] | None = None,
               backup: bool | None = None) -> BcdComponent:
        """Check that a writer may call ``api`` now (``backup``: True backup-only, False
        restore-only, None either)."""
        scope = self._scope
        scope.check_alive()
        if not scope.writer_side or scope.event is None:
            raise VssBadStateError(
                f"IVssComponent::{api} is for writers, inside their handlers "
                f"({_legal_events(events)}); "
                "requesters use the IVssBackupComponents methods",
                state="requester view",
                call=api,
            )
        if backup is True and scope.restore:
            raise VssBadStateError(f"IVssComponent::{api} is not legal during a restore",
                                   state=scope.event.value, call=api)
        if backup is False and not scope.restore:
            raise VssBadStateError(f"IVssComponent::{api} is legal only during a restore",
                                   state=scope.event.value, call=api)
        if events is not None and scope.event not in events:
            raise VssBadStateError(
                f"IVssComponent::{api} is not legal in On{scope.event.value}; legal in: "
                f"{_legal_events(events)}",
                state=scope.event.value,
                call=api,
                legal=[f"On{e.value}" for e in sorted(events)],
            )
        if not scope.restore and scope.event in (WriterEvent.BACKUP_COMPLETE,
                                                 WriterEvent.BACKUP_SHUTDOWN):
            raise VssBadStateError(
                f"the Backup Components Document is read-only from BackupComplete on; "
                f"IVssComponent::{api} must be called by PostSnapshot at the latest",
                state=scope.event.value,
                call=api,
            )
        return self._data

    # -- identity ---------------------------------------------------------------------------
    @property
    def logical_path(self) -> str:
        """``GetLogicalPath``."""
        return self._read().logical_path

    @property
    def component_name(self) -> str:
        """``GetComponentName``."""
        return self._read().component_name

    @property
    def component_type(self) -> ComponentType:
        """``GetComponentType``."""
        return self._read().component_type

    @property
    def full_path(self) -> str:
        """Logical path and name joined by a backslash (just the name at the root)."""
        return self._read().full_path

    def get_logical_path(self) -> str:
        """``IVssComponent::GetLogicalPath``."""
        return self.logical_path

    def get_component_name(self) -> str:
        """``IVssComponent::GetComponentName``."""
        return self.component_name

    def get_component_type(self) -> ComponentType:
        """``IVssComponent::GetComponentType``."""
        return self.component_type

    # -- backup-side getters ------------------------------------------------------------------
    def get_backup_succeeded(self) -> bool:
        """``GetBackupSucceeded``: what the requester set with ``SetBackupSucceeded``."""
        return self._read().backup_succeeded

    def get_backup_options(self) -> str:
        """``GetBackupOptions``: the requester's writer-specific option string."""
        return self._read().backup_options

    def get_backup_metadata(self) -> str:
        """``GetBackupMetadata``."""
        return self._read().backup_metadata

    def get_restore_metadata(self) -> str:
        """``GetRestoreMetadata``."""
        return self._read().restore_metadata

    def get_backup_stamp(self) -> str:
        """``GetBackupStamp``: the stamp this writer set for this backup."""
        return self._read().backup_stamp

    def get_previous_backup_stamp(self) -> str:
        """``GetPreviousBackupStamp``: the stamp of the backup an incremental builds on."""
        return self._read().previous_backup_stamp

    def get_partial_files(self) -> list[PartialFile]:
        """``GetPartialFileCount`` / ``GetPartialFile``."""
        return [p.model_copy() for p in self._read().partial_files]

    def get_differenced_files(self) -> list[DifferencedFile]:
        """``GetDifferencedFilesCount`` / ``GetDifferencedFile``."""
        return [d.model_copy() for d in self._read().differenced_files]

    def get_prepare_for_backup_failure_msg(self) -> str:
        """``IVssComponentEx::GetPrepareForBackupFailureMsg`` ("" where the SDK gives S_FALSE)."""
        return self._read().prepare_for_backup_failure_msg

    def get_post_snapshot_failure_msg(self) -> str:
        """``IVssComponentEx::GetPostSnapshotFailureMsg``."""
        return self._read().post_snapshot_failure_msg

    def get_failure(self) -> ComponentFailure | None:
        """``IVssComponentEx2::GetFailure``."""
        failure = self._read().failure
        return failure.model_copy() if failure else None

    # -- restore-side getters -----------------------------------------------------------------
    def is_selected_for_restore(self) -> bool:
        """``IsSelectedForRestore``."""
        return self._read().selected_for_restore

    def get_additional_restores(self) -> bool:
        """``GetAdditionalRestores``: True means more restores follow; do not recover yet."""
        return self._read().additional_restores

    def get_restore_options(self) -> str:
        """``GetRestoreOptions`` (parse with :func:`vsssim.documents.parse_restore_options`)."""
        return self._read().restore_options

    def get_restore_subcomponents(self) -> list[RestoreSubcomponent]:
        """``GetRestoreSubcomponentCount`` / ``GetRestoreSubcomponent``."""
        return [s.model_copy() for s in self._read().restore_subcomponents]

    def get_restore_target(self) -> RestoreTarget:
        """``GetRestoreTarget``."""
        return self._read().restore_target

    def get_new_targets(self) -> list[LocationMapping]:
        """``GetNewTargetCount`` / ``GetNewTarget``."""
        return [t.model_copy() for t in self._read().new_targets]

    def get_directed_targets(self) -> list[DirectedTarget]:
        """``GetDirectedTargetCount`` / ``GetDirectedTarget``."""
        return [t.model_copy() for t in self._read().directed_targets]

    def get_alternate_location_mappings(self) -> list[LocationMapping]:
        """``GetAlternateLocationMappingCount`` / ``GetAlternateLocationMapping``: the mappings
        the requester actually used (not the ones the writer merely offered)."""
        return [m.model_copy() for m in self._read().alternate_location_mappings]

    def get_file_restore_status(self) -> FileRestoreStatus:
        """``GetFileRestoreStatus`` (undefined for components not selected for restore)."""
        return self._read().file_restore_status

    def get_pre_restore_failure_msg(self) -> str:
        """``GetPreRestoreFailureMsg``."""
        return self._read().pre_restore_failure_msg

    def get_post_restore_failure_msg(self) -> str:
        """``GetPostRestoreFailureMsg``."""
        return self._read().post_restore_failure_msg

    def get_authoritative_restore(self) -> bool:
        """``IVssComponentEx::GetAuthoritativeRestore``."""
        return self._read().authoritative_restore

    def get_roll_forward(self) -> tuple[RollforwardType, str]:
        """``IVssComponentEx::GetRollForward``: (type, point)."""
        data = self._read()
        return data.roll_forward_type, data.roll_forward_point

    def get_restore_name(self) -> str:
        """``IVssComponentEx::GetRestoreName``."""
        return self._read().restore_name

    # -- writer setters -------------------------------------------------------------------------
    def set_backup_metadata(self, metadata: str) -> None:
        """``SetBackupMetadata``: opaque data for the writer's own restore (backup only)."""
        self._write("SetBackupMetadata", events=_BACKUP_WRITE_EVENTS, backup=True)
        self._data.backup_metadata = _text(metadata, "metadata")

    def set_restore_metadata(self, metadata: str) -> None:
        """``SetRestoreMetadata`` (PrepareForBackup, PostSnapshot or PreRestore)."""
        self._write("SetRestoreMetadata", events=_RESTORE_METADATA_EVENTS)
        self._data.restore_metadata = _text(metadata, "metadata")

    def set_backup_stamp(self, stamp: str) -> None:
        """``SetBackupStamp``: opaque stamp the requester hands back at the next backup.

        Backup only, and not in BackupComplete or BackupShutdown (typically in PostSnapshot).
        """
        self._write("SetBackupStamp", events=_BACKUP_WRITE_EVENTS, backup=True)
        self._data.backup_stamp = _text(stamp, "stamp")

    def add_partial_file(self, path: str, filename: str, ranges: str, metadata: str = "") -> None:
        """``IVssComponent::AddPartialFile``: back up only byte ranges of a file.

        Needs partial-file support (``SetBackupState(..., partial_file_support=True)``,
        ``VSS_E_BAD_STATE`` otherwise); legal in ``OnPrepareBackup`` and ``OnPostSnapshot``.
        ``ranges`` is ``"offset:length[,offset:length...]"`` (decimal or ``0x`` hexadecimal)
        or the full path of a binary ranges file (see :mod:`vsssim.documents.ranges`);
        ``filename`` is a plain name, without wildcards.  Anything else is ``E_INVALIDARG``.
        ``VssSystem.backup`` then copies only those ranges (reference §8.7).
        """
        self._write("AddPartialFile", events=_BACKUP_WRITE_EVENTS, backup=True)
        if not self._scope.partial_file_support:
            raise VssBadStateError(
                "AddPartialFile needs partial file support: the requester did not enable it in "
                "SetBackupState(..., partial_file_support=True)",
                state=str(self._scope.event), call="AddPartialFile")
        for name, value in (("path", path), ("filename", filename), ("ranges", ranges),
                            ("metadata", metadata)):
            _text(value, name)
        if not filename or any(ch in filename for ch in "*?\\"):
            raise VssInvalidArgumentError(f"filename={filename!r} must be a plain file name")
        if not is_ranges_file_path(ranges):
            try:
                parse_ranges(ranges)
            except ValueError as exc:
                raise VssInvalidArgumentError(
                    f"ranges={ranges!r}: {exc}; write \"offset:length[,offset:length...]\" or "
                    "the full path of a ranges file") from None
        self._data.partial_files.append(
            PartialFile(path=path, filename=filename, ranges=ranges, metadata=metadata))

    def add_differenced_files_by_last_modify_time(
        self, path: str, filespec: str, recursive: bool, last_modify_time: int
    ) -> None:
        """``AddDifferencedFilesByLastModifyTime`` (FILETIME in GMT; 0 = requester decides).

        Needs ``VSS_BS_LAST_MODIFY`` in the writer's schema and an incremental or differential
        backup; backup only, not in BackupComplete/BackupShutdown.
        """
        self._write("AddDifferencedFilesByLastModifyTime", events=_BACKUP_WRITE_EVENTS,
                    backup=True)
        self._check_differenced("AddDifferencedFilesByLastModifyTime")
        if last_modify_time < 0:
            raise VssInvalidArgumentError(f"last_modify_time={last_modify_time} is negative")
        self._data.differenced_files.append(DifferencedFile(
            path=path, filespec=filespec, recursive=recursive, last_modify_time=last_modify_time))

    def add_differenced_files_by_last_modify_lsn(
        self, path: str, filespec: str, recursive: bool, lsn: str
    ) -> None:
        """``AddDifferencedFilesByLastModifyLSN`` (the LSN variant; ``VSS_BS_LSN``)."""
        self._write("AddDifferencedFilesByLastModifyLSN", events=_BACKUP_WRITE_EVENTS,
                    backup=True)
        self._check_differenced("AddDifferencedFilesByLastModifyLSN")
        self._data.differenced_files.append(DifferencedFile(
            path=path, filespec=filespec, recursive=recursive, lsn=lsn))

    def _check_differenced(self, api: str) -> None:
        scope = self._scope
        if scope.backup_type not in (BackupType.INCREMENTAL, BackupType.DIFFERENTIAL):
            degraded = ""
            if scope.backup_type == BackupType.FULL and not scope.backup_schema & (
                    BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL):
                # Rule 32: a writer without the schema bit treats the backup as FULL, so the
                # requester's INCREMENTAL shows here as FULL; say why.
                degraded = (" for this writer: an incremental or differential backup is FULL "
                            "for a writer without VSS_BS_INCREMENTAL or VSS_BS_DIFFERENTIAL in "
                            "its backup schema")
            raise VssBadStateError(
                f"{api} is only meaningful in an incremental or differential backup "
                f"(this one is {scope.backup_type.name}{degraded})", state=str(scope.event),
                call=api)
        if not scope.backup_schema & (BackupSchema.LAST_MODIFY | BackupSchema.LSN):
            raise VssBadStateError(
                f"{api} needs VSS_BS_LAST_MODIFY (or VSS_BS_LSN) in the writer's backup schema",
                state=str(scope.event), call=api)

    def set_prepare_for_backup_failure_msg(self, message: str) -> None:
        """``IVssComponentEx::SetPrepareForBackupFailureMsg``: only inside ``OnPrepareBackup``."""
        self._write("SetPrepareForBackupFailureMsg",
                    events=frozenset({WriterEvent.PREPARE_FOR_BACKUP}), backup=True)
        self._data.prepare_for_backup_failure_msg = _text(message, "message")

    def set_post_snapshot_failure_msg(self, message: str) -> None:
        """``IVssComponentEx::SetPostSnapshotFailureMsg``: only inside ``OnPostSnapshot``."""
        self._write("SetPostSnapshotFailureMsg",
                    events=frozenset({WriterEvent.POST_SNAPSHOT}), backup=True)
        self._data.post_snapshot_failure_msg = _text(message, "message")

    def set_restore_target(self, target: RestoreTarget) -> None:
        """``SetRestoreTarget``: override the restore method for this component set (PreRestore)."""
        self._write("SetRestoreTarget", events=frozenset({WriterEvent.PRE_RESTORE}), backup=False)
        try:
            value = RestoreTarget(target)
        except ValueError:
            raise VssInvalidArgumentError(
                f"target={target!r} is not a VSS_RESTORE_TARGET") from None
        if value == RestoreTarget.UNDEFINED:
            raise VssInvalidArgumentError("target=VSS_RT_UNDEFINED is not a restore target")
        self._data.restore_target = value

    def add_directed_target(
        self,
        source_path: str,
        source_filename: str,
        source_ranges: str,
        destination_path: str,
        destination_filename: str,
        destination_ranges: str,
    ) -> None:
        """``IVssComponent::AddDirectedTarget``: per-file remapping; the restore target must be
        DIRECTED.

        ``VssSystem.restore`` writes the bytes of ``source_ranges`` of the backed-up file
        ``source_path\\source_filename`` at ``destination_ranges`` of
        ``destination_path\\destination_filename``, into the file that is there (created if
        missing); the two lists are ``"offset:length,..."`` strings with as many ranges, of the
        same lengths, in the same order (``E_INVALIDARG`` otherwise).  Both empty (a vsssim
        choice: the reference gives no meaning to empty lists) means the whole file.
        """
        self._write("AddDirectedTarget", events=frozenset({WriterEvent.PRE_RESTORE}),
                    backup=False)
        check_directed_ranges(source_ranges, destination_ranges)
        if self._data.restore_target != RestoreTarget.DIRECTED:
            raise VssBadStateError(
                "AddDirectedTarget needs the restore target VSS_RT_DIRECTED: call "
                "set_restore_target(RestoreTarget.DIRECTED) first",
                state=WriterEvent.PRE_RESTORE.value, call="AddDirectedTarget")
        self._data.directed_targets.append(DirectedTarget(
            source_path=source_path, source_filename=source_filename,
            source_ranges=source_ranges, destination_path=destination_path,
            destination_filename=destination_filename, destination_ranges=destination_ranges))

    def set_pre_restore_failure_msg(self, message: str) -> None:
        """``SetPreRestoreFailureMsg`` (inside ``OnPreRestore``)."""
        self._write("SetPreRestoreFailureMsg", events=frozenset({WriterEvent.PRE_RESTORE}),
                    backup=False)
        self._data.pre_restore_failure_msg = _text(message, "message")

    def set_post_restore_failure_msg(self, message: str) -> None:
        """``SetPostRestoreFailureMsg`` (inside ``OnPostRestore``; reference §12 allows it)."""
        self._write("SetPostRestoreFailureMsg", events=frozenset({WriterEvent.POST_RESTORE}),
                    backup=False)
        self._data.post_restore_failure_msg = _text(message, "message")

    def set_failure(self, hresult: int, application_hresult: int = hr.S_FALSE,
                    message: str = "") -> None:
        """``IVssComponentEx2::SetFailure``: a component-level error (for PARTIAL_FAILURE)."""
        self._write("SetFailure")
        self._data.failure = ComponentFailure(
            hresult=hr.to_unsigned(hresult),
            application_hresult=hr.to_unsigned(application_hresult),
            message=_text(message, "message"))


def check_directed_ranges(source_ranges: str, destination_ranges: str
                          ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (source, destination) range pairs of a directed target (empty: the whole file),
    or ``VssInvalidArgumentError`` if the lists are malformed or do not pair up."""
    for name, value in (("source_ranges", source_ranges),
                        ("destination_ranges", destination_ranges)):
        _text(value, name)
    if not source_ranges.strip() and not destination_ranges.strip():
        return []
    try:
        src = parse_ranges(source_ranges)
        dst = parse_ranges(destination_ranges)
    except ValueError as exc:
        raise VssInvalidArgumentError(f"directed target ranges: {exc}") from None
    if [n for _, n in src] != [n for _, n in dst]:
        raise VssInvalidArgumentError(
            f"directed target ranges: source {source_ranges!r} and destination "
            f"{destination_ranges!r} must list as many ranges, of the same lengths, in order")
    return list(zip(src, dst, strict=True))


def _text(value: str, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


class WriterComponents(Sequence[Component]):
    """``IVssWriterComponents`` / ``IVssWriterComponentsExt``: one writer's explicitly included
    components in the Backup Components Document.

    A sequence of :class:`Component`; ``get_writer_info()`` gives (instance id, class id).  Where
    Windows may pass a NULL pointer (non-component mode), vsssim passes an empty collection.
    """

    def __init__(self, entry: BcdWriterComponents | None, instance_id: UUID, writer_id: UUID,
                 scope: ComponentScope,
                 keep: Callable[[BcdComponent], bool] | None = None) -> None:
        self._instance_id = instance_id
        self._writer_id = writer_id
        self._scope = scope
        items = entry.components if entry is not None else []
        self._components = [Component(c, scope) for c in items if keep is None or keep(c)]

    def __repr__(self) -> str:
        return f"<WriterComponents {len(self._components)} of writer {self._writer_id}>"

    def __len__(self) -> int:
        self._scope.check_alive()
        return len(self._components)

    def __getitem__(self, index: int) -> Component:  # type: ignore[override]
        self._scope.check_alive()
        return self._components[index]

    def __iter__(self) -> Iterator[Component]:
        self._scope.check_alive()
        return iter(list(self._components))

    def get_component_count(self) -> int:
        """``GetComponentCount``."""
        return len(self)

    def get_component(self, index: int) -> Component:
        """``GetComponent(i)``."""
        return self[index]

    def get_writer_info(self) -> tuple[UUID, UUID]:
        """``GetWriterInfo``: (writer instance id, writer class id)."""
        self._scope.check_alive()
        return self._instance_id, self._writer_id

    def find(self, logical_path: str, component_name: str) -> Component:
        """The component with that logical path and name (case-insensitive)."""
        self._scope.check_alive()
        for c in self._components:
            if (c.logical_path.lower() == (logical_path or "").lower()
                    and c.component_name.lower() == component_name.lower()):
                return c
        from vsssim.errors import VssObjectNotFoundError

        raise VssObjectNotFoundError(
            f"no component {component_name!r} at logical path {logical_path!r} in this document")
