"""The VSS service: writer registry, event dispatch, writer status, snapshot-set creation.

Requester calls (:mod:`vsssim.requester`) come in here; the coordinator fans events out to writers,
drives providers through the creation sequence, holds and releases volume writes, runs the
timeouts on the clock, and reports everything to the trace.  It holds no threads of its own and
no randomness other than the seeded per-system generator: the same seed and inputs give the same
trace (style rule 4).

Writer events are delivered one writer at a time, in an order that depends only on the seed
(:attr:`VssOptions.delivery`); Freeze goes front-end, back-end, system writers (rule 9).  Which
writers receive an event, and what state they move to, is decided by the tables of
:mod:`vsssim._state`; the policy choices the documentation leaves open are in
:class:`~vsssim.options.VssOptions`.

Long operations (``PrepareForBackup``, ``DoSnapshotSet``, ``BackupComplete``, restores) are
generators that yield a short description at every step, so an ``Async`` can run them at once,
step by step (for teaching and race tests), or on a background thread while the requester polls.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import traceback
from collections.abc import Callable, Generator, Iterable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar
from uuid import UUID

from vsssim import hresult as hr
from vsssim._state import (
    WRITER_NEXT,
    WRITER_NEXT_ABORT_KEEPS_STATE,
    WRITER_RECEIVES,
    Outcome,
    WriterEvent,
    next_writer_state,
    writer_accepts,
)
from vsssim.clock import Clock, Timer
from vsssim.components import ComponentScope, WriterComponents
from vsssim.constants import (
    ApplicationLevel,
    BackupSchema,
    BackupType,
    ComponentFlags,
    ProviderType,
    RestoreType,
    SnapshotContext,
    VolumeSnapshotAttributes,
    WriterRestore,
    WriterState,
)
from vsssim.documents import (
    BackupComponentsDocument,
    BcdComponent,
    LunInfo,
    WriterIdentity,
    WriterMetadata,
    WriterMetadataBuilder,
    WriterStatus,
)
from vsssim.errors import (
    VssBadStateError,
    VssError,
    VssInvalidArgumentError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
    VssSnapshotSetInProgressError,
    VssWriterAlreadySubscribedError,
)
from vsssim.faults import FaultPlan, InjectedFault, RequesterCrash, WriterFault
from vsssim.options import VssOptions
from vsssim.providers.base import GUID_NULL, Provider, VolumeInfo
from vsssim.trace import EventKind, Tracer
from vsssim.writer import HandlerContext, Writer, WriterFailure

if TYPE_CHECKING:
    from vsssim.storage.simfs import SimFS

__all__ = [
    "Coordinator",
    "IdSource",
    "Machine",
    "Participant",
    "ProviderFailure",
    "Session",
    "SetMember",
    "SnapshotSet",
    "WriterRegistration",
]

VSS = "VSS"
#: Writer handlers that raise are logged here (with their traceback) on ``vsssim.coordinator``;
#: a library adds no handler but a NullHandler (configure ``logging`` to see the records).
_log = logging.getLogger(__name__)
logging.getLogger("vsssim").addHandler(logging.NullHandler())
_A = VolumeSnapshotAttributes
_NO_WRITERS: Final = int(_A.NO_WRITERS)
_CONTEXT_ALL: Final = int(SnapshotContext.ALL)
_E = WriterEvent
# Names as plain strings, read once: ``.value`` / ``.name`` / ``is_failed`` of an enum member
# are Python-level properties, and the delivery loop would read them several times per event.
_EVENT_NAMES: Final = {e: e.value for e in WriterEvent}
_STATE_NAMES: Final = {s: s.name for s in WriterState}
_FAILED_STATES: Final = frozenset(s for s in WriterState if s.is_failed)
_STABLE: Final = WriterState.STABLE

#: What a provider may return (providers reference §2.5); anything else is translated.
PROVIDER_ALLOWED = frozenset({
    hr.S_OK, hr.E_OUTOFMEMORY, hr.E_INVALIDARG, hr.E_ACCESSDENIED, hr.VSS_E_BAD_STATE,
    hr.VSS_E_OBJECT_NOT_FOUND, hr.VSS_E_INSUFFICIENT_STORAGE, hr.VSS_E_VOLUME_NOT_SUPPORTED,
    hr.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER, hr.VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED,
    hr.VSS_E_PROVIDER_VETO, hr.VSS_E_CANNOT_REVERT_DISKID, hr.VSS_E_UNSUPPORTED_CONTEXT,
    hr.VSS_E_NESTED_VOLUME_LIMIT, hr.VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED,
    hr.VSS_E_REVERT_IN_PROGRESS, hr.VSS_E_UNEXPECTED,
})
#: Methods whose return VSS does not translate (§2.5).
UNTRANSLATED = frozenset({"AbortSnapshots", "OnUnload"})

# Which backup types need which schema bit; a writer without it treats the backup as FULL.
# (Plain ints, here and below: ``&`` between flag members runs Python code in the enum module.)
_SCHEMA_FOR_TYPE: dict[BackupType, int] = {
    BackupType.INCREMENTAL: int(BackupSchema.INCREMENTAL),
    BackupType.DIFFERENTIAL: int(BackupSchema.DIFFERENTIAL),
    BackupType.LOG: int(BackupSchema.LOG),
    BackupType.COPY: int(BackupSchema.COPY),
}
_NO_AUTORECOVERY: Final = int(_A.NO_AUTORECOVERY)
_ROLLBACK_RECOVERY: Final = int(_A.ROLLBACK_RECOVERY)
_PERSISTENT: Final = int(_A.PERSISTENT)
_APP_ROLLBACK_RECOVERY: Final = int(ComponentFlags.APP_ROLLBACK_RECOVERY)
_BACKUP_RECOVERY: Final = int(ComponentFlags.BACKUP_RECOVERY)


class IdSource:
    """GUIDs from the system's seed: the same seed gives the same ids, run after run."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def uuid(self) -> UUID:
        """A new version-4 UUID drawn from the seeded generator."""
        with self._lock:
            return UUID(int=self._rng.getrandbits(128), version=4)

    def random(self) -> random.Random:
        """A child generator (for shuffles and application scheduling)."""
        with self._lock:
            return random.Random(self._rng.getrandbits(64))


class Machine(Protocol):
    """What the coordinator needs from the simulated machine (implemented by ``VssSystem``)."""

    def resolve_volume(self, name: str) -> VolumeInfo: ...

    def volume_of_path(self, path: str) -> VolumeInfo | None: ...

    def member_fs(self, member: SetMember) -> SimFS:
        """The file system of a snapshot set member's copy (also while it is being created)."""
        ...

    def activity(self, point: str) -> None:
        """Applications may do some work now (deterministic scheduling points)."""
        ...

    def set_holding(self, holding: bool) -> None:
        """The kernel starts/stops holding writes (applications defer their writes)."""
        ...


