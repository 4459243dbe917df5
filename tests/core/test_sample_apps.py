"""The point of VSS, shown with the sample key-value store and its writer.

With the writer, every backup holds the store exactly as it was at the freeze instant and opens
with no recovery.  Without it, the shadow copy is only crash-consistent: opening it replays the
log (or drops a torn record), and the test shows that it had to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vsssim.apps import FileShareApp, FileShareWriter, KvStore, KvStoreApp, KvStoreWriter
from vsssim.constants import BackupType, SnapshotContext
from vsssim.storage.blockdev import MemoryDevice
from vsssim.storage.simfs import SimFS
from vsssim.storage.simfs import format as format_fs
from vsssim.system import VssSystem
from vsssim.trace import EventKind


def _store_from_backup(target: Path) -> KvStore:
    """Put the backed-up files on a fresh file system and open the store from them."""
    device = MemoryDevice(8 * 2**20)
    format_fs(device)
    fs = SimFS.mount(device, roots=["C:\\"])
    root = target / "files" / "C"
    for host in root.rglob("*"):
        if host.is_file():
            rel = host.relative_to(root).as_posix().replace("/", "\\")
            fs.write_file("C:\\" + rel, host.read_bytes(), create_dirs=True)
    return KvStore.open(fs, "C:\\KvStore")


@pytest.mark.parametrize("seed", range(6))
def test_backup_with_the_writer_is_application_consistent(tmp_path: Path, seed: int) -> None:
    with VssSystem(tmp_path / "m", seed=seed) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        app = KvStoreApp(vol.fs)
        system.add_application(app)
        writer = KvStoreWriter(app)
        system.add_writer(writer)
        system.run_applications(10 + seed * 7)
        result = system.backup(["C:\\"], target_dir=tmp_path / "backup")
        assert result.succeeded, result.summary()
        assert result.live_reads == 0  # every byte came through the shadow copy
        restored = _store_from_backup(tmp_path / "backup")
        assert not restored.recovery.needed
        assert restored.state == writer.state_at_freeze
        # The application kept going and its writer resumed it.
        system.run_applications(5)
        assert not app.suspended


def test_without_the_writer_the_snapshot_is_only_crash_consistent(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=3) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        app = KvStoreApp(vol.fs, checkpoint_every=1000)
        system.add_application(app)
        system.run_applications(12)
        assert app.store.lsn > app.store.checkpoint_lsn  # changes only in the log
        at_hold: list[dict[bytes, bytes]] = []
        system.tracer.subscribe(lambda e: at_hold.append(app.state)
                                if e.name == "FlushAndHoldWrites" else None)
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.set_context(SnapshotContext.NAS_ROLLBACK)  # no writers
            bc.start_snapshot_set()
            snapshot_id = bc.add_to_snapshot_set("C:\\")
            assert bc.do_snapshot_set().succeeded
        store = KvStore.open(system.snapshot_device(snapshot_id).fs, "\\KvStore")
        assert store.recovery.needed  # the log had to be replayed
        assert store.recovery.replayed > 0
        assert store.state == at_hold[0]  # ...and gives the state of the instant of the hold


def test_a_torn_record_is_dropped_by_recovery(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=0) as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        app = KvStoreApp(vol.fs)
        rng = __import__("random").Random(1)
        app.run(rng, 1)  # half a record on disk
        assert app._pending is not None
        committed = app.state
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.set_context(SnapshotContext.NAS_ROLLBACK)
            bc.start_snapshot_set()
            sid = bc.add_to_snapshot_set("C:\\")
            bc.do_snapshot_set().result()
        store = KvStore.open(system.snapshot_device(sid).fs, "\\KvStore")
        assert store.recovery.torn_bytes > 0
        assert store.state == committed


def test_writes_during_flush_and_hold_wait_and_are_not_lost(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=5) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        share = FileShareApp(vol.fs)
        share.burst = 4
        system.add_application(share)  # no writer: it keeps writing through the hold
        result = system.backup(["C:\\"], context=SnapshotContext.NAS_ROLLBACK,
                               target_dir=tmp_path / "b")
        assert result.succeeded
        waits = result.trace.filter(kind=EventKind.APP, name="WriteWaits")
        resumes = result.trace.filter(kind=EventKind.APP, name="WriteResumes")
        assert len(waits) > 0
        assert len(resumes) == 1
        hold = result.trace.first("FlushAndHoldWrites")
        release = result.trace.first("ReleaseWrites")
        assert hold is not None and release is not None
        assert all(hold.seq < e.seq < release.seq for e in waits)
        assert resumes[0].seq > release.seq


def test_application_threads_really_wait_during_the_hold(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=2) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        app = KvStoreApp(vol.fs)
        system.add_application(app)
        writer = KvStoreWriter(app)
        system.add_writer(writer)
        system.start_applications(interval=0.0005)
        try:
            outcomes = []
            for i in range(3):
                target = tmp_path / f"b{i}"
                result = system.backup(["C:\\"], target_dir=target)
                outcomes.append(result.succeeded)
                restored = _store_from_backup(target)
                assert not restored.recovery.needed
                assert restored.state == writer.state_at_freeze
        finally:
            system.stop_applications()
        assert outcomes == [True, True, True]
        assert app.steps_run > 0
        # Nothing was lost: the live store reopens with every committed change.
        assert KvStore.open(vol.fs, "C:\\KvStore").state == app.state


def test_two_writers_freeze_in_level_order_and_report_downtime(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=4) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        kv = KvStoreApp(vol.fs)
        share = FileShareApp(vol.fs)
        system.add_application(kv)
        system.add_application(share)
        system.add_writer(KvStoreWriter(kv))
        fs_writer = FileShareWriter(share)
        system.add_writer(fs_writer)
        system.run_applications(15)
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        assert result.succeeded
        freezes = [e.target for e in result.trace.filter(kind=EventKind.EVENT, name="Freeze")]
        assert freezes == ["KvStore Writer", "File Share Writer"]
        assert set(result.downtime) == {"KvStore", "FileShare"}
        assert all(v > 0 for v in result.downtime.values())
        assert result.hold_time is not None and result.hold_time > 0
        assert "suspended" in result.summary() and "writes held" in result.summary()
        # Share files: exactly the documents at the freeze instant, scratch files excluded.
        backed = {f.path: f for f in result.files if f.writer == "File Share Writer"}
        assert fs_writer.files_at_freeze is not None
        assert set(backed) == set(fs_writer.files_at_freeze)
        assert not any(p.endswith(".tmp") for p in backed)


def test_same_seed_same_trace_and_guids(tmp_path: Path) -> None:
    def run(root: Path, seed: int) -> tuple[str, str]:
        with VssSystem(root, seed=seed) as system:
            vol = system.add_volume("C:\\", size=8 * 2**20)
            app = KvStoreApp(vol.fs)
            system.add_application(app)
            system.add_writer(KvStoreWriter(app))
            system.run_applications(8)
            result = system.backup(["C:\\"], backup_type=BackupType.COPY, target_dir=root / "b")
            return system.trace.to_text(show_data=True), result.components_xml

    a = run(tmp_path / "a", 7)
    b = run(tmp_path / "b", 7)
    c = run(tmp_path / "c", 8)
    assert a == b  # byte-identical trace, GUIDs and document
    assert a[1] != c[1]


def test_backup_result_and_backup_directory(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=0) as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        app = KvStoreApp(vol.fs)
        system.add_writer(KvStoreWriter(app))
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        target = tmp_path / "b"
        assert (target / "backup_components.xml").read_text() == result.components_xml
        assert sorted(p.name for p in (target / "writers").iterdir()) == ["0.xml"]
        manifest: dict[str, Any] = __import__("json").loads((target / "manifest.json").read_text())
        assert manifest["backup_type"] == "FULL"
        assert {f["path"] for f in manifest["files"]} == {
            "C:\\KvStore\\data.kv", "C:\\KvStore\\log\\wal.log"}
        assert all(f.snapshot_path.startswith("\\\\?\\GLOBALROOT\\Device\\") for f in result.files)


def test_a_vetoed_backup_copies_nothing_and_resumes_the_application(tmp_path: Path) -> None:
    from vsssim import hresult as hr
    from vsssim.faults import FaultPlan, WriterFault

    plan = FaultPlan([WriterFault("Thaw", writer="KvStore Writer", action="veto",
                                  hresult=hr.VSS_E_WRITERERROR_RETRYABLE)])
    with VssSystem(tmp_path / "m", seed=0, faults=plan) as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        app = KvStoreApp(vol.fs)
        system.add_writer(KvStoreWriter(app))
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        assert not result.succeeded
        assert result.hresult == hr.VSS_E_UNEXPECTED_WRITER_ERROR
        assert repr(result.hresult).startswith("<HResult.VSS_E_UNEXPECTED_WRITER_ERROR")  # by name
        assert result.files == []
        assert not app.suspended  # OnAbort resumed it
        assert system.all_snapshots() == []


@pytest.mark.parametrize("burst", [0, 2, 63, 64, 200])
def test_a_scheduling_point_runs_as_many_steps_as_randint_draws(tmp_path: Path,
                                                               burst: int) -> None:
    """The scheduler draws randint(0, burst) itself (its bit lengths from a table for small
    spans): the steps it runs and the generator's state must be randint's, for any burst."""
    import random

    from vsssim.apps.base import Application

    class Counter(Application):
        name = "counter"

        def step(self, rng: random.Random) -> None:
            pass

    with VssSystem(tmp_path / "m", seed=5) as system:
        app = Counter()
        app.burst = burst
        system.add_application(app)
        twin = random.Random()
        twin.setstate(system.scheduler.rng.getstate())
        expected = 0
        for _ in range(40):
            expected += twin.randint(0, burst)
            system.run_applications()
        assert app.steps_run == expected
        assert system.scheduler.rng.getstate() == twin.getstate()


def test_a_step_draws_its_key_and_value_as_randrange_and_randint_do(tmp_path: Path) -> None:
    """KvStoreApp draws a value's length with randrange(41) + 8: the records it writes, and the
    generator's state after them, must be those of randint(8, 48)."""
    import random

    with VssSystem(tmp_path / "m", seed=0) as system:
        app = KvStoreApp(system.add_volume("C:\\", size=8 * 2**20).fs, keys=1200,
                         checkpoint_every=1000)
        rng, twin = random.Random(7), random.Random(7)
        expected: dict[bytes, bytes] = {}
        for _ in range(400):
            key = f"key{twin.randrange(1200):03d}".encode()
            expected[key] = twin.randbytes(twin.randint(8, 48))
            app.run(rng, 2)  # half a record, then the other half
        assert app.state == expected
        assert rng.getstate() == twin.getstate()
        assert KvStore.open(app.store.fs, app.store.directory).state == expected


