"""A simulated volume: a fixed-size, sparse image file written in place.

Models a Windows volume as volsnap sees it: the live data stays a plain image file (so
external tools can read it), and the system provider's copy-on-write happens *below* the file
system, on every write, at 16 KiB granularity.  The volume knows nothing about snapshots
itself: an attached :class:`~vsssim.storage.shadowstorage.ShadowStorage` installs a hook that
preserves old blocks before each write lands.

Geometry (size, block size, a volume id and the diff-area association) lives in a small JSON
sidecar ``<image>.vsvol.json``, so the image itself is byte-for-byte the volume.

Concurrency.  One :class:`~vsssim.storage._fifolock.FifoRLock` per volume serialises writes,
file-system operations, shadow-storage changes and flush-and-hold.  Reads of the live volume
take no lock (a real disk gives no atomicity between a concurrent read and write either).
``_epoch`` is a sequence lock for snapshot readers: it is odd while a write that preserved
blocks is replacing live data, and it changes whenever the snapshot structure changes, so a
lock-free snapshot read can tell that it raced and retry.
"""

from __future__ import annotations

import mmap
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from operator import attrgetter
from threading import get_ident
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from vsssim.clock import Clock, RealClock
from vsssim.errors import (
    VssBadStateError,
    VssFileExistsError,
    VssHoldWritesTimeoutError,
    VssInvalidArgumentError,
    VssRevertInProgressError,
    VssStoreCorruptError,
)
from vsssim.storage._fifolock import FifoRLock, run_notices
from vsssim.storage._fileio import (
    COMPACT_JSON,
    as_buffer,
    atomic_write,
    fdatasync,
    os_error,
    pwrite_all,
    read_json,
)
from vsssim.storage.blockdev import Buffer, check_range

if TYPE_CHECKING:
    from vsssim.storage.shadowstorage import ShadowStorage
    from vsssim.storage.simfs import SimFS

__all__ = ["SIDECAR_SUFFIX", "Volume", "VolumeStats", "WriteData"]

#: The geometry sidecar sits next to the image: ``<image>`` + this suffix.
SIDECAR_SUFFIX = ".vsvol.json"
_FORMAT = "vsssim-volume"
_VERSION = 1
MIN_BLOCK_SIZE = 4096

WriteData = bytes | bytearray | memoryview | NDArray[np.uint8]


@dataclass(slots=True)
class VolumeStats:
    """Counters of one open volume (since it was created or opened).

    ``cow_blocks``/``cow_bytes`` count old blocks preserved into the diff area (volsnap's
    "copy-on-write" I/O: one extra block read and one block write each).
    """

    reads: int = 0
    bytes_read: int = 0
    writes: int = 0
    bytes_written: int = 0
    batches: int = 0
    cow_blocks: int = 0
    cow_bytes: int = 0
    holds: int = 0


# Every counter of VolumeStats in one C call: its copy is ``VolumeStats(*_STATS(stats))``,
# two calls where dataclasses.replace costs fifteen (monitors read the counters often).
_STATS = attrgetter(*(f.name for f in fields(VolumeStats)))


def _check_geometry(size: object, block_size: object) -> tuple[int, int]:
    if not isinstance(block_size, int) or isinstance(block_size, bool):
        raise TypeError(f"block_size must be int, not {type(block_size).__name__}")
    if not isinstance(size, int) or isinstance(size, bool):
        raise TypeError(f"size must be int, not {type(size).__name__}")
    if block_size < MIN_BLOCK_SIZE or block_size & (block_size - 1):
        raise VssInvalidArgumentError(
            f"block_size must be a power of two >= {MIN_BLOCK_SIZE}, not {block_size}"
        )
    if size <= 0 or size % block_size:
        raise VssInvalidArgumentError(
            f"size must be a positive multiple of the block size ({block_size}), not {size}"
        )
    return size, block_size