class _ShutDown:
    """The machine of a coordinator whose machine was closed: every call is refused."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probe for optional hooks
            raise AttributeError(name)
        raise VssBadStateError("the machine is closed", state="closed", call=name)


class ProviderFailure(Exception):
    """A provider call failed with ``hresult`` (already translated per §2.5)."""

    def __init__(self, hresult: int, method: str, provider: str) -> None:
        super().__init__(f"{provider}.{method} failed with {hr.name_of(hresult)}")
        self.hresult = hresult
        self.method = method
        self.provider = provider


class _Abort(Exception):
    def __init__(self, hresult: int, reason: str) -> None:
        super().__init__(reason)
        self.hresult = hresult
        self.reason = reason


class RequesterCrashed(Exception):
    """The requester process died (a :class:`~vsssim.faults.RequesterCrash` fault)."""


@dataclass(eq=False)
class WriterRegistration:
    """A subscribed writer instance (``CVssWriter::Initialize`` + ``Subscribe``)."""

    writer: Writer
    instance_id: UUID
    order: int
    clock: Clock
    last_state: WriterState = WriterState.STABLE
    last_failure: WriterFailure | None = None
    subscribed: bool = True
    #: The document of its answer to the last Identify, None if that Identify failed (or none
    #: was sent yet): what a monitor can check without sending one more.
    last_metadata: WriterMetadata | None = field(default=None, repr=False)
    # (the writer's identifying attributes, the WriterIdentity built from them)
    _identity: tuple[tuple[object, ...], WriterIdentity] | None = field(
        default=None, init=False, repr=False)
    # (the identity, an empty document of it): see blank_metadata
    _blank: tuple[WriterIdentity, WriterMetadata] | None = field(
        default=None, init=False, repr=False)
    # (the attributes the names come from, the names): built again only when they change
    _names: tuple[tuple[object, ...], tuple[str, ...]] | None = field(
        default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        """The writer name (``wszWriterName``)."""
        return self.writer.writer_name

    @property
    def label(self) -> str:
        """How the trace names this instance: the writer name, plus the instance name if any."""
        inst = self.writer.instance_name
        return f"{self.writer.writer_name} ({inst})" if inst else self.writer.writer_name

    @property
    def writer_id(self) -> UUID:
        """The writer class id."""
        return self.writer.writer_id

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a fault or a filter may use for this instance."""
        w = self.writer
        key = (w.writer_name, w.instance_name, w.writer_id, self.instance_id)
        cached = self._names
        if cached is None or cached[0] != key:
            names = tuple(n for n in (w.writer_name, w.instance_name, self.label,
                                      str(self.instance_id), str(w.writer_id)) if n)
            cached = self._names = (key, names)
        return cached[1]

    def blank_metadata(self) -> WriterMetadata:
        """An empty document of this instance's identity: the stand-in metadata while it
        answers Identify (read-only there; built again only when the identity changes)."""
        identity = self.identity()
        if self._blank is None or self._blank[0] is not identity:
            from vsssim.documents._fields import trusted

            # (what WriterMetadata(identity=identity) makes, without validating it again)
            self._blank = (identity, trusted(WriterMetadata, {"identity": identity}))
        return self._blank[1]

    def identity(self) -> WriterIdentity:
        """The identification part of its metadata (a frozen model, built again only when
        the writer's attributes change)."""
        w = self.writer
        key = (w.writer_id, w.writer_name, w.instance_name, w.usage_type, w.source_type,
               tuple(w.version))
        if self._identity is None or self._identity[0] != key:
            self._identity = (key, WriterIdentity(
                writer_id=w.writer_id, instance_id=self.instance_id, writer_name=w.writer_name,
                instance_name=w.instance_name, usage_type=w.usage_type,
                source_type=w.source_type, version_major=w.version[0],
                version_minor=w.version[1]))
        return self._identity[1]


@dataclass(eq=False)
class Participant:
    """One writer in one session: its gathered metadata and its per-session status."""

    reg: WriterRegistration
    metadata: WriterMetadata
    session_id: UUID | None = None
    state: WriterState | None = None  # None: no event of this session yet
    failure: WriterFailure | None = None
    received: list[WriterEvent] = field(default_factory=list)
    prepared: bool = False
    post_snapshot_done: bool = False
    timed_out: bool = False
    freeze_timer: Timer | None = None
    frozen_at: float | None = None
    thawed_at: float | None = None
    # (the facts of its last GetWriterStatus record, that record)
    _status: tuple[tuple[object, ...], WriterStatus] | None = field(
        default=None, init=False, repr=False)
    # (session_id, its text): the trace names the session at every state change.
    _session_text: tuple[UUID | None, str | None] = field(
        default=(None, None), init=False, repr=False)

    @property
    def session_key(self) -> str | None:
        """``str(session_id)`` (None without a session), computed once per session id."""
        sid = self.session_id
        cached = self._session_text
        if cached[0] is not sid:
            cached = self._session_text = (sid, str(sid) if sid else None)
        return cached[1]

    @property
    def current(self) -> WriterState:
        """The state the tables work from (a writer new to the session counts as STABLE)."""
        return self.state if self.state is not None else WriterState.STABLE

    @property
    def freeze_window(self) -> float | None:
        """Seconds from the Freeze event to the Thaw event, if both happened (their times in
        the trace; the Thaw handler's own time is not in the window)."""
        if self.frozen_at is None or self.thawed_at is None:
            return None
        return self.thawed_at - self.frozen_at


@dataclass(eq=False)
class SetMember:
    """One volume of a snapshot set and the provider chosen for it."""

    snapshot_id: UUID
    volume: VolumeInfo
    provider: Provider
    target_luns: list[LunInfo] = field(default_factory=list)


@dataclass(eq=False)
class SnapshotSet:
    """The shadow copy set a session is creating (``StartSnapshotSet`` .. ``DoSnapshotSet``)."""

    set_id: UUID
    context: int
    members: list[SetMember] = field(default_factory=list)
    fixed: bool = False  # DoSnapshotSet was called: no volume may join any more
    created: bool = False
    end_prepared: list[Provider] = field(default_factory=list)
    begun: set[UUID] = field(default_factory=set)  # snapshot ids that got BeginPrepareSnapshot
    hold_started: float | None = None
    hold_released: float | None = None
    hold_expired: bool = False
    hold_thread: int | None = None

    @property
    def providers(self) -> list[Provider]:
        """Providers of the set, in the order they were first used (§1.3 default)."""
        seen: dict[UUID, Provider] = {}
        for m in self.members:
            seen.setdefault(m.provider.provider_id, m.provider)
        return list(seen.values())

    @property
    def hold_time(self) -> float | None:
        """Seconds the volumes' writes were held."""
        if self.hold_started is None or self.hold_released is None:
            return None
        return self.hold_released - self.hold_started

    def member(self, volume: str) -> SetMember:
        """The member for ``volume`` (name or GUID path, case-insensitive)."""
        key = volume.lower()
        for m in self.members:
            if key in (m.volume.name.lower(), m.volume.guid_path.lower()):
                return m
        raise VssObjectNotFoundError(f"volume {volume!r} is not in the snapshot set")


class Session:
    """The coordinator's side of one ``IVssBackupComponents`` object (backup or restore)."""

    def __init__(self, session_id: UUID, *, restore: bool, bcd: BackupComponentsDocument,
                 coordinator: Coordinator) -> None:
        self.session_id = session_id
        self.restore = restore
        self.bcd = bcd
        self.coordinator = coordinator
        #: True for contexts with ``NO_WRITERS`` (no writer events at all, rule 23); kept by
        #: the ``context`` setter, since the requester asks before every call.
        self.writerless = False
        self.context = int(SnapshotContext.BACKUP)
        self.participants: dict[UUID, Participant] = {}
        self.gathered = False
        self.snapshot_set: SnapshotSet | None = None
        self.enabled_classes: set[UUID] | None = None
        self.disabled_classes: set[UUID] = set()
        self.disabled_instances: set[UUID] = set()
        self.abort_requested: _Abort | None = None
        self.crash: RequesterCrash | None = None  # the fault that killed the requester
        self.released = False
        self.took_part_in_backup = False
        self.views: list[ComponentScope] = []
        #: The exceptions writer handlers raised in this session, in order (each recorded as
        #: that writer's failure; see ``Coordinator._handler_raised``).
        self.handler_exceptions: list[Exception] = []

    # -- SessionInfo (the parts shared by every writer) ---------------------------------------
    @property
    def context(self) -> int:
        """The snapshot context (``VSS_CTX_*`` bits)."""
        return self._context

    @context.setter
    def context(self, context: int) -> None:
        self._context = context
        # Plain ints: flag arithmetic on the enum builds a new member each time.
        bits = int(context)
        self.writerless = bool(bits & _NO_WRITERS) and bits != _CONTEXT_ALL

    @property
    def component_mode(self) -> bool:
        return self.bcd.select_components

    @property
    def snapshot_set_id(self) -> UUID:
        return self.snapshot_set.set_id if self.snapshot_set else GUID_NULL

    @property
    def volume_names(self) -> list[str]:
        return [m.volume.name for m in self.snapshot_set.members] if self.snapshot_set else []

    def is_enabled(self, reg: WriterRegistration) -> bool:
        """Enable/Disable writer classes and instances (reference §2 B4)."""
        if reg.instance_id in self.disabled_instances:
            return False
        if self.enabled_classes is not None:
            return reg.writer_id in self.enabled_classes
        return reg.writer_id not in self.disabled_classes

    def invalidate_views(self) -> None:
        """Every requester-held component view dies at an event-generating call (rule 25)."""
        for scope in self.views:
            scope.alive = False
        self.views.clear()


