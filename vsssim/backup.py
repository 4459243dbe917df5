"""The canonical backup of ``VssSystem.backup``: the documented sequence, then the file copy.

The sequence is the one of the reference (B0..B19): create the requester object, initialize,
gather writer metadata, set the backup state, select components (every required one, every
top-level selectable one, of every writer with files on the chosen volumes), start the set and
add the volumes the selection touches, PrepareForBackup, DoSnapshotSet, check writer status,
build the file list *from the shadow copies* (file specs expanded, exclusions applied on the
default path, alternate paths read instead of the normal ones), copy, SetBackupSucceeded per
component, save the Backup Components Document and every writer's metadata with the files,
BackupComplete, writer status again, release.

A backup directory holds::

    backup_components.xml          the BCD (SaveAsXML)
    writers/<n>.xml                each writer's metadata (IVssExamineWriterMetadata::SaveAsXML)
    files/<volume>/<path>          the files, read from the shadow copies (of a partial file,
                                   only its ranges, one after the other)
    manifest.json                  backup state the BCD cannot give back, file list, hashes
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from vsssim import hresult as hr
from vsssim.clock import filetime
from vsssim.constants import (
    BackupType,
    FileSpecBackupType,
    SnapshotContext,
    VolumeSnapshotAttributes,
)
from vsssim.coordinator import effective_backup_type
from vsssim.documents import (
    BackupComponentsDocument,
    ComponentKind,
    DifferencedFile,
    FileDescriptor,
    PartialFile,
    WmdComponent,
    WriterMetadata,
    WriterStatus,
    full_path,
    is_ancestor,
    kind_of,
    set_members,
)
from vsssim.documents._fields import enum_argument
from vsssim.documents.ranges import (
    format_ranges,
    is_ranges_file_path,
    parse_ranges,
    parse_ranges_file,
)
from vsssim.errors import (
    VssError,
    VssInvalidArgumentError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
)
from vsssim.medium import MANIFEST_FORMAT
from vsssim.storage._fileio import make_dirs, write_bytes
from vsssim.trace import EventKind, Trace

if TYPE_CHECKING:
    from vsssim.requester import BackupComponents
    from vsssim.system import VssSystem

__all__ = ["BackedUpFile", "BackedUpFileSet", "BackupResult", "run_backup", "shadow_path"]

_A = VolumeSnapshotAttributes
# Plain ints, as the flag tests below use them (``IntFlag & int`` is a Python call).
_NO_WRITERS = int(_A.NO_WRITERS)
_FULL_REQUIRED = int(FileSpecBackupType.FULL_BACKUP_REQUIRED)
_BACKUP_REQUIRED = {
    BackupType.FULL: _FULL_REQUIRED,
    BackupType.COPY: _FULL_REQUIRED,
    BackupType.DIFFERENTIAL: int(FileSpecBackupType.DIFFERENTIAL_BACKUP_REQUIRED),
    BackupType.INCREMENTAL: int(FileSpecBackupType.INCREMENTAL_BACKUP_REQUIRED),
    BackupType.LOG: int(FileSpecBackupType.LOG_BACKUP_REQUIRED),
}


@dataclass(frozen=True)
class BackedUpFile:
    """One file copied from a shadow copy.

    ``component`` is the explicitly added component (the BCD entry), ``member`` the component
    whose file set holds the file (itself or an implicitly included member of its set);
    ``set_path``/``set_filespec``/``set_recursive`` identify that file set, ``rel`` the file's
    path below the set's root; ``path`` is its default (original) path, ``target`` where it is
    in the backup directory.

    A partial file (``AddPartialFile``) has ``partial_file``, its index among the component's
    partial files, ``ranges``, the ``"offset:length,..."`` list of the bytes kept (``target``
    holds them one after the other: ``size`` is their total), and ``file_size``, the size of
    the whole file on the shadow copy.  The ranges file a writer named instead of a range list
    is kept as a whole file with ``ranges_file_of`` set to that index.  A partial file that
    no file spec of its component's file sets matches (it is still under a file set path), or
    a differenced file outside them, has its own path (or the differenced file spec) as its
    file set.  ``ranges == ""``: the whole file.
    """

    writer: str
    writer_id: str
    instance_name: str
    component: str
    member: str
    set_path: str
    set_filespec: str
    set_recursive: bool
    rel: str
    path: str
    snapshot_path: str
    target: str
    size: int
    sha256: str
    ranges: str = ""
    file_size: int | None = None
    partial_file: int | None = None
    ranges_file_of: int | None = None


@dataclass(frozen=True)
class BackedUpFileSet:
    """A file set that was backed up, with the directories below its root (a recursive set's
    empty directories are recreated on restore, rule 28)."""

    writer_id: str
    instance_name: str
    component: str
    member: str
    path: str
    filespec: str
    recursive: bool
    directories: tuple[str, ...] = ()


@dataclass
class BackupResult:
    """What ``VssSystem.backup`` did: outcome, trace, writer status, documents and files.

    ``downtime`` is what VSS exists to minimise: per application, the seconds it was suspended
    by its writer (Freeze to Thaw); ``freeze_windows`` the same per writer, and ``hold_time``
    how long the kernel held writes during the commit, all on the system clock.
    ``writer_metadata_xml`` (file name -> XML) is filled when files are copied.
    ``live_reads`` counts reads of the live volumes while files were copied: always 0, the copy
    reads only the shadow copies.  ``component_names`` are the components added, as
    ``"Writer Name:logical\\path\\name"`` (what ``restore(components=...)`` takes; the same
    as :meth:`vsssim.medium.BackupMedium.component_names` of the backup directory).
    ``attempts`` counts the whole backups run (more than one when ``retries`` let a retryable
    failure start the backup again); ``trace``, ``downtime``, ``freeze_windows`` and
    ``handler_exceptions`` cover them all, the rest is the last attempt's.
    ``partial_file_support`` is what the backup passed to ``SetBackupState`` (writers may
    then call ``AddPartialFile``, and only their ranges were copied: see
    :class:`BackedUpFile`).
    ``handler_exceptions`` are the exceptions writer handlers raised (VSS recorded each as the
    writer's failure), with their tracebacks from the handler down (``raise
    result.handler_exceptions[0]`` or ``traceback.print_exception(...)`` shows where); each has a
    note naming the writer and the handler.  :meth:`summary` says where each was raised.
    """

    succeeded: bool
    hresult: int
    backup_type: BackupType
    context: int
    snapshot_set_id: UUID | None = None
    trace: Trace = field(default_factory=Trace)
    writer_status: list[WriterStatus] = field(default_factory=list)
    components_xml: str = ""
    writer_metadata_xml: dict[str, str] = field(default_factory=dict)
    files: list[BackedUpFile] = field(default_factory=list)
    file_sets: list[BackedUpFileSet] = field(default_factory=list)
    target_dir: Path | None = None
    freeze_windows: dict[str, float] = field(default_factory=dict)
    downtime: dict[str, float] = field(default_factory=dict)
    hold_time: float | None = None
    failed_components: list[str] = field(default_factory=list)
    live_reads: int = 0
    error: str = ""
    component_names: list[str] = field(default_factory=list)
    attempts: int = 1
    handler_exceptions: list[Exception] = field(default_factory=list)
    partial_file_support: bool = False

    def summary(self) -> str:
        """A few lines for people: outcome, writers, downtime, hold, files."""
        lines = [
            f"backup {'succeeded' if self.succeeded else 'FAILED'}: "
            f"{self.backup_type.name} backup, {hr.name_of(self.hresult)}"
            + (f" ({self.error})" if self.error else "")
            + (f", after {self.attempts} attempts" if self.attempts > 1 else ""),
        ]
        if self.snapshot_set_id:
            lines.append(f"shadow copy set {{{self.snapshot_set_id}}}")
        for st in self.writer_status:
            failure = f", {hr.name_of(st.failure)}" if st.failure else ""
            lines.append(f"writer {st.writer_name}: [{int(st.state)}] {st.state.name}{failure}")
        for name, secs in self.downtime.items():
            lines.append(f"application {name}: suspended {secs:.3f} s (from Freeze until resumed)")
        for name, secs in self.freeze_windows.items():
            lines.append(f"writer {name}: freeze window {secs:.3f} s")
        if self.hold_time is not None:
            lines.append(f"flush-and-hold: writes held {self.hold_time:.3f} s")
        size = sum(f.size for f in self.files)
        lines.append(f"{len(self.files)} files, {size} bytes copied from the shadow copies"
                     + (f" into {self.target_dir}" if self.target_dir else ""))
        if self.failed_components:
            lines.append("failed components: " + ", ".join(self.failed_components))
        # Why a component failed while its files were copied (a partial file's range past
        # the end of the file, ...): the writer's status does not say, the trace does.
        lines.extend(dict.fromkeys(f"copy failed: {e.detail}"
                                   for e in self.trace.filter(name="CopyFailed")))
        for e in self.trace.filter(name="HandlerRaised"):
            lines.append(f"writer {e.source}: {e.detail}")
        incomplete = dict.fromkeys(f"writer {e.source}: incomplete metadata: {e.detail}"
                                   for e in self.trace.filter(name="IdentifyIncomplete"))
        lines.extend(incomplete)
        lines.extend(dict.fromkeys(e.detail for e in
                                   self.trace.filter(name="DependencyNotSelected")))
        return "\n".join(lines)


def shadow_path(path: str, volume_root: str, device_object: str) -> str:
    """Translate a path on a volume to the same path on its shadow copy device (rule 14)."""
    rest = path[len(volume_root):] if path.lower().startswith(volume_root.lower()) else ""
    return device_object + "\\" + rest.lstrip("\\")


_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def _volume_stem(name: str) -> str:
    return _NOT_ALNUM.sub("_", name).strip("_") or "volume"


@dataclass
class _Selected:
    instance_id: UUID
    writer_id: UUID
    label: str
    metadata: WriterMetadata
    component: WmdComponent


def _label(wmd: WriterMetadata) -> str:
    """How the trace names the writer of ``wmd``: its name, and its instance name if any."""
    ident = wmd.identity
    return ident.writer_name + (f" ({ident.instance_name})" if ident.instance_name else "")


def _names_writer(name: str, label: str) -> bool:
    """Whether ``name`` (of a ``components=`` entry) names the writer shown as ``label``: its
    writer name, or its writer name and instance name as ``"Name (instance)"``."""
    name, label = name.lower(), label.lower()
    return name == label or label.startswith(name + " (")


def _matches_filter(label: str, comp: WmdComponent, wanted: list[str]) -> bool:
    for w in wanted:
        name, _, path = w.partition(":")
        if not _names_writer(name, label):
            continue
        if not path or path.lower() == comp.full_path.lower():
            return True
    return False


class _UnknownComponent(VssObjectNotFoundError):
    """A ``components=`` entry names a component its writer does not declare: bad input,
    raised to the caller rather than reported as a failed backup."""


def _check_writer_names(system: VssSystem, wanted: list[str]) -> None:
    labels = [r.label for r in system.coordinator.writers]
    for w in wanted:
        name = w.partition(":")[0]
        if not any(_names_writer(name, label) for label in labels):
            raise VssObjectNotFoundError(
                f"components=: no subscribed writer is named {name!r} (writers: "
                f"{', '.join(repr(x) for x in labels) or 'none'}); write \"Writer Name\" or "
                "\"Writer Name:logical\\path\\component\"")


def _check_target(target: Path) -> None:
    """A backup directory is new, or an existing directory that holds no backup yet: writing
    a second backup over a first one would leave the first one's files among the second's."""
    if not target.exists():
        return  # a new directory (the usual case): no backup in it
    if not target.is_dir():
        raise ValueError(f"target_dir {str(target)!r} exists and is not a directory")
    if (target / "manifest.json").exists():
        raise VssObjectAlreadyExistsError(
            f"target_dir {str(target)!r} already holds a backup; give each backup its own "
            "directory")


def _check_component_paths(gathered: list[tuple[UUID, WriterMetadata]],
                           wanted: list[str]) -> None:
    """Every ``"Writer:path"`` entry names a component of that writer, if it answered Identify
    (a writer that failed Identify is left out of the backup, rule 2, not refused here)."""
    for w in wanted:
        name, _, path = w.partition(":")
        if not path:
            continue
        for _instance, wmd in gathered:
            label = _label(wmd)
            if _names_writer(name, label) and not any(
                    c.full_path.lower() == path.lower() for c in wmd.components):
                raise _UnknownComponent(
                    f"components=: writer {label!r} declares no component {path!r} (its "
                    f"components: {', '.join(repr(c.full_path) for c in wmd.components)})")


def _select(system: VssSystem, gathered: list[tuple[UUID, WriterMetadata]],
            volumes: set[str] | None, wanted: list[str] | None) -> list[_Selected]:
    """The canonical selection: per writer, required + top-level selectable components with
    files on the chosen volumes (or the ones named); a writer with any component chosen gets all
    its required components too."""
    out: list[_Selected] = []
    for instance_id, wmd in gathered:
        label = _label(wmd)

        def on_volumes(comp: WmdComponent, wmd: WriterMetadata = wmd) -> bool:
            if volumes is None:
                return True
            for member in set_members(wmd, comp):
                for fd in member.all_files:
                    vol = system.volume_of_path(fd.path)
                    if vol is not None and vol.name in volumes:
                        return True
            return False

        chosen: list[WmdComponent] = []
        required: list[WmdComponent] = []  # (each component's kind is computed once)
        for comp in wmd.components:
            kind = kind_of(wmd, comp)
            if kind is ComponentKind.REQUIRED:
                required.append(comp)
            if wanted is not None:
                if _matches_filter(label, comp, wanted) and kind is not \
                        ComponentKind.NONSELECTABLE_SUBCOMPONENT:
                    chosen.append(comp)
            elif kind in (ComponentKind.REQUIRED, ComponentKind.SELECTABLE) and on_volumes(comp):
                chosen.append(comp)
        if chosen:
            keys = {c.key for c in chosen}
            chosen += [c for c in required if c.key not in keys]
            # Drop selectable subcomponents whose selectable ancestor is also chosen (rule 8;
            # a component alone has no other one to descend from).
            if len(chosen) > 1:
                chosen = [c for c in chosen
                          if not any(a is not c and a.selectable and is_ancestor(a, c)
                                     for a in chosen)]
        out.extend([_Selected(instance_id, wmd.identity.writer_id, label, wmd, c)
                    for c in chosen])
    return out


def _unselected_dependencies(selected: list[_Selected],
                             gathered: list[tuple[UUID, WriterMetadata]],
                             disabled: set[UUID] | None = None) -> list[str]:
    """What a selected component (or a member of its set) depends on (``AddComponentDependency``)
    that the backup does not include.  VSS does not enforce dependencies: the requester should
    back up the target too (reference §8.5), so the facade says which it left out.
    ``disabled``: the writer classes ``exclude_writers=`` left out (they answered no Identify)."""
    included = {(s.writer_id, m.key) for s in selected for m in set_members(s.metadata,
                                                                            s.component)}
    names = {wmd.identity.writer_id: wmd for _instance, wmd in gathered}
    out: list[str] = []
    for s in selected:
        for member in set_members(s.metadata, s.component):
            for dep in member.dependencies:
                writer_id, path, name = dep.key
                if (writer_id, (path, name)) in included:
                    continue
                target = full_path(dep.logical_path, dep.component_name)
                owner = names.get(dep.writer_id)
                if dep.is_remote:
                    where = ("is on another machine: back it up there (with your own agent) "
                             "before this backup completes")
                elif owner is None and disabled and dep.writer_id in disabled:
                    target = f"{{{dep.writer_id}}}:{target}"
                    where = "is not selected: its writer is left out by exclude_writers="
                elif owner is None:
                    target = f"{{{dep.writer_id}}}:{target}"
                    where = ("is not selected: no writer of that class id answered Identify "
                             "(is its application running?)")
                else:
                    target = f"{owner.identity.writer_name}:{target}"
                    declared = any(c.key == (path, name) for c in owner.components)
                    where = ("is not selected: add it to components=" if declared else
                             "is not selected, and its writer declares no such component")
                out.append(f"dependency not backed up: {s.metadata.identity.writer_name}:"
                           f"{member.full_path} depends on {target} (AddComponentDependency), "
                           f"which {where}; VSS does not enforce dependencies, the requester "
                           "backs up both (reference §8.5)")
    return list(dict.fromkeys(out))


def _volumes_of(system: VssSystem, selected: list[_Selected]) -> set[str]:
    names: set[str] = set()
    for s in selected:
        names |= component_volumes(system, s.metadata, s.component)
    return names


def component_volumes(system: VssSystem, metadata: WriterMetadata,
                      component: WmdComponent) -> set[str]:
    """The volumes that the files of a selected component (and of the members of its set) are
    on: those a component-mode backup must add to its snapshot set (reference §2 B10)."""
    names: set[str] = set()
    for member in set_members(metadata, component):
        for fd in member.all_files:
            for path in (fd.path, fd.alternate_location):
                vol = system.volume_of_path(path) if path else None
                if vol is not None:
                    names.add(vol.name)
    return names


def run_backup(system: VssSystem, *, volumes: Iterable[str] | None, backup_type: BackupType,
               target_dir: str | os.PathLike[str] | None, context: int,
               components: Iterable[str] | None, exclude_writers: Iterable[str],
               copy_files: bool, retries: int = 0, retry_wait: float = 600.0,
               partial_file_support: bool = False) -> BackupResult:
    """Implementation of :meth:`VssSystem.backup` (see the module docstring).

    With ``retries``, a backup that a retryable writer error, a transient ``DoSnapshotSet``
    error or ``VSS_E_SNAPSHOT_SET_IN_PROGRESS`` stopped is aborted, released and run again
    after ``retry_wait`` seconds on the system clock, at most ``retries`` more times
    (reference §5).  The last allowed attempt keeps what it can, like a single attempt.
    """
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"retries must be a non-negative int, not {retries!r}")
    if not isinstance(retry_wait, (int, float)) or isinstance(retry_wait, bool) \
            or not retry_wait >= 0:
        raise ValueError(f"retry_wait must be a non-negative number of seconds, not "
                         f"{retry_wait!r}")
    if not isinstance(context, int) or isinstance(context, bool):
        raise TypeError(f"context must be an int (VSS_SNAPSHOT_CONTEXT bits), not "
                        f"{type(context).__name__}")
    if not isinstance(copy_files, bool):
        raise TypeError(f"copy_files must be a bool, not {type(copy_files).__name__}")
    if not isinstance(partial_file_support, bool):
        raise TypeError(f"partial_file_support must be a bool, not "
                        f"{type(partial_file_support).__name__}")
    backup_type = enum_argument("backup_type", BackupType, backup_type)  # ValueError, not COM's
    if isinstance(volumes, (str, bytes, os.PathLike)):
        raise TypeError(_one_volume_or_path(volumes))
    start_seq = system.trace[-1].seq if len(system.trace) else 0
    wanted = list(components) if components is not None else None
    if wanted is not None:
        _check_writer_names(system, wanted)
    if target_dir is not None and copy_files:
        # (a Path is immutable: one given is checked as it is)
        _check_target(target_dir if isinstance(target_dir, Path) else Path(target_dir))
    requested = ({system.resolve_volume(v).name for v in volumes}
                 if volumes is not None else None)
    excluded = {w.lower() for w in exclude_writers}
    app_downtime_before = {a.name: a.downtime for a in system.applications}
    windows: dict[str, float] = {}
    raised: list[Exception] = []
    attempts = 0
    while True:
        attempts += 1
        result, again = _attempt(system, requested, wanted, excluded, backup_type, target_dir,
                                 context, copy_files, may_retry=attempts <= retries,
                                 partial_file_support=partial_file_support)
        for name, secs in result.freeze_windows.items():
            windows[name] = windows.get(name, 0.0) + secs
        raised += result.handler_exceptions
        if not again:
            break
        system.clock.sleep(float(retry_wait))
    result.attempts = attempts
    result.hresult = hr.as_hresult(result.hresult)  # by name, whichever path set it
    result.freeze_windows = windows
    result.handler_exceptions = raised
    for app in system.applications:
        spent = app.downtime - app_downtime_before.get(app.name, 0.0)
        if spent > 0:
            result.downtime[app.name] = spent
    result.trace = system.trace.since(start_seq)
    return result


def _one_volume_or_path(value: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """What ``backup(value)`` meant, ``value`` being one name or a path rather than a list."""
    name = os.fsdecode(value)
    head = f"volumes must be a list of volume names, not a {type(value).__name__} ({value!r})"
    if isinstance(value, os.PathLike):
        return (f"{head}: to put the backup in that directory pass backup(target_dir="
                f"{name!r}); volumes=[...] chooses the volumes")
    return (f"{head}: to back up that volume pass backup([{name!r}]); the backup's directory "
            "is the separate target_dir= keyword")


def _retryable_failure(status: list[WriterStatus]) -> int | None:
    """The first retryable writer failure in ``status`` (reference §5), if any."""
    return next((st.failure for st in status
                 if st.state.is_failed and st.failure in hr.RETRYABLE_WRITER_ERRORS), None)


def _attempt(system: VssSystem, requested: set[str] | None, wanted: list[str] | None,
             excluded: set[str], backup_type: BackupType,
             target_dir: str | os.PathLike[str] | None, context: int, copy_files: bool, *,
             may_retry: bool, partial_file_support: bool = False) -> tuple[BackupResult, bool]:
    """One whole backup (B0..B19); True with it if it stopped for a retry."""
    result = BackupResult(succeeded=False, hresult=hr.S_OK, backup_type=BackupType(backup_type),
                          context=int(context), partial_file_support=partial_file_support)
    writers_ctx = not (int(context) & _NO_WRITERS)
    bc = system.create_backup_components(async_mode="immediate")
    try:
        bc.initialize_for_backup()
        if int(context) != SnapshotContext.BACKUP:
            bc.set_context(int(context))
        selected: list[_Selected] = []
        if writers_ctx:
            classes = {r.writer_id for r in system.coordinator.writers
                       if excluded & {n.lower() for n in r.names}} if excluded else None
            if classes:
                bc.disable_writer_classes(classes)
            bc.gather_writer_metadata().result()
            bc.set_backup_state(True, False, backup_type, partial_file_support)
            if wanted is not None:
                _check_component_paths(bc.writer_metadata, wanted)
            selected = _select(system, bc.writer_metadata, requested, wanted)
            for note in _unselected_dependencies(selected, bc.writer_metadata, classes):
                system.tracer.emit("requester", "VSS", EventKind.NOTE, "DependencyNotSelected",
                                   note)
            result.component_names = [
                f"{s.metadata.identity.writer_name}:{s.component.full_path}" for s in selected]
            for s in selected:
                bc.add_component(s.instance_id, s.writer_id, s.component.component_type,
                                 s.component.logical_path, s.component.component_name)
        needed = set(requested or ()) | _volumes_of(system, selected)
        if not needed:
            needed = set(system.volumes)
        result.snapshot_set_id = bc.start_snapshot_set()
        for name in sorted(needed):
            bc.add_to_snapshot_set(name)
        if writers_ctx:
            bc.prepare_for_backup().result()
            bc.gather_writer_status().result()
        creation = bc.do_snapshot_set()
        creation.wait()
        if not creation.succeeded:
            result.hresult = creation.query_status()
            result.error = "DoSnapshotSet failed; the backup was aborted"
            bc.abort_backup()
            if writers_ctx:
                bc.gather_writer_status().result()
                result.writer_status = bc.writer_status
            return result, may_retry and (
                result.hresult in hr.TRANSIENT_CREATION_ERRORS
                or _retryable_failure(result.writer_status) is not None)
        status: list[WriterStatus] = []
        if writers_ctx:
            bc.gather_writer_status().result()
            status = bc.writer_status
        retryable = _retryable_failure(status) if may_retry else None
        if retryable is not None:
            result.hresult = retryable
            result.error = "a writer failed with a retryable error; the backup was aborted"
            result.writer_status = status
            bc.abort_backup()
            return result, True
        failed_writers = {st.instance_id for st in status if st.state.is_failed}
        if copy_files:
            if target_dir is None:
                target = Path(tempfile.mkdtemp(prefix="backup-", dir=system.root))
            else:  # (a Path is immutable: one given is kept rather than copied)
                target = target_dir if isinstance(target_dir, Path) else Path(target_dir)
                make_dirs(str(target))
            result.target_dir = target
            _copy_selected(system, bc, selected, failed_writers, str(target), result)
        for s in selected:
            ok = s.instance_id not in failed_writers and \
                s.component.full_path not in result.failed_components
            bc.set_backup_succeeded(s.instance_id, s.writer_id, s.component.component_type,
                                    s.component.logical_path, s.component.component_name, ok)
        result.components_xml = bc.save_as_xml()
        if writers_ctx and copy_files:
            chosen = {s.instance_id for s in selected}
            for n, (instance_id, wmd) in enumerate(bc.writer_metadata):
                if instance_id in chosen:
                    result.writer_metadata_xml[f"{n}.xml"] = wmd.save_as_xml()
        if result.target_dir is not None:
            _write_backup_files(system, result, selected)
        if writers_ctx:
            bc.backup_complete().result()
            bc.gather_writer_status().result()
            result.writer_status = bc.writer_status
        result.succeeded = not result.failed_components and not failed_writers
        result.hresult = hr.S_OK if result.succeeded else hr.VSS_E_WRITERERROR_NONRETRYABLE
        if failed_writers and not result.error:
            result.error = "some writers failed; their components are marked as not backed up"
        return result, False
    except _UnknownComponent as exc:
        raise VssObjectNotFoundError(exc.message) from None
    except VssError as exc:
        crash = bc._session.crash
        if crash is not None:
            # The calls made after the requester died met a released object: the crash is
            # the reason, and a dead requester tries nothing again.
            result.hresult = hr.E_UNEXPECTED
            result.error = (f"the requester crashed after {crash.after} (an injected "
                            "RequesterCrash): VSS released its object, and nothing more of "
                            "this backup ran")
            return result, False
        result.hresult = exc.hresult
        result.error = str(exc)
        return result, may_retry and exc.hresult == hr.VSS_E_SNAPSHOT_SET_IN_PROGRESS
    finally:
        session = bc._session
        ss = session.snapshot_set
        if ss is not None:
            result.hold_time = ss.hold_time
        for p in session.participants.values():
            if p.freeze_window is not None:
                result.freeze_windows[p.reg.label] = p.freeze_window
        result.handler_exceptions = list(session.handler_exceptions)
        if bc.state.value != "Released":
            bc.release()


def _copy_selected(system: VssSystem, bc: BackupComponents, selected: list[_Selected],
                   failed_writers: set[UUID], target: str, result: BackupResult) -> None:
    session = bc._session
    ss = session.snapshot_set
    if ss is None:
        return
    devices = {}
    for m in ss.members:
        device_object = m.provider.device_object(m.snapshot_id)
        devices[m.volume.guid_path] = (
            m.volume, device_object, system._mount_shadow(m.provider, m.snapshot_id, device_object))
    live_before = _live_reads(system)
    made: set[str] = set()  # directories of the target made so far
    for s in selected:
        if s.instance_id in failed_writers:
            result.failed_components.append(s.component.full_path)
            continue
        btype = effective_backup_type(session.bcd.backup_type, s.metadata.backup_schema)
        required = _BACKUP_REQUIRED.get(btype, _FULL_REQUIRED)
        try:
            extras = _extras_of(session.bcd, s)
            for member in set_members(s.metadata, s.component):
                for fds, is_log in ((member.files, False), (member.database_files, False),
                                    (member.database_log_files, True)):
                    if btype == BackupType.LOG and not is_log:
                        continue
                    for fd in fds:
                        if int(fd.backup_type_mask) & required:
                            _copy_file_set(system, s, member, fd, devices, target, result,
                                           made, extras)
            if extras is not None:
                _copy_extras(system, s, extras, devices, target, result, made)
        except VssError as exc:
            result.failed_components.append(s.component.full_path)
            system.tracer.emit("requester", s.label, EventKind.COPY, "CopyFailed",
                               f"{s.component.full_path}: {exc.message}")
    result.live_reads = _live_reads(system) - live_before


def _live_reads(system: VssSystem) -> int:
    total = 0
    for entry in system._volumes.values():  # (system.volumes: a new dict per call)
        stats = getattr(entry.volume, "stats", None)
        total += int(getattr(stats, "reads", 0) or 0)
    return total


def _in_file_set(path: str, root: str, filespec: str, recursive: bool) -> bool:
    """Whether the file ``path`` belongs to the file set ``root``, ``filespec``,
    ``recursive`` (``IVssWMFiledesc``; also an exclusion, ``AddExcludeFiles``, or a differenced
    file spec): in ``root``, or below it if recursive, with a name the spec matches.
    Case-insensitive, as ``SimFS.glob`` matches."""
    from vsssim.storage.simfs import filespec_matches

    parent, _, name = path.rstrip("\\").rpartition("\\")
    here, root = parent.lower(), root.rstrip("\\").lower()
    return (here == root or (recursive and here.startswith(root + "\\"))) and \
        filespec_matches(name, filespec)


def _excluded(wmd: WriterMetadata, default_path: str) -> bool:
    """Whether the writer excludes the file (``AddExcludeFiles``)."""
    return any(_in_file_set(default_path, ex.path, ex.filespec, ex.recursive)
               for ex in wmd.exclude_files)


def _copy_file_set(system: VssSystem, s: _Selected, member: WmdComponent, fd: FileDescriptor,
                   devices: dict[str, Any], target: str, result: BackupResult,
                   made: set[str], extras: _Extras | None = None) -> None:
    source_root = fd.alternate_location or fd.path  # the alternate path is read at backup
    default_vol = system.volume_of_path(fd.path)
    vol = system.volume_of_path(source_root) if fd.alternate_location else default_vol
    if vol is None or default_vol is None or vol.guid_path not in devices:
        raise VssObjectNotFoundError(f"{source_root} is not on a volume of the snapshot set")
    _volume, device_object, fs = devices[vol.guid_path]
    snap_root = shadow_path(source_root, vol.name if source_root.lower().startswith(
        vol.name.lower()) else vol.guid_path, device_object).rstrip("\\")
    wildcard = "*" in fd.filespec or "?" in fd.filespec
    # glob matches nothing under a missing directory: ask whether the root exists only then.
    matches = fs.glob(snap_root, fd.filespec, recursive=fd.recursive)
    if not matches:
        if not fs.is_dir(snap_root):
            if wildcard:
                return  # a wildcard may legitimately match nothing (rule 28)
            raise VssObjectNotFoundError(f"{source_root} does not exist on the shadow copy")
        if not wildcard:
            raise VssObjectNotFoundError(
                f"{source_root}\\{fd.filespec} is missing: every named file of a file set must "
                "exist at backup time (rule 28)")
    directories: list[str] = []
    if fd.recursive:
        for dirpath, _dirs, _files in fs.walk(snap_root):
            sub = dirpath[len(snap_root):].strip("\\")
            if sub:
                directories.append(sub)
    writer_id = str(s.writer_id)
    instance_name = s.metadata.identity.instance_name
    component = s.component.full_path
    member_path = member.full_path
    result.file_sets.append(BackedUpFileSet(
        writer_id, instance_name, component, member_path, fd.path, fd.filespec, fd.recursive,
        tuple(directories)))
    set_root = fd.path.rstrip("\\")
    exclusions = s.metadata.exclude_files
    files_dir = "files/" + _volume_stem(default_vol.name)  # where the files go (see _keep)
    for snap_path in matches:
        rel = snap_path[len(snap_root):].lstrip("\\")  # below the file set's root
        default_path = set_root + "\\" + rel
        where = (member_path, fd.path, fd.filespec, fd.recursive, rel)
        if extras is not None:
            key = default_path.lower()
            if key in extras.handled:
                continue  # (a partial or differenced file already dealt with)
            hit = extras.partials.get(key)
            if hit is not None:  # the writer's ranges replace the whole file (mask ignored)
                extras.handled.add(key)
                _copy_partial(system, s, extras, devices, target, result, made, hit, fs,
                              snap_path, where)
                continue
        if exclusions and _excluded(s.metadata, default_path):
            continue
        if extras is not None and extras.differenced:
            spec = _covering(extras.differenced, default_path)
            if spec is not None:
                extras.handled.add(default_path.lower())
                if not _modified_since(fs, snap_path, spec):
                    continue
        _keep(system, s, target, result, made, where, default_path, snap_path,
              fs.read_file(snap_path), files_dir=files_dir, vol=default_vol)


@dataclass
class _Extras:
    """A component's partial and differenced files, as its writer left them in the Backup
    Components Document by the end of PostSnapshot (``GetPartialFile``,
    ``GetDifferencedFile``), and the files already dealt with because of them."""

    partials: dict[str, tuple[int, PartialFile]]  # folded default path -> (index, entry)
    differenced: list[DifferencedFile]
    handled: set[str] = field(default_factory=set)  # folded default paths


def _fold(path: str) -> str:
    return path.rstrip("\\").lower()


def _extras_of(bcd: BackupComponentsDocument, s: _Selected) -> _Extras | None:
    """The partial and differenced files of ``s`` (None if it has neither: the plain copy).

    A partial file must lie at or under a file set path of the component or its set
    (reference §8.7), and be named once (a vsssim choice: the reference does not say what two
    range lists for one file mean); otherwise the component fails (a writer error)."""
    entry = next((w for w in bcd.writers if w.instance_id == s.instance_id), None)
    if entry is None:
        return None
    try:
        comp = entry.component(s.component.logical_path, s.component.component_name)
    except VssObjectNotFoundError:
        return None
    if not comp.partial_files and not comp.differenced_files:
        return None
    roots = [_fold(fd.path) for m in set_members(s.metadata, s.component) for fd in m.all_files]
    partials: dict[str, tuple[int, PartialFile]] = {}
    handled: set[str] = set()  # a ranges file is kept once, as such (not as a plain file too)
    for i, pf in enumerate(comp.partial_files):
        if is_ranges_file_path(pf.ranges):
            handled.add(pf.ranges.lower())
        path = _partial_path(pf)
        key = path.lower()
        parent = _fold(pf.path)
        if not any(parent == r or parent.startswith(r + "\\") for r in roots):
            raise VssInvalidArgumentError(
                f"partial file {path} is not at or under a file set path of "
                f"{s.component.full_path!r} (AddPartialFile, reference §8.7)")
        if key in partials:
            raise VssInvalidArgumentError(
                f"{path} was added twice as a partial file of {s.component.full_path!r}")
        partials[key] = (i, pf)
    return _Extras(partials, list(comp.differenced_files), handled)


def _partial_path(pf: PartialFile) -> str:
    """The full path of a partial file (``GetPartialFile``'s path and file name)."""
    return pf.path.rstrip("\\") + "\\" + pf.filename


def _covering(specs: list[DifferencedFile], default_path: str) -> DifferencedFile | None:
    """The first differenced file spec that covers ``default_path``, if any."""
    return next((spec for spec in specs if _in_file_set(default_path, spec.path, spec.filespec,
                                                         spec.recursive)), None)


def _modified_since(fs: Any, snap_path: str, spec: DifferencedFile) -> bool:
    """Whether a file a differenced spec covers is to be copied: modified at or after the
    spec's FILETIME, which the requester must obey; a zero time (or an LSN) lets the requester
    use its own records, and the facade keeps none, so it copies the file (reference §8.6)."""
    if spec.last_modify_time == 0:
        return True
    return filetime(fs.stat(snap_path).modified) >= spec.last_modify_time


def _locate(system: VssSystem, devices: dict[str, Any], path: str, what: str
            ) -> tuple[Any, str, Any]:
    """(volume, path on its shadow copy, the shadow copy's file system) of a default path."""
    vol = system.volume_of_path(path)
    if vol is None or vol.guid_path not in devices:
        raise VssObjectNotFoundError(f"{what} {path} is not on a volume of the snapshot set")
    _volume, device_object, fs = devices[vol.guid_path]
    root = vol.name if path.lower().startswith(vol.name.lower()) else vol.guid_path
    return vol, shadow_path(path, root, device_object), fs


def _containing_set(s: _Selected, path: str) -> tuple[str, str, str, bool, str] | None:
    """(member, set path, file spec, recursive, rel) of the first file set of ``s``'s set that
    holds ``path`` (whatever its backup type mask), or None."""
    for member in set_members(s.metadata, s.component):
        for fd in member.all_files:
            if _in_file_set(path, fd.path, fd.filespec, fd.recursive):
                return (member.full_path, fd.path, fd.filespec, fd.recursive,
                        path[len(fd.path.rstrip("\\")):].lstrip("\\"))
    return None


def _own_set(s: _Selected, path: str) -> tuple[str, str, str, bool, str]:
    """A file outside every file set: its own directory and name stand for the set."""
    parent, _, name = path.rpartition("\\")
    return s.component.full_path, parent + "\\", name, False, name


def _keep(system: VssSystem, s: _Selected, target: str, result: BackupResult,
          made: set[str], where: tuple[str, str, str, bool, str], default_path: str,
          snap_path: str, data: bytes, name: str = "CopyFile", detail: str = "", *,
          vol: Any = None, files_dir: str = "", **extra: Any) -> None:
    """Write one file (or a partial file's ranges) to the backup, at
    ``files/<volume>/<path on the volume>``, and list it.  ``vol`` and ``files_dir``: the
    volume of ``default_path`` and its ``files/<volume>``, when the caller knows them (a file
    set's loop: no volume lookup per file)."""
    if vol is None:
        vol = system.volume_of_path(default_path)
        if vol is None:
            raise VssObjectNotFoundError(f"{default_path} is not on a volume")
    on_volume = default_path[len(vol.name):] if default_path.lower().startswith(
        vol.name.lower()) else default_path[len(vol.guid_path):]
    dest_rel = "/".join([files_dir or "files/" + _volume_stem(vol.name),
                         *[p for p in on_volume.split("\\") if p and p != "."]])
    _write_file(target, dest_rel, data, made)
    member, set_path, filespec, recursive, rel = where
    result.files.append(BackedUpFile(
        writer=s.label, writer_id=str(s.writer_id),
        instance_name=s.metadata.identity.instance_name, component=s.component.full_path,
        member=member, set_path=set_path, set_filespec=filespec, set_recursive=recursive,
        rel=rel, path=default_path, snapshot_path=snap_path, target=dest_rel, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), **extra))
    system.clock.sleep(len(data) / system.options.costs.copy_rate)
    system.tracer.emit("requester", "backup medium", EventKind.COPY, name,
                       detail or f"{snap_path} ({len(data)} bytes)", size=len(data))


