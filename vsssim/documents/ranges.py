"""Byte ranges of partial files and directed targets (reference §8.7).

``IVssComponent::AddPartialFile`` takes its ranges as a string of ``offset:length`` pairs
separated by commas, each value a 64-bit number in decimal or hexadecimal (``0x...``), or as the
full path of a *ranges file*: a binary file holding a 64-bit count, then that many 64-bit
offset/length pairs.  ``AddDirectedTarget`` takes source and destination range lists in the same
string form.  The binary values are little-endian, as on the x86 and x64 machines VSS runs on.

:func:`parse_ranges` and :func:`parse_ranges_file` turn either form into a list of
``(offset, length)`` pairs and raise ``ValueError`` saying what is wrong; :func:`format_ranges`
and :func:`ranges_file_bytes` build them.  Every range has a length of at least one byte and
ends at or before 2**63 - 1 (a signed 64-bit file offset); ranges keep their order and may
overlap.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

__all__ = [
    "MAX_RANGES",
    "format_ranges",
    "is_ranges_file_path",
    "parse_ranges",
    "parse_ranges_file",
    "ranges_file_bytes",
]

#: The most ranges one list may hold (a bound against hostile input, not a Windows limit).
MAX_RANGES = 65536
_LIMIT = 2**63 - 1
_NUMBER = re.compile(r"^(?:0[xX][0-9A-Fa-f]+|[0-9]+)$")
_PATH_ROOT = re.compile(r"^(?:[A-Za-z]:\\|\\\\\?\\Volume\{[0-9A-Fa-f-]{36}\}\\)")


def is_ranges_file_path(ranges: str) -> bool:
    """Whether an ``AddPartialFile`` ranges argument names a ranges file (an absolute path on
    a volume) rather than listing ``offset:length`` pairs."""
    return _PATH_ROOT.match(ranges) is not None


def _number(text: str, what: str) -> int:
    text = text.strip()
    if not _NUMBER.match(text):
        raise ValueError(f"{what} {text!r} is not a decimal or 0x-hexadecimal number")
    return int(text, 16) if text[:2].lower() == "0x" else int(text)


def _check(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if not ranges:
        raise ValueError("a range list needs at least one offset:length pair")
    if len(ranges) > MAX_RANGES:
        raise ValueError(f"{len(ranges)} ranges: at most {MAX_RANGES} are accepted")
    for offset, length in ranges:
        if length < 1:
            raise ValueError(f"range {offset}:{length} is empty (its length must be at least 1)")
        if offset + length > _LIMIT:
            raise ValueError(f"range {offset}:{length} ends beyond the largest file offset "
                             "(2**63 - 1)")
    return ranges


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"offset:length[,offset:length...]"`` (decimal or ``0x`` hexadecimal) as pairs.

    ``ValueError`` for anything else: an empty list, a pair without its colon, a value that is
    not a number, an empty range, a range beyond 2**63 - 1.  (A ranges file path is not a range
    list: test it with :func:`is_ranges_file_path` first.)
    """
    if not isinstance(text, str):
        raise TypeError(f"a range list is a str, not {type(text).__name__}")
    if not text.strip():
        raise ValueError("a range list needs at least one offset:length pair")
    out: list[tuple[int, int]] = []
    for item in text.split(","):
        offset, colon, length = item.partition(":")
        if not colon:
            raise ValueError(f"{item.strip()!r} is not an offset:length pair")
        out.append((_number(offset, "offset"), _number(length, "length")))
        if len(out) > MAX_RANGES:
            break
    return _check(out)


def format_ranges(ranges: Iterable[tuple[int, int]]) -> str:
    """The canonical range list string (decimal, no spaces) of ``(offset, length)`` pairs."""
    return ",".join(f"{int(o)}:{int(n)}" for o, n in ranges)


def parse_ranges_file(data: bytes) -> list[tuple[int, int]]:
    """The pairs of a binary ranges file: a little-endian 64-bit count, then that many
    little-endian 64-bit offset/length pairs, and nothing after them (``ValueError`` if not)."""
    if len(data) < 8:
        raise ValueError(f"a ranges file starts with an 8-byte count; this one has {len(data)} "
                         "bytes")
    (count,) = struct.unpack_from("<Q", data, 0)
    if count > MAX_RANGES:
        raise ValueError(f"the ranges file says it holds {count} ranges: at most {MAX_RANGES}")
    if len(data) != 8 + 16 * count:
        raise ValueError(f"the ranges file says it holds {count} ranges, which is "
                         f"{8 + 16 * count} bytes, but it has {len(data)}")
    values = struct.unpack_from(f"<{2 * count}Q", data, 8)
    return _check([(values[i], values[i + 1]) for i in range(0, len(values), 2)])


def ranges_file_bytes(ranges: Iterable[tuple[int, int]]) -> bytes:
    """A binary ranges file holding ``ranges`` (what a writer names in ``AddPartialFile``)."""
    pairs = _check([(int(o), int(n)) for o, n in ranges])
    if any(o < 0 for o, _ in pairs):
        raise ValueError("a range's offset cannot be negative")
    flat = [v for pair in pairs for v in pair]
    return struct.pack(f"<Q{len(flat)}Q", len(pairs), *flat)