class _WriterSessionView:
    """The :class:`~vsssim.writer.SessionInfo` one writer sees (its backup type, its volumes)."""

    def __init__(self, session: Session, participant: Participant) -> None:
        self._s = session
        self._p = participant

    @property
    def session_id(self) -> UUID:
        return self._s.session_id

    @property
    def restore(self) -> bool:
        return self._s.restore

    @property
    def context(self) -> int:
        return self._s.context

    @property
    def backup_type(self) -> BackupType:
        return effective_backup_type(self._s.bcd.backup_type, self._p.metadata.backup_schema)

    @property
    def restore_type(self) -> RestoreType:
        return self._s.bcd.restore_type

    @property
    def component_mode(self) -> bool:
        return self._s.bcd.select_components

    @property
    def bootable_system_state(self) -> bool:
        return self._s.bcd.bootable_system_state

    @property
    def partial_file_support(self) -> bool:
        return self._s.bcd.partial_file_support

    @property
    def snapshot_set_id(self) -> UUID:
        return self._s.snapshot_set_id

    @property
    def volume_names(self) -> list[str]:
        return self._s.volume_names

    def snapshot_device_name(self, volume: str) -> str:
        ss = self._s.snapshot_set
        if ss is None:
            raise VssObjectNotFoundError("there is no snapshot set")
        member = ss.member(self._s.coordinator.machine.resolve_volume(volume).name)
        return member.provider.device_object(member.snapshot_id)

    def snapshot_fs(self, volume: str) -> SimFS:
        ss = self._s.snapshot_set
        if ss is None:
            raise VssObjectNotFoundError("there is no snapshot set")
        member = ss.member(self._s.coordinator.machine.resolve_volume(volume).name)
        return self._s.coordinator.machine.member_fs(member)

    def path_affected(self, path: str) -> bool:
        vol = self._s.coordinator.machine.volume_of_path(path)
        if vol is None or self._s.snapshot_set is None:
            return False
        return any(m.volume.guid_path == vol.guid_path for m in self._s.snapshot_set.members)


def effective_backup_type(requested: BackupType, schema: BackupSchema) -> BackupType:
    """The backup type a writer works with: unsupported types degrade to FULL (rule 32)."""
    needed = _SCHEMA_FOR_TYPE.get(requested)
    if needed is not None and not int(schema) & needed:
        return BackupType.FULL
    return requested


@dataclass
class _Reply:
    participant: Participant
    outcome: Outcome
    vetoed: bool


_R = TypeVar("_R", WriterRegistration, Participant)
# Registration order and the writer, of a registration or of a participant (C key functions:
# no frame per writer).
_BY_ORDER: Callable[[Any], int] = attrgetter("order")
_REG_WRITER: Callable[[Any], Writer] = attrgetter("writer")
_P_ORDER: Callable[[Any], int] = attrgetter("reg.order")
_P_WRITER: Callable[[Any], Writer] = attrgetter("reg.writer")
_SUBSCRIBED: Callable[[WriterRegistration], bool] = attrgetter("subscribed")
_LEVEL_ORDER = {ApplicationLevel.FRONT_END: 0, ApplicationLevel.BACK_END: 1,
                ApplicationLevel.SYSTEM: 2, ApplicationLevel.SYSTEM_RM: 3}
# VssOptions.system_rm_writers == "with_system": SYSTEM_RM writers freeze among the system ones.
_LEVEL_ORDER_RM_AS_SYSTEM = {**_LEVEL_ORDER, ApplicationLevel.SYSTEM_RM: 2}


