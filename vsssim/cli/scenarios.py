"""The scenarios of ``vsssim demo --scenario NAME``: each one a small VSS story on fresh machines.

Every scenario builds its own temporary machine(s) (never the lab machine), runs one thing
through the public API, and returns a :class:`ScenarioRun`: the trace, a few summary lines, what
to look at, and whether the run went the way the scenario explains (``as_expected``: a veto in
``writer-veto`` is expected; a ``--fail`` added to ``basic`` is not).

=================================  ============================================================
``basic``                          a full backup of C: with a key-value store and a file share,
                                   both writing all the time
``writer-veto``                    the store's writer vetoes Freeze: Abort, no shadow copy
``freeze-timeout``                 the store's writer takes 70 s at Freeze: the 60 s window ends
``hold-timeout``                   the provider's commit takes 12 s: the 10 s hold ends
``storage-full``                   a small shadow storage: the oldest shadow copies are purged
``excluded-writer``                the store without its writer: a crash-consistent copy
``restore-<method>``               backup, damage, restore with one ``VSS_RESTOREMETHOD_ENUM``
``two-providers``                  C: on the system provider, E: on a hardware provider, one set
``transportable``                  a hardware copy made on PROD, imported and broken on BACKUP
=================================  ============================================================
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from vsssim import hresult as hr
from vsssim.apps import FileShareApp, FileShareWriter, KvStore, KvStoreApp, KvStoreWriter
from vsssim.constants import (
    BackupType,
    RestoreMethod,
    SnapshotContext,
    VolumeSnapshotAttributes,
    WriterState,
)
from vsssim.faults import FaultPlan, ProviderFault, WriterFault
from vsssim.options import VssOptions
from vsssim.restore import ComponentRestore
from vsssim.system import VssSystem
from vsssim.trace import EventKind, Trace, TraceEvent

__all__ = ["SCENARIOS", "Scenario", "ScenarioContext", "ScenarioRun", "scenario_names"]

_A = VolumeSnapshotAttributes
MiB = 1 << 20


@dataclass
class ScenarioRun:
    """What a scenario did."""

    title: str
    trace: Trace
    summary: list[str]
    look_at: list[str]
    as_expected: bool


@dataclass
class ScenarioContext:
    """What a scenario gets: the seed, the extra faults of ``--fail``, where to put backups,
    and the observers (``--step``) every event of the story goes to.

    :meth:`machine` makes a machine whose events, once :meth:`start` is called, are recorded
    (with their actors prefixed by the machine name when a story has several machines).
    """

    seed: int = 0
    faults: list[WriterFault] = field(default_factory=list)
    target: Path | None = None
    observers: list[Callable[[TraceEvent], None]] = field(default_factory=list)
    events: list[TraceEvent] = field(default_factory=list)
    recording: bool = False
    _machines: list[VssSystem] = field(default_factory=list)
    _dirs: list[Path] = field(default_factory=list)

    def tempdir(self, prefix: str) -> Path:
        """A temporary directory removed when the scenario ends."""
        path = Path(tempfile.mkdtemp(prefix=f"vsssim-{prefix}-"))
        self._dirs.append(path)
        return path

    def machine(self, *, name: str = "VSSSIM01", prefix: bool = False,
                faults: list[Any] | None = None, options: VssOptions | None = None,
                root: Path | None = None) -> VssSystem:
        """A new machine (closed when the scenario ends)."""
        plan = FaultPlan([*(faults or []), *self.faults])
        system = VssSystem(root, seed=self.seed + len(self._machines), machine_name=name,
                           faults=plan, options=options)
        self._machines.append(system)
        tag = f"{name}: " if prefix else ""

        def record(event: TraceEvent) -> None:
            """Keep (and pass on) the machine's events once the story has started."""
            if not self.recording:
                return
            if tag:
                event = replace(event, source=tag + event.source, target=tag + event.target)
            event = replace(event, seq=len(self.events) + 1)
            self.events.append(event)
            for observer in self.observers:
                observer(event)

        system.tracer.subscribe(record)
        return system

    def start(self) -> None:
        """From now on, events are part of the story."""
        self.recording = True

    def backup_dir(self) -> Path:
        """Where a backup goes: ``--target`` or a temporary directory."""
        return self.target if self.target is not None else self.tempdir("backup")

    def close(self) -> None:
        """Close every machine and remove the temporary directories."""
        for system in self._machines:
            system.close()
        for path in self._dirs:
            shutil.rmtree(path, ignore_errors=True)

    def trace(self) -> Trace:
        """The recorded story."""
        return Trace(self.events)


