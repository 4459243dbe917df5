"""The same store backed up without its writer: the shadow copy is only crash-consistent.

With the writer excluded nobody checkpoints and suspends the store at the right moment, so the
copy catches changes that exist only in the write-ahead log (or half a record).  Opening the
store from it needs recovery; with the writer it does not.

Run: python examples/excluded_writer.py
"""

from __future__ import annotations

from vsssim import BackupType, SnapshotContext, VssSystem
from vsssim.apps import KvStore, KvStoreApp, KvStoreWriter


def snapshot_and_open(system: VssSystem, *, with_writer: bool) -> KvStore:
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        if with_writer:
            bc.set_context(SnapshotContext.APP_ROLLBACK)  # writers take part; persistent copy
            bc.gather_writer_metadata().wait()
            bc.set_backup_state(False, False, BackupType.FULL)
        else:
            bc.set_context(SnapshotContext.NAS_ROLLBACK)  # no writers at all
        bc.start_snapshot_set()
        snapshot_id = bc.add_to_snapshot_set("C:\\")
        if with_writer:
            bc.prepare_for_backup().wait()
        bc.do_snapshot_set().result()
        if with_writer:
            bc.backup_complete().wait()
    return KvStore.open(system.snapshot_device(snapshot_id).fs, "\\KvStore")


def main() -> None:
    with VssSystem(seed=4) as system:
        volume = system.add_volume("C:\\", size=16 * 2**20)
        app = KvStoreApp(volume.fs, checkpoint_every=50)
        system.add_application(app)
        system.add_writer(KvStoreWriter(app))
        system.run_applications(15)
        crash = snapshot_and_open(system, with_writer=False)
        print("without the writer:", crash.recovery)
        system.run_applications(15)
        clean = snapshot_and_open(system, with_writer=True)
        print("with the writer:   ", clean.recovery)
        assert crash.recovery.needed and not clean.recovery.needed


if __name__ == "__main__":
    main()
