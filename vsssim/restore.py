"""The canonical restore of ``VssSystem.restore``: the documented sequence around the file copy.

The sequence is the one of the reference (R0..R9): ``InitializeForRestore`` with the saved Backup
Components Document, ``GatherWriterMetadata`` (still needed, rule 33), selection of the components
explicitly added at backup whose writers run now (``SetSelectedForRestore``, subcomponents,
options, new targets), ``PreRestore``, re-reading the components (writers may have set restore
targets or directed targets), the file copy, ``SetFileRestoreStatus`` per component,
``PostRestore``, writer status, release.

Where each file set goes follows the writer's restore method (from the *stored* metadata), the
restore target the writer set in PreRestore, its alternate location mappings, the requester's new
targets and the writer's directed targets (reference §8.7):

======================================  ==========================================================
``RESTORE_IF_NOT_THERE``                only if none of the set's files exists (else the mapping,
                                        and only if nothing exists there either)
``RESTORE_IF_CAN_REPLACE``              only if every existing file can be replaced (not held by a
                                        running application), else the mapping if there is one
``STOP_RESTORE_START``                  stop the service, restore, start it, then PostRestore
``RESTORE_STOP_START``                  restore, PostRestore, then stop and start the service
``RESTORE_TO_ALTERNATE_LOCATION``       always the alternate location mapping (none: writer error)
``RESTORE_AT_REBOOT``                   staged now, moved into place at the next ``reboot()``
``RESTORE_AT_REBOOT_IF_CANNOT_REPLACE`` now if all can be replaced, else everything at reboot
``CUSTOM``                              the caller's procedure (``custom=``); none: not restored
``UNDEFINED``                           a writer error (``SetRestoreMethod`` is mandatory): not
                                        restored
======================================  ==========================================================

Byte ranges (reference §8.7, R7): a partial file (``AddPartialFile``) has only its saved ranges
written back, at their offsets, into the file that is at its destination, which must exist (a
vsssim choice: the reference is silent, and a file made of the ranges and zeros would be corrupt);
the bytes outside the ranges stay the live file's.  A ranges file is restored before the partial
file it describes, and ``SetRangesFilePath`` is called when it went somewhere else.  A directed
target (``AddDirectedTarget``) writes the bytes of each source range (every byte of it must be
among the bytes the backup holds, in one saved range or in several that together cover it) at
its paired destination range, into the destination file (created if missing; empty range lists:
the whole file).  ``RestoredFile.route`` and ``.ranges`` say, per file, why it went where it
went and what was written; a staged (at reboot) partial file is the current file with the
ranges in it.

Safety: every destination is computed and checked before anything is written: an absolute path on
a volume of this machine, below the root of its file set (or of the mapping, new target or
directed target), with names the file system accepts (no ``..``, no reserved device names, no
drive switches).  Every file is read back from the medium and checked against the manifest's
hash first.  A component whose files cannot all be written ends ``FAILED`` (some written) or
``NONE`` (nothing written), and the result says which and why.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from vsssim import hresult as hr
from vsssim.components import check_directed_ranges
from vsssim.constants import (
    FileRestoreStatus,
    RestoreMethod,
    RestoreTarget,
    WriterState,
)
from vsssim.documents import (
    BcdComponent,
    DirectedTarget,
    RestoreSubcomponent,
    WmdComponent,
    WriterMetadata,
    WriterStatus,
    restore_set,
)
from vsssim.documents.ranges import format_ranges, parse_ranges
from vsssim.errors import (
    VssAccessDeniedError,
    VssError,
    VssInsufficientStorageError,
    VssInvalidArgumentError,
    VssObjectNotFoundError,
)
from vsssim.medium import BackupMedium, ManifestFile
from vsssim.trace import EventKind, Trace

if TYPE_CHECKING:
    from vsssim.backup import BackupResult
    from vsssim.requester import BackupComponents
    from vsssim.system import VssSystem

__all__ = ["ComponentRestore", "RestoreResult", "RestoredFile", "run_restore"]

STAGING_DIR = "$VssRestore"
_NOW, _REBOOT = "now", "at reboot"


@dataclass(frozen=True)
class RestoredFile:
    """One file written back (or staged for the next reboot).

    ``route`` says why it went to ``destination`` (``"original location"``, ``"alternate
    location"``, ``"new target"``, ``"directed targets"``); ``ranges`` lists the
    ``"offset:length,..."`` byte ranges written into the file that was there (a partial file,
    or a directed target with ranges), ``""`` when the whole file was written; ``size`` is the
    number of bytes written.
    """

    component: str
    source: str
    destination: str
    size: int
    when: str = _NOW
    route: str = "original location"
    ranges: str = ""


#: How one file is written: why it goes where it goes, and the pieces written into the file
#: that is there ((offset in the file, offset in the saved bytes, length), None: the whole
#: file replaces it); ``must_exist``: a partial file's ranges need the rest of the file;
#: ``ranges``: the ranges ``RestoredFile.ranges`` reports, when not those of the pieces (a
#: directed target's destination ranges, whose bytes may come in several pieces).
class _How(NamedTuple):
    route: str
    pieces: tuple[tuple[int, int, int], ...] | None = None
    must_exist: bool = False
    ranges: str | None = None


@dataclass
class ComponentRestore:
    """The outcome for one explicitly selected component (and its set).

    ``destination`` says where its files went: one of the routes of :class:`RestoredFile`
    (or ``"at reboot"``) when all went the same way, else ``"mixed: "`` and the routes taken
    (directed targets for some files, the original location for the others); each file's
    ``route`` says which.
    """

    writer: str
    component: str
    method: RestoreMethod
    target: RestoreTarget
    status: FileRestoreStatus = FileRestoreStatus.UNDEFINED
    destination: str = "original location"
    files: list[RestoredFile] = field(default_factory=list)
    message: str = ""
    with_writer: bool = True


@dataclass
class RestoreResult:
    """What ``VssSystem.restore`` did.

    ``handler_exceptions`` are the exceptions writer handlers raised (each recorded as the
    writer's failure), with their tracebacks from the handler down, as in
    :attr:`vsssim.backup.BackupResult.handler_exceptions`.
    """

    succeeded: bool
    components: list[ComponentRestore] = field(default_factory=list)
    writer_status: list[WriterStatus] = field(default_factory=list)
    trace: Trace = field(default_factory=Trace)
    pending_reboot: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""
    handler_exceptions: list[Exception] = field(default_factory=list)

    @property
    def files(self) -> list[RestoredFile]:
        """Every file written or staged."""
        return [f for c in self.components for f in c.files]

    def component(self, name: str) -> ComponentRestore:
        """The outcome of a component, by full path (``"KvStore"``, ``"Set\\\\Member"``)."""
        for c in self.components:
            if c.component.lower() == name.lower():
                return c
        raise KeyError(name)

    def summary(self) -> str:
        """A few lines for people."""
        lines = [f"restore {'succeeded' if self.succeeded else 'FAILED'}"
                 + (f": {self.error}" if self.error else "")]
        for c in self.components:
            lines.append(f"{c.writer} / {c.component}: {c.status.name} ({c.method.name}, "
                         f"{c.destination}, {len(c.files)} files)"
                         + (f" - {c.message}" if c.message else ""))
        if self.pending_reboot:
            lines.append(f"{len(self.pending_reboot)} file(s) will be moved into place at the "
                         "next reboot")
        for e in self.trace.filter(name="HandlerRaised"):
            lines.append(f"writer {e.source}: {e.detail}")
        return "\n".join(lines)


@dataclass
class _Plan:
    """Everything about one component's restore, decided before anything is written."""

    writer_id: UUID
    instance_name: str
    label: str
    bcd: BcdComponent
    wmd: WriterMetadata
    files: list[tuple[ManifestFile, str]]  # (file, destination)
    directories: list[str]
    outcome: ComponentRestore
    when: str = _NOW
    mapped_sets: list[tuple[str, str, bool, str]] = field(default_factory=list)
    how: list[_How] = field(default_factory=list)  # one per entry of files
    ranges_moved: list[tuple[int, str]] = field(default_factory=list)  # SetRangesFilePath


def _fold(path: str) -> str:
    return path.rstrip("\\").lower()


def _join(root: str, rel: str) -> str:
    return root.rstrip("\\") + ("\\" + rel if rel else "")


def _check_destination(system: VssSystem, dest: str, root: str, what: str) -> None:
    """A destination must lie below ``root``, on a volume, with names simfs accepts."""
    from vsssim.storage._simfs_paths import validate_name

    if any(p in ("..", ".") for p in dest.replace("/", "\\").split("\\")) or \
            ":" in dest[2:] or "/" in dest:
        raise VssInvalidArgumentError(f"{what}: {dest!r} is not a safe path")
    if not (_fold(dest) == _fold(root) or dest.lower().startswith(_fold(root) + "\\")):
        raise VssInvalidArgumentError(f"{what}: {dest!r} is outside {root!r}")
    vol = system.volume_of_path(dest)
    if vol is None:
        raise VssObjectNotFoundError(f"{what}: {dest!r} is not on a volume of this machine")
    rest = dest[len(vol.name):] if dest.lower().startswith(vol.name.lower()) else \
        dest[len(vol.guid_path):]
    for name in [n for n in rest.split("\\") if n]:
        try:
            validate_name(name)
        except ValueError as exc:
            raise VssInvalidArgumentError(f"{what}: {dest!r}: {exc}") from None


def _fs_for(system: VssSystem, path: str) -> Any:
    vol = system.volume_of_path(path)
    if vol is None:
        raise VssObjectNotFoundError(f"{path!r} is not on a volume of this machine")
    fs = getattr(vol.device, "fs", None)
    if fs is None:
        raise VssObjectNotFoundError(f"{vol.name} has no file system")
    return fs


_COMPONENT_KEYS = "component names ('Writer Name:path', a component path, or a writer name)"


def _check_restore_arguments(medium: BackupMedium, subcomponents: object, new_targets: object,
                             restore_options: object, additional_restores: object,
                             custom: object) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The restore's options name what the backup holds, with the right types (before any
    VSS call): a key that matches nothing would otherwise be ignored without a word.  Returns
    ``subcomponents`` and ``restore_options`` keyed by the one component each key picks, as
    ``"Writer Name:path"`` (:func:`component_for`)."""
    if not isinstance(additional_restores, bool):
        raise TypeError(f"additional_restores must be a bool, not "
                        f"{type(additional_restores).__name__}")
    if custom is not None and not callable(custom):
        raise TypeError(f"custom must be a function (component, files, system) -> bool, not "
                        f"{custom!r}")
    held = medium.component_names()
    file_sets = sorted({f.path for f in medium.manifest.file_sets})
    # The keys _select looks up: file set paths with or without their trailing backslash (the
    # component keys are resolved to "Writer Name:path" below).
    by_file_set = set(file_sets) | {p.rstrip("\\") for p in file_sets}
    by_component: dict[str, dict[str, Any]] = {"subcomponents": {}, "restore_options": {}}
    for arg, value, what in (
            ("subcomponents", subcomponents, _COMPONENT_KEYS),
            ("restore_options", restore_options, _COMPONENT_KEYS),
            ("new_targets", new_targets, "file set paths")):
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise TypeError(f"{arg} maps {what} to values, not {type(value).__name__}")
        if arg == "new_targets":
            unknown = [k for k in value if k not in by_file_set]
            if unknown:
                raise VssObjectNotFoundError(
                    f"{arg}=: the backup has no file set path {', '.join(map(repr, unknown))} "
                    f"(it has {', '.join(map(repr, file_sets)) or 'none'})")
        else:
            picked: dict[str, str] = {}  # "Writer Name:path" -> the key that picked it
            for key in value:
                name = component_for(arg, key, held)
                if name in picked:
                    raise ValueError(
                        f"{arg}=: the keys {picked[name]!r} and {key!r} both name {name!r}: "
                        "give each component once")
                picked[name] = key
                by_component[arg][name] = value[key]
        for key, item in value.items():
            if arg == "subcomponents":
                if not isinstance(item, list | tuple) or not all(isinstance(x, str)
                                                                 for x in item):
                    raise TypeError(f"subcomponents[{key!r}] is a list of member paths, not "
                                    f"{item!r}")
            elif not isinstance(item, str):
                raise TypeError(f"{arg}[{key!r}] must be a str, not {type(item).__name__}")
    return by_component["subcomponents"], by_component["restore_options"]


def run_restore(
    system: VssSystem,
    source: BackupResult | str | os.PathLike[str],
    *,
    components: Iterable[str] | None = None,
    subcomponents: dict[str, list[str]] | None = None,
    new_targets: dict[str, str] | None = None,
    restore_options: dict[str, str] | None = None,
    additional_restores: bool = False,
    custom: Callable[[ComponentRestore, list[tuple[ManifestFile, bytes]], VssSystem], bool]
    | None = None,
) -> RestoreResult:
    """Implementation of :meth:`VssSystem.restore` (see the module docstring)."""
    from vsssim.backup import BackupResult

    if not isinstance(source, BackupResult | str | os.PathLike):
        raise TypeError(f"restore() takes a BackupResult or a backup directory, not "
                        f"{type(source).__name__}")
    directory = source.target_dir if isinstance(source, BackupResult) else source
    if directory is None:
        if isinstance(source, BackupResult) and not source.succeeded:
            raise VssInvalidArgumentError(
                f"the backup did not succeed ({hr.name_of(source.hresult)}"
                + (f": {source.error}" if source.error else "")
                + "), so it wrote no backup directory to restore: restore a backup whose "
                "result has succeeded=True")
        raise VssInvalidArgumentError("the backup result has no backup directory (copy_files "
                                      "was False)")
    if isinstance(components, (str, bytes)):
        raise TypeError(f"components is a list of names, not {components!r}")
    medium = BackupMedium(directory)  # refuses a damaged or hostile directory before anything
    members, options = _check_restore_arguments(medium, subcomponents, new_targets,
                                                restore_options, additional_restores, custom)
    start = system.trace[-1].seq if len(system.trace) else 0
    given = list(components) if components is not None else None
    wanted = [w.lower() for w in given] if given is not None else None
    if given:
        held = medium.component_names()
        unknown = [w for w in given if not picked_by(w, held)]
        if unknown:
            raise VssObjectNotFoundError(
                f"components=: the backup holds nothing named {', '.join(map(repr, unknown))} "
                f"(it holds {', '.join(map(repr, held)) or 'no components'}; name a writer, a "
                "component path, or 'Writer Name:path')")
        for arg, keyed in (("subcomponents", members), ("restore_options", options)):
            left_out = [key for key in keyed if selectors([key]).isdisjoint(wanted or ())]
            if left_out:
                raise ValueError(
                    f"{arg}= names {', '.join(map(repr, left_out))}, which components= does "
                    "not select: add it to components= or drop the key")
    result = RestoreResult(succeeded=False)
    bc = system.create_backup_components(async_mode="immediate")
    try:
        bc.initialize_for_restore(medium.components_xml)
        bc.gather_writer_metadata().result()
        plans = _select(system, bc, medium, wanted, members, new_targets or {}, options,
                        additional_restores, result)
        bc.pre_restore().result()
        bc.gather_writer_status().result()
        failed_pre = {s.writer_id: s.failure for s in bc.writer_status
                      if s.state == WriterState.FAILED_AT_PRE_RESTORE}
        views = {(str(v.get_writer_info()[1]), c.logical_path.lower(),
                  c.component_name.lower()): c
                 for v in bc.get_writer_components() for c in v}
        replace_failed: set[UUID] = set()
        services_after: list[Any] = []
        for plan in plans:
            out = plan.outcome
            view = views.get((str(plan.writer_id), plan.bcd.logical_path.lower(),
                              plan.bcd.component_name.lower()))
            if plan.writer_id in failed_pre:
                # Nothing is copied for a writer that failed PreRestore; the requester still
                # reports VSS_RS_NONE for each of its selected components (reference R7).
                out.status = FileRestoreStatus.NONE
                out.message = _pre_restore_failure(system, start, plan,
                                                   failed_pre[plan.writer_id], view)
            else:
                if view is not None:
                    out.target = view.get_restore_target()
                try:
                    _route(system, plan, view)
                    _execute(system, medium, plan, custom, services_after, replace_failed)
                except VssError as exc:
                    if out.status == FileRestoreStatus.UNDEFINED:
                        out.status = FileRestoreStatus.FAILED if out.files else \
                            FileRestoreStatus.NONE
                    out.message = f"{out.message}; {exc.message}" if out.message else exc.message
                if out.status == FileRestoreStatus.NONE and plan.outcome.method in (
                        RestoreMethod.RESTORE_IF_NOT_THERE,
                        RestoreMethod.RESTORE_IF_CAN_REPLACE):
                    replace_failed.add(plan.writer_id)
            if out.with_writer:
                bc.set_file_restore_status(plan.writer_id, plan.bcd.component_type,
                                           plan.bcd.logical_path, plan.bcd.component_name,
                                           out.status)
                for path, spec, recursive, dest in plan.mapped_sets:
                    bc.add_alternative_location_mapping(
                        plan.writer_id, plan.bcd.component_type, plan.bcd.logical_path,
                        plan.bcd.component_name, path, spec, recursive, dest)
                for index, dest in plan.ranges_moved:  # a ranges file restored elsewhere
                    bc.set_ranges_file_path(plan.writer_id, plan.bcd.component_type,
                                            plan.bcd.logical_path, plan.bcd.component_name,
                                            index, dest)
            result.components.append(out)
        bc.post_restore(replace_failed=replace_failed).wait()
        for app in services_after:  # RESTORE_STOP_START: after PostRestore
            _service(system, app, "ServiceStop", app.stop)
            _service(system, app, "ServiceStart", app.start)
        bc.gather_writer_status().result()
        result.writer_status = bc.writer_status
        result.pending_reboot = [(f.source, f.destination) for c in result.components
                                 for f in c.files if f.when == _REBOOT]
        result.succeeded = all(c.status == FileRestoreStatus.ALL for c in result.components)
        if not result.succeeded and not result.error:
            result.error = "some components were not (completely) restored"
        return result
    except VssError as exc:
        result.error = str(exc)
        return result
    finally:
        result.handler_exceptions = list(bc._session.handler_exceptions)
        if bc.state.value != "Released":
            bc.release()
        result.trace = system.trace.since(start)


def _pre_restore_failure(system: VssSystem, start: int, plan: _Plan, failure: int,
                         view: Any) -> str:
    """Why nothing of ``plan`` was restored: its writer failed PreRestore.  Says with what
    (``SetWriterFailure``), the writer's ``SetPreRestoreFailureMsg`` for the component and, if
    the handler raised, the exception."""
    parts = [f"the writer failed PreRestore ({hr.name_of(failure)}): nothing restored"]
    message = view.get_pre_restore_failure_msg() if view is not None else ""
    if message:
        parts.append(f"its message: {message}")
    for e in system.trace.since(start).filter(name="HandlerRaised"):
        if e.source in (plan.label, f"{plan.label} ({plan.instance_name})") \
                and e.detail.startswith("OnPreRestore"):
            parts.append(e.detail)
    return "; ".join(parts)


def selectors(names: Iterable[str]) -> set[str]:
    """Every lowercased ``components=`` entry that picks one of ``names`` (``"Writer:path"``,
    as :meth:`BackupMedium.component_names` gives them): the writer name, the path, or both."""
    out: set[str] = set()
    for name in names:
        writer, _, path = name.partition(":")
        out |= {writer.lower(), path.lower(), name.lower()}
    return out


def picked_by(selector: str, names: Iterable[str]) -> list[str]:
    """The entries of ``names`` (``"Writer:path"``, as :meth:`BackupMedium.component_names`
    gives them) that the selector picks, each once, in order: ``"Writer Name"`` picks all of
    the writer's components, a component path (``"Instances\\\\Sales"``) the components with
    that path, ``"Writer Name:path"`` one.  Case-insensitive, like ``components=``."""
    wanted = selector.lower()
    return list(dict.fromkeys(n for n in names if wanted in selectors([n])))


def component_for(arg: str, key: object, held: list[str]) -> str:
    """The one component of ``held`` that a key of ``arg`` (``subcomponents=``,
    ``restore_options=``) names, in any form ``components=`` takes: ``VSS_E_OBJECT_NOT_FOUND``
    if it names none, ``ValueError`` if it names several (the writer name of a writer with
    several components, a path that two writers declare)."""
    if not isinstance(key, str):
        raise TypeError(f"{arg}= keys are component names (str), not {type(key).__name__}")
    matches = picked_by(key, held)
    if not matches:
        raise VssObjectNotFoundError(
            f"{arg}=: the backup holds no component named {key!r} (it holds "
            f"{', '.join(map(repr, held)) or 'no components'}; a key is a component path, "
            "'Writer Name:path', or a writer name if the writer has one component)")
    if len(matches) > 1:
        raise ValueError(
            f"{arg}=: the key {key!r} is ambiguous: it names {len(matches)} components of the "
            f"backup ({', '.join(map(repr, matches))}); use one of these as the key")
    return matches[0]


def _select(system: VssSystem, bc: BackupComponents, medium: BackupMedium,
            wanted: list[str] | None, subcomponents: dict[str, list[str]],
            new_targets: dict[str, str], options: dict[str, str], additional: bool,
            result: RestoreResult) -> list[_Plan]:
    """Pick the components, tell VSS (selection, subcomponents, options, new targets)."""
    plans = []
    backed_up = {(c.writer_id, c.logical_path.lower(), c.name.lower()): c
                 for c in medium.manifest.components}
    running = {str(w.writer_id) for w in system.writers}
    for entry in medium.document.writers:
        wmd = medium.metadata_for(str(entry.writer_id), entry.instance_name)
        if wmd is None:
            raise VssObjectNotFoundError(
                f"the backup has no stored metadata for writer {{{entry.writer_id}}}: a VSS "
                "restore needs it")
        label = wmd.identity.writer_name
        for comp in entry.components:
            key = (str(entry.writer_id), comp.logical_path.lower(), comp.component_name.lower())
            info = backed_up[key]  # the medium checked that document and manifest agree
            name = comp.full_path
            if wanted is not None and selectors([f"{label}:{name}"]).isdisjoint(wanted):
                continue
            method = wmd.restore_method.method if wmd.restore_method else RestoreMethod.UNDEFINED
            outcome = ComponentRestore(label, name, method, RestoreTarget.ORIGINAL)
            if not info.succeeded or not comp.backup_succeeded:
                outcome.status = FileRestoreStatus.NONE
                outcome.message = "its backup did not succeed"
                result.components.append(outcome)
                continue
            with_writer = str(entry.writer_id) in running
            outcome.with_writer = with_writer
            subs = list(subcomponents.get(f"{label}:{name}", []))
            if with_writer:
                bc.set_selected_for_restore(entry.writer_id, comp.component_type,
                                            comp.logical_path, comp.component_name, True)
                for sub in subs:
                    lp, _, sn = sub.rpartition("\\")
                    bc.add_restore_subcomponent(entry.writer_id, comp.component_type,
                                                comp.logical_path, comp.component_name, lp, sn)
                if f"{label}:{name}" in options:
                    bc.set_restore_options(entry.writer_id, comp.component_type,
                                           comp.logical_path, comp.component_name,
                                           options[f"{label}:{name}"])
                if additional:
                    bc.set_additional_restores(entry.writer_id, comp.component_type,
                                               comp.logical_path, comp.component_name, True)
            else:
                outcome.message = "its writer is not running: restored without writer " \
                                  "participation"
            plan = _plan(system, medium, entry.writer_id, entry.instance_name, label, comp,
                         wmd, subs, outcome)
            for fs in [f for f in medium.manifest.file_sets
                       if f.component == name and f.writer_id == str(entry.writer_id)]:
                target = new_targets.get(fs.path) or new_targets.get(fs.path.rstrip("\\"))
                if target is not None and with_writer:
                    bc.add_new_target(entry.writer_id, comp.component_type, comp.logical_path,
                                      comp.component_name, fs.path, fs.filespec, fs.recursive,
                                      target)
            plans.append(plan)
    return plans


def _plan(system: VssSystem, medium: BackupMedium, writer_id: UUID, instance_name: str,
          label: str, comp: BcdComponent, wmd: WriterMetadata, subs: list[str],
          outcome: ComponentRestore) -> _Plan:
    try:
        defining = wmd.component(comp.logical_path, comp.component_name)
    except VssObjectNotFoundError:
        raise VssObjectNotFoundError(
            f"{comp.full_path!r} is not in the writer's stored metadata: the documents do not "
            "match") from None
    named = [RestoreSubcomponent(logical_path=s.rpartition("\\")[0],
                                 component_name=s.rpartition("\\")[2]) for s in subs]
    members: list[WmdComponent] = restore_set(wmd, defining, named)
    member_paths = {m.full_path.lower() for m in members}
    files = [f for f in medium.manifest.files
             if f.writer_id == str(writer_id) and f.instance_name == instance_name
             and f.component == comp.full_path and f.member.lower() in member_paths]
    directories = [
        _join(fs.path, d) for fs in medium.manifest.file_sets
        if fs.writer_id == str(writer_id) and fs.component == comp.full_path
        and fs.member.lower() in member_paths for d in fs.directories]
    return _Plan(writer_id, instance_name, label, comp, wmd,
                 [(f, f.path) for f in files], directories, outcome)


def _mapping_for(wmd: WriterMetadata, f: ManifestFile) -> str | None:
    key = (_fold(f.set_path), f.set_filespec.lower(), f.set_recursive)
    for m in wmd.alternate_location_mappings:
        if (_fold(m.path), m.filespec.lower(), m.recursive) == key:
            return m.alternate_location
    return None


def _route(system: VssSystem, plan: _Plan, view: Any) -> None:
    """Decide every destination (restore target, mappings, new and directed targets) and check
    them all before anything is written."""
    out = plan.outcome
    target = out.target
    method = out.method
    if method == RestoreMethod.RESTORE_AT_REBOOT and target in (RestoreTarget.ALTERNATE,
                                                                 RestoreTarget.DIRECTED):
        # "Restore targets cannot change AT_REBOOT restores" (no VSS runs at reboot, reference
        # §8.7): the files are staged for their original places whatever the writer asked.
        out.message = (f"its restore target {target.name} was ignored: restore targets cannot "
                       "change a RESTORE_AT_REBOOT restore")
        system.tracer.emit("requester", plan.label, EventKind.NOTE, "RestoreTargetIgnored",
                           f"{out.component}: {out.message}")
        target = RestoreTarget.ORIGINAL
    use_alternate = target == RestoreTarget.ALTERNATE or (
        method == RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION
        and target != RestoreTarget.ORIGINAL_LOCATION)
    new = {(_fold(t.path), t.filespec.lower(), t.recursive): t.destination
           for t in (view.get_new_targets() if view is not None else [])}
    directed: dict[tuple[str, str], list[DirectedTarget]] = {}
    for d in (view.get_directed_targets() if view is not None else []):
        directed.setdefault((_fold(d.source_path), d.source_filename.lower()), []).append(d)
    routed: list[tuple[ManifestFile, str]] = []
    how: list[_How] = []
    # A ranges file is restored before the partially backed-up file (reference R7).
    for f, _default in sorted(plan.files, key=lambda e: e[0].ranges_file_of is None):
        set_key = (_fold(f.set_path), f.set_filespec.lower(), f.set_recursive)
        route = "original location"
        if set_key in new:
            root = new[set_key]
            route = "new target"
        elif target == RestoreTarget.DIRECTED and directed:
            parent, _, name = f.path.rpartition("\\")
            targets = directed.get((_fold(parent), name.lower()))
            root = f.set_path
            if targets is not None:
                for d in targets:
                    dest = _join(d.destination_path, d.destination_filename)
                    _check_destination(system, dest, d.destination_path,
                                       f"directed {f.path!r}")
                    routed.append((f, dest))
                    how.append(_directed_how(f, d))
                continue
        elif use_alternate:
            mapped = _mapping_for(plan.wmd, f)
            if mapped is None:
                raise VssObjectNotFoundError(
                    f"{f.path!r} has no alternate location mapping, but the restore "
                    f"{'target' if target == RestoreTarget.ALTERNATE else 'method'} requires "
                    "one (a writer error)")
            root = mapped
            route = "alternate location"
            _note_mapping(plan, f, mapped)
        else:
            root = f.set_path
        dest = _join(root, f.rel)
        _check_destination(system, dest, root, f"file {f.path!r}")
        routed.append((f, dest))
        how.append(_partial_how(f, route))
    plan.files = routed
    plan.how = how
    _summarise_routes(plan)
    for d in plan.directories:
        _check_destination(system, d, d, "directory")


def _summarise_routes(plan: _Plan) -> None:
    """``ComponentRestore.destination``: the one route all files took, or ``"mixed: ..."``."""
    routes = sorted({h.route for h in plan.how})
    if len(routes) == 1:
        plan.outcome.destination = routes[0]
    elif routes:
        plan.outcome.destination = "mixed: " + ", ".join(routes)


def _saved_ranges(f: ManifestFile) -> list[tuple[int, int]]:
    """The byte ranges of the original file that the backup holds (all of it if whole)."""
    return parse_ranges(f.ranges) if f.ranges else [(0, f.size)] if f.size else []


def _partial_how(f: ManifestFile, route: str) -> _How:
    """A file restored where it belongs: whole, or (a partial file) its saved ranges written
    back at their offsets into the file that is there, which must exist (reference §8.7)."""
    if not f.ranges:
        return _How(route)
    pieces, at = [], 0
    for offset, length in parse_ranges(f.ranges):
        pieces.append((offset, at, length))
        at += length
    return _How(route, tuple(pieces), must_exist=True)


def _directed_how(f: ManifestFile, d: DirectedTarget) -> _How:
    """``AddDirectedTarget``: each source range of the backed-up file (every byte of it must
    be among the saved bytes, in one saved range or in several that together cover it) goes
    to the destination range paired with it; no ranges: the whole file (a partial file: its
    saved ranges, at their offsets)."""
    pairs = check_directed_ranges(d.source_ranges, d.destination_ranges)
    if not pairs:
        whole = _partial_how(f, "directed targets")
        return whole._replace(must_exist=False)
    saved = _SavedBytes(_saved_ranges(f))
    pieces: list[tuple[int, int, int]] = []
    for (src, length), (dst, _n) in pairs:
        served = saved.serve(src, length)
        if served is None:
            raise VssInvalidArgumentError(
                f"directed target of {f.path!r}: source range {src}:{length} is not among the "
                f"bytes the backup holds ({f.ranges or f'0:{f.size}'})")
        pieces.extend((dst + offset - src, at, n) for offset, at, n in served)
    return _How("directed targets", tuple(pieces),
                ranges=format_ranges(dst for _src, dst in pairs))


class _SavedBytes:
    """Where the bytes of the original file are in the saved bytes of a backed-up file (its
    saved ranges, one after the other), to serve a directed target's source ranges."""

    def __init__(self, saved: list[tuple[int, int]]) -> None:
        spans, at = [], 0
        for offset, length in saved:
            spans.append((offset, offset + length, at - offset))
            at += length
        spans.sort(key=lambda span: span[0])
        #: The saved ranges' offsets in the file, ascending; for each, of the ranges starting
        #: at or before it, the end of the one reaching furthest and, for a byte of it, what
        #: to add to its offset in the file to find it in the saved bytes.
        self.starts: list[int] = []
        self.furthest: list[tuple[int, int]] = []
        for offset, end, shift in spans:
            if not self.furthest or end > self.furthest[-1][0]:
                self.furthest.append((end, shift))
            else:
                self.furthest.append(self.furthest[-1])
            self.starts.append(offset)

    def serve(self, src: int, length: int) -> list[tuple[int, int, int]] | None:
        """The pieces (offset in the file, offset in the saved bytes, length) that hold bytes
        ``src`` to ``src + length`` of the file, each from the saved range reaching furthest;
        None if some byte of them was not saved."""
        pieces: list[tuple[int, int, int]] = []
        here, end = src, src + length
        while here < end:
            i = bisect_right(self.starts, here) - 1
            if i < 0 or self.furthest[i][0] <= here:
                return None  # no saved range starting at or before ``here`` reaches it
            stop, shift = min(self.furthest[i][0], end), self.furthest[i][1]
            if pieces and pieces[-1][1] + pieces[-1][2] == here + shift:
                # Adjacent in the saved bytes too (saved "0:4,4:4"): one piece.
                offset, at, n = pieces[-1]
                pieces[-1] = (offset, at, n + stop - here)
            else:
                pieces.append((here, here + shift, stop - here))
            here = stop
        return pieces


def _note_mapping(plan: _Plan, f: ManifestFile, dest: str) -> None:
    entry = (f.set_path, f.set_filespec, f.set_recursive, dest)
    if entry not in plan.mapped_sets:
        plan.mapped_sets.append(entry)


def _locked(system: VssSystem) -> set[str]:
    locked: set[str] = set()
    for app in system.applications:
        for path in app.locked_files():
            locked.add(_fold(path))
    return locked


def _replaceable(system: VssSystem, plan: _Plan) -> bool:
    locked = _locked(system)
    return not any(_fold(dest) in locked and _fs_for(system, dest).exists(dest)
                   for _, dest in plan.files)


def _use_mappings(system: VssSystem, plan: _Plan) -> bool:
    """Send every file of the plan to its alternate location mapping (False, nothing changed,
    if a file set has none)."""
    routed = []
    for f, _dest in plan.files:
        mapped = _mapping_for(plan.wmd, f)
        if mapped is None:
            return False
        dest = _join(mapped, f.rel)
        _check_destination(system, dest, mapped, f"file {f.path!r}")
        routed.append((f, dest))
    plan.files = routed
    plan.how = [h._replace(route="alternate location") for h in plan.how]
    for f, _dest in routed:
        _note_mapping(plan, f, str(_mapping_for(plan.wmd, f)))
    plan.outcome.destination = "alternate location"
    return True


def _execute(system: VssSystem, medium: BackupMedium, plan: _Plan,
             custom: Callable[..., bool] | None, services_after: list[Any],
             replace_failed: set[UUID]) -> None:
    out = plan.outcome
    method = out.method
    blobs = {id(f): medium.read(f) for f, _dest in plan.files}  # hashes checked first
    service_apps = _service_apps(system, plan)
    if method == RestoreMethod.UNDEFINED:
        out.status = FileRestoreStatus.NONE
        out.message = ("the writer declared no restore method (its OnIdentify must call "
                       "set_restore_method, SetRestoreMethod): a writer error, nothing restored")
        return
    if method == RestoreMethod.CUSTOM:
        if custom is None:
            out.status = FileRestoreStatus.NONE
            out.message = ("the writer uses a custom restore method: pass custom= with its "
                           "procedure")
            return
        ok = custom(out, [(f, blobs[id(f)]) for f, _d in plan.files], system)
        out.status = FileRestoreStatus.ALL if ok else FileRestoreStatus.FAILED
        return
    at_reboot = method == RestoreMethod.RESTORE_AT_REBOOT or (
        method == RestoreMethod.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE
        and not _replaceable(system, plan))
    original = out.destination == "original location"
    if method == RestoreMethod.RESTORE_IF_NOT_THERE:
        if _existing(system, plan) and original:
            _use_mappings(system, plan)  # with a mapping: there, if nothing exists there
        found = _existing(system, plan)
        if found:
            out.status = FileRestoreStatus.NONE
            out.message = f"restore-if-not-there: {found[0]} already exists"
            return
    elif (method == RestoreMethod.RESTORE_IF_CAN_REPLACE and not _replaceable(system, plan)
          and not (original and _use_mappings(system, plan))):
        out.status = FileRestoreStatus.NONE
        out.message = ("restore-if-can-replace: files are in use by a running application "
                       "and there is no alternate location")
        replace_failed.add(plan.writer_id)
        return
    _check_partial_destinations(system, plan)
    if method in _SERVICE_METHODS and not service_apps:
        _no_service(system, plan)
    if method == RestoreMethod.STOP_RESTORE_START:
        for app in service_apps:
            _service(system, app, "ServiceStop", app.stop)
    elif method == RestoreMethod.RESTORE_STOP_START:
        services_after.extend(a for a in service_apps if a not in services_after)
    data = [(f, dest, blobs[id(f)]) for f, dest in plan.files]
    try:
        if at_reboot:
            _stage(system, plan, data)
        else:
            _write(system, plan, data)
    finally:
        if method == RestoreMethod.STOP_RESTORE_START:
            for app in service_apps:
                _service(system, app, "ServiceStart", app.start)


def _check_partial_destinations(system: VssSystem, plan: _Plan) -> None:
    """Before anything is written: the saved ranges of a partial file go into the file that is
    there, so it must exist (a vsssim choice, the reference is silent: a file made of the
    ranges and zeros would be a corrupt file reported as restored)."""
    for (f, dest), how in zip(plan.files, plan.how, strict=True):
        if how.must_exist and not _fs_for(system, dest).is_file(dest):
            raise VssObjectNotFoundError(
                f"{dest}: the backup holds only byte ranges of {f.path} ({f.ranges}), which are "
                "written into the file that is there, and there is none: restore a full backup "
                "of it first")


def _put(system: VssSystem, dest: str, blob: bytes, how: _How) -> int:
    """Write ``blob`` (whole, or its pieces at their offsets into the file that is there,
    created if missing) to ``dest``; returns the number of bytes written."""
    fs = _fs_for(system, dest)
    if how.pieces is None:
        fs.write_file(dest, blob, create_dirs=True)
        return len(blob)
    if not fs.exists(dest):
        parent = dest.rpartition("\\")[0]
        if parent and not fs.is_dir(parent):
            fs.makedirs(parent, exist_ok=True)
    with fs.open(dest, "r+b" if fs.exists(dest) else "x+b") as handle:
        for offset, at, length in how.pieces:
            handle.seek(offset)
            handle.write(blob[at:at + length])
    return sum(length for _o, _a, length in how.pieces)


def _merged(system: VssSystem, dest: str, blob: bytes, how: _How) -> bytes:
    """What ``dest`` holds once ``blob`` is written as ``how`` says (for staging at reboot:
    a partial file is staged whole, the current file with the saved ranges in it)."""
    if how.pieces is None:
        return blob
    fs = _fs_for(system, dest)
    data = bytearray(fs.read_file(dest) if fs.is_file(dest) else b"")
    for offset, at, length in how.pieces:
        if len(data) < offset:
            data.extend(bytes(offset - len(data)))
        data[offset:offset + length] = blob[at:at + length]
    return bytes(data)


def _ranges_of(how: _How) -> str:
    if how.ranges is not None:
        return how.ranges
    return format_ranges((o, n) for o, _a, n in how.pieces) if how.pieces is not None else ""


def _note_ranges_file(plan: _Plan, f: ManifestFile, dest: str) -> None:
    """A ranges file restored somewhere else than where it was: ``SetRangesFilePath``."""
    if f.ranges_file_of is not None and _fold(dest) != _fold(f.path):
        plan.ranges_moved.append((f.ranges_file_of, dest))


def _existing(system: VssSystem, plan: _Plan) -> list[str]:
    return [dest for _f, dest in plan.files if _fs_for(system, dest).exists(dest)]


def _write(system: VssSystem, plan: _Plan, data: list[tuple[ManifestFile, str, bytes]]) -> None:
    out = plan.outcome
    locked = _locked(system)
    # The file sets' (empty) directories go back where they were when files do too: also
    # when directed targets send some files elsewhere (a "mixed: ..." destination).
    routes = {how.route for how in plan.how}
    if not routes or "original location" in routes:
        for d in plan.directories:
            _fs_for(system, d).makedirs(d, exist_ok=True)
    for (f, dest, blob), how in zip(data, plan.how, strict=True):
        if _fold(dest) in locked:
            raise VssAccessDeniedError(f"{dest} is in use by a running application")
        try:
            size = _put(system, dest, blob, how)
        except VssInsufficientStorageError:
            out.status = FileRestoreStatus.FAILED if out.files else FileRestoreStatus.NONE
            raise
        system.clock.sleep(size / system.options.costs.copy_rate)
        ranges = _ranges_of(how)
        out.files.append(RestoredFile(out.component, f.target, dest, size, route=how.route,
                                      ranges=ranges))
        _note_ranges_file(plan, f, dest)
        if ranges:
            system.tracer.emit("requester", dest.split("\\")[0] + "\\", EventKind.COPY,
                               "RestoreRanges", f"{dest} ({ranges}: {size} bytes)", size=size)
        else:
            system.tracer.emit("requester", dest.split("\\")[0] + "\\", EventKind.COPY,
                               "RestoreFile", f"{dest} ({size} bytes)", size=size)
    out.status = FileRestoreStatus.ALL


def _stage(system: VssSystem, plan: _Plan, data: list[tuple[ManifestFile, str, bytes]]) -> None:
    """``MoveFileEx(..., MOVEFILE_DELAY_UNTIL_REBOOT)``: write the files next to their
    destination's volume root and have the next boot move them into place."""
    out = plan.outcome
    for (f, dest, saved), how in zip(data, plan.how, strict=True):
        blob = _merged(system, dest, saved, how)
        _note_ranges_file(plan, f, dest)
        vol = system.volume_of_path(dest)
        if vol is None:
            raise VssObjectNotFoundError(f"{dest} is not on a volume")
        name = dest.rsplit("\\", 1)[-1]
        staged = f"{vol.name}{STAGING_DIR}\\{len(system.pending_renames)}-{name}"
        fs = _fs_for(system, staged)
        fs.write_file(staged, blob, create_dirs=True)
        system.schedule_rename_at_reboot(staged, dest)
        out.files.append(RestoredFile(out.component, staged, dest, len(blob), _REBOOT,
                                      route=how.route))
        system.tracer.emit("requester", vol.name, EventKind.COPY, "StageForReboot",
                           f"{dest} (staged as {staged})")
    out.status = FileRestoreStatus.ALL
    out.destination = "at reboot"


def _service_apps(system: VssSystem, plan: _Plan) -> list[Any]:
    method = plan.wmd.restore_method
    service = method.service if method is not None else ""
    return [a for a in system.applications
            if service and getattr(a, "service", None) == service]


_SERVICE_METHODS = (RestoreMethod.STOP_RESTORE_START, RestoreMethod.RESTORE_STOP_START)


def _no_service(system: VssSystem, plan: _Plan) -> None:
    """A stop/start restore method whose service no application here runs: nothing to stop or
    start, which the trace (a ``ServiceNotFound`` note) and the component's message say."""
    info = plan.wmd.restore_method
    service = info.service if info is not None else ""
    when = ("before the copy or started after it"
            if plan.outcome.method == RestoreMethod.STOP_RESTORE_START
            else "or started after PostRestore")
    if service:
        message = (f"{plan.outcome.method.name} names service {service!r}, but no application "
                   f"on this machine runs that service: it was not stopped {when}")
    else:
        message = (f"{plan.outcome.method.name} names no service (SetRestoreMethod's service "
                   f"is empty): nothing was stopped {when}")
    system.tracer.emit("requester", service or plan.label, EventKind.NOTE, "ServiceNotFound",
                       message)
    if not plan.outcome.message:
        plan.outcome.message = message


def _service(system: VssSystem, app: Any, name: str, action: Callable[[], None]) -> None:
    system.tracer.emit("requester", app.name, EventKind.APP, name,
                       f"{'stop' if name == 'ServiceStop' else 'start'} service {app.service}")
    action()

