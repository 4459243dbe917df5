"""The system provider ("Microsoft Software Shadow Copy provider 1.0"): copy-on-write.

Each volume's shadow copies live in one :class:`~vsssim.storage.shadowstorage.ShadowStorage` (its
diff area, 16 KiB copy-on-write blocks, oldest copy purged when the area is full).  The copy is
made in ``CommitSnapshots`` in O(1), while the kernel holds the volume's writes.  Between
``PreFinalCommitSnapshots`` and ``PostFinalCommitSnapshots`` the copy is writable for writers'
auto-recovery unless the context carries ``NO_AUTORECOVERY``; afterwards it is read-only.

The provider's catalog (set id, context, attributes, device name, exposure, creation time) is kept
in each snapshot's metadata inside the diff area, so persistent copies come back with everything
after a restart of the simulated machine, and non-persistent ones are gone, as after a reboot.
Shadow storage associations (``vssadmin add/resize shadowstorage``) are kept in
``associations.json`` in the provider's state directory (a volume's default one, made with its
first copy, is made again at boot from its diff area's directory: alone, it is not written).

Fidelity notes: the diff area is a set of host files under the machine's root directory; the
volume it is associated "on" is recorded but its space is not taken from that volume's file
system.  Without an explicit association, a volume's diff area is on the volume itself and
unbounded; such an implicit association disappears with the volume's last shadow copy.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from vsssim.constants import (
    ProviderType,
    SnapshotContext,
    SnapshotState,
    VolumeSnapshotAttributes,
)
from vsssim.errors import (
    VssInsufficientStorageError,
    VssMaximumNumberOfSnapshotsReachedError,
    VssObjectNotFoundError,
    VssRevertInProgressError,
    VssUnsupportedContextError,
)
from vsssim.options import CopiesAfterRevert
from vsssim.providers.base import ProviderHost, SnapshotProvider, SnapshotRecord, VolumeInfo
from vsssim.storage.blockdev import BlockDevice
from vsssim.trace import EventKind

if TYPE_CHECKING:
    from vsssim.storage.shadowstorage import RevertJob, ShadowStorage
    from vsssim.storage.snapshot import SnapshotDevice
    from vsssim.storage.volume import Volume

__all__ = ["SYSTEM_PROVIDER_ID", "DiffAreaAssociation", "SystemProvider"]

SYSTEM_PROVIDER_ID = UUID("b5946137-7b9f-4925-af80-51abd60b20d5")
_A = VolumeSnapshotAttributes
# Plain ints for the context checks (``&`` between flag members runs Python code in enum).
_NOT_SOFTWARE = int(_A.TRANSPORTABLE | _A.PLEX)
_PERSISTENT = int(_A.PERSISTENT)
_CONTEXT_ALL = int(SnapshotContext.ALL)
_CLIENT_ACCESSIBLE = int(_A.CLIENT_ACCESSIBLE)
_NO_AUTORECOVERY = int(_A.NO_AUTORECOVERY)  # (plain ints: ``&`` with a member is Python code)

# Keys of the provider's catalog inside each snapshot's metadata.
_K_SET, _K_COUNT, _K_CONTEXT, _K_ATTRS = "set", "count", "context", "attributes"
_K_DEVICE, _K_CREATED, _K_EXPOSED_NAME, _K_EXPOSED_PATH = "device", "created", "xname", "xpath"
_K_ORIGIN, _K_SERVICE, _K_DONE = "origin", "service", "complete"
_ASSOCIATIONS = "associations.json"


@dataclass
class DiffAreaAssociation:
    """A shadow storage association: diff area of ``for_volume`` on ``on_volume`` (≤ max).

    ``max_size`` None is "UNBOUNDED".  ``explicit`` associations (made by ``add``/``resize``)
    stay when the last copy is deleted; implicit ones go with it.
    """

    for_volume: str
    for_guid: str
    on_volume: str
    max_size: int | None
    explicit: bool
    store: ShadowStorage | None = None

    @property
    def used(self) -> int:
        """Bytes of the diff area holding preserved data."""
        return self.store.used if self.store is not None else 0

    @property
    def allocated(self) -> int:
        """Bytes of the diff area's files (used ≤ allocated)."""
        return max(self.store.allocated, self.used) if self.store is not None else 0