def touched_blocks(offsets: NDArray[np.int64], length: int, shift: int) -> NDArray[np.int64]:
    """Sorted unique blocks covered by ``length`` bytes at each of ``offsets``."""
    lo = offsets >> shift
    hi = (offsets + (length - 1)) >> shift
    span = int((hi - lo).max()) + 1
    if span == 1:
        return np.unique(lo)
    if span <= 64:
        grid = lo[:, None] + np.arange(span, dtype=np.int64)
        return np.unique(grid[grid <= hi[:, None]])
    pieces = [
        np.arange(a, b + 1, dtype=np.int64) for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
    ]
    return np.unique(np.concatenate(pieces))


class Volume:
    """A simulated volume backed by a sparse image file (implements ``BlockDevice``).

    Create with :meth:`create`, reopen with :meth:`open`.  ``read``/``write`` work at any
    offset and length; ``write_many`` and ``write_batch`` apply many small writes with one
    copy-on-write pass; ``write_pieces`` applies a file system's few writes in order, as
    that many ``write`` calls.  ``held()`` is the kernel's flush-and-hold; ``operation()``
    brackets a multi-write file-system operation that no snapshot may split.

    Fidelity notes: volsnap skips blocks the file system marks free (its store bitmaps); the
    simulator preserves every written block.  The 10-second hold timeout is the coordinator's
    job (on its clock); the volume only models what holding means for writes.
    """

    def __init__(
        self,
        path: str,
        fd: int,
        meta: dict[str, Any],
        *,
        name: str | None,
        clock: Clock | None,
    ) -> None:
        self._path = path
        self._fd = fd
        self._size: int = int(meta["size"])
        self._bs: int = int(meta["block_size"])
        self._shift = self._bs.bit_length() - 1
        self._id = uuid.UUID(str(meta["id"]))
        self._meta = meta
        self._name = name
        self._clock: Clock = clock if clock is not None else RealClock()
        self._lock = FifoRLock()
        self._held = 0
        self._closed = False
        self._revert_pending = False
        self._store: ShadowStorage | None = None
        # The copy-on-write hook of the attached store, None while it has no snapshot: the
        # plain write path then costs one attribute test.
        self._cow: Callable[[int, int], None] | None = None
        self._cow_map: dict[int, int] = {}  # the newest diff area's block -> slot (read only)
        self._write_block: str | None = None
        self._epoch = 0
        self._stats = VolumeStats()
        self._fs: SimFS | None = None
        self._fs_lock = threading.Lock()
        self._rmap: memoryview | None = None
        self._notices = self._lock.notices
        self._update_write_block()

    # ------------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        size: int,
        block_size: int = 16 * 1024,
        *,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> Volume:
        """Create a sparse image of ``size`` bytes (like creating and formatting a new disk).

        ``block_size`` is the copy-on-write granularity (volsnap: 16 KiB, whatever the cluster
        size), a power of two >= 4096; ``size`` a positive multiple of it.  Refuses an existing
        file with ``VssFileExistsError``.
        """
        size, block_size = _check_geometry(size, block_size)
        path = os.fspath(path)
        sidecar = path + SIDECAR_SUFFIX
        if os.path.lexists(path) or os.path.lexists(sidecar):
            raise VssFileExistsError(f"volume image {path!r} (or its sidecar) already exists")
        meta: dict[str, Any] = {
            "format": _FORMAT,
            "version": _VERSION,
            "id": str(uuid.uuid4()),
            "size": size,
            "block_size": block_size,
            "diff_area": None,
        }
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise VssFileExistsError(f"volume image {path!r} already exists") from None
        except OSError as exc:
            raise os_error(exc, f"cannot create volume image {path!r}") from None
        try:
            os.ftruncate(fd, size)
            atomic_write(sidecar, _encode_meta(meta), durable=False)
        except OSError as exc:
            os.close(fd)
            os.unlink(path)
            raise os_error(exc, f"cannot create volume image {path!r}") from None
        return cls(path, fd, meta, name=name, clock=clock)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> Volume:
        """Reopen an image made by :meth:`create` (geometry from its sidecar).

        A missing image raises ``VssFileNotFoundError``; a sidecar that is unreadable or
        disagrees with the image raises ``VssStoreCorruptError``.
        """
        path = os.fspath(path)
        meta = read_json(path + SIDECAR_SUFFIX, "volume sidecar")
        try:
            if meta.get("format") != _FORMAT or meta.get("version") != _VERSION:
                raise ValueError("not a vsssim volume sidecar (format/version)")
            _check_geometry(meta["size"], meta["block_size"])
            uuid.UUID(str(meta["id"]))
            if meta.get("diff_area") is not None and not isinstance(meta["diff_area"], str):
                raise ValueError("diff_area must be a path or null")
        except (KeyError, ValueError, TypeError) as exc:
            raise VssStoreCorruptError(f"volume sidecar of {path!r} is invalid: {exc}") from None
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise os_error(exc, f"cannot open volume image {path!r}") from None
        actual = os.fstat(fd).st_size
        if actual != meta["size"]:
            os.close(fd)
            raise VssStoreCorruptError(
                f"volume image {path!r} holds {actual} bytes, its sidecar says {meta['size']}"
            )
        return cls(path, fd, meta, name=name, clock=clock)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("held" if self._held else "open")
        label = f" {self._name!r}" if self._name else ""
        return f"<Volume{label} {self._path!r} {self._size} bytes, {self._bs}-byte blocks, {state}>"

    # -------------------------------------------------------------------------- properties
    @property
    def path(self) -> str:
        """The image file."""
        return self._path

    @property
    def name(self) -> str | None:
        """The mount name the simulator gave the volume (``"C:\\\\"``), if any."""
        return self._name

    @property
    def id(self) -> uuid.UUID:
        """A stable id, recorded in the sidecar (volume GUID analogue)."""
        return self._id

    @property
    def size(self) -> int:
        """Size in bytes (fixed)."""
        return self._size

    @property
    def block_size(self) -> int:
        """Copy-on-write granularity in bytes."""
        return self._bs

    #: Always False: the live volume is writable (shadow copies are not).  A class attribute,
    #: not a property: file systems read it on every change.
    readonly: Final = False

    @property
    def clock(self) -> Clock:
        """The clock file times come from."""
        return self._clock

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def is_held(self) -> bool:
        """True while a thread holds writes with :meth:`held`."""
        return self._held > 0

    @property
    def stats(self) -> VolumeStats:
        """A copy of the counters."""
        return VolumeStats(*_STATS(self._stats))

    @property
    def shadow_storage(self) -> ShadowStorage | None:
        """The attached diff area, if one is open."""
        return self._store

    @property
    def diff_area_directory(self) -> str | None:
        """Where this volume's shadow storage lives (from the sidecar), or None."""
        value = self._meta.get("diff_area")
        return value if isinstance(value, str) else None

    @property
    def fs(self) -> SimFS:
        """The simfs mounted on this volume (mounted on first use, then cached)."""
        fs = self._fs
        if fs is None:
            from vsssim.storage.simfs import SimFS

            # Mount outside _fs_lock: mounting takes the volume lock, and a thread inside an
            # operation() may be waiting here for _fs_lock.  A losing racer's mount is dropped.
            fresh = SimFS.mount(self, roots=[self._name] if self._name else [], clock=self._clock)
            with self._fs_lock:
                if self._fs is None:
                    self._fs = fresh
                fs = self._fs
        return fs

    # ------------------------------------------------------------------------------- reads
    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (``ReadFile`` on the raw volume)."""
        if self._closed:
            raise ValueError("read from a closed volume")
        if type(offset) is not int or type(length) is not int or offset < 0 or length < 0:
            check_range(offset, length, self._size)
        if offset + length > self._size:
            check_range(offset, length, self._size)
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise VssStoreCorruptError(f"volume image {self._path!r} was truncated")
        st = self._stats
        st.reads += 1
        st.bytes_read += length
        return data

    def readinto(self, offset: int, buffer: Buffer | NDArray[np.uint8]) -> int:
        """Fill ``buffer`` from ``offset``; returns the number of bytes read."""
        if self._closed:
            raise ValueError("read from a closed volume")
        view = as_buffer(buffer)
        if view.readonly:
            raise TypeError("readinto needs a writable buffer")
        check_range(offset, len(view), self._size)
        n = os.preadv(self._fd, [view], offset)
        st = self._stats
        st.reads += 1
        st.bytes_read += n
        return n

    # ------------------------------------------------------------------------------ writes
    def write(self, offset: int, data: WriteData) -> None:
        """Write ``data`` at ``offset`` (``WriteFile`` on the raw volume).

        Old contents of the 16 KiB blocks touched are preserved first if a snapshot needs them.
        """
        self.write_pieces(((offset, data if type(data) is bytes else as_buffer(data)),))

    def write_pieces(self, pieces: Sequence[tuple[int, bytes | bytearray | memoryview]]) -> None:
        """Apply ``(offset, data)`` writes in order, as that many :meth:`write` calls would
        (a bad piece raises after the pieces before it were written), under one acquisition
        of the lock.  :meth:`write` is one piece.

        A file system's commit: its handful of pieces, data then metadata, in one call.
        ``data`` must be a flat byte buffer (``bytes``, ``bytearray`` or a ``"B"``
        memoryview).
        """
        lock = self._lock
        # Inside this thread's operation() (a file system's commit) the lock is already held:
        # a nested acquire/release pair would change nothing, and pending notices run when the
        # operation ends, so both are skipped.
        nested = lock.owner == get_ident()
        if not nested:
            lock.acquire()
        try:
            fd, size, shift, st = self._fd, self._size, self._shift, self._stats
            for offset, buf in pieces:
                n = len(buf)
                if type(offset) is not int or offset < 0 or offset + n > size:
                    check_range(offset, n, size)
                if self._write_block is not None:
                    self._refuse_write()
                if n:
                    cow = self._cow  # (re-read: a preservation may detach or replace it)
                    if cow is not None:
                        block = offset >> shift
                        if block != (offset + n - 1) >> shift or block not in self._cow_map:
                            cow(offset, n)
                    done = os.pwrite(fd, buf, offset)
                    if done != n:
                        pwrite_all(fd, memoryview(buf)[done:], offset + done)
                    if self._epoch & 1:
                        self._epoch += 1
                st.writes += 1
                st.bytes_written += n
        finally:
            if not nested:
                lock.release()
        if not nested and self._notices:
            self._run_notices()

    def write_many(
        self, offsets: Sequence[int] | NDArray[np.integer], length: int, data: WriteData
    ) -> None:
        """Write the same ``length`` bytes of ``data`` at each offset (one batch).

        Duplicated offsets resolve last-wins (they carry the same bytes); overlapping ranges are
        applied in the given order.  One copy-on-write pass covers the whole batch and
        non-overlapping writes go out in ascending offset order, which the page cache serves
        several times faster than scattered writes.
        """
        buf: bytes | memoryview = data if type(data) is bytes else as_buffer(data)
        if type(length) is not int or length < 0:
            raise TypeError(f"length must be a non-negative int, not {length!r}")
        if len(buf) != length:
            raise ValueError(f"data holds {len(buf)} bytes, length says {length}")
        offs = _offsets_array(offsets)
        if offs.size == 0:
            return
        lo, hi = int(offs.min()), int(offs.max())
        if lo < 0 or hi + length > self._size:
            check_range(lo if lo < 0 else hi, length, self._size)
        self._lock.acquire()
        try:
            if self._write_block is not None:
                self._refuse_write()
            if length:
                if self._cow is not None and self._store is not None:
                    self._store._preserve_blocks(touched_blocks(offs, length, self._shift))
                uniq = np.unique(offs)
                overlapping = uniq.size > 1 and bool((np.diff(uniq) < length).any())
                fd = self._fd
                for off in (offs if overlapping else uniq).tolist():
                    pwrite_all(fd, buf, off)
                if self._epoch & 1:
                    self._epoch += 1
            st = self._stats
            st.batches += 1
            st.writes += int(offs.size)
            st.bytes_written += int(offs.size) * length
        finally:
            self._lock.release()
        if self._notices:
            self._run_notices()

    def write_batch(self, items: Iterable[tuple[int, WriteData]]) -> None:
        """Apply ``(offset, data)`` writes as if one after the other, with one COW pass.

        Every item is validated before anything is written: a bad item changes nothing.
        """
        offs: list[int] = []
        bufs: list[bytes | memoryview] = []
        for item in items:
            try:
                off, data = item
            except (TypeError, ValueError):
                raise TypeError("write_batch items must be (offset, data) pairs") from None
            buf = data if type(data) is bytes else as_buffer(data)
            if type(off) is not int or off < 0 or off + len(buf) > self._size:
                check_range(off, len(buf), self._size)
            offs.append(off)
            bufs.append(buf)
        if not offs:
            return
        lens = np.fromiter((len(b) for b in bufs), np.int64, len(bufs))
        starts = np.asarray(offs, dtype=np.int64)
        self._lock.acquire()
        try:
            if self._write_block is not None:
                self._refuse_write()
            nz = lens > 0
            if self._cow is not None and self._store is not None and nz.any():
                blocks = [
                    np.arange(a, b + 1, dtype=np.int64)
                    for a, b in zip(
                        (starts[nz] >> self._shift).tolist(),
                        ((starts[nz] + lens[nz] - 1) >> self._shift).tolist(),
                        strict=True,
                    )
                ]
                self._store._preserve_blocks(np.unique(np.concatenate(blocks)))
            order = np.argsort(starts, kind="stable")
            ends = starts[order] + lens[order]
            overlapping = bool((starts[order][1:] < ends[:-1]).any())
            fd = self._fd
            for i in range(len(offs)) if overlapping else order.tolist():
                if bufs[i]:
                    pwrite_all(fd, bufs[i], offs[i])
            if self._epoch & 1:
                self._epoch += 1
            st = self._stats
            st.batches += 1
            st.writes += len(offs)
            st.bytes_written += int(lens.sum())
        finally:
            self._lock.release()
        if self._notices:
            self._run_notices()

    def _refuse_write(self) -> None:
        reason = self._write_block
        if reason == "closed":
            raise ValueError("write to a closed volume")
        if reason == "held":
            raise VssHoldWritesTimeoutError(
                "this thread holds writes on the volume (flush-and-hold) and writes to it: on "
                "Windows this deadlocks until the hold times out; write after the release"
            )
        if reason == "revert":
            raise VssRevertInProgressError(
                "the volume is being reverted to a shadow copy; finish the revert first "
                "(ShadowStorage.pending_revert.step())"
            )
        raise VssBadStateError(
            f"the volume's shadow storage ({self.diff_area_directory}) is not open: writing "
            "now would corrupt its shadow copies; ShadowStorage.open(volume, directory) first",
            state="diff area not attached",
            call="write",
            legal=["ShadowStorage.open"],
        )

    def _update_write_block(self) -> None:
        if self._closed:
            self._write_block = "closed"
        elif self._held:
            self._write_block = "held"
        elif self._revert_pending:
            self._write_block = "revert"
        elif self._store is None and self.diff_area_directory is not None:
            self._write_block = "detached"
        else:
            self._write_block = None

    def _write_for_revert(self, offset: int, data: bytes) -> None:
        """A write of the revert job: the normal COW path, past the "revert pending" gate."""
        if self._held:
            self._refuse_write()
        if self._cow is not None:
            self._cow(offset, len(data))
        pwrite_all(self._fd, data, offset)
        if self._epoch & 1:
            self._epoch += 1
        st = self._stats
        st.writes += 1
        st.bytes_written += len(data)

    # ---------------------------------------------------------------------- hold / operation
    def operation(self) -> FifoRLock:
        """A multi-write operation of a file system: no snapshot is taken in its middle.

        Reentrant in the same thread.  A hold (and so a snapshot) waits until it ends.  The
        context is the volume lock itself (one shared object; its ``with`` runs the pending
        notices at the end).
        """
        return self._lock

    @contextmanager
    def held(self) -> Iterator[None]:
        """Flush-and-hold (``FSCTL``-level hold of the kernel during ``CommitSnapshots``).

        Waits for writes and operations running in other threads to finish, then makes
        writes from other threads wait until release, when they run in arrival order.  A write
        from the holding thread raises ``VssHoldWritesTimeoutError`` (Windows would deadlock
        until the 10-second hold timed out).
        """
        if self._closed:
            raise ValueError("hold on a closed volume")
        self._lock.acquire()
        self._held += 1
        self._stats.holds += 1
        self._update_write_block()
        try:
            yield
        finally:
            self._held -= 1
            self._update_write_block()
            self._lock.release()
        if self._notices:
            self._run_notices()

    # ----------------------------------------------------------------------- housekeeping
    def flush(self) -> None:
        """``FlushFileBuffers``: make every write so far durable (``fdatasync``)."""
        if self._closed:
            raise ValueError("flush of a closed volume")
        fdatasync(self._fd)

    def close(self) -> None:
        """Close the volume (and its attached shadow storage).  Idempotent."""
        if self._closed:
            return
        self._lock.acquire()
        try:
            if self._closed:
                return
            if self._store is not None:
                self._store.close()
            self._rmap = None
            self._fs = None  # (the file system refers back to this volume)
            os.close(self._fd)
            self._fd = -1
            self._closed = True
            self._update_write_block()
        finally:
            self._lock.release()

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------- for the shadow storage
    def _mapped(self) -> memoryview:
        """A read-only mapping of the image (snapshot reads gather from it without syscalls)."""
        view = self._rmap
        if view is None:
            m = mmap.mmap(self._fd, self._size, prot=mmap.PROT_READ)
            view = self._rmap = memoryview(m)
        return view

    def _attach(self, store: ShadowStorage | None, directory: str | None = None) -> None:
        """Attach (or detach, with None) the shadow storage; record the association."""
        self._store = store
        self._cow = None
        if store is not None and directory is not None and directory != self.diff_area_directory:
            self._set_association(directory)
        self._update_write_block()

    def _set_association(self, directory: str | None) -> None:
        meta = dict(self._meta, diff_area=directory)
        atomic_write(self._path + SIDECAR_SUFFIX, _encode_meta(meta), durable=False)
        self._meta = meta
        self._update_write_block()

    def _set_revert_pending(self, pending: bool) -> None:
        self._revert_pending = pending
        self._update_write_block()

    def _notify_later(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current write or call has released the volume lock."""
        self._notices.append(callback)

    def _run_notices(self) -> None:
        run_notices(self._lock, self._notices)

    def _fs_changed(self) -> None:
        """The volume changed behind the file system's back (a revert): drop its caches."""
        if self._fs is not None:
            self._fs.refresh()


def _offsets_array(offsets: Sequence[int] | NDArray[np.integer]) -> NDArray[np.int64]:
    arr = np.asarray(offsets)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.ndim != 1:
        raise ValueError("offsets must be one-dimensional")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"offsets must be integers, not {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _encode_meta(meta: dict[str, Any]) -> bytes:
    # Compact, for json's C encoder: the indented form goes through the pure-Python one, which
    # cost about 1 % of a conformance run (the sidecar is written when a volume is made and when
    # its diff area is associated).
    return (COMPACT_JSON.encode(meta) + "\n").encode("utf-8")