@pytest.mark.parametrize("finish", ["quiesce", "stop"])
def test_the_record_in_flight_is_finished_by_a_step(tmp_path: Path, finish: str) -> None:
    """quiesce() and stop() finish a half-written record as a step would: this class's own
    step, or a subclass's step when it has one."""
    import random

    steps: list[bool] = []  # whether each of the subclass's steps had a record in flight

    class Counting(KvStoreApp):
        def step(self, rng: random.Random) -> None:
            steps.append(self._pending is not None)
            super().step(rng)

    with VssSystem(tmp_path / "m", seed=0) as system:
        plain = KvStoreApp(system.add_volume("C:\\", size=8 * 2**20).fs)
        sub = Counting(system.add_volume("D:\\", size=8 * 2**20).fs, "D:\\KvStore")
        for app in (plain, sub):
            app.run(random.Random(1), 1)  # half a record on disk
            assert app._pending is not None
            lsn = app.store.lsn
            getattr(app, finish)()
            assert app._pending is None and app.store.lsn == lsn
            assert app.state == KvStore.open(app.store.fs, app.store.directory).state
        assert steps == [False, True]  # the subclass's step finished its record


def test_a_scheduling_point_runs_the_applications_only_without_their_own_threads(
        tmp_path: Path) -> None:
    """The machine's activity() (the coordinator's scheduling point) is the scheduler's: it
    draws and runs steps, unless start_applications gave the applications threads."""
    with VssSystem(tmp_path / "m", seed=3) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        app = KvStoreApp(vol.fs)
        app.burst = 0  # every draw is 0: the point draws, and runs nothing
        system.add_application(app)
        rng = system.scheduler.rng
        before = rng.getstate()
        system.activity("before Freeze -> KvStore")
        assert rng.getstate() != before
        system.start_applications(interval=0.001)
        try:
            during = rng.getstate()
            for _ in range(5):
                system.activity("before Freeze -> KvStore")
            assert rng.getstate() == during  # the threads run the application
        finally:
            system.stop_applications()
        system.activity("before Thaw -> KvStore")
        assert rng.getstate() != during