def _copy_partial(system: VssSystem, s: _Selected, extras: _Extras, devices: dict[str, Any],
                  target: str, result: BackupResult, made: set[str],
                  hit: tuple[int, PartialFile], fs: Any, snap_path: str,
                  where: tuple[str, str, str, bool, str]) -> None:
    """``GetPartialFile``: copy the listed ranges of one file from the shadow copy, and first
    the ranges file itself if the writer named one (the requester must keep it, §8.7)."""
    index, pf = hit
    default_path = _partial_path(pf)
    if is_ranges_file_path(pf.ranges):
        _vol, ranges_snap, ranges_fs = _locate(system, devices, pf.ranges, "the ranges file")
        if not ranges_fs.is_file(ranges_snap):
            raise VssObjectNotFoundError(f"the ranges file {pf.ranges} of partial file "
                                         f"{default_path} does not exist on the shadow copy")
        ranges_data = ranges_fs.read_file(ranges_snap)
        try:
            ranges = parse_ranges_file(ranges_data)
        except ValueError as exc:
            raise VssInvalidArgumentError(f"the ranges file {pf.ranges} of partial file "
                                          f"{default_path}: {exc}") from None
        _keep(system, s, target, result, made,
              _containing_set(s, pf.ranges) or _own_set(s, pf.ranges), pf.ranges, ranges_snap,
              ranges_data, ranges_file_of=index)
    else:
        try:
            ranges = parse_ranges(pf.ranges)
        except ValueError as exc:  # (AddPartialFile checked it: a document edited since)
            raise VssInvalidArgumentError(f"partial file {default_path}: {exc}") from None
    data = fs.read_file(snap_path)
    for offset, length in ranges:
        if offset + length > len(data):
            raise VssInvalidArgumentError(
                f"partial file {default_path}: range {offset}:{length} ends beyond the end of "
                f"the file ({len(data)} bytes on the shadow copy)")
    blob = b"".join(data[o:o + n] for o, n in ranges)
    _keep(system, s, target, result, made, where, default_path, snap_path, blob,
          "CopyPartialFile", f"{snap_path} ({len(ranges)} ranges, {len(blob)} of {len(data)} "
          "bytes)", ranges=format_ranges(ranges), file_size=len(data), partial_file=index)


