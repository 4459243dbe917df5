"""The provider interface (``IVssSoftwareSnapshotProvider`` + ``IVssProviderCreateSnapshotSet``)
and :class:`SnapshotProvider`, a base class that does the bookkeeping so a provider is a few lines.

VSS drives every provider through the same sequence for a snapshot set (providers reference §2.2):
``BeginPrepareSnapshot`` once per volume, ``EndPrepareSnapshots``, ``PreCommitSnapshots``, then
``CommitSnapshots`` inside the kernel's flush-and-hold, ``PostCommitSnapshots``,
``PreFinalCommitSnapshots``, ``PostFinalCommitSnapshots``; ``AbortSnapshots`` if anything fails
after ``EndPrepareSnapshots``.  A provider reports failure by raising a
:class:`~vsssim.errors.VssError` (or by returning an ``int`` HRESULT, as a COM provider would);
the coordinator translates anything outside the documented list into
``VSS_E_UNEXPECTED_PROVIDER_ERROR`` (§2.5).

Writing your own software provider means subclassing :class:`SnapshotProvider` and implementing
three methods: ``supports_volume`` (can this volume *ever* be shadow-copied by you),
``create_device`` (make the point-in-time copy; runs inside the flush-and-hold, so keep it
short) and ``destroy_device``.  See ``examples/custom_provider.py``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from vsssim.clock import Clock, filetime
from vsssim.constants import (
    ProviderType,
    SnapshotContext,
    SnapshotPropertyId,
    SnapshotState,
    VolumeSnapshotAttributes,
)
from vsssim.documents import LunInfo, ProviderProperties, SnapshotDescription, SnapshotProperties
from vsssim.errors import (
    VssBadStateError,
    VssNotImplementedError,
    VssObjectNotFoundError,
    VssProviderVetoError,
    VssUnsupportedContextError,
)
from vsssim.storage.blockdev import BlockDevice
from vsssim.trace import EventKind, Tracer

__all__ = [
    "GUID_NULL",
    "Provider",
    "ProviderHost",
    "SnapshotProvider",
    "SnapshotRecord",
    "VolumeInfo",
]

GUID_NULL = UUID(int=0)
_A = VolumeSnapshotAttributes


@dataclass(frozen=True)
class VolumeInfo:
    """What a provider learns about a volume of the simulated machine.

    ``name`` is the mount name (``"C:\\"``), ``guid_path`` the volume GUID path
    (``"\\\\?\\Volume{...}\\"``), ``device`` the live volume, ``luns`` the LUNs behind it (for
    hardware providers).
    """

    name: str
    guid_path: str
    device: BlockDevice
    filesystem: str = "NTFS"
    luns: tuple[LunInfo, ...] = ()


class ProviderHost(Protocol):
    """What the simulated machine offers a provider when VSS loads it (``OnLoad``'s callback)."""

    @property
    def clock(self) -> Clock: ...
    @property
    def tracer(self) -> Tracer: ...
    @property
    def machine_name(self) -> str: ...

    def next_shadow_device_name(self) -> str:
        """``\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopyN`` with a fresh N."""
        ...

    def resolve_volume(self, name: str, *, strict: bool = False) -> VolumeInfo:
        """The volume with that name (any accepted form)."""
        ...

    def state_directory(self, provider_id: UUID) -> str:
        """A host directory where the provider may persist its own state."""
        ...

    def log_event(self, source: str, message: str) -> None:
        """Write an Application event log entry (never while volumes are frozen)."""
        ...

    def hold_expired(self, snapshot_set_id: UUID) -> bool:
        """True once the kernel gave up holding the writes of that set (10 s): a provider
        waiting inside ``CommitSnapshots`` should stop waiting and return."""
        ...


class Provider(ABC):
    """The interface VSS calls.  Identity attributes are ``VSS_PROVIDER_PROP``'s fields."""

    provider_id: UUID
    provider_name: str = ""
    provider_type: ProviderType = ProviderType.SOFTWARE
    provider_version: str = "1.0.0.0"
    provider_version_id: UUID = GUID_NULL
    class_id: UUID = GUID_NULL

    def properties(self) -> ProviderProperties:
        """``VSS_PROVIDER_PROP`` of this provider."""
        return ProviderProperties(
            provider_id=self.provider_id, provider_name=self.provider_name,
            provider_type=self.provider_type, provider_version=self.provider_version,
            provider_version_id=self.provider_version_id, class_id=self.class_id)

    # -- IVssProviderNotifications --------------------------------------------------------------
    def on_load(self, host: ProviderHost) -> None:  # noqa: B027 - optional hook
        """``OnLoad``: VSS loaded the provider on ``host``."""

    def on_unload(self, force: bool) -> bool:
        """``OnUnload``: True = ready to be released (must be True when ``force``)."""
        return True

    # -- selection --------------------------------------------------------------------------------
    @abstractmethod
    def is_volume_supported(self, volume: VolumeInfo) -> bool:
        """``IsVolumeSupported``: could this volume *ever* be shadow-copied by this provider?

        It stays True when the volume has reached its shadow copy limit (rule 2).
        """

    def supports_context(self, context: int) -> bool:
        """Whether this provider can create shadow copies in ``context`` (with modifiers)."""
        return True

    def supports(self, volume: VolumeInfo, context: int) -> bool:
        """Whether this provider can shadow-copy ``volume`` in ``context`` (selection, §1.2)."""
        return self.is_volume_supported(volume) and self.supports_context(context)

    # -- IVssSoftwareSnapshotProvider / IVssProviderCreateSnapshotSet ---------------------------
    @abstractmethod
    def begin_prepare_snapshot(self, snapshot_set_id: UUID, snapshot_id: UUID,
                               volume: VolumeInfo, context: int) -> None:
        """``BeginPrepareSnapshot``: one volume joins the set being created."""

    @abstractmethod
    def end_prepare_snapshots(self, snapshot_set_id: UUID) -> None:
        """``EndPrepareSnapshots``: rendezvous; every preparation must be finished."""

    @abstractmethod
    def pre_commit_snapshots(self, snapshot_set_id: UUID) -> None:
        """``PreCommitSnapshots``: applications are frozen; the hold comes next; be fast."""

    @abstractmethod
    def commit_snapshots(self, snapshot_set_id: UUID) -> None:
        """``CommitSnapshots``: make the copies, inside the flush-and-hold (≤ 10 s in total)."""

    @abstractmethod
    def post_commit_snapshots(self, snapshot_set_id: UUID, snapshots_count: int) -> None:
        """``PostCommitSnapshots``: writes are released; applications are not thawed yet."""

    def pre_final_commit_snapshots(self, snapshot_set_id: UUID) -> None:  # noqa: B027
        """``PreFinalCommitSnapshots``: after Thaw; writers may now auto-recover the copies."""

    def post_final_commit_snapshots(self, snapshot_set_id: UUID) -> None:  # noqa: B027
        """``PostFinalCommitSnapshots``: auto-recovery is over; make the copies read-only."""

    @abstractmethod
    def abort_snapshots(self, snapshot_set_id: UUID) -> None:
        """``AbortSnapshots``: drop everything of the set that is not committed."""

    # -- management ------------------------------------------------------------------------
    @abstractmethod
    def query(self) -> list[SnapshotProperties]:
        """``Query``: every completed shadow copy of this provider."""

    @abstractmethod
    def get_snapshot_properties(self, snapshot_id: UUID) -> SnapshotProperties:
        """``GetSnapshotProperties`` (``VSS_E_OBJECT_NOT_FOUND`` if unknown or not completed)."""

    def device_object(self, snapshot_id: UUID) -> str:
        """The device object name of a copy, available to VSS from ``CommitSnapshots`` on (the
        requester only sees it once the set is complete; writers get it in PostSnapshot)."""
        return self.get_snapshot_properties(snapshot_id).snapshot_device_object

    @abstractmethod
    def get_snapshot_device(self, snapshot_id: UUID) -> BlockDevice:
        """The device through which the shadow copy is read (``m_pwszSnapshotDeviceObject``)."""

    @abstractmethod
    def delete_snapshot(self, snapshot_id: UUID, force: bool) -> None:
        """Delete one completed shadow copy (VSS iterates sets itself, rule 16)."""

    @abstractmethod
    def set_snapshot_property(self, snapshot_id: UUID, property_id: SnapshotPropertyId,
                              value: str | int | None) -> None:
        """``SetSnapshotProperty``: VSS records exposure (name, path, attribute bits) here."""

    def revert_to_snapshot(self, snapshot_id: UUID) -> None:
        """``RevertToSnapshot``: ``E_NOTIMPL`` unless the provider supports revert."""
        raise VssNotImplementedError(f"{self.provider_name} cannot revert shadow copies")

    def revert_step(self, volume: VolumeInfo, max_blocks: int) -> bool:
        """Advance a running revert of ``volume``; True when it is finished (or none runs)."""
        return True

    def revert_in_progress(self, volume: VolumeInfo) -> UUID | None:
        """The shadow copy a revert of ``volume`` is going to, or None."""
        return None

    # -- hardware / transport (IVssHardwareSnapshotProvider) ----------------------------------
    def get_target_luns(self, snapshot_id: UUID) -> list[LunInfo]:
        """``GetTargetLuns``: the LUN information of the shadow copy's LUNs (hardware only).

        VSS calls it after ``PostFinalCommitSnapshots``; for a transportable set the result goes
        into the Backup Components Document with the original LUNs.
        """
        return []

    def import_snapshot(self, description: SnapshotDescription, snapshot_set_id: UUID,
                        snapshots_count: int, context: int, *,
                        originating_machine: str = "") -> bool:
        """Import one transportable shadow copy described in a BCD (``ImportSnapshots``,
        through ``LocateLuns`` / ``FillInLunInfo``).  True if its LUNs were found and the copy
        now exists on this machine with ``VSS_VOLSNAP_ATTR_IMPORTED``; False if not (the
        requester then gets ``VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED`` or
        ``VSS_E_NO_SNAPSHOTS_IMPORTED``).  ``originating_machine`` is the BCD's (the machine
        that made the copy)."""
        return False

    def break_snapshot(self, snapshot_id: UUID, make_writable: bool) -> BlockDevice:
        """``BreakSnapshotSet`` for one copy: software copies cannot be broken (PROVIDER_VETO)."""
        raise VssProviderVetoError(
            f"{self.provider_name} made a software shadow copy; only hardware shadow copies can "
            "be broken")


@dataclass
class SnapshotRecord:
    """A provider's bookkeeping for one shadow copy (the fields of ``VSS_SNAPSHOT_PROP``)."""

    snapshot_id: UUID
    snapshot_set_id: UUID
    volume: VolumeInfo
    context: int
    attributes: int
    state: SnapshotState = SnapshotState.PREPARING
    snapshots_count: int = 0
    device_object: str = ""
    creation_timestamp: int = 0
    exposed_name: str | None = None
    exposed_path: str | None = None
    originating_machine: str = ""
    service_machine: str = ""
    device: BlockDevice | None = field(default=None, repr=False)
    _properties: tuple[tuple[object, ...], SnapshotProperties] | None = field(
        default=None, init=False, repr=False, compare=False)

    def properties(self, provider_id: UUID) -> SnapshotProperties:
        """``VSS_SNAPSHOT_PROP`` of this copy."""
        fields = (self.snapshot_id, self.snapshot_set_id, self.snapshots_count,
                  self.device_object, self.volume.guid_path, self.originating_machine,
                  self.service_machine, self.exposed_name, self.exposed_path, provider_id,
                  self.attributes, self.creation_timestamp, self.state)
        # The record is frozen: the one built from the same facts last time serves again.
        cached = self._properties
        if cached is None or cached[0] != fields:
            cached = self._properties = (fields, SnapshotProperties(
                snapshot_id=fields[0], snapshot_set_id=fields[1], snapshots_count=fields[2],
                snapshot_device_object=fields[3], original_volume_name=fields[4],
                originating_machine=fields[5], service_machine=fields[6],
                exposed_name=fields[7], exposed_path=fields[8], provider_id=fields[9],
                snapshot_attributes=fields[10], creation_timestamp=fields[11],
                status=fields[12]))
        return cached[1]


class SnapshotProvider(Provider):
    """A provider with the bookkeeping done: subclass it and implement the mechanism.

    Implement :meth:`supports_volume`, :meth:`create_device` and :meth:`destroy_device`;
    optionally :meth:`mechanism_attributes` (``DIFFERENTIAL`` or ``PLEX``) and
    :meth:`supports_context`.  States follow the sample provider's bookkeeping: PREPARING ->
    PREPARED -> PRECOMMITTED -> COMMITTED -> POSTCOMMITTED -> PREFINALCOMMITTED -> CREATED, or
    ABORTED.  Phase methods called in the wrong state or for another set are answered with
    ``VSS_E_PROVIDER_VETO``, as the SDK sample does.
    """

    def __init__(self) -> None:
        self._host: ProviderHost | None = None
        self._records: dict[UUID, SnapshotRecord] = {}
        self._current_set: UUID | None = None
        self._lock = threading.RLock()

    # -- to implement ------------------------------------------------------------------------------
    @abstractmethod
    def supports_volume(self, volume: VolumeInfo) -> bool:
        """Could this provider ever shadow-copy ``volume``?"""

    @abstractmethod
    def create_device(self, record: SnapshotRecord) -> BlockDevice:
        """Make the point-in-time copy of ``record.volume`` and return a device to read it.

        Runs inside ``CommitSnapshots``, with writes to the volume held: it must be quick and
        must not write to the volume.
        """

    @abstractmethod
    def destroy_device(self, record: SnapshotRecord) -> None:
        """Free the copy (deletion, abort after commit, auto-release)."""

    def mechanism_attributes(self) -> int:
        """Attribute bits this provider's mechanism adds (``DIFFERENTIAL`` or ``PLEX``)."""
        return int(_A.DIFFERENTIAL)

    # -- plumbing ----------------------------------------------------------------------------------
    @property
    def host(self) -> ProviderHost:
        """The machine that loaded this provider."""
        if self._host is None:
            raise VssBadStateError(f"provider {self.provider_name} is not loaded",
                                   state="unloaded", call="host")
        return self._host

    def on_load(self, host: ProviderHost) -> None:
        self._host = host

    def on_unload(self, force: bool) -> bool:
        """``OnUnload``: let go of the machine until the next ``OnLoad``."""
        self._host = None
        return True

    def _trace(self, name: str, detail: str = "", **data: str | int | None) -> None:
        if self._host is not None:
            self._host.tracer.emit(self.provider_name, self.provider_name, EventKind.SNAPSHOT,
                                   name, detail, **data)

    def is_volume_supported(self, volume: VolumeInfo) -> bool:
        return self.supports_volume(volume)

    def _set_records(self, snapshot_set_id: UUID, api: str,
                     states: tuple[SnapshotState, ...]) -> list[SnapshotRecord]:
        # (``is`` before ``==``: the coordinator passes the very UUID object the provider
        # stored, and ``UUID.__eq__`` is Python code; this runs at every creation phase)
        with self._lock:
            current = self._current_set
            if current is not snapshot_set_id and current != snapshot_set_id:
                raise VssProviderVetoError(
                    f"{api} for set {snapshot_set_id}, but the set being created is "
                    f"{self._current_set}")
            recs = []
            for r in self._records.values():
                set_id = r.snapshot_set_id
                if set_id is snapshot_set_id or set_id == snapshot_set_id:
                    if r.state not in states:
                        raise VssProviderVetoError(
                            f"{api} called with shadow copy {r.snapshot_id} in state "
                            f"{r.state.name}")
                    recs.append(r)
            return recs

    def _advance(self, snapshot_set_id: UUID, api: str, frm: tuple[SnapshotState, ...],
                 to: SnapshotState, action: Callable[[SnapshotRecord], None] | None = None
                 ) -> None:
        for rec in self._set_records(snapshot_set_id, api, frm):
            if action is not None:
                action(rec)
            rec.state = to

    def begin_prepare_snapshot(self, snapshot_set_id: UUID, snapshot_id: UUID,
                               volume: VolumeInfo, context: int) -> None:
        with self._lock:
            if not self.supports_context(context):
                raise VssUnsupportedContextError(
                    f"{self.provider_name} does not support context 0x{context:x}")
            if self._current_set is not None and self._current_set != snapshot_set_id:
                # An earlier creation died silently (abort before EndPrepare sends nothing,
                # providers reference §2.4): a new set restarts the sequence.
                self._discard_set(self._current_set)
            self._current_set = snapshot_set_id
            attributes = (context & 0xFFFFFFFF) | self.mechanism_attributes()
            if context == SnapshotContext.ALL:
                raise VssUnsupportedContextError("VSS_CTX_ALL cannot create shadow copies")
            machine = self.host.machine_name
            self._records[snapshot_id] = SnapshotRecord(
                snapshot_id=snapshot_id, snapshot_set_id=snapshot_set_id, volume=volume,
                context=context, attributes=attributes, originating_machine=machine,
                service_machine=machine)

    def end_prepare_snapshots(self, snapshot_set_id: UUID) -> None:
        self._advance(snapshot_set_id, "EndPrepareSnapshots", (SnapshotState.PREPARING,),
                      SnapshotState.PREPARED)

    def pre_commit_snapshots(self, snapshot_set_id: UUID) -> None:
        self._advance(snapshot_set_id, "PreCommitSnapshots", (SnapshotState.PREPARED,),
                      SnapshotState.PRECOMMITTED)

    def commit_snapshots(self, snapshot_set_id: UUID) -> None:
        def commit(rec: SnapshotRecord) -> None:
            rec.device = self.create_device(rec)
            host = self.host
            rec.creation_timestamp = filetime(host.clock.datetime())
            rec.device_object = host.next_shadow_device_name()

        self._advance(snapshot_set_id, "CommitSnapshots", (SnapshotState.PRECOMMITTED,),
                      SnapshotState.COMMITTED, commit)

    def post_commit_snapshots(self, snapshot_set_id: UUID, snapshots_count: int) -> None:
        def count(rec: SnapshotRecord) -> None:
            rec.snapshots_count = snapshots_count

        self._advance(snapshot_set_id, "PostCommitSnapshots", (SnapshotState.COMMITTED,),
                      SnapshotState.POSTCOMMITTED, count)

    def pre_final_commit_snapshots(self, snapshot_set_id: UUID) -> None:
        self._advance(snapshot_set_id, "PreFinalCommitSnapshots",
                      (SnapshotState.POSTCOMMITTED,), SnapshotState.PREFINALCOMMITTED)

    def post_final_commit_snapshots(self, snapshot_set_id: UUID) -> None:
        self._advance(snapshot_set_id, "PostFinalCommitSnapshots",
                      (SnapshotState.PREFINALCOMMITTED,), SnapshotState.CREATED,
                      self.finalize)
        with self._lock:
            self._current_set = None

    def finalize(self, record: SnapshotRecord) -> None:
        """Hook: the copy is complete (make it read-only, persist it)."""

    def abort_snapshots(self, snapshot_set_id: UUID) -> None:
        with self._lock:
            if self._current_set == snapshot_set_id:
                self._discard_set(snapshot_set_id)
                self._current_set = None

    def _discard_set(self, snapshot_set_id: UUID) -> None:
        for rec in [r for r in self._records.values() if r.snapshot_set_id == snapshot_set_id]:
            if rec.state == SnapshotState.CREATED:
                continue  # the sample provider ignores aborts of finished sets
            if rec.device is not None:
                self.destroy_device(rec)
                rec.device = None
            rec.state = SnapshotState.ABORTED
            del self._records[rec.snapshot_id]

    # -- management ------------------------------------------------------------------------
    def _created(self, snapshot_id: UUID) -> SnapshotRecord:
        rec = self._records.get(snapshot_id)
        if rec is None or rec.state != SnapshotState.CREATED:
            raise VssObjectNotFoundError(
                f"no completed shadow copy {{{snapshot_id}}} in {self.provider_name}")
        return rec

    def records(self) -> list[SnapshotRecord]:
        """Completed shadow copies, oldest first."""
        with self._lock:
            return [r for r in self._records.values() if r.state == SnapshotState.CREATED]

    def query(self) -> list[SnapshotProperties]:
        return [r.properties(self.provider_id) for r in self.records()]

    def get_snapshot_properties(self, snapshot_id: UUID) -> SnapshotProperties:
        with self._lock:
            return self._created(snapshot_id).properties(self.provider_id)

    def device_object(self, snapshot_id: UUID) -> str:
        with self._lock:
            rec = self._records.get(snapshot_id)
            if rec is None or not rec.device_object:
                raise VssObjectNotFoundError(f"shadow copy {{{snapshot_id}}} is not committed")
            return rec.device_object

    def get_snapshot_device(self, snapshot_id: UUID) -> BlockDevice:
        with self._lock:
            rec = self._records.get(snapshot_id)
            if rec is None or rec.device is None:
                raise VssObjectNotFoundError(f"no shadow copy {{{snapshot_id}}}")
            return rec.device

    def delete_snapshot(self, snapshot_id: UUID, force: bool) -> None:
        with self._lock:
            rec = self._created(snapshot_id)
            if rec.device is not None:
                self.destroy_device(rec)
                rec.device = None
            rec.state = SnapshotState.DELETED
            del self._records[snapshot_id]

    def set_snapshot_property(self, snapshot_id: UUID, property_id: SnapshotPropertyId,
                              value: str | int | None) -> None:
        with self._lock:
            rec = self._created(snapshot_id)
            if property_id == SnapshotPropertyId.EXPOSED_NAME:
                rec.exposed_name = None if value is None else str(value)
            elif property_id == SnapshotPropertyId.EXPOSED_PATH:
                rec.exposed_path = None if value is None else str(value)
            elif property_id == SnapshotPropertyId.SNAPSHOT_ATTRIBUTES:
                rec.attributes = int(value or 0)
            else:
                raise VssBadStateError(
                    f"property {property_id.name} cannot be changed",
                    state="CREATED", call="SetSnapshotProperty")
            self.record_changed(rec)

    def record_changed(self, record: SnapshotRecord) -> None:
        """Hook: a completed record changed (persist it)."""

    def adopt_record(self, record: SnapshotRecord) -> None:
        """Add a completed shadow copy that did not come from this machine's creation sequence
        (an imported transportable copy).  It must already have its device."""
        with self._lock:
            if record.snapshot_id in self._records:
                raise VssBadStateError(f"shadow copy {{{record.snapshot_id}}} already exists",
                                       state="CREATED", call="ImportSnapshots")
            record.state = SnapshotState.CREATED
            self._records[record.snapshot_id] = record
        self.record_changed(record)

    def forget_record(self, snapshot_id: UUID) -> SnapshotRecord:
        """Remove a completed copy from the catalog without destroying its device (a break:
        VSS forgets the copy, its LUN lives on as an ordinary volume)."""
        with self._lock:
            rec = self._created(snapshot_id)
            del self._records[snapshot_id]
            return rec