class Coordinator:
    """The simulated VSS service of one machine."""

    def __init__(self, *, clock: Clock, tracer: Tracer, ids: IdSource, options: VssOptions,
                 machine: Machine, faults: FaultPlan | None = None) -> None:
        self.clock = clock
        self.tracer = tracer
        # Every event goes through ``tracer.emit`` (bound once: no wrapper frame per event);
        # the per-event ones hand it their data as (key, value) pairs (no keyword dict).
        self._trace = tracer.emit
        self._trace_data = tracer._emit_data
        self.ids = ids
        self.options = options
        self.machine = machine
        self.faults = faults if faults is not None else FaultPlan()
        self.providers: list[Provider] = []
        self._writers: list[WriterRegistration] = []
        self._order = 0
        self._creating: Session | None = None
        self._shuffle = ids.random()
        self._in_identify = False
        # VssOptions are frozen: the writer table's reading of Abort and where SYSTEM_RM
        # writers freeze are known now.
        self._writer_next = (WRITER_NEXT if options.abort_resets_state
                             else WRITER_NEXT_ABORT_KEEPS_STATE)
        self._level_order = (_LEVEL_ORDER_RM_AS_SYSTEM
                             if options.system_rm_writers == "with_system" else _LEVEL_ORDER)

    def close(self) -> None:
        """The machine shut down (``VssSystem.close``): its writers' subscriptions end (a
        writer object may be added to another machine) and the coordinator lets go of the
        machine, so that a closed machine is freed by reference counting, not left to the
        cycle collector.  (Not :meth:`shutdown`: that is one requester object's release.)"""
        for reg in self._writers:
            if reg.writer._vss_reg is reg:
                reg.writer._vss_reg = None
            reg.subscribed = False
        self.machine = _ShutDown()

    # ------------------------------------------------------------------------ registry
    @property
    def writers(self) -> list[WriterRegistration]:
        """Subscribed writer instances, in registration order."""
        return list(filter(_SUBSCRIBED, self._writers))  # (filtered in C: no frame)

    def subscribe(self, writer: Writer) -> WriterRegistration:
        """``CVssWriter::Initialize`` + ``Subscribe``: the writer gets a new instance id."""
        if not isinstance(writer, Writer):
            raise TypeError(f"{writer!r} is not a vsssim.Writer")
        if writer._vss_reg is not None:
            raise VssWriterAlreadySubscribedError(
                f"writer {writer.writer_name!r} is already subscribed; remove_writer() first")
        _validate_writer(writer, system_rm=self.options.system_rm_writers != "refuse")
        twin = None if self.options.duplicate_instance == "allow" else next(
            (r for r in self.writers if r.writer_id == writer.writer_id
             and (r.writer.instance_name or "") == (writer.instance_name or "")), None)
        if twin is not None:
            # Instance names must be unique among the instances of a class, and components
            # across them (reference §1); two nameless twins would clash at AddComponent.
            raise VssObjectAlreadyExistsError(
                f"an instance of writer class {writer.writer_name!r} {{{writer.writer_id}}} "
                f"named {writer.instance_name or ''!r} is already subscribed ({twin.label}); "
                "give each instance of one class a unique instance_name")
        reg = WriterRegistration(writer, self.ids.uuid(), self._order, self.clock)
        self._order += 1
        writer._vss_reg = reg
        self._writers.append(reg)
        self._trace(reg.label, VSS, EventKind.NOTE, "Subscribe",
                    f"instance {{{reg.instance_id}}}", instance=str(reg.instance_id))
        return reg

    def unsubscribe(self, writer: Writer) -> None:
        """``CVssWriter::Unsubscribe``: no more events for this instance."""
        reg = next((r for r in self._writers if r.writer is writer and r.subscribed), None)
        if reg is None:
            raise VssObjectNotFoundError(f"writer {writer.writer_name!r} is not subscribed")
        reg.subscribed = False
        writer._vss_reg = None
        self._trace(reg.label, VSS, EventKind.NOTE, "Unsubscribe")

    def registration(self, instance_id: UUID) -> WriterRegistration | None:
        """The subscribed instance with that id."""
        return next((r for r in self.writers if r.instance_id == instance_id), None)

    # ------------------------------------------------------------------------- identify
    def identify(self, session: Session | None, *, source: str = VSS
                 ) -> Generator[str, None, list[tuple[WriterRegistration, WriterMetadata]]]:
        """Send Identify to every (enabled) writer; collect the metadata of those that answer.

        Writers that fail Identify are left out (rule 2).  ``session`` is None for an Identify
        sent by another program, which changes no session (rule 1).
        """
        gathered: list[tuple[WriterRegistration, WriterMetadata]] = []
        regs = [r for r in self.writers if session is None or session.is_enabled(r)]
        for reg in self._ordered(regs, _E.IDENTIFY):
            blank = reg.blank_metadata()
            builder = WriterMetadataBuilder(blank.identity)  # (reg.identity(), read once)
            participant = Participant(reg, blank)
            reply = self._invoke(session, participant, _E.IDENTIFY,
                                 partial(_on_identify, builder=builder), source=source)
            reg.last_metadata = None
            if reply.outcome == Outcome.OK:
                document = reg.last_metadata = builder.finish()
                if document.restore_method is None or not document.components:
                    self._trace(reg.label, VSS, EventKind.NOTE, "IdentifyIncomplete",
                                "OnIdentify must call set_restore_method and add at least one "
                                "component")
                gathered.append((reg, document))
            yield f"Identify -> {reg.label}"
        return gathered

    def third_party_identify(self) -> None:
        """Another program (a management tool, another requester) sends Identify (rule 1)."""
        if self._in_identify:
            return
        self._in_identify = True
        try:
            self._trace("other program", VSS, EventKind.CALL, "GatherWriterMetadata",
                        "Identify sent by another program")
            _drain(self.identify(None, source="other program"))
        finally:
            self._in_identify = False

    # ------------------------------------------------------------------------- delivery
    def _ordered(self, items: Iterable[_R], event: WriterEvent, *,
                 order: Callable[[_R], int] = _BY_ORDER,
                 writer_of: Callable[[_R], Writer] = _REG_WRITER) -> list[_R]:
        """Registrations (or participants, with their keys) in delivery order."""
        regs = list(items)
        if len(regs) < 2:
            # Nothing to order: sorting and shuffling one writer (or none) changes nothing
            # and draws nothing from the generator (random.shuffle draws len - 1 numbers).
            return regs
        regs.sort(key=order)
        if self.options.delivery == "shuffled":
            self._shuffle.shuffle(regs)
        if event in (_E.FREEZE, _E.THAW):
            reverse = event == _E.THAW and self.options.thaw_order == "reverse"
            levels = self._level_order
            regs.sort(key=lambda r: levels.get(ApplicationLevel(writer_of(r).level), 9),
                      reverse=reverse)
        return regs

    def _send(self, session: Session, event: WriterEvent, participants: list[Participant],
              call: Callable[[Writer, Participant], object]) -> Generator[str, None, list[_Reply]]:
        """Deliver ``event`` to ``participants`` that accept it, one at a time, in order."""
        replies: list[_Reply] = []
        name = _EVENT_NAMES[event]
        receivers = WRITER_RECEIVES[event]
        if len(participants) > 1:  # (one writer needs no ordering: see _ordered)
            participants = self._ordered(  # one participant per writer instance, as ever
                {p.reg: p for p in participants}.values(), event, order=_P_ORDER,
                writer_of=_P_WRITER)
        for p in participants:
            if ((p.state if p.state is not None else _STABLE) not in receivers
                    and not self._forced(p, event)):
                continue
            faults = self.faults
            if faults:  # (a plan's truth may be its own: ask it)
                identify = faults.identify_during(name)
                if identify is not None:
                    self._trace(VSS, VSS, EventKind.FAULT, "IdentifyDuring",
                                identify.describe())
                    self.third_party_identify()
            if event == _E.FREEZE:
                self._start_freeze_timer(session, p)
            elif event == _E.THAW and p.freeze_timer is not None:
                p.freeze_timer.cancel()  # the window ends when Thaw arrives
                p.freeze_timer = None
            label = p.reg.label
            replies.append(self._invoke(session, p, event, call, label=label))
            self._check_crash(session, name)
            yield f"{name} -> {label}"
        return replies

    def _forced(self, p: Participant, event: WriterEvent) -> bool:
        # Option: writers that failed PrepareForSnapshot still get Freeze and Thaw.
        return (self.options.failed_writers_get_freeze
                and p.current == WriterState.FAILED_AT_PREPARE_SNAPSHOT
                and event in (_E.FREEZE, _E.THAW))

    def _invoke(self, session: Session | None, p: Participant, event: WriterEvent,
                call: Callable[[Writer, Participant], object], *, source: str = VSS,
                label: str | None = None) -> _Reply:
        """Run one writer handler and apply its outcome to the writer's state (every handler
        runs here; a writer's state also moves without one when its freeze window expires,
        :meth:`_freeze_expired`, or when it is lost before PostRestore).

        ``label``: ``p.reg.label``, when the caller has it already."""
        reg = p.reg
        writer = reg.writer
        name = _EVENT_NAMES[event]
        if label is None:
            label = reg.label
        clock = self.clock
        options = self.options
        self.machine.activity(f"before {name} -> {label}")
        self._trace_data(source, label, EventKind.EVENT, name, "", ())
        if event == _E.FREEZE:  # the freeze window, as the trace shows it
            p.frozen_at = clock.now()
        elif event == _E.THAW:
            p.thawed_at = clock.now()
        clock.sleep(options.costs.handler)
        # A new view per handler: one kept on the participant would make a reference cycle
        # (session -> participant -> view -> session) that leaves the session, and the machine
        # behind it, to the cycle collector.
        view = None if session is None else _WriterSessionView(session, p)
        ctx = HandlerContext(event, view, threading.get_ident(),
                             shutting_down=event == _E.BACKUP_SHUTDOWN)
        faults = self.faults
        fault = faults.writer_fault(name, reg.names) if faults else None
        result: object = None
        answered = True
        writer._vss_ctx = ctx
        timeouts = options.handler_timeouts  # (none by default: no clock reading then)
        limit = timeouts.get(name) if timeouts else None
        start = clock.now() if limit is not None else 0.0
        try:
            if fault is None:
                result = call(writer, p)
            else:
                result, answered = self._run_faulty_handler(p, ctx, fault, call)
        except Exception as exc:  # a writer bug must never crash the coordinator
            self._handler_raised(session, label, name, exc)
            result = False
        finally:
            writer._vss_ctx = None
            if session is not None and session.views:
                for scope in list(session.views):
                    if scope.writer_side and scope.owner == label:
                        scope.alive = False
                        session.views.remove(scope)
        if limit is not None and clock.now() - start > limit:
            answered = False
        return self._conclude(session, p, event, ctx, result, answered, source, name, label)

    def _handler_raised(self, session: Session | None, label: str, name: str,
                        exc: Exception) -> None:
        """Report an exception a handler raised: in the trace (with where the writer's code
        raised it), on the ``vsssim`` logger (with the traceback) and, with a note saying
        which writer and handler, in the session's ``handler_exceptions``."""
        what = f"On{name} raised {type(exc).__name__}: {exc}"
        # The traceback starts at the writer's handler: the coordinator's own frames say
        # nothing to a writer's developer, and they hold the session (a reference cycle).
        tb = exc.__traceback__
        while tb is not None and _in_this_file(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        exc.__traceback__ = tb
        if isinstance(exc, InjectedFault):  # the fault plan's, not the writer's: no frame
            self._trace(label, VSS, EventKind.FAULT, "HandlerRaised", what,
                        exception=type(exc).__name__)
            _log.debug("writer %r: %s (an injected fault)", label, what)
        else:
            site = _raise_site(exc)
            if site is None:
                self._trace(label, VSS, EventKind.FAULT, "HandlerRaised", what,
                            exception=type(exc).__name__)
            else:
                path, line, function = site
                self._trace(label, VSS, EventKind.FAULT, "HandlerRaised",
                            f"{what} (at {os.path.basename(path)}:{line}, in {function})",
                            exception=type(exc).__name__, file=path, line=line,
                            function=function)
            _log.error("writer %r: %s; VSS records it as a writer failure", label, what,
                       exc_info=exc)
        exc.add_note(f"(raised by the On{name} handler of writer {label!r}; vsssim recorded "
                     "it as a writer failure)")
        if session is not None:
            session.handler_exceptions.append(exc)

    def _run_faulty_handler(self, p: Participant, ctx: HandlerContext, fault: WriterFault,
                            call: Callable[[Writer, Participant], object]
                            ) -> tuple[object, bool]:
        """Run a handler that an injected writer fault concerns: (its result, answered)."""
        reg = p.reg
        self._trace(VSS, reg.label, EventKind.FAULT, "WriterFault", fault.describe(),
                    action=fault.action)
        if fault.action == "veto":
            ctx.failure = WriterFailure(hr.to_unsigned(fault.hresult),
                                        hr.to_unsigned(fault.application_hresult),
                                        fault.application_message)
            return False, True
        if fault.action == "raise":
            raise InjectedFault(f"injected fault in On{ctx.event.value}")
        if fault.action == "none":
            return None, True
        if fault.action == "hang":
            self.clock.sleep(fault.delay)
            return False, False
        if fault.action == "delay":
            self.clock.sleep(fault.delay)
            return call(reg.writer, p), True
        result = call(reg.writer, p)  # "fail": runs, then reports a non-fatal failure
        if result is True and ctx.failure is None:
            ctx.failure = WriterFailure(hr.to_unsigned(fault.hresult),
                                        hr.to_unsigned(fault.application_hresult),
                                        fault.application_message)
        return result, True

    def _conclude(self, session: Session | None, p: Participant, event: WriterEvent,
                  ctx: HandlerContext, result: object, answered: bool, source: str,
                  name: str, label: str) -> _Reply:
        """Apply a handler's result (``name``: the event's, ``label``: the writer's)."""
        if result is True or result is False:
            ok = result
        elif result is None and answered:
            self._trace(label, source, EventKind.NOTE, "HandlerReturnedNone",
                        f"On{name} returned None: return True to go on, or call "
                        "set_writer_failure(...) and return False to veto")
            ok = self.options.none_return == "ok"
        else:
            self._trace(label, source, EventKind.NOTE, "HandlerReturnedNonBool",
                        f"On{name} returned {type(result).__name__}; handlers return a "
                        "bool (True to go on, False to veto)")
            ok = False
        failure = ctx.failure
        if not answered:
            failure = WriterFailure(hr.VSS_E_WRITER_NOT_RESPONDING)
            ok = False
        failed = (not ok) or (failure is not None and failure.hresult != hr.S_OK)
        if failed and failure is None:
            failure = WriterFailure(hr.to_unsigned(self.options.default_failure))
        outcome = Outcome.FAILED if failed else Outcome.OK
        if p.timed_out and event == _E.FREEZE:
            detail = "answered after its freeze window expired"
        elif not answered:
            detail = "did not answer"
        elif not ok:
            detail = f"veto: {hr.name_of(failure.hresult if failure else 0)}"
        elif failed and failure is not None:
            detail = f"failed (non-fatal): {hr.name_of(failure.hresult)}"
        else:
            detail = "ok"
        # ``set_failure``: whether the handler called SetWriterFailure[Ex] (or an injected
        # fault did for it), so that observers can tell a documented veto from a bare False.
        self._trace_data(label, source, EventKind.REPLY, name, detail, (
            ("result", ok), ("hresult", failure.hresult if failure and failed else 0),
            ("set_failure", ctx.failure is not None)))
        p.received.append(event)
        if session is None or event == _E.IDENTIFY:
            return _Reply(p, outcome, not ok)
        if p.timed_out and event == _E.FREEZE:
            return _Reply(p, Outcome.FAILED, True)
        current = p.state if p.state is not None else _STABLE
        if current not in WRITER_RECEIVES[event]:
            # Forced delivery (failed_writers_get_freeze): the state stays as it was.
            return _Reply(p, outcome, not ok)
        new_state = self._writer_next[event, outcome][current]
        self._set_state(p, new_state, failure if failed else None, event, label)
        return _Reply(p, outcome, not ok)

    def _set_state(self, p: Participant, state: WriterState, failure: WriterFailure | None,
                   event: WriterEvent, label: str | None = None) -> None:
        if state not in _FAILED_STATES:
            failure = None if state != p.state else p.failure
        elif failure is None:
            failure = p.failure
        p.state, p.failure = state, failure
        reg = p.reg
        reg.last_state, reg.last_failure = state, failure
        if label is None:
            label = reg.label
        state_name = _STATE_NAMES[state]
        cached = p._session_text  # (p.session_key, without its frame when it is current)
        session_key = cached[1] if cached[0] is p.session_id else p.session_key
        self._trace_data(label, label, EventKind.STATE, "WriterState",
                         f"{state_name} ({hr.name_of(failure.hresult)})" if failure
                         else state_name,
                         (("state", state_name), ("event", _EVENT_NAMES[event]),
                          ("failure", failure.hresult if failure else 0),
                          ("session", session_key)))

    # ------------------------------------------------------------------- freeze window
    def _start_freeze_timer(self, session: Session, p: Participant) -> None:
        timeout = float(p.reg.writer.freeze_timeout)
        p.freeze_timer = self.clock.call_later(
            timeout, lambda: self._freeze_expired(session, p, timeout),
            name=f"freeze window of {p.reg.label}")

    def _freeze_expired(self, session: Session, p: Participant, timeout: float) -> None:
        if p.thawed_at is not None or not writer_accepts(p.current, _E.FREEZE_TIMEOUT):
            return
        p.timed_out = True
        self._trace(VSS, p.reg.label, EventKind.TIMEOUT, "FreezeWindowExpired",
                    f"no Thaw within {timeout:g} s of Freeze (KB 915331)")
        self._set_state(p, next_writer_state(p.current, _E.FREEZE_TIMEOUT, Outcome.FAILED),
                        WriterFailure(hr.VSS_E_WRITERERROR_TIMEOUT), _E.FREEZE_TIMEOUT)
        if session.abort_requested is None:
            session.abort_requested = _Abort(
                hr.to_unsigned(self.options.veto_result),
                f"{p.reg.label} overran its {timeout:g} s freeze window")

    def _cancel_freeze_timers(self, session: Session) -> None:
        for p in session.participants.values():
            if p.freeze_timer is not None:
                p.freeze_timer.cancel()
                p.freeze_timer = None

    # ----------------------------------------------------------------------- providers
    def call_provider(self, provider: Provider, method: str, fn: Callable[[], object],
                      *, detail: str = "") -> object:
        """Call one provider method: trace it, inject faults, translate its HRESULT (§2.5)."""
        return self._call_provider(provider, method, fn, detail)

    def _call_provider(self, provider: Provider, method: str, fn: Callable[[], object],
                       detail: str = "", *, step: bool = False) -> object:
        # call_provider(); a creation ``step`` fails with _Abort rather than ProviderFailure.
        name = provider.provider_name
        self.machine.activity(f"before {name}.{method}")
        self._trace_data(VSS, name, EventKind.PROVIDER, method, detail, ())
        self.clock.sleep(self.options.costs.provider_call)
        faults = self.faults
        fault = faults.provider_fault(method, name) if faults else None
        code: int = hr.S_OK
        result: object = None
        try:
            if fault is not None:
                self._trace(VSS, name, EventKind.FAULT, "ProviderFault", fault.describe())
                if fault.delay:
                    self.clock.sleep(fault.delay)
                if fault.raise_exception:
                    raise InjectedFault(f"injected fault in {method}")
            if fault is not None and fault.hresult is not None:
                code = hr.to_unsigned(fault.hresult)
            else:
                result = fn()
                if result is not None and isinstance(result, int) and \
                        not isinstance(result, bool):
                    code = hr.to_unsigned(result)
        except VssError as exc:
            code = exc.hresult
            self._trace(name, VSS, EventKind.NOTE, "ProviderError", str(exc))
        except Exception as exc:
            code = hr.E_UNEXPECTED
            self._trace(name, VSS, EventKind.FAULT, "ProviderRaised",
                        f"{method} raised {type(exc).__name__}: {exc}")
        if code == hr.S_OK:
            return result
        if method not in UNTRANSLATED and code not in PROVIDER_ALLOWED:
            self._trace(VSS, "event log", EventKind.NOTE, "ProviderErrorTranslated",
                        f"{name} returned {hr.name_of(code)} from {method}; the requester sees "
                        "VSS_E_UNEXPECTED_PROVIDER_ERROR")
            code = hr.VSS_E_UNEXPECTED_PROVIDER_ERROR
        failure = ProviderFailure(code, method, name)
        if step:
            raise _Abort(failure.hresult, str(failure))
        raise failure

    # --------------------------------------------------------------------- creation lock
    def acquire_creation(self, session: Session) -> None:
        """``StartSnapshotSet`` takes the machine-wide creation lock (rule 21)."""
        if self._creating is not None and self._creating is not session:
            raise VssSnapshotSetInProgressError(
                "another requester is creating a shadow copy set on this machine (from "
                "StartSnapshotSet until its DoSnapshotSet returns); wait and retry")
        self._creating = session

    def release_creation(self, session: Session) -> None:
        """Give the creation lock back (DoSnapshotSet returned, abort or release)."""
        if self._creating is session:
            self._creating = None

    @property
    def creating(self) -> Session | None:
        """The session currently creating a snapshot set, if any."""
        return self._creating

    def hold_expired(self, snapshot_set_id: UUID) -> bool:
        """True once the kernel gave up holding the writes of that set (a provider waiting
        inside ``CommitSnapshots`` should return)."""
        session = self._creating
        ss = session.snapshot_set if session is not None else None
        return bool(ss is not None and ss.set_id == snapshot_set_id and ss.hold_expired)

    # -------------------------------------------------------------------- participants
    def backup_participants(self, session: Session) -> list[Participant]:
        """Writers taking part in the backup: in component mode those with an added component
        (rule 3); otherwise every writer that answered Identify (or, by option, those with files
        on the set's volumes)."""
        if session.writerless:
            return []
        if session.bcd.select_components:  # (component_mode)
            # Those with an entry holding components in the document.  (Loops, not a helper
            # per participant: this runs at every sequence; ``is`` first: the document
            # usually holds the registration's own UUID object, and ``UUID.__eq__`` is Python
            # code.)
            entries = session.bcd.writers
            chosen = []
            for p in session.participants.values():
                instance_id = p.reg.instance_id
                for w in entries:
                    if (w.instance_id is instance_id or w.instance_id == instance_id) \
                            and w.components:
                        chosen.append(p)
                        break
            return chosen
        parts = list(session.participants.values())
        if self.options.non_component_mode_recipients == "affected":
            return [p for p in parts if self._affected(session, p)]
        return parts

    def _affected(self, session: Session, p: Participant) -> bool:
        ss = session.snapshot_set
        if ss is None:
            return False
        guids = {m.volume.guid_path for m in ss.members}
        for comp in p.metadata.components:
            for fd in comp.all_files:
                vol = self.machine.volume_of_path(fd.path)
                if vol is not None and vol.guid_path in guids:
                    return True
        return False

    def components_view(self, session: Session, p: Participant, event: WriterEvent | None,
                        *, writer_side: bool = True,
                        keep: Callable[[BcdComponent], bool] | None = None) -> WriterComponents:
        """The ``IVssWriterComponents`` handed to a writer's handler (valid until it returns)."""
        instance_id = p.reg.instance_id
        entry = None
        for w in session.bcd.writers:  # (a loop and ``is`` first, as in backup_participants)
            if w.instance_id is instance_id or w.instance_id == instance_id:
                entry = w
                break
        scope = ComponentScope(
            writer_side=writer_side, event=event, restore=session.restore,
            partial_file_support=session.bcd.partial_file_support,
            backup_type=effective_backup_type(session.bcd.backup_type,
                                              p.metadata.backup_schema),
            backup_schema=p.metadata.backup_schema, owner=p.reg.label)
        session.views.append(scope)
        return WriterComponents(entry, instance_id, p.reg.writer.writer_id, scope, keep)

    # ---------------------------------------------------------------------- sequences
    def prepare_for_backup(self, session: Session) -> Generator[str, None, int]:
        """``PrepareForBackup``: the event to participating writers (no Abort on failures)."""
        session.took_part_in_backup = True
        targets = self.backup_participants(session)
        for p in targets:
            p.state, p.failure = None, None  # a new session starts the writer's status afresh
            p.prepared = True
        yield from self._send(
            session, _E.PREPARE_FOR_BACKUP, targets,
            lambda w, p: w.on_prepare_backup(self.components_view(session, p,
                                                                  _E.PREPARE_FOR_BACKUP)))
        return hr.S_OK

    def do_snapshot_set(self, session: Session) -> Generator[str, None, int]:
        """``DoSnapshotSet``: writers and providers through the creation sequence (§2.2).

        Returns the async result: ``S_OK`` or the failure code.  On failure everything is undone
        (AbortSnapshots, Abort events where the rules say so) and the creation lock released.
        """
        ss = session.snapshot_set
        if ss is None:
            raise VssBadStateError("DoSnapshotSet needs StartSnapshotSet first",
                                   state="no set", call="DoSnapshotSet")
        ss.fixed = True
        session.took_part_in_backup = True
        hold = ExitStack()
        hold_timer: list[Timer] = []
        try:
            yield from self._creation_steps(session, ss, hold, hold_timer)
            ss.created = True
            set_key = str(ss.set_id)
            self._trace(VSS, "requester", EventKind.SNAPSHOT, "SnapshotSetCreated",
                        f"{{{set_key}}} with {len(ss.members)} shadow copies", set=set_key)
            return hr.S_OK
        except _Abort as abort:
            self._abort_creation(session, abort)
            return abort.hresult
        except RequesterCrashed:
            self._abort_creation(session, _Abort(hr.E_UNEXPECTED, "the requester crashed"))
            raise
        except GeneratorExit:  # IVssAsync::Cancel, or the requester released under it
            if not ss.created:
                self._abort_creation(session, _Abort(hr.VSS_S_ASYNC_CANCELLED,
                                                     "DoSnapshotSet cancelled"))
            raise
        finally:
            for t in hold_timer:
                t.cancel()
            if hold_timer or ss.hold_started is not None:
                self._release_hold(ss, hold)
            self._cancel_freeze_timers(session)
            self.release_creation(session)

    def _check(self, session: Session) -> None:
        if session.crash is not None:
            raise RequesterCrashed()
        if session.abort_requested is not None:
            raise session.abort_requested

    def _creation_steps(self, session: Session, ss: SnapshotSet,
                        hold: ExitStack, hold_timer: list[Timer]) -> Generator[str, None, None]:
        participants = self.backup_participants(session)
        writers = not session.writerless
        providers = ss.providers  # DoSnapshotSet fixed the set: its providers stay these
        # A provider call of the sequence: its failure aborts the creation (_Abort).
        provider_step = partial(self._call_provider, step=True)
        # 1. PrepareForSnapshot: failures take the writer out, no Abort (rule 11).
        if writers:
            yield from self._send(session, _E.PREPARE_FOR_SNAPSHOT, participants,
                                  lambda w, p: w.on_prepare_snapshot())
            self._check(session)
        # 2. Providers prepare: BeginPrepareSnapshot per volume, EndPrepareSnapshots per provider.
        context = ss.context | (int(_A.AUTORECOVER) if self._autorecover(session) else 0)
        for m in ss.members:
            if m.snapshot_id not in ss.begun:
                provider_step(m.provider, "BeginPrepareSnapshot",
                              partial(m.provider.begin_prepare_snapshot, ss.set_id,
                                      m.snapshot_id, m.volume, context),
                              detail=m.volume.name)
                ss.begun.add(m.snapshot_id)
        yield "BeginPrepareSnapshot"
        for prov in providers:
            ss.end_prepared.append(prov)
            provider_step(prov, "EndPrepareSnapshots",
                          partial(prov.end_prepare_snapshots, ss.set_id))
        yield "EndPrepareSnapshots"
        self._check(session)
        # 3. Freeze, front-end -> back-end -> system.
        if writers:
            replies = yield from self._send(session, _E.FREEZE, participants,
                                            lambda w, p: w.on_freeze())
            self._after_veto(session, replies, "Freeze")
            self._check(session)
        # 4. PreCommit, flush-and-hold, Commit, release, PostCommit.
        for prov in providers:
            provider_step(prov, "PreCommitSnapshots",
                          partial(prov.pre_commit_snapshots, ss.set_id))
        yield "PreCommitSnapshots"
        self._check(session)
        self._hold(session, ss, hold, hold_timer)
        yield "FlushAndHold"
        for prov in providers:
            self._check(session)
            provider_step(prov, "CommitSnapshots",
                          partial(prov.commit_snapshots, ss.set_id))
        self._check(session)
        for t in hold_timer:
            t.cancel()
        self._release_hold(ss, hold)
        yield "ReleaseWrites"
        for prov in providers:
            provider_step(prov, "PostCommitSnapshots",
                          partial(prov.post_commit_snapshots, ss.set_id,
                                  len(ss.members)))
        yield "PostCommitSnapshots"
        self._check(session)
        # 5. Thaw (reverse level order by default).
        if writers:
            replies = yield from self._send(session, _E.THAW, participants,
                                            lambda w, p: w.on_thaw())
            self._cancel_freeze_timers(session)
            self._after_veto(session, replies, "Thaw")
            self._check(session)
        # 6. PreFinalCommit, PostSnapshot (writers may auto-recover), PostFinalCommit.
        for prov in providers:
            provider_step(prov, "PreFinalCommitSnapshots",
                          partial(prov.pre_final_commit_snapshots, ss.set_id))
        yield "PreFinalCommitSnapshots"
        self._check(session)
        if writers:
            def post_snapshot(w: Writer, p: Participant) -> object:
                p.post_snapshot_done = True
                return w.on_post_snapshot(self.components_view(session, p, _E.POST_SNAPSHOT))

            yield from self._send(session, _E.POST_SNAPSHOT, participants, post_snapshot)
        for prov in providers:
            provider_step(prov, "PostFinalCommitSnapshots",
                          partial(prov.post_final_commit_snapshots, ss.set_id))
        yield "PostFinalCommitSnapshots"
        # 7. Hardware only: the LUN information of the copies (providers reference §2.2 #18).
        for m in ss.members:
            if m.provider.provider_type == ProviderType.HARDWARE:
                luns = self.call_provider(m.provider, "GetTargetLuns",
                                          partial(m.provider.get_target_luns, m.snapshot_id),
                                          detail=m.volume.name)
                m.target_luns = list(luns) if isinstance(luns, list) else []
                if not ss.context & _A.TRANSPORTABLE:
                    self._trace(VSS, m.provider.provider_name, EventKind.NOTE, "AutoImport",
                                "LocateLuns + FillInLunInfo: the copy's LUNs arrive hidden and "
                                "read-only on this machine")

    def _autorecover(self, session: Session) -> bool:
        """VSS marks copies AUTORECOVER when a writer may fix them up in PostSnapshot: a
        selected component flagged BACKUP_RECOVERY (APP_ROLLBACK_RECOVERY for rollback
        contexts) or a requester asking ROLLBACK_RECOVERY, unless NO_AUTORECOVERY (§3.12)."""
        ctx = int(session.context)  # plain ints: flag arithmetic on members is Python code
        if ctx & _NO_AUTORECOVERY or session.writerless:
            return False
        if ctx & _ROLLBACK_RECOVERY:
            return True
        wanted = _APP_ROLLBACK_RECOVERY if ctx & _PERSISTENT else _BACKUP_RECOVERY
        for p in self.backup_participants(session):
            entry = next((w for w in session.bcd.writers if w.instance_id == p.reg.instance_id),
                         None)
            chosen = {c.key for c in entry.components} if entry else set()
            for comp in p.metadata.components:
                if int(comp.component_flags) & wanted and (
                        not session.component_mode or comp.key in chosen):
                    return True
        return False

    def _after_veto(self, session: Session, replies: list[_Reply], event: str) -> None:
        vetoes = [r for r in replies if r.outcome == Outcome.FAILED]
        if not vetoes:
            return
        if self.options.veto_aborts_snapshot:
            if session.abort_requested is None:
                names = ", ".join(r.participant.reg.label for r in vetoes)
                session.abort_requested = _Abort(
                    hr.to_unsigned(self.options.veto_result), f"{names} failed {event}")
        else:
            # The creation goes on; the failing writers still get Abort (they resume their app).
            self._send_abort(session, [r.participant for r in vetoes], f"{event} failed")

    def _hold(self, session: Session, ss: SnapshotSet, hold: ExitStack,
              hold_timer: list[Timer]) -> None:
        volumes = {m.volume.guid_path: m.volume for m in ss.members}
        for vol in volumes.values():
            device = vol.device
            held = getattr(device, "held", None)
            if held is not None:
                hold.enter_context(held())
        ss.hold_started = self.clock.now()
        ss.hold_thread = threading.get_ident()
        self.machine.set_holding(True)
        self._trace("kernel", VSS, EventKind.HOLD, "FlushAndHoldWrites",
                    ", ".join(v.name for v in volumes.values()), volumes=len(volumes))
        limit = self.options.hold_timeout

        def expired() -> None:
            self._trace("kernel", VSS, EventKind.TIMEOUT, "HoldWritesTimeout",
                        f"writes held longer than {limit:g} s: the kernel cancels the hold")
            ss.hold_expired = True
            if threading.get_ident() == ss.hold_thread:
                self._release_hold(ss, hold)
            # Else the clock moved on another thread (a requester polling a background
            # DoSnapshotSet): the creating thread releases as soon as the provider returns.
            if session.abort_requested is None:
                session.abort_requested = _Abort(
                    hr.VSS_E_HOLD_WRITES_TIMEOUT, f"flush-and-hold exceeded {limit:g} s")

        hold_timer.append(self.clock.call_later(limit, expired, name="flush-and-hold window"))

    def _release_hold(self, ss: SnapshotSet, hold: ExitStack) -> None:
        if ss.hold_started is None or ss.hold_released is not None:
            return
        hold.close()
        ss.hold_released = self.clock.now()
        self._trace("kernel", VSS, EventKind.RELEASE, "ReleaseWrites",
                    f"writes held {ss.hold_released - ss.hold_started:.3f} s",
                    held=ss.hold_released - ss.hold_started)
        self.machine.set_holding(False)  # held application writes run now, in order

    def _abort_creation(self, session: Session, abort: _Abort) -> None:
        ss = session.snapshot_set
        self._trace(VSS, VSS, EventKind.NOTE, "CreationFailed",
                    f"{abort.reason} ({hr.name_of(abort.hresult)})",
                    hresult=abort.hresult)
        if ss is not None:
            # AbortSnapshots only after DoSnapshotSet and EndPrepareSnapshots (rule 5).
            for prov in ss.end_prepared:
                # Not translated and not reported to the requester (§2.5).
                with suppress(ProviderFailure):
                    self.call_provider(prov, "AbortSnapshots",
                                       partial(prov.abort_snapshots, ss.set_id))
        self._send_abort(session, self.backup_participants(session), abort.reason)
        session.abort_requested = None

    def _send_abort(self, session: Session, participants: list[Participant], reason: str
                    ) -> None:
        targets = [p for p in participants if p.prepared or p.state is not None]
        if self.options.abort_after_abandon == "once":  # (no second Abort to a writer)
            targets = [p for p in targets if _E.ABORT not in p.received]
        if not targets:
            return
        self._trace(VSS, VSS, EventKind.NOTE, "Abort", reason)
        _drain(self._send(session, _E.ABORT, targets, lambda w, p: w.on_abort()))
        for p in targets:
            if p.freeze_timer is not None:
                p.freeze_timer.cancel()

    def abort_backup(self, session: Session, reason: str = "requester called AbortBackup"
                     ) -> None:
        """``AbortBackup`` (or VSS's own abort): Abort to writers that have not run PostSnapshot."""
        if self._creating is session and session.snapshot_set and session.snapshot_set.fixed \
                and not session.snapshot_set.created:
            # DoSnapshotSet is still running (manual/background async): stop it at its next step.
            session.abort_requested = _Abort(hr.VSS_E_BAD_STATE, reason)
            return
        self._send_abort(session, self.backup_participants(session), reason)
        self.release_creation(session)

    def backup_complete(self, session: Session) -> Generator[str, None, int]:
        """``BackupComplete``: writers read their components' success flags; BCD read-only."""
        targets = list(self.backup_participants(session))
        yield from self._send(
            session, _E.BACKUP_COMPLETE, targets,
            lambda w, p: w.on_backup_complete(self.components_view(session, p,
                                                                   _E.BACKUP_COMPLETE)))
        return hr.S_OK

    def shutdown(self, session: Session) -> None:
        """Release of the requester object: abort what runs, then send ``BackupShutdown``
        (rule 17).  The machine's own shutdown is :meth:`close`."""
        if session.released:
            return
        if self._creating is session:
            ss = session.snapshot_set
            if ss is not None and ss.fixed and not ss.created:
                session.abort_requested = _Abort(hr.VSS_E_BAD_STATE, "requester released")
            self.release_creation(session)
        if session.took_part_in_backup and not session.writerless:
            if self.options.backup_shutdown_recipients == "prepared":
                targets = [p for p in session.participants.values() if p.prepared]
            else:
                targets = list(session.participants.values())
            set_id = session.snapshot_set.set_id if (
                session.snapshot_set and session.snapshot_set.created) else GUID_NULL
            by_reg = {p.reg: p for p in targets if p.reg.subscribed}
            for reg in self._ordered(by_reg, _E.BACKUP_SHUTDOWN):
                self._invoke(session, by_reg[reg], _E.BACKUP_SHUTDOWN,
                             partial(_on_backup_shutdown, set_id=set_id))
        session.released = True
        session.invalidate_views()

    # -------------------------------------------------------------------------- restore
    def restore_participants(self, session: Session) -> list[Participant]:
        """Running writers with at least one component selected for restore (rule 24/3)."""
        out = []
        for p in session.participants.values():
            entries = [w for w in session.bcd.writers if w.writer_id == p.reg.writer_id
                       and (w.instance_name or "") == (p.reg.writer.instance_name or "")]
            if any(c.selected_for_restore for w in entries for c in w.components):
                out.append(p)
        return out

    def pre_restore(self, session: Session, participants: list[Participant]
                    ) -> Generator[str, None, int]:
        """``PreRestore`` to the writers the restore concerns (``VSS_WRE_NEVER`` ones excluded)."""
        for p in participants:
            p.state, p.failure = None, None
        targets = [p for p in participants if _wants_restore_events(p)]
        yield from self._send(
            session, _E.PRE_RESTORE, targets,
            lambda w, p: w.on_pre_restore(self._restore_view(session, p, _E.PRE_RESTORE)))
        return hr.S_OK

    def post_restore(self, session: Session, participants: list[Participant],
                     replace_failed: set[UUID] | None = None) -> Generator[str, None, int]:
        """``PostRestore`` to the writers told about the restore.

        A writer whose process restarted since PreRestore is a different writer: the new
        instance is not told, VSS reports the writer as lost and the operation fails with
        ``VSS_E_OBJECT_NOT_FOUND`` (rule 31).  ``VSS_WRE_IF_REPLACE_FAILS`` writers are told
        only if a replace of theirs failed, when ``VssOptions.honor_if_replace_fails`` is set.
        """
        failed = replace_failed or set()
        targets = []
        for p in participants:
            if not _wants_restore_events(p):
                continue
            method = p.metadata.restore_method
            if (self.options.honor_if_replace_fails and method is not None
                    and method.writer_restore == WriterRestore.IF_REPLACE_FAILS
                    and p.reg.writer_id not in failed):
                continue
            targets.append(p)
        lost = [p for p in targets if not p.reg.subscribed]
        for p in lost:
            self._trace(VSS, p.reg.label, EventKind.NOTE, "WriterLost",
                        f"instance {{{p.reg.instance_id}}} is gone (its process restarted): it "
                        "gets no PostRestore")
            self._set_state(p, WriterState.FAILED_AT_POST_RESTORE,
                            WriterFailure(hr.VSS_E_WRITER_NOT_RESPONDING), _E.POST_RESTORE)
        yield from self._send(
            session, _E.POST_RESTORE, [p for p in targets if p.reg.subscribed],
            lambda w, p: w.on_post_restore(self._restore_view(session, p, _E.POST_RESTORE)))
        return hr.VSS_E_OBJECT_NOT_FOUND if lost else hr.S_OK

    def _restore_view(self, session: Session, p: Participant, event: WriterEvent
                      ) -> WriterComponents:
        entry = next((w for w in session.bcd.writers if w.writer_id == p.reg.writer_id
                      and (w.instance_name or "") == (p.reg.writer.instance_name or "")), None)
        scope = ComponentScope(writer_side=True, event=event, restore=True, owner=p.reg.label)
        session.views.append(scope)
        return WriterComponents(entry, p.reg.instance_id, p.reg.writer_id, scope,
                                keep=lambda c: c.selected_for_restore)

    # --------------------------------------------------------------------------- status
    def writer_status(self, session: Session) -> list[WriterStatus]:
        """``GetWriterStatus`` for every writer whose metadata the session gathered (rule 2)."""
        out = []
        for p in session.participants.values():
            reg = p.reg
            if p.state is not None:
                state, failure = p.state, p.failure
            elif self.options.writer_status_after_session == "sticky":
                state, failure = reg.last_state, reg.last_failure
            else:
                state, failure = WriterState.STABLE, None
            if not reg.subscribed and state == WriterState.STABLE:
                state, failure = WriterState.UNKNOWN, WriterFailure(hr.VSS_E_WRITER_NOT_RESPONDING)
            writer = reg.writer  # (reg.writer_id and reg.name, without their frames)
            fields = (reg.instance_id, writer.writer_id, writer.writer_name, writer.instance_name,
                      state, failure.hresult if failure else hr.S_OK,
                      failure.application_hresult if failure else hr.S_OK,
                      failure.application_message if failure else "")
            # The record is frozen: the one built for the same facts last time serves again.
            cached = p._status
            if cached is None or cached[0] != fields:
                cached = p._status = (fields, WriterStatus(
                    instance_id=fields[0], writer_id=fields[1], writer_name=fields[2],
                    instance_name=fields[3], state=fields[4], failure=fields[5],
                    application_failure=fields[6], application_message=fields[7]))
            out.append(cached[1])
        return out

    def _check_crash(self, session: Session, point: str) -> None:
        crash = self.faults.requester_crash(point) if self.faults else None
        if crash is not None:
            self._trace("requester", VSS, EventKind.FAULT, "RequesterCrash", crash.describe())
            session.crash = crash


def _on_identify(writer: Writer, p: Participant, builder: WriterMetadataBuilder) -> object:
    return writer.on_identify(builder)


def _on_backup_shutdown(writer: Writer, p: Participant, set_id: UUID) -> object:
    return writer.on_backup_shutdown(set_id)


def _wants_restore_events(p: Participant) -> bool:
    method = p.metadata.restore_method
    return method is None or method.writer_restore != WriterRestore.NEVER


def _validate_writer(writer: Writer, *, system_rm: bool = True) -> None:
    """The checks ``CVssWriter::Initialize`` makes of its arguments (``system_rm``: whether
    ``VSS_APP_SYSTEM_RM`` is accepted, :attr:`VssOptions.system_rm_writers`)."""
    writer_id = getattr(writer, "writer_id", None)
    if not isinstance(writer_id, UUID):
        raise VssInvalidArgumentError(
            f"writer_id={writer_id!r}: a writer needs a class id (a uuid.UUID attribute)")
    if not isinstance(writer.writer_name, str) or not writer.writer_name:
        raise VssInvalidArgumentError("writer_name: a writer needs a non-empty name")
    try:
        level = ApplicationLevel(writer.level)
    except ValueError:
        raise VssInvalidArgumentError(
            f"level={writer.level!r} is not a VSS_APPLICATION_LEVEL") from None
    if level in (ApplicationLevel.UNKNOWN, ApplicationLevel.AUTO):
        raise VssInvalidArgumentError(f"level={level.name} is reserved; use FRONT_END, "
                                      "BACK_END or SYSTEM")
    if level == ApplicationLevel.SYSTEM_RM and not system_rm:
        raise VssInvalidArgumentError(
            "level=SYSTEM_RM is undocumented and refused here "
            "(VssOptions.system_rm_writers='refuse'); use FRONT_END, BACK_END or SYSTEM")
    timeout = writer.freeze_timeout
    if not isinstance(timeout, (int, float)) or not timeout > 0:
        raise VssInvalidArgumentError(f"freeze_timeout={timeout!r} must be positive seconds")


_THIS_FILE: Final = os.path.normcase(os.path.abspath(__file__))
_PACKAGE_DIR: Final = os.path.dirname(_THIS_FILE) + os.sep  # (vsssim/)


def _raise_site(exc: BaseException) -> tuple[str, int, str] | None:
    """Where a handler's exception came from, as (file, line, function): the innermost frame
    of its traceback outside the vsssim package (the writer's own code, even when it called a
    vsssim helper that raised), else the innermost one outside this module (a sample writer's);
    None if it has none."""
    user = own = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        path = os.path.normcase(os.path.abspath(code.co_filename))
        if path == _THIS_FILE:  # (the coordinator's own frames are cut off already)
            continue
        site = (code.co_filename, line, code.co_qualname)
        own = site
        if not path.startswith(_PACKAGE_DIR):
            user = site
    return user or own


def _in_this_file(filename: str) -> bool:
    return os.path.normcase(os.path.abspath(filename)) == _THIS_FILE


def _drain(gen: Generator[str, None, object]) -> object:
    """Run a step generator to its end and return its value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
