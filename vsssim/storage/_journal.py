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
the live block.  All three land in the page cache (``pwrite`` calls, or for the copy a memcpy
into a shared mapping of the store file, finished before the record's ``pwrite`` starts), which
a killed process cannot lose; durable mode adds ``fdatasync`` barriers between them for power
loss (``fdatasync`` also writes back pages dirtied through a mapping).

Appending without growing the file.  The journal is preallocated (``ftruncate`` in 1 MiB steps)
so that an append overwrites zeros inside the file instead of extending it: ext4 then does not
journal an inode size change on every copy-on-write (measured: 1.3 us of the ~30 us of a random
4 KiB first write).  The end of the journal is therefore the first all-zero record header, and
torn appends are ruled out by construction rather than detected afterwards:

* a record that fits in the rest of its 4 KiB page goes out in one ``pwrite``, which a killed
  process cannot tear (the kernel only stops a write between pages);
* a longer record writes its payload first and its 32-byte header last (a header never crosses
  a page: records start on 32-byte boundaries).  Killed in between, the header is still zero:
  the journal ends before that record, whose live write never happened.

So on replay every non-zero header must be intact and sequentially numbered, and so must its
payload: any checksum failure, a payload past the end of the file, or a valid record hiding
behind a zeroed header is corruption (``VssStoreCorruptError``), never silently skipped.

Record layout (little-endian, padded to a multiple of 32 bytes)::

    u32 payload length | u32 record index | u16 type | u16 zero | u32 CRC-32 of payload |
    u64 zero | u32 CRC-32 of the first 24 bytes | u32 zero | payload

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
from vsssim.storage._fileio import COMPACT_JSON, fdatasync, pwrite_all

__all__ = [
    "CKPT_MAGIC",
    "JOURNAL_MAGIC",
    "Journal",
    "Record",
    "RecordType",
    "decode_checkpoint",
    "decode_runs",
    "encode_checkpoint",
    "encode_record",
    "encode_runs",
    "read_journal",
]

JOURNAL_MAGIC = b"VSSJRNL\x01"
CKPT_MAGIC = b"VSSCKPT\x01"

_JHEAD = struct.Struct("<8sQ16sI28x")  # magic, generation, volume id, CRC of the first 32 bytes
_HEAD24 = struct.Struct("<IIHHIQ")  # length, index, type, zero, payload CRC, zero
_HEAD = struct.Struct("<IIHHIQI4x")  # ... + CRC of the first 24 bytes, padding
_ZERO_HEAD = bytes(_HEAD.size)
_PAGE = 4096
_GROW = 1 << 20  # preallocation step
_CKHEAD = struct.Struct("<8sQII")  # magic, body length, body CRC, CRC of the first 20 bytes
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_ONE_RUN = struct.Struct("<Qqqq")  # owner sequence + one (block, slot, count) run
_CREATE = struct.Struct("<Q16sBd")  # seq, snapshot id, persistent, created (POSIX seconds)
_PAD4 = bytes(4)

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


_COW = int(RecordType.COW)


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


def encode_record(rtype: RecordType, payload: bytes, index: int) -> bytes:
    """Header + payload + zero padding of record number ``index``."""
    head = _HEAD24.pack(len(payload), index, rtype, 0, _crc32(payload), 0)
    pad = -len(payload) % _HEAD.size
    return head + _crc32(head).to_bytes(4, "little") + bytes(4) + payload + bytes(pad)


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

    def __init__(self, path: str, fd: int, end: int, allocated: int, *, durable: bool) -> None:
        self.path = path
        self.fd = fd
        self.end = end  # where the next record goes
        self.index = 0  # number of the next record
        self.allocated = allocated  # the file's size
        self.durable = durable

    @classmethod
    def create(cls, path: str, generation: int, volume_id: UUID, *, durable: bool) -> Journal:
        """A new, empty, preallocated journal file (refuses to overwrite one)."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        head = bytearray(_JHEAD.pack(JOURNAL_MAGIC, generation, volume_id.bytes, 0))
        head[32:36] = _crc32(head[:32]).to_bytes(4, "little")
        try:
            os.ftruncate(fd, _GROW)
            pwrite_all(fd, head, 0)
            if durable:
                fdatasync(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, len(head), _GROW, durable=durable)

    def append(self, rtype: RecordType, payload: bytes) -> None:
        """Append one record (durable mode: and wait until it is on disk)."""
        record = encode_record(rtype, payload, self.index)
        pos = self.end
        if pos + len(record) > self.allocated:
            self.allocated = (pos + len(record) + _GROW - 1) // _GROW * _GROW
            os.ftruncate(self.fd, self.allocated)
        if (pos % _PAGE) + len(record) <= _PAGE:
            pwrite_all(self.fd, record, pos)  # one page: all or nothing
        else:
            pwrite_all(self.fd, record[_HEAD.size :], pos + _HEAD.size)
            if self.durable:
                fdatasync(self.fd)
            pwrite_all(self.fd, record[: _HEAD.size], pos)  # the header commits the record
        self.end = pos + len(record)
        self.index += 1
        if self.durable:
            fdatasync(self.fd)

    # -- encoders ---------------------------------------------------------------------------
    def cow_run(self, seq: int, block: int, slot: int, count: int = 1) -> None:
        """A one-run COW record (the 4 KiB and the sequential write paths: no numpy)."""
        pos = self.end
        if pos % _PAGE > _PAGE - 64 or pos + 64 > self.allocated:
            self.append(RecordType.COW, _ONE_RUN.pack(seq, block, slot, count))
            return
        payload = _ONE_RUN.pack(seq, block, slot, count)
        head = _HEAD24.pack(32, self.index, _COW, 0, _crc32(payload), 0)
        record = head + _crc32(head).to_bytes(4, "little") + _PAD4 + payload
        if os.pwrite(self.fd, record, pos) != 64:
            pwrite_all(self.fd, record, pos)
        self.end = pos + 64
        self.index += 1
        if self.durable:
            fdatasync(self.fd)

    def block_runs(
        self, rtype: RecordType, seq: int, blocks: NDArray[np.int64], slots: NDArray[np.int64]
    ) -> None:
        """A COW or OVERLAY record for ``blocks`` -> ``slots`` (any order; encoded as runs)."""
        order = np.argsort(blocks, kind="stable")
        runs = encode_runs(blocks[order], slots[order])
        self.append(rtype, _U64.pack(seq) + runs.astype("<i8").tobytes())

    def create_snapshot(
        self, seq: int, snap_id: UUID, persistent: bool, created: float, metadata: dict[str, str]
    ) -> None:
        """A CREATE record."""
        body = _CREATE.pack(seq, snap_id.bytes, persistent, created)
        self.append(RecordType.CREATE, body + _dump(metadata))

    def delete_snapshot(self, seq: int, reason: int) -> None:
        """A DELETE record (``reason``: 0 deleted by a caller, else a purge reason code)."""
        self.append(RecordType.DELETE, struct.pack("<QB", seq, reason))

    def metadata(self, seq: int, metadata: dict[str, str]) -> None:
        """A METADATA record."""
        self.append(RecordType.METADATA, _U64.pack(seq) + _dump(metadata))

    def resize(self, max_size: int | None) -> None:
        """A RESIZE record."""
        self.append(RecordType.RESIZE, _I64.pack(-1 if max_size is None else max_size))

    def revert_begin(self, seq: int, blocks: NDArray[np.int64]) -> None:
        """A REVERT_BEGIN record with the sorted blocks to rewrite."""
        self.append(RecordType.REVERT_BEGIN, _U64.pack(seq) + blocks.astype("<i8").tobytes())

    def revert_progress(self, cursor: int) -> None:
        """A REVERT_PROGRESS record."""
        self.append(RecordType.REVERT_PROGRESS, _U64.pack(cursor))

    def close(self) -> None:
        """Close the file descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _dump(value: Any) -> bytes:
    return COMPACT_JSON.encode(value).encode("utf-8")


def read_journal(path: str, generation: int, volume_id: UUID) -> tuple[list[Record], int]:
    """Every record of a journal, and where the next one would go.

    The journal ends at the first all-zero header; any damage before that, and any valid
    record after it, raises ``VssStoreCorruptError``.
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
    if len(raw) % _HEAD.size:
        raise VssStoreCorruptError(f"journal {path!r} is truncated (odd length {len(raw)})")
    records: list[Record] = []
    pos = _JHEAD.size
    size = len(raw)
    while pos < size:
        head = raw[pos : pos + _HEAD.size]
        if head == _ZERO_HEAD:
            _check_tail(raw, pos + _HEAD.size, len(records), path)
            break
        length, index, rtype, zero, pcrc, zero64, hcrc = _HEAD.unpack(head)
        if hcrc != _crc32(head[:24]) or zero or zero64 or head[28:] != _PAD4:
            raise VssStoreCorruptError(f"journal {path!r}: corrupt record header at byte {pos}")
        if index != len(records):
            raise VssStoreCorruptError(
                f"journal {path!r}: record {index} at byte {pos}, expected {len(records)}"
            )
        end = pos + _HEAD.size + length
        if end > size:
            raise VssStoreCorruptError(f"journal {path!r} is truncated inside record {index}")
        payload = raw[pos + _HEAD.size : end]
        if _crc32(payload) != pcrc:
            raise VssStoreCorruptError(f"journal {path!r}: record {index} fails its CRC")
        try:
            kind = RecordType(rtype)
        except ValueError:
            raise VssStoreCorruptError(
                f"journal {path!r}: unknown record type {rtype} at byte {pos}"
            ) from None
        records.append(Record(kind, payload))
        pos = end + (-length % _HEAD.size)
        if raw[end:pos].count(0) != pos - end:  # padding is outside the CRCs: must be zero
            raise VssStoreCorruptError(f"journal {path!r}: record {index} has dirty padding")
    return records, pos


def _check_tail(raw: bytes, start: int, expected: int, path: str) -> None:
    """After the end: only zeros or the payload of an append that never got its header.  A
    valid header numbered ``expected`` or later means a zeroed header hides records."""
    tail = np.frombuffer(raw, dtype="<u8", offset=start).reshape(-1, _HEAD.size // 8)
    for row in np.flatnonzero(tail.any(axis=1)).tolist():
        pos = start + row * _HEAD.size
        head = raw[pos : pos + _HEAD.size]
        fields = _HEAD.unpack(head)
        if fields[6] == _crc32(head[:24]) and fields[1] >= expected:
            raise VssStoreCorruptError(
                f"journal {path!r}: record {fields[1]} at byte {pos} lies after a zeroed header"
            )


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
