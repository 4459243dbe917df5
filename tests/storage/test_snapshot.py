"""SnapshotDevice: reads, provenance, export, the recovery window, file systems, errors."""

from __future__ import annotations

import gc
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vsssim.errors import (
    VssAccessDeniedError,
    VssFileExistsError,
    VssInsufficientStorageError,
    VssObjectNotFoundError,
)
from vsssim.storage import blockdev, simfs
from vsssim.storage.shadowstorage import ShadowStorage
from vsssim.storage.snapshot import SnapshotDevice
from vsssim.storage.volume import Volume

B = 4096
N = 32


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Volume, ShadowStorage]]:
    vol = Volume.create(tmp_path / "v.img", N * B, B, name="C:\\")
    store = ShadowStorage.create(vol, tmp_path / "diff")
    yield vol, store
    vol.close()


def test_properties_and_protocol(setup: tuple[Volume, ShadowStorage]) -> None:
    vol, store = setup
    sid = uuid.uuid4()
    snap = store.create_snapshot(sid, persistent=False, metadata={"a": "b"})
    assert isinstance(snap, blockdev.BlockDevice)
    assert (snap.id, snap.persistent, snap.size, snap.block_size) == (sid, False, N * B, B)
    assert (snap.readonly, snap.deleted, snap.volume) == (True, False, vol)
    assert snap.metadata == {"a": "b"}
    snap.metadata["a"] = "changed"  # a copy
    assert snap.metadata == {"a": "b"}
    assert snap.sequence < store.create_snapshot().sequence


def test_reads_and_provenance(setup: tuple[Volume, ShadowStorage]) -> None:
    vol, store = setup
    vol.write(0, b"\x01" * N * B)
    snap = store.create_snapshot()
    vol.write(2 * B + 5, b"\x02" * (2 * B))  # blocks 2, 3, 4
    assert snap.read(2 * B, 3 * B) == b"\x01" * 3 * B
    assert snap.read(B - 1, 2) == b"\x01\x01"
    assert snap.read(0, 0) == b""
    prov = snap.read_provenance(B, 4 * B)
    assert (prov.store_blocks, prov.live_blocks, prov.overlay_blocks) == ((2, 3, 4), (1,), ())
    assert (prov.store_count, prov.live_count) == (3, 1)
    s = snap.stats
    assert (s.reads, s.bytes_read, s.bytes_from_store, s.bytes_from_live) == (
        3,
        3 * B + 2,
        3 * B,
        2,
    )


def test_bad_ranges(setup: tuple[Volume, ShadowStorage]) -> None:
    _, store = setup
    snap = store.create_snapshot()
    for offset, length in [(-1, 1), (N * B, 1), (0, N * B + 1), (5, -1)]:
        with pytest.raises(ValueError, match="outside"):
            snap.read(offset, length)
        with pytest.raises(ValueError, match="outside"):
            snap.read_provenance(offset, length)
    with pytest.raises(TypeError):
        snap.read("0", 1)  # type: ignore[arg-type]


def test_a_snapshot_is_read_only_outside_its_recovery_window(
    setup: tuple[Volume, ShadowStorage],
) -> None:
    vol, store = setup
    snap = store.create_snapshot()
    with pytest.raises(VssAccessDeniedError):
        snap.write(0, b"x")
    assert snap.read(0, 1) == b"\x00" and vol.read(0, 1) == b"\x00"