class SystemProvider(SnapshotProvider):
    """The in-box copy-on-write provider (``VSS_PROV_SYSTEM``)."""

    provider_id = SYSTEM_PROVIDER_ID
    provider_name = "Microsoft Software Shadow Copy provider 1.0"
    provider_type = ProviderType.SYSTEM
    provider_version = "1.0.0.7"
    provider_version_id = UUID("00000001-0000-0000-0007-000000000001")
    class_id = UUID("65ee1dba-8ff4-4a58-ac1c-3470ee2f376a")

    def __init__(self, *, max_snapshots: int = 512, commit_cost: float = 0.0,
                 client_accessible_limit: int = 64,
                 copies_after_revert: CopiesAfterRevert = "keep") -> None:
        super().__init__()
        self.max_snapshots = max_snapshots
        self.commit_cost = commit_cost
        self.client_accessible_limit = client_accessible_limit
        self.copies_after_revert = copies_after_revert  # VssOptions.copies_after_revert
        self._associations: dict[str, DiffAreaAssociation] = {}  # by for-volume GUID path
        self._windows: dict[UUID, ExitStack] = {}
        self._reverts: dict[str, RevertJob] = {}  # by volume GUID path

    # -- loading and persistence ---------------------------------------------------------
    def _associations_file(self) -> str:
        return os.path.join(self.host.state_directory(self.provider_id), _ASSOCIATIONS)

    def _load_associations(self) -> None:
        path = self._associations_file()
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            for item in json.load(f):
                self._associations[item["for_guid"]] = DiffAreaAssociation(
                    item["for_volume"], item["for_guid"], item["on_volume"], item["max_size"],
                    bool(item["explicit"]))

    def _save_associations(self) -> None:
        path = self._associations_file()
        items = [{"for_volume": a.for_volume, "for_guid": a.for_guid, "on_volume": a.on_volume,
                  "max_size": a.max_size, "explicit": a.explicit}
                 for a in self._associations.values()]
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(items, f, indent=1)
        os.replace(tmp, path)

    def on_load(self, host: ProviderHost) -> None:
        super().on_load(host)
        self._load_associations()

    def attach_volume(self, volume: VolumeInfo) -> None:
        """At boot: reopen the diff area of ``volume`` if it has one (persistent copies come
        back, non-persistent ones are gone) and finish a revert a reboot interrupted."""
        directory = self._store_dir(volume)
        if not os.path.isdir(directory):
            return
        store = self.storage(volume)
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
        job = store.pending_revert
        if job is not None:
            # Windows continues an interrupted revert after the restart.
            self.host.tracer.emit(self.provider_name, volume.name, EventKind.SNAPSHOT,
                                  "RevertResumed", f"revert to {{{job.snapshot_id}}} continues "
                                  f"at boot ({job.progress[0]}/{job.progress[1]} blocks done)")
            while not job.step(4096):
                pass
            self._revert_done(volume, job)
        self._drop_if_unused(volume)

    def close(self) -> None:
        """Close every diff area (the machine shuts down or restarts)."""
        for stack in self._windows.values():
            stack.close()
        self._windows.clear()
        self._reverts.clear()
        for assoc in self._associations.values():
            if assoc.store is not None:
                assoc.store.close()
                assoc.store = None
        self._records.clear()
        self._current_set = None

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
        """Every shadow storage association in effect: explicit ones, and implicit ones while
        their volume has shadow copies (an implicit association goes with the last copy)."""
        return [a for a in self._associations.values()
                if a.explicit or any(r.volume.guid_path == a.for_guid for r in self.records())]

    def set_association(self, volume: VolumeInfo, on_volume: str, max_size: int | None,
                        *, explicit: bool = True) -> DiffAreaAssociation:
        """Create or change the association of ``volume``; shrinking purges oldest copies
        (``ChangeDiffAreaMaximumSize``)."""
        assoc = self._associations.get(volume.guid_path)
        if assoc is None:
            assoc = DiffAreaAssociation(volume.name, volume.guid_path, on_volume, max_size,
                                        explicit)
            self._associations[volume.guid_path] = assoc
        assoc.on_volume, assoc.max_size = on_volume, max_size
        assoc.explicit = assoc.explicit or explicit
        if assoc.store is not None:
            assoc.store.resize(self._store_limit(volume, max_size))
        self._save_associations()
        return assoc

    def remove_association(self, volume: VolumeInfo) -> None:
        """Delete the association and its (empty) diff area."""
        assoc = self._associations.pop(volume.guid_path, None)
        if assoc is not None and assoc.store is not None:
            assoc.store.close()
            assoc.store = None
            shutil.rmtree(self._store_dir(volume), ignore_errors=True)
        self._save_associations()

    def _drop_if_unused(self, volume: VolumeInfo) -> None:
        # At boot only: during a session the open diff area is kept for the next copy, and
        # associations() hides an implicit association without copies.
        assoc = self._associations.get(volume.guid_path)
        if assoc is None or assoc.explicit or self.count_on(volume) or \
                volume.guid_path in self._reverts:
            return
        self.remove_association(volume)

    def _store_limit(self, volume: VolumeInfo, max_size: int | None) -> int | None:
        """The diff area's own limit for an association maximum: at least one block (a smaller
        maximum means "no room for a new copy", refused in EndPrepareSnapshots)."""
        if max_size is None:
            return None
        return max(max_size, self._volume_device(volume).block_size)

    def storage(self, volume: VolumeInfo) -> ShadowStorage:
        """The diff area of ``volume``, created on first use."""
        from vsssim.storage.shadowstorage import ShadowStorage

        assoc = self._associations.get(volume.guid_path)
        if assoc is None:
            assoc = DiffAreaAssociation(volume.name, volume.guid_path, volume.name, None,
                                        explicit=False)
            self._associations[volume.guid_path] = assoc
            if len(self._associations) > 1:
                self._save_associations()
            # (Else it is the only association: the default one, which attach_volume makes
            # again at boot from the diff area's directory; with others, the file keeps the
            # order they were made in.)
        if assoc.store is None:
            directory = self._store_dir(volume)
            device = self._volume_device(volume)
            if os.path.isdir(directory):
                assoc.store = ShadowStorage.open(device, directory, tracer=self.host.tracer)
                limit = self._store_limit(volume, assoc.max_size)
                if assoc.store.max_size != limit:
                    assoc.store.resize(limit)
            else:
                assoc.store = ShadowStorage.create(
                    device, directory, max_size=self._store_limit(volume, assoc.max_size),
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
                                  "ShadowCopyPurged",
                                  f"{{{snapshot_id}}} removed by the system provider: {reason}",
                                  snapshot=str(snapshot_id), reason=reason)

    # -- the mechanism -------------------------------------------------------------------------
    def supports_volume(self, volume: VolumeInfo) -> bool:
        from vsssim.storage.volume import Volume

        return isinstance(volume.device, Volume)

    def supports_context(self, context: int) -> bool:
        # Software copies cannot be transported or be plexes (they need a hardware provider).
        return not int(context) & _NOT_SOFTWARE or context == _CONTEXT_ALL

    def supports(self, volume: VolumeInfo, context: int) -> bool:
        # Persistent shadow copies can be made only of NTFS volumes (§1.1, rule 25).
        if int(context) & _PERSISTENT and context != _CONTEXT_ALL and \
                volume.filesystem != "NTFS":
            return False
        return super().supports(volume, context)

    def count_on(self, volume: VolumeInfo) -> int:
        """How many shadow copies of ``volume`` exist (the 512 limit counts them)."""
        guid_path = volume.guid_path
        count = 0
        for r in self.records():  # (a loop: no generator frame per copy)
            if r.volume.guid_path == guid_path:
                count += 1
        return count

    def end_prepare_snapshots(self, snapshot_set_id: UUID) -> None:
        # Space and count problems surface here, before anything is frozen (§2.5).
        for rec in self._set_records(snapshot_set_id, "EndPrepareSnapshots",
                                     (SnapshotState.PREPARING,)):
            assoc = self._associations.get(rec.volume.guid_path)
            limit = None if assoc is None else assoc.max_size
            if limit is not None and limit < self._volume_device(rec.volume).block_size:
                raise VssInsufficientStorageError(
                    f"the shadow storage of {rec.volume.name} is too small ({limit} bytes)")
            store = self.storage(rec.volume)
            if rec.context & _CLIENT_ACCESSIBLE:
                self._enforce_client_accessible_limit(rec.volume)
            if len(store.snapshots) >= store.max_snapshots:
                raise VssMaximumNumberOfSnapshotsReachedError(
                    f"{rec.volume.name} already has {len(store.snapshots)} shadow copies")
        super().end_prepare_snapshots(snapshot_set_id)

    def _enforce_client_accessible_limit(self, volume: VolumeInfo) -> None:
        """MaxShadowCopies: the oldest client-accessible copy goes when the limit is reached."""
        while True:
            client = [r for r in self.records() if r.volume.guid_path == volume.guid_path
                      and r.attributes & _CLIENT_ACCESSIBLE]
            if len(client) < self.client_accessible_limit:
                return
            oldest = min(client, key=lambda r: r.creation_timestamp)
            self.delete_snapshot(oldest.snapshot_id, True)
            self.host.tracer.emit(self.provider_name, volume.name, EventKind.PURGE,
                                  "ShadowCopyPurged",
                                  f"{{{oldest.snapshot_id}}}: MaxShadowCopies "
                                  f"({self.client_accessible_limit}) client-accessible copies",
                                  snapshot=str(oldest.snapshot_id), reason="MaxShadowCopies")

    def create_device(self, record: SnapshotRecord) -> BlockDevice:
        store = self.storage(record.volume)
        if self.commit_cost:
            self.host.clock.sleep(self.commit_cost)  # simulated duration of the commit
        return store.create_snapshot(
            record.snapshot_id,
            persistent=bool(record.attributes & _PERSISTENT),
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

    def delete_snapshot(self, snapshot_id: UUID, force: bool) -> None:
        with self._lock:
            rec = self._created(snapshot_id)
            job = self._reverts.get(rec.volume.guid_path)
            if job is not None and not job.done:
                raise VssRevertInProgressError(
                    f"{rec.volume.name} is being reverted; its shadow copies cannot be deleted "
                    "until the revert finishes")
        super().delete_snapshot(snapshot_id, force)

    def pre_final_commit_snapshots(self, snapshot_set_id: UUID) -> None:
        def open_window(rec: SnapshotRecord) -> None:
            snap = rec.device
            if snap is None:
                return
            if rec.device_object:
                snap.roots = [rec.device_object + "\\"]  # type: ignore[attr-defined]
            if not rec.attributes & _NO_AUTORECOVERY:
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

    # -- revert ----------------------------------------------------------------------------------
    def revert_to_snapshot(self, snapshot_id: UUID) -> None:
        """``RevertToSnapshot``: start making the volume equal to a persistent copy.

        The revert cannot be cancelled; it runs in steps (``revert_step``), survives a reboot
        (the cursor is journaled) and keeps every other shadow copy of the volume exact.
        """
        with self._lock:
            rec = self._created(snapshot_id)
            if not rec.attributes & _PERSISTENT:
                raise VssUnsupportedContextError(
                    "only copies of persistent contexts (APP_ROLLBACK, NAS_ROLLBACK, "
                    "CLIENT_ACCESSIBLE[_WRITERS]) can be reverted to")
            key = rec.volume.guid_path
            if key in self._reverts and not self._reverts[key].done:
                raise VssRevertInProgressError(f"{rec.volume.name} is already being reverted")
            store = self.storage(rec.volume)
            self._reverts[key] = store.begin_revert(snapshot_id)

    def revert_step(self, volume: VolumeInfo, max_blocks: int) -> bool:
        job = self._reverts.get(volume.guid_path)
        if job is None:
            return True
        if job.step(max_blocks):
            self._revert_done(volume, job)
            return True
        return False

    def _revert_done(self, volume: VolumeInfo, job: RevertJob) -> None:
        self._reverts.pop(volume.guid_path, None)
        fs = getattr(volume.device, "_fs", None)
        if fs is not None:
            fs.refresh()  # the file system changed under its caches
        self.host.tracer.emit(self.provider_name, volume.name, EventKind.SNAPSHOT,
                              "RevertFinished", f"{volume.name} now equals {{{job.snapshot_id}}}",
                              snapshot=str(job.snapshot_id))
        # What becomes of the volume's copies is undocumented (VssOptions.copies_after_revert).
        if self.copies_after_revert == "keep":
            return
        if self.copies_after_revert == "delete_target":
            doomed = [job.snapshot_id]
        else:
            doomed = [r.snapshot_id for r in self.records()
                      if r.volume.guid_path == volume.guid_path]
        for snapshot_id in doomed:
            with self._lock:
                if snapshot_id not in self._records:
                    continue  # purged meanwhile
            self.delete_snapshot(snapshot_id, True)
            self.host.tracer.emit(self.provider_name, volume.name, EventKind.SNAPSHOT,
                                  "ShadowCopyDeleted",
                                  f"{{{snapshot_id}}} deleted by the revert of {volume.name}",
                                  snapshot=str(snapshot_id))

    def revert_in_progress(self, volume: VolumeInfo) -> UUID | None:
        job = self._reverts.get(volume.guid_path)
        return job.snapshot_id if job is not None and not job.done else None

    def revert_progress(self, volume: VolumeInfo) -> tuple[int, int] | None:
        """(blocks done, blocks to do) of a running revert of ``volume``."""
        job = self._reverts.get(volume.guid_path)
        return job.progress if job is not None else None
