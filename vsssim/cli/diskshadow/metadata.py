"""diskshadow's metadata ``.cab``: the Backup Components Document, the writers' metadata and the
aliases of a creation, for ``load metadata`` before ``import`` or ``begin restore``.

Fidelity note: the file is a ZIP archive with diskshadow's member names (``Manifest.xml``,
``BCDocument.xml``, ``WM0.xml``, ``WM1.xml``...), not a Microsoft Cabinet; ``Manifest.xml``
holds the aliases.  Reading is bounded (member count and sizes) and parses XML without
entities, so a hostile file cannot exhaust memory.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import click

from vsssim.cli.hostfiles import write_host_file

__all__ = ["MetadataError", "MetadataFile", "read_metadata", "write_metadata"]

_MAX_MEMBERS = 256
_MAX_BYTES = 16 << 20


class MetadataError(ValueError):
    """A metadata file that cannot be written or read."""


@dataclass
class MetadataFile:
    """What a ``.cab`` carries."""

    bcd_xml: str
    writers: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)

    def member_names(self) -> list[str]:
        """The members, in the order diskshadow inserts them."""
        return ["Manifest.xml", "BCDocument.xml", *(f"WM{i}.xml" for i in range(len(self.writers)))]


def _manifest(aliases: dict[str, str]) -> str:
    root = ET.Element("DiskShadowManifest", {"version": "1"})
    for name, value in aliases.items():
        ET.SubElement(root, "Alias", {"name": name, "value": value})
    return ET.tostring(root, encoding="unicode")


def write_metadata(path: Path, data: MetadataFile) -> list[str]:
    """Write the file (replacing one that exists); returns the member names written."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Manifest.xml", _manifest(data.aliases))
        z.writestr("BCDocument.xml", data.bcd_xml)
        for i, xml in enumerate(data.writers):
            z.writestr(f"WM{i}.xml", xml)
    try:
        write_host_file(path, buffer.getvalue())
    except click.ClickException as exc:
        raise MetadataError(exc.message.replace("cannot write ", "cannot write the metadata "
                                                "file ", 1)) from None
    return data.member_names()


def read_metadata(path: Path) -> MetadataFile:
    """Read a file :func:`write_metadata` made (``MetadataError`` if it is not one)."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > _MAX_MEMBERS or sum(i.file_size for i in infos) > _MAX_BYTES:
                raise MetadataError(f"{path} is too large for a metadata file")
            names = {i.filename for i in infos}
            if not {"Manifest.xml", "BCDocument.xml"} <= names:
                raise MetadataError(f"{path} is not a DiskShadow metadata file (no "
                                    "Manifest.xml / BCDocument.xml)")
            manifest = z.read("Manifest.xml").decode("utf-8")
            bcd = z.read("BCDocument.xml").decode("utf-8")
            writers = []
            i = 0
            while f"WM{i}.xml" in names:
                writers.append(z.read(f"WM{i}.xml").decode("utf-8"))
                i += 1
    except FileNotFoundError:
        raise MetadataError(f"the metadata file {path} does not exist") from None
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise MetadataError(f"{path} is not a DiskShadow metadata file ({exc})") from None
    if "<!DOCTYPE" in manifest or "<!ENTITY" in manifest:
        raise MetadataError(f"{path}: the manifest may not declare entities")
    try:
        root = ET.fromstring(manifest)
    except ET.ParseError as exc:
        raise MetadataError(f"{path}: damaged manifest ({exc})") from None
    aliases = {a.get("name", ""): a.get("value", "") for a in root.iter("Alias")
               if a.get("name")}
    return MetadataFile(bcd, writers, aliases)
