"""A hardware-style provider: shadow copies are whole LUNs cloned on a simulated storage array.

It models ``IVssHardwareSnapshotProvider`` on a :class:`~vsssim.storage.san.SimulatedSan`
(providers reference §1.1, §2.2 steps 6/12/17/18, §2.6, §3.9, §3.10):

* selection: a volume is supported only if *every* LUN behind it is on this array
  (``AreLunsSupported`` is all-or-nothing); client-accessible and differential copies are
  refused (the system provider's business), transportable ones only if the provider transports;
* ``CommitSnapshots`` clones each LUN of the set (a full copy: the split mirror or clone) while
  the kernel holds writes, and spends ``size / copy_rate`` seconds on the machine's clock, so a
  big LUN overruns the 10-second hold; the same LUN met again for another volume of the set is
  cloned once (rule 29);
* a non-transportable copy is auto-imported: its LUN is presented to this machine and read
  through a read-only :class:`~vsssim.storage.filedevice.FileDevice`, writable only in the
  auto-recovery window between ``PreFinalCommitSnapshots`` and ``PostFinalCommitSnapshots``
  (``OnLunStateChange`` pre/post recovery); a transportable copy stays masked
  (``VSS_VOLSNAP_ATTR_NOT_SURFACED``) until another machine imports it from the BCD;
* ``GetTargetLuns`` gives the clones' identities, ``import_snapshot`` is ``LocateLuns`` +
  ``FillInLunInfo`` (identity checked, a tampered BCD imports nothing), ``break_snapshot`` is
  ``BreakSnapshotSet``, and ``destroy_device`` is ``OnLunEmpty``: the only place a LUN is
  reclaimed, and only once no machine still has it presented.

Persistence: the provider's catalog of completed copies is ``hardware-catalog.json`` in
``host.state_directory(provider_id)``; the LUNs themselves live on the array.  When the
provider is loaded again (a restart of the machine) persistent copies come back, non-persistent
ones are gone as after a reboot (their LUNs released), and copies whose LUN vanished from the
array (deleted or broken by another machine) are forgotten.

Fidelity notes: VSS, not the provider, sets the read-only/hidden LUN flags; here the provider's
device carries them.  A transportable copy that is not persistent is forgotten by its creating
machine at reboot but its LUN stays on the array for an import elsewhere (the creating machine
never surfaced it).  LUNs leaked by a machine killed between the clone and the end of creation
stay on the array, as the reference says, for storage tools (:meth:`SimulatedSan.delete`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from typing import Any, Literal
from uuid import UUID

from vsssim.constants import (
    ProviderType,
    SnapshotContext,
    SnapshotState,
    VolumeSnapshotAttributes,
)
from vsssim.documents import LunInfo, SnapshotDescription
from vsssim.errors import (
    VssAccessDeniedError,
    VssError,
    VssInsufficientStorageError,
    VssObjectNotFoundError,
    VssStoreCorruptError,
    VssVolumeNotSupportedByProviderError,
)
from vsssim.providers.base import ProviderHost, SnapshotProvider, SnapshotRecord, VolumeInfo
from vsssim.storage._fileio import atomic_write, read_json
from vsssim.storage.blockdev import BlockDevice, Buffer, check_range
from vsssim.storage.filedevice import FileDevice
from vsssim.storage.san import SanLun, SimulatedSan, same_lun
from vsssim.trace import EventKind

__all__ = ["HARDWARE_PROVIDER_ID", "HardwareProvider"]

#: The default provider id of :class:`HardwareProvider` (fixed, so catalogs and BCDs match).
HARDWARE_PROVIDER_ID = UUID("3f4c8a2e-9b1d-4e57-a6c3-5d2b7e8f9a10")
_CLASS_ID = UUID("3f4c8a2e-9b1d-4e57-a6c3-5d2b7e8f9a11")

_A = VolumeSnapshotAttributes
_CATALOG = "hardware-catalog.json"
_CATALOG_FORMAT, _CATALOG_VERSION = "vsssim-hardware-catalog", 1
# The array's copy is spent on the clock in slices, so that a commit that outlives the kernel's
# hold notices it and returns (ProviderHost.hold_expired) instead of sleeping on.
_COPY_SLICE = 1.0
# OnLunStateChange flags (providers reference §2.6).
_NOTIFY_READ_WRITE = 0x100
_NOTIFY_PRE_RECOVERY = 0x200
_NOTIFY_POST_RECOVERY = 0x400


class _UnsurfacedCopy:
    """The device of a transportable copy on the machine that made it: the LUN is masked
    from this machine, so every read says where the copy can be read instead."""

    def __init__(self, size: int, block_size: int, snapshot_id: UUID) -> None:
        self._size, self._block_size, self._id = size, block_size, snapshot_id

    @property
    def size(self) -> int:
        return self._size

    @property
    def block_size(self) -> int:
        return self._block_size

    @property
    def readonly(self) -> bool:
        return True

    def read(self, offset: int, length: int) -> bytes:
        check_range(offset, length, self._size)
        raise VssObjectNotFoundError(_not_surfaced(self._id))

    def write(self, offset: int, data: Buffer) -> None:
        raise VssAccessDeniedError(_not_surfaced(self._id))

    def operation(self) -> nullcontext[None]:
        return nullcontext()


def _not_surfaced(snapshot_id: UUID) -> str:
    return (f"shadow copy {{{snapshot_id}}} is transportable and not surfaced on this machine "
            "(VSS_VOLSNAP_ATTR_NOT_SURFACED): import it elsewhere with ImportSnapshots to read "
            "it")


@contextmanager
def _operation(device: BlockDevice) -> Iterator[None]:
    # Inside the kernel's hold this is reentrant for the holding thread; called on its own
    # (tests, a provider driven directly) it still keeps a file-system operation whole.
    op = getattr(device, "operation", None)
    if op is None:
        yield
        return
    with op():
        yield


class HardwareProvider(SnapshotProvider):
    """``VSS_PROV_HARDWARE``: split-mirror / clone shadow copies of LUNs on a simulated array.

    ``san`` is the array; ``transportable`` whether copies can be made transportable (moved to
    another machine by BCD + ``ImportSnapshots``); ``copy_rate`` the array's copy speed in
    bytes per simulated second (``float('inf')``: instantaneous); ``failed_import_luns`` what
    happens to the LUNs an import unmasked before it failed: ``"leave"`` them presented for the
    requester to clean up (documented, providers reference rule 31) or ``"mask"`` them again
    (a provider's choice).  Mechanism attributes: ``PLEX | HARDWARE_ASSISTED``.
    """

    provider_type = ProviderType.HARDWARE
    provider_version = "1.0.0.0"
    provider_version_id = UUID("00000001-0000-0000-0000-000000000003")

    def __init__(self, san: SimulatedSan, *, name: str = "vsssim Hardware Provider",
                 provider_id: UUID = HARDWARE_PROVIDER_ID, transportable: bool = True,
                 copy_rate: float = 1e9,
                 failed_import_luns: Literal["leave", "mask"] = "leave") -> None:
        if not isinstance(san, SimulatedSan):
            raise TypeError(f"san must be a SimulatedSan, not {type(san).__name__}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty str, not {name!r}")
        if not isinstance(provider_id, UUID):
            raise TypeError(f"provider_id must be a UUID, not {type(provider_id).__name__}")
        if not isinstance(transportable, bool):
            raise TypeError(f"transportable must be bool, not {type(transportable).__name__}")
        if isinstance(copy_rate, bool) or not isinstance(copy_rate, int | float) or \
                not copy_rate > 0:
            raise ValueError(f"copy_rate must be a positive number of bytes/s, not {copy_rate!r}")
        if failed_import_luns not in ("leave", "mask"):
            raise ValueError(f"failed_import_luns={failed_import_luns!r}: 'leave' or 'mask'")
        super().__init__()
        self.san = san
        self.provider_name = name
        self.provider_id = provider_id
        self.class_id = _CLASS_ID if provider_id == HARDWARE_PROVIDER_ID else provider_id
        self.transportable = transportable
        self.copy_rate = float(copy_rate)
        self.failed_import_luns = failed_import_luns
        # Target LUNs of each copy, one per LUN of its volume, in the same order
        # (GetTargetLuns is one-to-one).  Two copies of one set may share a target LUN when
        # their volumes share a LUN (rule 29); a LUN is released when no copy uses it.
        self._targets: dict[UUID, tuple[LunInfo, ...]] = {}
        # Copies whose auto-recovery window is open (their device is writable until
        # PostFinalCommitSnapshots).
        self._windows: set[UUID] = set()
        # Simulated seconds of array copy accumulated by the commit in progress.
        self._copy_seconds = 0.0

    # -- tracing -------------------------------------------------------------------------------
    def _note(self, name: str, detail: str, **data: str | int | float | bool | None) -> None:
        if self._host is not None:
            self._host.tracer.emit(self.provider_name, "SAN", EventKind.SNAPSHOT, name, detail,
                                   **data)

    # -- selection (AreLunsSupported) ------------------------------------------------------
    def supports_volume(self, volume: VolumeInfo) -> bool:
        """``AreLunsSupported``: every LUN of the volume must be on this array (all or
        nothing); a volume without LUNs (a plain image, a mounted device) is not."""
        return bool(volume.luns) and all(self.san.owns(lun) for lun in volume.luns)

    def supports_context(self, context: int) -> bool:
        """Client-accessible copies are the system provider's; differential copies are not
        this provider's mechanism; transportable copies only if ``transportable``."""
        if context == SnapshotContext.ALL:
            return True
        if context & (_A.CLIENT_ACCESSIBLE | _A.DIFFERENTIAL):
            return False
        return not (context & _A.TRANSPORTABLE and not self.transportable)

    def mechanism_attributes(self) -> int:
        """``PLEX | HARDWARE_ASSISTED``: complete copies made by the array."""
        return int(_A.PLEX | _A.HARDWARE_ASSISTED)

    # -- creation ------------------------------------------------------------------------------
    def begin_prepare_snapshot(self, snapshot_set_id: UUID, snapshot_id: UUID,
                               volume: VolumeInfo, context: int) -> None:
        """``BeginPrepareSnapshot`` with the volume's LUNs; a transportable copy will not be
        surfaced here (``NOT_SURFACED``)."""
        if not self.supports_volume(volume):
            raise VssVolumeNotSupportedByProviderError(
                f"{self.provider_name} cannot shadow-copy {volume.name}: not all of its LUNs "
                "are on this array")
        super().begin_prepare_snapshot(snapshot_set_id, snapshot_id, volume, context)
        if context & _A.TRANSPORTABLE:
            with self._lock:
                self._records[snapshot_id].attributes |= int(_A.NOT_SURFACED)

    def end_prepare_snapshots(self, snapshot_set_id: UUID) -> None:
        """``EndPrepareSnapshots``: the LUNs must still be on the array and the array must have
        room for the clones (``VSS_E_INSUFFICIENT_STORAGE``), before anything is frozen."""
        needed: dict[str, int] = {}
        for rec in self._set_records(snapshot_set_id, "EndPrepareSnapshots",
                                     (SnapshotState.PREPARING,)):
            for lun in rec.volume.luns:
                path = self.san.find(lun)
                if path is None:
                    raise VssObjectNotFoundError(
                        f"LUN {lun.page83_id} of {rec.volume.name} is no longer on the array")
                needed[os.path.realpath(path)] = _allocated(path)
        free = shutil.disk_usage(self.san.directory).free
        if sum(needed.values()) > free:
            raise VssInsufficientStorageError(
                f"the array needs {sum(needed.values())} bytes for the clones and has {free}")
        super().end_prepare_snapshots(snapshot_set_id)

    def commit_snapshots(self, snapshot_set_id: UUID) -> None:
        """``CommitSnapshots``: clone every LUN of the set, then let the array's copy time pass
        on the clock (``size / copy_rate``); a hold that expires meanwhile ends the wait."""
        self._copy_seconds = 0.0
        super().commit_snapshots(snapshot_set_id)
        seconds, self._copy_seconds = self._copy_seconds, 0.0
        self._spend_copy_time(snapshot_set_id, seconds)

    def _spend_copy_time(self, snapshot_set_id: UUID, seconds: float) -> None:
        if seconds <= 0.0:
            return
        self._note("ArrayCopy", f"the array copies for {seconds:.3f} s", seconds=seconds)
        clock = self.host.clock
        remaining = seconds
        while remaining > 0.0:
            if self.host.hold_expired(snapshot_set_id):
                self._note("ArrayCopyAbandoned",
                           f"the kernel released the hold; {remaining:.3f} s of copy left",
                           remaining=remaining)
                return
            step = min(remaining, _COPY_SLICE)
            clock.sleep(step)
            remaining -= step

    def _shared_target(self, record: SnapshotRecord, lun: LunInfo) -> LunInfo | None:
        """The clone already made in this set of a LUN another volume of the set shares."""
        for other in self._records.values():
            targets = self._targets.get(other.snapshot_id)
            if other.snapshot_set_id != record.snapshot_set_id or targets is None:
                continue
            for source, target in zip(other.volume.luns, targets, strict=False):
                if same_lun(source, lun):
                    return target
        return None

    def create_device(self, record: SnapshotRecord) -> BlockDevice:
        """Clone the volume's LUNs (a full copy, under the volume's operation lock so that no
        file-system operation is split) and return a read-only device on the clone of the
        first LUN, or a not-surfaced placeholder for a transportable copy."""
        volume = record.volume
        machine = self.host.machine_name
        targets: list[LunInfo] = []
        fresh: list[LunInfo] = []
        try:
            with _operation(volume.device):
                for lun in volume.luns:
                    shared = self._shared_target(record, lun)
                    if shared is not None:
                        targets.append(shared)
                        continue
                    target, _ = self.san.clone(lun, machine=machine)
                    fresh.append(target)
                    targets.append(target)
            for target in fresh:
                entry = self.san.lun(target)
                size = entry.size if entry is not None else volume.device.size
                self._copy_seconds += size / self.copy_rate
                self._note("CloneLun", f"LUN {target.page83_id} is a full copy of "
                           f"{volume.name}", lun=target.page83_id, size=size)
            device = self._open_device(record, targets, surfaced=not record.attributes
                                       & _A.NOT_SURFACED)
            if not record.attributes & _A.NOT_SURFACED:
                for target in fresh:  # auto-import: LocateLuns unmasks, without a rescan
                    self.san.present(target, machine)
        except BaseException:
            for target in fresh:
                self.san.delete(target)
            raise
        self._targets[record.snapshot_id] = tuple(targets)
        return device

    def _open_device(self, record: SnapshotRecord, targets: list[LunInfo] | tuple[LunInfo, ...],
                     *, surfaced: bool, block_size: int | None = None) -> BlockDevice:
        path = self.san.find(targets[0])
        if path is None:
            raise VssObjectNotFoundError(f"LUN {targets[0].page83_id} is not on the array")
        bs: int = block_size if block_size is not None else \
            int(getattr(record.volume.device, "block_size", 16 * 1024))
        if not surfaced:
            return _UnsurfacedCopy(os.path.getsize(path), bs, record.snapshot_id)
        device = FileDevice(path, readonly=True, block_size=bs, clock=self.host.clock)
        if record.device_object:
            device.roots = [record.device_object + "\\"]
        return device

    def pre_final_commit_snapshots(self, snapshot_set_id: UUID) -> None:
        """``PreFinalCommitSnapshots``: a surfaced copy becomes writable for the writers'
        auto-recovery (unless ``NO_AUTORECOVERY``); VSS tells the provider with
        ``OnLunStateChange(VSS_ONLUNSTATECHANGE_NOTIFY_LUN_PRE_RECOVERY)``."""
        def open_window(rec: SnapshotRecord) -> None:
            device = rec.device
            if not isinstance(device, FileDevice):
                return
            device.roots = [rec.device_object + "\\"]
            if not rec.attributes & _A.NO_AUTORECOVERY:
                device.readonly = False
                self._windows.add(rec.snapshot_id)
                self._note("OnLunStateChange", f"{{{rec.snapshot_id}}} writable for "
                           "auto-recovery", flags=_NOTIFY_PRE_RECOVERY)

        self._advance(snapshot_set_id, "PreFinalCommitSnapshots",
                      (SnapshotState.POSTCOMMITTED,), SnapshotState.PREFINALCOMMITTED,
                      open_window)

    def finalize(self, record: SnapshotRecord) -> None:
        """``PostFinalCommitSnapshots``: the copy is read-only until a break."""
        if record.snapshot_id in self._windows:
            self._windows.discard(record.snapshot_id)
            if isinstance(record.device, FileDevice):
                record.device.readonly = True
            self._note("OnLunStateChange", f"{{{record.snapshot_id}}} read-only again",
                       flags=_NOTIFY_POST_RECOVERY)

    def post_final_commit_snapshots(self, snapshot_set_id: UUID) -> None:
        super().post_final_commit_snapshots(snapshot_set_id)
        self._save_catalog()

    def destroy_device(self, record: SnapshotRecord) -> None:
        """``OnLunEmpty``: close the copy's device and release its LUNs on the array (deleted
        unless another machine still has them presented, or another copy here shares them)."""
        device = record.device
        if isinstance(device, FileDevice):
            device.close()
        self._windows.discard(record.snapshot_id)
        targets = self._targets.pop(record.snapshot_id, ())
        machine = self.host.machine_name
        for target in targets:
            if any(same_lun(target, t) for ts in self._targets.values() for t in ts):
                continue  # another copy of this machine still lives on that LUN
            deleted = self.san.release(target, machine)
            self._note("OnLunEmpty", f"LUN {target.page83_id} holds no shadow copy of "
                       f"{machine} any more: " + ("reclaimed" if deleted else
                                                   "kept (presented elsewhere)"),
                       lun=target.page83_id, reclaimed=deleted)

    # -- management ----------------------------------------------------------------------------
    def get_snapshot_device(self, snapshot_id: UUID) -> BlockDevice:
        """The read-only disk of a surfaced copy; ``VSS_E_OBJECT_NOT_FOUND`` for a transportable
        copy on the machine that made it (it must be imported elsewhere)."""
        with self._lock:
            rec = self._records.get(snapshot_id)
            if rec is not None and rec.attributes & _A.NOT_SURFACED:
                raise VssObjectNotFoundError(_not_surfaced(snapshot_id))
        return super().get_snapshot_device(snapshot_id)

    def delete_snapshot(self, snapshot_id: UUID, force: bool) -> None:
        super().delete_snapshot(snapshot_id, force)
        self._save_catalog()

    def record_changed(self, record: SnapshotRecord) -> None:
        self._save_catalog()

    def get_target_luns(self, snapshot_id: UUID) -> list[LunInfo]:
        """``GetTargetLuns``: the identities of the copy's LUNs, one per LUN of the original
        volume, as ``FillInLunInfo`` will report them on any machine."""
        with self._lock:
            targets = self._targets.get(snapshot_id)
            if targets is None or snapshot_id not in self._records:
                raise VssObjectNotFoundError(
                    f"no shadow copy {{{snapshot_id}}} in {self.provider_name}")
        self._note("GetTargetLuns", f"{{{snapshot_id}}}: " +
                   ", ".join(t.page83_id for t in targets), snapshot=str(snapshot_id))
        return [t.model_copy() for t in targets]

    # -- transport: import and break -----------------------------------------------------------
    def import_snapshot(self, description: SnapshotDescription, snapshot_set_id: UUID,
                        snapshots_count: int, context: int, *,
                        originating_machine: str = "") -> bool:
        """``ImportSnapshots`` for one copy: ``LocateLuns`` (find and unmask the target LUNs)
        and ``FillInLunInfo`` (their identities must match the BCD's, and each must still be a
        shadow copy of the LUN the BCD names as its original).

        True: the copy now exists here with ``IMPORTED``, a new device object, read-only;
        ``originating_machine`` (default: the machine the array says made the clone) and this
        machine as the service machine.  False: a LUN is missing, broken or its identity does
        not match (a tampered BCD), or the copy is already imported here; nothing changed.
        """
        if not isinstance(description, SnapshotDescription):
            raise TypeError(f"description must be a SnapshotDescription, not "
                            f"{type(description).__name__}")
        if not isinstance(snapshot_set_id, UUID):
            raise TypeError(f"snapshot_set_id must be a UUID, not {type(snapshot_set_id).__name__}")
        sid = description.snapshot_id
        targets = tuple(description.target_luns)
        originals = tuple(description.original_luns)
        machine = self.host.machine_name
        with self._lock:
            if not targets or (originals and len(originals) != len(targets)):
                self._note("LocateLuns", f"{{{sid}}}: the document has no usable LUN "
                           "information", snapshot=str(sid), found=False)
                return False
            # LocateLuns unmasks each target LUN it finds; FillInLunInfo then checks what
            # arrived.  A copy that fails half-way leaves the LUNs already unmasked presented
            # to this machine for the requester to clean up (rule 31), unless this provider
            # was built with failed_import_luns="mask".
            entries: list[SanLun] = []
            unmasked: list[LunInfo] = []
            for i, target in enumerate(targets):
                entry = self.san.lun(target)
                problem = None
                if entry is None or not os.path.exists(entry.path):
                    problem = "no LUN with that identity on the array"
                else:
                    if machine not in entry.presented_to:
                        entry = self.san.present(target, machine)
                        unmasked.append(target)
                    if entry.shadow_of is None:
                        problem = "the LUN is no longer a shadow copy (broken)"
                    elif originals and entry.shadow_of.lower() != \
                            originals[i].page83_id.strip().lower():
                        problem = "the LUN is not a copy of the original LUN the document names"
                if problem is not None or entry is None:
                    self._note("LocateLuns", f"{{{sid}}}: LUN {target.page83_id}: {problem}",
                               snapshot=str(sid), found=False)
                    self._after_failed_import(sid, unmasked, machine)
                    return False
                entries.append(entry)
            existing = self._records.get(sid)
            if existing is not None:
                surfaced = self._surface_here(existing, targets)
                if not surfaced:
                    self._after_failed_import(sid, unmasked, machine)
                return surfaced
            device_object = self.host.next_shadow_device_name()
            device = FileDevice(entries[0].path, readonly=True, clock=self.host.clock)
            device.roots = [device_object + "\\"]
            attributes = (int(description.attributes) | self.mechanism_attributes()
                          | int(_A.IMPORTED)) & ~int(_A.NOT_SURFACED)
            record = SnapshotRecord(
                snapshot_id=sid, snapshot_set_id=snapshot_set_id,
                volume=VolumeInfo(name=description.original_volume,
                                  guid_path=description.original_volume, device=device,
                                  luns=originals),
                context=context, attributes=attributes, snapshots_count=snapshots_count,
                device_object=device_object, creation_timestamp=description.timestamp,
                originating_machine=originating_machine or entries[0].created_by,
                service_machine=machine, device=device)
            self._targets[sid] = targets
            try:
                self.adopt_record(record)
            except BaseException:
                self._targets.pop(sid, None)
                device.close()
                for target in targets:
                    self.san.mask(target, machine)
                raise
        self._note("FillInLunInfo", f"{{{sid}}} imported as {device_object}",
                   snapshot=str(sid), found=True)
        return True

    def _after_failed_import(self, sid: UUID, unmasked: list[LunInfo], machine: str) -> None:
        """The LUNs a failed import unmasked: left presented (documented) or masked again."""
        if not unmasked:
            return
        names = ", ".join(t.page83_id for t in unmasked)
        if self.failed_import_luns == "mask":
            for target in unmasked:
                self.san.mask(target, machine)
            self._note("OnLunStateChange", f"{{{sid}}}: import failed; masked {names} again",
                       snapshot=str(sid))
        else:
            self._note("LocateLuns", f"{{{sid}}}: import failed; {names} left presented to "
                       f"{machine} for the requester to clean up", snapshot=str(sid),
                       left=names)

    def _surface_here(self, record: SnapshotRecord, targets: tuple[LunInfo, ...]) -> bool:
        """An import on the machine that made a transportable copy: surface it in place."""
        sid = record.snapshot_id
        mine = self._targets.get(sid, ())
        if not record.attributes & _A.NOT_SURFACED or len(mine) != len(targets) or \
                not all(same_lun(a, b) for a, b in zip(mine, targets, strict=True)):
            self._note("LocateLuns", f"{{{sid}}} is already imported on this machine",
                       snapshot=str(sid), found=False)
            return False
        machine = self.host.machine_name
        for target in targets:
            self.san.present(target, machine)
        record.device_object = self.host.next_shadow_device_name()
        record.device = self._open_device(record, targets, surfaced=True,
                                          block_size=record.device.block_size
                                          if record.device is not None else None)
        record.attributes = (record.attributes | int(_A.IMPORTED)) & ~int(_A.NOT_SURFACED)
        record.service_machine = machine
        self.record_changed(record)
        self._note("FillInLunInfo", f"{{{sid}}} imported as {record.device_object}",
                   snapshot=str(sid), found=True)
        return True

    def break_snapshot(self, snapshot_id: UUID, make_writable: bool) -> BlockDevice:
        """``BreakSnapshotSet`` for one copy: VSS forgets it; its LUN stays on the array as an
        ordinary LUN of this machine, returned as a device (writable iff ``make_writable``,
        ``VSS_BREAKEX_FLAG_MAKE_READ_WRITE``).  A copy must be surfaced here (auto-imported or
        imported) to be broken, else ``VSS_E_OBJECT_NOT_FOUND``."""
        if not isinstance(make_writable, bool):
            raise TypeError(f"make_writable must be bool, not {type(make_writable).__name__}")
        machine = self.host.machine_name
        with self._lock:
            rec = self._created(snapshot_id)
            device = rec.device
            if rec.attributes & _A.NOT_SURFACED or not isinstance(device, FileDevice):
                raise VssObjectNotFoundError(
                    f"shadow copy {{{snapshot_id}}} is not imported on this machine: import it "
                    "(ImportSnapshots) before breaking it")
            targets = self._targets.get(snapshot_id, ())
            device.readonly = not make_writable  # may fail: nothing changed yet
            try:
                for target in targets:
                    self.san.break_shadow(target, machine)
            except BaseException:
                device.readonly = True
                raise
            device.roots = []
            self.forget_record(snapshot_id)
            self._targets.pop(snapshot_id, None)
            self._windows.discard(snapshot_id)
        self._save_catalog()
        if make_writable:
            self._note("OnLunStateChange", f"{{{snapshot_id}}} is read-write for good",
                       flags=_NOTIFY_READ_WRITE)
        luns = ", ".join(t.page83_id for t in targets)
        self._note("BreakSnapshotSet", f"{{{snapshot_id}}}: LUN {luns} is an ordinary LUN of "
                   f"{machine}", snapshot=str(snapshot_id))
        return device

    # -- persistence -----------------------------------------------------------------------
    def _catalog_path(self) -> str:
        return os.path.join(self.host.state_directory(self.provider_id), _CATALOG)

    def _save_catalog(self) -> None:
        with self._lock:
            copies = [self._dump(r) for r in self._records.values()
                      if r.state == SnapshotState.CREATED]
        data = {"format": _CATALOG_FORMAT, "version": _CATALOG_VERSION, "copies": copies}
        atomic_write(self._catalog_path(), json.dumps(data, indent=1).encode(), durable=False)

    def _dump(self, rec: SnapshotRecord) -> dict[str, Any]:
        return {
            "snapshot_id": str(rec.snapshot_id), "set_id": str(rec.snapshot_set_id),
            "count": rec.snapshots_count, "context": rec.context, "attributes": rec.attributes,
            "device_object": rec.device_object, "created": rec.creation_timestamp,
            "exposed_name": rec.exposed_name, "exposed_path": rec.exposed_path,
            "origin": rec.originating_machine, "service": rec.service_machine,
            "block_size": rec.device.block_size if rec.device is not None else 16 * 1024,
            "volume": {"name": rec.volume.name, "guid_path": rec.volume.guid_path,
                       "filesystem": rec.volume.filesystem,
                       "luns": [lun.model_dump(mode="json") for lun in rec.volume.luns]},
            "targets": [t.model_dump(mode="json") for t in self._targets.get(rec.snapshot_id,
                                                                             ())],
        }

    def on_load(self, host: ProviderHost) -> None:
        """``OnLoad``: read the catalog back (a restart of the machine): persistent copies
        whose LUNs are still shadow copies on the array come back; the others are gone."""
        self.close()
        super().on_load(host)
        path = self._catalog_path()
        if not os.path.exists(path):
            return
        data = read_json(path, "hardware provider catalog")
        items = data.get("copies")
        if data.get("format") != _CATALOG_FORMAT or not isinstance(items, list):
            raise VssStoreCorruptError(f"{path!r} is not a hardware provider catalog")
        changed = False
        for item in items:
            try:
                changed |= not self._reload(item)
            except (KeyError, TypeError, ValueError) as exc:
                raise VssStoreCorruptError(f"{path!r} has a bad entry: {exc}") from None
        if changed:
            self._save_catalog()

    def _reload(self, item: dict[str, Any]) -> bool:
        """Bring one catalog entry back; False if the copy is gone (as after a reboot)."""
        sid = UUID(str(item["snapshot_id"]))
        attributes = int(item["attributes"])
        targets = tuple(LunInfo.model_validate(t) for t in item["targets"])
        machine = self.host.machine_name
        if not attributes & _A.PERSISTENT:
            if attributes & _A.NOT_SURFACED:
                self._note("ShadowCopyForgotten", f"{{{sid}}} (transportable, not persistent) "
                           "is forgotten at boot; its LUN stays on the array for an import",
                           snapshot=str(sid))
                return False
            for target in targets:
                deleted = self.san.release(target, machine)
                self._note("OnLunEmpty", f"{{{sid}}} did not survive the reboot: LUN "
                           f"{target.page83_id} " + ("reclaimed" if deleted else "kept"),
                           lun=target.page83_id, reclaimed=deleted)
            return False
        entries = [self.san.lun(t) for t in targets]
        if not targets or any(e is None or not e.is_shadow_copy or not os.path.exists(e.path)
                              for e in entries):
            self._note("ShadowCopyForgotten", f"{{{sid}}}: its LUN is no longer a shadow copy "
                       "on the array", snapshot=str(sid))
            return False
        vol = item["volume"]
        luns = tuple(LunInfo.model_validate(x) for x in vol["luns"])
        placeholder = _UnsurfacedCopy(1, 16 * 1024, sid)
        rec = SnapshotRecord(
            snapshot_id=sid, snapshot_set_id=UUID(str(item["set_id"])),
            volume=VolumeInfo(str(vol["name"]), str(vol["guid_path"]), placeholder,
                              str(vol.get("filesystem", "NTFS")), luns),
            context=int(item["context"]), attributes=attributes,
            state=SnapshotState.CREATED, snapshots_count=int(item["count"]),
            device_object=str(item["device_object"]), creation_timestamp=int(item["created"]),
            exposed_name=item.get("exposed_name"), exposed_path=item.get("exposed_path"),
            originating_machine=str(item["origin"]), service_machine=str(item["service"]))
        rec.device = self._open_device(rec, targets,
                                       surfaced=not attributes & _A.NOT_SURFACED,
                                       block_size=int(item.get("block_size", 16 * 1024)))
        volume = rec.volume
        if not attributes & _A.IMPORTED:
            try:
                volume = self.host.resolve_volume(volume.guid_path)
            except VssError:
                volume = replace(volume, device=rec.device)
        else:
            volume = replace(volume, device=rec.device)
        rec.volume = volume
        self._records[sid] = rec
        self._targets[sid] = targets
        return True

    def attach_volume(self, volume: VolumeInfo) -> None:
        """At boot: copies of ``volume`` made here refer to the live volume again."""
        with self._lock:
            for rec in self._records.values():
                if not rec.attributes & _A.IMPORTED and \
                        rec.volume.guid_path.lower() == volume.guid_path.lower():
                    rec.volume = volume

    def close(self) -> None:
        """The machine shuts down: close every device; the copies stay on the array and in
        the catalog."""
        with self._lock:
            for rec in self._records.values():
                if isinstance(rec.device, FileDevice):
                    rec.device.close()
            self._records.clear()
            self._targets.clear()
            self._windows.clear()
            self._current_set = None


def _allocated(path: str) -> int:
    """Bytes the image really occupies (a sparse clone copies only those)."""
    st = os.stat(path)
    return min(st.st_size, getattr(st, "st_blocks", st.st_size // 512) * 512)
