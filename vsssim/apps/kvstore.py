"""A key-value store with a write-ahead log on simfs, and its VSS writer.

The point of VSS in one application.  ``KvStore`` keeps its committed state in a data file
(``data.kv``, rewritten whole at each checkpoint by write-to-temp-then-rename) and appends every
change to a log (``log\\wal.log``) first.  Opening a store recovers it: the data file, then every
complete, checksummed log record newer than the data file's checkpoint; a torn record at the end
of the log (a write cut in half) is dropped.

``KvStoreApp`` keeps writing in small steps: half a log record, the other half, a checkpoint now
and then.  A shadow copy taken between two steps is *crash-consistent*: opening a store from it
needs recovery (records to replay, perhaps a torn tail).  ``KvStoreWriter`` makes it
*application-consistent*: on Freeze it finishes the record in flight, checkpoints and suspends the
application; on Thaw (or Abort) it resumes it.  A store restored from such a backup opens with no
recovery at all and holds exactly the state of the freeze instant.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING
from uuid import UUID

from vsssim.apps.base import Application
from vsssim.constants import (
    ApplicationLevel,
    BackupSchema,
    ComponentType,
    RestoreMethod,
    SourceType,
    UsageType,
    WriterRestore,
)
from vsssim.errors import VssFileNotFoundError
from vsssim.writer import Writer

if TYPE_CHECKING:
    from vsssim.components import WriterComponents
    from vsssim.documents import WriterMetadataBuilder
    from vsssim.storage.simfs import SimFS

__all__ = ["KvStore", "KvStoreApp", "KvStoreWriter", "Recovery"]

_DATA_MAGIC = b"KVDB"
_LOG_MAGIC = 0x4B564C47  # "KVLG"
_REC_HEAD = struct.Struct("<IQII")  # magic, lsn, key length, value length
_CRC = struct.Struct("<I")
_DATA_HEAD = struct.Struct("<4sIQI")  # magic, version, checkpoint lsn, record count
# What the writer reports at every Identify (a Flag union costs several calls to build).
_BACKUP_SCHEMA = (BackupSchema.COPY | BackupSchema.TIMESTAMPED | BackupSchema.INCREMENTAL
                  | BackupSchema.WRITER_SUPPORTS_NEW_TARGET)


@dataclass(frozen=True)
class Recovery:
    """What opening a store had to do: nothing, for an application-consistent copy."""

    checkpoint_lsn: int
    replayed: int
    torn_bytes: int

    @property
    def needed(self) -> bool:
        """True if the store was only crash-consistent (log replay or a torn tail)."""
        return self.replayed > 0 or self.torn_bytes > 0


def _record(lsn: int, key: bytes, value: bytes) -> bytes:
    head = _REC_HEAD.pack(_LOG_MAGIC, lsn, len(key), len(value))
    body = head + key + value
    return body + _CRC.pack(zlib.crc32(body))


def _encode_data(lsn: int, state: Mapping[bytes, bytes]) -> bytes:
    parts = [_DATA_HEAD.pack(_DATA_MAGIC, 1, lsn, len(state))]
    for k in sorted(state):
        parts.append(struct.pack("<II", len(k), len(state[k])) + k + state[k])
    blob = b"".join(parts)
    return blob + _CRC.pack(zlib.crc32(blob))


class KvStore:
    """The store itself: committed state, log sequence numbers, checkpoints, recovery."""

    def __init__(self, fs: SimFS, directory: str, state: dict[bytes, bytes], lsn: int,
                 checkpoint_lsn: int, recovery: Recovery) -> None:
        self.fs = fs
        self.directory = directory.rstrip("\\")
        self.state = state
        self.lsn = lsn
        self.checkpoint_lsn = checkpoint_lsn
        self.recovery = recovery

    # Cached: ``directory`` never changes, and the log's path is formed at every append.
    @cached_property
    def data_path(self) -> str:
        """The data file."""
        return f"{self.directory}\\data.kv"

    @cached_property
    def log_path(self) -> str:
        """The write-ahead log."""
        return f"{self.directory}\\log\\wal.log"

    @classmethod
    def create(cls, fs: SimFS, directory: str) -> KvStore:
        """A new, empty store in ``directory``."""
        directory = directory.rstrip("\\")
        fs.makedirs(f"{directory}\\log", exist_ok=True)
        fs.write_file(f"{directory}\\data.kv", _encode_data(0, {}))
        fs.write_file(f"{directory}\\log\\wal.log", b"")
        return cls(fs, directory, {}, 0, 0, Recovery(0, 0, 0))

    @classmethod
    def open(cls, fs: SimFS, directory: str) -> KvStore:
        """Open and recover the store in ``directory`` (read-only file systems work too)."""
        directory = directory.rstrip("\\")
        blob = fs.read_file(f"{directory}\\data.kv")
        state, ckpt = _decode_data(blob)
        try:
            log = fs.read_file(f"{directory}\\log\\wal.log")
        except VssFileNotFoundError:
            log = b""
        lsn, replayed, pos = ckpt, 0, 0
        while pos + _REC_HEAD.size <= len(log):
            magic, rec_lsn, klen, vlen = _REC_HEAD.unpack_from(log, pos)
            end = pos + _REC_HEAD.size + klen + vlen + _CRC.size
            if magic != _LOG_MAGIC or end > len(log):
                break
            body = log[pos:end - _CRC.size]
            if _CRC.unpack_from(log, end - _CRC.size)[0] != zlib.crc32(body):
                break
            if rec_lsn > ckpt:
                k0 = pos + _REC_HEAD.size
                state[log[k0:k0 + klen]] = log[k0 + klen:k0 + klen + vlen]
                replayed += 1
            lsn = max(lsn, rec_lsn)
            pos = end
        return cls(fs, directory, state, lsn, ckpt, Recovery(ckpt, replayed, len(log) - pos))

    # -- writing ------------------------------------------------------------------------------
    def put(self, key: bytes, value: bytes) -> None:
        """Log one change (a single file-system operation) and commit it."""
        self.lsn += 1
        self.fs.append_file(self.log_path, _record(self.lsn, key, value))
        self.state[key] = value

    def checkpoint(self) -> None:
        """Write the whole state to the data file (temp + rename) and empty the log."""
        tmp = f"{self.directory}\\data.tmp"
        self.fs.write_file(tmp, _encode_data(self.lsn, self.state))
        self.fs.rename(tmp, self.data_path, replace=True)
        self.checkpoint_lsn = self.lsn
        self.fs.write_file(self.log_path, b"")


def _decode_data(blob: bytes) -> tuple[dict[bytes, bytes], int]:
    if len(blob) < _DATA_HEAD.size + _CRC.size:
        raise ValueError("data.kv is too short")
    body, crc = blob[:-_CRC.size], _CRC.unpack_from(blob, len(blob) - _CRC.size)[0]
    if zlib.crc32(body) != crc:
        raise ValueError("data.kv failed its checksum")
    magic, _, ckpt, count = _DATA_HEAD.unpack_from(body, 0)
    if magic != _DATA_MAGIC:
        raise ValueError("data.kv is not a KvStore data file")
    state: dict[bytes, bytes] = {}
    pos = _DATA_HEAD.size
    for _ in range(count):
        klen, vlen = struct.unpack_from("<II", body, pos)
        pos += 8
        state[body[pos:pos + klen]] = body[pos + klen:pos + klen + vlen]
        pos += klen + vlen
    return state, ckpt


class KvStoreApp(Application):
    """The store as a running application: it writes in steps that a snapshot can split.

    Each step is one of: write the first half of a log record, write its second half (the
    record is committed), or checkpoint (every ``checkpoint_every`` records).
    """

    def __init__(self, fs: SimFS, directory: str = "C:\\KvStore", *, name: str = "KvStore",
                 keys: int = 32, checkpoint_every: int = 8, service: str = "KvStoreService",
                 create: bool = True) -> None:
        super().__init__()
        self.name = name
        self.service = service
        self.keys = keys
        self.checkpoint_every = checkpoint_every
        self.store = KvStore.create(fs, directory) if create else KvStore.open(fs, directory)
        # The record in flight: key, value, and the second half of its bytes (still to write).
        self._pending: tuple[bytes, bytes, bytes] | None = None
        self._since_checkpoint = 0
        self.running = True

    @property
    def state(self) -> dict[bytes, bytes]:
        """The committed state (what a crash right now would keep)."""
        return dict(self.store.state)

    def uses(self, device: object) -> bool:
        return self.store.fs.device is device

    def locked_files(self) -> list[str]:
        # A database keeps its files open exclusively while it runs.
        return [self.store.data_path, self.store.log_path] if self.running else []

    def step(self, rng: random.Random) -> None:
        store = self.store
        if not self.running:
            return
        if self._pending is not None:
            self._finish_record(self._pending)
            return
        if self._since_checkpoint >= self.checkpoint_every:
            store.checkpoint()
            self._since_checkpoint = 0
            return
        key = b"key%03d" % rng.randrange(self.keys)
        value = rng.randbytes(rng.randint(8, 48))
        store.lsn += 1
        rec = _record(store.lsn, key, value)
        half = len(rec) // 2
        store.fs.append_file(store.log_path, rec[:half])
        self._pending = (key, value, rec[half:])

    def _finish_record(self, pending: tuple[bytes, bytes, bytes]) -> None:
        """The step that writes the second half of the record in flight (it draws nothing)."""
        key, value, tail = pending
        store = self.store
        store.fs.append_file(store.log_path, tail)
        store.state[key] = value
        self._pending = None
        self._since_checkpoint += 1

    def _finish_in_flight(self) -> None:
        """What a step does with the record in flight: this class's step is
        :meth:`_finish_record` then, which draws nothing (no generator to seed); a subclass's
        own ``step`` is run."""
        if type(self).step is not KvStoreApp.step:
            self.step(random.Random(0))
        elif self.running and self._pending is not None:
            self._finish_record(self._pending)

    def quiesce(self) -> None:
        """Finish the record in flight and checkpoint (what the writer does at Freeze)."""
        with self.lock:
            if self._pending is not None:
                self._finish_in_flight()
            self.store.checkpoint()
            self._since_checkpoint = 0

    def stop(self) -> None:
        """Stop the service (restores with STOP_RESTORE_START do this first)."""
        with self.lock:
            if self._pending is not None:
                self._finish_in_flight()
            self.running = False

    def start(self) -> None:
        """Start the service again: reopen (and recover) the store from its files."""
        with self.lock:
            self.store = KvStore.open(self.store.fs, self.store.directory)
            self._pending = None
            self._since_checkpoint = 0
            self.running = True


class KvStoreWriter(Writer):
    """The store's VSS writer: one DATABASE component with its data file and its log.

    Freeze finishes the record in flight, checkpoints and suspends the application; Thaw and
    Abort resume it.  ``state_at_freeze`` is the committed state at the freeze instant, what any
    restore of a completed backup must give back.
    """

    writer_id = UUID("0b5c1b1e-6f58-4d9e-9a41-7c3a5f6d2e10")
    writer_name = "KvStore Writer"
    usage_type = UsageType.USERDATA
    source_type = SourceType.TRANSACTEDDB
    level = ApplicationLevel.FRONT_END

    def __init__(self, app: KvStoreApp, *,
                 restore_method: RestoreMethod = RestoreMethod.RESTORE_IF_CAN_REPLACE,
                 writer_restore: WriterRestore = WriterRestore.ALWAYS,
                 alternate_location: str | None = None) -> None:
        self.app = app
        self.restore_method = restore_method
        self.writer_restore = writer_restore
        self.alternate_location = alternate_location
        self.state_at_freeze: dict[bytes, bytes] | None = None
        self.last_backup_stamp = ""

    @property
    def component_name(self) -> str:
        """The component, named after the application."""
        return self.app.name

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        store = self.app.store
        name = self.component_name
        metadata.add_component(ComponentType.DATABASE, "", name,
                               caption=f"{self.app.name} key-value store", selectable=True)
        metadata.add_database_files("", name, store.directory, "data.kv")
        metadata.add_database_log_files("", name, f"{store.directory}\\log", "*.log")
        needs_service = self.restore_method in (RestoreMethod.STOP_RESTORE_START,
                                                RestoreMethod.RESTORE_STOP_START)
        metadata.set_restore_method(self.restore_method,
                                    self.app.service if needs_service else None,
                                    None, self.writer_restore, False)
        if self.alternate_location:
            metadata.add_alternate_location_mapping(store.directory, "data.kv", False,
                                                    self.alternate_location)
            metadata.add_alternate_location_mapping(f"{store.directory}\\log", "*.log", False,
                                                    f"{self.alternate_location}\\log")
        metadata.set_backup_schema(_BACKUP_SCHEMA)
        return True

    def on_prepare_snapshot(self) -> bool:
        return True

    def on_freeze(self) -> bool:
        with self.app.lock:
            self.app.quiesce()
            self.app.suspend()
            self.state_at_freeze = self.app.state
        return True

    def on_thaw(self) -> bool:
        self.app.resume()
        return True

    def on_abort(self) -> bool:
        self.app.resume()
        return True

    def on_post_snapshot(self, components: WriterComponents) -> bool:
        for comp in components:
            comp.set_backup_stamp(f"lsn={self.app.store.checkpoint_lsn}")
        return True

    def on_backup_complete(self, components: WriterComponents) -> bool:
        for comp in components:
            if comp.get_backup_succeeded():
                self.last_backup_stamp = comp.get_backup_stamp()
        return True

    def on_pre_restore(self, components: WriterComponents) -> bool:
        # With STOP_RESTORE_START the requester stops the service; otherwise the writer closes
        # the store's files itself so that they can be replaced.
        if self.app.running and self.restore_method != RestoreMethod.STOP_RESTORE_START:
            self.app.stop()
        return True

    def on_post_restore(self, components: WriterComponents) -> bool:
        # With RESTORE_STOP_START the requester restarts the service after PostRestore.
        if not self.app.running and self.restore_method not in (
                RestoreMethod.STOP_RESTORE_START, RestoreMethod.RESTORE_STOP_START):
            self.app.start()
        return True
