"""The QEMU guest agent's VSS requester (``examples/qga_vss.py``) as a real client of vsssim.

``DoSnapshotSet`` runs on a background thread while the agent polls ``QueryStatus``; the agent's
provider holds its commit inside the flush-and-hold until the "hypervisor" (the test) has copied
the disk images and thaws.  What the agent does is checked against ``requester.cpp``: the calls
and their order, the context fallback, the hold timeout, AbortBackup on errors.  Every wait is on
the virtual clock: a 12-second host snapshot costs milliseconds, and nothing here measures real
time.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._writers import ReadyWriter
from vsssim import (
    BackupType,
    ComponentType,
    EventKind,
    RestoreMethod,
    SnapshotContext,
    VolumeSnapshotAttributes,
    VssOptions,
    VssSystem,
    WriterComponents,
    WriterMetadataBuilder,
    hresult,
)
from vsssim.apps import FileShareApp, FileShareWriter, KvStore, KvStoreApp, KvStoreWriter
from vsssim.trace import Trace

ROOT = Path(__file__).resolve().parents[2]
_A = VolumeSnapshotAttributes
PENDING = hresult.VSS_S_ASYNC_PENDING


def _load_example() -> ModuleType:
    """Import ``examples/qga_vss.py`` (examples are scripts, not a package)."""
    name = "qga_vss"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "qga_vss.py")
    if spec is None or spec.loader is None:
        raise ImportError("examples/qga_vss.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


qga: Any = _load_example()


class ProbeKvStoreWriter(KvStoreWriter):
    """The KvStore writer, noting the events it gets and what the session told it."""

    def __init__(self, app: KvStoreApp, *, veto_freeze: bool = False) -> None:
        super().__init__(app)
        self.veto_freeze = veto_freeze
        self.events: list[str] = []
        self.seen: dict[str, object] = {}

    def on_prepare_backup(self, components: WriterComponents) -> bool:
        self.events.append("PrepareForBackup")
        self.seen.update(bootable=self.is_bootable_system_state_backed_up(),
                         backup_type=self.get_backup_type(),
                         component_mode=self.are_components_selected(),
                         context=self.get_context())
        return True

    def on_freeze(self) -> bool:
        self.events.append("Freeze")
        frozen = super().on_freeze()
        return frozen and not self.veto_freeze

    def on_thaw(self) -> bool:
        self.events.append("Thaw")
        return super().on_thaw()

    def on_abort(self) -> bool:
        self.events.append("Abort")
        return super().on_abort()

    def on_backup_complete(self, components: WriterComponents) -> bool:
        self.events.append("BackupComplete")
        return super().on_backup_complete(components)


class TwoComponentWriter(ReadyWriter):
    """A writer on D:\\ with a selectable component and a non-selectable (required) one."""

    writer_id = UUID("5f0c2a7e-1d3b-4e8a-9c6f-2b7d4e1a0c93")
    writer_name = "Two Component Writer"

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        for name, selectable in (("Optional", True), ("Required", False)):
            metadata.add_component(ComponentType.FILEGROUP, "", name, selectable=selectable)
            metadata.add_files_to_file_group("", name, f"D:\\{name}", "*", True)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True


class BlockingFreezeWriter(TwoComponentWriter):
    """A writer whose Freeze handler blocks (in real time) until the test lets it go."""

    writer_id = UUID("0e6b7c1d-94f2-4b8e-a3d5-6c2f8e9b1a47")
    writer_name = "Blocking Writer"

    def __init__(self) -> None:
        self.release = threading.Event()

    def on_freeze(self) -> bool:
        self.release.wait(5.0)
        return True


@dataclass
class Guest:
    """A Windows guest running qemu-ga, and the host that snapshots its disks."""

    system: VssSystem
    events: Any  # qga_vss.NamedEvents
    provider: Any  # qga_vss.QgaProvider
    agent: Any  # qga_vss.QgaRequester
    host: Any  # qga_vss.Hypervisor
    kv: KvStoreApp
    kv_writer: ProbeKvStoreWriter
    share_writer: FileShareWriter

    def cycle(self, host_seconds: float) -> tuple[Any, Any, Trace]:
        """freeze, host snapshot taking ``host_seconds`` on the clock, thaw."""
        since = len(self.system.trace)
        frozen = self.agent.freeze()
        if frozen.ok:
            self.host.snapshot_disks(host_seconds)
        thawed = self.agent.thaw()
        return frozen, thawed, self.system.trace[since:]


def make_guest(root: Path, *, seed: int = 5, veto_freeze: bool = False,
               thaw_wait: float = 60.0, **system_args: Any) -> Guest:
    system = VssSystem(root, seed=seed, **system_args)
    c = system.add_volume("C:\\", size=8 * 2**20)
    d = system.add_volume("D:\\", size=4 * 2**20)
    for name in ("Optional", "Required"):
        d.fs.write_file(f"D:\\{name}\\file.dat", name.encode(), create_dirs=True)
    kv = KvStoreApp(c.fs)
    system.add_application(kv)
    share = FileShareApp(c.fs)
    system.add_application(share)
    kv_writer = ProbeKvStoreWriter(kv, veto_freeze=veto_freeze)
    share_writer = FileShareWriter(share)
    for writer in (kv_writer, share_writer, TwoComponentWriter()):
        system.add_writer(writer)
    events = qga.NamedEvents()
    host = qga.Hypervisor(system)
    provider = qga.QgaProvider(events, host.copy_of, thaw_wait=thaw_wait)
    system.add_provider(provider)
    system.run_applications(15)
    return Guest(system, events, provider, qga.QgaRequester(system, events), host, kv,
                 kv_writer, share_writer)


@pytest.fixture
def guest(tmp_path: Path) -> Iterator[Guest]:
    g = make_guest(tmp_path / "guest")
    with g.system:
        yield g


def _seq(trace: Trace, name: str, **criteria: str) -> int:
    event = trace.first(name, **criteria)
    assert event is not None, f"no {name} in the trace"
    return event.seq


def _assert_nothing_left(g: Guest) -> None:
    """After a failed freeze or thaw: no copy, no lock, no hold, no events, no object."""
    assert [s for s in g.system.all_snapshots()
            if s.provider_id == qga.QGA_PROVIDER_ID] == []
    assert g.system.coordinator.creating is None
    assert not any(g.system.volume(n).is_held for n in g.system.volume_names())
    assert g.events.open(qga.EVENT_NAME_FROZEN) is None
    assert g.agent.bc is None
    assert not g.kv.suspended


# -- the happy path ------------------------------------------------------------------------------
def test_freeze_runs_the_agents_call_sequence(guest: Guest) -> None:
    frozen, thawed, trace = guest.cycle(3.0)
    assert frozen.ok and thawed.ok, (frozen, thawed)
    assert frozen.volumes == thawed.volumes == 2
    calls = [e.name for e in trace.filter(kind=EventKind.CALL, source="requester")]
    assert calls == [
        "CreateVssBackupComponents", "InitializeForBackup", "SetBackupState", "SetContext",
        "GatherWriterMetadata", "AddComponent", "AddComponent", "AddComponent",
        "StartSnapshotSet", "AddToSnapshotSet", "AddToSnapshotSet", "PrepareForBackup",
        "GatherWriterStatus", "DoSnapshotSet", "BackupComplete", "Release"]
    assert guest.agent.context == qga.QGA_CONTEXT == (
        SnapshotContext.APP_ROLLBACK | _A.TRANSPORTABLE | _A.NO_AUTORECOVERY | _A.TXF_RECOVERY)


def test_every_selectable_component_is_added(guest: Guest) -> None:
    expected = {(wmd.identity.writer_id, c.logical_path, c.component_name)
                for _, wmd in guest.system.identify() for c in wmd.components if c.selectable}
    frozen, _, trace = guest.cycle(1.0)
    assert frozen.ok
    added = set(guest.agent.components_added)
    assert added == expected
    assert (TwoComponentWriter.writer_id, "", "Optional") in added
    assert (TwoComponentWriter.writer_id, "", "Required") not in added  # not selectable
    assert trace.count_of("AddComponent") == len(expected) == 3


def test_the_backup_is_full_component_mode_with_bootable_system_state(guest: Guest) -> None:
    frozen, thawed, _ = guest.cycle(1.0)
    assert frozen.ok and thawed.ok
    seen = guest.kv_writer.seen
    assert seen["bootable"] is True
    assert seen["component_mode"] is True
    assert seen["backup_type"] == BackupType.FULL
    assert seen["context"] == qga.QGA_CONTEXT


def test_the_qga_provider_takes_every_volume(guest: Guest) -> None:
    frozen, thawed, trace = guest.cycle(2.0)
    assert frozen.ok and thawed.ok
    results = trace.filter(kind=EventKind.RESULT, name="AddToSnapshotSet")
    assert [e.get("provider") for e in results] == [qga.QGA_PROVIDER_NAME] * 2
    assert guest.agent.volumes_added == guest.system.volume_names() == ["C:\\", "D:\\"]
    copies = guest.system.all_snapshots()
    assert {s.provider_id for s in copies} == {qga.QGA_PROVIDER_ID}
    assert {s.original_volume_name for s in copies} == {
        guest.system.volume_guid_path(n) for n in ("C:\\", "D:\\")}
    for s in copies:  # persistent, transportable, no auto-recovery, a full copy
        for bit in (_A.PERSISTENT, _A.TRANSPORTABLE, _A.NO_AUTORECOVERY, _A.PLEX):
            assert s.snapshot_attributes & bit


def test_do_snapshot_set_is_pending_while_the_guest_is_frozen(guest: Guest) -> None:
    agent, system = guest.agent, guest.system
    frozen = agent.freeze()
    assert frozen.ok
    op = agent.snapshot_async
    assert op.query_status() == PENDING
    assert agent.polls and all(p == PENDING for p in agent.polls)
    # Inside the flush-and-hold: writes held, the writers' applications suspended.
    assert system.volume("C:\\").is_held
    assert guest.kv.suspended
    assert guest.kv_writer.events[-1] == "Freeze"
    guest.host.snapshot_disks(4.0)
    assert op.query_status() == PENDING  # the clock moved, the provider still holds
    thawed = agent.thaw()
    assert thawed.ok
    assert agent.snapshot_status == hresult.VSS_S_ASYNC_FINISHED
    assert not system.volume("C:\\").is_held
    assert not guest.kv.suspended


def test_writers_freeze_before_the_hold_and_thaw_after_it(guest: Guest) -> None:
    _, thawed, trace = guest.cycle(2.0)
    assert thawed.ok
    provider = qga.QGA_PROVIDER_NAME
    for writer in (guest.kv_writer.writer_name, guest.share_writer.writer_name):
        assert _seq(trace, "Freeze", target=writer) < _seq(trace, "FlushAndHoldWrites")
        assert _seq(trace, "Thaw", target=writer) > _seq(trace, "ReleaseWrites")
    assert (_seq(trace, "FlushAndHoldWrites") < _seq(trace, "Frozen", source=provider)
            < _seq(trace, "DiskSnapshot") < _seq(trace, "guest-fsfreeze-thaw")
            < _seq(trace, "Thawed", source=provider) < _seq(trace, "ReleaseWrites"))
    assert guest.kv_writer.events == ["PrepareForBackup", "Freeze", "Thaw", "BackupComplete"]


def test_the_hosts_copy_restores_the_applications_with_no_recovery(guest: Guest) -> None:
    _, thawed, _ = guest.cycle(2.0)
    assert thawed.ok
    fs = guest.host.mount("C:\\")
    store = KvStore.open(fs, "C:\\KvStore")
    assert not store.recovery.needed
    assert store.state == guest.kv_writer.state_at_freeze
    share = guest.share_writer.files_at_freeze
    assert share  # the share had documents to back up
    assert {p: fs.read_file(p) for p in share} == share
    # VSS lists the same copy through the QGA provider.
    copy = next(s for s in guest.system.all_snapshots()
                if s.original_volume_name == guest.system.volume_guid_path("C:\\"))
    device = guest.system.snapshot_device(copy.snapshot_id)
    assert device is guest.host.copies[guest.system.volume_guid_path("C:\\")]


def test_backup_complete_is_sent_after_the_snapshot_set_finished(guest: Guest) -> None:
    _, thawed, trace = guest.cycle(1.0)
    assert thawed.ok
    done = trace.first("DoSnapshotSet", kind=EventKind.RESULT)
    assert done is not None and done.detail == "VSS_S_ASYNC_FINISHED"
    assert done.seq < _seq(trace, "BackupComplete", kind=EventKind.CALL) < _seq(
        trace, "Release")
    assert "BackupComplete" in guest.kv_writer.events
    assert trace.count_of("AbortBackup") == 0


@pytest.mark.parametrize("host_seconds", [0.0, 2.5, 9.0])
def test_the_hold_lasts_as_long_as_the_host(guest: Guest, host_seconds: float) -> None:
    _, thawed, trace = guest.cycle(host_seconds)
    assert thawed.ok
    held = trace.duration("FlushAndHoldWrites", "ReleaseWrites")
    assert held is not None
    # The provider signals "frozen" right after the hold starts; at most a few of the agent's
    # 10 ms polls fall in between.  After the thaw, nothing moves the clock but VSS.
    assert host_seconds <= held <= host_seconds + 0.1
    release = trace.first("ReleaseWrites")
    assert release is not None and release.get("held") == pytest.approx(held)


def test_once_the_agent_is_done_other_backups_use_the_system_provider(guest: Guest) -> None:
    _, thawed, _ = guest.cycle(1.0)
    assert thawed.ok
    assert guest.events.open(qga.EVENT_NAME_FROZEN) is None
    result = guest.system.backup(["C:\\"], copy_files=False)
    assert result.succeeded
    added = result.trace.first("AddToSnapshotSet", kind=EventKind.RESULT)
    assert added is not None and added.get("provider") == guest.system.system_provider.provider_name


def test_freeze_twice_and_thaw_twice_like_the_agent(guest: Guest) -> None:
    assert guest.agent.thaw() == qga.FsfreezeResult(volumes=0)  # nothing frozen: no error
    assert guest.agent.freeze().volumes == 2
    assert guest.agent.freeze() == qga.FsfreezeResult(volumes=0)  # already frozen
    guest.host.snapshot_disks(1.0)
    assert guest.agent.thaw() == qga.FsfreezeResult(volumes=2)
    assert guest.agent.thaw() == qga.FsfreezeResult(volumes=0)
    assert guest.system.trace.count_of("DoSnapshotSet") == 2  # the call and its result


# -- the context fallback ------------------------------------------------------------------------
def test_client_editions_get_the_context_without_transportable(tmp_path: Path) -> None:
    g = make_guest(tmp_path / "client", edition="client")
    with g.system:
        frozen, thawed, trace = g.cycle(1.0)
        assert frozen.ok and thawed.ok, (frozen, thawed)
        tries = trace.filter(kind=EventKind.CALL, name="SetContext")
        assert [e.detail for e in tries] == [f"0x{qga.QGA_CONTEXT:08x}",
                                             f"0x{qga.QGA_CONTEXT & ~_A.TRANSPORTABLE:08x}"]
        assert g.agent.context == qga.QGA_CONTEXT & ~_A.TRANSPORTABLE
        for s in g.system.all_snapshots():
            assert not s.snapshot_attributes & _A.TRANSPORTABLE
            assert s.snapshot_attributes & _A.NO_AUTORECOVERY


def test_server_editions_take_the_full_context_at_once(guest: Guest) -> None:
    _, _, trace = guest.cycle(1.0)
    assert trace.count_of("SetContext") == 1


# -- the 10-second hold --------------------------------------------------------------------------
@pytest.mark.parametrize("host_seconds", [10.5, 12.0, 45.0])
def test_a_host_slower_than_the_hold_gets_hold_writes_timeout(guest: Guest,
                                                              host_seconds: float) -> None:
    frozen, thawed, trace = guest.cycle(host_seconds)
    assert frozen.ok and frozen.volumes == 2
    assert thawed.volumes == 2  # the volumes were frozen, and are thawed now
    assert thawed.error is not None
    assert thawed.error.hresult == hresult.VSS_E_HOLD_WRITES_TIMEOUT
    assert "couldn't hold writes" in thawed.error.message
    assert guest.agent.snapshot_status == hresult.VSS_E_HOLD_WRITES_TIMEOUT
    assert guest.provider.wait_outcome == "hold expired"
    assert trace.first("HoldWritesTimeout") is not None
    # The agent aborts after the failed DoSnapshotSet, and never completes the backup.
    failed = trace.first("DoSnapshotSet", kind=EventKind.RESULT)
    assert failed is not None
    assert failed.seq < _seq(trace, "AbortBackup", kind=EventKind.CALL)
    assert trace.count_of("BackupComplete") == 0
    assert "Abort" in guest.kv_writer.events
    assert "BackupComplete" not in guest.kv_writer.events
    _assert_nothing_left(guest)
    # Nothing leaked: the next freeze works.
    frozen, thawed, _ = guest.cycle(1.0)
    assert frozen.ok and thawed.ok


def test_the_providers_own_timeout_without_a_host_copy(tmp_path: Path) -> None:
    # The provider waits thaw_wait seconds, then sets the timeout event; with no copy from the
    # host its commit fails, and the agent reports the unexpected provider error as a hold
    # that could not last (requester.cpp's fall-through).
    g = make_guest(tmp_path / "g", thaw_wait=5.0)
    with g.system:
        frozen = g.agent.freeze()
        assert frozen.ok
        g.system.clock.sleep(7.0)  # the host takes its time and copies nothing
        thawed = g.agent.thaw()
        assert g.provider.wait_outcome == "timeout"
        assert thawed.error is not None
        assert thawed.error.hresult == hresult.VSS_E_UNEXPECTED_PROVIDER_ERROR
        assert "couldn't hold writes" in thawed.error.message
        assert g.system.trace.count_of("AbortBackup") == 1
        _assert_nothing_left(g)


def test_a_provider_error_without_timeout_is_reported_as_such(guest: Guest) -> None:
    frozen = guest.agent.freeze()
    assert frozen.ok
    thawed = guest.agent.thaw()  # the host made no copy
    assert thawed.error is not None
    assert thawed.error.hresult == hresult.VSS_E_UNEXPECTED_PROVIDER_ERROR
    assert thawed.error.message == "unexpected error in VSS provider"
    _assert_nothing_left(guest)


# -- errors before the freeze --------------------------------------------------------------------
def test_a_writer_veto_at_freeze_makes_the_agent_abort(tmp_path: Path) -> None:
    g = make_guest(tmp_path / "veto", veto_freeze=True)
    with g.system:
        since = len(g.system.trace)
        frozen = g.agent.freeze()
        trace = g.system.trace[since:]
        assert frozen.volumes == 0
        assert frozen.error is not None
        assert frozen.error.hresult == hresult.E_FAIL
        assert frozen.error.message.startswith("DoSnapshotSet exited without Frozen event")
        assert hresult.name_of(hresult.VSS_E_UNEXPECTED_WRITER_ERROR) in frozen.error.message
        assert g.provider.frozen_at is None  # the commit never came
        assert trace.first("CommitSnapshots") is None
        failed = trace.first("DoSnapshotSet", kind=EventKind.RESULT)
        assert failed is not None
        assert failed.seq < _seq(trace, "AbortBackup", kind=EventKind.CALL) < _seq(
            trace, "Release")
        events = g.kv_writer.events
        assert events[:2] == ["PrepareForBackup", "Freeze"]
        assert set(events[2:]) == {"Abort"}  # VSS's Abort, then AbortBackup's (idempotent)
        _assert_nothing_left(g)
        # qemu-ga thaws after a failed freeze (guest-fsfreeze-freeze's clean-up): a no-op.
        assert g.agent.thaw() == qga.FsfreezeResult(volumes=0)


def test_no_volume_means_nothing_to_freeze(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "empty", seed=1) as system:
        events = qga.NamedEvents()
        system.add_provider(qga.QgaProvider(events, lambda volume: None))
        agent = qga.QgaRequester(system, events)
        assert agent.freeze() == qga.FsfreezeResult(volumes=0)
        assert system.trace.count_of("AbortBackup") == 1
        assert system.trace.first("PrepareForBackup") is None
        assert agent.bc is None
        assert events.open(qga.EVENT_NAME_THAW) is None


def test_a_failing_call_is_reported_with_its_hresult(tmp_path: Path) -> None:
    # Another requester holds the creation lock: StartSnapshotSet fails, the agent aborts.
    g = make_guest(tmp_path / "busy")
    with g.system:
        other = g.system.create_backup_components()
        other.initialize_for_backup()
        other.start_snapshot_set()
        frozen = g.agent.freeze()
        assert frozen.error is not None
        assert frozen.error.hresult == hresult.VSS_E_SNAPSHOT_SET_IN_PROGRESS
        assert frozen.error.message.startswith("failed to start snapshot set")
        assert g.system.trace.count_of("AbortBackup") == 1
        assert g.agent.bc is None
        other.release()


# -- a model: the host's time against the 10-second window ----------------------------------------
@settings(max_examples=12)
@given(host_seconds=st.one_of(st.floats(0.0, 9.5), st.floats(10.5, 40.0)), seed=st.integers(0, 50))
def test_the_outcome_follows_the_host_time(tmp_path_factory: pytest.TempPathFactory,
                                           host_seconds: float, seed: int) -> None:
    g = make_guest(tmp_path_factory.mktemp("model"), seed=seed)
    with g.system:
        frozen, thawed, trace = g.cycle(host_seconds)
        assert frozen.ok
        within = host_seconds < VssOptions().hold_timeout
        assert thawed.ok is within
        assert (trace.count_of("BackupComplete") > 0) is within
        assert trace.count_of("AbortBackup") == (0 if within else 1)
        if within:
            store = KvStore.open(g.host.mount("C:\\"), "C:\\KvStore")
            assert not store.recovery.needed
            assert store.state == g.kv_writer.state_at_freeze
        else:
            _assert_nothing_left(g)


def test_no_frozen_event_in_time_cleans_up_without_abort_backup(tmp_path: Path) -> None:
    # VSS_TIMEOUT_FREEZE_MSEC passed with DoSnapshotSet still pending: the current agent only
    # cleans up (VSS is assumed to have timed out itself); it does not call AbortBackup.
    g = make_guest(tmp_path / "slow")
    blocker = BlockingFreezeWriter()
    g.system.add_writer(blocker)
    with g.system:
        agent = qga.QgaRequester(g.system, g.events, freeze_wait=0.05)
        frozen = agent.freeze()
        blocker.release.set()
        assert frozen.error is not None
        assert frozen.error.hresult == hresult.E_FAIL
        assert frozen.error.message == ("timeout when try to receive Frozen event from VSS "
                                        "provider")
        assert len(agent.polls) == 5 and set(agent.polls) == {PENDING}
        assert g.system.trace.count_of("AbortBackup") == 0
        assert agent.bc is None
        # Released under it, DoSnapshotSet stops at its next step; wait until it has.
        deadline = time.monotonic() + 10.0
        while (g.system.trace.first("DoSnapshotSet", kind=EventKind.RESULT) is None
               and time.monotonic() < deadline):
            time.sleep(0.01)
        done = g.system.trace.first("DoSnapshotSet", kind=EventKind.RESULT)
        assert done is not None and done.detail != "VSS_S_ASYNC_FINISHED"
        assert g.system.coordinator.creating is None
        assert g.provider.frozen_at is None
        assert g.system.all_snapshots() == []
        assert not g.kv.suspended  # its writer got Abort