def test_recovery_window_writes_change_only_that_snapshot(
    tmp_path: Path, setup: tuple[Volume, ShadowStorage]
) -> None:
    vol, store = setup
    vol.write(0, b"\x01" * N * B)
    older = store.create_snapshot()
    vol.write(0, b"\x02" * 4 * B)
    target = store.create_snapshot()
    vol.write(0, b"\x03" * 8 * B)  # older reads blocks 4..7 through target's diff area
    newer = store.create_snapshot()
    with target.recovery_window():
        assert not target.readonly
        target.write(5 * B - 3, b"FIX" * 3)  # inside a block older reads through target
        target.write(20 * B, np.frombuffer(b"live!", np.uint8))  # a block nobody preserved
    assert target.readonly
    expected = bytearray(b"\x02" * 4 * B + b"\x01" * (N - 4) * B)
    expected[5 * B - 3 : 5 * B + 6] = b"FIX" * 3
    expected[20 * B : 20 * B + 5] = b"live!"
    assert target.read(0, N * B) == bytes(expected)
    assert older.read(0, N * B) == b"\x01" * N * B
    assert newer.read(0, N * B) == b"\x03" * 8 * B + b"\x01" * (N - 8) * B
    assert vol.read(0, N * B) == b"\x03" * 8 * B + b"\x01" * (N - 8) * B
    assert target.read_provenance(4 * B, 2 * B).overlay_blocks == (4, 5)
    # overlays persist like the rest, and deleting the snapshot frees them
    vol.close()
    vol = Volume.open(tmp_path / "v.img")
    store = ShadowStorage.open(vol, tmp_path / "diff")
    assert store.get(target.id).read(0, N * B) == bytes(expected)
    assert store.used == (4 + 8 + 3) * B  # older's DA, target's DA, target's overlay
    store.delete(store.get(target.id))
    # target's blocks 4..7 pass to older, 0..3 (older has them) and the overlay are freed
    assert store.used == 8 * B
    assert store.get(older.id).read(0, N * B) == b"\x01" * N * B
    vol.close()


def test_a_full_diff_area_refuses_recovery_writes_rather_than_purge_the_copy(
    tmp_path: Path,
) -> None:
    with Volume.create(tmp_path / "v.img", N * B, B) as vol:
        store = ShadowStorage.create(vol, tmp_path / "diff", 2 * B)
        snap = store.create_snapshot()
        vol.write(0, b"x" * 2 * B)
        with snap.recovery_window(), pytest.raises(VssInsufficientStorageError):
            snap.write(10 * B, b"y")
        assert not snap.deleted and snap.read(10 * B, 1) == b"\x00"


def test_deleted_and_closed_snapshots(setup: tuple[Volume, ShadowStorage]) -> None:
    _, store = setup
    snap = store.create_snapshot()
    store.delete(snap)
    assert snap.deleted
    for call in (
        lambda: snap.read(0, 1),
        lambda: snap.read_provenance(0, 1),
        lambda: snap.export("/tmp/never"),
        lambda: snap.fs,
        lambda: snap.recovery_window().__enter__(),
    ):
        with pytest.raises(VssObjectNotFoundError):
            call()
    other = store.create_snapshot()
    store.close()
    with pytest.raises(ValueError, match="closed"):
        other.read(0, 1)


def test_export_is_exact_and_sparse(tmp_path: Path) -> None:
    with Volume.create(tmp_path / "big.img", 1 << 30) as vol:  # 1 GiB, nearly empty
        store = ShadowStorage.create(vol, tmp_path / "diff")
        vol.write(5 << 20, b"old data" * 1000)
        snap = store.create_snapshot()
        vol.write(5 << 20, b"new data" * 1000)
        vol.write(700 << 20, b"written later")
        snap.export(tmp_path / "out.img")
        out = tmp_path / "out.img"
        assert out.stat().st_size == 1 << 30
        assert out.stat().st_blocks * 512 < 4 << 20  # holes stay holes
        with open(out, "rb") as f:
            f.seek(5 << 20)
            assert f.read(8000) == b"old data" * 1000
            f.seek(700 << 20)
            assert f.read(13) == bytes(13)
        with pytest.raises(VssFileExistsError):
            snap.export(out)


def test_export_matches_read_on_a_busy_volume(
    tmp_path: Path, setup: tuple[Volume, ShadowStorage]
) -> None:
    vol, store = setup
    rng = np.random.default_rng(5)
    vol.write(0, rng.integers(0, 256, N * B, dtype=np.uint8))
    snap = store.create_snapshot()
    for _ in range(20):
        off = int(rng.integers(0, N * B - 5000))
        vol.write(off, rng.integers(0, 256, 5000, dtype=np.uint8))
    snap.export(tmp_path / "s.img")
    assert (tmp_path / "s.img").read_bytes() == snap.read(0, N * B)


