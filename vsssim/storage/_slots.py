"""Slot allocation in the store file: reuse freed slots first, then grow at the end.

The store file is an array of block-sized slots shared by every diff area of the volume
(the qcow2 idea: one store, ownership moves, bytes do not).  Deleting a snapshot gives slots
back; the next copy-on-write takes them again, so the file stays as large as the peak of
preserved data instead of growing forever.

Free slots are kept as *runs* of consecutive slots, in numpy chunks of ``(starts, ends)``
(16 bytes per run, however long), plus the run being consumed as two Python ints.  Taking one
slot from that run is two integer operations, which matters on the 4 KiB write path; runs are
handed out lowest first, so a multi-block copy lands in consecutive slots and goes out as one
``pwrite``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["SlotAllocator"]

_EMPTY = np.zeros(0, np.int64)


class SlotAllocator:
    """Hands out slot numbers; ``high`` is the first slot never handed out (nor reserved)."""

    __slots__ = ("_chunks", "_cur", "_end", "_nfree", "high")

    def __init__(self, high: int = 0) -> None:
        self.high = high
        # stack of (starts, ends) runs, each chunk ordered so that its last run is the lowest
        self._chunks: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
        self._cur = 0  # the run being consumed: [_cur, _end)
        self._end = 0
        self._nfree = 0

    @classmethod
    def rebuilt(cls, high: int, owned: NDArray[np.int64]) -> SlotAllocator:
        """The allocator of a store whose first ``high`` slots exist and ``owned`` are in use."""
        high = max(high, int(owned.max()) + 1 if owned.size else 0)
        mask = np.ones(high, dtype=bool)
        mask[owned] = False
        alloc = cls(high)
        alloc.free(np.flatnonzero(mask).astype(np.int64))
        return alloc

    @property
    def nfree(self) -> int:
        """Slots below ``high`` that are free."""
        return self._nfree

    def _refill(self) -> bool:
        """Make the lowest run of the top chunk current; False if no free run is left."""
        while self._chunks:
            starts, ends = self._chunks[-1]
            self._cur, self._end = int(starts[-1]), int(ends[-1])
            if starts.size == 1:
                self._chunks.pop()
            else:
                self._chunks[-1] = (starts[:-1], ends[:-1])
            return True
        return False

    def take_one(self) -> int:
        """One slot (the single-block write path: no arrays built)."""
        if self._cur == self._end and not (self._nfree and self._refill()):
            slot = self.high
            self.high += 1
            return slot
        slot = self._cur
        self._cur += 1
        self._nfree -= 1
        return slot

    def take_run(self, count: int) -> int | None:
        """The first of ``count`` consecutive slots, or None if the next free ones are not
        consecutive (use :meth:`take` then)."""
        if self._cur == self._end and self._nfree:
            self._refill()
        if self._end - self._cur >= count:
            slot = self._cur
            self._cur += count
            self._nfree -= count
            return slot
        if self._nfree:
            return None
        slot = self.high
        self.high += count
        return slot

    def take(self, count: int) -> NDArray[np.int64]:
        """``count`` slots, free ones first (lowest runs first), then fresh ones."""
        parts: list[NDArray[np.int64]] = []
        need = count
        while need and (self._cur < self._end or self._refill()):
            k = min(need, self._end - self._cur)
            parts.append(np.arange(self._cur, self._cur + k, dtype=np.int64))
            self._cur += k
            self._nfree -= k
            need -= k
        if need:
            parts.append(np.arange(self.high, self.high + need, dtype=np.int64))
            self.high += need
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else _EMPTY

    def free(self, slots: NDArray[np.int64]) -> None:
        """Give ``slots`` back (they must be distinct and not free already)."""
        if not slots.size:
            return
        s = np.sort(slots)
        last = (s[1:] - s[:-1] != 1).nonzero()[0]  # where each run but the final one ends
        starts = np.concatenate((s[:1], s[last + 1]))
        ends = np.concatenate((s[last], s[-1:])) + 1
        self._chunks.append((starts[::-1], ends[::-1]))  # highest first: the last is the lowest
        self._nfree += int(slots.size)

    def add_fresh(self, upto: int) -> None:
        """Slots ``[high, upto)`` exist now (a reservation): make them free runs."""
        if upto > self.high:
            self._chunks.append((np.array([self.high]), np.array([upto])))
            self._nfree += upto - self.high
            self.high = upto

    def free_slots(self) -> NDArray[np.int64]:
        """Every free slot (for consistency checks)."""
        parts = [np.arange(self._cur, self._end, dtype=np.int64)]
        for starts, ends in self._chunks:
            parts += [np.arange(a, b, dtype=np.int64) for a, b in zip(starts, ends, strict=True)]
        return np.concatenate(parts)

    def nbytes(self) -> int:
        """Memory held by the free list."""
        return sum(int(a.nbytes + b.nbytes) for a, b in self._chunks)
