"""The backup medium: the directory ``VssSystem.backup`` writes and ``VssSystem.restore`` reads.

::

    backup_components.xml          the Backup Components Document (SaveAsXML)
    writers/<n>.xml                each backed-up writer's metadata (IVssExamineWriterMetadata)
    files/<volume>/<path>          the files, as read from the shadow copies (of a partial
                                   file, only its ranges, one after the other)
    manifest.json                  what the BCD cannot give back: backup state, file list,
                                   file sets and their directories, sizes and SHA-256 hashes

Reading treats the directory as hostile (it may come from anywhere).  When it is opened:

* the manifest is validated against a strict model and the XML documents go through the safe
  parser;
* every file is reached only through a path proven to lie inside the directory (no ``..``, no
  absolute paths, no symbolic links anywhere on the way) and its size and SHA-256 hash are
  checked (again when :meth:`BackupMedium.read` hands it out);
* every file's Windows path is checked: ``path`` is its file set's root joined with ``rel``, each
  name is one the file system accepts (no ``..``, no drive switch, no reserved device name), the
  name matches the file set's file spec, and the file set is one the writer's *stored* metadata
  declares for that component; alternate location mappings are checked the same way;
* the Backup Components Document, the manifest and the stored writer metadata agree (the same
  writers and components);
* a partial file's entry is the file its writer named (``AddPartialFile``, in the document), at
  or under a file set path of its component, with the same ranges (as listed there, or as its
  ranges file, which must be in the backup, holds them), every range inside the file's recorded
  size and their lengths adding up to the bytes kept; a file outside every declared file set
  must belong to a differenced file spec of the document (``AddDifferencedFiles...``).

Format 2 (this version) adds ``partial_file_support`` and, per file, ``ranges``, ``file_size``,
``partial_file`` and ``ranges_file_of``, all optional; format 1 manifests are still read.

Any problem is a :class:`MediumError` (``VSS_E_INVALID_XML_DOCUMENT``-class ``ValueError``) raised
before anything is restored.  A path with no backup at all (it does not exist, is a file, or is a
directory without ``manifest.json`` and ``backup_components.xml``) is not a damaged backup: it is
a :class:`~vsssim.errors.VssObjectNotFoundError` (``VSS_E_OBJECT_NOT_FOUND``) saying so.

What this cannot catch: a backup forged consistently (stored writer metadata that declares other
file sets, with matching files and hashes) restores where that metadata says, as it would on
Windows, where the requester also trusts the stored metadata.  Keep backups where only you write.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vsssim.documents import (
    BackupComponentsDocument,
    BcdComponent,
    PartialFile,
    WriterMetadata,
)
from vsssim.documents.ranges import is_ranges_file_path, parse_ranges, parse_ranges_file
from vsssim.errors import VssInvalidXmlDocumentError, VssObjectNotFoundError

__all__ = [
    "MANIFEST_FORMAT",
    "READABLE_FORMATS",
    "BackupMedium",
    "Manifest",
    "ManifestComponent",
    "ManifestFile",
    "ManifestFileSet",
    "MediumError",
]

MANIFEST_FORMAT = 2
#: Formats this version reads: 1 (before partial files) and 2 (adds ``partial_file_support``
#: and the ``ranges``, ``file_size``, ``partial_file`` and ``ranges_file_of`` of a file).
READABLE_FORMATS = (1, 2)
MAX_MANIFEST_BYTES = 64 * 2**20
_ROOT = re.compile(r"^(?:[A-Za-z]:\\|\\\\\?\\Volume\{[0-9A-Fa-f-]{36}\}\\)")


class MediumError(VssInvalidXmlDocumentError):
    """The backup directory is damaged or hostile (``VSS_E_INVALID_XML_DOCUMENT``); nothing was
    restored.  Also available as ``vsssim.MediumError`` and ``vsssim.errors.MediumError``."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ManifestFile(_Model):
    """One backed-up file (see :class:`vsssim.backup.BackedUpFile`)."""

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
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    ranges: str = ""
    file_size: int | None = Field(default=None, ge=0)
    partial_file: int | None = Field(default=None, ge=0)
    ranges_file_of: int | None = Field(default=None, ge=0)


