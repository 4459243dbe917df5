"""simfs metadata store: write-through caches of the on-disk metadata, and operations.

The device is the only truth.  The store keeps decoded copies of what it has read (superblock,
both bitmaps, inodes, directories) so that lookups cost dictionary accesses, and every change to
a cached structure is written back to the device before the public operation returns.

Writes are buffered per operation: changes mark structures dirty and queue data writes,
:meth:`Store.commit` writes everything at the end.  A failure before the commit (disk full, a
name that exists, a corrupt block) therefore leaves the device untouched, and
:meth:`Store.abort` reloads the caches from the device, undoing any half-made in-memory change;
a commit that fails reloads them too.  Either way the buffers are empty again when the
operation ends, ready for the next one.  All device writes of an operation happen inside the
caller's ``device.operation()``, so a snapshot sees either none or all of them.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Callable, Iterator

from vsssim.errors import (
    VssInsufficientStorageError,
    VssStoreCorruptError,
)
from vsssim.storage._simfs_alloc import Bitmap
from vsssim.storage._simfs_layout import (
    BLOCK_SIZE,
    BMAP_MAGIC,
    DIR_HEADER,
    EXTENTS_PER_BLOCK,
    IMAP_MAGIC,
    INLINE_EXTENTS,
    INODE_SIZE,
    KIND_DIR,
    MAGIC,
    ROOT_INO,
    DirBlock,
    Inode,
    Superblock,
    decode_bitmap_block,
    decode_dir_entries,
    decode_ext_block,
    encode_dir_block,
    encode_ext_block,
    entry_size,
)
from vsssim.storage._simfs_paths import upcase
from vsssim.storage.blockdev import BlockDevice, Buffer

__all__ = ["DirCache", "NoFileSystemError", "Store", "Walk", "read_bitmap", "read_superblock"]

#: A path walk of the mount: the inode reached, the names in stored case, and the inode of
#: each entry walked through (the last is the inode reached; none for the root).
Walk = tuple[Inode, tuple[str, ...], tuple[int, ...]]


class NoFileSystemError(Exception):
    """The device does not start with a simfs superblock (internal; the facade turns it into
    ``VssObjectNotFoundError``)."""


class DirCache:
    """A directory in memory: its blocks (logical order) and an index of every entry.

    ``index`` maps the upcased name to ``(stored name, inode, block number within the
    directory)`` so lookups, inserts and removals never scan the blocks.
    """

    __slots__ = ("blocks", "index")

    def __init__(self) -> None:
        self.blocks: list[DirBlock] = []
        self.index: dict[str, tuple[str, int, int]] = {}


# Store.load's first read.  The superblock, both bitmaps and the first inode-table block fill
# these 16 KiB (a default volume's copy-on-write block) on volumes of up to 32640 blocks
# (127.5 MiB, one block per bitmap).
_HEAD_BYTES = 4 * BLOCK_SIZE


def read_superblock(device: BlockDevice) -> Superblock:
    """The verified superblock of ``device``.

    :class:`NoFileSystemError` if there is no simfs, ``VssStoreCorruptError``
    if its checksum or geometry is wrong.
    """
    return decode_superblock(device.read(0, BLOCK_SIZE), device)


def decode_superblock(raw: bytes, device: BlockDevice) -> Superblock:
    """:func:`read_superblock` of the bytes ``raw`` read from the start of ``device``."""
    if raw[: len(MAGIC)] != MAGIC:
        raise NoFileSystemError("no simfs superblock")
    sb = Superblock.decode(raw)
    if sb.total_blocks > device.size // BLOCK_SIZE:
        raise VssStoreCorruptError(
            f"simfs: the superblock describes {sb.total_blocks} blocks but the device holds "
            f"only {device.size // BLOCK_SIZE}"
        )
    return sb


def read_bitmap(device: BlockDevice, sb: Superblock, magic: bytes) -> Bitmap:
    """Load and verify the block bitmap (``BMAP_MAGIC``) or the inode bitmap."""
    start, count = (
        (sb.bmap_start, sb.bmap_blocks) if magic == BMAP_MAGIC else (sb.imap_start, sb.imap_blocks)
    )
    return decode_bitmap(device.read(start * BLOCK_SIZE, count * BLOCK_SIZE), sb, magic)


def decode_bitmap(raw: bytes, sb: Superblock, magic: bytes) -> Bitmap:
    """Verify and decode the on-disk blocks ``raw`` of the block bitmap (``BMAP_MAGIC``) or
    the inode bitmap."""
    if magic == BMAP_MAGIC:
        start, count, nbits, reserved = sb.bmap_start, sb.bmap_blocks, sb.total_blocks, 0
        what = "block bitmap"
    else:
        start, count, nbits, reserved = sb.imap_start, sb.imap_blocks, sb.inode_count + 1, 1
        what = "inode bitmap"
    packed = [
        decode_bitmap_block(
            raw[i * BLOCK_SIZE : (i + 1) * BLOCK_SIZE], magic, i, f"{what} block {start + i}"
        )
        for i in range(count)
    ]
    bitmap = Bitmap(magic, nbits, reserved, packed)
    bitmap.reserved = sb.data_start if magic == BMAP_MAGIC else 1
    return bitmap


class Store:
    """Caches and per-operation write buffering for one mounted simfs (see module docstring)."""

    def __init__(self, device: BlockDevice) -> None:
        self.device = device
        # A device that applies a commit's pieces in one call (a Volume: one lock acquisition
        # instead of one per piece) is given them all at once; others get one write() each
        # (a function of the device, not a method of the store: no store -> store cycle).
        self._write_pieces: Callable[[list[tuple[int, Buffer]]], None] = getattr(
            device, "write_pieces", None
        ) or functools.partial(_write_each, device)
        #: Path walks the mount remembered (names as spelled -> :data:`Walk`): forgotten here
        #: when an entry they went through is removed or respelled (:meth:`names_changed`)
        #: and when the caches are reloaded.  A remembered inode object is then still the
        #: cached one: only a reload replaces cached inodes, and only a removed inode is freed.
        self.walks: dict[tuple[str, ...], Walk] = {}
        self.load()

    # ------------------------------------------------------------------------- loading
    def load(self) -> None:
        """(Re)read the superblock and bitmaps; drop every other cache."""
        device = self.device
        # The superblock, the two bitmaps and the first inode-table block (the root
        # directory's inode) follow each other from block 0: one read, unless the bitmaps of a
        # large volume reach past the first _HEAD_BYTES (a second read brings the rest).
        raw = device.read(0, min(_HEAD_BYTES, device.size))
        self.sb = sb = decode_superblock(raw, device)
        end = (sb.itable_start + 1) * BLOCK_SIZE
        if len(raw) < end:
            raw += device.read(len(raw), end - len(raw))
        imap_at = sb.imap_start * BLOCK_SIZE
        itable_at = sb.itable_start * BLOCK_SIZE
        self.blocks = decode_bitmap(raw[sb.bmap_start * BLOCK_SIZE : imap_at], sb, BMAP_MAGIC)
        self.imap = decode_bitmap(raw[imap_at:itable_at], sb, IMAP_MAGIC)
        # Inode-table blocks as read, for decoding inodes met for the first time.  A slot
        # changes on disk only through an inode held in :attr:`inodes` (allocated, written or
        # freed through it), so a block read earlier still holds every slot not in there.
        self._itable: dict[int, bytes] = {sb.itable_start: raw[itable_at:end]}
        problem = _counter_problem(self.sb, self.blocks, self.imap)
        if problem:
            raise VssStoreCorruptError(f"simfs: {problem}")
        self.inodes: dict[int, Inode] = {}
        self.dirs: dict[int, DirCache] = {}
        self.walks.clear()
        self._reset_pending()
        root = self.inode(ROOT_INO)
        if root.kind != KIND_DIR:
            raise VssStoreCorruptError("simfs: the root inode is not a directory")

    def names_changed(self, ino: int) -> None:
        """Note that the entry of inode ``ino`` was removed or respelled: the remembered walks
        through it are stale (an inode has one entry, so those are the walks through that
        entry); the others still lead where they led."""
        walks = self.walks
        if walks:
            for names in [names for names, walk in walks.items() if ino in walk[2]]:
                del walks[names]

    def _reset_pending(self) -> None:
        self.data: list[tuple[int, Buffer]] = []
        self.dirty_inodes: dict[int, Inode] = {}
        self.dirty_dirblocks: set[tuple[int, int]] = set()
        self.sb_dirty = False
        self.touched = False
        if self.blocks.dirty:
            self.blocks.dirty.clear()
        if self.imap.dirty:
            self.imap.dirty.clear()

    def inode(self, ino: int) -> Inode:
        """The inode ``ino`` (cached; read and verified on first use)."""
        node = self.inodes.get(ino)
        if node is not None:
            return node
        sb = self.sb
        if not 1 <= ino <= sb.inode_count or self.imap.bits[ino] != 1:  # imap.is_used(ino)
            raise VssStoreCorruptError(f"simfs: reference to free or invalid inode {ino}")
        pos = sb.itable_start * BLOCK_SIZE + (ino - 1) * INODE_SIZE
        block = pos // BLOCK_SIZE
        at = pos - block * BLOCK_SIZE
        raw = self._itable.get(block)
        if raw is None:
            raw = self._itable[block] = self.device.read(block * BLOCK_SIZE, BLOCK_SIZE)
        node, count, chain = Inode.decode(raw[at : at + INODE_SIZE], ino)
        extents = node.extents
        if count > INLINE_EXTENTS:  # (else decode gave all ``count`` extents)
            while len(extents) < count:
                if not sb.data_start <= chain < sb.total_blocks:
                    raise VssStoreCorruptError(f"simfs: inode {ino}: extent chain block {chain}")
                raw = self.device.read(chain * BLOCK_SIZE, BLOCK_SIZE)
                more, following = decode_ext_block(raw, ino, f"extent block {chain}")
                if not more:
                    raise VssStoreCorruptError(f"simfs: inode {ino}: empty extent block {chain}")
                node.chain.append(chain)
                extents.extend(more)
                chain = following
            if len(extents) != count:
                raise VssStoreCorruptError(f"simfs: inode {ino}: extent count mismatch")
        for start, length in extents:
            if length <= 0 or start < sb.data_start or start + length > sb.total_blocks:
                raise VssStoreCorruptError(f"simfs: inode {ino}: extent {start}+{length}")
        if count == 1:  # reindex() of one extent
            node.starts = [0]
            node.nblocks = extents[0][1]
        else:
            node.reindex()
        self.inodes[ino] = node
        return node

    def directory(self, ino: int) -> DirCache:
        """The directory ``ino`` (cached; read and verified on first use)."""
        found = self.dirs.get(ino)
        if found is not None:
            return found
        node = self.inodes.get(ino) or self.inode(ino)
        cache = DirCache()
        index, blocks = cache.index, cache.blocks
        size = node.nblocks * BLOCK_SIZE
        extents = node.extents
        # A directory in one run of blocks (the usual case) is one read, without the
        # extent map's generator.
        pieces = (
            ((extents[0][0] * BLOCK_SIZE, size),)
            if len(extents) == 1
            else self.ranges(node, 0, size)
        )
        for dev_offset, length in pieces:
            raw = self.device.read(dev_offset, length)
            for i in range(0, length, BLOCK_SIZE):
                where = f"directory block {(dev_offset + i) // BLOCK_SIZE} of inode {ino}"
                block = DirBlock()
                entries = block.entries
                number = len(blocks)
                listed, block.used = decode_dir_entries(raw[i : i + BLOCK_SIZE], ino, where)
                # DirBlock.add() of each entry: ``used`` is the header's, which decoding
                # checked to be the entries' total size.
                for name, child in listed:
                    key = upcase(name)
                    if key in index:
                        raise VssStoreCorruptError(f"simfs: {where}: duplicate name {name!r}")
                    entries[key] = (name, child)
                    index[key] = (name, child, number)
                blocks.append(block)
        self.dirs[ino] = cache
        return cache

    # ---------------------------------------------------------------------- extent maps
    def ranges(self, node: Inode, offset: int, length: int) -> Iterator[tuple[int, int]]:
        """Device ``(offset, length)`` pieces holding bytes ``[offset, offset + length)`` of
        the inode's data (which must be allocated)."""
        if length <= 0:
            return
        first = offset // BLOCK_SIZE
        index = bisect_right(node.starts, first) - 1
        end = offset + length
        pos = offset
        while pos < end:
            start, count = node.extents[index]
            ext_lo = node.starts[index] * BLOCK_SIZE
            ext_hi = ext_lo + count * BLOCK_SIZE
            piece = min(end, ext_hi) - pos
            yield start * BLOCK_SIZE + (pos - ext_lo), piece
            pos += piece
            index += 1

    # ---------------------------------------------------------------------- operations
    def abort(self) -> None:
        """Forget the operation: nothing was written, so reload any cache it changed."""
        if self.touched:
            self.load()
        else:
            self._reset_pending()

    def commit(self) -> None:
        """Write everything the operation changed (data first, then metadata).

        The pieces go out in this order, one ``device.write`` each or all in one
        ``write_pieces`` call (same effect): the engine's batched write path, which reorders
        them, was measured slower for the handful of writes an operation makes (see
        benchmarks/simfs.py).  A failure reloads the caches, as in :meth:`commit_append`.
        """
        try:
            # The metadata goes after the queued data, in this list (the reset replaces it).
            writes = self.data
            sb = self.sb
            inodes = self.dirty_inodes
            slot0 = sb.itable_start * BLOCK_SIZE - INODE_SIZE  # inode n's slot: slot0 + n * size
            for ino in inodes:
                node = inodes[ino]
                writes.append((slot0 + ino * INODE_SIZE, node.encode()))
                if not node.chain:
                    continue
                overflow = node.extents[INLINE_EXTENTS:]
                for i, block in enumerate(node.chain):
                    chunk = overflow[i * EXTENTS_PER_BLOCK : (i + 1) * EXTENTS_PER_BLOCK]
                    following = node.chain[i + 1] if i + 1 < len(node.chain) else 0
                    image = encode_ext_block(node.ino, chunk, following)
                    writes.append((block * BLOCK_SIZE, image))
            # Most operations (an append within its last block) dirty no directory or bitmap
            # block: the tests skip three sorts of empty sets.
            if self.dirty_dirblocks:
                for ino, index in sorted(self.dirty_dirblocks):
                    block_no = self.physical_block(self.inodes.get(ino) or self.inode(ino), index)
                    image = encode_dir_block(ino, self.dirs[ino].blocks[index])
                    writes.append((block_no * BLOCK_SIZE, image))
            for bitmap, start in ((self.blocks, sb.bmap_start), (self.imap, sb.imap_start)):
                if bitmap.dirty:
                    for index in sorted(bitmap.dirty):
                        writes.append(((start + index) * BLOCK_SIZE, bitmap.block_image(index)))
            if self.sb_dirty:
                sb.free_blocks = self.blocks.free
                sb.free_inodes = self.imap.free
                writes.append((0, sb.encode()))
            self._write_pieces(writes)
        except BaseException:
            self.load()  # (see commit_append)
            raise
        self._reset_pending()

    def commit_append(self, node: Inode, offset: int, data: Buffer) -> None:
        """Commit an operation that wrote ``data`` at device ``offset``, inside the blocks
        ``node`` already had, and changed nothing else but ``node``'s fields (an append
        within its last block), with nothing queued: the pieces :meth:`commit` would write
        for it (the data, then the inode), without the buffers.  ``node`` has no extent
        chain."""
        slot = self.sb.itable_start * BLOCK_SIZE + (node.ino - 1) * INODE_SIZE
        try:
            self._write_pieces([(offset, data), (slot, node.encode())])
        except BaseException:
            # The device may hold part of the operation, or none of it: reload the caches to
            # say what it holds (which also empties the buffers).
            self.load()
            raise

    def mark_inode(self, node: Inode) -> None:
        """Queue ``node`` (and its extent chain) for writing."""
        self.touched = True
        self.dirty_inodes[node.ino] = node

    def queue_data(self, offset: int, data: Buffer) -> None:
        """Queue a data write at device ``offset``."""
        if len(data):
            self.data.append((offset, data))

    @staticmethod
    def physical_block(node: Inode, lblock: int) -> int:
        """Device block holding logical block ``lblock`` of ``node``."""
        index = bisect_right(node.starts, lblock) - 1
        start, _ = node.extents[index]
        return start + lblock - node.starts[index]

    # ----------------------------------------------------------------------- allocation
    def alloc_inode(self, kind: int, parent: int, stamp: tuple[int, float]) -> Inode:
        """A new inode of ``kind`` under directory ``parent``, times set to ``stamp``."""
        if not self.imap.free:
            raise VssInsufficientStorageError(
                f"simfs: no free file records (all {self.sb.inode_count - 1} are in use)"
            )
        self.touched = True
        ino = self.imap.first_free()
        self.imap.mark(ino, 1)
        generation = self.sb.next_generation
        self.sb.next_generation += 1
        self.sb_dirty = True
        ticks, seconds = stamp
        node = Inode(
            ino=ino,
            kind=kind,
            generation=generation,
            parent=parent,
            created=ticks,
            modified=ticks,
            accessed=ticks,
            mtime=seconds,
        )
        # (no extents: the defaults of starts and nblocks are what reindex() would set)
        self.inodes[ino] = node
        self.dirty_inodes[ino] = node  # mark_inode()
        return node

    def free_inode(self, node: Inode) -> None:
        """Release ``node``, its data blocks and its extent chain.  Its entry is removed
        first (:meth:`dir_remove`, which forgot the walks through it)."""
        self.touched = True
        self.resize_blocks(node, 0)
        self.imap.release(node.ino, 1)
        self.sb_dirty = True
        self.inodes.pop(node.ino, None)
        self.dirs.pop(node.ino, None)
        self.dirty_inodes.pop(node.ino, None)
        if node.kind == KIND_DIR:  # (only a directory has directory blocks to forget)
            self.dirty_dirblocks = {key for key in self.dirty_dirblocks if key[0] != node.ino}

    def chain_blocks_for(self, extent_count: int) -> int:
        """Extent-chain blocks needed for ``extent_count`` extents."""
        return -(-max(0, extent_count - INLINE_EXTENTS) // EXTENTS_PER_BLOCK)

    def check_space(self, blocks: int) -> None:
        """Raise ``VssInsufficientStorageError`` unless ``blocks`` blocks are free."""
        if blocks > self.blocks.free:
            raise VssInsufficientStorageError(
                f"simfs: the volume is full: {blocks} more blocks of {BLOCK_SIZE} bytes needed, "
                f"{self.blocks.free} free ({self.blocks.free * BLOCK_SIZE} bytes)"
            )

    def resize_blocks(self, node: Inode, nblocks: int) -> None:
        """Grow or shrink ``node``'s allocation to exactly ``nblocks`` blocks.

        Raises ``VssInsufficientStorageError`` (before any device write) if the volume cannot
        hold the new blocks plus any extent-chain blocks they need.
        """
        have = node.nblocks
        if nblocks == have:
            return
        self.touched = True
        self.sb_dirty = True
        if nblocks > have:
            need = nblocks - have
            if need > self.blocks.free:
                self.check_space(need)
            goal = node.extents[-1][0] + node.extents[-1][1] if node.extents else None
            for start, length in self.blocks.allocate(need, goal):
                if node.extents and node.extents[-1][0] + node.extents[-1][1] == start:
                    last_start, last_len = node.extents[-1]
                    node.extents[-1] = (last_start, last_len + length)
                else:
                    node.extents.append((start, length))
        else:
            drop = have - nblocks
            while drop:
                start, length = node.extents[-1]
                if length <= drop:
                    node.extents.pop()
                    self.blocks.release(start, length)
                    drop -= length
                else:
                    node.extents[-1] = (start, length - drop)
                    self.blocks.release(start + length - drop, drop)
                    drop = 0
        node.reindex()
        self._fit_chain(node)
        self.dirty_inodes[node.ino] = node  # mark_inode()

    def _fit_chain(self, node: Inode) -> None:
        if not node.chain and len(node.extents) <= INLINE_EXTENTS:
            return  # the usual case: the extents fit inline and there is no chain to free
        want = self.chain_blocks_for(len(node.extents))
        while len(node.chain) > want:
            self.blocks.release(node.chain.pop(), 1)
        if len(node.chain) < want:
            self.check_space(want - len(node.chain))
            while len(node.chain) < want:
                goal = node.chain[-1] + 1 if node.chain else None
                ((block, _),) = self.blocks.allocate(1, goal)
                node.chain.append(block)

    # ----------------------------------------------------------------------- directories
    def dir_insert(self, dir_node: Inode, name: str, ino: int) -> None:
        """Add entry ``name`` -> ``ino`` to directory ``dir_node`` (the name must be new).

        Not a :meth:`names_changed`: a new name leaves every existing path where it led.
        """
        self.touched = True
        cache = self.dirs.get(dir_node.ino) or self.directory(dir_node.ino)
        raw = name.encode("utf-8", "surrogatepass")
        # Free bytes a block needs for the entry, counted as DirBlock.room (which is
        # BLOCK_SIZE - DIR_HEADER - used) is: the first block with used <= limit.
        limit = BLOCK_SIZE - DIR_HEADER - entry_size(raw)
        index = -1
        for i, block in enumerate(cache.blocks):
            if block.used <= limit:
                index = i
                break
        if index < 0:
            self.resize_blocks(dir_node, dir_node.nblocks + 1)
            dir_node.size = dir_node.nblocks * BLOCK_SIZE
            cache.blocks.append(DirBlock())
            index = len(cache.blocks) - 1
        key = upcase(name)
        cache.blocks[index].add(key, name, ino, raw)
        cache.index[key] = (name, ino, index)
        self.dirty_dirblocks.add((dir_node.ino, index))

    def dir_remove(self, dir_node: Inode, key: str) -> None:
        """Remove the entry with upcased name ``key`` from directory ``dir_node``."""
        self.touched = True
        cache = self.dirs.get(dir_node.ino) or self.directory(dir_node.ino)
        _, ino, index = cache.index.pop(key)
        self.names_changed(ino)
        cache.blocks[index].remove(key)
        self.dirty_dirblocks.add((dir_node.ino, index))

    def dir_rename_entry(self, dir_node: Inode, key: str, new_name: str) -> None:
        """Change the stored spelling of an entry in place (a case-only rename).

        Falls back to remove-and-insert if the longer name does not fit in its block.
        """
        cache = self.directory(dir_node.ino)
        old_name, ino, index = cache.index[key]
        block = cache.blocks[index]
        grow = len(new_name.encode("utf-8", "surrogatepass")) - len(
            old_name.encode("utf-8", "surrogatepass")
        )
        if grow > block.room:
            self.dir_remove(dir_node, key)
            self.dir_insert(dir_node, new_name, ino)
            return
        self.touched = True
        self.names_changed(ino)
        block.respell(key, new_name)
        cache.index[key] = (new_name, ino, index)
        self.dirty_dirblocks.add((dir_node.ino, index))


def _write_each(device: BlockDevice, pieces: list[tuple[int, Buffer]]) -> None:
    """Write an operation's pieces in order, one ``device.write`` each (a device without
    ``write_pieces``)."""
    for offset, data in pieces:
        device.write(offset, data)


def _counter_problem(sb: Superblock, blocks: Bitmap, imap: Bitmap) -> str:
    if blocks.bits[: sb.data_start].count(0):
        return "metadata blocks are marked free in the block bitmap"
    if not imap.bits[0] or not imap.bits[ROOT_INO]:
        return "the inode bitmap does not reserve the root inode"
    if sb.free_blocks != blocks.free:
        return f"superblock says {sb.free_blocks} free blocks, the bitmap {blocks.free}"
    if sb.free_inodes != imap.free:
        return f"superblock says {sb.free_inodes} free inodes, the bitmap {imap.free}"
    return ""
