"""Planning and gathering a snapshot read (pure functions; the store supplies the state).

A read of snapshot ``k`` over blocks ``[b0, b1]`` needs, per block, where the bytes are:

1. the snapshot's private recovery-window overlay, if it wrote the block;
2. else the *oldest* diff area ``j >= k`` holding the block: the frozen ones are merged in the
   snapshot's read *view* (sorted arrays), the newest one is its live ``dict``;
3. else the live volume, unchanged since the snapshot was taken.

:func:`plan_hits` lists the blocks of the range served by the diff area (cases 1 and 2) with
their slots; :func:`gather` turns that plan into one ``bytes`` object with a single
``bytes.join`` over memoryviews of read-only mappings of the image and of the store: one copy
into the result and no system call per piece, which is what makes a read with a quarter of its
blocks preserved cost little more than a plain ``pread``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["gather", "plan_hits"]


def plan_hits(
    view_blocks: NDArray[np.int64],
    view_slots: NDArray[np.int64],
    newest: dict[int, int],
    overlay: dict[int, int],
    b0: int,
    b1: int,
) -> tuple[list[int], list[int]]:
    """The blocks of ``[b0, b1]`` served by the diff area, ascending, and their slots.

    ``newest`` may be mutated by a concurrent writer: it is only probed key by key or copied
    in one C call (``list(d.items())``), never iterated.
    """
    found: dict[int, int] | None = None
    if newest:
        if len(newest) >= b1 - b0 + 1:
            get = newest.get
            found = {b: s for b in range(b0, b1 + 1) if (s := get(b)) is not None}
        else:
            found = {b: s for b, s in list(newest.items()) if b0 <= b <= b1}
    hb: list[int] = []
    hs: list[int] = []
    if view_blocks.size:
        i0 = int(view_blocks.searchsorted(b0))
        i1 = int(view_blocks.searchsorted(b1 + 1))
        if i1 > i0:
            hb, hs = view_blocks[i0:i1].tolist(), view_slots[i0:i1].tolist()
    extra = {b: s for b, s in list(overlay.items()) if b0 <= b <= b1} if overlay else None
    if found or extra:
        merged = found or {}
        merged.update(zip(hb, hs, strict=True))  # older diff areas win over the newest
        if extra:
            merged.update(extra)  # and the overlay over both
        hb = sorted(merged)
        hs = [merged[b] for b in hb]
    return hb, hs


def gather(
    volume_map: memoryview,
    store_map: memoryview,
    blocks: list[int],
    slots: list[int],
    offset: int,
    length: int,
    shift: int,
) -> tuple[bytes, int]:
    """``length`` bytes from ``offset``: ``blocks`` from their ``slots`` of the store, the
    rest from the volume; returns the bytes and how many came from the store."""
    end = offset + length
    pieces: list[memoryview] = []
    pos = offset  # next byte to gather
    from_store = 0
    n = len(blocks)
    i = 0
    while i < n:
        b, s = blocks[i], slots[i]
        j = i + 1  # extend the run while both blocks and slots are consecutive
        while j < n and blocks[j] == b + (j - i) and slots[j] == s + (j - i):
            j += 1
        lo = b << shift
        if lo > pos:
            pieces.append(volume_map[pos:lo])
        else:
            lo = pos
        hi = min((b + j - i) << shift, end)
        start = (s << shift) + lo - (b << shift)
        pieces.append(store_map[start : start + hi - lo])
        from_store += hi - lo
        pos = hi
        i = j
    if pos < end:
        pieces.append(volume_map[pos:end])
    return b"".join(pieces), from_store
