"""Fixtures for restore tests: a machine with the key-value store and the file share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vsssim.apps import FileShareApp, FileShareWriter, KvStore, KvStoreApp, KvStoreWriter
from vsssim.constants import RestoreMethod
from vsssim.system import VssSystem


@dataclass
class Lab:
    system: VssSystem
    kv: KvStoreApp
    kv_writer: KvStoreWriter
    share: FileShareApp
    share_writer: FileShareWriter
    tmp: Path

    @property
    def fs(self) -> Any:
        return self.system.volume("C:\\").fs

    def quiet(self) -> None:
        """Stop the applications' scheduled activity (so a check sees only the restore)."""
        self.system.scheduler.apps.clear()

    def store_now(self) -> KvStore:
        return KvStore.open(self.fs, "C:\\KvStore")


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    systems: list[VssSystem] = []

    def make(method: RestoreMethod = RestoreMethod.RESTORE_IF_CAN_REPLACE, *,
             kv_alternate: str | None = None, share_alternate: str | None = None,
             share_method: RestoreMethod = RestoreMethod.RESTORE_IF_CAN_REPLACE,
             seed: int = 1) -> Lab:
        system = VssSystem(tmp_path / f"m{len(systems)}", seed=seed)
        systems.append(system)
        vol = system.add_volume("C:\\", size=16 * 2**20)
        system.add_volume("D:\\", size=8 * 2**20)
        kv = KvStoreApp(vol.fs)
        share = FileShareApp(vol.fs)
        system.add_application(kv)
        system.add_application(share)
        kv_writer = KvStoreWriter(kv, restore_method=method, alternate_location=kv_alternate)
        share_writer = FileShareWriter(share, restore_method=share_method,
                                       alternate_location=share_alternate)
        system.add_writer(kv_writer)
        system.add_writer(share_writer)
        system.run_applications(15)
        return Lab(system, kv, kv_writer, share, share_writer, tmp_path)

    yield make
    for s in systems:
        s.close()