@dataclass(frozen=True)
class Scenario:
    """A named story: its title, what it shows, and the function that runs it."""

    name: str
    title: str
    description: str
    run: Callable[[ScenarioContext], ScenarioRun]


# ------------------------------------------------------------------------------ helpers
def _store_machine(ctx: ScenarioContext, *, share: bool = True, faults: list[Any] | None = None,
                   options: VssOptions | None = None, **writer: Any
                   ) -> tuple[VssSystem, KvStoreApp, KvStoreWriter]:
    system = ctx.machine(faults=faults, options=options)
    vol = system.add_volume("C:\\", size=32 * MiB)
    kv = KvStoreApp(vol.fs)
    system.add_application(kv)
    kv_writer = KvStoreWriter(kv, **writer)
    system.add_writer(kv_writer)
    if share:
        fs_app = FileShareApp(vol.fs)
        system.add_application(fs_app)
        system.add_writer(FileShareWriter(fs_app))
    system.run_applications(20)
    return system, kv, kv_writer


def _status_failure(result_status: list[Any], writer: str) -> tuple[WriterState, int] | None:
    for st in result_status:
        if st.writer_name == writer:
            return st.state, st.failure
    return None


# ---------------------------------------------------------------------------- scenarios
def _basic(ctx: ScenarioContext) -> ScenarioRun:
    system, _kv, _w = _store_machine(ctx)
    ctx.start()
    result = system.backup(["C:\\"], target_dir=ctx.backup_dir())
    return ScenarioRun(
        "A full backup of C: while two applications keep writing", ctx.trace(),
        result.summary().splitlines(),
        ["The freeze window (F): the applications are suspended only between Freeze and Thaw.",
         "The hold window (H): the kernel holds writes only around CommitSnapshots.",
         "The files are copied from the shadow copy after Thaw, while the applications "
         "write again (the CopyFile events read \\\\?\\GLOBALROOT\\...)."],
        result.succeeded)


def _writer_veto(ctx: ScenarioContext) -> ScenarioRun:
    veto = WriterFault("Freeze", writer="KvStore Writer", action="veto",
                       hresult=hr.VSS_E_WRITERERROR_RETRYABLE,
                       application_message="the database is busy")
    system, _kv, _w = _store_machine(ctx, faults=[veto])
    ctx.start()
    result = system.backup(["C:\\"], target_dir=ctx.backup_dir())
    status = _status_failure(result.writer_status, "KvStore Writer")
    return ScenarioRun(
        "A writer vetoes Freeze", ctx.trace(), result.summary().splitlines(),
        ["KvStore Writer answers Freeze with a veto (VSS_E_WRITERERROR_RETRYABLE).",
         "VSS aborts the set: AbortSnapshots to the provider, Abort to every writer.",
         "DoSnapshotSet fails; the writer status says [9] FAILED_AT_FREEZE, retryable: try "
         "again later."],
        not result.succeeded and status is not None
        and status[0] == WriterState.FAILED_AT_FREEZE
        and status[1] == hr.VSS_E_WRITERERROR_RETRYABLE)


def _freeze_timeout(ctx: ScenarioContext) -> ScenarioRun:
    slow = WriterFault("Freeze", writer="KvStore Writer", action="delay", delay=70.0)
    system, _kv, _w = _store_machine(ctx, faults=[slow])
    ctx.start()
    result = system.backup(["C:\\"], target_dir=ctx.backup_dir())
    status = _status_failure(result.writer_status, "KvStore Writer")
    return ScenarioRun(
        "A writer takes 70 s to freeze: the 60 s freeze window expires", ctx.trace(),
        result.summary().splitlines(),
        ["The writer spends 70 s (of virtual time) in OnFreeze.",
         "At 60 s VSS gives up (FreezeWindowExpired) and aborts: the writer fails with "
         "VSS_E_WRITERERROR_TIMEOUT (KB 915331).",
         "The whole run took milliseconds of real time: the clock is virtual."],
        status is not None and status[1] == hr.VSS_E_WRITERERROR_TIMEOUT)


