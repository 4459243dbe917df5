"""``VssSystem``: one simulated Windows machine with its volumes, writers, providers and VSS.

::

    with VssSystem(seed=0) as system:                         # root=None: a temp dir, removed
        vol = system.add_volume("C:\\\\", size=64 * 2**20)     # image file, 16 KiB blocks, simfs
        vol.fs.write_file("C:\\\\db\\\\data.mdf", b"...")
        system.add_writer(MyWriter())
        result = system.backup(["C:\\\\"], target_dir=tmp)      # the canonical backup sequence
        print(result.trace.to_text())
        bc = system.create_backup_components()                # or step by step, like Windows

The machine lives in a root directory: volume images, diff areas and ``machine.json``.  Reopening
``VssSystem(root=path)`` brings back the volumes, shadow storage and persistent shadow copies;
auto-release and other non-persistent copies are gone, as after a reboot.  Writers and
applications are code: add them again after reopening.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from uuid import UUID

from vsssim.apps.base import Application
from vsssim.asyncop import AsyncMode, check_mode
from vsssim.clock import Clock, VirtualClock
from vsssim.constants import (
    BackupType,
    ProviderType,
    SnapshotContext,
    VolumeSnapshotAttributes,
)
from vsssim.coordinator import (
    Coordinator,
    IdSource,
    ProviderFailure,
    Session,
    SnapshotSet,
    _drain,
)
from vsssim.documents import LunInfo, SnapshotProperties
from vsssim.errors import (
    VssBadStateError,
    VssFileExistsError,
    VssInvalidArgumentError,
    VssMaximumNumberOfSnapshotsReachedError,
    VssObjectNotFoundError,
    VssProviderAlreadyRegisteredError,
    VssProviderNotRegisteredError,
    VssStoreCorruptError,
    VssVolumeNotSupportedByProviderError,
    VssVolumeNotSupportedError,
    error_for,
)
from vsssim.faults import FaultPlan, StorageFault
from vsssim.management import Exposure, SnapshotManagement
from vsssim.options import VssOptions
from vsssim.providers.base import GUID_NULL, Provider, VolumeInfo
from vsssim.providers.system import SystemProvider
from vsssim.requester import BackupComponents
from vsssim.storage._fileio import atomic_write, make_dirs
from vsssim.trace import EventKind, Trace, Tracer
from vsssim.writer import Writer

if TYPE_CHECKING:
    from vsssim.backup import BackupResult
    from vsssim.restore import RestoreResult
    from vsssim.storage.volume import Volume

__all__ = ["OS_VERSIONS", "VssSystem"]

_A = VolumeSnapshotAttributes
_NO_AUTO_RELEASE = int(_A.NO_AUTO_RELEASE)  # a plain int: ``int & IntFlag`` is a Python call
_W = TypeVar("_W", bound=Writer)  # add_writer and friends return what they were given
_P = TypeVar("_P", bound=Provider)
_App = TypeVar("_App", bound=Application)
MiB = 1 << 20
MACHINE_FILE = "machine.json"
MACHINE_FORMAT = 1
_MACHINE_ENCODER = json.JSONEncoder(separators=(",", ":"))

#: Simulated Windows versions (the ones whose differences the reference names).
OS_VERSIONS = ("XP", "2003", "2003R2", "Vista", "2008", "2008R2", "7", "2012", "2012R2", "8",
               "2016", "10", "2019", "2022", "11")
_DRIVE = re.compile(r"^([A-Za-z]):\\?$")


def _canonical_name(name: str) -> str:
    """``"c:"`` / ``"C:\\"`` -> ``"C:\\"``; mount folders keep their form plus a backslash."""
    if not isinstance(name, str) or not name:
        raise VssInvalidArgumentError(f"volume name {name!r} must be a non-empty string")
    m = _DRIVE.match(name)
    if m:
        return f"{m.group(1).upper()}:\\"
    if re.match(r"^[A-Za-z]:\\.+", name):
        return name if name.endswith("\\") else name + "\\"
    raise VssInvalidArgumentError(
        f"volume name {name!r}: use a drive letter (\"C:\\\\\") or a mount folder "
        "(\"C:\\\\Mount\\\\Data\\\\\")")


@dataclass
class _VolumeEntry:
    name: str
    guid: UUID
    volume: Any  # a Volume, or a plain device (a broken hardware shadow copy)
    image: str
    luns: tuple[LunInfo, ...] = ()
    kind: str = "volume"  # "volume" (an image with copy-on-write) or "device" (read as is)
    readonly: bool = False
    filesystem: str = "NTFS"

    @functools.cached_property
    def guid_path(self) -> str:
        return f"\\\\?\\Volume{{{self.guid}}}\\"

    def info(self) -> VolumeInfo:
        return self._info

    @functools.cached_property
    def _info(self) -> VolumeInfo:
        # One frozen record per volume: every path lookup hands it out.
        return VolumeInfo(self.name, self.guid_path, self.volume, filesystem=self.filesystem,
                          luns=self.luns)


class _Scheduler:
    """Runs applications at the coordinator's scheduling points, deterministically.

    It keeps the machine's tracer, clock and options rather than the machine (no reference
    cycle: a closed machine is freed at once)."""

    def __init__(self, system: VssSystem) -> None:
        self.tracer = system.tracer
        self.clock = system.clock
        self.options = system.options
        self.apps: list[Application] = []
        self.holding = False
        self.deferred: list[tuple[Application, int]] = []
        self.rng = system.ids.random()
        self.threads: list[threading.Thread] = []
        self.stop = threading.Event()

    def activity(self, point: str) -> None:
        for app in self.apps:
            n = self.rng.randrange(app.burst + 1)  # randint(0, burst), one call less
            if not n or app.suspended or not app.running:
                continue  # (a frozen or stopped application does nothing and takes no time)
            if self.holding:
                # The kernel holds writes: the application's write waits for the release.
                self.deferred.append((app, n))
                self.tracer.emit(app.name, "kernel", EventKind.APP, "WriteWaits",
                                 f"{n} step(s) wait for the release of held writes")
                continue
            self.run(app, n)

    def run(self, app: Application, steps: int) -> None:
        cost = self.options.costs.app_step
        for _ in range(steps):
            if app.suspended or not app.running:
                return
            app.run(self.rng)
            if cost:
                self.clock.sleep(cost)

    def set_holding(self, holding: bool) -> None:
        self.holding = holding
        if not holding and self.deferred:
            deferred, self.deferred = self.deferred, []
            for app, n in deferred:
                self.tracer.emit(app.name, "kernel", EventKind.APP, "WriteResumes",
                                 f"{n} held step(s) run after the release")
                self.run(app, n)


def _expect_instance(value: object, kind: type, call: str) -> None:
    """Raise ``TypeError`` unless ``value`` is a ``kind``; a ``kind`` class passed where its
    instance belongs is told so (the ``()`` is easily forgotten)."""
    if isinstance(value, kind):
        return
    if isinstance(value, type) and issubclass(value, kind):
        raise TypeError(f"{call}() takes an instance of {kind.__name__}, not the class "
                        f"{value.__name__}: {call}({value.__name__}(...))")
    raise TypeError(f"{value!r} is not a vsssim {kind.__name__}")


def _check_machine_arguments(root: object, seed: object, clock: object, options: object,
                             faults: object, machine_name: object, async_mode: object) -> None:
    """``VssSystem``'s arguments, checked before anything is written under ``root``."""
    if root is not None and not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a path or None, not {type(root).__name__}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    for name, value, kind in (("clock", clock, Clock), ("options", options, VssOptions),
                              ("faults", faults, FaultPlan)):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__name__} or None, not "
                            f"{type(value).__name__}")
    if not isinstance(machine_name, str):
        raise TypeError(f"machine_name must be a str, not {type(machine_name).__name__}")
    if not machine_name.strip():
        raise ValueError("machine_name must not be empty")
    check_mode(async_mode, "async_mode")