def test_the_summary_freeze_window_is_the_timelines(tmp_path: Path) -> None:
    """``BackupResult.freeze_windows`` (the summary's "freeze window") runs from the Freeze
    event to the Thaw event, the window the timeline draws, not to the end of OnThaw."""
    from vsssim.render.lanes import layout

    with VssSystem(tmp_path / "m", seed=0) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        kv = system.add_application(KvStoreApp(vol.fs))
        system.add_writer(KvStoreWriter(kv))
        share = system.add_application(FileShareApp(vol.fs, "C:\\Share"))
        system.add_writer(FileShareWriter(share))
        result = system.backup(["C:\\"])
    drawn = {w.actor: w.duration for w in layout(result.trace).windows if w.kind == "freeze"}
    assert set(drawn) == set(result.freeze_windows) == {"KvStore Writer", "File Share Writer"}
    for writer, secs in result.freeze_windows.items():
        assert secs == pytest.approx(drawn[writer], abs=1e-9)
        assert f"writer {writer}: freeze window {secs:.3f} s" in result.summary()


def test_a_stopped_custom_application_runs_no_steps(tmp_path: Path) -> None:
    """A subclass whose step ignores ``running``: once stopped, the base class runs none of its
    steps (no writes, none counted, nothing drawn), and it runs again after start()."""
    import random

    from vsssim.apps.base import Application

    class Appender(Application):
        name = "appender"

        def __init__(self, fs: SimFS) -> None:
            super().__init__()
            self.fs = fs

        def step(self, rng: random.Random) -> None:
            self.fs.append_file("C:\\log.txt", b"%d\n" % rng.randrange(10))

    with VssSystem(tmp_path / "m", seed=1) as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        vol.fs.write_file("C:\\log.txt", b"")
        app = system.add_application(Appender(vol.fs))
        system.run_applications(20)
        assert app.steps_run > 0
        app.stop()
        assert not app.running
        before, steps = vol.fs.read_file("C:\\log.txt"), app.steps_run
        clock = system.clock.now()
        system.run_applications(20)
        assert system.clock.now() == clock  # a stopped application's steps take no time
        rng = random.Random(4)
        state = rng.getstate()
        app.run(rng, 5)
        assert vol.fs.read_file("C:\\log.txt") == before
        assert app.steps_run == steps
        assert rng.getstate() == state
        app.start()
        app.run(rng, 3)
        assert app.steps_run == steps + 3
        assert vol.fs.read_file("C:\\log.txt") != before