def _hold_timeout(ctx: ScenarioContext) -> ScenarioRun:
    slow = ProviderFault("CommitSnapshots", hresult=None, delay=12.0)
    system, _kv, _w = _store_machine(ctx, faults=[slow])
    ctx.start()
    result = system.backup(["C:\\"], target_dir=ctx.backup_dir())
    return ScenarioRun(
        "The provider's commit takes 12 s: the 10 s flush-and-hold expires", ctx.trace(),
        result.summary().splitlines(),
        ["The kernel holds every write to C: while CommitSnapshots runs (H).",
         "After 10 s it cancels the hold (HoldWritesTimeout): the set fails with "
         "VSS_E_HOLD_WRITES_TIMEOUT and the writers are aborted.",
         "The applications' writes that waited during the hold run after the release."],
        result.hresult == hr.VSS_E_HOLD_WRITES_TIMEOUT)


def _create_copy(system: VssSystem, context: int, volume: str = "C:\\") -> UUID:
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(context)
        if not context & _A.NO_WRITERS:
            bc.gather_writer_metadata().wait()
            bc.set_backup_state(False, False, BackupType.FULL)
        bc.start_snapshot_set()
        snapshot_id = bc.add_to_snapshot_set(volume)
        if not context & _A.NO_WRITERS:
            bc.prepare_for_backup().wait()
        bc.do_snapshot_set().result()
        if not context & _A.NO_WRITERS:
            bc.backup_complete().wait()
    return snapshot_id


def _storage_full(ctx: ScenarioContext) -> ScenarioRun:
    system, _kv, _w = _store_machine(ctx, options=VssOptions(min_shadow_storage=0))
    system.add_shadow_storage("C:\\", "C:\\", 512 * 1024)
    ctx.start()
    made = []
    for _ in range(4):
        made.append(_create_copy(system, SnapshotContext.CLIENT_ACCESSIBLE))
        system.run_applications(60)
    alive = {p.snapshot_id for p in system.all_snapshots()}
    purged = [sid for sid in made if sid not in alive]
    assoc = system.shadow_storage(for_volume="C:\\")[0]
    summary = [f"shadow storage of C: at most {assoc.max_size} bytes, {assoc.used} used",
               f"{len(made)} shadow copies made, {len(purged)} purged, {len(alive)} left"]
    summary += [f"purged: {{{sid}}}" for sid in purged]
    return ScenarioRun(
        "A small shadow storage: the oldest shadow copies are purged", ctx.trace(), summary,
        ["Each write to a block the newest shadow copy has not preserved yet copies the old "
         "16 KiB block into the shadow storage (copy-on-write).",
         "When the storage is full, the system provider deletes the oldest shadow copy "
         "(ShadowCopyPurged), silently: nobody is asked."],
        bool(purged) and purged == made[:len(purged)])


def _excluded_writer(ctx: ScenarioContext) -> ScenarioRun:
    system, kv, _kv_writer = _store_machine(ctx, share=False)
    kv.checkpoint_every = 50  # many changes live only in the log between checkpoints
    system.run_applications(15)
    ctx.start()
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(SnapshotContext.APP_ROLLBACK)
        bc.disable_writer_classes({KvStoreWriter.writer_id})
        bc.gather_writer_metadata().wait()
        bc.set_backup_state(False, False, BackupType.FULL)
        bc.start_snapshot_set()
        crash_id = bc.add_to_snapshot_set("C:\\")
        bc.prepare_for_backup().wait()
        bc.do_snapshot_set().result()
        bc.backup_complete().wait()
    system.run_applications(15)
    clean_id = _create_copy(system, SnapshotContext.APP_ROLLBACK)
    crash = KvStore.open(system.shadow_fs(crash_id), "\\KvStore")
    clean = KvStore.open(system.shadow_fs(clean_id), "\\KvStore")
    summary = [f"without its writer: {crash.recovery}",
               f"with its writer:    {clean.recovery}"]
    return ScenarioRun(
        "The store without its writer: a crash-consistent shadow copy", ctx.trace(), summary,
        ["First copy: the KvStore writer is disabled, nobody freezes the store; the copy "
         "catches half-written log records.",
         "Second copy: the writer checkpoints and suspends the store at Freeze.",
         "Opening the store from each copy: the first needs recovery (log replay, torn "
         "tail), the second does not."],
        crash.recovery.needed and not clean.recovery.needed)


