"""The QEMU guest agent's Windows VSS requester and provider, ported to vsssim.

``guest-fsfreeze-freeze`` on a Windows guest does not stop file systems itself: qemu-ga runs a
VSS backup with a provider of its own (``qga/vss-win32`` in the QEMU tree) and stops in the
middle of it.  Its provider's ``CommitSnapshots`` runs inside the kernel's flush-and-hold, signals
a named event ("frozen") and waits for another ("thaw").  While the requester reports the guest
frozen, the hypervisor snapshots the virtual disks; ``guest-fsfreeze-thaw`` sets the thaw event,
the provider returns, VSS releases the writes, thaws the writers and finishes ``DoSnapshotSet``,
and the agent sends ``BackupComplete``.  The provider makes no copy of its own: the hypervisor's
disk snapshot is the backup.  VSS holds writes for at most 10 s, so a hypervisor that takes
longer gets ``VSS_E_HOLD_WRITES_TIMEOUT`` and the agent aborts the backup.

This module ports the call sequence and the error handling of ``requester.cpp`` (as of QEMU 8/9)
and the ``CommitSnapshots`` logic of ``provider.cpp``:

* :class:`NamedEvents`: the ``Global\\QGAVSSEvent-*`` kernel events the two sides share.
* :class:`QgaProvider`: the agent's software provider, on :class:`vsssim.SnapshotProvider`.
* :class:`QgaRequester`: ``requester_freeze`` / ``requester_thaw``, on ``BackupComponents`` in
  background async mode (``DoSnapshotSet`` really runs while the agent polls ``QueryStatus``).
* :class:`Hypervisor`: the host side, which copies the disk images while the guest is frozen.

Run: python examples/qga_vss.py
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar
from uuid import UUID

from vsssim import (
    Async,
    BackupComponents,
    BackupType,
    EventKind,
    ProviderType,
    SnapshotContext,
    SnapshotProvider,
    SnapshotState,
    Trace,
    VolumeInfo,
    VolumeSnapshotAttributes,
    VssError,
    VssSystem,
    VssUnexpectedProviderError,
    VssUnsupportedContextError,
    hresult,
)
from vsssim.apps import FileShareApp, FileShareWriter, KvStore, KvStoreApp, KvStoreWriter
from vsssim.providers import SnapshotRecord
from vsssim.storage import BlockDevice, MemoryDevice
from vsssim.storage.simfs import SimFS

__all__ = [
    "EVENT_NAME_FROZEN",
    "EVENT_NAME_THAW",
    "EVENT_NAME_TIMEOUT",
    "FREEZE_EVENT_WAIT",
    "POLL_INTERVAL",
    "QGA_CONTEXT",
    "QGA_PROVIDER_ID",
    "QGA_PROVIDER_NAME",
    "THAW_EVENT_WAIT",
    "FsfreezeResult",
    "Hypervisor",
    "NamedEvents",
    "QgaError",
    "QgaProvider",
    "QgaProviderError",
    "QgaRequester",
    "build_guest",
    "main",
    "wait_for_async",
]

_A = VolumeSnapshotAttributes
_T = TypeVar("_T")

# Identity of the provider, as registered by qemu-ga's installer (vss-common.h).
QGA_PROVIDER_NAME = "QEMU Guest Agent VSS Provider"
QGA_PROVIDER_ID = UUID("3629d4ed-ee09-4e0e-9a5c-6d8ba2872aef")
QGA_PROVIDER_VERSION_ID = UUID("11ef8b15-cac6-40d6-8d5c-8ffc163f24ca")
QGA_PROVIDER_CLSID = UUID("6e6a3492-8d4d-440c-9619-5e5d0cc31ca8")

# The kernel events through which the requester (in qemu-ga) and the provider (loaded by the VSS
# service, another process on Windows) talk.  The provider also uses the frozen event to tell
# whether the requester at work is qemu-ga at all.
EVENT_NAME_FROZEN = "Global\\QGAVSSEvent-frozen"
EVENT_NAME_THAW = "Global\\QGAVSSEvent-thaw"
EVENT_NAME_TIMEOUT = "Global\\QGAVSSEvent-timeout"

# The agent cannot let VSS write to the shadow copies (there are none: the hypervisor holds the
# copy), so it asks for a context without the final auto-recovery commit.
QGA_CONTEXT = int(SnapshotContext.APP_ROLLBACK | _A.TRANSPORTABLE | _A.NO_AUTORECOVERY
                  | _A.TXF_RECOVERY)

#: The requester's limit for the provider's frozen event (VSS_TIMEOUT_FREEZE_MSEC; 10 s in the
#: first version of the agent, 60 s since).
FREEZE_EVENT_WAIT = 60.0
#: The requester polls QueryStatus this often while it waits (VSS_TIMEOUT_EVENT_MSEC).
POLL_INTERVAL = 0.010
#: The provider waits this long for the thaw event (VSS_TIMEOUT_MSEC).
THAW_EVENT_WAIT = 60.0


# ---------------------------------------------------------------------------------------------
# Named events
# ---------------------------------------------------------------------------------------------
class NamedEvents:
    """The machine's named kernel events (``CreateEvent`` / ``OpenEvent`` / ``CloseHandle``).

    Every event is manual-reset and created non-signalled, as qemu-ga creates its three.  One
    creator owns a name: :meth:`close` removes it, and later :meth:`open` calls find nothing.
    Fidelity note: Windows keeps an event alive while any handle to it is open; the port keeps it
    until its creator closes it, which is all the agent relies on.
    """

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def create(self, name: str) -> threading.Event:
        """``CreateEvent(manual reset, non-signalled, name)``: an existing event is opened."""
        with self._lock:
            return self._events.setdefault(name, threading.Event())

    def open(self, name: str) -> threading.Event | None:
        """``OpenEvent``: the event, or None (``ERROR_FILE_NOT_FOUND``) if nobody created it."""
        with self._lock:
            return self._events.get(name)

    def close(self, name: str) -> None:
        """``CloseHandle`` by the creator: the name is gone."""
        with self._lock:
            self._events.pop(name, None)


# ---------------------------------------------------------------------------------------------
# The provider
# ---------------------------------------------------------------------------------------------
class QgaProviderError(VssUnexpectedProviderError):
    """The QGA provider failed its commit: the agent's events are gone (``E_FAIL`` in the real
    one, which VSS reports as ``VSS_E_UNEXPECTED_PROVIDER_ERROR``) or the host made no copy."""


class QgaProvider(SnapshotProvider):
    """``CQGAVssProvider``: the software provider qemu-ga registers with VSS.

    ``IsVolumeSupported`` says yes to every volume while the frozen event exists, i.e. only while
    qemu-ga is the requester at work (so other backups on the guest use the system provider).
    ``CommitSnapshots``, inside the flush-and-hold, sets the frozen event and waits for the thaw
    event.  The waits are short real-time waits in a loop: the wait ends when the thaw event is
    set, when the kernel gives up the hold (``host.hold_expired``), or after ``thaw_wait`` clock
    seconds, when it sets the timeout event as the real provider does.  ``real_wait_cap`` (real
    seconds) is the simulator's own guard: with a virtual clock nobody may move time while the
    provider waits, and a forgotten thaw must not hang the process.

    The real provider makes no copy and lists nothing (its ``Query`` returns an empty
    enumeration).  The port commits the copy the hypervisor made while the guest was frozen:
    ``snapshot_source(volume)`` returns a device for it, so vsssim can list and mount it (None if
    the host made none: the commit then fails with ``VSS_E_UNEXPECTED_PROVIDER_ERROR``).  The
    copy is a full one, hence ``VSS_VOLSNAP_ATTR_PLEX``.

    Fidelity note: when the hold expires the real provider keeps waiting for the thaw event; the
    port returns at once.  Either way VSS fails the set with ``VSS_E_HOLD_WRITES_TIMEOUT`` and
    the requester sees that result when it thaws.
    """

    provider_id = QGA_PROVIDER_ID
    provider_name = QGA_PROVIDER_NAME
    provider_type = ProviderType.SOFTWARE
    provider_version = "9.2.0"  # QEMU_VERSION of the agent that registered it
    provider_version_id = QGA_PROVIDER_VERSION_ID
    class_id = QGA_PROVIDER_CLSID

    def __init__(self, events: NamedEvents,
                 snapshot_source: Callable[[VolumeInfo], BlockDevice | None],
                 *, thaw_wait: float = THAW_EVENT_WAIT, real_wait_cap: float = 30.0) -> None:
        super().__init__()
        if not thaw_wait > 0 or not real_wait_cap > 0:
            raise ValueError("thaw_wait and real_wait_cap must be positive numbers of seconds")
        self.events = events
        self.snapshot_source = snapshot_source
        self.thaw_wait = float(thaw_wait)
        self.real_wait_cap = float(real_wait_cap)
        #: Clock time at which the last commit signalled "frozen", and at which its wait ended.
        self.frozen_at: float | None = None
        self.wait_ended_at: float | None = None
        #: How the last wait ended: "thaw", "hold expired" or "timeout".
        self.wait_outcome: str | None = None

    def supports_volume(self, volume: VolumeInfo) -> bool:
        """``IsVolumeSupported``: every volume, but only while qemu-ga's frozen event exists."""
        return self.events.open(EVENT_NAME_FROZEN) is not None

    def mechanism_attributes(self) -> int:
        """The hypervisor's copy is a whole disk: a plex, not a differential copy."""
        return int(_A.PLEX)

    def commit_snapshots(self, snapshot_set_id: UUID) -> None:
        """``CommitSnapshots``: "frozen", then wait for "thaw" inside the flush-and-hold."""
        frozen = self.events.open(EVENT_NAME_FROZEN)
        thaw = self.events.open(EVENT_NAME_THAW)
        timeout = self.events.open(EVENT_NAME_TIMEOUT)
        if frozen is None or thaw is None or timeout is None:
            raise QgaProviderError("the qemu-ga events are gone: the requester is not waiting")
        # Refuse a wrong set or state before freezing anyone (VSS_E_PROVIDER_VETO).
        self._set_records(snapshot_set_id, "CommitSnapshots", (SnapshotState.PRECOMMITTED,))
        clock = self.host.clock
        self.frozen_at, self.wait_ended_at, self.wait_outcome = clock.now(), None, None
        frozen.set()
        self._trace("Frozen", "file systems and writers are frozen: SetEvent(frozen)")
        outcome = self._wait_for_thaw(snapshot_set_id, thaw)
        self.wait_outcome, self.wait_ended_at = outcome, clock.now()
        if outcome == "timeout":
            timeout.set()
            self._trace("ThawTimeout", f"no thaw event within {self.thaw_wait:g} s: "
                        "SetEvent(timeout)")
        elif outcome == "hold expired":
            self._trace("HoldExpired", "the kernel gave up the hold: stop waiting")
            return  # VSS abandons the set; nothing to commit
        else:
            self._trace("Thawed", "the thaw event is set: the host has its disk snapshot")
        super().commit_snapshots(snapshot_set_id)

    def _wait_for_thaw(self, snapshot_set_id: UUID, thaw: threading.Event) -> str:
        clock = self.host.clock
        deadline = clock.now() + self.thaw_wait
        real_deadline = time.monotonic() + self.real_wait_cap

        def ended() -> str | None:
            if self.host.hold_expired(snapshot_set_id):
                return "hold expired"
            if clock.now() >= deadline or time.monotonic() >= real_deadline:
                return "timeout"
            return None

        while True:
            # The limits are looked at before the thaw event: a host that let the clock run
            # past them and then thaws finds them passed, whatever the thread timing.
            outcome = ended()
            if outcome is not None:
                return outcome
            if thaw.wait(POLL_INTERVAL):
                return ended() or "thaw"

    def create_device(self, record: SnapshotRecord) -> BlockDevice:
        """The hypervisor's copy of ``record.volume`` (made while the guest was frozen)."""
        device = self.snapshot_source(record.volume)
        if device is None:
            raise QgaProviderError(f"the host made no snapshot of {record.volume.name}")
        return device

    def destroy_device(self, record: SnapshotRecord) -> None:
        """Nothing to free here: the copy belongs to the hypervisor."""


