"""A shadow copy as a block device: ``\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopyN``.

A :class:`SnapshotDevice` reads what the volume held when the shadow copy was created, block by
block from the diff area (old data preserved by copy-on-write) or from the live volume (blocks
not written since).  It is read-only, except inside the auto-recovery window, where writers may
fix up their files in the shadow copy (``PostSnapshot``) before it is sealed: those writes go to
private overlay blocks of this shadow copy only, never to the volume or to another copy.

Reads take no lock: they are planned against the engine's index and checked against the
volume's change counter afterwards, and replanned if a write raced with them (see
:mod:`vsssim.storage.volume`).  Every read can also report its provenance.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from vsssim.errors import (
    VssAccessDeniedError,
    VssFileExistsError,
    VssObjectNotFoundError,
)
from vsssim.storage._fileio import as_buffer, data_extents, os_error, pwrite_all
from vsssim.storage.blockdev import check_range

if TYPE_CHECKING:
    from vsssim.storage._cowstate import SnapState
    from vsssim.storage.shadowstorage import ShadowStorage
    from vsssim.storage.simfs import SimFS
    from vsssim.storage.volume import Volume, WriteData

__all__ = ["Provenance", "SnapshotDevice", "SnapshotStats"]

_EXPORT_CHUNK = 4 << 20


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where each block of a snapshot read comes from.

    ``store_blocks`` were read from the diff area (preserved old data, including the
    recovery-window ``overlay_blocks``); ``live_blocks`` from the live volume, unchanged since
    the shadow copy was taken.  Block numbers are volume blocks (``offset // block_size``).
    """

    offset: int
    length: int
    store_blocks: tuple[int, ...]
    live_blocks: tuple[int, ...]
    overlay_blocks: tuple[int, ...]

    @property
    def store_count(self) -> int:
        """Blocks served by the diff area."""
        return len(self.store_blocks)

    @property
    def live_count(self) -> int:
        """Blocks served by the live volume."""
        return len(self.live_blocks)


@dataclass(slots=True)
class SnapshotStats:
    """Read counters of one snapshot device (since it was created or the store opened)."""

    reads: int = 0
    bytes_read: int = 0
    bytes_from_store: int = 0
    bytes_from_live: int = 0
    writes: int = 0


# The counters in one C call, for copies (see volume._STATS).
_STATS = attrgetter(*(f.name for f in fields(SnapshotStats)))