def _copy_extras(system: VssSystem, s: _Selected, extras: _Extras, devices: dict[str, Any],
                 target: str, result: BackupResult, made: set[str]) -> None:
    """Partial files no copied file set held, then differenced files no file set held (both
    may lie outside the component's file sets, and override the backup type mask, §8.6)."""
    for key, hit in extras.partials.items():
        if key in extras.handled:
            continue
        extras.handled.add(key)
        path = _partial_path(hit[1])
        _vol, snap_path, fs = _locate(system, devices, path, "partial file")
        if not fs.is_file(snap_path):
            raise VssObjectNotFoundError(f"partial file {path} does not exist on the shadow copy")
        _copy_partial(system, s, extras, devices, target, result, made, hit, fs, snap_path,
                      _containing_set(s, path) or _own_set(s, path))
    for spec in extras.differenced:
        root = spec.path.rstrip("\\")
        _vol, snap_root, fs = _locate(system, devices, root, "differenced files at")
        snap_root = snap_root.rstrip("\\")
        for snap_path in fs.glob(snap_root, spec.filespec, recursive=spec.recursive):
            rel = snap_path[len(snap_root):].lstrip("\\")
            default_path = root + "\\" + rel
            key = default_path.lower()
            if key in extras.handled:
                continue
            extras.handled.add(key)
            if s.metadata.exclude_files and _excluded(s.metadata, default_path):
                continue
            if _modified_since(fs, snap_path, spec):
                _keep(system, s, target, result, made,
                      (s.component.full_path, spec.path, spec.filespec, spec.recursive, rel),
                      default_path, snap_path, fs.read_file(snap_path))


