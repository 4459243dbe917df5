"""The diff area of one volume: the system provider's copy-on-write shadow storage.

Models volsnap's "shadow copy storage area" (``vssadmin add shadowstorage /for=C: /on=D:
/maxsize=...``): files in a directory of your choice hold the preserved blocks of every shadow
copy of one volume, under an optional maximum size.  Semantics follow the Windows system
provider:

* 16 KiB copy-on-write granularity (the volume's block size); an old block is copied **once,
  into the newest snapshot's diff area**, and older snapshots read through newer diff areas;
* ``create_snapshot()`` costs the same whatever the volume size or the data on it;
* deleting the oldest, a middle or the newest snapshot keeps every other one exact and copies
  no data (slot ownership moves, see :mod:`vsssim.storage._cowstate`);
* when the diff area is full the oldest snapshot is purged (``EventKind.PURGE``) and the write
  goes on, as with ``VSS_PROTECTION_LEVEL_ORIGINAL_VOLUME``; at most ``max_snapshots`` (512)
  shadow copies per volume (``VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED``);
* ``revert`` (``IVssBackupComponents::RevertToSnapshot``) rewrites the volume from a shadow
  copy through the normal write path, so newer copies stay exact, and survives a restart
  (``pending_revert``), like Windows' "the revert process will continue" after a reboot;
* persistent shadow copies survive :meth:`close`/:meth:`open`; non-persistent ones vanish on
  :meth:`open`, as at a reboot.

Files in the directory: ``store.dat`` (the slots), ``index.ckpt`` + ``journal.<n>`` (the index,
see :mod:`vsssim.storage._journal` for the write-ahead rule that makes a killed process
harmless) and ``LOCK`` (an ``flock`` so two processes cannot open one store).

Fidelity notes: volsnap keeps one store file per snapshot; vsssim keeps one slot file per volume
(qcow2-style) so that deletions never copy bytes.  How Windows handles deleting a middle shadow
copy is undocumented; vsssim hands the needed blocks to the next older copy.  The 320 MB minimum
of ``AddDiffArea`` is not enforced (any size of at least one block); :meth:`reserve` models the
preallocated minimum diff area.  Blocks free in the file system are preserved too (volsnap
skips them via its bitmaps).  Where the host file system shares extents (XFS with reflink,
btrfs), long runs of old blocks are cloned into the store rather than copied: the same bytes,
a host optimisation (``ShadowStorage._clone_range``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import itertools
import mmap
import os
import struct
import sys
import time
import uuid
from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import NDArray

from vsssim.errors import (
    VssError,
    VssHoldWritesTimeoutError,
    VssInsufficientStorageError,
    VssInvalidArgumentError,
    VssMaximumNumberOfSnapshotsReachedError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
    VssRevertInProgressError,
    VssStoreCorruptError,
    VssUnsupportedContextError,
)
from vsssim.storage._cowstate import CowState, RevertState, SnapState
from vsssim.storage._fileio import (
    atomic_write,
    fdatasync,
    fsync_dir,
    os_error,
    pread_exact,
    pwrite_all,
    zero_fill,
)
from vsssim.storage._journal import Journal, RecordType
from vsssim.storage._persist import (
    INDEX_FILE,
    LOCK_FILE,
    MAX_SNAPSHOTS,
    STORE_FILE,
    index_bytes,
    journal_path,
    load_index,
    lock_directory,
)
from vsssim.storage._reader import gather, plan_hits
from vsssim.storage._slots import SlotAllocator
from vsssim.storage.snapshot import Provenance, SnapshotDevice
from vsssim.storage.volume import Volume
from vsssim.trace import EventKind, Tracer

__all__ = ["PURGE_REASONS", "RevertJob", "ShadowStorage"]

_COPY_CHUNK = 4 << 20  # bytes per pread/pwrite when copying a long run of blocks
_COPY_FILE_RANGE = hasattr(os, "copy_file_range")
_CFR_MAX = 64 << 10  # longest run copied with copy_file_range
_NO_COPY_FILE_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}
_FICLONERANGE = 0x4020940D  # Linux ioctl: share a range of another file's extents (reflink)
_CLONE = sys.platform == "linux"
_CLONE_MIN = 1 << 20  # shortest run cloned once the file system is known to share extents
_NO_CLONE = {errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EBADF, errno.ENOSYS}
_JOURNAL_MIN = 64 << 20  # journal bytes before a compaction (and at least 2x the checkpoint)
_SOURCE = "volsnap"

#: Why the engine removed a snapshot on its own (journal code -> text of the trace event).
PURGE_REASONS = {
    1: "diff area full",
    2: "count limit",
    3: "diff area resized below the space in use",
}


def _check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping of str to str, not {type(metadata).__name__}")
    out = dict(metadata)
    for k, v in out.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("metadata keys and values must be str")
    return out


def _check_max_size(max_size: int | None, block_size: int) -> int | None:
    if max_size is None:
        return None
    if not isinstance(max_size, int) or isinstance(max_size, bool):
        raise TypeError(f"max_size must be int bytes or None, not {type(max_size).__name__}")
    if max_size < block_size:
        raise VssInvalidArgumentError(
            f"max_size must be at least one block ({block_size} bytes) or None, not {max_size}"
        )
    return max_size


class RevertJob:
    """A revert of the volume to a shadow copy, done in steps (``IVssAsync`` of a revert).

    ``step(max_blocks)`` rewrites the next blocks and returns True when the volume equals the
    shadow copy.  The cursor is journaled after each step, so after a crash or ``close``,
    ``ShadowStorage.open(...).pending_revert`` resumes where it stopped (Windows continues a
    revert after a reboot).  The volume refuses other writes until the job is done.
    """

    def __init__(self, store: ShadowStorage, state: RevertState, snapshot_id: uuid.UUID) -> None:
        self._store = store
        self._state = state
        self._done = False
        self.snapshot_id = snapshot_id

    def __repr__(self) -> str:
        done, total = self.progress
        return f"<RevertJob to {self.snapshot_id} {done}/{total} blocks>"

    @property
    def done(self) -> bool:
        """True once the volume equals the shadow copy."""
        return self._done

    @property
    def progress(self) -> tuple[int, int]:
        """``(blocks rewritten, blocks to rewrite)``."""
        return self._state.cursor, int(self._state.blocks.size)

    def step(self, max_blocks: int = 4096) -> bool:
        """Rewrite up to ``max_blocks`` more blocks; True when the revert is complete."""
        if not isinstance(max_blocks, int) or isinstance(max_blocks, bool) or max_blocks <= 0:
            raise VssInvalidArgumentError(f"max_blocks must be a positive int, not {max_blocks!r}")
        if self._done:
            return True
        return self._store._revert_step(self, max_blocks)


class ShadowStorage:
    """The diff area of one volume (``IVssDifferentialSoftwareSnapshotMgmt`` association).

    Make one with :meth:`create` (``AddDiffArea``) or reopen it with :meth:`open`.  At most one
    per volume.  All changes run under the volume's lock; snapshot reads do not take it.
    """

    def __init__(
        self,
        volume: Volume,
        directory: str,
        *,
        state: CowState,
        generation: int,
        max_size: int | None,
        max_snapshots: int,
        tracer: Tracer | None,
        durable: bool,
        store_fd: int,
        lock_fd: int,
    ) -> None:
        self._vol = volume
        self._dir = directory
        self._st = state
        self._gen = generation
        self._max_size = max_size
        self._max_snapshots = max_snapshots
        self._tracer = tracer
        self._durable = durable
        self._sfd = store_fd
        self._lockfd = lock_fd
        self._B = volume.block_size
        self._shift = self._B.bit_length() - 1
        self._max_slots = None if max_size is None else max_size >> self._shift
        self._closed = False
        self._journal: Journal | None = None
        self._compact_at = 0
        store_slots = os.fstat(store_fd).st_size >> self._shift
        self._alloc = SlotAllocator.rebuilt(store_slots, state.owned_slots())
        self._smap: memoryview | None = None
        # A writable mapping of the store file as far as it was allocated when mapped (at the
        # first copy-on-write, again after reserve()): short copies into slots inside it are a
        # memcpy from the volume's mapping, no system call (see _copy_blocks).
        self._wmap = memoryview(bytearray())
        self._wmap_end = -1  # bytes of the store mapped writable; -1: not mapped yet
        # Copy-on-write copies in the kernel, or through this page-aligned buffer (_copy_blocks).
        self._use_cfr = _COPY_FILE_RANGE
        # Whether store and volume share extents (FICLONERANGE): None until the first copy
        # through the kernel tries it, then True or False for good (see _clone_range).
        self._clone: bool | None = None if _CLONE else False
        # The page-aligned copy buffer of _copy_blocks, mapped at its first use (most stores
        # copy through the kernel and never need it).
        self._scratch: memoryview | None = None
        self._listeners: list[Callable[[uuid.UUID, str], None]] = []
        self._devices: dict[uuid.UUID, SnapshotDevice] = {
            s.id: SnapshotDevice(self, s) for s in state.snaps
        }
        self._nm: dict[int, int] = {}
        self._revert_job: RevertJob | None = None
        if state.revert is not None:
            target = state.by_seq[state.revert.seq]
            self._revert_job = RevertJob(self, state.revert, target.id)

    # ------------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        volume: Volume,
        directory: str | os.PathLike[str],
        max_size: int | None = None,
        *,
        max_snapshots: int = MAX_SNAPSHOTS,
        tracer: Tracer | None = None,
        durable: bool = False,
    ) -> ShadowStorage:
        """``vssadmin add shadowstorage /for=<volume> /on=<directory> /maxsize=<max_size>``.

        ``max_size`` is bytes (at least one block) or None for unbounded; ``max_snapshots`` the
        per-volume shadow-copy limit (1..512).  ``durable`` adds ``fdatasync`` barriers so a
        power loss, not only a killed process, leaves every snapshot exact.  Raises
        ``VssObjectAlreadyExistsError`` if the volume already has shadow storage or the
        directory already holds one, and a ``VssError`` if the directory cannot be created;
        nothing is left behind on failure.
        """
        _check_volume(volume)
        max_size = _check_max_size(max_size, volume.block_size)
        if not isinstance(max_snapshots, int) or not 1 <= max_snapshots <= MAX_SNAPSHOTS:
            raise VssInvalidArgumentError(
                f"max_snapshots must be an int in 1..{MAX_SNAPSHOTS}, not {max_snapshots!r}"
            )
        if tracer is not None and not isinstance(tracer, Tracer):
            raise TypeError(f"tracer must be a vsssim.trace.Tracer, not {type(tracer).__name__}")
        directory = os.path.abspath(os.fspath(directory))
        if volume.shadow_storage is not None:
            raise VssObjectAlreadyExistsError(
                f"volume {volume.path!r} already has shadow storage at "
                f"{volume.shadow_storage.directory!r}"
            )
        old = volume.diff_area_directory
        if old is not None and os.path.exists(os.path.join(old, INDEX_FILE)):
            raise VssObjectAlreadyExistsError(
                f"volume {volume.path!r} already has shadow storage at {old!r}: "
                "ShadowStorage.open it (or destroy it first)"
            )
        if os.path.exists(os.path.join(directory, INDEX_FILE)):
            raise VssObjectAlreadyExistsError(f"{directory!r} already holds a shadow storage")
        made_dir = not os.path.isdir(directory)
        created: list[str] = []
        lock_fd = store_fd = -1
        try:
            if made_dir:
                os.makedirs(directory, exist_ok=True)
            lock_path = os.path.join(directory, LOCK_FILE)
            if not os.path.exists(lock_path):
                created.append(lock_path)
            lock_fd = lock_directory(directory)
            store_path = os.path.join(directory, STORE_FILE)
            store_fd = os.open(store_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            created.append(store_path)
            store = cls(
                volume,
                directory,
                state=CowState(),
                generation=0,
                max_size=max_size,
                max_snapshots=max_snapshots,
                tracer=tracer,
                durable=durable,
                store_fd=store_fd,
                lock_fd=lock_fd,
            )
            created += [os.path.join(directory, INDEX_FILE), journal_path(directory, 1)]
            store._checkpoint()
            volume._attach(store, directory)
        except BaseException as exc:
            for fd in (store_fd, lock_fd):
                if fd >= 0:
                    os.close(fd)
            for path in reversed(created):
                if os.path.exists(path):
                    os.unlink(path)
            if made_dir and os.path.isdir(directory):
                with contextlib.suppress(OSError):
                    os.rmdir(directory)
            if isinstance(exc, OSError) and not isinstance(exc, VssError):
                raise os_error(exc, f"cannot create shadow storage in {directory!r}") from None
            raise
        return store

    @classmethod
    def open(
        cls,
        volume: Volume,
        directory: str | os.PathLike[str],
        *,
        tracer: Tracer | None = None,
        durable: bool = False,
    ) -> ShadowStorage:
        """Reopen the shadow storage in ``directory`` (the system after a reboot).

        Persistent snapshots come back exactly, with their ids and metadata; non-persistent
        ones are gone; a revert that was running resumes through :attr:`pending_revert`.  A
        damaged index raises ``VssStoreCorruptError`` and changes nothing on disk.
        """
        _check_volume(volume)
        if tracer is not None and not isinstance(tracer, Tracer):
            raise TypeError(f"tracer must be a vsssim.trace.Tracer, not {type(tracer).__name__}")
        directory = os.path.abspath(os.fspath(directory))
        if volume.shadow_storage is not None:
            raise VssObjectAlreadyExistsError(
                f"volume {volume.path!r} already has its shadow storage open"
            )
        index_path = os.path.join(directory, INDEX_FILE)
        if not os.path.exists(index_path):
            raise VssObjectNotFoundError(f"no shadow storage in {directory!r}")
        try:
            lock_fd = lock_directory(directory)
        except OSError as exc:
            raise os_error(exc, f"cannot open shadow storage in {directory!r}") from None
        store_fd = -1
        store: ShadowStorage | None = None
        try:
            state, meta, generation = load_index(directory, volume)
            store_fd = os.open(os.path.join(directory, STORE_FILE), os.O_RDWR)
            slots = os.fstat(store_fd).st_size >> (volume.block_size.bit_length() - 1)
            owned = state.owned_slots()
            if owned.size and int(owned.max()) >= slots:
                raise VssStoreCorruptError(
                    f"{STORE_FILE} in {directory!r} is truncated: the index uses slot "
                    f"{int(owned.max())}, the file holds {slots} slots"
                )
            # Everything is validated: only now does the reboot change anything on disk.
            for snap in [s for s in state.snaps if not s.persistent]:
                state.remove(snap)
            store = cls(
                volume,
                directory,
                state=state,
                generation=generation,
                max_size=meta["max_size"],
                max_snapshots=meta["max_snapshots"],
                tracer=tracer,
                durable=durable,
                store_fd=store_fd,
                lock_fd=lock_fd,
            )
            store._checkpoint()
            volume._attach(store, directory)
            store._structure_changed()
            if store._revert_job is not None:
                volume._set_revert_pending(True)
        except BaseException as exc:
            if store is not None and store._journal is not None:
                store._journal.close()
            if store_fd >= 0:
                os.close(store_fd)
            os.close(lock_fd)
            if isinstance(exc, FileNotFoundError):
                raise VssStoreCorruptError(
                    f"shadow storage in {directory!r} is missing a file: {exc.filename}"
                ) from None
            raise
        return store

    def __repr__(self) -> str:
        limit = "unbounded" if self._max_size is None else f"{self._max_size} bytes"
        state = "closed" if self._closed else f"{len(self._st.snaps)} snapshots"
        return f"<ShadowStorage {self._dir!r} for {self._vol.path!r}: {state}, {limit}>"

    # -------------------------------------------------------------------------- properties
    @property
    def volume(self) -> Volume:
        """The volume whose old blocks this diff area preserves."""
        return self._vol

    @property
    def directory(self) -> str:
        """Where the diff area's files live (``/on=``)."""
        return self._dir

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def durable(self) -> bool:
        """True if the index is flushed to disk before every overwrite (power-loss safety)."""
        return self._durable

    @property
    def max_size(self) -> int | None:
        """The maximum bytes of preserved data (``/maxsize``), None when unbounded."""
        return self._max_size

    @property
    def max_snapshots(self) -> int:
        """Shadow copies allowed on the volume at once."""
        return self._max_snapshots

    @property
    def used(self) -> int:
        """Bytes of diff area holding preserved data (``Used Shadow Copy Storage space``)."""
        return self._st.used << self._shift

    @property
    def allocated(self) -> int:
        """Bytes the store file occupies (reserved or once used; ``Allocated ... space``)."""
        self._check_open()
        return os.fstat(self._sfd).st_size

    @property
    def snapshots(self) -> list[SnapshotDevice]:
        """The shadow copies of the volume, oldest first (``ValueError`` once closed)."""
        self._check_open()
        devices = self._devices
        return [d for s in list(self._st.snaps) if (d := devices.get(s.id)) is not None]

    @property
    def pending_revert(self) -> RevertJob | None:
        """The revert still running (also after a reopen), or None."""
        return self._revert_job

    def get(self, snapshot_id: uuid.UUID | str) -> SnapshotDevice:
        """The shadow copy with this id (``VssObjectNotFoundError`` if there is none,
        ``ValueError`` once closed)."""
        self._check_open()
        device = self._devices.get(self._resolve(snapshot_id).id)
        if device is None:
            raise VssObjectNotFoundError(f"shadow copy {snapshot_id} was deleted")
        return device

    def add_purge_listener(self, callback: Callable[[uuid.UUID, str], None]) -> Callable[[], None]:
        """Call ``callback(snapshot_id, reason)`` for every snapshot the engine purges itself.

        Called after the snapshot is gone, once the write or call that caused the purge has
        released the volume lock (an exception from the callback reaches that caller, after
        its write is complete).  Returns a function that removes the listener.
        """
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    # ---------------------------------------------------------------------------- changes
    def create_snapshot(
        self,
        snapshot_id: uuid.UUID | None = None,
        *,
        persistent: bool = True,
        metadata: Mapping[str, str] | None = None,
        purge_oldest_at_limit: bool = False,
    ) -> SnapshotDevice:
        """Create a shadow copy of the volume as it is now (the provider's ``CommitSnapshots``).

        O(1) in the volume size and in the data on it.  The provider calls it inside
        ``volume.held()``; outside a hold it still waits for running writes and operations.
        Beyond :attr:`max_snapshots` it raises ``VssMaximumNumberOfSnapshotsReachedError``, or,
        with ``purge_oldest_at_limit`` (``MaxShadowCopies`` behaviour of client-accessible
        copies), purges the oldest first.  A duplicate id raises
        ``VssObjectAlreadyExistsError``.
        """
        if snapshot_id is None:
            snapshot_id = uuid.uuid4()
        elif not isinstance(snapshot_id, uuid.UUID):
            raise TypeError(f"snapshot_id must be a UUID, not {type(snapshot_id).__name__}")
        if not isinstance(persistent, bool):
            raise TypeError("persistent must be bool")
        meta = _check_metadata(metadata)
        vol = self._vol
        with vol._lock:
            self._check_open()
            self._check_no_revert("create a shadow copy")
            st = self._st
            if snapshot_id in st.by_id:
                raise VssObjectAlreadyExistsError(f"shadow copy {snapshot_id} already exists")
            if len(st.snaps) >= self._max_snapshots:
                if not purge_oldest_at_limit:
                    raise VssMaximumNumberOfSnapshotsReachedError(
                        f"the volume already has {len(st.snaps)} shadow copies (the maximum is "
                        f"{self._max_snapshots}); delete old ones first"
                    )
                while len(st.snaps) >= self._max_snapshots:
                    self._purge(st.snaps[0], 2)
            created = vol.clock.datetime()
            seq = st.next_seq
            self._log().create_snapshot(seq, snapshot_id, persistent, created.timestamp(), meta)
            self._begin_change()
            rec = st.add(seq, snapshot_id, persistent, created, meta)
            self._structure_changed()
            self._end_change()
            device = self._devices[snapshot_id] = SnapshotDevice(self, rec)
            self._trace(
                EventKind.SNAPSHOT,
                "CreateSnapshot",
                f"shadow copy {snapshot_id} created (#{seq}, "
                f"{'persistent' if persistent else 'non-persistent'})",
                snapshot_id=str(snapshot_id),
                sequence=seq,
            )
        return device

    def delete(self, snapshot: SnapshotDevice | uuid.UUID | str) -> None:
        """Delete a shadow copy (``DeleteSnapshots``): oldest, middle or newest.

        Every other shadow copy stays exact; no preserved data is copied.
        """
        rec = self._resolve(snapshot)
        vol = self._vol
        with vol._lock:
            self._check_open()
            if rec.deleted:
                raise VssObjectNotFoundError(f"shadow copy {rec.id} was already deleted")
            self._check_no_revert("delete a shadow copy")
            self._log().delete_snapshot(rec.seq, 0)
            self._remove(rec)
            self._trace(
                EventKind.SNAPSHOT,
                "DeleteSnapshot",
                f"shadow copy {rec.id} deleted",
                snapshot_id=str(rec.id),
            )

    def set_metadata(
        self, snapshot: SnapshotDevice | uuid.UUID | str, metadata: Mapping[str, str]
    ) -> None:
        """Replace a shadow copy's metadata (persisted; the provider keeps its catalog here)."""
        meta = _check_metadata(metadata)
        rec = self._resolve(snapshot)
        with self._vol._lock:
            self._check_open()
            if rec.deleted:
                raise VssObjectNotFoundError(f"shadow copy {rec.id} was deleted")
            self._log().metadata(rec.seq, meta)
            rec.metadata = meta

    def resize(self, max_size: int | None) -> None:
        """``vssadmin resize shadowstorage /maxsize=``: shrinking below the space in use purges
        the oldest shadow copies (with trace events) until the rest fits."""
        max_size = _check_max_size(max_size, self._B)
        with self._vol._lock:
            self._check_open()
            self._check_no_revert("resize the shadow storage")
            self._log().resize(max_size)
            self._max_size = max_size
            self._max_slots = None if max_size is None else max_size >> self._shift
            st = self._st
            while self._max_slots is not None and st.snaps and st.used > self._max_slots:
                self._purge(st.snaps[0], 3)

    def reserve(self, nbytes: int) -> None:
        """Preallocate the store file to ``nbytes`` (capped at ``max_size``) by writing zeros.

        Models the minimum diff area volsnap allocates up front (``MinDiffAreaFileSize``):
        copy-on-write into slots whose pages already exist avoids growing the file on the
        write path.  Reserved space is not :attr:`used`.
        """
        if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes < 0:
            raise VssInvalidArgumentError(f"nbytes must be a non-negative int, not {nbytes!r}")
        with self._vol._lock:
            self._check_open()
            if self._max_size is not None:
                nbytes = min(nbytes, self._max_size)
            nbytes -= nbytes % self._B
            size = os.fstat(self._sfd).st_size
            if nbytes > size:
                zero_fill(self._sfd, size, nbytes)
                self._alloc.add_fresh(nbytes >> self._shift)
                self._map_store()

    def begin_revert(self, snapshot: SnapshotDevice | uuid.UUID | str) -> RevertJob:
        """Start reverting the volume to a shadow copy (``RevertToSnapshot``); step the job.

        Only persistent shadow copies can be reverted to (``VssUnsupportedContextError``).
        Every shadow copy, older and newer, stays exact: the blocks the revert overwrites are
        preserved into the newest diff area first.  If that would not fit in ``max_size`` the
        call raises ``VssInsufficientStorageError`` and changes nothing.
        """
        rec = self._resolve(snapshot)
        vol = self._vol
        with vol._lock:
            self._check_open()
            if rec.deleted:
                raise VssObjectNotFoundError(f"shadow copy {rec.id} was deleted")
            self._check_no_revert("start another revert")
            if not rec.persistent:
                raise VssUnsupportedContextError(
                    "only persistent shadow copies can be reverted to (RevertToSnapshot)"
                )
            if vol._held:
                raise VssHoldWritesTimeoutError("cannot revert while this thread holds writes")
            st = self._st
            blocks = st.content_blocks(rec)
            nm = self._nm
            need = sum(1 for b in blocks.tolist() if b not in nm)
            if self._max_slots is not None and st.used + need > self._max_slots:
                raise VssInsufficientStorageError(
                    f"reverting needs {need} more blocks of diff area to keep newer shadow "
                    f"copies exact, but only {self._max_slots - st.used} are free; delete "
                    "shadow copies or enlarge the storage (resize)"
                )
            self._log().revert_begin(rec.seq, blocks)
            st.revert = RevertState(rec.seq, blocks, 0)
            job = self._revert_job = RevertJob(self, st.revert, rec.id)
            vol._set_revert_pending(True)
            self._trace(
                EventKind.SNAPSHOT,
                "RevertToSnapshot",
                f"revert of the volume to shadow copy {rec.id} started ({blocks.size} blocks)",
                snapshot_id=str(rec.id),
                blocks=int(blocks.size),
            )
        return job

    def revert(self, snapshot: SnapshotDevice | uuid.UUID | str) -> None:
        """Make the volume byte-identical to a shadow copy (``begin_revert`` run to the end)."""
        job = self.begin_revert(snapshot)
        while not job.step(4096):
            pass

    def close(self) -> None:
        """Write a checkpoint and close the files (:meth:`open` brings it back).

        Idempotent; snapshot devices of this store stop working.  While the store holds
        shadow copies (or a revert), the volume refuses writes until it is reopened: a write
        without its copy-on-write would corrupt them.  An empty store lets the volume go.
        """
        if self._closed:
            return
        vol = self._vol
        with vol._lock:
            if self._closed:
                return
            try:
                self._checkpoint()
            finally:
                self._closed = True
                vol._attach(None)
                if not self._st.snaps and self._revert_job is None:
                    vol._set_association(None)
                vol._set_revert_pending(False)
                if self._journal is not None:
                    self._journal.close()
                self._smap = None
                self._wmap, self._wmap_end = memoryview(bytearray()), -1
                os.close(self._sfd)
                os.close(self._lockfd)
                for device in self._devices.values():
                    device._forget_fs()  # its mounted file system refers back to it
                # Each device refers back to this store: let go of them, so that a closed
                # store still holding copies is freed by reference counting, not the collector.
                self._devices = {}

    def destroy(self) -> None:
        """``vssadmin delete shadowstorage``: delete every shadow copy, the files and the
        volume's association.  The volume is writable without a diff area afterwards."""
        vol = self._vol
        with vol._lock:
            self._check_open()
            self._check_no_revert("delete the shadow storage")
            for rec in list(self._st.snaps):
                self._log().delete_snapshot(rec.seq, 0)
                self._remove(rec)
            self.close()
            for name in os.listdir(self._dir):
                if name in (STORE_FILE, INDEX_FILE, LOCK_FILE) or name.startswith("journal."):
                    os.unlink(os.path.join(self._dir, name))
            vol._set_association(None)

    def __enter__(self) -> ShadowStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------ diagnostics
    def verify(self) -> None:
        """Check the index and the slot bookkeeping; raise ``VssStoreCorruptError`` if broken.

        Every slot is owned at most once, owned and free slots partition the store, the used
        counter matches, sequence numbers increase and no referenced slot lies past the end of
        the store file.
        """
        with self._vol._lock:
            self._check_open()
            st = self._st
            st.check()
            owned = st.owned_slots()
            free = self._alloc.free_slots()
            both = np.concatenate((owned, free))
            if both.size != self._alloc.high or (both.size and np.unique(both).size != both.size):
                raise VssStoreCorruptError("store: owned and free slots do not partition it")
            if both.size and (both.min() < 0 or both.max() >= self._alloc.high):
                raise VssStoreCorruptError("store: a slot lies outside the store")
            if owned.size and int(owned.max()) >= os.fstat(self._sfd).st_size >> self._shift:
                raise VssStoreCorruptError("store: an owned slot lies past the end of the file")
            newest = st.snaps[-1].da.map if st.snaps else {}
            if newest is not self._nm and st.snaps:
                raise VssStoreCorruptError("store: the write path does not see the newest DA")

    def metadata_bytes(self) -> int:
        """Approximate memory of the engine's metadata (index, free list, cached views)."""
        return self._st.nbytes() + self._alloc.nbytes()

    # ------------------------------------------------------------------ copy-on-write path
    def _preserve(self, offset: int, n: int) -> None:
        """Volume hook (volume lock held): preserve the blocks of ``[offset, offset + n)``
        that the newest diff area does not hold yet."""
        sh = self._shift
        b0 = offset >> sh
        b1 = (offset + n - 1) >> sh
        nm = self._nm
        if b0 == b1:
            if b0 not in nm:
                self._cow_one(b0)
            return
        need = [b for b in range(b0, b1 + 1) if b not in nm]
        if need and not (need[-1] - need[0] == len(need) - 1 and self._cow_run(need[0], len(need))):
            self._cow(np.asarray(need, dtype=np.int64))

    def _cow_one(self, block: int) -> None:
        """:meth:`_cow_run` of one block, with the copy inlined: the random 4 KiB first-write
        path, where the engine's Python time per write is a sizeable share (see
        ``benchmarks/cow.py``).  Same write-ahead order: old block into its slot, then the
        journal record, then (in the caller) the live write."""
        st = self._st
        if self._max_slots is not None and st.used >= self._max_slots:
            self._make_room(1)
            if not st.snaps:
                return
        slot = self._alloc.take_one()
        sh = self._shift
        dst = slot << sh
        try:
            if dst + self._B <= self._wmap_end:
                # a memcpy between the two mappings: no system call (2-3 us less than a copy)
                src = block << sh
                self._wmap[dst : dst + self._B] = self._vol._mapped()[src : src + self._B]
            else:
                if self._wmap_end < 0:
                    self._map_store()
                self._copy_block_syscall(block, slot)
            if self._durable:
                fdatasync(self._sfd)
        except BaseException:
            self._alloc.free(np.arange(slot, slot + 1))  # a failed copy: the slot stays free
            raise
        journal = self._journal
        if journal is None or journal.end > self._compact_at:
            journal = self._log()
        journal.cow_run(st.snaps[-1].seq, block, slot)
        self._vol._epoch |= 1
        self._nm[block] = slot
        st.used += 1
        vs = self._vol._stats
        vs.cow_blocks += 1
        vs.cow_bytes += self._B

    def _map_store(self) -> None:
        """(Re)map the store file writable as far as it is allocated now."""
        size = os.fstat(self._sfd).st_size
        self._wmap = memoryview(mmap.mmap(self._sfd, size) if size else bytearray())
        self._wmap_end = size

    def _copy_block_syscall(self, block: int, slot: int) -> None:
        """One old block into its slot through the kernel (a slot beyond the mapping)."""
        sh = self._shift
        done = 0
        if self._use_cfr and self._clone is False:
            try:
                done = os.copy_file_range(
                    self._vol._fd, self._sfd, self._B, block << sh, slot << sh
                )
            except OSError as exc:
                if exc.errno not in _NO_COPY_FILE_RANGE:
                    raise
                # _copy_blocks meets the same error and switches to the scratch buffer
        if done != self._B:
            self._copy_blocks(block, slot, 1)  # short copy (or none): copy the block again

    def _cow_run(self, block: int, count: int) -> bool:
        """Preserve ``count`` consecutive blocks into consecutive slots without numpy (the
        4 KiB and the sequential write paths).  False if no consecutive slots are free."""
        st = self._st
        if self._max_slots is not None and st.used + count > self._max_slots:
            self._make_room(count)
            if not st.snaps:
                return True
        slot = self._alloc.take_run(count)
        if slot is None:
            return False
        try:
            self._copy_blocks(block, slot, count)
            if self._durable:
                fdatasync(self._sfd)
        except BaseException:
            self._alloc.free(np.arange(slot, slot + count))  # a failed copy: the slots stay free
            raise
        journal = self._journal
        if journal is None or journal.end > self._compact_at:
            journal = self._log()
        journal.cow_run(st.snaps[-1].seq, block, slot, count)
        self._vol._epoch |= 1
        if count == 1:
            self._nm[block] = slot
        else:
            new = zip(range(block, block + count), range(slot, slot + count), strict=True)
            self._nm.update(new)
        st.used += count
        vs = self._vol._stats
        vs.cow_blocks += count
        vs.cow_bytes += count << self._shift
        return True

    def _preserve_blocks(self, blocks: NDArray[np.int64]) -> None:
        """Batch hook (volume lock held): ``blocks`` sorted and unique."""
        nm = self._nm
        if not self._st.snaps or not blocks.size:
            return
        if nm:
            need = np.asarray([b for b in blocks.tolist() if b not in nm], dtype=np.int64)
        else:
            need = blocks
        if need.size:
            self._cow(need)

    def _cow(self, blocks: NDArray[np.int64]) -> None:
        """Copy ``blocks`` (ascending, none in the newest DA) into fresh slots, journal them,
        then publish them in the newest DA; the caller overwrites the live blocks after."""
        st = self._st
        m = int(blocks.size)
        if self._max_slots is not None and st.used + m > self._max_slots:
            self._make_room(m)
            if not st.snaps:
                return
        slots = self._alloc.take(m)
        try:
            self._copy_out(blocks, slots)
        except BaseException:
            self._alloc.free(slots)  # a failed copy: the slots stay free
            raise
        self._log().block_runs(RecordType.COW, st.snaps[-1].seq, blocks, slots)
        self._vol._epoch |= 1
        self._nm.update(zip(blocks.tolist(), slots.tolist(), strict=True))
        st.used += m
        vs = self._vol._stats
        vs.cow_blocks += m
        vs.cow_bytes += m << self._shift

    def _copy_out(self, blocks: NDArray[np.int64], slots: NDArray[np.int64]) -> None:
        """Old volume blocks -> store slots, one copy per run of consecutive pairs."""
        if blocks.size == 1:
            starts, counts = [0], [1]
        else:
            cut = np.flatnonzero((np.diff(blocks) != 1) | (np.diff(slots) != 1)) + 1
            bounds = np.concatenate(([0], cut, [blocks.size]))
            starts, counts = bounds[:-1].tolist(), np.diff(bounds).tolist()
        bl, sl = blocks.tolist(), slots.tolist()
        for i, c in zip(starts, counts, strict=True):
            self._copy_blocks(bl[i], sl[i], c)
        if self._durable:
            fdatasync(self._sfd)

    def _copy_blocks(self, block: int, slot: int, count: int) -> None:
        """Copy ``count`` old blocks from the volume into consecutive store slots.

        Short runs into slots inside the store's writable mapping (a reserved store) are a
        memcpy from the volume's read mapping: no system call (measured 2.4 us per 16 KiB
        block against 6.3 us for ``copy_file_range``).

        Where the store and the volume share extents (XFS with reflink, btrfs), runs of at
        least ``_CLONE_MIN`` are cloned (:meth:`_clone_range`) instead of copied.  Short runs
        use ``copy_file_range``, a copy inside the kernel with no trip through a user buffer
        (measured: 6 % of a random 4 KiB first write), except where extents are shared: there
        ``copy_file_range`` clones too, which measured 5-10x slower than a copy for 16 KiB.
        Other runs, and file systems that cannot do either, go through a page-aligned scratch
        buffer, which measured faster for 1 MiB runs; the kernel copies to and from a
        page-aligned buffer markedly faster than to a ``bytes`` object, whose data sits 32
        bytes into a heap block.
        """
        sh = self._shift
        vfd, sfd = self._vol._fd, self._sfd
        src, dst, left = block << sh, slot << sh, count << sh
        if left <= _CFR_MAX and dst + left <= self._wmap_end:
            self._wmap[dst : dst + left] = self._vol._mapped()[src : src + left]
            return
        clone = self._clone
        if (clone is None or (clone and left >= _CLONE_MIN)) and self._clone_range(src, dst, left):
            return
        if self._use_cfr and left <= _CFR_MAX and not self._clone:
            try:
                while left:
                    done = os.copy_file_range(vfd, sfd, left, src, dst)
                    if done <= 0:
                        raise VssStoreCorruptError(f"volume image {self._vol.path!r} is truncated")
                    src, dst, left = src + done, dst + done, left - done
                return
            except OSError as exc:
                if exc.errno not in _NO_COPY_FILE_RANGE:
                    raise
                self._use_cfr = False  # not on this file system: use the scratch buffer
        scratch = self._scratch
        if scratch is None:
            scratch = self._scratch = memoryview(mmap.mmap(-1, max(_COPY_CHUNK, self._B)))
        while left:
            view = scratch[: min(left, len(scratch))]
            if os.preadv(vfd, [view], src) != len(view):
                raise VssStoreCorruptError(f"volume image {self._vol.path!r} is truncated")
            pwrite_all(sfd, view, dst)
            src, dst, left = src + len(view), dst + len(view), left - len(view)

    def _clone_range(self, src: int, dst: int, length: int) -> bool:
        """Clone ``length`` bytes of the volume at ``src`` into the store at ``dst``
        (``FICLONERANGE``, Linux): the store's range then shares the volume's extents, and the
        live write that follows makes the file system give the volume new ones.  False where
        the file systems cannot (``EOPNOTSUPP``, ``EXDEV``: another file system, ``EINVAL``:
        alignment, ...), remembered for good; other errors propagate like a failed copy.

        Windows' volsnap copies the old block into the diff area; the bytes in the store are
        the same either way, so cloning is a host optimisation with nothing to model.  It moves
        no data: a first 1 MiB write after a snapshot then costs about one page-cache pass
        instead of three (benchmarks/README.md).  Sizes are unchanged: :attr:`used` counts
        slots, :attr:`allocated` the store file's length; a clone over reserved slots frees
        their zeros on disk.  The kernel writes back and drops the store's cached pages of the
        range first, so the store's mappings (the memcpy path, snapshot reads) fault the cloned
        bytes in.  The first kernel copy of a store tries a clone whatever its length, so that
        short runs know whether ``copy_file_range`` would clone (see :meth:`_copy_blocks`).
        """
        arg = struct.pack("qQQQ", self._vol._fd, src, length, dst)
        try:
            fcntl.ioctl(self._sfd, _FICLONERANGE, arg)
        except OSError as exc:
            if exc.errno not in _NO_CLONE:
                raise
            self._clone = False
            return False
        self._clone = True
        return True

    def _make_room(self, m: int, keep: SnapState | None = None) -> None:
        """Purge the oldest snapshots until ``m`` more slots fit (diff area full).

        With ``keep`` (a recovery-window write of that snapshot), only older snapshots may
        go, and if they cannot free enough nothing is purged and the write is refused.
        """
        st = self._st
        limit = self._max_slots
        if limit is None:
            return
        if keep is not None:
            freeable = 0
            for s in st.snaps:
                if s is keep or st.used - freeable + m <= limit:
                    break
                freeable += len(s.da) + len(s.overlay)
            if st.used - freeable + m > limit:
                raise VssInsufficientStorageError(
                    f"the diff area cannot hold {m} more blocks for shadow copy {keep.id} even "
                    "after purging the older shadow copies"
                )
        while st.snaps and st.used + m > limit:
            self._purge(st.snaps[0], 1)

    # --------------------------------------------------------------------- structure changes
    def _remove(self, rec: SnapState) -> None:
        self._begin_change()
        freed = self._st.remove(rec)
        self._alloc.free(freed)
        self._structure_changed()
        self._end_change()
        device = self._devices.pop(rec.id, None)
        if device is not None:
            device._forget_fs()

    def _purge(self, rec: SnapState, reason: int) -> None:
        """The engine removes a snapshot on its own (journaled, traced, listeners told)."""
        self._log().delete_snapshot(rec.seq, reason)
        self._remove(rec)
        text = PURGE_REASONS[reason]
        self._trace(
            EventKind.PURGE,
            "PurgeSnapshot",
            f"shadow copy {rec.id} purged: {text}",
            snapshot_id=str(rec.id),
            reason=text,
        )
        for listener in list(self._listeners):
            self._vol._notify_later(functools.partial(listener, rec.id, text))

    def _structure_changed(self) -> None:
        st = self._st
        if st.snaps:
            self._nm = st.snaps[-1].da.map
            self._vol._cow = self._preserve
        else:
            self._nm = {}
            self._vol._cow = None
        self._vol._cow_map = self._nm

    def _begin_change(self) -> None:
        self._vol._epoch |= 1

    def _end_change(self) -> None:
        vol = self._vol
        if vol._epoch & 1:
            vol._epoch += 1

    # ---------------------------------------------------------------------------- reading
    def _read(self, rec: SnapState, offset: int, length: int) -> tuple[bytes, int]:
        """Snapshot bytes and how many came from the diff area, without the volume lock.

        Optimistic: plan and copy, then check the volume's epoch did not move (no write
        preserved blocks, no structure change meanwhile); after a few races, take the lock.
        """
        self._check_open()
        vol = self._vol
        for _ in range(4):
            e0 = vol._epoch
            if e0 & 1:
                time.sleep(0)
                continue
            if rec.deleted:
                break
            result = self._read_once(rec, offset, length)
            if vol._epoch == e0:
                return result
        with vol._lock:
            self._check_open()
            if rec.deleted:
                raise VssObjectNotFoundError(f"shadow copy {rec.id} was deleted")
            return self._read_once(rec, offset, length)

    def _view(self, rec: SnapState) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        if rec.view_gen == self._st.gen:
            return rec.view
        with self._vol._lock:
            if rec.deleted:
                raise VssObjectNotFoundError(f"shadow copy {rec.id} was deleted")
            return self._st.view(rec)

    def _hits(self, rec: SnapState, b0: int, b1: int) -> tuple[list[int], list[int]]:
        """Blocks of ``[b0, b1]`` that ``rec`` reads from the diff area, and their slots."""
        vb, vs = self._view(rec)
        return plan_hits(vb, vs, self._nm, rec.overlay, b0, b1)

    def _read_once(self, rec: SnapState, offset: int, length: int) -> tuple[bytes, int]:
        """One unsynchronised attempt: the bytes and how many came from the diff area.

        A mixed range is gathered with one ``bytes.join`` over memoryviews of read-only
        mappings of the image and the store: a single copy into the result, no syscall per
        piece.
        """
        if length == 0:
            return b"", 0
        sh = self._shift
        b0 = offset >> sh
        b1 = (offset + length - 1) >> sh
        if b0 == b1:
            s = rec.overlay.get(b0) if rec.overlay else None
            if s is None:
                vb, vs = self._view(rec)
                if vb.size:
                    i = int(vb.searchsorted(b0))
                    if i < vb.size and int(vb[i]) == b0:
                        s = int(vs[i])
                if s is None:
                    s = self._nm.get(b0)
            if s is None:
                return pread_exact(self._vol._fd, length, offset, "volume image"), 0
            pos = (s << sh) + offset - (b0 << sh)
            return pread_exact(self._sfd, length, pos, "diff area"), length
        hb, hs = self._hits(rec, b0, b1)
        if not hb:
            return pread_exact(self._vol._fd, length, offset, "volume image"), 0
        vmap = self._vol._mapped()
        smap = self._store_mapped((max(hs) + 1) << sh)
        return gather(vmap, smap, hb, hs, offset, length, sh)

    def _store_mapped(self, upto: int) -> memoryview:
        view = self._smap
        if view is None or len(view) < upto:
            size = os.fstat(self._sfd).st_size
            if size < upto:
                raise VssStoreCorruptError(f"{STORE_FILE} is shorter than its index says")
            view = self._smap = memoryview(mmap.mmap(self._sfd, size, prot=mmap.PROT_READ))
        return view

    def _provenance(self, rec: SnapState, offset: int, length: int) -> Provenance:
        self._check_open()
        with self._vol._lock:
            if rec.deleted:
                raise VssObjectNotFoundError(f"shadow copy {rec.id} was deleted")
            if length == 0:
                return Provenance(offset, 0, (), (), ())
            sh = self._shift
            b0, b1 = offset >> sh, (offset + length - 1) >> sh
            hb, _ = self._hits(rec, b0, b1)
            stored = set(hb)
            blocks = range(b0, b1 + 1)
            return Provenance(
                offset,
                length,
                tuple(hb),
                tuple(b for b in blocks if b not in stored),
                tuple(b for b in hb if b in rec.overlay),
            )

    def _content_blocks(self, rec: SnapState) -> NDArray[np.int64]:
        with self._vol._lock:
            if rec.deleted:
                raise VssObjectNotFoundError(f"shadow copy {rec.id} was deleted")
            return self._st.content_blocks(rec)

    # ---------------------------------------------------------------- recovery-window writes
    def _overlay_write(self, rec: SnapState, offset: int, data: bytes | memoryview) -> None:
        """Write into one shadow copy only (auto-recovery): private overlay slots."""
        n = len(data)
        if n == 0:
            return
        vol = self._vol
        with vol._lock:
            self._check_open()
            if rec.deleted:
                raise VssObjectNotFoundError(f"shadow copy {rec.id} was deleted")
            self._check_no_revert("write to a shadow copy")
            sh, B = self._shift, self._B
            b0, b1 = offset >> sh, (offset + n - 1) >> sh
            ov = rec.overlay
            new = [b for b in range(b0, b1 + 1) if b not in ov]
            if new and self._max_slots is not None and self._st.used + len(new) > self._max_slots:
                self._make_room(len(new), keep=rec)
            fresh = dict(zip(new, self._alloc.take(len(new)).tolist(), strict=True))
            self._begin_change()
            end = offset + n
            for b in range(b0, b1 + 1):
                lo, hi = max(offset, b << sh), min(end, (b + 1) << sh)
                piece = data[lo - offset : hi - offset]
                slot = ov.get(b)
                if slot is None:
                    block = bytearray(self._read_once(rec, b << sh, B)[0])
                    block[lo - (b << sh) : hi - (b << sh)] = piece
                    pwrite_all(self._sfd, block, fresh[b] << sh)
                else:
                    pwrite_all(self._sfd, piece, (slot << sh) + lo - (b << sh))
            if self._durable:
                fdatasync(self._sfd)
            if fresh:
                self._log().block_runs(
                    RecordType.OVERLAY,
                    rec.seq,
                    np.fromiter(fresh.keys(), np.int64, len(fresh)),
                    np.fromiter(fresh.values(), np.int64, len(fresh)),
                )
                ov.update(fresh)
                self._st.used += len(fresh)
            self._end_change()

    # ------------------------------------------------------------------------------ revert
    def _revert_step(self, job: RevertJob, max_blocks: int) -> bool:
        vol = self._vol
        with vol._lock:
            self._check_open()
            if job is not self._revert_job:
                raise VssRevertInProgressError("this revert job is no longer the pending one")
            rs = job._state
            target = self._st.by_seq[rs.seq]
            sh = self._shift
            chunk = rs.blocks[rs.cursor : rs.cursor + max_blocks]
            if chunk.size:
                cut = np.flatnonzero(np.diff(chunk) != 1) + 1
                bounds = np.concatenate(([0], cut, [chunk.size])).tolist()
                limit = max(1, _COPY_CHUNK >> sh)
                for i, j in itertools.pairwise(bounds):
                    b, stop = int(chunk[i]), int(chunk[j - 1]) + 1
                    while b < stop:
                        k = min(stop - b, limit)
                        data, _ = self._read_once(target, b << sh, k << sh)
                        vol._write_for_revert(b << sh, data)
                        b += k
            rs.cursor += int(chunk.size)
            self._log().revert_progress(rs.cursor)
            if rs.cursor < rs.blocks.size:
                return False
            self._st.revert = None
            self._revert_job = None
            job._done = True
            vol._set_revert_pending(False)
            self._trace(
                EventKind.SNAPSHOT,
                "RevertComplete",
                f"the volume now equals shadow copy {target.id}",
                snapshot_id=str(target.id),
            )
            vol._fs_changed()
        return True

    # -------------------------------------------------------------------------- persistence
    def _log(self) -> Journal:
        journal = self._journal
        if journal is None:
            raise ValueError("shadow storage is closed")
        if journal.end > self._compact_at:
            self._checkpoint()
            journal = self._journal
            if journal is None:
                raise ValueError("shadow storage is closed")
        return journal

    def _checkpoint(self) -> None:
        """Write the whole index as generation n+1 and start an empty journal for it."""
        st = self._st
        generation = self._gen + 1
        directory = self._dir
        stray = journal_path(directory, generation)
        try:
            journal = Journal.create(stray, generation, self._vol.id, durable=self._durable)
        except FileExistsError:
            os.unlink(stray)  # left by a compaction that crashed before its rename
            journal = Journal.create(stray, generation, self._vol.id, durable=self._durable)
        try:
            raw = index_bytes(st, self._vol, generation, self._max_size, self._max_snapshots)
            atomic_write(os.path.join(directory, INDEX_FILE), raw, durable=self._durable)
        except BaseException:
            journal.close()
            os.unlink(stray)
            raise
        old, old_gen = self._journal, self._gen
        self._journal, self._gen = journal, generation
        self._compact_at = journal.end + max(_JOURNAL_MIN, 2 * len(raw))
        if old is not None:
            old.close()
        for name in os.listdir(directory):
            if name.startswith("journal.") and name != f"journal.{generation}":
                os.unlink(os.path.join(directory, name))
        if self._durable and old_gen:
            fsync_dir(directory)

    # ------------------------------------------------------------------------------ helpers
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("shadow storage is closed")

    def _check_no_revert(self, what: str) -> None:
        if self._revert_job is not None:
            raise VssRevertInProgressError(
                f"cannot {what} while the volume is being reverted; finish pending_revert first"
            )

    def _resolve(self, snapshot: SnapshotDevice | uuid.UUID | str) -> SnapState:
        if isinstance(snapshot, SnapshotDevice):
            if snapshot._store is not self:
                raise VssObjectNotFoundError(f"shadow copy {snapshot.id} belongs to another store")
            return snapshot._rec
        if isinstance(snapshot, str):
            try:
                snapshot = uuid.UUID(snapshot)
            except ValueError:
                raise VssInvalidArgumentError(f"{snapshot!r} is not a shadow copy id") from None
        if not isinstance(snapshot, uuid.UUID):
            raise TypeError(f"expected a SnapshotDevice or UUID, not {type(snapshot).__name__}")
        rec = self._st.by_id.get(snapshot)
        if rec is None:
            raise VssObjectNotFoundError(f"no shadow copy {snapshot} on this volume")
        return rec

    def _trace(self, kind: EventKind, name: str, detail: str, **data: str | int) -> None:
        if self._tracer is not None:
            target = self._vol.name or self._vol.path
            self._tracer.emit(_SOURCE, target, kind, name, detail, **data)


# ---------------------------------------------------------------------------- module helpers
def _check_volume(volume: object) -> None:
    if not isinstance(volume, Volume):
        raise TypeError(f"volume must be a vsssim Volume, not {type(volume).__name__}")
    if volume.closed:
        raise ValueError("the volume is closed")