# ---------------------------------------------------------------------------------------------
# The requester
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class QgaError:
    """What the agent's ``err_set`` records: an HRESULT (``E_FAIL`` where the agent has none)
    and the message ``guest-fsfreeze-*`` returns to the host."""

    hresult: int
    message: str

    @property
    def hresult_name(self) -> str:
        """The SDK name of :attr:`hresult`."""
        return hresult.name_of(self.hresult)

    def __str__(self) -> str:
        return f"{self.message} ({self.hresult_name})"


@dataclass(frozen=True, slots=True, kw_only=True)
class FsfreezeResult:
    """The outcome of ``requester_freeze`` / ``requester_thaw``: the number of volumes (frozen,
    or thawed) and the error, if any (the agent's ``num_vols`` and ``ErrorSet``)."""

    volumes: int
    error: QgaError | None = None

    @property
    def ok(self) -> bool:
        """True when no error was set."""
        return self.error is None

    def __str__(self) -> str:
        return f"{self.volumes} volume(s)" + (f", error: {self.error}" if self.error else "")


class _Failed(Exception):
    """Unwinds ``freeze`` to its clean-up (the C code's ``goto out`` / ``goto out1``)."""

    def __init__(self, error: QgaError | None, *, abort: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.abort = abort


class QgaRequester:
    """``requester_freeze`` and ``requester_thaw`` of qemu-ga, on ``IVssBackupComponents``.

    :meth:`freeze` (``guest-fsfreeze-freeze``): create the three events, then
    ``CreateVssBackupComponents``, ``InitializeForBackup``, ``SetBackupState(component mode,
    bootable system state, FULL)``, ``SetContext(APP_ROLLBACK | TRANSPORTABLE | NO_AUTORECOVERY |
    TXF_RECOVERY)`` (again without TRANSPORTABLE if that is ``VSS_E_UNSUPPORTED_CONTEXT``: client
    editions cannot make transportable copies), ``GatherWriterMetadata``, ``AddComponent`` for
    every selectable component of every writer, ``StartSnapshotSet``, ``AddToSnapshotSet`` of
    every volume with the QGA provider, ``PrepareForBackup``, ``GatherWriterStatus``, then
    ``DoSnapshotSet``, polling ``QueryStatus`` (``VSS_S_ASYNC_PENDING``) until the provider sets
    the frozen event.  Between polls it waits :data:`POLL_INTERVAL` real seconds on the event
    and sleeps as long on the machine's clock.  Any failure: ``AbortBackup`` and clean-up, except
    when the frozen event never came, where the agent only cleans up.

    :meth:`thaw` (``guest-fsfreeze-thaw``): set the thaw event, wait for ``DoSnapshotSet``; on
    ``VSS_S_ASYNC_FINISHED`` send ``BackupComplete``; ``VSS_E_OBJECT_NOT_FOUND`` (old Windows
    without NO_AUTORECOVERY) is not an error; ``VSS_E_HOLD_WRITES_TIMEOUT`` (or an unexpected
    provider error after the provider's own timeout) is "couldn't hold writes"; any error ends
    with ``AbortBackup``.  Then the object is released.

    As in the agent, the writer statuses gathered before ``DoSnapshotSet`` are not examined:
    only the HRESULT of each asynchronous call counts.  The agent enumerates fixed drives with
    ``FindFirstVolume``; the port takes every volume of the machine, by its GUID path.
    """

    def __init__(self, system: VssSystem, events: NamedEvents, *,
                 provider_id: UUID = QGA_PROVIDER_ID,
                 backup_type: BackupType = BackupType.FULL,
                 freeze_wait: float = FREEZE_EVENT_WAIT,
                 poll_interval: float = POLL_INTERVAL) -> None:
        if not poll_interval > 0 or not freeze_wait >= poll_interval:
            raise ValueError("poll_interval must be positive and freeze_wait at least as long")
        self.system = system
        self.events = events
        self.provider_id = provider_id
        self.backup_type = BackupType(backup_type)
        self.freeze_wait = float(freeze_wait)
        self.poll_interval = float(poll_interval)
        # The agent's QGAVSSContext: alive from freeze to thaw.
        self.bc: BackupComponents | None = None
        self.snapshot_async: Async | None = None
        self._frozen: threading.Event | None = None
        self._thaw: threading.Event | None = None
        self._timeout: threading.Event | None = None
        self.frozen_volumes = 0
        # What the last freeze/thaw did, kept for the curious (the agent logs none of it).
        self.context: int | None = None
        self.components_added: list[tuple[UUID, str, str]] = []
        self.volumes_added: list[str] = []
        self.polls: list[int] = []
        self.snapshot_status: int | None = None

    # -- helpers ----------------------------------------------------------------------------
    def _note(self, name: str, detail: str = "") -> None:
        self.system.tracer.emit("qemu-ga", "qemu-ga", EventKind.NOTE, name, detail)

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        """One COM call: a failing HRESULT becomes the freeze error ``failed to <what>``."""
        try:
            return fn()
        except VssError as exc:
            raise _Failed(QgaError(hresult=exc.hresult, message=f"failed to {what}: {exc}")
                          ) from None

    def _call_and_wait(self, what: str, start: Callable[[], Async]) -> None:
        """``hr = Call(&pAsync); if SUCCEEDED(hr) hr = WaitForAsync(pAsync)``."""
        code = wait_for_async(self._call(what, start))
        if hresult.is_error(code):
            raise _Failed(QgaError(hresult=code, message=f"failed to {what}"))

    def _abort_backup(self) -> None:
        """``AbortBackup``; like the agent, its HRESULT is not looked at."""
        if self.bc is not None:
            try:
                self.bc.abort_backup()
            except VssError as exc:
                self._note("AbortBackupFailed", str(exc))

    def _cleanup(self) -> None:
        """``requester_cleanup``: close the events, release the async and the object."""
        for name in (EVENT_NAME_FROZEN, EVENT_NAME_THAW, EVENT_NAME_TIMEOUT):
            self.events.close(name)
        self._frozen = self._thaw = self._timeout = None
        self.snapshot_async = None
        if self.bc is not None:
            try:
                self.bc.release()
            except VssError as exc:
                self._note("ReleaseFailed", str(exc))
            self.bc = None
        self.frozen_volumes = 0

    # -- guest-fsfreeze-freeze --------------------------------------------------------------
    def freeze(self) -> FsfreezeResult:
        """``requester_freeze``: returns the number of frozen volumes, or the error."""
        if self.bc is not None:  # already frozen
            return FsfreezeResult(volumes=0)
        self._note("guest-fsfreeze-freeze")
        self.components_added, self.volumes_added, self.polls = [], [], []
        self.context = self.snapshot_status = None
        try:
            volumes = self._freeze()
        except _Failed as failed:
            if failed.error is not None:
                self._note("FreezeFailed", str(failed.error))
            if failed.abort:
                self._abort_backup()
            self._cleanup()
            return FsfreezeResult(volumes=0, error=failed.error)
        self.frozen_volumes = volumes
        self._note("Frozen", f"{volumes} volume(s) frozen; the host may snapshot the disks now")
        return FsfreezeResult(volumes=volumes)

    def _freeze(self) -> int:
        self._frozen = self.events.create(EVENT_NAME_FROZEN)
        self._thaw = self.events.create(EVENT_NAME_THAW)
        self._timeout = self.events.create(EVENT_NAME_TIMEOUT)
        system = self.system
        self.bc = bc = system.create_backup_components(async_mode="background")
        self._call("initialize for backup", bc.initialize_for_backup)
        self._call("set backup state",
                   lambda: bc.set_backup_state(True, True, self.backup_type, False))
        self._set_context(bc)
        self._call_and_wait("gather writer metadata", bc.gather_writer_metadata)
        self._add_components(bc)
        self._call("start snapshot set", bc.start_snapshot_set)
        for name in system.volume_names():
            guid_path = system.volume_guid_path(name)
            self._call(f"add {name} to snapshot set",
                       partial(bc.add_to_snapshot_set, guid_path, self.provider_id))
            self.volumes_added.append(name)
        if not self.volumes_added:
            raise _Failed(None)  # no fixed drive: nothing to freeze (AbortBackup, no error)
        self._call_and_wait("prepare for backup", bc.prepare_for_backup)
        self._call_and_wait("gather writer status", bc.gather_writer_status)
        # Start quiescing; the provider sets the frozen event once everything is frozen.
        op = self._call("do snapshot set", bc.do_snapshot_set)
        self.snapshot_async = op
        self._wait_for_frozen(op)
        return len(self.volumes_added)

    def _set_context(self, bc: BackupComponents) -> None:
        context = QGA_CONTEXT
        try:
            bc.set_context(context)
        except VssUnsupportedContextError:
            # Client editions of Windows cannot make transportable shadow copies.
            context &= ~int(_A.TRANSPORTABLE)
            self._call("set backup context", lambda: bc.set_context(context))
        except VssError as exc:
            raise _Failed(QgaError(hresult=exc.hresult,
                                   message=f"failed to set backup context: {exc}")) from None
        self.context = context

    def _add_components(self, bc: BackupComponents) -> None:
        """``AddComponents``: walk every writer's metadata, add each selectable component."""
        count = self._call("get writer metadata count", bc.get_writer_metadata_count)
        for i in range(count):
            _, wmd = self._call(f"get writer metadata of {i}/{count}",
                                partial(bc.get_writer_metadata, i))
            identity = wmd.identity
            for comp in wmd.components:
                if not comp.selectable:
                    continue
                self._call(
                    f"add component {comp.component_name}({identity.writer_name})",
                    partial(bc.add_component, identity.instance_id, identity.writer_id,
                            comp.component_type, comp.logical_path, comp.component_name))
                self.components_added.append(
                    (identity.writer_id, comp.logical_path, comp.component_name))

    def _wait_for_frozen(self, op: Async) -> None:
        """Poll ``QueryStatus`` until the provider's frozen event (at most ``freeze_wait``)."""
        frozen = self._frozen
        if frozen is None:
            raise _Failed(QgaError(hresult=hresult.E_FAIL, message="no frozen event"))
        clock = self.system.clock
        for _ in range(round(self.freeze_wait / self.poll_interval)):
            status = op.query_status()
            self.polls.append(status)
            if status != hresult.VSS_S_ASYNC_PENDING:
                raise _Failed(QgaError(
                    hresult=hresult.E_FAIL,
                    message="DoSnapshotSet exited without Frozen event "
                            f"({hresult.name_of(status)})"))
            if frozen.wait(self.poll_interval):
                return
            clock.sleep(self.poll_interval)
        # VSS gave up on its own: the agent returns without AbortBackup.
        raise _Failed(QgaError(
            hresult=hresult.E_FAIL,
            message="timeout when try to receive Frozen event from VSS provider"), abort=False)

    # -- guest-fsfreeze-thaw ----------------------------------------------------------------
    def thaw(self) -> FsfreezeResult:
        """``requester_thaw``: returns the number of thawed volumes, and the error if any."""
        thaw, op, bc = self._thaw, self.snapshot_async, self.bc
        if thaw is None or op is None or bc is None:
            # DoSnapshotSet was aborted or never started: nothing is frozen, no error.
            return FsfreezeResult(volumes=0)
        self._note("guest-fsfreeze-thaw", "SetEvent(thaw)")
        thaw.set()
        code = wait_for_async(op)
        self.snapshot_status = code
        error: QgaError | None = None
        if code == hresult.VSS_S_ASYNC_FINISHED:
            try:
                completion = bc.backup_complete()
            except VssError as exc:
                error = QgaError(hresult=exc.hresult, message=f"failed to complete backup: {exc}")
            else:
                done = wait_for_async(completion)
                if hresult.is_error(done):
                    error = QgaError(hresult=done, message="failed to complete backup")
        elif code == hresult.VSS_E_OBJECT_NOT_FOUND:
            # Windows before 2008 SP2 ignores NO_AUTORECOVERY and fails the final commit; the
            # guest was frozen all the same, so this is no error.
            self._abort_backup()
        elif code == hresult.VSS_E_UNEXPECTED_PROVIDER_ERROR and not (
                self._timeout is not None and self._timeout.is_set()):
            error = QgaError(hresult=code, message="unexpected error in VSS provider")
        elif code in (hresult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
                      hresult.VSS_E_HOLD_WRITES_TIMEOUT):
            error = QgaError(hresult=code,
                             message="couldn't hold writes: fsfreeze is limited up to 10 seconds")
        else:
            error = QgaError(hresult=code, message="failed to do snapshot set")
        if error is not None:
            self._note("ThawFailed", str(error))
            self._abort_backup()
        volumes = self.frozen_volumes
        self._cleanup()
        return FsfreezeResult(volumes=volumes, error=error)


def wait_for_async(op: Async) -> int:
    """The agent's ``WaitForAsync``: ``Wait``, then ``QueryStatus`` until it is not pending;
    returns the operation's status (or the failing HRESULT of ``Wait``)."""
    while True:
        code = op.wait()
        if hresult.is_error(code):
            return code
        status = op.query_status()
        if status != hresult.VSS_S_ASYNC_PENDING:
            return status


# ---------------------------------------------------------------------------------------------
# The host side
# ---------------------------------------------------------------------------------------------
class Hypervisor:
    """The host: snapshots the guest's disks between ``guest-fsfreeze-freeze`` and ``-thaw``.

    :meth:`snapshot_disks` copies every volume image (all of it: the guest's writes are held)
    and lets ``seconds`` pass on the machine's clock, the time the host's snapshot takes.
    :meth:`copy_of` hands a copy to the QGA provider when it commits.
    """

    def __init__(self, system: VssSystem) -> None:
        self.system = system
        self.copies: dict[str, MemoryDevice] = {}

    def snapshot_disks(self, seconds: float) -> None:
        """Copy every disk image, then spend ``seconds`` of clock time."""
        if not seconds >= 0:
            raise ValueError(f"seconds={seconds!r} must be a non-negative number")
        self.copies.clear()
        for name in self.system.volume_names():
            volume = self.system.volume(name)
            data = volume.read(0, volume.size)
            self.copies[self.system.volume_guid_path(name)] = MemoryDevice.from_bytes(
                data, block_size=volume.block_size)
        self.system.tracer.emit("hypervisor", "hypervisor", EventKind.NOTE, "DiskSnapshot",
                                f"{len(self.copies)} disk image(s) copied; {seconds:g} s "
                                "on the host")
        self.system.clock.sleep(seconds)

    def copy_of(self, volume: VolumeInfo) -> BlockDevice | None:
        """The copy of ``volume``, or None if the host made none."""
        return self.copies.get(volume.guid_path)

    def mount(self, volume_name: str) -> SimFS:
        """The file system on the host's copy of ``volume_name`` (for a restore check)."""
        device = self.copies.get(self.system.volume_guid_path(volume_name))
        if device is None:
            raise ValueError(f"the host has no snapshot of {volume_name}: snapshot_disks first")
        return SimFS.mount(device, roots=[volume_name])


# ---------------------------------------------------------------------------------------------
# The demonstration
# ---------------------------------------------------------------------------------------------
def build_guest(system: VssSystem) -> tuple[QgaProvider, QgaRequester, Hypervisor,
                                            KvStoreWriter]:
    """A guest with C:\\ holding the KvStore and the file share, their writers, and qemu-ga."""
    volume = system.add_volume("C:\\", size=16 * 2**20)
    kv = system.add_application(KvStoreApp(volume.fs))
    share = system.add_application(FileShareApp(volume.fs))
    writer = KvStoreWriter(kv)
    system.add_writer(writer)
    system.add_writer(FileShareWriter(share))
    events = NamedEvents()
    hypervisor = Hypervisor(system)
    provider = QgaProvider(events, hypervisor.copy_of)
    system.add_provider(provider)
    return provider, QgaRequester(system, events), hypervisor, writer


def _timeline(trace: Trace) -> str:
    """The trace without application activity and state echoes, indented."""
    shown = trace.filter(where=lambda e: e.kind not in (EventKind.APP, EventKind.STATE))
    return "\n".join(f"  {line}" for line in shown.to_text().splitlines())


def main() -> None:
    """Freeze, snapshot on the host, thaw; then a host that takes 12 s, past the 10 s hold."""
    started = time.perf_counter()
    with VssSystem(seed=11) as system:
        provider, agent, hypervisor, writer = build_guest(system)
        system.run_applications(20)

        print("== 1. guest-fsfreeze-freeze, a 3-second host snapshot, guest-fsfreeze-thaw")
        since = len(system.trace)
        frozen = agent.freeze()
        pending = agent.snapshot_async.query_status() if agent.snapshot_async else 0
        hypervisor.snapshot_disks(seconds=3.0)
        thawed = agent.thaw()
        trace = system.trace[since:]
        print(_timeline(trace))
        print(f"freeze: {frozen}; context 0x{agent.context or 0:08x}; "
              f"{len(agent.polls)} QueryStatus poll(s); DoSnapshotSet while frozen: "
              f"{hresult.name_of(pending)}")
        print(f"thaw:   {thawed}; DoSnapshotSet {hresult.name_of(agent.snapshot_status or 0)}")
        print(f"writes held {trace.duration('FlushAndHoldWrites', 'ReleaseWrites') or 0:.3f} s "
              "on the clock (the host took 3 s)")
        for name in (writer.writer_name, "File Share Writer"):
            print(f"{name}: {' -> '.join(trace.writer_states(name))}")
        store = KvStore.open(hypervisor.mount("C:\\"), "C:\\KvStore")
        print(f"the host's copy: KvStore needs recovery: {store.recovery.needed}; holds the "
              f"state of the Freeze: {store.state == writer.state_at_freeze}")
        print(f"shadow copies listed by VSS: {len(system.all_snapshots())} "
              f"({provider.provider_name})")

        print("\n== 2. the host takes 12 s: more than the kernel's 10-second hold")
        since = len(system.trace)
        frozen = agent.freeze()
        hypervisor.snapshot_disks(seconds=12.0)
        thawed = agent.thaw()
        trace = system.trace[since:]
        print(_timeline(trace.between("FlushAndHoldWrites", "BackupShutdown")))
        print(f"freeze: {frozen}")
        print(f"thaw:   {thawed}")
        print(f"AbortBackup calls: {trace.count_of('AbortBackup')}; provider's wait ended by: "
              f"{provider.wait_outcome}; shadow copies listed: {len(system.all_snapshots())}")
        if thawed.error is None or thawed.error.hresult != hresult.VSS_E_HOLD_WRITES_TIMEOUT:
            raise SystemExit("expected VSS_E_HOLD_WRITES_TIMEOUT from the slow host")
        print(f"\nvirtual time: {system.clock.now():.2f} s; real time: "
              f"{time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
