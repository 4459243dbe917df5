"""Shadow copy management of a simulated machine: shadow storage, exposure, break, import,
revert.

These are the machine-wide operations behind ``vssadmin``, ``diskshadow`` and the management
calls of ``IVssBackupComponents`` (providers reference §3.7-§3.11, §4):

* shadow storage associations (``IVssDifferentialSoftwareSnapshotMgmt``: ``AddDiffArea``,
  ``ChangeDiffAreaMaximumSize``, ``QueryDiffAreasForVolume``/``OnVolume``), with the documented
  minimum size and "unbounded";
* exposure of a shadow copy as a drive letter or mount folder of the machine, or as a share
  (a read-only host directory under the machine's root), and unexposure;
* breaking a hardware shadow copy set into ordinary volumes; importing transportable copies made
  by another machine; reverting a volume to a persistent copy.

:class:`SnapshotManagement` is a mix-in of :class:`~vsssim.system.VssSystem`.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from uuid import UUID

from vsssim.constants import (
    SnapshotPropertyId,
    VolumeSnapshotAttributes,
)
from vsssim.documents import BackupComponentsDocument, SnapshotProperties
from vsssim.errors import (
    VssBadStateError,
    VssInvalidArgumentError,
    VssNonTransportableBcdError,
    VssNoSnapshotsImportedError,
    VssNotImplementedError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
    VssProviderVetoError,
    VssVolumeInUseError,
    VssVolumeNotSupportedError,
)
from vsssim.providers.base import Provider, VolumeInfo
from vsssim.providers.system import DiffAreaAssociation, SystemProvider
from vsssim.storage.blockdev import BlockDevice
from vsssim.trace import EventKind, Tracer

if TYPE_CHECKING:
    from vsssim.options import VssOptions
    from vsssim.storage.simfs import SimFS

__all__ = ["ExposedDevice", "Exposure", "ShadowStorageInfo", "SnapshotManagement", "os_family"]

_A = VolumeSnapshotAttributes
MB = 1_000_000
_DRIVE = re.compile(r"^([A-Za-z]):\\?$")
_SHARE = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$. -]{0,79}$")


def os_family(version: str) -> str:
    """Import compatibility class of a Windows version: copies made on Windows Server 2003 /
    2003 R2 cannot be imported on 2008 / 2008 R2 and the reverse; 2008 and 2008 R2 copies move
    both ways (providers reference §3.10).  Later versions count as 2008-compatible."""
    return "2003" if version in ("XP", "2003", "2003R2") else "2008+"


class ExposedDevice(BlockDevice, Protocol):
    """A shadow copy's device with the file system inside it (every provider's devices have
    one: the system provider's snapshot devices, hardware LUNs)."""

    @property
    def fs(self) -> SimFS:
        """The files of the copy, under its exposed name."""
        ...


@dataclass(frozen=True)
class ShadowStorageInfo:
    """``VSS_DIFF_AREA_PROP``: one shadow storage association (``vssadmin list shadowstorage``).

    ``max_size`` None means UNBOUNDED; used ≤ allocated ≤ maximum.
    """

    for_volume: str
    on_volume: str
    used: int
    allocated: int
    max_size: int | None


@dataclass
class Exposure:
    """A shadow copy exposed on the machine: a drive letter, a mount folder or a share."""

    snapshot_id: UUID
    name: str
    path_from_root: str | None
    remote: bool
    host_directory: Path | None = None


