"""simfs: the small file system inside a vsssim volume image.

Applications and writers keep their files here; the system provider snapshots the volume at the
block level; backup programs read the files back through ``snapshot.fs``.  For that to show
exactly the tree of the snapshot instant, **all metadata lives in the device's blocks** and every
public operation runs its device writes inside one ``with device.operation():``, which the
engine never splits with a snapshot.  Python-side caches are write-through copies of the device.

Paths are Windows paths (``C:\\db\\data.mdf``), case-insensitive and case-preserving, with the
Win32 naming rules (see :mod:`vsssim.storage._simfs_paths`).

On-disk layout (little-endian; 4 KiB file-system blocks, independent of the device's 16 KiB
copy-on-write block; block ``n`` is bytes ``[n * 4096, (n + 1) * 4096)`` of the device)::

    block 0            superblock: magic "VSSIMFS\\0", version, geometry, free block and free
                       inode counters, next inode generation, creation FILETIME, label; CRC-32
    blocks 1..         block bitmap: 1 bit per block (1 = used; the metadata blocks are used);
                       each block = 16-byte header (magic "SBMP", CRC-32, index) + 32640 bits
    then               inode bitmap: 1 bit per inode number (bit 0, the null inode, and bit 1,
                       the root directory, always set); magic "SIMP", same block format
    then               inode table: 256-byte inodes, 16 per block, inode n in slot n - 1.  An
                       inode: CRC-32 (seeded with n), kind (file / directory), link count,
                       generation, parent directory, size, created / modified / accessed
                       FILETIMEs, clock seconds of the last modification, extent count, first
                       extent-chain block, 24 inline extents (first block, block count)
    data area          file data in contiguous extents; directory blocks; extent-chain blocks
                       (magic "SEXT", CRC-32, owner inode, count, next block, up to 509 extents)
                       for files with more than 24 extents

A directory is an inode whose data blocks are directory blocks: a 16-byte header (magic "SDIR",
CRC-32, owner inode, entry count, bytes used) and packed entries (inode, name length, UTF-8
name, stored in its original case).  Free inodes are whatever the inode bitmap says; their table
slots are not read.

Costs, with the copy-on-write engine in mind: writing a file's data is one ``device.write`` per
extent (allocation prefers one contiguous run, and appends continue the last extent); creating a
file touches its inode, one directory block, the parent's inode, one block of each bitmap and
the superblock; overwriting an existing file touches only its data and its inode.

Fidelity notes: last-access times are set on creation and modification only (NTFS's default
since Vista, with last-access updates disabled); directories' modified times change when entries
are added, removed or renamed, as on NTFS; an open handle blocks ``remove`` and ``rename`` of its
file (a Python handle on Windows lacks ``FILE_SHARE_DELETE``); hard links, streams, attributes,
ACLs and sparse files are not simulated.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

from typing_extensions import Buffer

from vsssim.clock import Clock, RealClock, VirtualClock, filetime
from vsssim.errors import (
    VssAccessDeniedError,
    VssDirectoryNotEmptyError,
    VssFileExistsError,
    VssFileNotFoundError,
    VssInvalidArgumentError,
    VssIsADirectoryError,
    VssNotADirectoryError,
    VssObjectNotFoundError,
)
from vsssim.storage._fifolock import FifoRLock
from vsssim.storage._simfs_alloc import Bitmap
from vsssim.storage._simfs_check import check_device
from vsssim.storage._simfs_file import SimFile, parse_mode
from vsssim.storage._simfs_layout import (
    BLOCK_SIZE,
    BMAP_MAGIC,
    IMAP_MAGIC,
    KIND_DIR,
    KIND_FILE,
    MAX_LABEL,
    ROOT_INO,
    Inode,
    Superblock,
)
from vsssim.storage._simfs_paths import compile_filespec, has_wildcards, parser_for, upcase
from vsssim.storage._simfs_store import NoFileSystemError, Store, Walk
from vsssim.storage.blockdev import BlockDevice, is_block_device

__all__ = ["BLOCK_SIZE", "FileStat", "SimFS", "filespec_matches", "format"]

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_LAST_FILETIME = filetime(datetime.max.replace(tzinfo=UTC))  # 9999-12-31, the last one
# Zero-filling gaps and extensions reuses one read-only buffer instead of allocating.
_ZEROS = bytes(1 << 20)
# Walked paths remembered at most (the cache is emptied when full).
_WALK_CACHE_SIZE = 1024
# _Change's "no path to name" marker.
_NO_PATH = object()
# The contexts that a device's operation() may hand out as one shared object and that exclude
# other threads by themselves: a mount uses them as its guard (see SimFS.__init__).
_EXCLUSIVE_OPERATIONS = (FifoRLock, type(threading.RLock()))
# The smallest data area format() accepts: room for a few files beside the root directory.
_MIN_DATA_BLOCKS = 4


@dataclass(frozen=True, slots=True)
class FileStat:
    """What ``GetFileAttributesEx`` / ``GetFileInformationByHandle`` report, simplified.

    ``path`` is the canonical path (stored case, under the mount's first root); ``size`` is 0
    for directories; times are UTC datetimes from the file system's clock; ``mtime`` is the
    clock's seconds (``clock.now()``) at the last modification, for age arithmetic.
    """

    path: str
    size: int
    is_dir: bool
    created: datetime
    modified: datetime
    accessed: datetime
    mtime: float


def filespec_matches(name: str, filespec: str) -> bool:
    """True if the file name ``name`` matches a VSS file spec (``IVssWMFiledesc::GetFilespec``)
    under the rules :meth:`SimFS.glob` uses: case-insensitive, ``*`` spans dots, ``?`` is one
    character, a trailing ``.*`` also matches names without a dot (``*.*`` matches all).
    ``ValueError`` for an empty spec or one holding a separator."""
    return compile_filespec(filespec).match(upcase(name)) is not None


def _from_filetime(ticks: int) -> datetime:
    return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)


def _blocks(size: int) -> int:
    return -(-size // BLOCK_SIZE)


def _inode_count(total_blocks: int) -> int:
    # ext4's default ratio (one inode per 16 KiB), at least 32 and at most 4 Mi.
    return min(max(32, total_blocks // 4), 1 << 22)


def _fits(total_blocks: int) -> bool:
    layout = Superblock.layout(total_blocks, _inode_count(total_blocks), created=0, label="")
    return total_blocks >= layout.data_start + _MIN_DATA_BLOCKS


def format(device: BlockDevice, *, label: str = "", clock: Clock | None = None) -> None:
    """Write an empty simfs on ``device`` (what ``format C: /fs:...`` does to a volume).

    Everything previously on the device becomes unreachable (data blocks are not wiped).
    Raises ``VssAccessDeniedError`` for a read-only device, ``ValueError`` if the device is too
    small or the label longer than 32 characters (the NTFS limit).
    """
    if not is_block_device(device):
        raise TypeError(f"device must implement BlockDevice, not {type(device).__name__}")
    if not isinstance(label, str):
        raise TypeError(f"label must be str, not {type(label).__name__}")
    if len(label) > MAX_LABEL or any(ord(ch) < 32 for ch in label):
        raise ValueError(f"label {label!r}: at most {MAX_LABEL} printable characters")
    if device.readonly:
        raise VssAccessDeniedError("simfs: cannot format a read-only device")
    total = min(device.size // BLOCK_SIZE, (1 << 32) - 1)
    clock = clock or RealClock()
    moment = clock.datetime()
    ticks, seconds = filetime(moment), clock.now()
    sb = Superblock.layout(total, _inode_count(total), created=ticks, label=label)
    if total < sb.data_start + _MIN_DATA_BLOCKS:  # not _fits(total), with this layout
        smallest = next(n for n in range(1, 1 << 20) if _fits(n))
        raise ValueError(
            f"device of {device.size} bytes is too small for simfs "
            f"(at least {smallest * BLOCK_SIZE} bytes)"
        )
    root = Inode(
        ino=ROOT_INO,
        kind=KIND_DIR,
        generation=1,
        parent=ROOT_INO,
        created=ticks,
        modified=ticks,
        accessed=ticks,
        mtime=seconds,
    )
    bitmaps = _empty_bitmaps(total) if total <= _CACHED_BITMAPS_MAX else _bitmap_images(total)
    with device.operation():
        # The block bitmap, the inode bitmap and the root inode (first in the inode table)
        # lie back to back: one write, in that order.
        device.write(sb.bmap_start * BLOCK_SIZE, bitmaps + root.encode())
        # The superblock last: until it is written the device is not a simfs.
        device.write(0, sb.encode())


def _bitmap_images(total_blocks: int) -> bytes:
    """Both bitmaps of a freshly formatted simfs of ``total_blocks`` blocks, as on disk (the
    block bitmap's blocks, then the inode bitmap's)."""
    sb = Superblock.layout(total_blocks, _inode_count(total_blocks), created=0, label="")
    blocks = Bitmap.fresh(BMAP_MAGIC, total_blocks, sb.data_start)
    imap = Bitmap.fresh(IMAP_MAGIC, sb.inode_count + 1, ROOT_INO + 1)
    return b"".join(
        [blocks.block_image(i) for i in range(sb.bmap_blocks)]
        + [imap.block_image(i) for i in range(sb.imap_blocks)]
    )


# Every example of a test formats volumes of the same few sizes: their empty bitmaps (a pure
# function of the size) are kept, up to 4 GiB volumes (132 KiB of images each).
_CACHED_BITMAPS_MAX = 1 << 20
_empty_bitmaps = functools.lru_cache(maxsize=8)(_bitmap_images)


class SimFS:
    """A mounted simfs volume: the file API that applications, writers and backups use.

    Models the Win32 file API on one volume (``CreateFile``, ``ReadFile``, ``WriteFile``,
    ``FindFirstFile`` with DOS wildcards, ``GetFileAttributesEx``, ``DeleteFile``,
    ``RemoveDirectory``, ``MoveFileEx``, ``CreateDirectory``).  Mount with :meth:`mount`.

    Every operation is atomic with respect to snapshots and thread-safe: it runs inside
    ``device.operation()`` and an internal lock, in that order (a device whose operation() is
    one shared reentrant lock, as a volume's and a shadow copy's are, is that lock itself);
    the properties below read under the same guard.  A mount on a read-only device
    (a shadow copy) refuses every change with ``VssAccessDeniedError``; :attr:`readonly` follows
    the device at each call, so a shadow copy opened for auto-recovery becomes writable.
    Only one writable mount per device: the caches assume nobody else writes the device (the
    engine calls :meth:`refresh` after reverting the volume underneath).
    """

    def __init__(
        self,
        device: BlockDevice,
        *,
        roots: tuple[str, ...] | list[str] = (),
        clock: Clock | None = None,
    ) -> None:
        if not is_block_device(device):
            raise TypeError(f"device must implement BlockDevice, not {type(device).__name__}")
        if isinstance(roots, str):
            roots = (roots,)
        self._device = device
        self._parser = parser_for(tuple(roots))
        self._clock: Clock = clock or RealClock()
        self._stamped: tuple[float, int] = (math.nan, 0)  # (clock.now(), its FILETIME)
        # A clock whose datetime() is VirtualClock's, ``epoch + timedelta(seconds=now())``:
        # its FILETIME is the epoch's plus now() in whole microseconds (the same integer
        # arithmetic filetime() does on the datetime), without building the datetime.
        cls = type(self._clock)
        self._epoch_ticks: int | None = (
            filetime(self._clock.epoch)
            if isinstance(self._clock, VirtualClock)
            and cls.datetime is VirtualClock.datetime
            and cls.now is VirtualClock.now
            else None
        )
        # Open handles per inode: they block remove/rename, like handles without share-delete.
        self._handles: dict[int, int] = {}
        # A leaf lock for the handle counts: closing a handle (possibly from a garbage
        # collection in any thread) must never wait for the operation locks.
        self._handles_lock = threading.Lock()
        # Every call runs inside ``with self._guard:``, which enters device.operation() and
        # excludes the mount's other calls.  A device whose operation() hands out one shared
        # reentrant lock (a volume's FifoRLock, a shadow copy's RLock) excludes them already:
        # that lock is the guard, and the mount needs no lock of its own.
        shared = device.operation()
        self._guard: AbstractContextManager[object] = (
            shared
            if device.operation() is shared and isinstance(shared, _EXCLUSIVE_OPERATIONS)
            else _OperationLock(device)
        )
        if device.size < BLOCK_SIZE:
            raise VssObjectNotFoundError(
                f"no simfs file system on this device: it holds only {device.size} bytes"
            )
        with self._guard:
            try:
                self._store = Store(device)
            except NoFileSystemError:
                raise VssObjectNotFoundError(
                    "no simfs file system on this device (no superblock): format it first "
                    "with vsssim.storage.simfs.format(device)"
                ) from None
        # Remembered path walks (see _walk_path), kept by the store, which forgets them when
        # the names they went through change.
        self._walks = self._store.walks

    @classmethod
    def mount(
        cls,
        device: BlockDevice,
        *,
        roots: tuple[str, ...] | list[str] = (),
        clock: Clock | None = None,
    ) -> SimFS:
        """Mount the simfs on ``device``, as Windows mounts a volume's file system.

        ``roots`` are the prefixes that name the volume root (``"C:\\\\"``, a volume GUID path,
        a shadow copy's device name), matched case-insensitively; results use the first.
        ``clock`` stamps file times (default: a :class:`~vsssim.clock.RealClock`).
        Raises ``VssObjectNotFoundError`` if the device holds no simfs and
        ``VssStoreCorruptError`` if the superblock or bitmaps fail their checks.
        """
        return cls(device, roots=roots, clock=clock)

    def __repr__(self) -> str:
        state = "read-only" if self.readonly else "writable"
        return f"<SimFS {self._parser.display_root!r} label={self.label!r} {state}>"

    # ----------------------------------------------------------------------- properties
    @property
    def device(self) -> BlockDevice:
        """The block device this file system lives on."""
        return self._device

    @property
    def roots(self) -> tuple[str, ...]:
        """The root prefixes this mount accepts (normalised to end with a backslash)."""
        return self._parser.roots

    @property
    def readonly(self) -> bool:
        """True while the device is read-only (checked again at every call)."""
        return self._device.readonly

    @property
    def clock(self) -> Clock:
        """The clock that stamps file times."""
        return self._clock

    @property
    def label(self) -> str:
        """The volume label given to :func:`format`."""
        with self._guard:
            return self._store.sb.label

    @property
    def block_size(self) -> int:
        """The file-system block (allocation unit, "cluster") size: 4096 bytes."""
        return BLOCK_SIZE

    @property
    def capacity(self) -> int:
        """Size of the file system in bytes, its own metadata included (``TotalNumberOfBytes``
        of ``GetDiskFreeSpaceEx``)."""
        with self._guard:
            return self._store.sb.total_blocks * BLOCK_SIZE

    @property
    def free_space(self) -> int:
        """Bytes still free for data (``TotalNumberOfFreeBytes``)."""
        with self._guard:
            return self._store.blocks.free * BLOCK_SIZE

    # ---------------------------------------------------------------------- operations
    # Every operation runs ``with self._guard:`` (a query) or
    # ``with self._guard, _Change(self, what, path) as store:`` (a change), spelled out at
    # each call site rather than wrapped in a ``@contextmanager`` generator: that layer cost
    # about 1.5 us per call, a tenth of a small append.

    def _stamp(self) -> tuple[int, float]:
        now = self._clock.now()
        seen, stamp = self._stamped
        if now != seen:  # a virtual clock stands still between events: convert once
            if self._epoch_ticks is not None:
                stamp = self._epoch_ticks + timedelta(seconds=now) // _MICROSECOND * 10
                if stamp > _LAST_FILETIME:  # past datetime.max: the datetime's own error
                    stamp = filetime(self._clock.datetime())
            else:
                stamp = filetime(self._clock.datetime())
            self._stamped = (now, stamp)
        return stamp, now

    # ------------------------------------------------------------------------- lookups
    def _walk_path(self, names: tuple[str, ...], path: object) -> Walk:
        """The inode at ``names``, the names in stored case and the inodes walked through.

        Successful walks are remembered per ``names`` (as spelled: other spellings of the
        same path are walked and remembered separately) until an entry they went through is
        removed or respelled (:meth:`Store.names_changed`); applications repeat the same few
        paths.
        """
        known = self._walks.get(names)
        if known is not None:
            return known
        store = self._store
        # ``cache.get(key) or load(key)``: Store.inode / Store.directory without their call
        # when cached (inodes and directory caches are always true).
        inodes, dirs = store.inodes, store.dirs
        node = inodes.get(ROOT_INO) or store.inode(ROOT_INO)
        stored: list[str] = []
        through: list[int] = []
        for depth, name in enumerate(names):
            if node.kind != KIND_DIR:
                raise VssNotADirectoryError(
                    f"{path!r}: {self._parser.join(stored)!r} is a file, not a directory"
                )
            entry = (dirs.get(node.ino) or store.directory(node.ino)).index.get(upcase(name))
            if entry is None:
                if depth == len(names) - 1:
                    raise VssFileNotFoundError(f"{path!r}: no such file or directory")
                raise VssFileNotFoundError(
                    f"{path!r}: the directory {self._parser.join([*stored, name])!r} does not exist"
                )
            stored.append(entry[0])
            through.append(entry[1])
            node = inodes.get(entry[1]) or store.inode(entry[1])
        walk = (node, tuple(stored), tuple(through))
        self._remember(names, walk)
        return walk

    def _remember(self, names: tuple[str, ...], walk: Walk) -> None:
        """Remember that ``names`` leads to ``walk`` (see :meth:`_walk_path`)."""
        if len(self._walks) >= _WALK_CACHE_SIZE:
            self._walks.clear()
        self._walks[names] = walk

    def _locate(
        self, names: tuple[str, ...], path: object
    ) -> tuple[Walk, tuple[str, int, int] | None]:
        """``(the parent directory's walk, the leaf's entry or None)``."""
        walk = self._walk_path(names[:-1], path)
        parent = walk[0]
        if parent.kind != KIND_DIR:
            raise VssNotADirectoryError(
                f"{path!r}: {self._parser.join(walk[1])!r} is a file, not a directory"
            )
        store = self._store
        cache = store.dirs.get(parent.ino) or store.directory(parent.ino)
        return walk, cache.index.get(upcase(names[-1]))

    def _file_node(self, path: object) -> Walk:
        names = self._parser.split(path)
        walk = self._walk_path(names, path)
        if walk[0].kind == KIND_DIR:
            raise VssIsADirectoryError(f"{path!r} is a directory, not a file")
        return walk

    # --------------------------------------------------------------------- data helpers
    def _read(self, node: Inode, offset: int, size: int) -> bytes:
        left = node.size - offset
        if size < 0 or size > left:
            size = left
        if size <= 0:
            return b""
        device = self._device
        extents = node.extents
        if len(extents) == 1:  # one run of blocks (most files): one read, no extent search
            return device.read(extents[0][0] * BLOCK_SIZE + offset, size)
        pieces = [device.read(o, n) for o, n in self._store.ranges(node, offset, size)]
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _queue_zeros(self, node: Inode, start: int, end: int) -> None:
        store = self._store
        for dev_offset, length in store.ranges(node, start, end - start):
            done = 0
            while done < length:
                piece = min(length - done, len(_ZEROS))
                store.queue_data(dev_offset + done, memoryview(_ZEROS)[:piece])
                done += piece

    def _modified(self, node: Inode, stamp: tuple[int, float]) -> None:
        node.modified = node.accessed = stamp[0]
        node.mtime = stamp[1]
        store = self._store  # Store.mark_inode, inlined: this runs on every change
        store.touched = True
        store.dirty_inodes[node.ino] = node

    def _pwrite(
        self, node: Inode, offset: int, data: bytes | memoryview, stamp: tuple[int, float]
    ) -> None:
        """Write ``data`` at ``offset`` of file ``node`` (zero-filling any gap)."""
        n = len(data)
        if not n:
            return
        store = self._store
        end = offset + n
        old = node.size
        if end > old:
            need = -(-end // BLOCK_SIZE)
            if need != node.nblocks:
                store.resize_blocks(node, need)
            if offset > old:
                self._queue_zeros(node, old, offset)
        # Fast path: the bytes lie in the last extent (an append, as a log writes): one piece,
        # without the extent-map search of Store.ranges.
        last = node.starts[-1] * BLOCK_SIZE
        if offset >= last:
            store.data.append((node.extents[-1][0] * BLOCK_SIZE + offset - last, data))
        else:
            pos = 0
            for dev_offset, length in store.ranges(node, offset, n):
                store.queue_data(dev_offset, data[pos : pos + length])
                pos += length
        if end > old:
            node.size = end
        self._modified(node, stamp)

    def _truncate(self, node: Inode, size: int, stamp: tuple[int, float]) -> None:
        old = node.size
        self._store.resize_blocks(node, _blocks(size))
        if size > old:
            self._queue_zeros(node, old, size)
        node.size = size
        self._modified(node, stamp)

    def _create(self, parent: Inode, name: str, kind: int, stamp: tuple[int, float]) -> Inode:
        store = self._store
        node = store.alloc_inode(kind, parent.ino, stamp)
        store.dir_insert(parent, name, node.ino)
        self._modified(parent, stamp)
        return node

    def _check_closed(self, node: Inode, path: object, what: str) -> None:
        if self._handles.get(node.ino):
            raise VssAccessDeniedError(
                f"simfs: cannot {what} {path!r}: the file is open (sharing violation); "
                "close its handles first"
            )

    # -------------------------------------------------------------------- file handles
    def open(self, path: object, mode: str = "rb") -> SimFile:
        """Open a file, like ``CreateFile`` + Python's ``open`` in binary mode.

        Modes ``rb``, ``r+b``, ``wb``, ``w+b``, ``xb``, ``x+b``, ``ab``, ``a+b`` (``w`` creates
        or truncates, ``x`` creates and fails if the file exists, ``a`` creates and writes at
        the end).  A write mode on a read-only volume raises ``VssAccessDeniedError``.
        """
        readable, writable, _, truncate, exclusive, append, must_exist = parse_mode(mode)
        names = self._parser.split(path)
        if not names:
            raise VssIsADirectoryError(f"{path!r} is the root directory, not a file")
        if writable and self.readonly:
            raise VssAccessDeniedError(f"simfs: cannot open {path!r} for writing: read-only volume")
        inner = _NO_CHANGE if must_exist else _Change(self, "open", path)
        counted = 0
        try:
            with self._guard, inner:
                (parent, stored, _), entry = self._locate(names, path)
                if entry is None:
                    if must_exist:
                        raise VssFileNotFoundError(f"{path!r}: no such file")
                    node = self._create(parent, names[-1], KIND_FILE, self._stamp())
                    leaf = names[-1]
                else:
                    if exclusive:
                        raise VssFileExistsError(f"{path!r} already exists")
                    node = self._store.inode(entry[1])
                    leaf = entry[0]
                    if node.kind == KIND_DIR:
                        raise VssIsADirectoryError(f"{path!r} is a directory, not a file")
                    if truncate and node.size:
                        self._truncate(node, 0, self._stamp())
                # Counted inside the operation, so no other thread can remove the file before
                # the handle exists; uncounted again below if the operation fails to commit.
                with self._handles_lock:
                    self._handles[node.ino] = self._handles.get(node.ino, 0) + 1
                counted = node.ino
                generation = node.generation
            return SimFile(
                self,
                counted,
                generation,
                self._parser.join([*stored, leaf]),
                "rb" if mode in ("b", "br") else mode,
                readable=readable,
                writable=writable,
                append=append,
            )
        except BaseException:
            if counted:
                self._handle_close(counted)
            raise

    def _handle_node(self, ino: int, generation: int) -> Inode:
        store = self._store
        if ino <= store.sb.inode_count and store.imap.is_used(ino):
            node = store.inode(ino)
            if node.generation == generation and node.kind == KIND_FILE:
                return node
        raise VssFileNotFoundError(
            "simfs: the file of this handle no longer exists (was the volume reverted?)"
        )

    def _handle_read(self, ino: int, generation: int, offset: int, size: int) -> bytes:
        with self._guard:
            return self._read(self._handle_node(ino, generation), offset, size)

    def _handle_write(self, ino: int, generation: int, offset: int | None, data: Buffer) -> int:
        view = memoryview(data).cast("B")
        with self._guard, _Change(self, "write to a file"):
            node = self._handle_node(ino, generation)
            at = node.size if offset is None else offset
            self._pwrite(node, at, view, self._stamp())
            return at

    def _handle_truncate(self, ino: int, generation: int, size: int) -> None:
        with self._guard, _Change(self, "truncate a file"):
            self._truncate(self._handle_node(ino, generation), size, self._stamp())

    def _handle_size(self, ino: int, generation: int) -> int:
        with self._guard:
            return self._handle_node(ino, generation).size

    def _handle_close(self, ino: int) -> None:
        with self._handles_lock:
            left = self._handles.get(ino, 0) - 1
            if left > 0:
                self._handles[ino] = left
            else:
                self._handles.pop(ino, None)

    # ----------------------------------------------------------------- whole-file calls
    def read_file(self, path: object) -> bytes:
        """The whole content of a file."""
        with self._guard:
            node, _, _ = self._file_node(path)
            return self._read(node, 0, node.size)

    def write_file(self, path: object, data: Buffer, *, create_dirs: bool = False) -> None:
        """Create or replace a file with ``data``, in one operation (a snapshot sees the old
        content or the new, never a mix).  ``create_dirs`` also creates missing parents.

        The existing blocks are reused in place (no reallocation when the size is unchanged);
        ``VssInsufficientStorageError`` leaves the file as it was.
        """
        names = self._parser.split(path)
        if not names:
            raise VssIsADirectoryError(f"{path!r} is the root directory, not a file")
        view = data if type(data) is bytes else memoryview(data).cast("B")
        with self._guard, _Change(self, "write", path) as store:
            stamp = self._stamp()
            if create_dirs:
                self._makedirs(names[:-1], path, stamp)
            (parent, _, _), entry = self._locate(names, path)
            if entry is None:
                node = self._create(parent, names[-1], KIND_FILE, stamp)
            else:
                node = store.inode(entry[1])
                if node.kind == KIND_DIR:
                    raise VssIsADirectoryError(f"{path!r} is a directory, not a file")
            size = len(view)
            store.resize_blocks(node, -(-size // BLOCK_SIZE))
            if size and len(node.extents) == 1:  # one run of blocks (the usual case): one piece
                store.data.append((node.extents[0][0] * BLOCK_SIZE, view))
            else:
                pos = 0
                for dev_offset, length in store.ranges(node, 0, size):
                    store.queue_data(dev_offset, view[pos : pos + length])
                    pos += length
            node.size = size
            self._modified(node, stamp)

    def append_file(self, path: object, data: Buffer) -> None:
        """Append ``data`` to a file, creating it if missing (``open(path, "ab")``)."""
        names = self._parser.split(path)
        if not names:
            raise VssIsADirectoryError(f"{path!r} is the root directory, not a file")
        # bytes go to the device as they are (the volume writes them without conversion)
        view = data if type(data) is bytes else memoryview(data).cast("B")
        # The protocol of _Change spelled out (refuse a read-only device, commit or abort):
        # appends are the most frequent change, and the object cost three calls.
        with self._guard:
            if self._device.readonly:
                raise _read_only("append to", path)
            store = self._store
            try:
                stamp = self._stamp()
                # Appends repeat the same path (a log): its walk is remembered as in _walk_path.
                known = self._walks.get(names)
                if known is not None:
                    node = known[0]
                else:
                    (parent, stored, through), entry = self._locate(names, path)
                    if entry is None:
                        node = self._create(parent, names[-1], KIND_FILE, stamp)
                        leaf = names[-1]
                    else:
                        node = store.inode(entry[1])
                        leaf = entry[0]
                    self._remember(names, (node, (*stored, leaf), (*through, node.ino)))
                if node.kind == KIND_DIR:
                    raise VssIsADirectoryError(f"{path!r} is a directory, not a file")
                size = node.size
                end = size + len(view)
                at = -1
                if (
                    end > size
                    and not store.touched
                    and not node.chain
                    and -(-end // BLOCK_SIZE) == node.nblocks
                    and size >= node.starts[-1] * BLOCK_SIZE
                ):
                    # The usual append (a log's): it stays in the file's last extent and
                    # blocks, so only the data and the inode change: _pwrite's effect, then
                    # commit_append writes what commit() would, without the buffers.
                    at = node.extents[-1][0] * BLOCK_SIZE + size - node.starts[-1] * BLOCK_SIZE
                    node.size = end
                    node.modified = node.accessed = stamp[0]
                    node.mtime = stamp[1]
                else:
                    self._pwrite(node, size, view, stamp)
            except BaseException:
                store.abort()
                raise
            if at < 0:
                store.commit()
            else:
                store.commit_append(node, at, view)

    def truncate(self, path: object, size: int) -> None:
        """Set a file's size (``SetEndOfFile``): cut, or extend with zeros."""
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"size must be int, not {type(size).__name__}")
        if size < 0:
            raise ValueError(f"size must not be negative, not {size}")
        with self._guard, _Change(self, "truncate", path):
            node, _, _ = self._file_node(path)
            self._truncate(node, size, self._stamp())

    # ------------------------------------------------------------------ queries
    def exists(self, path: object) -> bool:
        """True if ``path`` names a file or directory (``ValueError`` for an invalid path)."""
        return self._kind(path) is not None

    def is_file(self, path: object) -> bool:
        """True if ``path`` names a file."""
        return self._kind(path) == KIND_FILE

    def is_dir(self, path: object) -> bool:
        """True if ``path`` names a directory."""
        return self._kind(path) == KIND_DIR

    def _kind(self, path: object) -> int | None:
        names = self._parser.split(path)
        with self._guard:
            try:
                node, _, _ = self._walk_path(names, path)
            except (VssFileNotFoundError, VssNotADirectoryError):
                return None
            return node.kind

    def listdir(self, path: object = "\\") -> list[str]:
        """Names in a directory, in stored case, sorted case-insensitively."""
        names = self._parser.split(path)
        with self._guard:
            node, _, _ = self._walk_path(names, path)
            if node.kind != KIND_DIR:
                raise VssNotADirectoryError(f"{path!r} is a file, not a directory")
            return self._sorted_names(node)

    def _sorted_names(self, node: Inode) -> list[str]:
        entries = self._store.directory(node.ino).index
        # The upcased keys are unique: sorting them is sorting case-insensitively.
        return [entries[key][0] for key in sorted(entries)]

    def _children(self, node: Inode) -> tuple[list[str], list[str]]:
        store = self._store
        index = store.directory(node.ino).index
        dirs: list[str] = []
        files: list[str] = []
        for key in sorted(index):  # unique upcased keys, as in _sorted_names
            name, ino, _ = index[key]
            child = store.inodes.get(ino) or store.inode(ino)
            (dirs if child.kind == KIND_DIR else files).append(name)
        return dirs, files

    def walk(self, path: object = "\\") -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk`` (top-down): ``(dirpath, dirnames, filenames)`` with full paths
        under the mount's first root.  Pruning ``dirnames`` in place skips subtrees; a missing
        start path yields nothing; each directory is listed in its own operation."""
        names = self._parser.split(path)
        with self._guard:
            try:
                node, stored, _ = self._walk_path(names, path)
            except (VssFileNotFoundError, VssNotADirectoryError):
                return
            if node.kind != KIND_DIR:
                return
        stack = [stored]
        while stack:
            current = stack.pop()
            with self._guard:
                try:
                    node, _, _ = self._walk_path(current, path)
                except (VssFileNotFoundError, VssNotADirectoryError):
                    continue
                if node.kind != KIND_DIR:
                    continue
                dirs, files = self._children(node)
            yield self._parser.join(current), dirs, files
            if dirs:
                stack.extend([(*current, name) for name in reversed(dirs)])

    def glob(self, path: object, filespec: str = "*", *, recursive: bool = False) -> list[str]:
        """Full paths of the **files** under directory ``path`` whose names match ``filespec``
        (``FindFirstFile`` / VSS file-spec rules: ``*``, ``?``, ``*.*`` matches every file).

        ``recursive`` applies the spec in every subdirectory too (a writer's recursive file
        set).  The wildcards may instead end ``path`` (``glob("C:\\\\db\\\\*.mdf")``); a path
        without wildcards names the directory to search.  A missing directory (or a file given
        as the directory) matches nothing.  Order: each directory's files sorted, top-down.
        """
        text = self._parser_text(path)
        head, sep, last = text.rpartition("\\")
        if has_wildcards(last):
            if filespec != "*":
                raise ValueError(
                    f"glob({path!r}, {filespec!r}): give the wildcards in the path or in "
                    "filespec, not both"
                )
            text, filespec = head + sep, last
        pattern = compile_filespec(filespec)
        if not recursive:
            # One directory (a writer's usual file set): what walk() yields first, listed in
            # one operation without the generator.
            names = self._parser.split(text)
            with self._guard:
                try:
                    node, stored, _ = self._walk_path(names, text)
                except (VssFileNotFoundError, VssNotADirectoryError):
                    return []
                if node.kind != KIND_DIR:
                    return []
                if has_wildcards(filespec) or filespec.endswith("."):
                    _, files = self._children(node)
                else:
                    # A literal name matches itself only (case-insensitively): look it up
                    # instead of listing the directory and reading every entry's inode.
                    store = self._store
                    entry = store.directory(node.ino).index.get(upcase(filespec))
                    files = (
                        [entry[0]]
                        if entry is not None and store.inode(entry[1]).kind == KIND_FILE
                        else []
                    )
            base = self._parser.join(stored)
            if not base.endswith("\\"):
                base += "\\"
            return [base + name for name in files if pattern.match(upcase(name))]
        out: list[str] = []
        for dirpath, _dirs, files in self.walk(text):
            base = dirpath if dirpath.endswith("\\") else dirpath + "\\"
            out.extend([base + name for name in files if pattern.match(upcase(name))])
        return out

    @staticmethod
    def _parser_text(path: object) -> str:
        if type(path) is str:
            return path.replace("/", "\\")
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise TypeError(f"path must be str or a str path-like, not {type(path).__name__}")
        return path.replace("/", "\\")

    def stat(self, path: object) -> FileStat:
        """Size, kind and times of a file or directory."""
        names = self._parser.split(path)
        with self._guard:
            node, stored, _ = self._walk_path(names, path)
            return FileStat(
                path=self._parser.join(stored),
                size=node.size if node.kind == KIND_FILE else 0,
                is_dir=node.kind == KIND_DIR,
                created=_from_filetime(node.created),
                modified=_from_filetime(node.modified),
                accessed=_from_filetime(node.accessed),
                mtime=node.mtime,
            )

    # ----------------------------------------------------------------------- changes
    def remove(self, path: object) -> None:
        """Delete a file (``DeleteFile``).  Directories need :meth:`rmdir`."""
        names = self._parser.split(path)
        if not names:
            raise VssIsADirectoryError(f"{path!r} is the root directory, not a file")
        with self._guard, _Change(self, "remove", path) as store:
            (parent, _, _), entry = self._locate(names, path)
            if entry is None:
                raise VssFileNotFoundError(f"{path!r}: no such file")
            node = store.inode(entry[1])
            if node.kind == KIND_DIR:
                raise VssIsADirectoryError(f"{path!r} is a directory: use rmdir")
            self._check_closed(node, path, "remove")
            store.dir_remove(parent, upcase(names[-1]))
            store.free_inode(node)
            self._modified(parent, self._stamp())

    def rmdir(self, path: object) -> None:
        """Remove an empty directory (``RemoveDirectory``)."""
        names = self._parser.split(path)
        if not names:
            raise VssAccessDeniedError(f"simfs: cannot remove the root directory {path!r}")
        with self._guard, _Change(self, "remove", path) as store:
            (parent, _, _), entry = self._locate(names, path)
            if entry is None:
                raise VssFileNotFoundError(f"{path!r}: no such directory")
            node = store.inode(entry[1])
            if node.kind != KIND_DIR:
                raise VssNotADirectoryError(f"{path!r} is a file, not a directory")
            if store.directory(node.ino).index:
                raise VssDirectoryNotEmptyError(f"{path!r} is not empty")
            store.dir_remove(parent, upcase(names[-1]))
            store.free_inode(node)
            self._modified(parent, self._stamp())

    def mkdir(self, path: object) -> None:
        """Create one directory (``CreateDirectory``); its parent must exist."""
        names = self._parser.split(path)
        if not names:
            raise VssFileExistsError(f"{path!r} is the root directory, which exists")
        with self._guard, _Change(self, "create", path):
            (parent, _, _), entry = self._locate(names, path)
            if entry is not None:
                raise VssFileExistsError(f"{path!r} already exists")
            self._create(parent, names[-1], KIND_DIR, self._stamp())

    def makedirs(self, path: object, exist_ok: bool = False) -> None:
        """Create a directory and any missing parents (``SHCreateDirectoryEx``), in one
        operation.  ``VssFileExistsError`` if it exists and not ``exist_ok``, or if a file
        is in the way."""
        names = self._parser.split(path)
        with self._guard, _Change(self, "create", path):
            created = self._makedirs(names, path, self._stamp())
            if not created and not exist_ok:
                raise VssFileExistsError(f"{path!r} already exists")

    def _makedirs(self, names: tuple[str, ...], path: object, stamp: tuple[int, float]) -> bool:
        store = self._store
        node = store.inode(ROOT_INO)
        created = False
        for depth, name in enumerate(names):
            entry = store.directory(node.ino).index.get(upcase(name))
            if entry is None:
                node = self._create(node, name, KIND_DIR, stamp)
                created = True
                continue
            node = store.inode(entry[1])
            if node.kind != KIND_DIR:
                where = self._parser.join(list(names[: depth + 1]))
                raise VssFileExistsError(f"{path!r}: the file {where!r} is in the way")
        return created

    def rename(self, src: object, dst: object, *, replace: bool = False) -> None:
        """Move or rename a file or directory (``MoveFileEx``), across directories too, in one
        operation.  ``replace`` lets a file overwrite an existing file
        (``MOVEFILE_REPLACE_EXISTING``); a directory is never replaced.  A case-only rename
        changes the stored spelling."""
        s_names = self._parser.split(src)
        d_names = self._parser.split(dst)
        if not s_names:
            raise VssAccessDeniedError(f"simfs: cannot rename the root directory {src!r}")
        if not d_names:
            raise VssFileExistsError(f"{dst!r} is the root directory, which exists")
        with self._guard, _Change(self, "rename", src) as store:
            (s_parent, _, _), s_entry = self._locate(s_names, src)
            if s_entry is None:
                raise VssFileNotFoundError(f"{src!r}: no such file or directory")
            node = store.inode(s_entry[1])
            (d_parent, _, _), d_entry = self._locate(d_names, dst)
            s_key, d_key = upcase(s_names[-1]), upcase(d_names[-1])
            stamp = self._stamp()
            if s_parent.ino == d_parent.ino and s_key == d_key:
                if s_entry[0] != d_names[-1]:
                    self._check_closed(node, src, "rename")
                    store.dir_rename_entry(s_parent, s_key, d_names[-1])
                    self._modified(s_parent, stamp)
                return
            if node.kind == KIND_DIR:
                self._check_not_inside(node, d_parent, src, dst)
            self._check_closed(node, src, "rename")
            if d_entry is not None:
                target = store.inode(d_entry[1])
                if not replace:
                    raise VssFileExistsError(f"{dst!r} already exists (use replace=True)")
                if target.kind == KIND_DIR:
                    raise VssIsADirectoryError(f"{dst!r} is a directory and cannot be replaced")
                if node.kind == KIND_DIR:
                    raise VssNotADirectoryError(
                        f"cannot replace the file {dst!r} with the directory {src!r}"
                    )
                self._check_closed(target, dst, "replace")
                store.dir_remove(d_parent, d_key)
                store.free_inode(target)
            store.dir_remove(s_parent, s_key)
            store.dir_insert(d_parent, d_names[-1], node.ino)
            if node.parent != d_parent.ino:
                node.parent = d_parent.ino
                store.mark_inode(node)
            self._modified(s_parent, stamp)
            self._modified(d_parent, stamp)

    def _check_not_inside(self, node: Inode, target_dir: Inode, src: object, dst: object) -> None:
        current = target_dir
        while True:
            if current.ino == node.ino:
                raise VssInvalidArgumentError(
                    f"cannot move the directory {src!r} into itself ({dst!r})"
                )
            if current.ino == ROOT_INO:
                return
            current = self._store.inode(current.parent)

    # ----------------------------------------------------------------------- host copies
    def copy_out(self, path: object, host_path: str | os.PathLike[str]) -> None:
        """Copy a file out of the volume to ``host_path`` on the host file system."""
        data = self.read_file(path)
        with open(host_path, "wb") as handle:
            handle.write(data)

    def copy_in(
        self, host_path: str | os.PathLike[str], path: object, *, create_dirs: bool = False
    ) -> None:
        """Copy the host file ``host_path`` into the volume at ``path`` (one operation)."""
        with open(host_path, "rb") as handle:
            data = handle.read()
        self.write_file(path, data, create_dirs=create_dirs)

    # -------------------------------------------------------------------- maintenance
    def check(self) -> list[str]:
        """Verify the on-disk metadata (``chkdsk`` without repair): ``[]`` if consistent.

        Reads the device afresh: superblock and every checksum, allocation bitmap against the
        blocks actually owned, no block owned twice, the directory tree (reachability, parent
        links, one entry per inode, valid unique names), file sizes against extents, link
        counts and the free-space counters; then that the mount's caches equal the device.
        """
        with self._guard:
            return check_device(self._device, self._store)

    def refresh(self) -> None:
        """Drop every cache and re-read the device (after the volume was reverted
        underneath).  Open handles whose file no longer exists fail on their next call."""
        with self._guard:
            self._store.load()


def _read_only(what: str, path: object) -> VssAccessDeniedError:
    """The refusal of a change (``what``, naming ``path`` unless ``_NO_PATH``) on a read-only
    device."""
    if path is not _NO_PATH:
        what = f"{what} {path!r}"
    return VssAccessDeniedError(
        f"simfs: cannot {what}: the volume is read-only (a shadow copy is read-only outside "
        "its auto-recovery window)"
    )


class _Change:
    """One change to a mounted simfs, entered inside the mount's guard (``with fs._guard,
    _Change(fs, what, path) as store:``).

    Refuses a read-only device (``VssAccessDeniedError`` naming ``what``); at exit it commits
    the store's write buffer (data, then metadata) or, if the body raised, aborts it (the buffer
    is empty between operations).  A class instead of a ``@contextmanager`` generator because it
    runs on every change.
    """

    __slots__ = ("_fs", "_path", "_what")

    def __init__(self, fs: SimFS, what: str, path: object = _NO_PATH) -> None:
        # The message is only formatted on refusal: ``what`` plus ``path``'s repr, if given.
        self._fs = fs
        self._what = what
        self._path = path

    def __enter__(self) -> Store:
        fs = self._fs
        if fs._device.readonly:
            raise _read_only(self._what, self._path)
        return fs._store

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._fs._store.commit()
        else:
            self._fs._store.abort()


# The guard of a query that changes nothing (open() of an existing file).
_NO_CHANGE = nullcontext()


class _OperationLock:
    """``device.operation()`` and then a reentrant lock of the mount's own, as one context:
    the guard of a mount on a device whose operation() is not one shared exclusive lock (a
    ``@contextmanager`` per call, or no lock at all)."""

    __slots__ = ("_device", "_lock", "_ops")

    def __init__(self, device: BlockDevice) -> None:
        self._device = device
        self._lock = threading.RLock()
        # The operation contexts entered, innermost last.  Pushed and popped only while
        # holding _lock, so one thread at a time, each nested entry above the one around it.
        self._ops: list[AbstractContextManager[object]] = []

    def __enter__(self) -> None:
        op = self._device.operation()
        op.__enter__()
        try:
            self._lock.acquire()
        except BaseException:
            op.__exit__(*sys.exc_info())
            raise
        self._ops.append(op)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        op = self._ops.pop()
        self._lock.release()
        return op.__exit__(exc_type, exc, tb)
