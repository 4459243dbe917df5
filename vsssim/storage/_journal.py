"""The on-disk index of a shadow storage: a checksummed checkpoint plus an append-only journal.

Theory of operation.  The diff area's *data* lives in ``store.dat`` (slot ``i`` is bytes
``[i * B, (i + 1) * B)``).  Which slot holds which preserved block of which snapshot is the
*index*.  It is kept as

* ``index.ckpt``: the whole index at one moment (snapshot list, each diff area's sorted
  ``(block, slot)`` arrays, private recovery-window overlays, a pending revert), written to a
  temporary file and renamed, so it is always either the old or the new one; and
* ``journal.<generation>``: every change since that checkpoint, one record per change,
  appended with ``pwrite``.

Write-ahead rule (what makes kill -9 harmless): the copy-on-write path writes the old block into
its slot, *then* appends the record that maps the block to the slot, and only *then* overwrites
the live block.  All three are ``pwrite`` calls into the page cache, which a killed process
cannot lose; durable mode adds ``fdatasync`` barriers between them for power loss.

Torn tails.  Records are appended in one ``pwrite`` each.  A process killed in the middle of one
can leave the file ending inside that record, and only there (the kernel advances the file size
page by page).  So on replay a record that runs past the end of the file is a torn tail, and
is dropped: its live write never happened.  A *complete* record whose checksum fails is
corruption (``VssStoreCorruptError``), never silently skipped.  Each record header carries its
own CRC, so a flipped length cannot make a complete record look torn.

Record layout (little-endian)::

    u32 payload length | u16 type | u16 zero | u32 CRC-32 of payload | u32 CRC-32 of the first 12
    bytes | payload

Block/slot lists travel as runs ``(first block, first slot, count)`` of int64: a sequential
1 MiB write is one run, whatever its block count.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Any
from uuid import UUID

import numpy as np
from numpy.typing import NDArray

from vsssim.errors import VssStoreCorruptError
from vsssim.storage._fileio import pwrite_all

__all__ = [
    "CKPT_MAGIC",
    "JOURNAL_MAGIC",
    "Journal",
    "Record",
    "RecordType",
    "decode_checkpoint",
    "decode_runs",
    "encode_checkpoint",
    "encode_runs",
    "read_journal",
]

JOURNAL_MAGIC = b"VSSJRNL\x01"
CKPT_MAGIC = b"VSSCKPT\x01"

_JHEAD = struct.Struct("<8sQ16sI4x")  # magic, generation, volume id, CRC of the first 32 bytes
_REC = struct.Struct("<IHHII")
_CKHEAD = struct.Struct("<8sQII")  # magic, body length, body CRC, CRC of the first 20 bytes
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_ONE_RUN = struct.Struct("<Qqqq")  # owner sequence + one (block, slot, count) run
_CREATE = struct.Struct("<Q16sBd")  # seq, snapshot id, persistent, created (POSIX seconds)

_crc32 = zlib.crc32


class RecordType(IntEnum):
    """What a journal record says happened."""

    CREATE = 1  #: a snapshot was created: seq, id, persistent, created, metadata
    DELETE = 2  #: a snapshot was deleted or purged: seq, reason
    COW = 3  #: blocks preserved into a snapshot's diff area: seq, runs
    OVERLAY = 4  #: recovery-window blocks of one snapshot: seq, runs
    METADATA = 5  #: a snapshot's metadata replaced: seq, JSON
    RESIZE = 6  #: the maximum size changed: bytes or -1 for unbounded
    REVERT_BEGIN = 7  #: a revert started: target seq, the blocks to rewrite
    REVERT_PROGRESS = 8  #: a revert's cursor advanced (== number of blocks: done)


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded journal record: its type and raw payload."""

    type: RecordType
    payload: bytes

    def seq(self) -> int:
        """The snapshot sequence number most records start with."""
        return int(_U64.unpack_from(self.payload)[0])

    def runs(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(blocks, slots)`` of a COW or OVERLAY record."""
        body = np.frombuffer(self.payload, dtype="<i8", offset=8)
        if body.size % 3:
            raise VssStoreCorruptError("journal: a block-run list has a ragged length")
        return decode_runs(body.reshape(-1, 3))

    def create_fields(self) -> tuple[int, UUID, bool, float, Any]:
        """``(seq, id, persistent, created, metadata)`` of a CREATE record."""
        seq, raw_id, persistent, created = _CREATE.unpack_from(self.payload)
        return seq, UUID(bytes=raw_id), bool(persistent), created, self.json_tail(_CREATE.size)

    def json_tail(self, offset: int) -> Any:
        """The JSON value that ends the payload after ``offset`` bytes."""
        try:
            return json.loads(self.payload[offset:].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VssStoreCorruptError(f"journal: bad JSON in a {self.type.name} record") from exc


def _record(rtype: RecordType, payload: bytes) -> bytes:
    head = struct.pack("<IHHI", len(payload), rtype, 0, _crc32(payload))
    return head + _crc32(head).to_bytes(4, "little") + payload


def encode_runs(blocks: NDArray[np.int64], slots: NDArray[np.int64]) -> NDArray[np.int64]:
    """``(k, 3)`` runs ``(block, slot, count)`` where both blocks and slots step by one."""
    if blocks.size == 0:
        return np.zeros((0, 3), np.int64)
    step = (np.diff(blocks) != 1) | (np.diff(slots) != 1)
    starts = np.concatenate(([0], np.flatnonzero(step) + 1))
    counts = np.diff(np.concatenate((starts, [blocks.size])))
    return np.stack((blocks[starts], slots[starts], counts), axis=1).astype(np.int64)


def decode_runs(runs: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Inverse of :func:`encode_runs`."""
    if runs.shape[0] == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy()
    counts = runs[:, 2]
    if (counts <= 0).any() or (runs[:, :2] < 0).any():
        raise VssStoreCorruptError("journal: a block run has a negative block, slot or count")
    total = int(counts.sum())
    # offset of each element inside its run
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    blocks = np.repeat(runs[:, 0], counts) + within
    slots = np.repeat(runs[:, 1], counts) + within
    return blocks.astype(np.int64), slots.astype(np.int64)


class Journal:
    """The append side of ``journal.<generation>`` (one writer, under the volume lock)."""

    def __init__(self, path: str, fd: int, end: int, *, durable: bool) -> None:
        self.path = path
        self.fd = fd
        self.end = end  # append position == valid length
        self.durable = durable

    @classmethod
    def create(cls, path: str, generation: int, volume_id: UUID, *, durable: bool) -> Journal:
        """A new, empty journal file (refuses to overwrite one)."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        head = _JHEAD.pack(JOURNAL_MAGIC, generation, volume_id.bytes, 0)
        head = head[:32] + _crc32(head[:32]).to_bytes(4, "little") + head[36:]
        try:
            pwrite_all(fd, head, 0)
            if durable:
                os.fdatasync(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, len(head), durable=durable)

    @classmethod
    def reopen(cls, path: str, end: int, *, durable: bool) -> Journal:
        """Append to an existing journal whose valid records end at ``end`` (a torn tail is cut)."""
        fd = os.open(path, os.O_RDWR)
        try:
            os.ftruncate(fd, end)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, end, durable=durable)

    def append(self, record: bytes) -> None:
        """Append one encoded record (durable mode: and wait until it is on disk)."""
        pwrite_all(self.fd, record, self.end)
        self.end += len(record)
        if self.durable:
            os.fdatasync(self.fd)

    # -- encoders ---------------------------------------------------------------------------
    def cow_run(self, seq: int, block: int, slot: int, count: int = 1) -> None:
        """A one-run COW record (the 4 KiB and the sequential write paths: no numpy)."""
        payload = _ONE_RUN.pack(seq, block, slot, count)
        head = struct.pack("<IHHI", 32, RecordType.COW, 0, _crc32(payload))
        record = head + _crc32(head).to_bytes(4, "little") + payload
        pwrite_all(self.fd, record, self.end)
        self.end += 48
        if self.durable:
            os.fdatasync(self.fd)

    def block_runs(
        self, rtype: RecordType, seq: int, blocks: NDArray[np.int64], slots: NDArray[np.int64]
    ) -> None:
        """A COW or OVERLAY record for ``blocks`` -> ``slots`` (any order; encoded as runs)."""
        order = np.argsort(blocks, kind="stable")
        runs = encode_runs(blocks[order], slots[order])
        self.append(_record(rtype, _U64.pack(seq) + runs.astype("<i8").tobytes()))

    def create_snapshot(
        self, seq: int, snap_id: UUID, persistent: bool, created: float, metadata: dict[str, str]
    ) -> None:
        """A CREATE record."""
        body = _CREATE.pack(seq, snap_id.bytes, persistent, created)
        self.append(_record(RecordType.CREATE, body + _dump(metadata)))

    def delete_snapshot(self, seq: int, reason: int) -> None:
        """A DELETE record (``reason``: 0 deleted by a caller, else a purge reason code)."""
        self.append(_record(RecordType.DELETE, struct.pack("<QB", seq, reason)))

    def metadata(self, seq: int, metadata: dict[str, str]) -> None:
        """A METADATA record."""
        self.append(_record(RecordType.METADATA, _U64.pack(seq) + _dump(metadata)))

    def resize(self, max_size: int | None) -> None:
        """A RESIZE record."""
        self.append(_record(RecordType.RESIZE, _I64.pack(-1 if max_size is None else max_size)))

    def revert_begin(self, seq: int, blocks: NDArray[np.int64]) -> None:
        """A REVERT_BEGIN record with the sorted blocks to rewrite."""
        self.append(
            _record(RecordType.REVERT_BEGIN, _U64.pack(seq) + blocks.astype("<i8").tobytes())
        )

    def revert_progress(self, cursor: int) -> None:
        """A REVERT_PROGRESS record."""
        self.append(_record(RecordType.REVERT_PROGRESS, _U64.pack(cursor)))

    def close(self) -> None:
        """Close the file descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _dump(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def read_journal(path: str, generation: int, volume_id: UUID) -> tuple[list[Record], int]:
    """Every complete record of a journal and the length of its valid prefix.

    A record cut off by the end of the file is a torn tail and ends the list; any checksum
    failure of a complete header or record raises ``VssStoreCorruptError``.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise VssStoreCorruptError(f"journal {path!r} is missing") from None
    if len(raw) < _JHEAD.size:
        raise VssStoreCorruptError(f"journal {path!r} is truncated (no complete header)")
    magic, gen, vid, crc = _JHEAD.unpack_from(raw)
    if magic != JOURNAL_MAGIC or crc != _crc32(raw[:32]):
        raise VssStoreCorruptError(f"journal {path!r}: bad header (magic or checksum)")
    if gen != generation or vid != volume_id.bytes:
        raise VssStoreCorruptError(
            f"journal {path!r} belongs to generation {gen}, the checkpoint expects {generation}"
        )
    records: list[Record] = []
    pos = _JHEAD.size
    size = len(raw)
    while pos < size:
        if size - pos < _REC.size:
            break  # torn inside a header
        length, rtype, zero, pcrc, hcrc = _REC.unpack_from(raw, pos)
        if hcrc != _crc32(raw[pos : pos + 12]) or zero != 0:
            raise VssStoreCorruptError(f"journal {path!r}: corrupt record header at byte {pos}")
        end = pos + _REC.size + length
        if end > size:
            break  # torn inside the payload
        payload = raw[pos + _REC.size : end]
        if _crc32(payload) != pcrc:
            raise VssStoreCorruptError(f"journal {path!r}: record at byte {pos} fails its CRC")
        try:
            kind = RecordType(rtype)
        except ValueError:
            raise VssStoreCorruptError(
                f"journal {path!r}: unknown record type {rtype} at byte {pos}"
            ) from None
        records.append(Record(kind, payload))
        pos = end
    return records, pos


def encode_checkpoint(meta: dict[str, Any], arrays: list[NDArray[np.int64]]) -> bytes:
    """The bytes of ``index.ckpt``: a JSON description plus int64 arrays, all checksummed."""
    meta = dict(meta, arrays=[int(a.size) for a in arrays])
    head_json = _dump(meta)
    pad = (-(4 + len(head_json))) % 8
    body = b"".join(
        [len(head_json).to_bytes(4, "little"), head_json, bytes(pad)]
        + [np.ascontiguousarray(a, dtype="<i8").tobytes() for a in arrays]
    )
    head = _CKHEAD.pack(CKPT_MAGIC, len(body), _crc32(body), 0)
    head = head[:20] + _crc32(head[:20]).to_bytes(4, "little")
    return head + body


def decode_checkpoint(raw: bytes, path: str) -> tuple[dict[str, Any], list[NDArray[np.int64]]]:
    """Inverse of :func:`encode_checkpoint`; any damage raises ``VssStoreCorruptError``."""
    if len(raw) < _CKHEAD.size:
        raise VssStoreCorruptError(f"index {path!r} is truncated")
    magic, length, crc, hcrc = _CKHEAD.unpack_from(raw)
    if magic != CKPT_MAGIC or hcrc != _crc32(raw[:20]):
        raise VssStoreCorruptError(f"index {path!r}: bad header (magic or checksum)")
    body = raw[_CKHEAD.size :]
    if len(body) != length:
        raise VssStoreCorruptError(
            f"index {path!r} is truncated or padded ({len(body)} bytes, expected {length})"
        )
    if _crc32(body) != crc:
        raise VssStoreCorruptError(f"index {path!r} fails its CRC")
    jlen = int.from_bytes(body[:4], "little")
    try:
        meta = json.loads(body[4 : 4 + jlen].decode("utf-8"))
        counts = [int(n) for n in meta["arrays"]]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise VssStoreCorruptError(f"index {path!r}: bad description ({exc})") from None
    pos = 4 + jlen + (-(4 + jlen)) % 8
    arrays: list[NDArray[np.int64]] = []
    for n in counts:
        if n < 0 or pos + 8 * n > len(body):
            raise VssStoreCorruptError(f"index {path!r}: array sizes do not fit the file")
        arrays.append(np.frombuffer(body, dtype="<i8", count=n, offset=pos).astype(np.int64))
        pos += 8 * n
    if pos != len(body):
        raise VssStoreCorruptError(f"index {path!r}: trailing bytes after the arrays")
    return meta, arrays
