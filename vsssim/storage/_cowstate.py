"""The in-memory index of a shadow storage: snapshots, their diff areas, who owns which slot.

Theory of operation (volsnap's store chain, with two borrowed ideas):

* Snapshots are kept oldest first.  Each has a *diff area* (DA): the blocks that were first
  overwritten while it was the newest snapshot, each mapped to the store slot holding the old
  data.  A write preserves a block **once, into the newest DA only**; creating a snapshot just
  appends an empty DA, so it costs the same on a 1 GiB and a 1 TiB volume.
* Snapshot ``k`` reads block ``b`` from its private recovery-window overlay if it has one, else
  from the oldest DA ``j >= k`` that holds ``b``, else from the live volume (libvshadow's "apply
  the stores from the most recent back on top of the current volume", resolved oldest-first).
* Deleting snapshot ``k`` hands the blocks of DA ``k`` that DA ``k-1`` lacks over to DA ``k-1``
  (snapshot ``k-1`` read them through DA ``k``) and frees the rest.  Only slot numbers move,
  never bytes, so deleting the oldest, a middle or the newest snapshot copies no data.

Representation, chosen so memory grows with data written and not with the volume size:

* a DA is a ``dict`` block -> slot while it receives writes (the newest DA: an O(1) membership
  test per written block, no numpy call on the 4 KiB path) and, once frozen, is compacted on
  demand into two sorted int64 arrays (16 bytes per preserved block);
* a read *view* of snapshot ``k`` merges the frozen DAs ``k..newest-1`` into sorted arrays,
  first (oldest) owner wins; it is built lazily, cached for a few snapshots and rebuilt after a
  create or delete.  The newest DA is consulted separately, so writes never touch views.

Nothing here does I/O: the shadow storage applies the same transitions when it serves calls and
when it replays its journal, which is how a reopened store ends up exactly where it was.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import numpy as np
from numpy.typing import NDArray

from vsssim.errors import VssStoreCorruptError

__all__ = ["CowState", "DiffArea", "RevertState", "SnapState"]

EMPTY: NDArray[np.int64] = np.zeros(0, np.int64)
_MAX_VIEWS = 8  # cached read views (each costs up to 16 bytes per preserved block)


def _sorted_member(values: NDArray[np.int64], sorted_set: NDArray[np.int64]) -> NDArray[np.bool_]:
    """``values[i] in sorted_set`` for every i (``sorted_set`` ascending)."""
    if sorted_set.size == 0:
        return np.zeros(values.size, dtype=bool)
    pos = np.searchsorted(sorted_set, values)
    pos[pos == sorted_set.size] = 0
    return np.asarray(sorted_set[pos] == values)


class DiffArea:
    """The preserved blocks of one snapshot: block -> store slot.

    ``map`` holds recent entries, ``blocks``/``slots`` the compacted ones (sorted by block);
    a block is in one of the two, never both.  Compaction and expansion *replace* the objects
    instead of mutating them, so a reader holding the old ones still sees a consistent set.
    """

    __slots__ = ("blocks", "map", "slots")

    def __init__(self, blocks: NDArray[np.int64] = EMPTY, slots: NDArray[np.int64] = EMPTY) -> None:
        self.map: dict[int, int] = {}
        self.blocks = blocks
        self.slots = slots

    def __len__(self) -> int:
        return len(self.map) + int(self.blocks.size)

    def arrays(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """All entries as sorted arrays (compacting the dict part into them first)."""
        if self.map:
            n = len(self.map)
            b = np.fromiter(self.map.keys(), np.int64, n)
            s = np.fromiter(self.map.values(), np.int64, n)
            if self.blocks.size:
                b = np.concatenate((self.blocks, b))
                s = np.concatenate((self.slots, s))
            order = np.argsort(b, kind="stable")
            self.blocks, self.slots = b[order], s[order]
            self.map = {}
        return self.blocks, self.slots

    def expand(self) -> None:
        """Move every entry into the dict (the DA became the newest one again)."""
        if self.blocks.size:
            merged = dict(zip(self.blocks.tolist(), self.slots.tolist(), strict=True))
            merged.update(self.map)
            self.map = merged
            self.blocks = self.slots = EMPTY

    def all_slots(self) -> NDArray[np.int64]:
        """Every slot this DA owns (unordered)."""
        if not self.map:
            return self.slots
        extra = np.fromiter(self.map.values(), np.int64, len(self.map))
        return np.concatenate((self.slots, extra)) if self.slots.size else extra

    def get(self, block: int) -> int | None:
        """The slot preserving ``block``, or None."""
        slot = self.map.get(block)
        if slot is not None or not self.blocks.size:
            return slot
        i = int(np.searchsorted(self.blocks, block))
        if i < self.blocks.size and int(self.blocks[i]) == block:
            return int(self.slots[i])
        return None

    def nbytes(self) -> int:
        """Approximate memory: numpy buffers plus ~100 bytes per dict entry."""
        return int(self.blocks.nbytes + self.slots.nbytes) + 100 * len(self.map)


@dataclass(eq=False)
class SnapState:
    """Engine-side state of one snapshot."""

    seq: int
    id: UUID
    persistent: bool
    created: datetime
    metadata: dict[str, str]
    da: DiffArea = field(default_factory=DiffArea)
    # Recovery-window writes: block -> slot, private to this snapshot (never read through).
    overlay: dict[int, int] = field(default_factory=dict)
    deleted: bool = False
    view: tuple[NDArray[np.int64], NDArray[np.int64]] = (EMPTY, EMPTY)
    view_gen: int = -1


@dataclass(eq=False)
class RevertState:
    """A revert in progress: rewrite ``blocks`` (sorted) from snapshot ``seq``; done below
    ``cursor``."""

    seq: int
    blocks: NDArray[np.int64]
    cursor: int = 0


class CowState:
    """Snapshots, diff areas and slot ownership (no I/O)."""

    def __init__(self) -> None:
        self.snaps: list[SnapState] = []  # oldest first
        self.by_id: dict[UUID, SnapState] = {}
        self.by_seq: dict[int, SnapState] = {}
        self.next_seq = 1
        self.used = 0  # slots owned by diff areas and overlays
        self.gen = 0  # bumped by create/delete: read views older than this are stale
        self.revert: RevertState | None = None
        self._cached_views: deque[SnapState] = deque()

    # -- transitions ------------------------------------------------------------------------
    def add(
        self,
        seq: int,
        snap_id: UUID,
        persistent: bool,
        created: datetime,
        metadata: dict[str, str],
    ) -> SnapState:
        """Append a new newest snapshot with an empty diff area."""
        if seq < self.next_seq:
            raise VssStoreCorruptError(f"snapshot sequence {seq} is not increasing")
        if snap_id in self.by_id:
            raise VssStoreCorruptError(f"snapshot {snap_id} appears twice")
        snap = SnapState(seq, snap_id, persistent, created, dict(metadata))
        self.snaps.append(snap)
        self.by_id[snap_id] = snap
        self.by_seq[seq] = snap
        self.next_seq = seq + 1
        self.gen += 1
        return snap

    def remove(self, snap: SnapState) -> NDArray[np.int64]:
        """Delete ``snap``; returns the slots nobody owns any more.

        Its diff-area blocks that the next older snapshot does not hold pass to that snapshot
        (same slots, no data moved); if ``snap`` was the newest, the next older DA becomes the
        newest and is expanded back into a dict for the write path.
        """
        i = self.snaps.index(snap)
        freed: list[NDArray[np.int64]] = []
        if snap.overlay:
            freed.append(np.fromiter(snap.overlay.values(), np.int64, len(snap.overlay)))
        if i == 0:
            freed.append(snap.da.all_slots())
        else:
            older = self.snaps[i - 1]
            kb, ks = snap.da.arrays()
            if kb.size:
                ob, os_ = older.da.arrays()
                present = _sorted_member(kb, ob)
                freed.append(ks[present])
                keep = ~present
                if keep.any():
                    nb = np.concatenate((ob, kb[keep]))
                    ns = np.concatenate((os_, ks[keep]))
                    order = np.argsort(nb, kind="stable")
                    older.da.blocks, older.da.slots = nb[order], ns[order]
            if i == len(self.snaps) - 1:
                older.da.expand()
        del self.snaps[i]
        del self.by_id[snap.id]
        del self.by_seq[snap.seq]
        snap.deleted = True
        snap.view = (EMPTY, EMPTY)
        self.gen += 1
        out = np.concatenate(freed) if freed else EMPTY
        self.used -= int(out.size)
        return out

    def add_preserved(
        self, snap: SnapState, blocks: NDArray[np.int64], slots: NDArray[np.int64]
    ) -> None:
        """Replay of a COW record: ``blocks`` -> ``slots`` into the newest DA."""
        if not self.snaps or snap is not self.snaps[-1]:
            raise VssStoreCorruptError(
                f"journal preserves blocks into snapshot {snap.seq}, which is not the newest"
            )
        da = snap.da.map
        for b, s in zip(blocks.tolist(), slots.tolist(), strict=True):
            if b in da:
                raise VssStoreCorruptError(f"block {b} preserved twice into snapshot {snap.seq}")
            da[b] = s
        self.used += int(blocks.size)

    def add_overlay(
        self, snap: SnapState, blocks: NDArray[np.int64], slots: NDArray[np.int64]
    ) -> None:
        """Replay of an OVERLAY record."""
        ov = snap.overlay
        for b, s in zip(blocks.tolist(), slots.tolist(), strict=True):
            if b in ov:
                raise VssStoreCorruptError(f"overlay block {b} of snapshot {snap.seq} twice")
            ov[b] = s
        self.used += int(blocks.size)

    # -- reading ------------------------------------------------------------------------------
    def view(self, snap: SnapState) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Sorted ``(blocks, slots)`` that ``snap`` reads from frozen diff areas.

        Covers DAs ``snap .. newest-1`` (oldest owner wins); the newest DA and the overlay are
        consulted separately by the reader.  Call with the volume lock held when stale.
        """
        if snap.view_gen == self.gen:
            return snap.view
        i = self.snaps.index(snap)
        frozen = self.snaps[i:-1]
        if not frozen:
            view = (EMPTY, EMPTY)
        elif len(frozen) == 1:
            view = frozen[0].da.arrays()
        else:
            parts = [s.da.arrays() for s in frozen]
            b = np.concatenate([p[0] for p in parts])
            s = np.concatenate([p[1] for p in parts])
            # np.unique sorts stably here (return_index), so the first, i.e. oldest, owner wins
            ub, first = np.unique(b, return_index=True)
            view = (ub.astype(np.int64), s[first])
        snap.view, snap.view_gen = view, self.gen
        if snap in self._cached_views:
            self._cached_views.remove(snap)
        self._cached_views.append(snap)
        while len(self._cached_views) > _MAX_VIEWS:
            old = self._cached_views.popleft()
            old.view, old.view_gen = (EMPTY, EMPTY), -1
        return view

    def content_blocks(self, snap: SnapState) -> NDArray[np.int64]:
        """Sorted blocks where ``snap`` may differ from the live volume (what a revert rewrites)."""
        vb, _ = self.view(snap)
        parts = [vb]
        newest = self.snaps[-1].da
        if newest.map:
            parts.append(np.fromiter(newest.map.keys(), np.int64, len(newest.map)))
        if newest.blocks.size:
            parts.append(newest.blocks)
        if snap.overlay:
            parts.append(np.fromiter(snap.overlay.keys(), np.int64, len(snap.overlay)))
        return np.unique(np.concatenate(parts)).astype(np.int64)

    # -- whole-index queries -------------------------------------------------------------------
    def owned_slots(self) -> NDArray[np.int64]:
        """Every slot owned by a DA or an overlay (with duplicates, if the index is broken)."""
        parts = [s.da.all_slots() for s in self.snaps]
        parts += [np.fromiter(s.overlay.values(), np.int64, len(s.overlay)) for s in self.snaps]
        return np.concatenate(parts) if parts else EMPTY

    def check(self) -> None:
        """Raise ``VssStoreCorruptError`` unless the index is self-consistent."""
        owned = self.owned_slots()
        if owned.size != self.used:
            raise VssStoreCorruptError(
                f"index: {owned.size} slots owned but {self.used} counted as used"
            )
        if owned.size and (owned.min() < 0 or np.unique(owned).size != owned.size):
            raise VssStoreCorruptError("index: a store slot is owned twice (or negative)")
        seqs = [s.seq for s in self.snaps]
        if seqs != sorted(set(seqs)) or (seqs and seqs[-1] >= self.next_seq):
            raise VssStoreCorruptError("index: snapshot sequence numbers are not increasing")
        for s in self.snaps:
            if s.da.blocks.size and (np.diff(s.da.blocks) <= 0).any():
                raise VssStoreCorruptError(f"index: diff area of {s.seq} is not sorted/unique")
            if s.da.blocks.size and not s.da.map.keys().isdisjoint(s.da.blocks.tolist()):
                raise VssStoreCorruptError(f"index: diff area of {s.seq} lists a block twice")
        if self.snaps and self.snaps[-1].da.blocks.size:
            raise VssStoreCorruptError("index: the newest diff area is not fully expanded")
        if self.revert is not None and self.revert.seq not in self.by_seq:
            raise VssStoreCorruptError("index: a pending revert targets a missing snapshot")

    def nbytes(self) -> int:
        """Approximate memory of the index: diff areas, overlays, cached views."""
        total = 0
        for s in self.snaps:
            total += s.da.nbytes() + 100 * len(s.overlay) + 400 + 100 * len(s.metadata)
            if s.view_gen >= 0:
                total += int(s.view[0].nbytes + s.view[1].nbytes)
        if self.revert is not None:
            total += int(self.revert.blocks.nbytes)
        return total
