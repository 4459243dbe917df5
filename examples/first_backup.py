"""Your first VSS backup: a key-value store with its writer, backed up while it keeps writing.

Run: python examples/first_backup.py
"""

from __future__ import annotations

import tempfile

from vsssim import VssSystem
from vsssim.apps import KvStoreApp, KvStoreWriter


def main() -> None:
    with VssSystem(seed=1) as system:
        volume = system.add_volume("C:\\", size=32 * 2**20)
        app = KvStoreApp(volume.fs)  # a database with a write-ahead log, on C:\KvStore
        system.add_application(app)  # ...that keeps writing between and during VSS events
        writer = KvStoreWriter(app)  # its writer: checkpoint + suspend at Freeze
        system.add_writer(writer)
        system.run_applications(25)

        with tempfile.TemporaryDirectory(prefix="vsssim-backup-") as target:  # removed after
            result = system.backup(["C:\\"], target_dir=target)

            print(result.trace.to_text())
            print(result.summary())
            print(f"the backup holds the {len(writer.state_at_freeze or {})} keys the store "
                  "had at the freeze instant")
        print(f"({target} is removed now; pass a directory of yours as target_dir to keep a "
              "backup)")


if __name__ == "__main__":
    main()