class VssSystem(SnapshotManagement):
    """A simulated machine: volumes, writers, providers, applications and its VSS service.

    ``root``: directory of the machine (None: a temporary one, removed by :meth:`close`).
    ``seed``: drives every id and every scheduling choice (same seed, same trace).
    ``clock``: a :class:`~vsssim.clock.Clock` (default :class:`VirtualClock`).
    ``options``: the fidelity choices (:class:`VssOptions`); ``faults``: a :class:`FaultPlan`.
    ``os_version`` / ``edition``: the simulated Windows (server editions by default).
    ``async_mode``: how requesters' async operations run by default.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        options: VssOptions | None = None,
        faults: FaultPlan | None = None,
        machine_name: str = "VSSSIM01",
        os_version: str = "2022",
        edition: Literal["server", "client"] = "server",
        async_mode: AsyncMode = "immediate",
    ) -> None:
        _check_machine_arguments(root, seed, clock, options, faults, machine_name, async_mode)
        if os_version not in OS_VERSIONS:
            raise VssInvalidArgumentError(
                f"os_version={os_version!r}: one of {', '.join(OS_VERSIONS)}")
        if edition not in ("server", "client"):
            raise VssInvalidArgumentError(f"edition={edition!r}: 'server' or 'client'")
        self._temp = root is None
        # (A Path is immutable: one given is kept rather than copied.)
        self.root = Path(tempfile.mkdtemp(prefix="vsssim-")) if root is None else (
            root if isinstance(root, Path) else Path(root))
        # The root as a string, for the paths built under it at every save.
        self._root_str = os.fspath(self.root)
        self._machine_path = os.path.join(self._root_str, MACHINE_FILE)
        make_dirs(self._root_str)
        saved = self._load_machine_file()
        self.seed = seed
        self.machine_name = str(saved.get("machine_name", machine_name))
        self.os_version = str(saved.get("os_version", os_version))
        self.edition: str = str(saved.get("edition", edition))
        self.boot = int(saved.get("boot", -1)) + 1
        self.clock: Clock = clock or VirtualClock(float(saved.get("clock", 0.0)))
        self.options = options or VssOptions()
        self.async_mode: AsyncMode = async_mode
        self.tracer = Tracer(self.clock)
        self.trace = Trace()
        self.tracer.subscribe(self.trace)
        self.ids = IdSource(seed * 1_000_003 + self.boot)
        self._device_counter = int(saved.get("shadow_devices", 0))
        self._volumes: dict[str, _VolumeEntry] = {}
        # volume_of_path's roots: drive letters and mount folders; GUID paths (a backslash
        # first).
        self._volume_roots: tuple[list[tuple[str, str, _VolumeEntry]],
                                  list[tuple[str, str, _VolumeEntry]]] = ([], [])
        # Each volume's entry of the machine file, made at its first save (entries never change).
        self._volume_records: dict[str, dict[str, Any]] = {}
        self._volume_keys: dict[str, _VolumeEntry] = {}  # lowered name and GUID path -> entry
        self._state_directories: dict[UUID, str] = {}
        self._auto_release: dict[UUID, list[UUID]] = {}
        self._exposures: dict[str, Exposure] = {}
        # Held while an ImportSnapshots runs: imports are one at a time (rule 31).
        self.import_lock = threading.Lock()
        self._requesters: weakref.WeakSet[BackupComponents] = weakref.WeakSet()
        self._shadow_mounts: dict[UUID, Any] = {}
        #: MoveFileEx(..., MOVEFILE_DELAY_UNTIL_REBOOT) operations: (staged file, destination).
        self.pending_renames: list[tuple[str, str]] = [
            (str(a), str(b)) for a, b in saved.get("pending_renames", [])]
        self._closed = False
        self.coordinator = Coordinator(clock=self.clock, tracer=self.tracer, ids=self.ids,
                                       options=self.options, machine=self, faults=faults)
        self.scheduler = _Scheduler(self)
        self.system_provider = SystemProvider(
            max_snapshots=self.options.max_snapshots_per_volume,
            commit_cost=self.options.costs.commit,
            client_accessible_limit=self.options.client_accessible_limit,
            copies_after_revert=self.options.copies_after_revert)
        self.providers: list[Provider] = []
        self._register_provider(self.system_provider)
        for entry in saved.get("volumes", []):
            self._reopen_volume(entry)
        self._attach_all()
        self._save_machine_file()
        self.tracer.emit("machine", "machine", EventKind.NOTE, "Boot",
                         f"{self.machine_name}: Windows {self.os_version} {self.edition}, boot "
                         f"{self.boot}", boot=self.boot)

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> VssSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<VssSystem {self.machine_name} {len(self._volumes)} volumes "
                f"{len(self.coordinator.writers)} writers root={str(self.root)!r}>")

    def _check_open(self, call: str) -> None:
        if self._closed:
            raise VssBadStateError("the machine is shut down", state="closed", call=call)

    def close(self) -> None:
        """Shut the machine down (persistent state stays in ``root`` unless it was temporary).

        Applications stop, providers are closed and unloaded (``OnUnload(TRUE)``), volumes
        close, and the writers' subscriptions end (a writer object may then join another
        machine).  The trace and the results stay readable.  If a provider fails to close,
        the machine still shuts down (volumes closed, no writer left subscribed) and the
        provider's error is raised afterwards."""
        if self._closed:
            return
        try:
            if self.scheduler.threads:  # (nothing to stop, or to wake, without them)
                self.stop_applications()
            self._save_machine_file()
            self._unload_providers()
        finally:
            for entry in self._volumes.values():
                entry.volume.close()
            self.coordinator.close()
            self._closed = True
            if self._temp:
                shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------- persistence
    def _load_machine_file(self) -> dict[str, Any]:
        path = self._machine_path
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return {}  # a new machine
        except (OSError, ValueError) as exc:  # (ValueError: not UTF-8)
            raise VssStoreCorruptError(f"{path} is damaged: {exc}") from None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != MACHINE_FORMAT:
                raise ValueError("not a vsssim machine file")
            return data
        except (OSError, ValueError) as exc:
            raise VssStoreCorruptError(f"{path} is damaged: {exc}") from None

    def _save_machine_file(self) -> None:
        data = {
            "format": MACHINE_FORMAT,
            "machine_name": self.machine_name,
            "os_version": self.os_version,
            "edition": self.edition,
            "boot": self.boot,
            "clock": self.clock.now(),
            "shadow_devices": self._device_counter,
            "pending_renames": [list(r) for r in self.pending_renames],
            "volumes": [self._volume_record(e) for e in self._volumes.values()],
        }
        # Compact: the simulator reads this file, people use the CLI (and json's C encoder
        # only runs without indent; the indented one took a fifth of building a machine).
        # String paths and one encoder: a machine saves this file at every change.
        path = self._machine_path
        atomic_write(path, _MACHINE_ENCODER.encode(data).encode(), durable=False)

    def _volume_record(self, e: _VolumeEntry) -> dict[str, Any]:
        """The machine file's entry of a volume (made once: a volume entry does not change)."""
        record = self._volume_records.get(e.name)
        if record is None:
            record = self._volume_records[e.name] = {
                "name": e.name, "guid": str(e.guid), "image": os.path.relpath(e.image, self.root),
                "kind": e.kind, "readonly": e.readonly, "filesystem": e.filesystem,
                "luns": [lun.model_dump(mode="json") for lun in e.luns]}
        return record

    def _reopen_volume(self, entry: dict[str, Any]) -> None:
        from vsssim.storage.volume import Volume

        image = str(self.root / entry["image"])
        luns = tuple(LunInfo.model_validate(x) for x in entry.get("luns", []))
        if entry.get("kind", "volume") == "device":
            from vsssim.storage.filedevice import FileDevice

            device: Any = FileDevice(image, readonly=bool(entry.get("readonly")))
            device.roots = [entry["name"]]
            ve = _VolumeEntry(entry["name"], UUID(entry["guid"]), device, image, luns,
                              "device", bool(entry.get("readonly")))
        else:
            volume = Volume.open(image, name=entry["name"], clock=self.clock)
            ve = _VolumeEntry(entry["name"], UUID(entry["guid"]), volume, image, luns,
                              filesystem=entry.get("filesystem", "NTFS"))
        self._add_entry(ve)

    def schedule_rename_at_reboot(self, staged: str, destination: str) -> None:
        """``MoveFileEx(staged, destination, MOVEFILE_DELAY_UNTIL_REBOOT |
        MOVEFILE_REPLACE_EXISTING)``: done by the next boot, before any application starts."""
        self._check_open("schedule_rename_at_reboot")
        if not isinstance(staged, str) or not isinstance(destination, str):
            raise TypeError(f"staged and destination are paths on the machine's volumes (str), "
                            f"not {type(staged).__name__} and {type(destination).__name__}")
        self.pending_renames.append((staged, destination))
        self._save_machine_file()

    def _apply_pending_renames(self) -> None:
        for staged, destination in self.pending_renames:
            vol = self.volume_of_path(destination)
            fs = getattr(vol.device, "fs", None) if vol is not None else None
            if fs is None or not fs.exists(staged):
                self.tracer.emit("machine", "machine", EventKind.NOTE, "PendingRenameFailed",
                                 f"{staged} -> {destination}")
                continue
            parent = destination.rsplit("\\", 1)[0]
            if parent and not fs.exists(parent):
                fs.makedirs(parent, exist_ok=True)
            fs.rename(staged, destination, replace=True)
            self.tracer.emit("machine", vol.name if vol else "?", EventKind.NOTE,
                             "PendingRename", f"{staged} -> {destination} (at boot)")
        self.pending_renames = []

    def _attach_all(self) -> None:
        """Boot: providers find their shadow copies again; exposures come back."""
        for ve in self._volumes.values():
            for provider in self.providers:
                attach = getattr(provider, "attach_volume", None)
                if attach is not None:
                    attach(ve.info())
        self._restore_exposures()

    # ------------------------------------------------------------------------ volumes
    def add_volume(self, name: str = "C:\\", size: int = 64 * MiB, *,
                   block_size: int = 16 * 1024, label: str = "",
                   format: bool = True, san: Any = None, filesystem: str = "NTFS") -> Volume:
        """Add a volume: an image file under ``root`` with a fresh simfs (unless ``format``
        is False).  ``name`` is a drive letter (``"C:\\\\"``) or a mount folder.  With ``san``
        (a :class:`~vsssim.storage.san.SimulatedSan`) the volume lives on a LUN of that array,
        so a hardware provider attached to it can shadow-copy it.  ``filesystem`` is what the
        volume claims to be (``"NTFS"``, ``"FAT32"``, ``"ReFS"``...): VSS rules depend on it
        (persistent copies and diff areas need NTFS); the files are simfs either way."""
        self._check_open("add_volume")
        if filesystem not in ("NTFS", "FAT32", "exFAT", "ReFS", "FAT"):
            raise VssInvalidArgumentError(f"filesystem={filesystem!r} is not a known file system")
        from vsssim.storage import simfs
        from vsssim.storage.volume import SIDECAR_SUFFIX, Volume

        canonical = _canonical_name(name)
        if canonical in self._volumes:
            raise VssFileExistsError(f"volume {canonical} already exists")
        images = os.path.join(self._root_str, "volumes")
        made_dir = False
        if san is None:
            try:
                os.mkdir(images)
                made_dir = True
            except FileExistsError:
                if not os.path.isdir(images):
                    raise
        stem = re.sub(r"[^A-Za-z0-9]+", "_", canonical).strip("_") or "volume"
        image = os.path.join(images, f"{stem}.img")
        luns: tuple[LunInfo, ...] = ()
        volume: Volume | None = None
        try:
            if san is not None:
                image, lun = san.create_volume_image(f"{self.machine_name}-{stem}", size,
                                                     machine=self.machine_name)
                luns = (lun,)
            volume = Volume.create(image, size, block_size, name=canonical, clock=self.clock)
            if format:
                default = canonical.rstrip(":\\")[-32:]  # NTFS labels have at most 32 chars
                simfs.format(volume, label=label or default, clock=self.clock)
        except BaseException:
            # Nothing of a volume that could not be made stays behind: the image, its geometry
            # sidecar, the directory made for them.
            if volume is not None:
                volume.close()
                for leftover in (image, image + SIDECAR_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(leftover)
            if made_dir:
                with contextlib.suppress(OSError):  # not empty: leave it, and the real error
                    os.rmdir(images)
            raise
        ve = _VolumeEntry(canonical, self.ids.uuid(), volume, image, luns,
                          filesystem=filesystem)
        self._add_entry(ve)
        self._save_machine_file()
        self.tracer.emit("machine", canonical, EventKind.NOTE, "AddVolume",
                         f"{canonical} {size // MiB} MiB {ve.guid_path}", size=size)
        return volume

    @property
    def volumes(self) -> dict[str, Volume]:
        """The volumes by name (``"C:\\\\"``)."""
        return {name: e.volume for name, e in self._volumes.items()}

    def volume_names(self) -> list[str]:
        """Every volume name of the machine."""
        return list(self._volumes)

    def mount_device(self, device: Any, *, origin: str) -> str:
        """Add a device (a broken hardware shadow copy's LUN) as a volume with a GUID path."""
        guid = self.ids.uuid()
        name = f"\\\\?\\Volume{{{guid}}}\\"
        if hasattr(device, "roots"):
            device.roots = [name]  # its files answer to the new volume's GUID path
        ve = _VolumeEntry(name, guid, device, str(getattr(device, "path", "")), (), "device",
                          bool(device.readonly))
        self._add_entry(ve)
        self._save_machine_file()
        self.tracer.emit("machine", name, EventKind.NOTE, "MountVolume", origin)
        return name

    def applications_on(self, volume: VolumeInfo) -> list[Application]:
        """The applications with files on ``volume`` (they keep it in use)."""
        return [a for a in self.scheduler.apps if a.uses(volume.device)]

    def volume(self, name: str) -> Volume:
        """The volume called ``name`` (drive letter, mount folder or GUID path)."""
        return self.resolve_volume(name).device  # type: ignore[return-value]

    def volume_guid_path(self, name: str) -> str:
        """``\\\\?\\Volume{GUID}\\`` of a volume."""
        return self.resolve_volume(name).guid_path

    def resolve_volume(self, name: str, *, strict: bool = False) -> VolumeInfo:
        """The volume for any accepted name.  ``strict``: the API form, with the trailing
        backslash every VSS volume parameter needs (rule 14)."""
        self._check_open("resolve_volume")
        if not isinstance(name, str) or not name:
            raise VssInvalidArgumentError(f"volume name {name!r} must be a non-empty string")
        key = name
        if name[-1] != "\\":
            if strict:
                raise VssInvalidArgumentError(
                    f"volume name {name!r} must end with a backslash (e.g. \"C:\\\\\")")
            key = name + "\\"
        e = self._volume_keys.get(key.lower())
        if e is not None:
            return e._info
        raise VssObjectNotFoundError(f"no volume {name!r} on {self.machine_name}")

    def _add_entry(self, ve: _VolumeEntry) -> None:
        self._volumes[ve.name] = ve
        roots = [(root, e) for e in self._volumes.values()
                 for root in (e.name.lower(), e.guid_path.lower())]
        # resolve_volume's lookup: the first volume that answers to a key keeps it.
        keys: dict[str, _VolumeEntry] = {}
        for root, e in roots:
            keys.setdefault(root, e)
        self._volume_keys = keys
        # The roots volume_of_path compares with, lowered once per volume (and without their
        # backslash), longest first: the first that matches is the longest match.  A path
        # lies under a root only if both start with a backslash or neither does: two lists.
        longest = sorted(((root, root[:-1], e) for root, e in roots), key=lambda r: -len(r[0]))
        self._volume_roots = ([r for r in longest if r[0][:1] != "\\"],
                              [r for r in longest if r[0][:1] == "\\"])

    def volume_of_path(self, path: str) -> VolumeInfo | None:
        """The volume a Windows path lies on (longest matching root), or None."""
        low = path.lower()
        for root, bare, e in self._volume_roots[low[:1] == "\\"]:  # True: the GUID paths
            if low.startswith(root) or low == bare:
                return e._info
        return None

    # ------------------------------------------------------------------------ writers
    def add_writer(self, writer: _W) -> _W:
        """Subscribe a writer (``Initialize`` + ``Subscribe``); returns it."""
        self._check_open("add_writer")
        _expect_instance(writer, Writer, "add_writer")
        self.coordinator.subscribe(writer)
        return writer

    def remove_writer(self, writer: Writer) -> None:
        """Unsubscribe a writer (its process stops)."""
        self._check_open("remove_writer")
        self.coordinator.unsubscribe(writer)

    def restart_writer(self, writer: _W) -> _W:
        """Stop and start a writer's process: it comes back with a new instance id and misses
        events meant for the old one (rule 31)."""
        self.remove_writer(writer)
        return self.add_writer(writer)

    @property
    def writers(self) -> list[Writer]:
        """Subscribed writers in registration order."""
        return [r.writer for r in self.coordinator.writers]

    def send_identify(self) -> None:
        """Another program sends Identify to every writer (rule 1)."""
        self._check_open("send_identify")
        self.coordinator.third_party_identify()

    @property
    def faults(self) -> FaultPlan:
        """The :class:`FaultPlan` the coordinator consults (the ``faults`` argument).

        Assign a new plan between operations to change what goes wrong next (``None`` clears
        it); counts of matches start afresh with the new plan.
        """
        return self.coordinator.faults

    @faults.setter
    def faults(self, plan: FaultPlan | None) -> None:
        if plan is not None and not isinstance(plan, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan or None, not {type(plan).__name__}")
        self.coordinator.faults = plan if plan is not None else FaultPlan()

    # ---------------------------------------------------------------------- providers
    def _register_provider(self, provider: Provider) -> None:
        if any(p.provider_id == provider.provider_id for p in self.providers):
            raise VssProviderAlreadyRegisteredError(
                f"a provider with id {{{provider.provider_id}}} is already registered")
        provider.on_load(self)
        self.providers.append(provider)
        self.tracer.emit("machine", provider.provider_name, EventKind.NOTE, "RegisterProvider",
                         f"{provider.provider_type.name} {{{provider.provider_id}}}")

    def add_provider(self, provider: _P) -> _P:
        """Register a provider (``IVssAdmin::RegisterProvider``) and load it."""
        self._check_open("add_provider")
        _expect_instance(provider, Provider, "add_provider")
        self._register_provider(provider)
        return provider

    def provider(self, provider_id: UUID) -> Provider:
        """The registered provider with that id (``VSS_E_PROVIDER_NOT_REGISTERED``)."""
        for p in self.providers:
            if p.provider_id == provider_id:
                return p
        raise VssProviderNotRegisteredError(f"no provider {{{provider_id}}} is registered")

    # ProviderHost
    @property
    def machine(self) -> VssSystem:
        return self

    def next_shadow_device_name(self) -> str:
        """``\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopyN`` with a fresh N."""
        self._device_counter += 1
        return f"\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{self._device_counter}"

    def hold_expired(self, snapshot_set_id: UUID) -> bool:
        """True once the kernel gave up holding the writes of that set."""
        return self.coordinator.hold_expired(snapshot_set_id)

    def log_event(self, source: str, message: str) -> None:
        """A provider writes an Application event log entry (the ``VSS_E_PROVIDER_VETO``
        contract, rule 32); writing it while volumes are frozen is a violation, noted."""
        self.tracer.emit(source, "event log", EventKind.NOTE, "EventLog", message)
        if self.scheduler.holding:
            self.tracer.emit("VSS", source, EventKind.NOTE, "EventLogWhileFrozen",
                             "providers must not log while the volumes are frozen")

    def state_directory(self, provider_id: UUID) -> str:
        """Where a provider keeps its state under the machine's root."""
        path = self._state_directories.get(provider_id)
        if path is None:  # (one per provider: providers ask at every save and load)
            path = self._state_directories[provider_id] = os.path.join(
                self._root_str, "providers", str(provider_id))
        make_dirs(path)  # made again if something removed it
        return path

    def allows_context(self, context: int) -> bool:
        """Whether this Windows edition/version can create shadow copies in ``context``."""
        if context == SnapshotContext.ALL:
            return True
        if self.os_version == "XP" and context != SnapshotContext.BACKUP:
            return False
        if self.edition == "client" and context & _A.TRANSPORTABLE:
            return False
        base = context & 0x1D
        return not (base == SnapshotContext.CLIENT_ACCESSIBLE_WRITERS
                    and self.os_version in ("2003", "2003R2", "XP"))

    def is_volume_supported(self, volume_name: str, provider_id: UUID, context: int) -> bool:
        """``IsVolumeSupported``: "ever", not "now" (rule 2)."""
        volume = self.resolve_volume(volume_name, strict=True)
        try:
            self.select_provider(volume, provider_id, context)
        except (VssVolumeNotSupportedError, VssVolumeNotSupportedByProviderError):
            return False
        return True

    def select_provider(self, volume: VolumeInfo, provider_id: UUID, context: int) -> Provider:
        """The provider for ``volume``: the one named, else hardware, software, system (§1.2)."""
        if provider_id != GUID_NULL:
            provider = self.provider(provider_id)
            if not provider.supports(volume, context):
                raise VssVolumeNotSupportedByProviderError(
                    f"{provider.provider_name} does not support {volume.name} in context "
                    f"0x{context:x}")
            return provider
        order = [ProviderType.HARDWARE, ProviderType.SOFTWARE, ProviderType.SYSTEM]
        for ptype in order:
            candidates = [p for p in self.providers
                          if p.provider_type == ptype and p.supports(volume, context)]
            if ptype == ProviderType.HARDWARE and self.options.hardware_tiebreak == "name":
                candidates.sort(key=lambda p: p.provider_name)
            if candidates:
                return candidates[0]
        raise VssVolumeNotSupportedError(
            f"no provider can shadow-copy {volume.name} in context 0x{context:x}")

    def check_snapshot_limit(self, volume: VolumeInfo, provider: Provider, context: int) -> None:
        """The per-volume limit, checked when a volume joins a set (rule 2, §4.5)."""
        if provider is not self.system_provider:
            return
        count = self.system_provider.count_on(volume)
        if count >= self.options.max_snapshots_per_volume:
            raise VssMaximumNumberOfSnapshotsReachedError(
                f"{volume.name} already has {count} shadow copies (the limit is "
                f"{self.options.max_snapshots_per_volume}); delete old ones first")

    # ------------------------------------------------------------------ snapshots
    def all_snapshots(self) -> list[SnapshotProperties]:
        """Every completed shadow copy of every provider (oldest first per provider)."""
        out: list[SnapshotProperties] = []
        for p in self.providers:
            out.extend(p.query())
        return out

    def snapshot_properties(self, snapshot_id: UUID) -> SnapshotProperties:
        """``VSS_SNAPSHOT_PROP`` of a completed shadow copy."""
        return self._owner(snapshot_id).get_snapshot_properties(snapshot_id)

    def snapshot_device(self, snapshot_id: UUID) -> Any:
        """The device through which a shadow copy is read (its ``fs`` is the old tree)."""
        return self._owner(snapshot_id).get_snapshot_device(snapshot_id)

    def member_fs(self, member: Any) -> Any:
        """The file system of a copy still being created (writers' PostSnapshot)."""
        device = member.provider.get_snapshot_device(member.snapshot_id)
        root = member.provider.device_object(member.snapshot_id) + "\\"
        if hasattr(device, "roots"):
            if root not in device.roots:
                device.roots = [root, *device.roots]
            return device.fs
        from vsssim.storage.simfs import SimFS

        return SimFS.mount(device, roots=[root], clock=self.clock)

    def shadow_fs(self, snapshot_id: UUID) -> Any:
        """The file system of a shadow copy, its paths rooted at the copy's device object
        (``\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopyN\\...``) as well as
        volume-relative."""
        provider = self._owner(snapshot_id)
        return self._mount_shadow(
            provider, snapshot_id,
            provider.get_snapshot_properties(snapshot_id).snapshot_device_object)

    def _mount_shadow(self, provider: Provider, snapshot_id: UUID, device_object: str) -> Any:
        """:meth:`shadow_fs` of a copy whose provider and device object the caller knows (a
        backup's snapshot set has both: no search through every provider's copies)."""
        device = provider.get_snapshot_device(snapshot_id)
        root = device_object + "\\"
        fs = getattr(device, "fs", None) if hasattr(device, "roots") else None
        if fs is not None:
            if root not in device.roots:  # type: ignore[attr-defined]
                device.roots = [root, *device.roots]  # type: ignore[attr-defined]
            return device.fs  # type: ignore[attr-defined]
        cached = self._shadow_mounts.get(snapshot_id)
        if cached is None:
            from vsssim.storage.simfs import SimFS

            cached = SimFS.mount(device, roots=[root], clock=self.clock)
            self._shadow_mounts[snapshot_id] = cached
        return cached

    def delete_snapshot(self, snapshot_id: UUID, force: bool = False) -> None:
        """Delete one completed shadow copy (an exposed one only with ``force``)."""
        provider = self._owner(snapshot_id)
        self.check_deletable(snapshot_id, force)
        try:
            self.coordinator.call_provider(provider, "DeleteSnapshots",
                                           lambda: provider.delete_snapshot(snapshot_id, force),
                                           detail=f"{{{snapshot_id}}}")
        except ProviderFailure as failure:
            raise error_for(failure.hresult, str(failure)) from None
        self.tracer.emit("VSS", provider.provider_name, EventKind.SNAPSHOT, "ShadowCopyDeleted",
                         f"{{{snapshot_id}}}", snapshot=str(snapshot_id))

    def snapshot_set_created(self, session: Session, ss: SnapshotSet) -> None:
        """Remember auto-release copies: they die with the requester object (rule 15)."""
        if not ss.context & _NO_AUTO_RELEASE:
            self._auto_release[session.session_id] = [m.snapshot_id for m in ss.members]

    def remember_auto_release(self, session: Session, snapshot_ids: list[UUID]) -> None:
        """Imported auto-release copies die with the importing requester object too."""
        self._auto_release.setdefault(session.session_id, []).extend(snapshot_ids)

    def revert_step(self, volume: VolumeInfo, max_blocks: int) -> bool:
        """Advance the revert of ``volume``; True when none is running any more."""
        for provider in self.providers:
            if provider.revert_in_progress(volume) is not None:
                done = provider.revert_step(volume, max_blocks)
                if done:
                    if self.options.copies_after_revert != "keep":
                        self.forget_lost_exposures()  # the revert deleted copies
                    for app in self.applications_on(volume):
                        if not app.running:
                            app.start()  # the volume is back: restart what was dismounted
                return done
        return True

    def finish_revert(self, volume: VolumeInfo) -> None:
        """Run the revert of ``volume`` to its end."""
        while not self.revert_step(volume, 4096):
            pass

    def release_auto_release(self, session: Session) -> None:
        """Delete the auto-release copies of a released requester object."""
        for snapshot_id in self._auto_release.pop(session.session_id, []):
            try:
                provider = self._owner(snapshot_id)
            except VssObjectNotFoundError:
                continue  # already deleted or purged
            provider.delete_snapshot(snapshot_id, True)
            self.tracer.emit("VSS", provider.provider_name, EventKind.SNAPSHOT,
                             "AutoReleaseDeleted",
                             f"{{{snapshot_id}}} deleted with its requester object",
                             snapshot=str(snapshot_id))

    def apply_storage_fault(self, fault: StorageFault) -> None:
        """A :class:`StorageFault`: limit a volume's diff area (oldest copies purged)."""
        volume = self.resolve_volume(fault.volume)
        self.tracer.emit("machine", volume.name, EventKind.FAULT, "StorageFault",
                         fault.describe())
        self.system_provider.set_association(volume, volume.name, fault.max_size,
                                             explicit=False)

    # ------------------------------------------------------------------- applications
    def add_application(self, app: _App) -> _App:
        """Add an application that keeps writing between and during events (deterministic)."""
        self._check_open("add_application")
        _expect_instance(app, Application, "add_application")
        app.clock = self.clock
        self.scheduler.apps.append(app)
        return app

    @property
    def applications(self) -> list[Application]:
        """The applications added to this machine."""
        return list(self.scheduler.apps)

    def run_applications(self, steps: int = 1) -> None:
        """Let every application run ``steps`` scheduling points (between backups)."""
        self._check_open("run_applications")
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"steps must be a non-negative int, not {steps!r}")
        for _ in range(steps):
            self.scheduler.activity("idle")

    def start_applications(self, interval: float = 0.0) -> None:
        """Run every application on its own real thread until :meth:`stop_applications`.

        Writes from these threads really wait during flush-and-hold (``Volume.held()``).
        """
        self._check_open("start_applications")
        sched = self.scheduler
        sched.stop.clear()

        def loop(app: Application, seed: int) -> None:
            import random
            import time

            rng = random.Random(seed)
            while not sched.stop.is_set():
                app.run(rng)
                if interval:
                    time.sleep(interval)

        for app in sched.apps:
            t = threading.Thread(target=loop, args=(app, self.ids.random().getrandbits(32)),
                                 name=f"app-{app.name}", daemon=True)
            sched.threads.append(t)
            t.start()

    def stop_applications(self) -> None:
        """Stop application threads started by :meth:`start_applications`."""
        sched = self.scheduler
        sched.stop.set()
        for t in sched.threads:
            t.join(timeout=10)
        sched.threads.clear()

    # Machine protocol for the coordinator
    def activity(self, point: str) -> None:
        """A scheduling point: applications may do some work now."""
        if self.scheduler.apps and not self.scheduler.threads:
            self.scheduler.activity(point)

    def set_holding(self, holding: bool) -> None:
        """The kernel holds (or releases) writes of the snapshot set's volumes."""
        self.scheduler.set_holding(holding)

    # ----------------------------------------------------------------------- requesters
    def create_backup_components(self, *, async_mode: AsyncMode | None = None
                                 ) -> BackupComponents:
        """``CreateVssBackupComponents``: a new requester object for one operation."""
        self._check_open("CreateVssBackupComponents")
        bc = BackupComponents(self, async_mode=async_mode or self.async_mode)
        self._requesters.add(bc)
        return bc

    # ------------------------------------------------------------------------- reboot
    def _unload_providers(self) -> None:
        """The service stops (a reboot or a shutdown): every provider is closed and unloaded."""
        for provider in self.providers:
            closer = getattr(provider, "close", None)
            if closer is not None:
                closer()
            if provider.on_unload(True) is not True:
                # OnUnload(TRUE) must answer S_OK (rule 30); VSS unloads it anyway.
                self.tracer.emit("VSS", provider.provider_name, EventKind.NOTE,
                                 "OnUnloadViolation",
                                 "OnUnload(force=True) must return True (S_OK)")

    def reboot(self) -> None:
        """Restart the simulated machine (in-process, like reopening ``root`` in a new one).

        Every process dies: requester objects become unusable (no BackupShutdown is sent),
        writers come back with new instance ids, applications reopen their files (recovering
        what they had in flight).  Non-persistent shadow copies are gone, auto-release and
        no-auto-release alike; persistent copies, their exposures, shadow storage settings and a
        revert in progress survive (the revert finishes during the boot).
        """
        self._check_open("reboot")
        self.tracer.emit("machine", "machine", EventKind.NOTE, "Reboot",
                         f"{self.machine_name} restarts")
        self.stop_applications()
        for bc in list(self._requesters):
            bc._machine_restarted()
        self._requesters = weakref.WeakSet()
        self._auto_release.clear()
        creating = self.coordinator.creating
        if creating is not None:
            self.coordinator.release_creation(creating)
        self._unload_providers()
        for ve in self._volumes.values():
            if hasattr(ve.volume, "flush"):
                ve.volume.flush()
        self.boot += 1
        for provider in self.providers:
            provider.on_load(self)
        self._attach_all()
        # Pending renames (MoveFileEx ... DELAY_UNTIL_REBOOT) run once volsnap is back: on a
        # volume with persistent shadow copies the renames are copied-on-write like any write.
        self._apply_pending_renames()
        for ve in self._volumes.values():
            fs = getattr(ve.volume, "_fs", None)
            if fs is not None:
                fs.refresh()
        for writer in self.writers:
            self.restart_writer(writer)
        for app in self.scheduler.apps:
            app.restart()
        self._save_machine_file()
        self.tracer.emit("machine", "machine", EventKind.NOTE, "Boot",
                         f"{self.machine_name}: Windows {self.os_version} {self.edition}, boot "
                         f"{self.boot}", boot=self.boot)

    def backup(
        self,
        volumes: Iterable[str] | None = None,
        *,
        backup_type: BackupType = BackupType.FULL,
        target_dir: str | os.PathLike[str] | None = None,
        context: int = SnapshotContext.BACKUP,
        components: Iterable[str] | None = None,
        exclude_writers: Iterable[str] = (),
        copy_files: bool = True,
        retries: int = 0,
        retry_wait: float = 600.0,
        partial_file_support: bool = False,
    ) -> BackupResult:
        """One call for the canonical backup sequence (reference B0..B19) plus the file copy.

        Selects every component of every writer with files on ``volumes`` (or the components
        named in ``components``, as ``"Writer Name"`` or ``"Writer Name:logical\\\\path\\\\name"``;
        a writer name no subscribed writer has, or a component its writer does not declare,
        raises ``VssObjectNotFoundError`` and backs up nothing),
        creates the shadow copies, copies the files from the shadow copies (never from the live
        volumes) into ``target_dir`` with the Backup Components Document and the writers'
        metadata, completes the backup and releases the requester.  See
        :class:`vsssim.backup.BackupResult`.

        ``retries`` (0 by default: one attempt, whose failures show as they are) is what backup
        tools do after a retryable writer error (``VSS_E_WRITERERROR_RETRYABLE``,
        ``..._OUTOFRESOURCES``, ``..._TIMEOUT``), a transient ``DoSnapshotSet`` error or
        ``VSS_E_SNAPSHOT_SET_IN_PROGRESS``: abort, release, wait ``retry_wait`` seconds on the
        system clock (the reference's ten minutes) and run the whole backup again, at most
        ``retries`` more times; reference §5 says three.

        ``partial_file_support`` (False by default, as ``SetBackupState``'s
        ``bPartialFileSupport``) is passed to ``SetBackupState``: only with it may writers call
        ``AddPartialFile`` (``IVssComponent``, in PrepareForBackup or PostSnapshot; without
        it the call fails with ``VSS_E_BAD_STATE``), and then only the byte ranges they list
        are copied, with the ranges file if they name one (reference §8.7).  In an
        incremental or differential backup, files a writer names with
        ``AddDifferencedFilesByLastModifyTime`` are copied only if modified at or after the
        time it gives (a zero time: always, the facade keeps no records of earlier backups;
        reference §8.6).  Both override the file sets' backup type masks.  A differenced
        file may lie outside the file sets; a partial file need not match a file set's file
        spec, but must lie at or under one of its component's file set paths.  A partial
        file outside those paths, a range beyond the end of its file or a ranges file that
        is not one fails that component
        (a writer error, in ``failed_components``).

        Python misuse is refused before anything runs: ``volumes`` must be a list of names
        (``TypeError`` for a single string, saying so), ``backup_type`` a
        :class:`~vsssim.BackupType` (``ValueError`` saying so, e.g. ``BackupType.FULL``).
        """
        self._check_open("backup")
        from vsssim.backup import run_backup

        return run_backup(self, volumes=volumes, backup_type=backup_type, target_dir=target_dir,
                          context=context, components=components,
                          exclude_writers=exclude_writers, copy_files=copy_files,
                          retries=retries, retry_wait=retry_wait,
                          partial_file_support=partial_file_support)

    def restore(
        self,
        source: BackupResult | str | os.PathLike[str],
        *,
        components: Iterable[str] | None = None,
        subcomponents: dict[str, list[str]] | None = None,
        new_targets: dict[str, str] | None = None,
        restore_options: dict[str, str] | None = None,
        additional_restores: bool = False,
        custom: Any = None,
    ) -> RestoreResult:
        """One call for the canonical restore of what :meth:`backup` wrote (reference R0..R9).

        ``source`` is a :class:`BackupResult` or a backup directory.  ``components`` limits the
        restore (``"Writer Name"``, a component path, that is its logical path and name, e.g.
        ``"Instances\\\\Sales"``, or ``"Writer Name:Instances\\\\Sales"``);
        ``subcomponents`` names members to restore alone (``{"Set": ["Set\\\\Member"]}``);
        ``restore_options`` gives a component its ``SetRestoreOptions`` string
        (``{"SQL Writer:Instances\\\\Sales": '"Roll Forward"="None"'}``).  The keys of both
        take the forms ``components`` takes, case-insensitively, but each must name exactly one
        component of the backup: a writer name only for a writer with one component, a bare
        path only if no other writer has that path (``ValueError`` naming the components it
        could mean otherwise; two keys for one component are a ``ValueError`` too, and so is,
        when ``components`` is given, a key for a component it does not select).
        ``additional_restores=True`` calls ``SetAdditionalRestores`` for every selected
        component (more restores follow: the writer must not run its final recovery yet);
        ``new_targets`` sends a file set (its path) to a new directory (writers with
        ``VSS_BS_WRITER_SUPPORTS_NEW_TARGET``); ``custom`` is the procedure for writers with the
        ``CUSTOM`` restore method.  Files go where the writers' restore methods and targets
        say; nothing is written outside those places.  A name in ``components``,
        ``subcomponents``, ``restore_options`` or ``new_targets`` that the backup does not hold
        is refused (``VSS_E_OBJECT_NOT_FOUND``, listing what it holds) before any VSS call.
        See :class:`vsssim.restore.RestoreResult`.
        """
        self._check_open("restore")
        from vsssim.restore import run_restore

        return run_restore(self, source, components=components, subcomponents=subcomponents,
                           new_targets=new_targets, restore_options=restore_options,
                           additional_restores=additional_restores, custom=custom)

    # ---------------------------------------------------------------------- misc
    def events(self) -> Iterator[str]:
        """The trace as text lines (handy in a REPL)."""
        yield from self.trace.to_text().splitlines()

    def identify(self) -> list[tuple[Writer, Any]]:
        """Gather every writer's metadata outside any backup (like ``vssadmin list writers``)."""
        self._check_open("identify")
        gathered = _drain(self.coordinator.identify(None, source="machine"))
        return [(reg.writer, wmd) for reg, wmd in gathered]  # type: ignore[attr-defined]
