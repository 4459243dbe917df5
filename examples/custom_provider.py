"""A software provider in a few lines: full copies in memory, made at commit.

Subclass ``SnapshotProvider`` and implement three methods; the base class does the bookkeeping
(states, properties, query, delete, exposure).  Registered, it takes precedence over the system
provider for the volumes it supports (hardware, then software, then system: providers §1.2).

Run: python examples/custom_provider.py
"""

from __future__ import annotations

from uuid import UUID

from vsssim import ProviderType, SnapshotProvider, VolumeInfo, VssSystem
from vsssim.providers import SnapshotRecord
from vsssim.storage import MemoryDevice
from vsssim.storage.blockdev import BlockDevice


class RamCopyProvider(SnapshotProvider):
    """Copies the whole volume into RAM at commit (fine for small volumes)."""

    provider_id = UUID("3c4e2f8a-9a51-4c1e-8d6b-0e1f2a3b4c5d")
    provider_name = "RAM Copy Provider"
    provider_type = ProviderType.SOFTWARE

    def supports_volume(self, volume: VolumeInfo) -> bool:
        return volume.device.size <= 64 * 2**20

    def create_device(self, record: SnapshotRecord) -> BlockDevice:
        source = record.volume.device  # runs inside flush-and-hold: writes are held
        return MemoryDevice.from_bytes(source.read(0, source.size),
                                       block_size=source.block_size)

    def destroy_device(self, record: SnapshotRecord) -> None:
        """Nothing to free: the copy goes with its last reference."""

    def mechanism_attributes(self) -> int:
        return 0x40000  # VSS_VOLSNAP_ATTR_PLEX: a full copy, not copy-on-write


def main() -> None:
    with VssSystem(seed=9) as system:
        volume = system.add_volume("C:\\", size=8 * 2**20)
        volume.fs.write_file("C:\\notes.txt", b"before")
        system.add_provider(RamCopyProvider())
        result = system.backup(["C:\\"], copy_files=False)
        print(result.trace.filter(name="AddToSnapshotSet").to_text())
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.set_context(0x19)  # NAS_ROLLBACK: persistent, no writers
            bc.start_snapshot_set()
            snapshot_id = bc.add_to_snapshot_set("C:\\")
            bc.do_snapshot_set().result()
        volume.fs.write_file("C:\\notes.txt", b"after")
        copy = system.shadow_fs(snapshot_id)
        print("copy says:", copy.read_file("\\notes.txt"))
        print("volume says:", volume.fs.read_file("C:\\notes.txt"))


if __name__ == "__main__":
    main()