def _write_file(target: str | Path, relative: str, data: bytes, made: set[str]) -> None:
    """Write ``data`` to ``target/relative`` (a POSIX relative path), making its directory
    once per backup (``made``): string paths and no stat per file, since a backup writes
    every file of every selected component."""
    path = f"{target}/{relative}"  # (a Path has no trailing slash; relative is relative)
    parent = path.rpartition("/")[0]
    if parent not in made:
        make_dirs(parent)
        made.add(parent)
    write_bytes(path, data)


def _write_backup_files(system: VssSystem, result: BackupResult,
                        selected: list[_Selected]) -> None:
    if result.target_dir is None:
        return
    target = str(result.target_dir)
    writers_dir = f"{target}/writers"
    make_dirs(writers_dir)  # even when no writer took part
    made = {target, writers_dir}
    _write_file(target, "backup_components.xml", result.components_xml.encode(), made)
    for name, xml in result.writer_metadata_xml.items():
        _write_file(target, "writers/" + name, xml.encode(), made)
    from vsssim.medium import Manifest

    # Validated as a whole (the nested records are plain dicts: pydantic makes them models
    # without a Python call per file).
    manifest = Manifest.model_validate({
        "format": MANIFEST_FORMAT,
        "machine": system.machine_name,
        "os_version": system.os_version,
        # The requester must keep the backup state itself (reference B3).
        "backup_type": result.backup_type.name,
        "select_components": True,
        "bootable_system_state": False,
        "partial_file_support": result.partial_file_support,
        "context": result.context,
        "snapshot_set_id": str(result.snapshot_set_id) if result.snapshot_set_id else None,
        "time": system.clock.datetime().isoformat(),
        "writers": sorted(result.writer_metadata_xml),
        "components": [
            {"writer_id": str(s.writer_id), "writer": s.label,
             "logical_path": s.component.logical_path, "name": s.component.component_name,
             "type": s.component.component_type.name,
             "succeeded": s.component.full_path not in result.failed_components}
            for s in selected],
        "files": [f.__dict__ for f in result.files],
        "file_sets": [dict(fs.__dict__, directories=list(fs.directories))
                      for fs in result.file_sets],
    })
    _write_file(target, "manifest.json", manifest.model_dump_json(indent=2).encode(), made)