def _restore_scenario(method: RestoreMethod) -> Callable[[ScenarioContext], ScenarioRun]:
    alternate = "C:\\KvStore.restored"

    def custom(component: ComponentRestore, files: list[Any], system: VssSystem) -> bool:
        """The requester's own procedure for a CUSTOM writer: write every file back."""
        fs = system.volume("C:\\").fs
        for entry, data in files:
            fs.write_file(entry.path, data, create_dirs=True)
        return True

    def run(ctx: ScenarioContext) -> ScenarioRun:
        """Back up the store, let it move on (or lose its files), restore, compare."""
        system, kv, kv_writer = _store_machine(
            ctx, share=False, restore_method=method,
            alternate_location=alternate
            if method == RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION else None)
        ctx.start()
        backup = system.backup(["C:\\"], target_dir=ctx.backup_dir())
        frozen = dict(kv_writer.state_at_freeze or {})
        system.run_applications(30)  # the store moves on after the backup...
        fs = system.volume("C:\\").fs
        if method == RestoreMethod.RESTORE_IF_NOT_THERE:
            kv.stop()  # ...and then its files are lost
            for path in fs.glob("C:\\KvStore", "*", recursive=True):
                fs.remove(path)
        result = system.restore(backup, custom=custom if method == RestoreMethod.CUSTOM
                                else None)
        summary = result.summary().splitlines()
        if result.pending_reboot:
            system.reboot()
            summary.append("rebooted: the staged files were moved into place")
        where = alternate if method == RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION \
            else "C:\\KvStore"
        restored = KvStore.open(fs, where).state
        summary.append(f"store at {where}: {len(restored)} keys, "
                       f"{'equal to' if restored == frozen else 'NOT equal to'} the state at "
                       "Freeze")
        return ScenarioRun(
            f"Restore with {method.name}", ctx.trace(), summary,
            [f"The writer's restore method is {method.name}: it decides whether and where "
             "the files go and who stops the service.",
             "Look at PreRestore, the RestoreFile events and PostRestore."],
            backup.succeeded and result.succeeded and restored == frozen)

    return run


def _two_providers(ctx: ScenarioContext) -> ScenarioRun:
    from vsssim.providers.hardware import HardwareProvider
    from vsssim.storage.san import SimulatedSan, seeded_array

    san = SimulatedSan(ctx.tempdir("san"), array=seeded_array(ctx.seed))
    system = ctx.machine()
    system.add_provider(HardwareProvider(san, name="Array provider"))
    c = system.add_volume("C:\\", size=16 * MiB)
    e = system.add_volume("E:\\", size=16 * MiB, san=san)
    kv = KvStoreApp(c.fs)
    share = FileShareApp(e.fs, "E:\\Share")
    system.add_application(kv)
    system.add_application(share)
    system.add_writer(KvStoreWriter(kv))
    system.add_writer(FileShareWriter(share))
    system.run_applications(20)
    ctx.start()
    result = system.backup(["C:\\", "E:\\"], target_dir=ctx.backup_dir())
    chosen = [e.detail for e in ctx.events if e.name == "AddToSnapshotSet"
              and e.kind == EventKind.RESULT]
    return ScenarioRun(
        "Two volumes, two providers, one shadow copy set", ctx.trace(),
        [*result.summary().splitlines(), *(f"provider chosen: {c}" for c in chosen)],
        ["AddToSnapshotSet picks a provider per volume: the hardware provider for E: (its "
         "LUN is on the array), the system provider for C:.",
         "Both providers get every phase (BeginPrepare, EndPrepare, PreCommit, Commit, "
         "PostCommit...) in step; the hold covers both commits.",
         "The array clones E:'s LUN inside the hold; C: gets copy-on-write."],
        result.succeeded and len(chosen) == 2 and len({c.split("-> ")[-1] for c in chosen}) == 2)