class ManifestFileSet(_Model):
    """A backed-up file set and the directories below its root."""

    writer_id: str
    instance_name: str
    component: str
    member: str
    path: str
    filespec: str
    recursive: bool
    directories: list[str] = Field(default_factory=list)


class ManifestComponent(_Model):
    """An explicitly added component and whether its backup succeeded."""

    writer_id: str
    writer: str
    logical_path: str
    name: str
    type: str
    succeeded: bool


class Manifest(_Model):
    """``manifest.json``."""

    format: int
    machine: str
    os_version: str
    backup_type: str
    select_components: bool
    bootable_system_state: bool
    partial_file_support: bool = False
    context: int
    snapshot_set_id: str | None
    time: str
    writers: list[str]
    components: list[ManifestComponent]
    files: list[ManifestFile]
    file_sets: list[ManifestFileSet] = Field(default_factory=list)


def _inside(root: Path, relative: str, what: str) -> Path:
    """``root / relative``, refusing anything that could leave ``root``."""
    if not relative or "\x00" in relative or "\\" in relative:
        raise MediumError(f"{what}: {relative!r} is not a plain relative path")
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts) or \
            ":" in parts[0]:
        raise MediumError(f"{what}: {relative!r} tries to leave the backup directory")
    here = root
    for part in parts:
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            raise MediumError(f"{what}: {relative!r} is missing from the backup") from None
        if stat.S_ISLNK(mode):
            raise MediumError(f"{what}: {relative!r} goes through a symbolic link")
    return here


def _check_windows_path(path: str, what: str) -> None:
    """An absolute Windows path (``X:\\...`` or a volume GUID path) with valid names."""
    from vsssim.storage._simfs_paths import validate_name

    m = _ROOT.match(path)
    if m is None:
        raise MediumError(f"{what}: {path!r} is not an absolute path on a volume")
    for name in [n for n in path[m.end():].split("\\") if n]:
        try:
            validate_name(name)
        except ValueError as exc:
            raise MediumError(f"{what}: {path!r}: {exc}") from None


def _check_relative(rel: str, recursive: bool, what: str) -> None:
    """A path below a file set's root: valid names only; one name if the set is not recursive."""
    from vsssim.storage._simfs_paths import validate_name

    names = rel.split("\\")
    if not recursive and len(names) > 1:
        raise MediumError(f"{what}: {rel!r} is below a subdirectory of a non-recursive file set")
    for name in names:
        try:
            validate_name(name)
        except ValueError as exc:
            raise MediumError(f"{what}: {rel!r}: {exc}") from None


def _matches(name: str, filespec: str) -> bool:
    from vsssim.storage.simfs import filespec_matches

    try:
        return filespec_matches(name, filespec)
    except ValueError:
        return False


#: A file set as the writer's stored metadata declares it, keyed by writer (id and instance),
#: component path, root, file spec and recursion (lower case, the root without its final
#: backslash).
_SetKey = tuple[str, str, str, str, str, bool]


def _set_key(f: ManifestFile) -> _SetKey:
    """The key of the file set a manifest file entry says it belongs to."""
    return (f.writer_id, f.instance_name, f.member.lower(), f.set_path.rstrip("\\").lower(),
            f.set_filespec.lower(), f.set_recursive)


def _in_own_file_set(f: ManifestFile) -> bool:
    """Whether the entry's file set is one of its own: its directory, its name as the file
    spec, not recursive (how a partial file or a ranges file outside the declared file sets
    is kept)."""
    parent, _, name = f.path.rpartition("\\")
    return (f.set_path.rstrip("\\").lower() + "\\" == parent.lower() + "\\"
            and f.set_filespec.lower() == f.rel.lower() == name.lower() and not f.set_recursive)


def _partial_path(pf: PartialFile) -> str:
    """The full path of the file an ``AddPartialFile`` entry names."""
    return pf.path.rstrip("\\") + "\\" + pf.filename


def _check_is_ranges_file_of(f: ManifestFile, pf: PartialFile, what: str) -> None:
    """A ranges file entry is the ranges file the ``AddPartialFile`` entry names, kept whole."""
    if not is_ranges_file_path(pf.ranges) or f.path.lower() != pf.ranges.lower():
        raise MediumError(f"{what} is not the ranges file of partial file "
                          f"{_partial_path(pf)!r}")
    if f.ranges or f.file_size is not None:
        raise MediumError(f"{what}: a ranges file is kept whole")


