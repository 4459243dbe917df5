"""Loading and saving the index of a shadow storage (see :mod:`vsssim.storage._journal`).

:func:`load_index` reads ``index.ckpt`` and replays ``journal.<generation>`` into a fresh
:class:`~vsssim.storage._cowstate.CowState`, applying each record through the same transition
the live call made.  It validates everything (checksums, then that every record fits the index
it is applied to) and writes nothing, so a damaged store is refused without being touched.
:func:`index_bytes` is the other direction: the whole index as one checkpoint.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vsssim.errors import VssInvalidArgumentError, VssStoreCorruptError, VssVolumeInUseError
from vsssim.storage._cowstate import CowState, RevertState
from vsssim.storage._journal import (
    Record,
    RecordType,
    decode_checkpoint,
    encode_checkpoint,
    read_journal,
)
from vsssim.storage.volume import Volume

__all__ = [
    "INDEX_FILE",
    "LOCK_FILE",
    "MAX_SNAPSHOTS",
    "STORE_FILE",
    "index_bytes",
    "journal_path",
    "load_index",
    "lock_directory",
]

STORE_FILE = "store.dat"
INDEX_FILE = "index.ckpt"
LOCK_FILE = "LOCK"
MAX_SNAPSHOTS = 512  #: the system provider's per-volume limit
_FORMAT = "vsssim-diffarea"
_VERSION = 1


def journal_path(directory: str, generation: int) -> str:
    """The journal file of checkpoint ``generation``."""
    return os.path.join(directory, f"journal.{generation}")


def index_bytes(
    st: CowState, volume: Volume, generation: int, max_size: int | None, max_snapshots: int
) -> bytes:
    """The checkpoint of ``st`` (frozen diff areas are compacted on the way)."""
    snaps_meta: list[dict[str, Any]] = []
    arrays: list[NDArray[np.int64]] = []
    newest = st.snaps[-1] if st.snaps else None
    for s in st.snaps:
        if s is newest:
            n = len(s.da.map)
            b = np.fromiter(s.da.map.keys(), np.int64, n)
            sl = np.fromiter(s.da.map.values(), np.int64, n)
            order = np.argsort(b)
            b, sl = b[order], sl[order]
        else:
            b, sl = s.da.arrays()
        ob = np.fromiter(s.overlay.keys(), np.int64, len(s.overlay))
        os_ = np.fromiter(s.overlay.values(), np.int64, len(s.overlay))
        arrays += [b, sl, ob, os_]
        snaps_meta.append(
            {
                "seq": s.seq,
                "id": str(s.id),
                "persistent": s.persistent,
                "created": s.created.timestamp(),
                "metadata": s.metadata,
            }
        )
    revert = None
    if st.revert is not None:
        revert = {"seq": st.revert.seq, "cursor": st.revert.cursor}
        arrays.append(st.revert.blocks)
    meta = {
        "format": _FORMAT,
        "version": _VERSION,
        "generation": generation,
        "volume_id": str(volume.id),
        "volume_size": volume.size,
        "block_size": volume.block_size,
        "next_seq": st.next_seq,
        "max_size": max_size,
        "max_snapshots": max_snapshots,
        "snapshots": snaps_meta,
        "revert": revert,
    }
    return encode_checkpoint(meta, arrays)


def lock_directory(directory: str) -> int:
    """Lock ``directory`` for this process (``flock``): one open store per directory."""
    fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise VssVolumeInUseError(
            f"the shadow storage in {directory!r} is already open (by this or another process)"
        ) from None
    return fd


def load_index(directory: str, volume: Volume) -> tuple[CowState, dict[str, Any], int]:
    """Read checkpoint + journal into a fresh state; validate everything, write nothing."""
    path = os.path.join(directory, INDEX_FILE)
    with open(path, "rb") as f:
        raw = f.read()
    meta, arrays = decode_checkpoint(raw, path)
    try:
        if meta["format"] != _FORMAT or meta["version"] != _VERSION:
            raise ValueError("unknown format or version")
        generation = int(meta["generation"])
        vid = uuid.UUID(meta["volume_id"])
        max_size = meta["max_size"]
        if max_size is not None:
            max_size = int(max_size)
        max_snapshots = int(meta["max_snapshots"])
        next_seq = int(meta["next_seq"])
        snaps = list(meta["snapshots"])
        revert = meta["revert"]
        geometry = (int(meta["volume_size"]), int(meta["block_size"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise VssStoreCorruptError(f"index {path!r}: bad description ({exc!r})") from None
    if vid != volume.id:
        raise VssInvalidArgumentError(
            f"the shadow storage in {directory!r} belongs to volume {vid}, not to {volume.id}"
        )
    if geometry != (volume.size, volume.block_size):
        raise VssStoreCorruptError(f"index {path!r}: volume geometry does not match the volume")
    if len(arrays) != 4 * len(snaps) + (revert is not None):
        raise VssStoreCorruptError(f"index {path!r}: array count does not match its snapshots")
    nblocks = volume.size // volume.block_size
    state = CowState()
    try:
        for i, s in enumerate(snaps):
            rec = state.add(
                int(s["seq"]),
                uuid.UUID(s["id"]),
                bool(s["persistent"]),
                datetime.fromtimestamp(float(s["created"]), UTC),
                _metadata_value(s["metadata"]),
            )
            db, ds, ob, os_ = arrays[4 * i : 4 * i + 4]
            _check_blocks(db, ds, nblocks, path, sorted_=True)
            _check_blocks(ob, os_, nblocks, path, sorted_=False)
            rec.da.blocks, rec.da.slots = db, ds
            rec.overlay = dict(zip(ob.tolist(), os_.tolist(), strict=True))
            if len(rec.overlay) != ob.size:
                raise ValueError("overlay lists a block twice")
            state.used += int(db.size + ob.size)
        if state.snaps:
            state.snaps[-1].da.expand()
        state.next_seq = max(state.next_seq, next_seq)
        if revert is not None:
            rb = arrays[-1]
            _check_blocks(rb, rb, nblocks, path, sorted_=True)
            state.revert = RevertState(int(revert["seq"]), rb, int(revert["cursor"]))
            if not 0 <= state.revert.cursor <= rb.size:
                raise ValueError("revert cursor out of range")
    except (KeyError, TypeError, ValueError) as exc:
        raise VssStoreCorruptError(f"index {path!r}: bad snapshot entry ({exc!r})") from None
    records, _ = read_journal(journal_path(directory, generation), generation, vid)
    limits = {"max_size": max_size, "max_snapshots": max_snapshots}
    for number, record in enumerate(records):
        try:
            _replay(state, record, nblocks, limits)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise VssStoreCorruptError(
                f"journal of {directory!r}: record {number} ({record.type.name}) does not fit "
                f"the index ({exc!r})"
            ) from None
        except VssStoreCorruptError as exc:
            raise VssStoreCorruptError(
                f"journal of {directory!r}: record {number}: {exc.message}"
            ) from None
    state.check()
    if limits["max_size"] is not None and limits["max_size"] < volume.block_size:
        raise VssStoreCorruptError(f"index {path!r}: max_size below one block")
    if not 1 <= int(limits["max_snapshots"] or 0) <= MAX_SNAPSHOTS:
        raise VssStoreCorruptError(f"index {path!r}: max_snapshots out of range")
    return state, limits, generation


def _metadata_value(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("metadata must map str to str")
    return dict(value)


def _check_blocks(
    blocks: NDArray[np.int64], slots: NDArray[np.int64], nblocks: int, path: str, *, sorted_: bool
) -> None:
    if blocks.size != slots.size:
        raise ValueError("block and slot arrays differ in length")
    if blocks.size:
        if blocks.min() < 0 or blocks.max() >= nblocks or slots.min() < 0:
            raise ValueError("block or slot out of range")
        if sorted_ and (np.diff(blocks) <= 0).any():
            raise ValueError("blocks not sorted/unique")


def _replay(state: CowState, record: Record, nblocks: int, limits: dict[str, Any]) -> None:
    """Apply one journal record to ``state`` (the same transition the live call made)."""
    kind = record.type
    if kind is RecordType.CREATE:
        seq, snap_id, persistent, created, metadata = record.create_fields()
        state.add(
            seq,
            snap_id,
            persistent,
            datetime.fromtimestamp(created, UTC),
            _metadata_value(metadata),
        )
    elif kind is RecordType.DELETE:
        state.remove(state.by_seq[record.seq()])
    elif kind is RecordType.COW or kind is RecordType.OVERLAY:
        snap = state.by_seq[record.seq()]
        blocks, slots = record.runs()
        if blocks.size and (blocks.max() >= nblocks):
            raise ValueError("block beyond the volume")
        if kind is RecordType.COW:
            state.add_preserved(snap, blocks, slots)
        else:
            state.add_overlay(snap, blocks, slots)
    elif kind is RecordType.METADATA:
        state.by_seq[record.seq()].metadata = _metadata_value(record.json_tail(8))
    elif kind is RecordType.RESIZE:
        value = int.from_bytes(record.payload[:8], "little", signed=True)
        limits["max_size"] = None if value == -1 else value
    elif kind is RecordType.REVERT_BEGIN:
        if state.revert is not None:
            raise ValueError("a second revert began before the first finished")
        seq = record.seq()
        if seq not in state.by_seq:
            raise KeyError(seq)
        blocks = np.frombuffer(record.payload, dtype="<i8", offset=8).astype(np.int64)
        if blocks.size and (blocks.min() < 0 or blocks.max() >= nblocks):
            raise ValueError("revert block out of range")
        state.revert = RevertState(seq, blocks, 0)
    elif kind is RecordType.REVERT_PROGRESS:
        if state.revert is None:
            raise ValueError("revert progress without a revert")
        cursor = record.seq()
        if not state.revert.cursor <= cursor <= state.revert.blocks.size:
            raise ValueError("revert cursor moves backwards or past the end")
        state.revert.cursor = cursor
        if cursor == state.revert.blocks.size:
            state.revert = None