def _transportable(ctx: ScenarioContext) -> ScenarioRun:
    from vsssim.providers.hardware import HARDWARE_PROVIDER_ID, HardwareProvider
    from vsssim.storage.san import SimulatedSan, seeded_array

    san = SimulatedSan(ctx.tempdir("san"), array=seeded_array(ctx.seed))
    prod = ctx.machine(name="PROD", prefix=True, root=ctx.tempdir("prod"))
    prod.add_provider(HardwareProvider(san, name="Array provider"))
    vol = prod.add_volume("E:\\", size=8 * MiB, san=san)
    kv = KvStoreApp(vol.fs, "E:\\KvStore")
    prod.add_application(kv)
    writer = KvStoreWriter(kv)
    prod.add_writer(writer)
    prod.run_applications(20)
    backup = ctx.machine(name="BACKUP", prefix=True, root=ctx.tempdir("backup-server"))
    backup.add_provider(HardwareProvider(san, name="Array provider"))
    ctx.start()
    with prod.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(int(SnapshotContext.APP_ROLLBACK | _A.TRANSPORTABLE))
        bc.gather_writer_metadata().wait()
        bc.set_backup_state(True, False, BackupType.FULL)
        for instance_id, wmd in bc.writer_metadata:
            for comp in wmd.components:
                bc.add_component(instance_id, wmd.identity.writer_id, comp.component_type,
                                 comp.logical_path, comp.component_name)
        bc.start_snapshot_set()
        snapshot_id = bc.add_to_snapshot_set("E:\\", HARDWARE_PROVIDER_ID)
        bc.prepare_for_backup().wait()
        bc.do_snapshot_set().result()
        document = bc.save_as_xml()
        bc.backup_complete().wait()
    frozen = dict(writer.state_at_freeze or {})
    prod.run_applications(20)  # production goes on
    with backup.create_backup_components() as bc:
        bc.initialize_for_backup(document)
        op = bc.import_snapshots()
        op.wait()
        code = op.query_status()
        props = backup.snapshot_properties(snapshot_id)
        store = KvStore.open(backup.shadow_fs(snapshot_id),
                             props.snapshot_device_object + "\\KvStore")
        names = bc.break_snapshot_set_ex(props.snapshot_set_id, 0)
    summary = [f"PROD made the transportable shadow copy {{{snapshot_id}}} of E:",
               f"BACKUP imported it: {hr.name_of(code)}, attributes 0x"
               f"{props.snapshot_attributes:08x} (imported, originating machine "
               f"{props.originating_machine}, service machine {props.service_machine})",
               f"the imported copy holds {len(store.state)} keys: "
               + ("the state at Freeze on PROD" if store.state == frozen
                  else "NOT the state at Freeze"),
               f"broken into the ordinary volume {names[0] if names else '?'} of BACKUP"]
    return ScenarioRun(
        "A transportable hardware shadow copy moves to another machine", ctx.trace(), summary,
        ["PROD: the array clones E:'s LUN at commit; the copy stays masked (not surfaced) "
         "because it is meant for another machine.",
         "The Backup Components Document (SaveAsXML) travels to BACKUP, which imports the "
         "copy (ImportSnapshots: LocateLuns, FillInLunInfo).",
         "BACKUP reads PROD's files as they were at Freeze, then breaks the set: the LUN "
         "becomes an ordinary volume."],
        store.state == frozen and bool(names))


def _all() -> dict[str, Scenario]:
    items = [
        Scenario("basic", "basic backup", "a full backup of C: with two writing applications",
                 _basic),
        Scenario("writer-veto", "writer veto", "a writer vetoes Freeze", _writer_veto),
        Scenario("freeze-timeout", "freeze timeout", "a writer overruns the 60 s freeze "
                 "window", _freeze_timeout),
        Scenario("hold-timeout", "flush-and-hold timeout", "a commit overruns the 10 s hold",
                 _hold_timeout),
        Scenario("storage-full", "storage full", "the oldest shadow copies are purged",
                 _storage_full),
        Scenario("excluded-writer", "excluded writer", "without its writer a copy is only "
                 "crash-consistent", _excluded_writer),
    ]
    for method in RestoreMethod:
        if method == RestoreMethod.UNDEFINED:
            continue
        slug = method.name.lower().replace("_", "-")
        name = slug if slug.startswith("restore-") else f"restore-{slug}"
        items.append(Scenario(name, f"restore with {method.name}",
                              f"back up, then restore with {method.name}",
                              _restore_scenario(method)))
    items += [
        Scenario("two-providers", "two volumes with two providers", "C: on the system "
                 "provider, E: on a hardware provider, in one set", _two_providers),
        Scenario("transportable", "transportable import", "a hardware copy moves from PROD to "
                 "BACKUP", _transportable),
    ]
    return {s.name: s for s in items}


#: Every scenario by name, in the order ``demo --list`` shows them.
SCENARIOS: dict[str, Scenario] = _all()


def scenario_names() -> list[str]:
    """The scenario names."""
    return list(SCENARIOS)


@contextmanager
def running(ctx: ScenarioContext) -> Iterator[ScenarioContext]:
    """Close the scenario's machines and temporary directories however it ends."""
    try:
        yield ctx
    finally:
        ctx.close()