def _check_ranges_file_place(f: ManifestFile, sets: set[_SetKey], what: str) -> None:
    """A ranges file is in a declared file set, or kept in a file set of its own."""
    if _set_key(f) not in sets and not _in_own_file_set(f):
        raise MediumError(f"{what}: its file set is not one the writer's stored "
                          f"metadata declares for {f.member!r}")


def _check_is_partial_file(f: ManifestFile, pf: PartialFile, index: int, what: str) -> None:
    """A partial file entry is the file the ``AddPartialFile`` entry #``index`` names."""
    if f.path.lower() != _partial_path(pf).lower():
        raise MediumError(f"{what} is not partial file #{index} of {f.component!r} "
                          f"({_partial_path(pf)!r})")


def _check_partial_file_place(f: ManifestFile, sets: set[_SetKey], what: str) -> None:
    """A partial file is in a declared file set or, kept in a file set of its own, at or
    under a file set path of its component (or of a component below it) (reference §8.7)."""
    key = _set_key(f)
    if key in sets:
        return
    component = f.component.lower()
    roots = [k[3] for k in sets if k[:2] == key[:2]
             and (k[2] == component or k[2].startswith(component + "\\"))]
    parent = f.path.rpartition("\\")[0].lower()
    if not _in_own_file_set(f) or not any(parent == r or parent.startswith(r + "\\")
                                          for r in roots):
        raise MediumError(f"{what}: a partial file must be at or under a file set "
                          f"path of {f.component!r}")


def _ranges_within_file(f: ManifestFile, what: str) -> list[tuple[int, int]]:
    """A partial file entry's ranges: well formed, inside the file's recorded size, their
    lengths adding up to the bytes kept."""
    try:
        ranges = parse_ranges(f.ranges)
    except ValueError as exc:
        raise MediumError(f"{what}: ranges {f.ranges[:80]!r}: {exc}") from None
    if f.file_size is None:
        raise MediumError(f"{what}: a partial file needs the size of the whole file")
    for offset, length in ranges:
        if offset + length > f.file_size:
            raise MediumError(f"{what}: range {offset}:{length} lies beyond the end of the "
                              f"file ({f.file_size} bytes)")
    total = sum(n for _, n in ranges)
    if total != f.size:
        raise MediumError(f"{what}: its ranges add up to {total} bytes, not the {f.size} kept")
    return ranges


