"""Test providers and fixtures for the provider-side rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from vsssim.constants import ProviderType, VolumeSnapshotAttributes
from vsssim.providers.base import SnapshotProvider, SnapshotRecord, VolumeInfo
from vsssim.storage.blockdev import BlockDevice, MemoryDevice
from vsssim.system import VssSystem

_A = VolumeSnapshotAttributes


class FakeProvider(SnapshotProvider):
    """A full-copy provider that records every call; ``fail`` maps a method to an HRESULT
    (returned like a COM provider would) or to an exception instance (raised)."""

    def __init__(self, name: str, ptype: ProviderType = ProviderType.SOFTWARE, *,
                 volumes: tuple[str, ...] = ("C:\\",), calls: list[str] | None = None,
                 fail: dict[str, Any] | None = None, contexts_ok: bool = True) -> None:
        super().__init__()
        self.provider_id = uuid5(NAMESPACE_URL, "fake-provider:" + name)
        self.provider_name = name
        self.provider_type = ptype
        self.volumes = {v.lower() for v in volumes}
        self.calls = calls if calls is not None else []
        self.fail = fail or {}
        self.contexts_ok = contexts_ok

    def _note(self, method: str) -> Any:
        self.calls.append(f"{self.provider_name}.{method}")
        failure = self.fail.get(method)
        if isinstance(failure, BaseException):
            raise failure
        return failure

    def supports_volume(self, volume: VolumeInfo) -> bool:
        return volume.name.lower() in self.volumes

    def supports_context(self, context: int) -> bool:
        return self.contexts_ok

    def mechanism_attributes(self) -> int:
        return int(_A.PLEX | (_A.HARDWARE_ASSISTED if self.provider_type ==
                              ProviderType.HARDWARE else 0))

    def create_device(self, record: SnapshotRecord) -> BlockDevice:
        src = record.volume.device
        return MemoryDevice.from_bytes(src.read(0, src.size), block_size=src.block_size)

    def destroy_device(self, record: SnapshotRecord) -> None:
        self.calls.append(f"{self.provider_name}.destroy")

    # Every phase method is recorded and may fail.
    def begin_prepare_snapshot(self, snapshot_set_id: UUID, snapshot_id: UUID,
                               volume: VolumeInfo, context: int) -> None:
        code = self._note("BeginPrepareSnapshot")
        if code:
            return code  # type: ignore[no-any-return]
        super().begin_prepare_snapshot(snapshot_set_id, snapshot_id, volume, context)
        return None

    def end_prepare_snapshots(self, snapshot_set_id: UUID) -> Any:
        return self._note("EndPrepareSnapshots") or super().end_prepare_snapshots(
            snapshot_set_id)

    def pre_commit_snapshots(self, snapshot_set_id: UUID) -> Any:
        return self._note("PreCommitSnapshots") or super().pre_commit_snapshots(snapshot_set_id)

    def commit_snapshots(self, snapshot_set_id: UUID) -> Any:
        return self._note("CommitSnapshots") or super().commit_snapshots(snapshot_set_id)

    def post_commit_snapshots(self, snapshot_set_id: UUID, snapshots_count: int) -> Any:
        return self._note("PostCommitSnapshots") or super().post_commit_snapshots(
            snapshot_set_id, snapshots_count)

    def pre_final_commit_snapshots(self, snapshot_set_id: UUID) -> Any:
        return self._note("PreFinalCommitSnapshots") or super().pre_final_commit_snapshots(
            snapshot_set_id)

    def post_final_commit_snapshots(self, snapshot_set_id: UUID) -> Any:
        return self._note("PostFinalCommitSnapshots") or super().post_final_commit_snapshots(
            snapshot_set_id)

    def abort_snapshots(self, snapshot_set_id: UUID) -> Any:
        code = self._note("AbortSnapshots")
        super().abort_snapshots(snapshot_set_id)
        return code


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "m", seed=11) as s:
        s.add_volume("C:\\", size=8 * 2**20)
        s.add_volume("D:\\", size=8 * 2**20)
        yield s
