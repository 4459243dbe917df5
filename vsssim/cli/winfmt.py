"""Formatting shared by the ``vssadmin`` and ``diskshadow`` emulations: dates, ids, contexts,
volume names, sizes, as the Windows tools print them (providers reference §5.2, §6.4).

Fidelity notes: dates are printed in the en-US form (``1/5/2026 9:01:00 AM``) of the lab's
clock, which runs in UTC; lines end with ``\\n``, not the ``\\r\\n`` of Windows consoles.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

from vsssim.constants import VolumeSnapshotAttributes

__all__ = [
    "CONTEXT_NAMES",
    "braced",
    "context_bits",
    "context_name",
    "format_size",
    "from_filetime",
    "parse_guid",
    "windows_datetime",
]

_A = VolumeSnapshotAttributes
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_CONTEXT_MASK = int(_A.PERSISTENT | _A.CLIENT_ACCESSIBLE | _A.NO_AUTO_RELEASE | _A.NO_WRITERS)
#: ``vssadmin list shadows`` "Type:" by context bits (observed: ClientAccessible,
#: ClientAccessibleWriters, ApplicationRollback; the others recalled, reference §5.2).
CONTEXT_NAMES = {
    0x00: "Backup",
    0x10: "FileShareBackup",
    0x19: "DataVolumeRollback",
    0x09: "ApplicationRollback",
    0x1D: "ClientAccessible",
    0x0D: "ClientAccessibleWriters",
}
_GUID = re.compile(r"^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                   r"[0-9A-Fa-f]{12})\}?$")


def braced(value: UUID) -> str:
    """``{xxxxxxxx-...}`` in lower case, as both tools print ids."""
    return f"{{{value}}}"


def parse_guid(text: str) -> UUID | None:
    """A shadow or set id typed by a user, with or without braces; None if it is not one."""
    m = _GUID.match(text.strip().strip('"'))
    if m is None or text.strip().strip('"').startswith("{") != \
            text.strip().strip('"').endswith("}"):
        return None
    return UUID(m.group(1))


def context_bits(attributes: int) -> int:
    """The context part of an attribute mask (PERSISTENT, CLIENT_ACCESSIBLE, NO_AUTO_RELEASE,
    NO_WRITERS)."""
    return attributes & _CONTEXT_MASK


def context_name(attributes: int) -> str:
    """The context a shadow copy was made in, as ``vssadmin list shadows`` names it."""
    return CONTEXT_NAMES.get(context_bits(attributes), "Unknown")


def from_filetime(value: int) -> datetime:
    """A ``VSS_TIMESTAMP`` (100 ns since 1601, UTC) as an aware datetime."""
    return _FILETIME_EPOCH + timedelta(microseconds=value // 10)


def windows_datetime(moment: datetime) -> str:
    """``M/D/YYYY h:mm:ss AM`` (the en-US short date and long time Windows tools print)."""
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d}:"
            f"{moment.second:02d} {half}")


def format_size(size: int) -> str:
    """A size as ``vssadmin list shadowstorage`` prints it: bytes below 1 KB, else one decimal
    and a binary unit (``22.1 GB``)."""
    if size < 1024:
        return f"{size} bytes" if size != 1 else "1 byte"
    units = ("KB", "MB", "GB", "TB", "PB")
    value, i = size / 1024, 0
    while value >= 1024 and i < len(units) - 1:
        value, i = value / 1024, i + 1
    return f"{value:.1f} {units[i]}"
