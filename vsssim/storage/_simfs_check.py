"""simfs consistency check (``chkdsk`` without repair).

Reads everything from the device afresh, never from a mount's caches, and reports every problem
it finds as one sentence; an empty list means the file system is consistent.  Given the mount's
store it then also verifies that the write-through caches equal the device, which is the
property that makes snapshots of a live volume consistent.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from vsssim.errors import VssStoreCorruptError
from vsssim.storage._simfs_alloc import Bitmap
from vsssim.storage._simfs_layout import (
    BITS_PER_BITMAP_BLOCK,
    BLOCK_SIZE,
    BMAP_MAGIC,
    IMAP_MAGIC,
    INODE_SIZE,
    KIND_DIR,
    KIND_FILE,
    ROOT_INO,
    Inode,
    decode_dir_block,
    decode_ext_block,
)
from vsssim.storage._simfs_paths import upcase, validate_name
from vsssim.storage._simfs_store import NoFileSystemError, Store, read_bitmap, read_superblock
from vsssim.storage.blockdev import BlockDevice

__all__ = ["check_device"]

_SHOW = 10  # list at most this many blocks per kind of bitmap disagreement
_INODES_PER_READ = 4096  # 1 MiB of inode table per device read


def check_device(device: BlockDevice, store: Store | None = None) -> list[str]:
    """Every inconsistency of the simfs on ``device`` (and of ``store``'s caches)."""
    checker = _Checker(device)
    checker.run()
    if store is not None and not checker.fatal:
        checker.compare(store)
    return checker.problems


class _Checker:
    def __init__(self, device: BlockDevice) -> None:
        self.device = device
        self.problems: list[str] = []
        self.fatal = False
        self.inodes: dict[int, Inode] = {}
        self.dir_blocks: dict[int, list[list[tuple[str, int]]]] = {}

    def run(self) -> None:
        try:
            self.sb = read_superblock(self.device)
            self.blocks = read_bitmap(self.device, self.sb, BMAP_MAGIC)
            self.imap = read_bitmap(self.device, self.sb, IMAP_MAGIC)
        except NoFileSystemError:
            self.problems.append("no simfs superblock on the device")
            self.fatal = True
            return
        except VssStoreCorruptError as exc:
            self.problems.append(exc.message)
            self.fatal = True
            return
        self._check_bitmaps()
        # Owner of every block: 0 = nobody, -1 = file-system metadata, else an inode.
        self.owner = np.zeros(self.sb.total_blocks, dtype=np.int32)
        self.owner[: self.sb.data_start] = -1
        self._load_inodes()
        self._check_tree()
        self._check_allocation()

    # ------------------------------------------------------------------------ bitmaps
    def _check_bitmaps(self) -> None:
        sb = self.sb
        if sb.free_blocks != self.blocks.free:
            self.problems.append(
                f"superblock free block count {sb.free_blocks} != {self.blocks.free} free in "
                "the block bitmap"
            )
        if sb.free_inodes != self.imap.free:
            self.problems.append(
                f"superblock free inode count {sb.free_inodes} != {self.imap.free} free in "
                "the inode bitmap"
            )
        if self.blocks.bits[: sb.data_start].count(0):
            self.problems.append("metadata blocks are marked free in the block bitmap")
        if not self.imap.bits[0] or not self.imap.bits[ROOT_INO]:
            self.problems.append("the inode bitmap does not reserve the null and root inodes")
        for bitmap, start, count in (
            (self.blocks, sb.bmap_start, sb.bmap_blocks),
            (self.imap, sb.imap_start, sb.imap_blocks),
        ):
            self._check_padding(bitmap, start, count)

    def _check_padding(self, bitmap: Bitmap, start: int, count: int) -> None:
        tail = bitmap.nbits - (count - 1) * BITS_PER_BITMAP_BLOCK
        raw = self.device.read((start + count - 1) * BLOCK_SIZE, BLOCK_SIZE)
        bits = np.unpackbits(np.frombuffer(raw[16:], dtype=np.uint8), bitorder="little")
        if bits[tail:].any():
            self.problems.append(f"bitmap block {start + count - 1} has bits set past its end")

    # ------------------------------------------------------------------------- inodes
    def _load_inodes(self) -> None:
        sb = self.sb
        base = sb.itable_start * BLOCK_SIZE
        chunk: bytes = b""
        chunk_first = 0  # first inode in ``chunk``
        for ino in range(1, sb.inode_count + 1):
            if not self.imap.bits[ino]:
                continue
            if not chunk_first <= ino < chunk_first + len(chunk) // INODE_SIZE:
                # Read the table a slice at a time, and only where inodes are in use.
                chunk_first = ino
                count = min(_INODES_PER_READ, sb.inode_count + 1 - ino)
                chunk = self.device.read(base + (ino - 1) * INODE_SIZE, count * INODE_SIZE)
            at = (ino - chunk_first) * INODE_SIZE
            raw = chunk[at : at + INODE_SIZE]
            try:
                node, count, chain = Inode.decode(raw, ino)
                self._read_chain(node, count, chain)
            except VssStoreCorruptError as exc:
                self.problems.append(exc.message)
                continue
            node.reindex()
            self.inodes[ino] = node
            for start, length in node.extents:
                self._own(start, length, ino, f"inode {ino} extent {start}+{length}")
            if node.kind == KIND_FILE and -(-node.size // BLOCK_SIZE) != node.nblocks:
                self.problems.append(
                    f"inode {ino}: size {node.size} needs {-(-node.size // BLOCK_SIZE)} blocks, "
                    f"its extents hold {node.nblocks}"
                )
            if node.kind == KIND_DIR and node.size != node.nblocks * BLOCK_SIZE:
                self.problems.append(
                    f"directory inode {ino}: size {node.size} != {node.nblocks} blocks"
                )

    def _read_chain(self, node: Inode, count: int, chain: int) -> None:
        sb = self.sb
        while len(node.extents) < count:
            if not sb.data_start <= chain < sb.total_blocks:
                raise VssStoreCorruptError(
                    f"simfs: inode {node.ino}: extent chain points at block {chain}"
                )
            self._own(chain, 1, node.ino, f"inode {node.ino} extent block {chain}")
            raw = self.device.read(chain * BLOCK_SIZE, BLOCK_SIZE)
            extents, following = decode_ext_block(raw, node.ino, f"extent block {chain}")
            if not extents:
                raise VssStoreCorruptError(f"simfs: extent block {chain} is empty")
            node.chain.append(chain)
            node.extents.extend(extents)
            chain = following
        if len(node.extents) != count or chain:
            raise VssStoreCorruptError(
                f"simfs: inode {node.ino}: extent chain does not match its count {count}"
            )

    def _own(self, start: int, length: int, ino: int, what: str) -> None:
        sb = self.sb
        if length <= 0 or start < sb.data_start or start + length > sb.total_blocks:
            self.problems.append(f"{what}: outside the data area")
            return
        span = self.owner[start : start + length]
        taken = np.flatnonzero(span)
        if taken.size:
            other = int(span[taken[0]])
            self.problems.append(
                f"{what}: block {start + int(taken[0])} is also owned by inode {other} "
                f"({taken.size} blocks shared)"
            )
        span[span == 0] = ino

    # --------------------------------------------------------------------------- tree
    def _check_tree(self) -> None:
        root = self.inodes.get(ROOT_INO)
        if root is None or root.kind != KIND_DIR:
            self.problems.append("the root inode is missing or not a directory")
            return
        if root.parent != ROOT_INO:
            self.problems.append(f"the root directory's parent is {root.parent}, not itself")
        refs: Counter[int] = Counter()
        stack = [ROOT_INO]
        seen = {ROOT_INO}
        while stack:
            dir_ino = stack.pop()
            for child in self._entries(dir_ino):
                refs[child] += 1
                node = self.inodes.get(child)
                if node is None:
                    if not (1 <= child <= self.sb.inode_count and self.imap.bits[child]):
                        self.problems.append(
                            f"directory inode {dir_ino} names inode {child}, which is free"
                        )
                    continue
                if node.parent != dir_ino:
                    self.problems.append(
                        f"inode {child} is listed in directory {dir_ino} but its parent is "
                        f"{node.parent}"
                    )
                if node.kind == KIND_DIR and child not in seen:
                    seen.add(child)
                    stack.append(child)
        for ino, node in self.inodes.items():
            expected = 1 if ino == ROOT_INO else refs[ino]
            if ino != ROOT_INO and not refs[ino]:
                self.problems.append(f"inode {ino} is in use but in no directory (orphan)")
            elif ino == ROOT_INO and refs[ino]:
                self.problems.append("the root directory is listed inside a directory")
            elif node.nlink != expected:
                self.problems.append(
                    f"inode {ino}: link count {node.nlink} but {expected} directory entries"
                )

    def _entries(self, dir_ino: int) -> list[int]:
        node = self.inodes[dir_ino]
        blocks: list[list[tuple[str, int]]] = []
        children: list[int] = []
        keys: set[str] = set()
        for lblock in range(node.nblocks):
            phys = _physical(node, lblock)
            where = f"directory block {phys} of inode {dir_ino}"
            try:
                entries = decode_dir_block(
                    self.device.read(phys * BLOCK_SIZE, BLOCK_SIZE), dir_ino, where
                )
            except VssStoreCorruptError as exc:
                self.problems.append(exc.message)
                blocks.append([])
                continue
            blocks.append(entries)
            for name, child in entries:
                try:
                    validate_name(name)
                except ValueError as exc:
                    self.problems.append(f"{where}: invalid name {name!r}: {exc}")
                key = upcase(name)
                if key in keys:
                    self.problems.append(f"{where}: name {name!r} appears twice")
                keys.add(key)
                children.append(child)
        self.dir_blocks[dir_ino] = blocks
        return children

    # --------------------------------------------------------------------- allocation
    def _check_allocation(self) -> None:
        marked = np.frombuffer(bytes(self.blocks.bits), dtype=np.uint8).astype(bool)
        owned = self.owner != 0
        leaked = np.flatnonzero(marked & ~owned)
        lost = np.flatnonzero(owned & ~marked)
        if leaked.size:
            shown = ", ".join(str(int(b)) for b in leaked[:_SHOW])
            self.problems.append(
                f"{leaked.size} blocks are marked used but owned by nothing: {shown}"
            )
        if lost.size:
            shown = ", ".join(str(int(b)) for b in lost[:_SHOW])
            self.problems.append(f"{lost.size} blocks are in use but marked free: {shown}")

    # ------------------------------------------------------------------------- caches
    def compare(self, store: Store) -> None:
        if store.sb.encode() != self.sb.encode():
            self.problems.append("cache: the mounted superblock differs from the device")
        if store.blocks.bits != self.blocks.bits:
            self.problems.append("cache: the mounted block bitmap differs from the device")
        if store.imap.bits != self.imap.bits:
            self.problems.append("cache: the mounted inode bitmap differs from the device")
        for ino, node in store.inodes.items():
            disk = self.inodes.get(ino)
            if disk is None or _inode_state(disk) != _inode_state(node):
                self.problems.append(f"cache: inode {ino} differs from the device")
        for ino, cache in store.dirs.items():
            disk_blocks = self.dir_blocks.get(ino)
            mine = [list(block.entries.values()) for block in cache.blocks]
            if disk_blocks is None or disk_blocks != mine:
                self.problems.append(f"cache: directory inode {ino} differs from the device")


def _physical(node: Inode, lblock: int) -> int:
    for (start, length), first in zip(node.extents, node.starts, strict=True):
        if first <= lblock < first + length:
            return start + lblock - first
    raise VssStoreCorruptError(f"simfs: inode {node.ino} has no block {lblock}")


def _inode_state(node: Inode) -> tuple[object, ...]:
    return (
        node.kind,
        node.generation,
        node.parent,
        node.size,
        node.created,
        node.modified,
        node.accessed,
        node.mtime,
        node.nlink,
        list(node.extents),
        list(node.chain),
    )
