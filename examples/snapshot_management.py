"""Shadow copies that outlive the backup: create, list, expose, read, restore a file, delete.

What an administrator does with ``vssadmin`` and ``diskshadow``, through the Python API:
a persistent copy made by a requester (``VSS_CTX_APP_ROLLBACK``), a diff area on another
volume, the copy exposed as drive ``X:``, an old file version read back from it, and the copy
deleted.

Run: python examples/snapshot_management.py
"""

from __future__ import annotations

from vsssim import BackupType, SnapshotContext, VolumeSnapshotAttributes, VssSystem


def main() -> None:
    with VssSystem(seed=3) as system:
        c = system.add_volume("C:\\", size=64 * 2**20)
        system.add_volume("D:\\", size=64 * 2**20)
        c.fs.write_file("C:\\report.txt", b"version 1")
        # The diff area of C: lives on D: (vssadmin add shadowstorage /for=C: /on=D:).
        system.add_shadow_storage("C:\\", "D:\\", 32 * 2**20)

        with system.create_backup_components() as bc:  # a persistent copy of C:
            bc.initialize_for_backup()
            bc.set_context(SnapshotContext.APP_ROLLBACK)
            bc.gather_writer_metadata().wait()
            bc.set_backup_state(False, False, BackupType.FULL)
            bc.start_snapshot_set()
            snapshot_id = bc.add_to_snapshot_set("C:\\")
            bc.prepare_for_backup().wait()
            bc.do_snapshot_set().wait()
            bc.backup_complete().wait()

        c.fs.write_file("C:\\report.txt", b"version 2 (oops)")

        for props in system.all_snapshots():  # vssadmin list shadows
            print(f"{{{props.snapshot_id}}} of {props.original_volume_name}: "
                  f"{props.snapshot_device_object}")
        for assoc in system.shadow_storage(for_volume="C:\\"):
            print(f"shadow storage for C: on {assoc.on_volume}: used {assoc.used} bytes")

        name = system.expose_snapshot(snapshot_id, None,
                                      VolumeSnapshotAttributes.EXPOSED_LOCALLY, "X:")
        old = system.exposed(name).fs.read_file("X:\\report.txt")
        live = c.fs.read_file("C:\\report.txt")
        print(f"report.txt now: {live!r}; in the shadow copy (exposed as {name}) {old!r}")
        c.fs.write_file("C:\\report.txt", old)  # restore the one file by hand
        system.unexpose_snapshot(snapshot_id)
        system.delete_snapshot(snapshot_id)
        print(f"{len(system.all_snapshots())} shadow copies left")


if __name__ == "__main__":
    main()
