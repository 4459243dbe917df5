"""A writer vetoes Freeze: VSS aborts the shadow copy, every writer gets Abort, status shows why.

Run: python examples/writer_veto.py
"""

from __future__ import annotations

from uuid import UUID

from vsssim import BackupType, ComponentType, RestoreMethod, VssSystem, hresult
from vsssim.documents import WriterMetadataBuilder
from vsssim.writer import Writer


class PickyWriter(Writer):
    """Refuses to freeze while a (pretend) long transaction is open."""

    writer_id = UUID("5d0f6a0e-0d3c-4e0e-9a3b-2f6b7c1d9e01")
    writer_name = "Picky Writer"

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        metadata.add_component(ComponentType.FILEGROUP, "", "Data", selectable=True)
        metadata.add_files_to_file_group("", "Data", "C:\\Picky", "*", True)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True

    def on_prepare_snapshot(self) -> bool:
        return True

    def on_freeze(self) -> bool:
        # A transient problem: tell the requester it may retry, then veto.
        self.set_writer_failure(hresult.VSS_E_WRITERERROR_RETRYABLE)
        return False

    def on_thaw(self) -> bool:
        return True

    def on_abort(self) -> bool:
        print("Picky Writer: OnAbort (undo whatever Freeze started)")
        return True


def main() -> None:
    with VssSystem(seed=2) as system:
        system.add_volume("C:\\", size=8 * 2**20).fs.makedirs("C:\\Picky")
        system.add_writer(PickyWriter())
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.gather_writer_metadata().wait()
            bc.set_backup_state(False, False, BackupType.FULL)
            bc.start_snapshot_set()
            bc.add_to_snapshot_set("C:\\")
            bc.prepare_for_backup().wait()
            creation = bc.do_snapshot_set()
            creation.wait()  # Wait succeeds; the outcome is in QueryStatus (rule 35)
            print("DoSnapshotSet:", hresult.describe(creation.query_status()))
            bc.abort_backup()  # always abort after a failed DoSnapshotSet (rule 16)
            bc.gather_writer_status().wait()
            for status in bc.writer_status:
                print(f"{status.writer_name}: [{int(status.state)}] {status.state.name}, "
                      f"{hresult.name_of(status.failure)}")
        print(system.trace.between("DoSnapshotSet", "AbortBackup").to_text())


if __name__ == "__main__":
    main()
