"""A writer takes 70 virtual seconds in OnFreeze: its 60 s freeze window expires.

VSS calls OnAbort by itself, the writer's status becomes FAILED_AT_FREEZE with
VSS_E_WRITERERROR_TIMEOUT (KB 915331), and all of it costs milliseconds of real time.

Run: python examples/freeze_timeout.py
"""

from __future__ import annotations

import time

from vsssim import VssSystem, hresult
from vsssim.apps import KvStoreApp, KvStoreWriter


class SlowKvStoreWriter(KvStoreWriter):
    def on_freeze(self) -> bool:
        frozen = super().on_freeze()  # checkpoint and suspend the store...
        self.clock.sleep(70.0)  # ...then dawdle: the application stays suspended meanwhile
        return frozen


def main() -> None:
    started = time.perf_counter()
    with VssSystem(seed=3) as system:
        volume = system.add_volume("C:\\", size=16 * 2**20)
        app = KvStoreApp(volume.fs)
        system.add_application(app)
        system.add_writer(SlowKvStoreWriter(app))
        result = system.backup(["C:\\"])
        print(result.trace.between("Freeze", "BackupShutdown").to_text())
        print(result.summary())
        for status in result.writer_status:
            assert status.failure == hresult.VSS_E_WRITERERROR_TIMEOUT
        print(f"virtual time: {system.clock.now():.1f} s; real time: "
              f"{time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
