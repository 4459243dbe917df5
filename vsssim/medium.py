"""The backup medium: the directory ``VssSystem.backup`` writes and ``VssSystem.restore`` reads.

::

    backup_components.xml          the Backup Components Document (SaveAsXML)
    writers/<n>.xml                each backed-up writer's metadata (IVssExamineWriterMetadata)
    files/<volume>/<path>          the files, as read from the shadow copies
    manifest.json                  what the BCD cannot give back: backup state, file list,
                                   file sets and their directories, sizes and SHA-256 hashes

Reading treats the directory as hostile (it may come from anywhere): the manifest is validated
against a strict model, every file is opened only through a path proven to lie inside the
directory (no ``..``, no absolute paths, no symbolic links anywhere on the way), sizes and hashes
are checked before the file is used, and the XML documents go through the safe parser.  Any
problem is a :class:`MediumError` (``VSS_E_INVALID_XML_DOCUMENT``-class ``ValueError``) raised
before anything is restored.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vsssim.documents import BackupComponentsDocument, WriterMetadata
from vsssim.errors import VssInvalidXmlDocumentError

__all__ = [
    "MANIFEST_FORMAT",
    "BackupMedium",
    "Manifest",
    "ManifestComponent",
    "ManifestFile",
    "ManifestFileSet",
    "MediumError",
]

MANIFEST_FORMAT = 1
MAX_MANIFEST_BYTES = 64 * 2**20


class MediumError(VssInvalidXmlDocumentError):
    """The backup directory is damaged or hostile; nothing was restored."""


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


class BackupMedium:
    """A backup directory, opened and checked."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        root = Path(directory)
        try:
            mode = os.lstat(root).st_mode
        except FileNotFoundError:
            raise MediumError(f"{root} does not exist") from None
        if not stat.S_ISDIR(mode):
            raise MediumError(f"{root} is not a backup directory")
        self.root = root
        manifest_path = _inside(root, "manifest.json", "manifest")
        if os.path.getsize(manifest_path) > MAX_MANIFEST_BYTES:
            raise MediumError("manifest.json is too large")
        try:
            raw = json.loads(manifest_path.read_text(encoding="utf-8"))
            self.manifest = Manifest.model_validate(raw)
        except (ValueError, ValidationError) as exc:
            raise MediumError(f"manifest.json is not a vsssim backup manifest: {exc}") from None
        if self.manifest.format != MANIFEST_FORMAT:
            raise MediumError(f"manifest format {self.manifest.format} is not supported")
        bcd_path = _inside(root, "backup_components.xml", "document")
        self.components_xml = bcd_path.read_text(encoding="utf-8")
        self.document = BackupComponentsDocument.load_from_xml(self.components_xml)
        self.writer_metadata: list[WriterMetadata] = []
        for name in self.manifest.writers:
            path = _inside(root, f"writers/{name}", "writer metadata")
            self.writer_metadata.append(WriterMetadata.load_from_xml(path.read_bytes()))
        for f in self.manifest.files:
            _inside(root, f.target, f"file {f.path!r}")  # every target is checked up front

    def read(self, entry: ManifestFile) -> bytes:
        """The bytes of a backed-up file, verified against the manifest's size and hash."""
        path = _inside(self.root, entry.target, f"file {entry.path!r}")
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
