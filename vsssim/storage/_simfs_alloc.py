"""simfs allocation bitmaps: an in-memory mirror of an on-disk bitmap, and extent allocation.

The on-disk form packs one bit per item into checksummed bitmap blocks.  In memory each item is
one byte (0 free, 1 used) in a ``bytearray``: finding a free run of ``n`` blocks is then a single
C-speed ``bytearray.find(b"\\0" * n)`` and marking it a slice assignment, which keeps Python
overhead per allocation in microseconds (a 1 MiB file is one search, not 256 bit tests).
Changed bitmap blocks are remembered so that an operation rewrites only those.  The on-disk
image of a block, once built, is kept and updated bit by bit as items are marked and released,
so writing it back costs one CRC instead of packing its 32640 bits again.
"""

from __future__ import annotations

import zlib

import numpy as np

from vsssim.errors import VssStoreCorruptError
from vsssim.storage._simfs_layout import (
    BITMAP_HEADER,
    BITS_PER_BITMAP_BLOCK,
    CRC_FIELD,
    encode_bitmap_block,
)

__all__ = ["Bitmap"]

_USED = b"\x01"
_FREE = b"\x00"


class Bitmap:
    """One allocation bitmap (blocks or inodes) with free-run search.

    ``reserved`` items at the start are never handed out (metadata blocks, the null inode).
    ``dirty`` holds the indices of the bitmap blocks changed since :meth:`clean`.
    """

    def __init__(self, magic: bytes, nbits: int, reserved: int, packed: list[bytes]) -> None:
        self.magic = magic
        self.nbits = nbits
        self.reserved = reserved
        raw = np.frombuffer(b"".join(packed), dtype=np.uint8)
        self.bits = bytearray(np.unpackbits(raw, bitorder="little")[:nbits].tobytes())
        self.free = self.bits.count(0)
        self.dirty: set[int] = set()
        # On-disk images of bitmap blocks (with a view for checksumming), built on the first
        # block_image() of a block and from then on kept equal to ``bits`` by mark/release.
        self._images: dict[int, tuple[bytearray, memoryview]] = {}
        self._crc_seed = 0  # CRC-32 of the magic, set with the first kept image
        # Lowest index that may be free: searches start here instead of rescanning the full
        # prefix of a volume that fills from the front.
        self._hint = reserved

    @classmethod
    def fresh(cls, magic: bytes, nbits: int, reserved: int) -> Bitmap:
        """A bitmap with only the ``reserved`` prefix in use (for formatting)."""
        bitmap = cls(magic, nbits, reserved, [])
        bitmap.bits = bytearray(nbits)
        bitmap.bits[:reserved] = _USED * reserved
        bitmap.free = nbits - reserved
        bitmap.dirty = set(range(-(-nbits // BITS_PER_BITMAP_BLOCK)))
        return bitmap

    def is_used(self, index: int) -> bool:
        """True if item ``index`` is allocated."""
        return self.bits[index] == 1

    def mark(self, start: int, count: int) -> None:
        """Allocate ``[start, start + count)``; every item must be free."""
        end = start + count
        if self.bits.find(_USED, start, end) >= 0:
            raise VssStoreCorruptError(f"simfs: allocating {start}..{end - 1}, already in use")
        self.bits[start:end] = _USED * count
        self.free -= count
        self._touch(start, end, True)
        if start <= self._hint < end:
            self._hint = end

    def release(self, start: int, count: int) -> None:
        """Free ``[start, start + count)``; every item must be in use."""
        end = start + count
        if start < self.reserved or self.bits.find(_FREE, start, end) >= 0:
            raise VssStoreCorruptError(f"simfs: freeing {start}..{end - 1}, not all in use")
        self.bits[start:end] = _FREE * count
        self.free += count
        self._touch(start, end, False)
        if start < self._hint:
            self._hint = start

    def first_free(self) -> int:
        """The lowest free index (the caller checked :attr:`free` > 0)."""
        found = self.bits.find(_FREE, self._hint)
        if found < 0:
            found = self.bits.find(_FREE, self.reserved)
        self._hint = found
        return found

    def allocate(self, count: int, goal: int | None) -> list[tuple[int, int]]:
        """Allocate ``count`` items as a list of ``(start, length)`` runs (the caller checked
        :attr:`free`; a failed operation is rolled back by reloading the bitmap).

        Preference order, as in extent-based file systems: continue at ``goal`` (the block
        after the file's last one, so appends extend the last extent); else the first free run
        long enough for the rest; else the free runs in address order.
        """
        if count > self.free:
            raise VssStoreCorruptError("simfs: allocation larger than the free count")
        runs: list[tuple[int, int]] = []
        need = count
        if goal is not None and self.reserved <= goal < self.nbits and self.bits[goal] == 0:
            limit = min(goal + need, self.nbits)
            stop = self.bits.find(_USED, goal, limit)
            end = stop if stop >= 0 else limit
            self.mark(goal, end - goal)
            runs.append((goal, end - goal))
            need -= end - goal
        if need:
            whole = self.bits.find(_FREE * need, self._hint)
            if whole >= 0:
                self.mark(whole, need)
                runs.append((whole, need))
                need = 0
        pos = self._hint
        while need:
            start = self.bits.find(_FREE, pos)
            if start < 0:
                raise VssStoreCorruptError("simfs: free count and bitmap disagree")
            stop = self.bits.find(_USED, start, start + need)
            end = stop if stop >= 0 else min(start + need, self.nbits)
            self.mark(start, end - start)
            runs.append((start, end - start))
            need -= end - start
            pos = end
        return runs

    def block_image(self, index: int) -> bytes:
        """The on-disk image of bitmap block ``index``."""
        kept = self._images.get(index)
        if kept is None:
            lo = index * BITS_PER_BITMAP_BLOCK
            chunk = np.frombuffer(self.bits, dtype=np.uint8)[lo : lo + BITS_PER_BITMAP_BLOCK]
            packed = np.packbits(chunk, bitorder="little").tobytes()
            image = bytearray(encode_bitmap_block(self.magic, index, packed))
            self._images[index] = (image, memoryview(image))
            self._crc_seed = zlib.crc32(self.magic)
            return bytes(image)
        image, view = kept
        # The bits changed in place since: checksum again (the CRC covers the magic before
        # its field and everything after it, as encode_bitmap_block computes it).
        CRC_FIELD.pack_into(image, 4, zlib.crc32(view[8:], self._crc_seed))
        return bytes(image)

    def _set_image_bits(self, start: int, end: int, used: bool) -> None:
        """Set (``used``) or clear bits ``[start, end)`` in the kept block images."""
        first = start // BITS_PER_BITMAP_BLOCK
        last = (end - 1) // BITS_PER_BITMAP_BLOCK
        for index in range(first, last + 1) if first != last else (first,):
            kept = self._images.get(index)
            if kept is None:
                continue
            image = kept[0]
            base = index * BITS_PER_BITMAP_BLOCK
            # the bit range within this block
            lo = start - base if start > base else 0
            hi = end - base if end < base + BITS_PER_BITMAP_BLOCK else BITS_PER_BITMAP_BLOCK
            # Bytes of the image holding bits lo..hi-1 (little-endian bit order: bit i of
            # byte j is item 8 * j + i), and the masks of the bits in the first and last.
            at, to = BITMAP_HEADER + (lo >> 3), BITMAP_HEADER + ((hi - 1) >> 3)
            head = (0xFF << (lo & 7)) & 0xFF
            tail = 0xFF >> (7 - ((hi - 1) & 7))
            if at == to:
                head &= tail
            if used:
                image[at] |= head
                if at != to:
                    image[at + 1 : to] = b"\xff" * (to - at - 1)
                    image[to] |= tail
            else:
                image[at] &= ~head & 0xFF
                if at != to:
                    image[at + 1 : to] = bytes(to - at - 1)
                    image[to] &= ~tail & 0xFF

    def _touch(self, start: int, end: int, used: bool) -> None:
        """Items ``[start, end)`` became ``used`` (or free): their blocks are dirty, and the
        kept images follow."""
        first = start // BITS_PER_BITMAP_BLOCK
        last = (end - 1) // BITS_PER_BITMAP_BLOCK
        if first == last:  # (the usual change: one block)
            self.dirty.add(first)
        else:
            self.dirty.update(range(first, last + 1))
        if self._images:
            self._set_image_bits(start, end, used)
