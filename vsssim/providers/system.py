"""The system provider ("Microsoft Software Shadow Copy provider 1.0"): copy-on-write.

Each volume's shadow copies live in one :class:`~vsssim.storage.shadowstorage.ShadowStorage` (its
diff area, 16 KiB copy-on-write blocks, oldest copy purged when the area is full).  The copy is
made in ``CommitSnapshots`` in O(1), while the kernel holds the volume's writes.  Between
``PreFinalCommitSnapshots`` and ``PostFinalCommitSnapshots`` the copy is writable for writers'
auto-recovery unless the context carries ``NO_AUTORECOVERY``; afterwards it is read-only.

The provider's catalog (set id, context, attributes, device name, exposure, creation time) is kept
in each snapshot's metadata inside the diff area, so persistent copies come back with everything
after a restart of the simulated machine, and non-persistent ones are gone, as after a reboot.

Fidelity notes: the diff area is a set of host files under the machine's root directory; the
volume it is associated "on" is recorded but its space is not taken from that volume's file
system.  Without an explicit association, a volume's diff area is on the volume itself and
unbounded (``vssadmin add/resize shadowstorage`` change that).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from vsssim.constants import ProviderType, SnapshotState, VolumeSnapshotAttributes
from vsssim.errors import (
    VssInsufficientStorageError,
    VssMaximumNumberOfSnapshotsReachedError,
    VssObjectNotFoundError,
)
from vsssim.providers.base import SnapshotProvider, SnapshotRecord, VolumeInfo
from vsssim.storage.blockdev import BlockDevice
from vsssim.trace import EventKind

if TYPE_CHECKING:
    from vsssim.storage.shadowstorage import ShadowStorage
    from vsssim.storage.snapshot import SnapshotDevice
    from vsssim.storage.volume import Volume

__all__ = ["SYSTEM_PROVIDER_ID", "DiffAreaAssociation", "SystemProvider"]

SYSTEM_PROVIDER_ID = UUID("b5946137-7b9f-4925-af80-51abd60b20d5")
_A = VolumeSnapshotAttributes

# Keys of the provider's catalog inside each snapshot's metadata.
_K_SET, _K_COUNT, _K_CONTEXT, _K_ATTRS = "set", "count", "context", "attributes"
_K_DEVICE, _K_CREATED, _K_EXPOSED_NAME, _K_EXPOSED_PATH = "device", "created", "xname", "xpath"
_K_ORIGIN, _K_SERVICE, _K_DONE = "origin", "service", "complete"


@dataclass
class DiffAreaAssociation:
    """A shadow storage association: diff area of ``for_volume`` on ``on_volume`` (≤ max)."""

    for_volume: str
    on_volume: str
    max_size: int | None
    explicit: bool
    store: ShadowStorage | None = None

    @property
    def used(self) -> int:
        """Bytes of the diff area holding preserved data."""
        return self.store.used if self.store is not None else 0


class SystemProvider(SnapshotProvider):
    """The in-box copy-on-write provider (``VSS_PROV_SYSTEM``)."""

    provider_id = SYSTEM_PROVIDER_ID
    provider_name = "Microsoft Software Shadow Copy provider 1.0"
    provider_type = ProviderType.SYSTEM
    provider_version = "1.0.0.7"
    provider_version_id = UUID("00000001-0000-0000-0007-000000000001")
    class_id = UUID("65ee1dba-8ff4-4a58-ac1c-3470ee2f376a")

    def __init__(self, *, max_snapshots: int = 512, commit_cost: float = 0.0) -> None:
        super().__init__()
        self.max_snapshots = max_snapshots
        self.commit_cost = commit_cost
        self._associations: dict[str, DiffAreaAssociation] = {}  # by for-volume GUID path
        self._windows: dict[UUID, ExitStack] = {}

    # -- loading --------------------------------------------------------------------------------
    def attach_volume(self, volume: VolumeInfo) -> None:
        """Reopen the diff area of ``volume`` if it has one, bringing its persistent copies back."""
        from vsssim.storage.shadowstorage import ShadowStorage

        directory = self._store_dir(volume)
        if not os.path.isdir(directory) or volume.guid_path in self._associations:
            return
        store = ShadowStorage.open(self._volume_device(volume), directory,
                                   tracer=self.host.tracer)
        assoc = self._associations.setdefault(
            volume.guid_path,
            DiffAreaAssociation(volume.name, volume.name, store.max_size, explicit=False))
        assoc.store = store
        store.add_purge_listener(self._on_purge)
        for snap in store.snapshots:
            meta = snap.metadata
            if meta.get(_K_DONE) != "1":
                store.delete(snap)  # committed but never finished: as if aborted
                continue
            rec = SnapshotRecord(
                snapshot_id=snap.id, snapshot_set_id=UUID(meta[_K_SET]), volume=volume,
                context=int(meta[_K_CONTEXT]), attributes=int(meta[_K_ATTRS]),
                state=SnapshotState.CREATED, snapshots_count=int(meta[_K_COUNT]),
                device_object=meta[_K_DEVICE], creation_timestamp=int(meta[_K_CREATED]),
                exposed_name=meta.get(_K_EXPOSED_NAME) or None,
                exposed_path=meta.get(_K_EXPOSED_PATH) or None,
                originating_machine=meta.get(_K_ORIGIN, ""),
                service_machine=meta.get(_K_SERVICE, ""), device=snap)
            snap.roots = [rec.device_object + "\\"]
            self._records[rec.snapshot_id] = rec

    def close(self) -> None:
        """Close every diff area (the machine shuts down)."""
        for stack in self._windows.values():
            stack.close()
        self._windows.clear()
        for assoc in self._associations.values():
            if assoc.store is not None:
                assoc.store.close()
                assoc.store = None

    # -- diff areas --------------------------------------------------------------------------
    def _store_dir(self, volume: VolumeInfo) -> str:
        key = volume.guid_path.strip("\\?").replace("\\", "").replace("{", "").replace("}", "")
        return os.path.join(self.host.state_directory(self.provider_id), key)

    @staticmethod
    def _volume_device(volume: VolumeInfo) -> Volume:
        from vsssim.storage.volume import Volume

        if not isinstance(volume.device, Volume):
            raise VssObjectNotFoundError(f"{volume.name} is not a simulated volume image")
        return volume.device

    def association(self, volume: VolumeInfo) -> DiffAreaAssociation | None:
        """The shadow storage association of ``volume``, if any."""
        return self._associations.get(volume.guid_path)

    def associations(self) -> list[DiffAreaAssociation]:
        """Every shadow storage association."""
        return list(self._associations.values())

    def set_association(self, volume: VolumeInfo, on_volume: str, max_size: int | None,
                        *, explicit: bool = True) -> DiffAreaAssociation:
        """Create or change the association of ``volume`` (resizing purges oldest copies)."""
        assoc = self._associations.get(volume.guid_path)
        if assoc is None:
            assoc = DiffAreaAssociation(volume.name, on_volume, max_size, explicit)
            self._associations[volume.guid_path] = assoc
        assoc.on_volume, assoc.max_size, assoc.explicit = on_volume, max_size, explicit
        if assoc.store is not None:
            assoc.store.resize(max_size)
        return assoc

    def remove_association(self, volume: VolumeInfo) -> None:
        """Delete the association (the volume must have no shadow copies left)."""
        assoc = self._associations.pop(volume.guid_path, None)
        if assoc is not None and assoc.store is not None:
            assoc.store.close()

    def storage(self, volume: VolumeInfo) -> ShadowStorage:
        """The diff area of ``volume``, created on first use."""
        from vsssim.storage.shadowstorage import ShadowStorage

        assoc = self._associations.get(volume.guid_path)
        if assoc is None:
            assoc = DiffAreaAssociation(volume.name, volume.name, None, explicit=False)
            self._associations[volume.guid_path] = assoc
        if assoc.store is None:
            directory = self._store_dir(volume)
            device = self._volume_device(volume)
            if os.path.isdir(directory):
                assoc.store = ShadowStorage.open(device, directory, tracer=self.host.tracer)
                assoc.store.resize(assoc.max_size)
            else:
                os.makedirs(os.path.dirname(directory), exist_ok=True)
                assoc.store = ShadowStorage.create(
                    device, directory, max_size=assoc.max_size,
                    max_snapshots=self.max_snapshots, tracer=self.host.tracer)
            assoc.store.add_purge_listener(self._on_purge)
        return assoc.store

    def _on_purge(self, snapshot_id: UUID, reason: str) -> None:
        with self._lock:
            rec = self._records.pop(snapshot_id, None)
        if rec is not None:
            rec.state = SnapshotState.DELETED
            rec.device = None
            self.host.tracer.emit(self.provider_name, rec.volume.name, EventKind.PURGE,
                                  "ShadowCopyDeleted",
                                  f"{{{snapshot_id}}} removed by the system provider: {reason}",
                                  snapshot=str(snapshot_id), reason=reason)

    # -- the mechanism -------------------------------------------------------------------------
    def supports_volume(self, volume: VolumeInfo) -> bool:
        from vsssim.storage.volume import Volume

        return isinstance(volume.device, Volume)

    def supports_context(self, context: int) -> bool:
        # Software copies cannot be transported or be plexes (they need a hardware provider).
        return not context & (_A.TRANSPORTABLE | _A.PLEX) or context == 0xFFFFFFFF

    def count_on(self, volume: VolumeInfo) -> int:
        """How many shadow copies of ``volume`` exist (the 512 limit counts them)."""
        return sum(1 for r in self.records() if r.volume.guid_path == volume.guid_path)

    def end_prepare_snapshots(self, snapshot_set_id: UUID) -> None:
        # Space and count problems surface here, before anything is frozen (§2.5).
        for rec in self._set_records(snapshot_set_id, "EndPrepareSnapshots",
                                     (SnapshotState.PREPARING,)):
            store = self.storage(rec.volume)
            if len(store.snapshots) >= store.max_snapshots:
                raise VssMaximumNumberOfSnapshotsReachedError(
                    f"{rec.volume.name} already has {len(store.snapshots)} shadow copies")
            if store.max_size is not None and store.max_size < store.volume.block_size:
                raise VssInsufficientStorageError(
                    f"the shadow storage of {rec.volume.name} is too small "
                    f"({store.max_size} bytes)")
        super().end_prepare_snapshots(snapshot_set_id)

    def create_device(self, record: SnapshotRecord) -> BlockDevice:
        store = self.storage(record.volume)
        if self.commit_cost:
            self.host.clock.sleep(self.commit_cost)  # simulated duration of the commit
        return store.create_snapshot(
            record.snapshot_id,
            persistent=bool(record.attributes & _A.PERSISTENT),
            metadata={_K_SET: str(record.snapshot_set_id), _K_DONE: "0"})

    def destroy_device(self, record: SnapshotRecord) -> None:
        stack = self._windows.pop(record.snapshot_id, None)
        if stack is not None:
            stack.close()
        device = record.device
        assoc = self._associations.get(record.volume.guid_path)
        if assoc is not None and assoc.store is not None and device is not None:
            snap: SnapshotDevice = device  # type: ignore[assignment]
            if not snap.deleted:
                assoc.store.delete(snap)

    def pre_final_commit_snapshots(self, snapshot_set_id: UUID) -> None:
        def open_window(rec: SnapshotRecord) -> None:
            snap = rec.device
            if snap is None:
                return
            if rec.device_object:
                snap.roots = [rec.device_object + "\\"]  # type: ignore[attr-defined]
            if not rec.attributes & _A.NO_AUTORECOVERY:
                stack = ExitStack()
                stack.enter_context(snap.recovery_window())  # type: ignore[attr-defined]
                self._windows[rec.snapshot_id] = stack

        self._advance(snapshot_set_id, "PreFinalCommitSnapshots",
                      (SnapshotState.POSTCOMMITTED,), SnapshotState.PREFINALCOMMITTED,
                      open_window)

    def finalize(self, record: SnapshotRecord) -> None:
        stack = self._windows.pop(record.snapshot_id, None)
        if stack is not None:
            stack.close()  # read-only from now on
        self.record_changed(record, complete=True)

    def record_changed(self, record: SnapshotRecord, *, complete: bool = True) -> None:
        assoc = self._associations.get(record.volume.guid_path)
        if assoc is None or assoc.store is None or record.device is None:
            return
        assoc.store.set_metadata(record.snapshot_id, {
            _K_SET: str(record.snapshot_set_id), _K_COUNT: str(record.snapshots_count),
            _K_CONTEXT: str(record.context), _K_ATTRS: str(record.attributes),
            _K_DEVICE: record.device_object, _K_CREATED: str(record.creation_timestamp),
            _K_EXPOSED_NAME: record.exposed_name or "", _K_EXPOSED_PATH: record.exposed_path or "",
            _K_ORIGIN: record.originating_machine, _K_SERVICE: record.service_machine,
            _K_DONE: "1" if complete else "0",
        })