class SnapshotManagement:
    """Machine-wide shadow copy management (mixed into ``VssSystem``)."""

    # Provided by VssSystem.
    root: Path
    tracer: Tracer
    options: VssOptions
    os_version: str
    edition: str
    machine_name: str
    providers: list[Provider]
    system_provider: SystemProvider
    _exposures: dict[str, Exposure]
    import_lock: threading.Lock

    resolve_volume: Callable[..., VolumeInfo]
    volume_of_path: Callable[[str], VolumeInfo | None]
    applications_on: Callable[[VolumeInfo], list[Any]]

    def _owner(self, snapshot_id: UUID) -> Provider:
        if not isinstance(snapshot_id, UUID):  # a GUID string would never match: say so
            raise TypeError(f"a shadow copy id is a uuid.UUID, not {type(snapshot_id).__name__} "
                            f"{snapshot_id!r} (use uuid.UUID(text) for a GUID string)")
        # Each provider is asked for that one copy (GetSnapshotProperties: VSS_E_OBJECT_NOT_FOUND
        # unless it holds it, completed), not for the properties of every copy it holds.
        for p in self.providers:
            try:
                p.get_snapshot_properties(snapshot_id)
            except VssObjectNotFoundError:
                continue
            return p
        raise VssObjectNotFoundError(f"no completed shadow copy {{{snapshot_id}}}")

    # ------------------------------------------------------------------ shadow storage
    def min_shadow_storage(self, volume: str) -> int:
        """The smallest maximum a shadow storage association may have (``MinDiffAreaFileSize``:
        32 MB for volumes under 500 MB, 320 MB otherwise; ``VssOptions.min_shadow_storage``
        overrides it)."""
        if self.options.min_shadow_storage is not None:
            return self.options.min_shadow_storage
        info = self.resolve_volume(volume)
        return 32 * MB if info.device.size < 500 * MB else 320 * MB

    def _check_max(self, volume: str, max_size: int | None) -> int | None:
        if max_size is None or max_size == -1:
            return None
        if not isinstance(max_size, int) or isinstance(max_size, bool):
            raise TypeError(f"max_size must be an int or None, not {type(max_size).__name__}")
        minimum = self.min_shadow_storage(volume)
        if max_size < minimum:
            raise VssInvalidArgumentError(
                f"max_size={max_size}: the shadow storage maximum must be at least {minimum} "
                "bytes (or None for UNBOUNDED)")
        return max_size

    def add_shadow_storage(self, for_volume: str, on_volume: str,
                           max_size: int | None = None) -> None:
        """``AddDiffArea`` (``vssadmin add shadowstorage /for= /on= /maxsize=``).

        Refused if the volume already has an association (``VSS_E_OBJECT_ALREADY_EXISTS``) or
        shadow copies (``VSS_E_VOLUME_IN_USE``); ``max_size`` None (or -1) is unbounded.
        """
        vol = self.resolve_volume(for_volume)
        on = self.resolve_volume(on_volume)
        limit = self._check_max(vol.name, max_size)
        if on.filesystem != "NTFS":
            raise VssVolumeNotSupportedError(
                f"{on.name} is {on.filesystem}: shadow storage must be on an NTFS volume")
        if self.system_provider.count_on(vol):
            raise VssVolumeInUseError(
                f"{vol.name} already has shadow copies; its storage cannot be moved now")
        if self._association(vol) is not None:
            raise VssObjectAlreadyExistsError(
                f"{vol.name} already has a shadow storage association; resize it instead")
        self.system_provider.set_association(vol, on.name, limit, explicit=True)
        self.tracer.emit("VSS", vol.name, EventKind.SNAPSHOT, "AddShadowStorage",
                         f"for {vol.name} on {on.name}, max {_size_text(limit)}")

    def resize_shadow_storage(self, for_volume: str, on_volume: str,
                              max_size: int | None) -> None:
        """``ChangeDiffAreaMaximumSize``: None/-1 unbounded, 0 deletes the association (only
        without shadow copies); shrinking deletes the oldest copies that no longer fit."""
        vol = self.resolve_volume(for_volume)
        on = self.resolve_volume(on_volume)
        if max_size == 0:
            self.delete_shadow_storage(vol.name, on.name)
            return
        limit = self._check_max(vol.name, max_size)
        assoc = self.system_provider.association(vol)
        if assoc is not None and assoc.on_volume != on.name and \
                self.system_provider.count_on(vol):
            raise VssVolumeInUseError(
                f"the shadow storage of {vol.name} is on {assoc.on_volume} and holds shadow "
                "copies")
        self.system_provider.set_association(vol, on.name, limit, explicit=True)
        self.tracer.emit("VSS", vol.name, EventKind.SNAPSHOT, "ResizeShadowStorage",
                         f"for {vol.name} on {on.name}, max {_size_text(limit)}")

    def delete_shadow_storage(self, for_volume: str, on_volume: str | None = None) -> None:
        """Delete an association (``VSS_E_VOLUME_IN_USE`` while it holds shadow copies)."""
        vol = self.resolve_volume(for_volume)
        assoc = self._association(vol)
        if assoc is None or (on_volume is not None and
                             assoc.on_volume != self.resolve_volume(on_volume).name):
            raise VssObjectNotFoundError(f"no shadow storage association for {vol.name}"
                                         + (f" on {on_volume}" if on_volume else ""))
        if self.system_provider.count_on(vol):
            raise VssVolumeInUseError(
                f"a shadow copy is currently using the storage area of {vol.name}")
        self.system_provider.remove_association(vol)
        self.tracer.emit("VSS", vol.name, EventKind.SNAPSHOT, "DeleteShadowStorage",
                         f"for {vol.name}")

    def _association(self, vol: VolumeInfo) -> DiffAreaAssociation | None:
        return next((a for a in self.system_provider.associations()
                     if a.for_guid == vol.guid_path), None)

    def shadow_storage(self, *, for_volume: str | None = None,
                       on_volume: str | None = None) -> list[ShadowStorageInfo]:
        """``QueryDiffAreasForVolume`` / ``QueryDiffAreasOnVolume`` (``/for=`` or ``/on=``)."""
        if for_volume is not None and on_volume is not None:
            raise VssInvalidArgumentError("give for_volume or on_volume, not both")
        for_name = self.resolve_volume(for_volume).name if for_volume else None
        on_name = self.resolve_volume(on_volume).name if on_volume else None
        out = []
        for a in self.system_provider.associations():
            if (for_name and a.for_volume != for_name) or (on_name and a.on_volume != on_name):
                continue
            out.append(ShadowStorageInfo(a.for_volume, a.on_volume, a.used, a.allocated,
                                         a.max_size))
        return out

    # ------------------------------------------------------------------------ exposure
    def expose_snapshot(self, snapshot_id: UUID, path_from_root: str | None, attributes: int,
                        expose: str | None) -> str:
        """``ExposeSnapshot``: as a drive letter or mount folder (``EXPOSED_LOCALLY``, whole
        copy, persistent copies only) or as a share (``EXPOSED_REMOTELY``, optionally a
        sub-tree; materialised read-only under ``<root>/shares/<name>``).  Returns the name.

        A copy has at most one exposure (``UnexposeSnapshot`` takes only its id): a second
        ``ExposeSnapshot`` gives ``VSS_E_OBJECT_ALREADY_EXISTS``.
        """
        if attributes not in (_A.EXPOSED_LOCALLY, _A.EXPOSED_REMOTELY):
            raise VssInvalidArgumentError(
                "attributes must be exactly VSS_VOLSNAP_ATTR_EXPOSED_LOCALLY or "
                "VSS_VOLSNAP_ATTR_EXPOSED_REMOTELY")
        provider = self._owner(snapshot_id)
        props = provider.get_snapshot_properties(snapshot_id)
        if props.exposed_name:
            raise VssObjectAlreadyExistsError(
                f"{{{snapshot_id}}} is already exposed as {props.exposed_name}; unexpose it "
                "first")
        if props.snapshot_attributes & _A.CLIENT_ACCESSIBLE:
            raise VssBadStateError("client-accessible shadow copies must not be exposed",
                                   state="CREATED", call="ExposeSnapshot")
        remote = attributes == _A.EXPOSED_REMOTELY
        if remote:
            name = self._share_name(expose, props)
        else:
            if path_from_root is not None:
                raise VssInvalidArgumentError(
                    "path_from_root must be None for a local exposure (the whole copy appears)")
            if not props.snapshot_attributes & _A.PERSISTENT:
                raise VssBadStateError(
                    "only persistent shadow copies can be exposed locally",
                    state="CREATED", call="ExposeSnapshot")
            name = self._local_name(expose)
        device = provider.get_snapshot_device(snapshot_id)
        exposure = Exposure(snapshot_id, name, path_from_root if remote else None, remote)
        if remote:
            exposure.host_directory = self._export(device, props, name, path_from_root)
        provider.set_snapshot_property(snapshot_id, SnapshotPropertyId.EXPOSED_NAME, name)
        provider.set_snapshot_property(snapshot_id, SnapshotPropertyId.EXPOSED_PATH,
                                       exposure.path_from_root)
        provider.set_snapshot_property(snapshot_id, SnapshotPropertyId.SNAPSHOT_ATTRIBUTES,
                                       props.snapshot_attributes | int(attributes))
        self._register_exposure(exposure, props)
        self.tracer.emit("VSS", "machine", EventKind.SNAPSHOT, "ExposeSnapshot",
                         f"{{{snapshot_id}}} as {name}" + (" (share)" if remote else ""),
                         snapshot=str(snapshot_id), exposed=name)
        return name

    def _register_exposure(self, exposure: Exposure, props: SnapshotProperties) -> None:
        self._exposures[exposure.name.lower()] = exposure
        if not exposure.remote:
            device = self._owner(exposure.snapshot_id).get_snapshot_device(
                exposure.snapshot_id)
            roots = getattr(device, "roots", None)
            if roots is not None:
                root = exposure.name if exposure.name.endswith("\\") else exposure.name + "\\"
                device.roots = [props.snapshot_device_object + "\\", root]  # type: ignore

    def _local_name(self, expose: str | None) -> str:
        if not expose:
            raise VssInvalidArgumentError("expose: give a drive letter (\"X:\") or a mount folder")
        m = _DRIVE.match(expose)
        if m:
            name = f"{m.group(1).upper()}:"
            taken = {n.rstrip("\\").lower() for n in self.volume_names()}
            if name.lower() in taken or name.lower() in self._exposures:
                raise VssObjectAlreadyExistsError(f"drive letter {name} is in use")
            return name
        folder = expose.rstrip("\\")
        vol = self.volume_of_path(folder)
        if vol is None:
            raise VssObjectNotFoundError(f"mount folder {expose!r} is not on a volume")
        fs = vol.device.fs  # type: ignore[attr-defined]
        if not fs.is_dir(folder) or fs.listdir(folder):
            raise VssInvalidArgumentError(
                f"mount folder {expose!r} must be an existing empty directory")
        if folder.lower() in self._exposures:
            raise VssObjectAlreadyExistsError(f"{expose!r} is already a mount point")
        return folder

    def _share_name(self, expose: str | None, props: SnapshotProperties) -> str:
        name = expose or f"ShadowCopy{props.snapshot_device_object.rsplit('Copy', 1)[-1]}"
        if not _SHARE.match(name):
            raise VssInvalidArgumentError(f"expose={name!r} is not a valid share name")
        if name.lower() in self._exposures:
            raise VssObjectAlreadyExistsError(f"a share called {name} already exists")
        return name

    def _export(self, device: BlockDevice, props: SnapshotProperties, name: str,
                path_from_root: str | None) -> Path:
        fs = device.fs  # type: ignore[attr-defined]
        base = props.snapshot_device_object
        sub = (path_from_root or "").strip("\\")
        if any(ch in sub for ch in "*?%"):
            raise VssInvalidArgumentError("path_from_root takes no wildcards or variables")
        start = base + "\\" + sub if sub else base + "\\"
        if not fs.is_dir(start):
            raise VssObjectNotFoundError(f"{path_from_root!r} is not a directory of the copy")
        target = self.root / "shares" / name
        if target.exists():
            _make_writable(target)
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for dirpath, _dirs, files in fs.walk(start):
            rel = dirpath[len(start):].strip("\\")
            here = target.joinpath(*rel.split("\\")) if rel else target
            here.mkdir(parents=True, exist_ok=True)
            for f in files:
                path = here / f
                path.write_bytes(fs.read_file(dirpath.rstrip("\\") + "\\" + f))
        _make_readonly(target)
        return target

    def unexpose_snapshot(self, snapshot_id: UUID) -> None:
        """``UnexposeSnapshot``: remove the drive letter, mount point or share
        (``VSS_E_OBJECT_NOT_FOUND`` if the copy is not exposed)."""
        provider = self._owner(snapshot_id)
        props = provider.get_snapshot_properties(snapshot_id)
        if not props.exposed_name:
            raise VssObjectNotFoundError(f"{{{snapshot_id}}} is not exposed")
        exposure = self._exposures.pop(props.exposed_name.lower(), None)
        if exposure is not None and exposure.host_directory is not None:
            _make_writable(exposure.host_directory)
            shutil.rmtree(exposure.host_directory, ignore_errors=True)
        device = provider.get_snapshot_device(snapshot_id)
        if getattr(device, "roots", None) is not None:
            device.roots = [props.snapshot_device_object + "\\"]  # type: ignore[attr-defined]
        provider.set_snapshot_property(snapshot_id, SnapshotPropertyId.EXPOSED_NAME, None)
        provider.set_snapshot_property(snapshot_id, SnapshotPropertyId.EXPOSED_PATH, None)
        provider.set_snapshot_property(
            snapshot_id, SnapshotPropertyId.SNAPSHOT_ATTRIBUTES,
            props.snapshot_attributes & ~int(_A.EXPOSED_LOCALLY | _A.EXPOSED_REMOTELY))
        self.tracer.emit("VSS", "machine", EventKind.SNAPSHOT, "UnexposeSnapshot",
                         f"{{{snapshot_id}}} ({props.exposed_name})", snapshot=str(snapshot_id))

    def exposed(self, name: str) -> ExposedDevice:
        """The shadow copy exposed as ``name`` (drive letter, mount folder or share): its
        device, whose ``fs`` shows the files under the exposed name (``X:\\...``)."""
        exposure = self._exposures.get(name.rstrip("\\").lower())
        if exposure is None:
            raise VssObjectNotFoundError(f"nothing is exposed as {name!r}")
        device = self._owner(exposure.snapshot_id).get_snapshot_device(exposure.snapshot_id)
        return cast("ExposedDevice", device)

    def forget_lost_exposures(self) -> None:
        """Drop the exposures of copies the provider deleted by itself (a finished revert,
        :attr:`VssOptions.copies_after_revert`): their names are free again."""
        for key, exposure in list(self._exposures.items()):
            try:
                self._owner(exposure.snapshot_id).get_snapshot_properties(exposure.snapshot_id)
            except VssObjectNotFoundError:
                del self._exposures[key]
                if exposure.host_directory is not None:
                    _make_writable(exposure.host_directory)
                    shutil.rmtree(exposure.host_directory, ignore_errors=True)
                self.tracer.emit("VSS", "machine", EventKind.SNAPSHOT, "UnexposeSnapshot",
                                 f"{{{exposure.snapshot_id}}} ({exposure.name}): deleted",
                                 snapshot=str(exposure.snapshot_id))

    @property
    def exposures(self) -> list[Exposure]:
        """Every exposure on the machine."""
        return list(self._exposures.values())

    def _restore_exposures(self) -> None:
        """At boot: persistent exposures come back (providers reference §3.8)."""
        self._exposures.clear()
        for p in self.providers:
            for props in p.query():
                if props.exposed_name:
                    remote = bool(props.snapshot_attributes & _A.EXPOSED_REMOTELY)
                    host = self.root / "shares" / props.exposed_name if remote else None
                    self._register_exposure(
                        Exposure(props.snapshot_id, props.exposed_name, props.exposed_path,
                                 remote, host), props)

    def volume_names(self) -> list[str]:
        """Names of the machine's volumes (overridden by ``VssSystem``)."""
        return []

    # ------------------------------------------------------------------------- deletion
    def check_deletable(self, snapshot_id: UUID, force: bool) -> None:
        """An exposed copy is in use: deleting it needs ``force`` (which unexposes it first);
        a copy being reverted to cannot be deleted (``VSS_E_REVERT_IN_PROGRESS`` from the
        provider)."""
        props = self._owner(snapshot_id).get_snapshot_properties(snapshot_id)
        if props.exposed_name:
            if not force and self.options.exposed_delete == "force":
                raise VssVolumeInUseError(
                    f"{{{snapshot_id}}} is exposed as {props.exposed_name}; unexpose it or "
                    "delete with force")
            self.unexpose_snapshot(snapshot_id)

    # ---------------------------------------------------------------------------- break
    def break_snapshot_set(self, snapshot_ids: list[UUID], make_writable: bool
                           ) -> list[str]:
        """``BreakSnapshotSet[Ex]``: VSS forgets the copies and their LUNs become ordinary
        volumes of this machine (read-only unless ``make_writable``).  Software copies cannot
        be broken (``VSS_E_PROVIDER_VETO``), checked for the whole set before anything changes.
        Returns the names of the new volumes."""
        owners = [(sid, self._owner(sid)) for sid in snapshot_ids]
        for sid, provider in owners:
            props = provider.get_snapshot_properties(sid)
            if not props.snapshot_attributes & _A.HARDWARE_ASSISTED:
                raise VssProviderVetoError(
                    f"{{{sid}}} was made by {provider.provider_name}, a software provider: only "
                    "hardware shadow copies can be broken")
        names = []
        for sid, provider in owners:
            device = provider.break_snapshot(sid, make_writable)
            names.append(self.mount_device(device, origin=f"broken shadow copy {{{sid}}}"))
            self.tracer.emit("VSS", provider.provider_name, EventKind.SNAPSHOT,
                             "BreakSnapshotSet", f"{{{sid}}} is now volume {names[-1]}",
                             snapshot=str(sid))
        return names

    def mount_device(self, device: BlockDevice, *, origin: str) -> str:
        """Mount a device as a new volume with only a GUID path (overridden by ``VssSystem``)."""
        raise VssNotImplementedError("this machine cannot mount devices")

    # --------------------------------------------------------------------------- import
    def import_from_document(self, bcd: BackupComponentsDocument
                             ) -> tuple[int, int, list[UUID]]:
        """``ImportSnapshots``: bring in the transportable copies a BCD describes.

        Returns (imported, described, imported ids).  Refused with ``VSS_E_NONTRANSPORTABLE_BCD``
        if the document describes no transportable copy, ``VSS_E_NO_SNAPSHOTS_IMPORTED`` if the
        document comes from an incompatible Windows version.
        """
        described = [d for d in bcd.snapshots if d.attributes & _A.TRANSPORTABLE]
        if not described:
            raise VssNonTransportableBcdError(
                "the document describes no transportable shadow copy (create with "
                "VSS_VOLSNAP_ATTR_TRANSPORTABLE)")
        if bcd.os_version and os_family(bcd.os_version) != os_family(self.os_version):
            raise VssNoSnapshotsImportedError(
                f"the copies were made on Windows {bcd.os_version}; Windows {self.os_version} "
                "cannot import them (2003-era and 2008-era transportable copies do not mix)")
        if bcd.snapshot_set_id is None:
            raise VssNonTransportableBcdError("the document has no shadow copy set")
        imported = []
        for d in described:
            provider = next((p for p in self.providers if p.provider_id == d.provider_id), None)
            ok = provider is not None and provider.import_snapshot(
                d, bcd.snapshot_set_id, len(bcd.snapshots), bcd.context,
                originating_machine=bcd.originating_machine)
            self.tracer.emit("VSS", provider.provider_name if provider else "?",
                             EventKind.SNAPSHOT, "ImportSnapshot",
                             f"{{{d.snapshot_id}}} {'imported' if ok else 'NOT imported'}",
                             snapshot=str(d.snapshot_id), imported=bool(ok))
            if ok:
                imported.append(d.snapshot_id)
        return len(imported), len(described), imported

    # --------------------------------------------------------------------------- revert
    def revert_to_snapshot(self, snapshot_id: UUID, force_dismount: bool) -> VolumeInfo:
        """``RevertToSnapshot``: start reverting the copy's volume; returns the volume.

        This only starts the revert (as on Windows, it cannot be cancelled): the volume still
        reads as before until the revert runs, which :meth:`finish_revert` with the volume
        returned does at once, ``QueryRevertStatus`` on a requester
        (``bc.query_revert_status(volume).wait()``) does in steps, and :meth:`reboot` does at
        boot.  ``VssOptions.copies_after_revert`` applies when it ends.
        ``IVssBackupComponents.revert_to_snapshot`` (immediate async mode) starts and ends it
        in one call.
        """
        if self.edition == "client" or self.os_version in ("XP", "Vista", "7", "8", "10",
                                                             "11"):
            raise VssNotImplementedError(
                "RevertToSnapshot is only available on Windows Server editions")
        provider = self._owner(snapshot_id)
        props = provider.get_snapshot_properties(snapshot_id)
        volume = self.resolve_volume(props.original_volume_name)
        apps = [a for a in self.applications_on(volume) if getattr(a, "running", True)]
        fs = getattr(volume.device, "_fs", None)
        open_handles = bool(fs is not None and getattr(fs, "_handles", None))
        if (apps or open_handles) and not force_dismount:
            users = ", ".join(a.name for a in apps) or "open files"
            raise VssVolumeInUseError(
                f"{volume.name} is in use ({users}) and cannot be locked; stop them or revert "
                "with force_dismount=True")
        for app in apps:  # force_dismount: the applications lose the volume
            app.stop()
        provider.revert_to_snapshot(snapshot_id)
        self.tracer.emit("VSS", volume.name, EventKind.SNAPSHOT, "RevertToSnapshot",
                         f"{volume.name} to {{{snapshot_id}}}", snapshot=str(snapshot_id))
        return volume


def _size_text(size: int | None) -> str:
    return "UNBOUNDED" if size is None else f"{size} bytes"


def _make_readonly(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        for f in files:
            os.chmod(os.path.join(dirpath, f), stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.chmod(dirpath, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP
                 | stat.S_IROTH | stat.S_IXOTH)


def _make_writable(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, stat.S_IRWXU)
        for f in files:
            os.chmod(os.path.join(dirpath, f), stat.S_IRUSR | stat.S_IWUSR)
