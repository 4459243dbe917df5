"""The provider and snapshot-management side, one test per subtle rule of the providers
reference §9 (rules 26-28 are about vssadmin and diskshadow, tested with the CLI)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.providers.conftest import FakeProvider
from vsssim import BackupComponents
from vsssim import hresult as hr
from vsssim.constants import (
    BackupType,
    ObjectType,
    ProviderType,
    SnapshotContext,
    SnapshotState,
    VolumeSnapshotAttributes,
)
from vsssim.coordinator import PROVIDER_ALLOWED
from vsssim.errors import (
    VssBadStateError,
    VssError,
    VssInvalidArgumentError,
    VssMaximumNumberOfSnapshotsReachedError,
    VssNotImplementedError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
    VssProviderNotRegisteredError,
    VssProviderVetoError,
    VssRevertInProgressError,
    VssUnsupportedContextError,
    VssVolumeInUseError,
    VssVolumeNotSupportedByProviderError,
    VssVolumeNotSupportedError,
)
from vsssim.faults import FaultPlan, ProviderFault
from vsssim.options import VssOptions
from vsssim.providers.base import GUID_NULL
from vsssim.providers.system import SYSTEM_PROVIDER_ID
from vsssim.system import VssSystem
from vsssim.trace import EventKind

_A = VolumeSnapshotAttributes
CTX = SnapshotContext


def _writerless_set(system: VssSystem, *volumes: str) -> BackupComponents:
    """A writerless (NAS_ROLLBACK) snapshot set of ``volumes``, started and not yet created."""
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.set_context(CTX.NAS_ROLLBACK)
    bc.start_snapshot_set()
    for volume in volumes:
        bc.add_to_snapshot_set(volume)
    return bc


def snapshot(system: VssSystem, *volumes: str, context: int = CTX.NAS_ROLLBACK,
             provider: UUID = GUID_NULL) -> tuple[Any, list[UUID]]:
    """A writerless snapshot set of ``volumes`` (returns the requester, still alive)."""
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.set_context(context)
    writers = not context & _A.NO_WRITERS
    if writers:
        bc.gather_writer_metadata().result()
        bc.set_backup_state(False, False, BackupType.FULL)
    bc.start_snapshot_set()
    ids = [bc.add_to_snapshot_set(v, provider) for v in volumes]
    if writers:
        bc.prepare_for_backup().result()
    bc.do_snapshot_set().result()
    return bc, ids


def provider_of(system: VssSystem, snapshot_id: UUID) -> UUID:
    return system.snapshot_properties(snapshot_id).provider_id


# --------------------------------------------------------------------------------------
def test_rule_01_precedence_hardware_software_system_per_volume(machine: VssSystem) -> None:
    hw = machine.add_provider(FakeProvider("HW", ProviderType.HARDWARE, volumes=("D:\\",)))
    sw = machine.add_provider(FakeProvider("SW", volumes=("C:\\", "D:\\")))
    bc, (c, d) = snapshot(machine, "C:\\", "D:\\")
    assert provider_of(machine, c) == sw.provider_id  # no hardware provider for C:
    assert provider_of(machine, d) == hw.provider_id  # one set mixes providers
    bc.release()
    machine.add_volume("E:\\", size=4 * 2**20)
    _bc2, (e,) = snapshot(machine, "E:\\")
    assert provider_of(machine, e) == SYSTEM_PROVIDER_ID


def test_rule_01_hardware_tiebreak_is_configurable(tmp_path: Path) -> None:
    for tiebreak, expected in (("registration", "ZZ array"), ("name", "AA array")):
        with VssSystem(tmp_path / tiebreak, options=VssOptions(hardware_tiebreak=tiebreak)
                       ) as system:
            system.add_volume("C:\\", size=4 * 2**20)
            system.add_provider(FakeProvider("ZZ array", ProviderType.HARDWARE))
            system.add_provider(FakeProvider("AA array", ProviderType.HARDWARE))
            _, (sid,) = snapshot(system, "C:\\")
            chosen = system.provider(provider_of(system, sid)).provider_name
            assert chosen == expected


def test_rule_02_is_volume_supported_means_ever(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", options=VssOptions(max_snapshots_per_volume=2)) as system:
        system.add_volume("C:\\", size=4 * 2**20)
        snapshot(system, "C:\\")
        snapshot(system, "C:\\")
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        bc.set_context(CTX.NAS_ROLLBACK)
        assert bc.is_volume_supported("C:\\")  # still True at the limit
        bc.start_snapshot_set()
        with pytest.raises(VssMaximumNumberOfSnapshotsReachedError):
            bc.add_to_snapshot_set("C:\\")  # the "now" failure


def test_rule_03_three_not_supported_errors(machine: VssSystem) -> None:
    d_only = machine.add_provider(FakeProvider("D only", volumes=("D:\\",)))
    machine.add_volume("F:\\", size=4 * 2**20, filesystem="FAT32")
    bc = machine.create_backup_components()
    bc.initialize_for_backup()
    bc.set_context(CTX.APP_ROLLBACK)
    bc.start_snapshot_set()
    with pytest.raises(VssProviderNotRegisteredError):
        bc.add_to_snapshot_set("C:\\", UUID(int=7))
    with pytest.raises(VssVolumeNotSupportedByProviderError):
        bc.add_to_snapshot_set("C:\\", d_only.provider_id)
    with pytest.raises(VssVolumeNotSupportedError):
        bc.add_to_snapshot_set("F:\\")  # persistent copies need NTFS (rule 25)
    assert bc.document.snapshots == []


def test_rule_04_no_partial_commit(machine: VssSystem) -> None:
    calls: list[str] = []
    machine.add_provider(FakeProvider("A", volumes=("C:\\",), calls=calls))
    machine.add_provider(FakeProvider("B", volumes=("D:\\",), calls=calls,
                                      fail={"CommitSnapshots": hr.VSS_E_PROVIDER_VETO}))
    bc = _writerless_set(machine, "C:\\", "D:\\")
    op = bc.do_snapshot_set()
    assert op.query_status() == hr.VSS_E_PROVIDER_VETO
    assert "A.AbortSnapshots" in calls and "B.AbortSnapshots" in calls
    assert machine.all_snapshots() == []  # A's committed copy was dropped too


def test_rule_05_no_abort_snapshots_before_end_prepare(machine: VssSystem) -> None:
    calls: list[str] = []
    fake = machine.add_provider(FakeProvider("P", calls=calls))
    bc = _writerless_set(machine, "C:\\")
    bc.abort_backup()  # before DoSnapshotSet: the provider hears nothing
    bc.release()
    assert calls == []
    # With BeginPrepare at AddToSnapshotSet the provider sees a set that never completes; the
    # next BeginPrepareSnapshot with a new set id starts over.
    with VssSystem(machine.root.parent / "m2",
                   options=VssOptions(begin_prepare_at="add_to_snapshot_set")) as system:
        system.add_volume("C:\\", size=4 * 2**20)
        calls2: list[str] = []
        system.add_provider(FakeProvider("Q", calls=calls2))
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        bc.set_context(CTX.NAS_ROLLBACK)
        bc.start_snapshot_set()
        bc.add_to_snapshot_set("C:\\")
        bc.abort_backup()
        bc.release()
        assert calls2 == ["Q.BeginPrepareSnapshot"]  # no AbortSnapshots
        snapshot(system, "C:\\")
        assert calls2.count("Q.BeginPrepareSnapshot") == 2
        assert "Q.AbortSnapshots" not in calls2
    assert fake.query() == []


@pytest.mark.parametrize(("code", "seen"), [
    (hr.VSS_E_INSUFFICIENT_STORAGE, hr.VSS_E_INSUFFICIENT_STORAGE),  # allowed: passed on
    (hr.E_FAIL, hr.VSS_E_UNEXPECTED_PROVIDER_ERROR),  # not allowed: translated
    (hr.S_FALSE, hr.VSS_E_UNEXPECTED_PROVIDER_ERROR),
    (RuntimeError("provider bug"), hr.VSS_E_UNEXPECTED_PROVIDER_ERROR),
])
def test_rule_06_provider_hresults_are_normalised(machine: VssSystem, code: Any,
                                                  seen: int) -> None:
    machine.add_provider(FakeProvider("P", fail={"PreCommitSnapshots": code}))
    bc = _writerless_set(machine, "C:\\")
    assert bc.do_snapshot_set().query_status() == seen
    if seen == hr.VSS_E_UNEXPECTED_PROVIDER_ERROR:
        assert machine.trace.first("ProviderErrorTranslated") or machine.trace.first(
            "ProviderRaised")


@pytest.mark.parametrize("code", sorted(PROVIDER_ALLOWED - {hr.S_OK}), ids=hr.name_of)
def test_rule_06_an_allowed_provider_code_reaches_the_requester_as_its_own_error(
        machine: VssSystem, code: int) -> None:
    """A code VSS passes on untranslated is raised as the exception of that code (not as
    VSS_E_UNEXPECTED naming it): every allowed code has its class in vsssim.errors."""
    machine.add_provider(FakeProvider("P", fail={"PreCommitSnapshots": code}))
    bc = _writerless_set(machine, "C:\\")
    with pytest.raises(VssError) as info:
        bc.do_snapshot_set().result()
    assert info.value.hresult == code


def test_rule_06_abort_snapshots_return_is_not_translated(machine: VssSystem) -> None:
    machine.add_provider(FakeProvider("P", fail={"CommitSnapshots": hr.VSS_E_PROVIDER_VETO,
                                                 "AbortSnapshots": hr.E_FAIL}))
    bc = _writerless_set(machine, "C:\\")
    assert bc.do_snapshot_set().query_status() == hr.VSS_E_PROVIDER_VETO
    assert machine.trace.first("ProviderErrorTranslated") is None


def test_rule_07_the_hold_covers_only_commit_and_ends_with_the_last_one(
        machine: VssSystem) -> None:
    machine.add_provider(FakeProvider("A", volumes=("C:\\",)))
    machine.add_provider(FakeProvider("B", volumes=("D:\\",)))
    snapshot(machine, "C:\\", "D:\\")
    names = [(e.kind, e.name, e.target) for e in machine.trace
             if e.kind in (EventKind.PROVIDER, EventKind.HOLD, EventKind.RELEASE)]
    hold = next(i for i, n in enumerate(names) if n[0] == EventKind.HOLD)
    release = next(i for i, n in enumerate(names) if n[0] == EventKind.RELEASE)
    inside = [n[1] for n in names[hold + 1:release]]
    assert inside == ["CommitSnapshots", "CommitSnapshots"]  # both providers, nothing else
    assert names[release + 1][1] == "PostCommitSnapshots"


def test_rule_07_holding_longer_than_10_seconds_fails(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep: list[float] = []  # virtual seconds: nothing sleeps for real
    monkeypatch.setattr(time, "sleep", lambda s: real_sleep.append(s))
    plan = FaultPlan([ProviderFault("CommitSnapshots", hresult=None, delay=12.0)])
    with VssSystem(tmp_path / "m", faults=plan) as system:
        system.add_volume("C:\\", size=4 * 2**20)
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        bc.set_context(CTX.NAS_ROLLBACK)
        bc.start_snapshot_set()
        bc.add_to_snapshot_set("C:\\")
        op = bc.do_snapshot_set()
        assert op.query_status() == hr.VSS_E_HOLD_WRITES_TIMEOUT
        assert sum(real_sleep) < 0.1, real_sleep
        timeout = system.trace.first("HoldWritesTimeout")
        hold = system.trace.first("FlushAndHoldWrites")
        assert timeout is not None and hold is not None
        assert timeout.time - hold.time == pytest.approx(10.0)
        assert system.all_snapshots() == []


def test_rule_08_and_09_provider_calls_interleave_with_writer_events(
        machine: VssSystem) -> None:
    from tests.core.conftest import RecordingWriter

    machine.volume("C:\\").fs.makedirs("C:\\W")
    machine.add_writer(RecordingWriter("W"))
    machine.backup(["C:\\"], copy_files=False)
    seq = [e.name for e in machine.trace if e.kind in (EventKind.EVENT, EventKind.PROVIDER)
           and e.name != "Identify"]
    order = ["PrepareForSnapshot", "BeginPrepareSnapshot", "EndPrepareSnapshots", "Freeze",
             "PreCommitSnapshots", "CommitSnapshots", "PostCommitSnapshots", "Thaw",
             "PreFinalCommitSnapshots", "PostSnapshot", "PostFinalCommitSnapshots"]
    positions = [seq.index(name) for name in order]
    assert positions == sorted(positions)


def test_rule_09_the_copy_is_writable_only_between_the_final_commits(tmp_path: Path) -> None:
    from tests.core.conftest import RecordingWriter

    seen: dict[str, Any] = {}

    def post(w: RecordingWriter, comps: Any) -> bool:
        device = w.get_snapshot_device_name("C:\\")
        fs = w.shadow_copy_fs("C:\\")
        fs.write_file("\\W\\recovered.txt", b"fixed up in PostSnapshot")
        seen["device"] = device
        return True

    for ctx, writable in ((CTX.APP_ROLLBACK, True),
                          (CTX.APP_ROLLBACK | _A.NO_AUTORECOVERY, False)):
        with VssSystem(tmp_path / f"m{ctx}") as system:
            system.add_volume("C:\\", size=4 * 2**20).fs.makedirs("C:\\W")
            w = RecordingWriter("W", answers={"PostSnapshot": post})
            system.add_writer(w)
            result = system.backup(["C:\\"], context=ctx, copy_files=False)
            (props,) = system.all_snapshots()
            fs = system.shadow_fs(props.snapshot_id)
            assert fs.exists("\\W\\recovered.txt") is writable
            assert result.succeeded is writable
            with pytest.raises(Exception, match=r"read-only|E_ACCESSDENIED"):
                fs.write_file("\\W\\later.txt", b"too late")


def test_rule_10_requesters_only_see_created_copies(machine: VssSystem) -> None:
    assert SnapshotState.POSTCOMMITTED == 15
    seen: dict[str, Any] = {}
    from tests.core.conftest import RecordingWriter

    def freeze(w: RecordingWriter) -> bool:
        sid = seen["bc"].document.snapshot_set_id
        seen["query"] = [p for p in seen["bc"]._system.all_snapshots()
                         if p.snapshot_set_id == sid]
        return True

    machine.volume("C:\\").fs.makedirs("C:\\W")
    machine.add_writer(RecordingWriter("W", answers={"Freeze": freeze}))
    bc = machine.create_backup_components()
    seen["bc"] = bc
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    bc.set_backup_state(False, False, BackupType.FULL)
    bc.start_snapshot_set()
    sid = bc.add_to_snapshot_set("C:\\")
    with pytest.raises(VssObjectNotFoundError):
        bc.get_snapshot_properties(sid)  # not created yet
    bc.prepare_for_backup().result()
    bc.do_snapshot_set().result()
    assert seen["query"] == []  # during creation Query lists nothing of the set
    assert bc.get_snapshot_properties(sid).status == SnapshotState.CREATED


def test_rule_11_query_is_filtered_by_context(machine: VssSystem) -> None:
    snapshot(machine, "C:\\", context=CTX.NAS_ROLLBACK)
    snapshot(machine, "C:\\", context=CTX.CLIENT_ACCESSIBLE)
    views = {}
    for ctx in (CTX.NAS_ROLLBACK, CTX.CLIENT_ACCESSIBLE, CTX.APP_ROLLBACK, CTX.ALL):
        bc = machine.create_backup_components()
        bc.initialize_for_backup()
        bc.set_context(ctx)
        views[ctx] = len(bc.query())
        if ctx == CTX.ALL:
            with pytest.raises(VssUnsupportedContextError):
                bc.start_snapshot_set()  # VSS_CTX_ALL cannot create copies
        bc.release()
    assert views == {CTX.NAS_ROLLBACK: 1, CTX.CLIENT_ACCESSIBLE: 1, CTX.APP_ROLLBACK: 0,
                     CTX.ALL: 2}


def test_rule_12_set_context_rules(machine: VssSystem) -> None:
    bc = machine.create_backup_components()
    bc.initialize_for_backup()
    for bad in (CTX.APP_ROLLBACK | _A.DIFFERENTIAL | _A.PLEX,
                CTX.CLIENT_ACCESSIBLE | _A.TRANSPORTABLE, 0x12345, CTX.BACKUP | _A.PERSISTENT):
        with pytest.raises(VssInvalidArgumentError):
            bc.set_context(bad)
    refused = [e for e in machine.trace if e.name == "SetContext" and e.get("refused")]
    assert len(refused) == 4  # each refused call says so in the trace
    bc.set_context(CTX.APP_ROLLBACK | _A.TRANSPORTABLE)
    with pytest.raises(VssBadStateError, match="SetContext"):
        bc.set_context(CTX.BACKUP)  # once only


def test_rule_13_snapshots_count_is_the_count_at_creation(machine: VssSystem) -> None:
    bc, ids = snapshot(machine, "C:\\", "D:\\")
    deleted, _ = bc.delete_snapshots(ids[0], ObjectType.SNAPSHOT)
    assert deleted == 1
    assert bc.get_snapshot_properties(ids[1]).snapshots_count == 2


def test_rule_14_device_names_and_trailing_backslashes(machine: VssSystem) -> None:
    machine.volume("C:\\").fs.write_file("C:\\dir\\f.txt", b"x", create_dirs=True)
    bc, (sid,) = snapshot(machine, "C:\\")
    props = bc.get_snapshot_properties(sid)
    device = props.snapshot_device_object
    assert device.startswith("\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy")
    assert not device.endswith("\\")
    assert props.original_volume_name.startswith("\\\\?\\Volume{")
    assert props.original_volume_name.endswith("\\")
    assert machine.shadow_fs(sid).read_file(device + "\\dir\\f.txt") == b"x"
    bc2 = machine.create_backup_components()
    bc2.initialize_for_backup()
    bc2.start_snapshot_set()
    with pytest.raises(VssInvalidArgumentError, match="backslash"):
        bc2.add_to_snapshot_set("C:")


def test_rule_15_three_lifetimes(machine: VssSystem) -> None:
    auto, (a,) = snapshot(machine, "C:\\", context=CTX.BACKUP)
    _, (n,) = snapshot(machine, "C:\\", context=CTX.BACKUP | _A.NO_AUTO_RELEASE)
    _, (p,) = snapshot(machine, "C:\\", context=CTX.APP_ROLLBACK)
    alive = {s.snapshot_id for s in machine.all_snapshots()}
    assert alive == {a, n, p}
    auto.release()
    assert {s.snapshot_id for s in machine.all_snapshots()} == {n, p}
    machine.reboot()
    assert {s.snapshot_id for s in machine.all_snapshots()} == {p}


def test_rule_16_delete_set_is_sequential_and_stops_at_the_first_failure(
        machine: VssSystem) -> None:
    bc, ids = snapshot(machine, "C:\\", "D:\\")
    set_id = bc.document.snapshot_set_id
    # Expose the second copy: deleting it without force fails.
    bc.expose_snapshot(ids[1], None, _A.EXPOSED_LOCALLY, "X:")
    with pytest.raises(VssVolumeInUseError) as info:
        bc.delete_snapshots(set_id, ObjectType.SNAPSHOT_SET)
    assert info.value.deleted == 1  # type: ignore[attr-defined]
    assert info.value.non_deleted_id == ids[1]  # type: ignore[attr-defined]
    assert [s.snapshot_id for s in machine.all_snapshots()] == [ids[1]]  # not transactional
    assert bc.delete_snapshots(set_id, ObjectType.SNAPSHOT_SET, True) == (1, GUID_NULL)


def test_rule_17_exposure_rules(machine: VssSystem) -> None:
    auto, (volatile,) = snapshot(machine, "C:\\", context=CTX.BACKUP)
    with pytest.raises(VssBadStateError, match="persistent"):
        auto.expose_snapshot(volatile, None, _A.EXPOSED_LOCALLY, "X:")
    _, (ca,) = snapshot(machine, "C:\\", context=CTX.CLIENT_ACCESSIBLE)
    bc = machine.create_backup_components()
    bc.initialize_for_backup()
    bc.set_context(CTX.ALL)
    with pytest.raises(VssBadStateError, match="client-accessible"):
        bc.expose_snapshot(ca, None, _A.EXPOSED_LOCALLY, "Y:")
    _, (p,) = snapshot(machine, "C:\\", context=CTX.APP_ROLLBACK)
    with pytest.raises(VssInvalidArgumentError, match="path_from_root"):
        bc.expose_snapshot(p, "\\dir", _A.EXPOSED_LOCALLY, "X:")
    with pytest.raises(VssObjectAlreadyExistsError):
        bc.expose_snapshot(p, None, _A.EXPOSED_LOCALLY, "C:")  # a volume's letter
    assert bc.expose_snapshot(p, None, _A.EXPOSED_LOCALLY, "x:") == "X:"
    props = bc.get_snapshot_properties(p)
    assert props.exposed_name == "X:" and props.exposed_path is None
    assert props.snapshot_attributes & _A.EXPOSED_LOCALLY
    with pytest.raises(VssObjectAlreadyExistsError):
        bc.expose_snapshot(p, None, _A.EXPOSED_REMOTELY, "share")  # one exposure per copy
    machine.reboot()
    props = machine.snapshot_properties(p)
    assert props.exposed_name == "X:"  # persists across reboot
    assert machine.exposed("X:").read(0, 16) == machine.shadow_fs(p).device.read(0, 16)


def test_rule_17_remote_exposure_is_a_read_only_host_directory(machine: VssSystem) -> None:
    machine.volume("C:\\").fs.write_file("C:\\docs\\a.txt", b"alpha", create_dirs=True)
    bc, (sid,) = snapshot(machine, "C:\\", context=CTX.APP_ROLLBACK)
    machine.volume("C:\\").fs.write_file("C:\\docs\\a.txt", b"changed")
    name = bc.expose_snapshot(sid, "\\docs", _A.EXPOSED_REMOTELY, "OldDocs")
    share = machine.root / "shares" / name
    assert (share / "a.txt").read_bytes() == b"alpha"
    assert not (share / "a.txt").stat().st_mode & 0o222
    assert bc.get_snapshot_properties(sid).exposed_path == "\\docs"
    bc.unexpose_snapshot(sid)
    assert not share.exists()
    with pytest.raises(VssObjectNotFoundError):
        bc.unexpose_snapshot(sid)


def test_rule_18_software_copies_cannot_be_broken(machine: VssSystem) -> None:
    bc, (sid,) = snapshot(machine, "C:\\")
    with pytest.raises(VssProviderVetoError):
        bc.break_snapshot_set(bc.document.snapshot_set_id)
    assert [s.snapshot_id for s in machine.all_snapshots()] == [sid]


def test_rule_19_revert_rules(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "client", edition="client", os_version="10") as client:
        client.add_volume("C:\\", size=4 * 2**20)
        _, (sid,) = snapshot(client, "C:\\", context=CTX.CLIENT_ACCESSIBLE)
        bc = client.create_backup_components()
        bc.initialize_for_backup()
        bc.set_context(CTX.ALL)
        with pytest.raises(VssNotImplementedError):
            bc.revert_to_snapshot(sid)
    with VssSystem(tmp_path / "server") as server:
        vol = server.add_volume("C:\\", size=4 * 2**20)
        vol.fs.write_file("C:\\f.txt", b"v1")
        auto, (volatile,) = snapshot(server, "C:\\", context=CTX.BACKUP)
        with pytest.raises(VssUnsupportedContextError):
            auto.revert_to_snapshot(volatile)
        _, (sid,) = snapshot(server, "C:\\", context=CTX.APP_ROLLBACK)
        vol.fs.write_file("C:\\f.txt", b"v2")
        bc = server.create_backup_components(async_mode="manual")
        bc.initialize_for_backup()
        bc.set_context(CTX.ALL)
        handle = vol.fs.open("C:\\f.txt", "rb")  # the volume is in use
        with pytest.raises(VssVolumeInUseError):
            bc.revert_to_snapshot(sid)
        handle.close()
        bc.revert_to_snapshot(sid)
        with pytest.raises(VssRevertInProgressError):
            bc.revert_to_snapshot(sid)
        status = bc.query_revert_status("C:\\")
        assert status.cancel() != hr.S_OK  # a revert cannot be cancelled
        assert status.query_status() == hr.VSS_S_ASYNC_PENDING
        status.wait()
        assert status.query_status() == hr.VSS_S_ASYNC_FINISHED
        assert vol.fs.read_file("C:\\f.txt") == b"v1"


def test_rule_19_revert_continues_after_a_reboot(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m") as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        vol.fs.write_file("C:\\big.bin", bytes(range(256)) * 8192)  # 2 MiB
        _, (sid,) = snapshot(system, "C:\\", context=CTX.APP_ROLLBACK)
        vol.fs.write_file("C:\\big.bin", b"\xff" * (2 * 2**20))
        bc = system.create_backup_components(async_mode="manual")
        bc.initialize_for_backup()
        bc.set_context(CTX.ALL)
        bc.revert_to_snapshot(sid)
        status = bc.query_revert_status("C:\\")
        assert status.step() == "revert"  # part of the blocks are back ...
        system.reboot()  # ... and the machine restarts in the middle
        assert system.trace.first("RevertResumed") is not None
        assert system.volume("C:\\").fs.read_file("C:\\big.bin") == bytes(range(256)) * 8192
        assert [s.snapshot_id for s in system.all_snapshots()] == [sid]


def test_rule_20_copy_on_write_granularity_is_16_kib(machine: VssSystem) -> None:
    vol = machine.volume("C:\\")
    snapshot(machine, "C:\\")
    before = vol.stats.cow_blocks
    vol.write(100, b"x")  # one byte ...
    assert vol.stats.cow_blocks - before == 1  # ... preserves one 16 KiB block
    vol.write(200, b"y")  # the same block again: nothing more to preserve
    assert vol.stats.cow_blocks - before == 1
    assert vol.block_size == 16 * 1024


def test_rule_21_deleting_a_middle_copy_keeps_older_copies_exact(machine: VssSystem) -> None:
    vol = machine.volume("C:\\")
    offsets = [16384 * 300, 16384 * 310]  # raw blocks far from the file system's metadata
    contents = []
    ids = []
    for i in range(3):
        for off in offsets:
            vol.write(off, bytes([i + 1]) * 100)
        contents.append([vol.read(off, 100) for off in offsets])
        ids.append(snapshot(machine, "C:\\")[1][0])
    bc = machine.create_backup_components()
    bc.initialize_for_backup()
    bc.set_context(CTX.NAS_ROLLBACK)
    bc.delete_snapshots(ids[1], ObjectType.SNAPSHOT)
    for i in (0, 2):
        dev = machine.snapshot_device(ids[i])
        assert [dev.read(off, 100) for off in offsets] == contents[i]


def test_rule_22_space_pressure_deletes_oldest_first(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", options=VssOptions(min_shadow_storage=0)) as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        system.add_shadow_storage("C:\\", "C:\\", 64 * 16384)
        ids = [snapshot(system, "C:\\")[1][0]]
        for i in range(1, 4):
            vol.write(0, bytes([i]) * (48 * 16384))  # 48 blocks preserved per copy
            ids.append(snapshot(system, "C:\\")[1][0])
        alive = [s.snapshot_id for s in system.all_snapshots()]
        assert alive == ids[-len(alive):]  # the oldest went first
        assert len(alive) < 4
        assert system.trace.first("ShadowCopyPurged") is not None


def test_rule_23_two_per_volume_limits(tmp_path: Path) -> None:
    opts = VssOptions(client_accessible_limit=2, max_snapshots_per_volume=4)
    with VssSystem(tmp_path / "m", options=opts) as system:
        system.add_volume("C:\\", size=4 * 2**20)
        ca = [snapshot(system, "C:\\", context=CTX.CLIENT_ACCESSIBLE)[1][0] for _ in range(3)]
        assert [s.snapshot_id for s in system.all_snapshots()] == ca[1:]  # oldest purged
        snapshot(system, "C:\\", context=CTX.NAS_ROLLBACK)
        snapshot(system, "C:\\", context=CTX.NAS_ROLLBACK)
        with pytest.raises(VssMaximumNumberOfSnapshotsReachedError):
            snapshot(system, "C:\\", context=CTX.NAS_ROLLBACK)  # refused, not purged


def test_rule_24_diff_area_sizing(machine: VssSystem) -> None:
    assert machine.min_shadow_storage("C:\\") == 32 * 10**6  # small volume
    with pytest.raises(VssInvalidArgumentError, match="at least"):
        machine.add_shadow_storage("C:\\", "D:\\", 10 * 10**6)
    machine.add_shadow_storage("C:\\", "D:\\", None)  # unbounded
    with pytest.raises(VssObjectAlreadyExistsError):
        machine.add_shadow_storage("C:\\", "D:\\", None)
    (info,) = machine.shadow_storage(for_volume="C:\\")
    assert (info.on_volume, info.max_size) == ("D:\\", None)
    snapshot(machine, "C:\\")
    with pytest.raises(VssVolumeInUseError):
        machine.resize_shadow_storage("C:\\", "D:\\", 0)  # 0 deletes, not with copies
    machine.resize_shadow_storage("C:\\", "D:\\", 40 * 10**6)
    assert machine.shadow_storage(on_volume="D:\\")[0].max_size == 40 * 10**6
    machine.add_volume("E:\\", size=2 * 2**20)
    snapshot(machine, "E:\\")
    with pytest.raises(VssVolumeInUseError):
        machine.add_shadow_storage("E:\\", "D:\\", None)  # E: already has copies


def test_rule_25_ntfs_rules(machine: VssSystem) -> None:
    machine.add_volume("F:\\", size=4 * 2**20, filesystem="FAT32")
    _bc, (sid,) = snapshot(machine, "F:\\", context=CTX.BACKUP)  # non-persistent: fine
    assert machine.snapshot_properties(sid).snapshot_attributes & _A.PERSISTENT == 0
    with pytest.raises(VssVolumeNotSupportedError):
        snapshot(machine, "F:\\", context=CTX.APP_ROLLBACK)
    with pytest.raises(VssVolumeNotSupportedError):
        machine.add_shadow_storage("C:\\", "F:\\", None)


def test_rule_30_on_unload_force_must_answer_true(machine: VssSystem) -> None:
    class Clingy(FakeProvider):
        def on_unload(self, force: bool) -> bool:
            return False

    machine.add_provider(Clingy("Clingy"))
    machine.reboot()
    assert machine.trace.first("OnUnloadViolation") is not None


def test_shutting_the_machine_down_unloads_every_provider(machine: VssSystem) -> None:
    class Clingy(FakeProvider):
        def on_unload(self, force: bool) -> bool:
            return False

    fake = machine.add_provider(FakeProvider("Fake"))
    machine.add_provider(Clingy("Clingy"))
    assert fake.host is machine
    machine.close()
    assert machine.trace.first("OnUnloadViolation") is not None  # OnUnload(TRUE) at shutdown
    with pytest.raises(VssBadStateError):
        fake.host  # noqa: B018 - unloaded: the provider let go of the machine


def test_rule_32_event_log_entries_while_frozen_are_flagged(machine: VssSystem) -> None:
    class Chatty(FakeProvider):
        def commit_snapshots(self, snapshot_set_id: UUID) -> Any:
            self.host.log_event(self.provider_name, "committing")  # forbidden while frozen
            return super().commit_snapshots(snapshot_set_id)

    machine.add_provider(Chatty("Chatty"))
    snapshot(machine, "C:\\")
    assert machine.trace.first("EventLogWhileFrozen") is not None


def test_a_provider_that_fails_to_close_does_not_keep_the_machine_up(machine: VssSystem) -> None:
    class Broken(FakeProvider):
        def close(self) -> None:
            raise RuntimeError("the array went away")

    machine.add_provider(Broken("Broken"))
    volume = machine.volume("C:\\")
    with pytest.raises(RuntimeError, match="array went away"):
        machine.close()
    assert volume.closed  # the volumes were closed all the same
    with pytest.raises(VssBadStateError, match="shut down"):
        machine.identify()
    machine.close()  # and the machine counts as closed