class SnapshotDevice:
    """One shadow copy of a volume, as a read-only block device (``BlockDevice``).

    Obtained from :meth:`ShadowStorage.create_snapshot`, :meth:`ShadowStorage.get` or
    :attr:`ShadowStorage.snapshots`.  After the shadow copy is deleted (or purged) every access
    raises ``VssObjectNotFoundError``; after its store is closed, ``ValueError``.
    """

    def __init__(self, store: ShadowStorage, rec: SnapState) -> None:
        self._store = store
        self._rec = rec
        self._size = store.volume.size  # a volume's size is fixed: read on every read
        self._roots: list[str] = []
        self._fs: SimFS | None = None
        self._window = 0
        self._stats = SnapshotStats()
        self._oplock = threading.RLock()
        # operation()'s answer: the reentrant lock itself, a C context manager (no generator
        # layer on every read of a backup; its ``__enter__`` returns True, not None, and no
        # caller binds it).
        self._operation = cast(AbstractContextManager[None], self._oplock)
        self._fs_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "deleted" if self._rec.deleted else ("writable" if self._window else "read-only")
        return f"<SnapshotDevice {self._rec.id} #{self._rec.seq} {state}>"

    # -------------------------------------------------------------------------- properties
    @property
    def id(self) -> uuid.UUID:
        """The shadow copy id (``VSS_SNAPSHOT_PROP.m_SnapshotId``), stable across reopen."""
        return self._rec.id

    @property
    def sequence(self) -> int:
        """Creation order on this volume (increasing, never reused)."""
        return self._rec.seq

    @property
    def persistent(self) -> bool:
        """True if the shadow copy survives a reopen (a reboot)."""
        return self._rec.persistent

    @property
    def created(self) -> datetime:
        """Creation time on the volume's clock (``m_tsCreationTimestamp``)."""
        return self._rec.created

    @property
    def metadata(self) -> dict[str, str]:
        """A copy of the provider's metadata (replace it with ``ShadowStorage.set_metadata``)."""
        return dict(self._rec.metadata)

    @property
    def volume(self) -> Volume:
        """The original volume."""
        return self._store.volume

    @property
    def size(self) -> int:
        """Size in bytes (the volume's)."""
        return self._size

    @property
    def block_size(self) -> int:
        """Copy-on-write granularity in bytes (the volume's)."""
        return self._store.volume.block_size

    @property
    def readonly(self) -> bool:
        """True except inside :meth:`recovery_window`."""
        return self._window == 0

    @property
    def deleted(self) -> bool:
        """True once the shadow copy was deleted or purged."""
        return self._rec.deleted

    @property
    def stats(self) -> SnapshotStats:
        """A copy of the read counters (bytes from the diff area vs the live volume)."""
        return SnapshotStats(*_STATS(self._stats))

    @property
    def roots(self) -> list[str]:
        """Root prefixes of :attr:`fs` (the provider sets the shadow copy's device name)."""
        return list(self._roots)

    @roots.setter
    def roots(self, value: list[str] | tuple[str, ...]) -> None:
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise TypeError("roots must be a list of str")
        with self._fs_lock:
            if list(value) != self._roots:
                self._roots = list(value)
                self._fs = None  # the next use of fs mounts with the new roots

    def _forget_fs(self) -> None:
        """The copy is gone: drop the mounted file system (which refers back to this device,
        so the pair is freed at once instead of by the cycle collector)."""
        with self._fs_lock:
            self._fs = None

    @property
    def fs(self) -> SimFS:
        """The simfs of the shadow copy (read-only unless in a recovery window)."""
        self._check_live()
        fs = self._fs
        if fs is None:
            from vsssim.storage.simfs import SimFS

            fresh = SimFS.mount(self, roots=self._roots, clock=self._store.volume.clock)
            with self._fs_lock:
                if self._fs is None:
                    self._fs = fresh
                fs = self._fs
        return fs

    # ------------------------------------------------------------------------------- reads
    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes of the shadow copy at ``offset``."""
        rec = self._rec
        if rec.deleted:
            raise VssObjectNotFoundError(f"shadow copy {rec.id} was deleted")
        if type(offset) is not int or type(length) is not int or offset < 0 or length < 0:
            check_range(offset, length, self._size)
        if offset + length > self._size:
            check_range(offset, length, self._size)
        data, from_store = self._store._read(rec, offset, length)
        st = self._stats
        st.reads += 1
        st.bytes_read += length
        st.bytes_from_store += from_store
        st.bytes_from_live += length - from_store
        return data

    def read_provenance(self, offset: int, length: int) -> Provenance:
        """Which blocks of ``[offset, offset + length)`` come from the diff area and which
        from the live volume (a teaching view of the store chain)."""
        self._check_live()
        check_range(offset, length, self.size)
        return self._store._provenance(self._rec, offset, length)

    def export(self, path: str | os.PathLike[str]) -> None:
        """Write the shadow copy to a new raw image at ``path``, sparse where it can be.

        Only ranges that hold data on the live volume or in the diff area are read; all-zero
        chunks are left as holes.  Refuses an existing file with ``VssFileExistsError``.
        """
        self._check_live()
        path = os.fspath(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise VssFileExistsError(f"{path!r} already exists") from None
        except OSError as exc:
            raise os_error(exc, f"cannot create {path!r}") from None
        try:
            os.ftruncate(fd, self.size)
            for start, end in self._export_ranges():
                pos = start
                while pos < end:
                    n = min(_EXPORT_CHUNK, end - pos)
                    data = self.read(pos, n)
                    if data.count(0) != n:
                        pwrite_all(fd, data, pos)
                    pos += n
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)

    def _export_ranges(self) -> list[tuple[int, int]]:
        """Byte ranges that may hold non-zero data: live extents plus preserved blocks."""
        bs = self.block_size
        ranges = [
            (s - s % bs, min(-(-e // bs) * bs, self.size))
            for s, e in data_extents(self._store.volume._fd, self.size)
        ]
        blocks: NDArray[np.int64] = self._store._content_blocks(self._rec)
        if blocks.size:
            cut = np.flatnonzero(np.diff(blocks) != 1) + 1
            bounds = np.concatenate(([0], cut, [blocks.size])).tolist()
            ranges += [
                (int(blocks[i]) * bs, (int(blocks[j - 1]) + 1) * bs)
                for i, j in itertools.pairwise(bounds)
            ]
        ranges.sort()
        merged: list[tuple[int, int]] = []
        for s, e in ranges:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged

    # ------------------------------------------------------------------ auto-recovery writes
    @contextmanager
    def recovery_window(self) -> Iterator[None]:
        """The auto-recovery window (between ``PreFinalCommitSnapshots`` and
        ``PostFinalCommitSnapshots``): :meth:`write` changes this shadow copy only."""
        self._check_live()
        self._window += 1
        try:
            yield
        finally:
            self._window -= 1

    def write(self, offset: int, data: WriteData) -> None:
        """Write into this shadow copy (only inside :meth:`recovery_window`).

        Outside the window: ``VssAccessDeniedError`` (a shadow copy is read-only).  Inside,
        the bytes go to overlay blocks private to this copy, persisted like the rest; older
        shadow copies that read through this copy's diff area never see them.
        """
        self._check_live()
        if self._window == 0:
            raise VssAccessDeniedError(
                f"shadow copy {self._rec.id} is read-only (writes are allowed only in its "
                "auto-recovery window)"
            )
        buf = as_buffer(data)
        check_range(offset, len(buf), self.size)
        self._store._overlay_write(self._rec, offset, buf)
        self._stats.writes += 1

    def operation(self) -> AbstractContextManager[None]:
        """``BlockDevice.operation``: serialises the file-system operations of this device."""
        return self._operation

    def _check_live(self) -> None:
        if self._rec.deleted:
            raise VssObjectNotFoundError(f"shadow copy {self._rec.id} was deleted")
        if self._store.closed:
            raise ValueError("the shadow storage of this snapshot is closed")
