"""vsssim.testing's assertions: each passes on correct input and fails with a readable diff."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from vsssim import BackupType, FaultPlan, VssSystem, WriterFault, WriterState, hresult
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.backup import BackupResult
from vsssim.testing import (
    assert_consistent_restore,
    assert_event_order,
    assert_no_live_reads,
    assert_writer_states,
)
from vsssim.trace import EventKind

W = "KvStore Writer"
DOCUMENTED = ["PrepareForBackup", "PrepareForSnapshot", "Freeze", "Thaw", "PostSnapshot",
              "BackupComplete", "BackupShutdown"]


@pytest.fixture
def kv(vss: VssSystem) -> KvStoreApp:
    app = KvStoreApp(vss.volume("C:\\").fs)
    vss.add_application(app)
    vss.add_writer(KvStoreWriter(app))
    return app


@pytest.fixture
def backup(vss: VssSystem, kv: KvStoreApp, tmp_path: Path) -> BackupResult:
    result = vss.backup(["C:\\"], backup_type=BackupType.FULL, target_dir=tmp_path / "b")
    assert result.succeeded
    return result


def _message(exc: pytest.ExceptionInfo[AssertionError]) -> str:
    return str(exc.value)


# ---------------------------------------------------------------------------- event order
def test_event_order_passes_on_the_documented_order(backup: BackupResult,
                                                    vss: VssSystem) -> None:
    assert_event_order(backup, DOCUMENTED, writer=W)
    assert_event_order(backup, ["Identify", *DOCUMENTED], writer=W, exact=True)
    assert_event_order(backup, ["Freeze", "PostSnapshot"], writer=W)  # a subsequence
    assert_event_order(vss, ["DoSnapshotSet", "BackupComplete", "Release"], kind=EventKind.CALL)
    assert_event_order(backup.trace, ["PreCommitSnapshots", "CommitSnapshots"], kind="provider")
    assert_event_order(list(backup.trace), ["FlushAndHoldWrites", "ReleaseWrites"])
    assert_event_order(backup, ["Identify", "Freeze"], source=W, kind="reply")  # its replies
    assert_event_order(backup, ["CreateSnapshot", "DeleteSnapshot"], target="C:\\")


def test_event_order_filters_say_what_was_compared(backup: BackupResult) -> None:
    with pytest.raises(AssertionError, match=r"events of kind 'reply' from 'KvStore Writer' "
                                             r"to 'VSS': not in the expected order"):
        assert_event_order(backup, ["Thaw", "Freeze"], kind="reply", source=W, target="VSS")


def test_event_order_failure_shows_a_diff(backup: BackupResult) -> None:
    with pytest.raises(AssertionError) as exc:
        assert_event_order(backup, ["PrepareForBackup", "Thaw", "Freeze"], writer=W)
    msg = _message(exc)
    assert "writer events of 'KvStore Writer': not in the expected order" in msg
    assert "expected: PrepareForBackup, Thaw, Freeze" in msg
    assert "actual:   PrepareForBackup, Freeze, Thaw   (only the expected names)" in msg
    lines = msg.splitlines()
    # ndiff: the common head, then what is extra (+) and what is missing (-) around it.
    start = lines.index("  diff (- expected, + actual):")
    diff = [line.strip() for line in lines[start + 1:start + 5]]
    assert diff[0] == "PrepareForBackup"
    assert sorted(diff[1:]) == sorted(["+ Freeze", "Thaw", "- Freeze"])
    assert re.search(r"#\d+ +VSS -> KvStore Writer: Freeze", msg)  # the events themselves


def test_event_order_names_what_never_happened(backup: BackupResult) -> None:
    with pytest.raises(AssertionError) as exc:
        assert_event_order(backup, ["Freeze", "Abort", "Thaw"], writer=W)
    msg = _message(exc)
    assert "missing:  Abort" in msg
    assert "- Abort" in msg


def test_event_order_exact_shows_the_extra_events(backup: BackupResult) -> None:
    with pytest.raises(AssertionError) as exc:
        assert_event_order(backup, DOCUMENTED, writer=W, exact=True)
    msg = _message(exc)
    assert "not exactly the expected order" in msg
    assert "+ Identify" in msg


def test_event_order_misuse() -> None:
    with pytest.raises(TypeError, match="list of event names"):
        assert_event_order([], "Freeze")
    with pytest.raises(TypeError, match="a Trace, a BackupResult"):
        assert_event_order(42, ["Freeze"])


# ---------------------------------------------------------------------------- writer states
def test_writer_states_pass(vss: VssSystem, backup: BackupResult) -> None:
    assert_writer_states(backup, {W: WriterState.STABLE})
    assert_writer_states(backup, {W: "STABLE"}, exact=True)
    assert_writer_states(backup, {W: ("VSS_WS_STABLE", 0)})
    assert_writer_states(backup.writer_status, {W: 1})
    assert_writer_states(vss, {W: "STABLE"})  # the last state in the trace
    writer_id = backup.writer_status[0].instance_id
    assert_writer_states(backup, {writer_id: "STABLE"})


def test_writer_states_after_a_veto(vss: VssSystem, kv: KvStoreApp) -> None:
    vss.faults = FaultPlan([WriterFault("Freeze", action="veto",
                                        hresult=hresult.VSS_E_WRITERERROR_RETRYABLE)])
    with vss.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.gather_writer_metadata().wait()
        bc.set_backup_state(False, False, BackupType.FULL)
        bc.start_snapshot_set()
        bc.add_to_snapshot_set("C:\\")
        bc.prepare_for_backup().wait()
        bc.do_snapshot_set().wait()
        with pytest.raises(AssertionError, match="gather_writer_status"):
            assert_writer_states(bc, {W: "FAILED_AT_FREEZE"})
        bc.gather_writer_status().wait()
        assert_writer_states(bc, {W: ("FAILED_AT_FREEZE", "VSS_E_WRITERERROR_RETRYABLE")})
        assert_writer_states(vss, {W: "FAILED_AT_FREEZE"})
        with pytest.raises(AssertionError) as exc:
            assert_writer_states(bc, {W: "STABLE", "Other Writer": "STABLE"})
        bc.abort_backup()
    msg = _message(exc)
    assert "writer states differ (actual from GetWriterStatus):" in msg
    rows = {line.split()[1] if line.startswith("  !!") else "": line
            for line in msg.splitlines()}
    assert re.search(r"!! KvStore Writer +STABLE +FAILED_AT_FREEZE "
                     r"\(VSS_E_WRITERERROR_RETRYABLE\)", msg), rows
    assert re.search(r"!! Other Writer +STABLE +\(not reported\)", msg)


def test_writer_states_wrong_failure_and_exact(backup: BackupResult) -> None:
    with pytest.raises(AssertionError) as exc:
        assert_writer_states(backup, {W: ("STABLE", hresult.VSS_E_WRITERERROR_TIMEOUT)})
    assert re.search(r"!! KvStore Writer +STABLE \(VSS_E_WRITERERROR_TIMEOUT\) +STABLE$",
                     _message(exc), re.M)
    with pytest.raises(AssertionError) as exc:
        assert_writer_states(backup, {}, exact=True)
    assert re.search(r"!! KvStore Writer +\(not expected\) +STABLE", _message(exc))
    with pytest.raises(ValueError, match="not a writer state"):
        assert_writer_states(backup, {W: "HAPPY"})


# ---------------------------------------------------------------------------- live reads
def test_no_live_reads_of_a_backup(backup: BackupResult) -> None:
    assert_no_live_reads(backup)
    bad = BackupResult(succeeded=True, hresult=0, backup_type=BackupType.FULL, context=0,
                       live_reads=3)
    with pytest.raises(AssertionError, match=r"read the live volumes 3 time\(s\)"):
        assert_no_live_reads(bad)
    with pytest.raises(TypeError, match="takes a VssSystem"):
        assert_no_live_reads("C:\\")  # type: ignore[call-overload]


def test_no_live_reads_around_a_copy_loop(vss: VssSystem, kv: KvStoreApp) -> None:
    kv.store.put(b"k", b"v")
    with vss.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.gather_writer_metadata().wait()
        bc.set_backup_state(False, False, BackupType.FULL)
        bc.start_snapshot_set()
        snapshot_id = bc.add_to_snapshot_set("C:\\")
        bc.prepare_for_backup().wait()
        bc.do_snapshot_set().wait()
        shadow = vss.shadow_fs(snapshot_id)
        with assert_no_live_reads(vss) as check:
            assert shadow.read_file("\\KvStore\\data.kv")
        assert check.reads == {}
        with pytest.raises(AssertionError) as exc, assert_no_live_reads(vss):
            vss.volume("C:\\").fs.read_file("C:\\KvStore\\data.kv")  # the live volume
        bc.backup_complete().wait()
    msg = _message(exc)
    assert re.search(r"\d+ read\(s\) of the live volumes inside the block:", msg)
    assert re.search(r"C:\\: \d+ read\(s\)", msg)
    assert "copy the files from the shadow copies" in msg


def test_no_live_reads_without_with_warns(vss: VssSystem) -> None:
    with pytest.warns(RuntimeWarning, match="checks nothing unless used as"):
        assert_no_live_reads(vss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with assert_no_live_reads(vss):
            pass


# ---------------------------------------------------------------------------- restore
def test_consistent_restore_passes(vss: VssSystem, kv: KvStoreApp, tmp_path: Path) -> None:
    kv.store.put(b"k", b"v1")
    backup = vss.backup(["C:\\"], target_dir=tmp_path / "b")
    kv.store.put(b"k", b"v2")
    restored = assert_consistent_restore(vss, backup)
    assert restored.succeeded and restored.files
    assert_consistent_restore(vss, backup, restored)


def test_consistent_restore_catches_changed_and_missing_files(
        vss: VssSystem, kv: KvStoreApp, tmp_path: Path) -> None:
    kv.store.put(b"k", b"v1")
    backup = vss.backup(["C:\\"], target_dir=tmp_path / "b")
    restored = vss.restore(backup)
    fs = vss.volume("C:\\").fs
    data_file = "C:\\KvStore\\data.kv"
    fs.write_file(data_file, b"scribbled")
    fs.remove("C:\\KvStore\\log\\wal.log")
    with pytest.raises(AssertionError) as exc:
        assert_consistent_restore(vss, backup, restored)
    msg = _message(exc)
    assert f"the restore of the backup of set {{{backup.snapshot_set_id}}} is not consistent" \
        in msg
    assert re.search(r"C:\\KvStore\\data.kv: 9 bytes, not the \d+ bytes backed up from", msg)
    assert re.search(r"C:\\KvStore\\log\\wal.log: missing after the restore", msg)
    assert "restore summary:" in msg


def test_consistent_restore_runs_the_application_check(
        vss: VssSystem, kv: KvStoreApp, tmp_path: Path) -> None:
    kv.store.put(b"k", b"v1")
    backup = vss.backup(["C:\\"], target_dir=tmp_path / "b")

    def wrong(system: VssSystem) -> None:
        assert kv.state[b"k"] == b"v2", "k holds v1"

    with pytest.raises(AssertionError, match="the consistency check failed: k holds v1"):
        assert_consistent_restore(vss, backup, check=wrong)
    with pytest.raises(AssertionError, match="the consistency check returned False"):
        assert_consistent_restore(vss, backup, check=lambda s: False)
    with pytest.raises(TypeError, match="restore keywords"):
        assert_consistent_restore(vss, backup, vss.restore(backup), components=["x"])


def test_consistent_restore_refuses_the_wrong_objects(vss: VssSystem, kv: KvStoreApp,
                                                      tmp_path: Path) -> None:
    backup = vss.backup(["C:\\"], target_dir=tmp_path / "b")
    with pytest.raises(TypeError, match="system must be a VssSystem"):
        assert_consistent_restore(None, backup)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backup must be the BackupResult"):
        assert_consistent_restore(vss, tmp_path / "b")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="restore must be a RestoreResult"):
        assert_consistent_restore(vss, backup, backup)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="check must be a function"):
        assert_consistent_restore(vss, backup, check=True)  # type: ignore[arg-type]