def test_snapshot_file_system_shows_the_instant(setup: tuple[Volume, ShadowStorage]) -> None:
    vol, store = setup
    simfs.format(vol, label="DATA")
    vol.fs.write_file("C:\\docs\\a.txt", b"first", create_dirs=True)
    snap = store.create_snapshot()
    vol.fs.write_file("C:\\docs\\a.txt", b"second version")
    vol.fs.write_file("C:\\docs\\b.txt", b"new")
    snap.roots = ["\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1\\"]
    root = snap.roots[0]
    assert snap.fs.read_file(root + "docs\\a.txt") == b"first"
    assert not snap.fs.exists(root + "docs\\b.txt")
    assert snap.fs.readonly
    with pytest.raises(VssAccessDeniedError):
        snap.fs.write_file(root + "docs\\c.txt", b"no")
    with pytest.raises(TypeError):
        snap.roots = "C:\\"  # type: ignore[assignment]


@pytest.mark.parametrize("end", ["delete the copy", "close the store"])
def test_a_gone_copy_lets_go_of_its_file_system(setup: tuple[Volume, ShadowStorage],
                                               end: str) -> None:
    # The mounted file system refers back to its device; once the copy is deleted (or its
    # store closed) the file system is freed by reference counting, not by the collector.
    vol, store = setup
    simfs.format(vol, label="DATA")
    snap = store.create_snapshot()
    mounted = weakref.ref(snap.fs)
    gc.disable()
    try:
        if end == "delete the copy":
            store.delete(snap.id)
        else:
            store.close()
        del snap
        assert mounted() is None
    finally:
        gc.enable()


def test_reads_race_with_writes_and_stay_exact(
    setup: tuple[Volume, ShadowStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snapshot reads take no lock: a write that preserves blocks between a reader's plan and
    its copy must force a retry.  The reader is slowed down right after planning (a GIL
    switch) so that the writer really lands in that window."""
    vol, store = setup
    plan = ShadowStorage._hits

    def slow_plan(self: ShadowStorage, *args: int) -> tuple[list[int], list[int]]:
        result = plan(self, *args)  # type: ignore[arg-type]
        time.sleep(0.0001)
        return result

    monkeypatch.setattr(ShadowStorage, "_hits", slow_plan)
    published: list[tuple[SnapshotDevice, bytes]] = []
    stop = threading.Event()
    rounds = [0]

    def writer() -> None:
        i = 0
        while not stop.is_set():
            snap = store.create_snapshot()
            published.append((snap, vol.read(0, N * B)))  # only this thread writes
            if len(published) > 6:
                store.delete(published.pop(0)[0])
            for _ in range(4):
                i += 1
                vol.write((i * 5 % (N - 3)) * B + 7, bytes([i % 250 + 1]) * (3 * B))
            rounds[0] += 1

    t = threading.Thread(target=writer)
    t.start()
    bad = 0
    try:
        while rounds[0] < 300:
            if not published:
                continue
            snap, content = published[-1]
            try:
                got = snap.read(0, N * B)
            except VssObjectNotFoundError:
                continue  # deleted by the writer meanwhile
            bad += got != content
    finally:
        stop.set()
        t.join()
    assert bad == 0


def test_reads_of_a_sparse_terabyte(tmp_path: Path) -> None:
    with Volume.create(tmp_path / "t.img", 1 << 40) as vol:
        store = ShadowStorage.create(vol, tmp_path / "diff")
        vol.write((1 << 40) - 4, b"end!")
        snap = store.create_snapshot()
        vol.write((1 << 40) - 8, b"12345678")
        assert snap.read((1 << 40) - 8, 8) == bytes(4) + b"end!"
        assert snap.read(1 << 39, 3 * 16384) == bytes(3 * 16384)
        assert os.path.getsize(store.directory + "/store.dat") == 16384