class BackupMedium:
    """A backup directory, opened and checked."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        root = Path(directory)
        try:
            mode = os.stat(root).st_mode  # the caller chose this path: a link to it is fine
        except FileNotFoundError:
            raise VssObjectNotFoundError(
                f"no backup at {str(root)!r}: the directory does not exist; pass the "
                "target_dir of a backup (or its BackupResult)") from None
        if not stat.S_ISDIR(mode):
            raise VssObjectNotFoundError(
                f"no backup at {str(root)!r}: it is a file, not a backup directory; pass the "
                "directory that holds manifest.json")
        if not any(os.path.lexists(root / name)
                   for name in ("manifest.json", "backup_components.xml")):
            raise VssObjectNotFoundError(
                f"no backup in {str(root)!r}: the directory holds no manifest.json and no "
                "backup_components.xml; pass the target_dir of a backup (or its BackupResult)")
        self.root = root
        manifest_path = _inside(root, "manifest.json", "manifest")
        if os.path.getsize(manifest_path) > MAX_MANIFEST_BYTES:
            raise MediumError("manifest.json is too large")
        try:
            raw = json.loads(manifest_path.read_text(encoding="utf-8"))
            self.manifest = Manifest.model_validate(raw)
        except (ValueError, ValidationError) as exc:
            raise MediumError(f"manifest.json is not a vsssim backup manifest: {exc}") from None
        if self.manifest.format not in READABLE_FORMATS:
            raise MediumError(f"manifest format {self.manifest.format} is not supported")
        if self.manifest.format == 1 and (self.manifest.partial_file_support or any(
                f.ranges or f.file_size is not None or f.partial_file is not None
                or f.ranges_file_of is not None for f in self.manifest.files)):
            raise MediumError("a format 1 manifest cannot describe partial files")
        bcd_path = _inside(root, "backup_components.xml", "document")
        self.components_xml = bcd_path.read_text(encoding="utf-8")
        self.document = BackupComponentsDocument.load_from_xml(self.components_xml)
        self.writer_metadata: list[WriterMetadata] = []
        for name in self.manifest.writers:
            path = _inside(root, f"writers/{name}", "writer metadata")
            self.writer_metadata.append(WriterMetadata.load_from_xml(path.read_bytes()))
        self._check_consistency()
        for f in self.manifest.files:  # every file is checked up front
            self.read(f)

    def _check_consistency(self) -> None:
        """The documents and the manifest describe the same backup, with safe Windows paths."""
        bcd = {(str(w.writer_id), w.instance_name, c.logical_path.lower(),
                c.component_name.lower())
               for w in self.document.writers for c in w.components}
        listed = {(c.writer_id, self._instance_of(c.writer_id), c.logical_path.lower(),
                   c.name.lower()) for c in self.manifest.components}
        if bcd != listed:
            odd = sorted("\\".join(k[2:]).strip("\\") for k in bcd ^ listed)
            raise MediumError("the Backup Components Document does not match the backup's "
                              f"manifest (components {odd})")
        for w in self.document.writers:
            if self.metadata_for(str(w.writer_id), w.instance_name) is None:
                raise MediumError(f"the backup has no stored metadata for writer "
                                  f"{{{w.writer_id}}}: a VSS restore needs it")
        for wmd in self.writer_metadata:
            for m in wmd.alternate_location_mappings:
                _check_windows_path(m.alternate_location, "alternate location mapping")
        sets = self._declared_sets()
        differenced = self._differenced_sets()
        for f in self.manifest.files:
            what = f"file {f.path!r}"
            _check_windows_path(f.set_path, what)
            _check_relative(f.rel, f.set_recursive, what)
            if f.path.lower() != f.set_path.rstrip("\\").lower() + "\\" + f.rel.lower():
                raise MediumError(f"{what} is not its file set's root joined with {f.rel!r}")
            if not _matches(f.rel.rpartition("\\")[2], f.set_filespec):
                raise MediumError(f"{what} does not match its file spec {f.set_filespec!r}")
            key = _set_key(f)
            special = f.partial_file is not None or f.ranges_file_of is not None
            if f.ranges or f.file_size is not None or special:
                self._check_partial(f, sets, what)
            elif key not in sets and key not in differenced:
                raise MediumError(f"{what}: its file set is not one the writer's stored "
                                  f"metadata declares for {f.member!r}")
        for fs in self.manifest.file_sets:
            what = f"file set {fs.path!r}"
            _check_windows_path(fs.path, what)
            for d in fs.directories:
                _check_relative(d, True, f"{what} directory")
            key = (fs.writer_id, fs.instance_name, fs.member.lower(), fs.path.rstrip("\\")
                   .lower(), fs.filespec.lower(), fs.recursive)
            if key not in sets:
                raise MediumError(f"{what} is not one the writer's stored metadata declares "
                                  f"for {fs.member!r}")

    def _bcd_component(self, f: ManifestFile) -> BcdComponent:
        for w in self.document.writers:
            if str(w.writer_id) == f.writer_id and w.instance_name == f.instance_name:
                for c in w.components:
                    if c.full_path.lower() == f.component.lower():
                        return c
        raise MediumError(f"file {f.path!r}: its component {f.component!r} is not in the "
                          "Backup Components Document")

    def _check_partial(self, f: ManifestFile, sets: set[_SetKey], what: str) -> None:
        """A partial file's ranges, or a ranges file, against the writer's ``AddPartialFile``
        entry in the document: the same file, the same ranges, inside the file, adding up to
        the bytes kept; its file set a declared one or, outside them, its own directory under
        a declared file set path of the component's set (reference §8.7)."""
        index, pf = self._partial_file_entry(f, what)
        if f.ranges_file_of is not None:
            _check_is_ranges_file_of(f, pf, what)
            _check_ranges_file_place(f, sets, what)
            return
        _check_is_partial_file(f, pf, index, what)
        _check_partial_file_place(f, sets, what)
        ranges = _ranges_within_file(f, what)
        if ranges != self._added_ranges(f, pf, index, what):
            raise MediumError(f"{what}: the manifest's ranges are not the ones the writer "
                              "added (AddPartialFile)")

    def _partial_file_entry(self, f: ManifestFile, what: str) -> tuple[int, PartialFile]:
        """The index and the document's ``AddPartialFile`` entry a partial file or a ranges
        file entry of the manifest refers to (exactly one of ``partial_file`` and
        ``ranges_file_of``)."""
        comp = self._bcd_component(f)
        index = f.partial_file if f.partial_file is not None else f.ranges_file_of
        if index is None or (f.partial_file is not None and f.ranges_file_of is not None):
            raise MediumError(f"{what}: ranges are kept only for partial files")
        if index >= len(comp.partial_files):
            raise MediumError(f"{what}: {f.component!r} has no partial file #{index}")
        return index, comp.partial_files[index]

    def _added_ranges(self, f: ManifestFile, pf: PartialFile, index: int,
                      what: str) -> list[tuple[int, int]]:
        """The ranges the writer added for partial file #``index``: those its ranges file
        (which the backup must hold) lists, or those of the document's range list."""
        if not is_ranges_file_path(pf.ranges):
            try:
                return parse_ranges(pf.ranges)
            except ValueError as exc:
                raise MediumError(f"{what}: the document's ranges {pf.ranges[:80]!r}: "
                                  f"{exc}") from None
        kept = [r for r in self.manifest.files if r.ranges_file_of == index
                and r.writer_id == f.writer_id and r.instance_name == f.instance_name
                and r.component.lower() == f.component.lower()]
        if not kept:
            raise MediumError(f"{what}: the backup lacks its ranges file {pf.ranges!r}")
        try:
            return parse_ranges_file(self.read(kept[0]))
        except ValueError as exc:
            raise MediumError(f"{what}: its ranges file {pf.ranges!r}: {exc}") from None

    def _differenced_sets(self) -> set[_SetKey]:
        """The differenced file specs of the document (their files need not be in a file set,
        reference §8.6), keyed as :meth:`_declared_sets` keys file sets, by component."""
        out = set()
        for w in self.document.writers:
            for c in w.components:
                for d in c.differenced_files:
                    out.add((str(w.writer_id), w.instance_name, c.full_path.lower(),
                             d.path.rstrip("\\").lower(), d.filespec.lower(), d.recursive))
        return out

    def _instance_of(self, writer_id: str) -> str:
        for w in self.document.writers:
            if str(w.writer_id) == writer_id:
                return w.instance_name
        return ""

    def _declared_sets(self) -> set[_SetKey]:
        out = set()
        for wmd in self.writer_metadata:
            ident = wmd.identity
            for comp in wmd.components:
                for fd in [*comp.files, *comp.database_files, *comp.database_log_files]:
                    out.add((str(ident.writer_id), ident.instance_name, comp.full_path.lower(),
                             fd.path.rstrip("\\").lower(), fd.filespec.lower(),
                             fd.recursive))
        return out

    def read(self, entry: ManifestFile) -> bytes:
        """The bytes of a backed-up file, verified against the manifest's size and hash."""
        path = _inside(self.root, entry.target, f"file {entry.path!r}")
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise MediumError(f"{entry.path!r}: {entry.target!r} is not a regular file")
        data = path.read_bytes()
        if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
            raise MediumError(f"{entry.path!r}: the file in the backup does not match the "
                              "manifest (size or SHA-256): damaged or tampered with")
        return data

    def metadata_for(self, writer_id: str, instance_name: str) -> WriterMetadata | None:
        """The stored metadata of a writer (restores use it, never the live one: rule 33)."""
        for wmd in self.writer_metadata:
            ident = wmd.identity
            if str(ident.writer_id) == writer_id and ident.instance_name == instance_name:
                return wmd
        return None

    def component_names(self) -> list[str]:
        """The components this backup holds, as ``"Writer Name:logical\\\\path\\\\name"``
        (``VssSystem.restore(components=...)`` takes these, the writer name alone, or the
        component path alone)."""
        out: list[str] = []
        for entry in self.document.writers:
            wmd = self.metadata_for(str(entry.writer_id), entry.instance_name)
            if wmd is None:
                continue
            out.extend(f"{wmd.identity.writer_name}:{c.full_path}" for c in entry.components)
        return out
