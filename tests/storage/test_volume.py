"""Volume: the image file, its geometry sidecar, reads, writes, batches and bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vsssim.clock import VirtualClock
from vsssim.errors import (
    VssBadStateError,
    VssError,
    VssFileExistsError,
    VssFileNotFoundError,
    VssInvalidArgumentError,
    VssStoreCorruptError,
)
from vsssim.storage import blockdev
from vsssim.storage.shadowstorage import ShadowStorage
from vsssim.storage.volume import SIDECAR_SUFFIX, Volume

B = 4096


@pytest.fixture
def vol(tmp_path: Path) -> Iterator[Volume]:
    v = Volume.create(tmp_path / "c.img", 16 * B, B, name="C:\\")
    yield v
    v.close()


def test_create_makes_a_sparse_image_and_a_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "big.img"
    with Volume.create(path, 1 << 40) as v:  # 1 TiB, default 16 KiB blocks
        assert (v.size, v.block_size, v.readonly, v.closed) == (1 << 40, 16384, False, False)
        assert os.path.getsize(path) == 1 << 40
        assert os.stat(path).st_blocks * 512 < 1 << 20  # sparse: nothing allocated
        assert v.read(123456789, 10) == bytes(10)
    meta = json.loads(Path(str(path) + SIDECAR_SUFFIX).read_text())
    assert (meta["size"], meta["block_size"], meta["diff_area"]) == (1 << 40, 16384, None)


def test_open_restores_geometry_and_data(tmp_path: Path) -> None:
    clock = VirtualClock()
    with Volume.create(tmp_path / "v.img", 8 * B, B, name="D:\\") as v:
        v.write(5, b"hello")
        vid = v.id
    with Volume.open(tmp_path / "v.img", name="E:\\", clock=clock) as v:
        assert (v.size, v.block_size, v.id, v.name, v.clock) == (8 * B, B, vid, "E:\\", clock)
        assert v.read(0, 12) == bytes(5) + b"hello" + bytes(2)


@pytest.mark.parametrize(
    ("size", "block_size"),
    [(0, B), (-B, B), (B + 1, B), (8 * B, 2048), (8 * B, 3 * B), (8 * B, 0)],
)
def test_bad_geometry_is_refused_and_creates_nothing(
    tmp_path: Path, size: int, block_size: int
) -> None:
    with pytest.raises(VssInvalidArgumentError):
        Volume.create(tmp_path / "v.img", size, block_size)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("size", "block_size"), [(4.0 * B, B), (8 * B, "4096"), (True, B)])
def test_geometry_of_the_wrong_type_is_a_type_error(
    tmp_path: Path, size: object, block_size: object
) -> None:
    with pytest.raises(TypeError):
        Volume.create(tmp_path / "v.img", size, block_size)  # type: ignore[arg-type]


def test_create_refuses_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "v.img").write_bytes(b"precious")
    with pytest.raises(VssFileExistsError):
        Volume.create(tmp_path / "v.img", 8 * B, B)
    assert (tmp_path / "v.img").read_bytes() == b"precious"


def test_create_in_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VssFileNotFoundError):
        Volume.create(tmp_path / "nowhere" / "v.img", 8 * B, B)


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(VssFileNotFoundError):
        Volume.open(tmp_path / "missing.img")
    Volume.create(tmp_path / "v.img", 8 * B, B).close()
    sidecar = Path(str(tmp_path / "v.img") + SIDECAR_SUFFIX)
    good = sidecar.read_bytes()
    sidecar.write_bytes(good[:-20])
    with pytest.raises(VssStoreCorruptError):
        Volume.open(tmp_path / "v.img")
    sidecar.write_text(json.dumps(dict(json.loads(good), block_size=3000)))
    with pytest.raises(VssStoreCorruptError):
        Volume.open(tmp_path / "v.img")
    sidecar.write_bytes(good)
    os.truncate(tmp_path / "v.img", 4 * B)
    with pytest.raises(VssStoreCorruptError, match="holds"):
        Volume.open(tmp_path / "v.img")


def test_unaligned_writes_and_reads_match_a_bytearray(vol: Volume) -> None:
    model = bytearray(vol.size)
    rng = np.random.default_rng(3)
    for _ in range(200):
        off = int(rng.integers(0, vol.size))
        n = int(rng.integers(0, min(3 * B, vol.size - off) + 1))
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        vol.write(off, data)
        model[off : off + n] = data
        a = int(rng.integers(0, vol.size))
        b = int(rng.integers(a, vol.size + 1))
        assert vol.read(a, b - a) == bytes(model[a:b])
    assert vol.read(0, vol.size) == bytes(model)


def test_write_accepts_every_buffer_type_without_copying_semantics(vol: Volume) -> None:
    vol.write(0, b"ab")
    vol.write(2, bytearray(b"cd"))
    vol.write(4, memoryview(b"xxef")[2:])
    vol.write(6, np.frombuffer(b"gh", dtype=np.uint8))
    vol.write(8, np.arange(4, dtype=np.uint16).data.cast("B")[:2])
    assert vol.read(0, 10) == b"abcdefgh\x00\x00"
    buf = bytearray(10)
    assert vol.readinto(0, buf) == 10
    assert buf == bytearray(b"abcdefgh\x00\x00")
    arr = np.zeros(4, dtype=np.uint8)
    vol.readinto(2, arr)
    assert arr.tobytes() == b"cdef"


@pytest.mark.parametrize(
    "data",
    [
        "text",
        12,
        np.zeros(4, dtype=np.float64),
        np.zeros((4, 4), dtype=np.uint8)[:, 1],
        [1, 2, 3],
    ],
)
def test_write_refuses_other_types(vol: Volume, data: object) -> None:
    with pytest.raises(TypeError):
        vol.write(0, data)  # type: ignore[arg-type]
    assert vol.read(0, 32) == bytes(32)


@pytest.mark.parametrize(("offset", "n"), [(-1, 4), (16 * B - 3, 4), (16 * B, 1), (1 << 60, 1)])
def test_out_of_range_is_a_value_error_and_changes_nothing(
    vol: Volume, offset: int, n: int
) -> None:
    with pytest.raises(ValueError, match="outside"):
        vol.write(offset, b"x" * n)
    with pytest.raises(ValueError, match="outside"):
        vol.read(offset, n)
    with pytest.raises(ValueError, match="outside"):
        vol.write_many([0, offset], n, b"x" * n)
    with pytest.raises(ValueError, match="outside"):
        vol.write_batch([(0, b"y"), (offset, b"x" * n)])
    assert vol.read(0, vol.size) == bytes(vol.size)
    assert vol.stats.writes == 0


def test_offsets_of_the_wrong_type(vol: Volume) -> None:
    with pytest.raises(TypeError):
        vol.write(1.5, b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vol.read(0, 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vol.write_many(np.array([0.5]), 1, b"x")
    with pytest.raises(ValueError, match="length"):
        vol.write_many([0], 2, b"x")
    with pytest.raises(TypeError):
        vol.write_batch([(0, b"x", 1)])  # type: ignore[list-item]


def test_write_many_duplicates_and_overlaps(vol: Volume) -> None:
    model = bytearray(vol.size)
    offsets = [9000, 5, 9000, 4090, 3 * B + 1]
    vol.write_many(offsets, 10, b"0123456789")
    for o in offsets:
        model[o : o + 10] = b"0123456789"
    assert vol.read(0, vol.size) == bytes(model)
    # overlapping ranges with different offsets: applied in the given order
    vol.write_many([100, 96, 104], 8, b"ABCDEFGH")
    for o in [100, 96, 104]:
        model[o : o + 8] = b"ABCDEFGH"
    assert vol.read(0, vol.size) == bytes(model)
    vol.write_many(np.array([], dtype=np.int64), 8, b"ABCDEFGH")
    vol.write_many(np.array([7, 70], dtype=np.uint32), 0, b"")
    assert vol.read(0, vol.size) == bytes(model)


def test_write_batch_applies_in_order_even_when_overlapping(vol: Volume) -> None:
    model = bytearray(vol.size)
    items = [(10, b"aaaa"), (12, b"bbbbbb"), (0, b"c" * 11), (B - 2, b"dddd"), (30, b"")]
    vol.write_batch(items)
    for off, data in items:
        model[off : off + len(data)] = data
    assert vol.read(0, 64) == bytes(model[:64])
    assert vol.read(B - 4, 8) == bytes(model[B - 4 : B + 4])
    vol.write_batch(iter([(2 * B, np.full(3, 7, np.uint8)), (2 * B + 1, memoryview(b"z"))]))
    assert vol.read(2 * B, 3) == b"\x07z\x07"
    stats = vol.stats
    assert (stats.batches, stats.writes) == (2, 7)


def test_write_pieces_equals_one_write_per_piece(tmp_path: Path) -> None:
    """Same bytes, counters, copy-on-write order (the diff area's slots) and snapshots as the
    same writes made one by one."""
    pieces = [(B + 5, b"a" * 100), (7 * B - 3, b"b" * 10), (0, b""), (B, bytearray(b"cc")),
              (3 * B, memoryview(b"xdddx")[1:4]), (B + 50, b"e" * (3 * B))]
    images = []
    for name, apply in (
        ("one", lambda v: [v.write(o, d) for o, d in pieces]),
        ("all", lambda v: v.write_pieces(pieces)),
    ):
        root = tmp_path / name
        root.mkdir()
        v = Volume.create(root / "c.img", 16 * B, B)
        v.write(0, bytes(range(256)) * 64)
        store = ShadowStorage.create(v, root / "diff")
        snap = store.create_snapshot()
        apply(v)
        st = v.stats
        images.append((v.read(0, v.size), snap.read(0, v.size), st.writes, st.bytes_written,
                       st.cow_blocks, store._nm.copy()))
        v.close()
    assert images[0] == images[1]


def test_write_pieces_errors_like_successive_writes(vol: Volume) -> None:
    with pytest.raises(ValueError, match="outside"):
        vol.write_pieces([(0, b"kept"), (vol.size - 1, b"xx"), (8, b"never")])
    assert vol.read(0, 12) == b"kept" + bytes(8)
    assert vol.stats.writes == 1
    with vol.held(), pytest.raises(VssError):
        vol.write_pieces([(0, b"x")])
    vol.close()
    with pytest.raises(ValueError, match="closed"):
        vol.write_pieces([(0, b"x")])


def test_closed_volume(tmp_path: Path) -> None:
    v = Volume.create(tmp_path / "v.img", 8 * B, B)
    v.close()
    v.close()  # idempotent
    assert v.closed
    for call in (
        lambda: v.read(0, 1),
        lambda: v.write(0, b"x"),
        lambda: v.write_many([0], 1, b"x"),
        lambda: v.write_batch([(0, b"x")]),
        v.flush,
    ):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_flush_and_stats(vol: Volume) -> None:
    vol.write(0, b"x" * 100)
    vol.flush()
    vol.read(0, 50)
    s = vol.stats
    assert (s.writes, s.bytes_written, s.reads, s.bytes_read, s.cow_blocks) == (1, 100, 1, 50, 0)
    s.writes = 99  # a copy: the volume's counters do not change
    assert vol.stats.writes == 1


def test_volume_is_a_block_device_and_carries_simfs(vol: Volume) -> None:
    from vsssim.storage import simfs

    assert isinstance(vol, blockdev.BlockDevice)
    simfs.format(vol, label="DATA")
    vol.fs.write_file("C:\\dir\\a.txt", b"payload", create_dirs=True)
    assert vol.fs is vol.fs
    assert vol.fs.read_file("C:\\dir\\a.txt") == b"payload"


def test_a_volume_with_an_unopened_diff_area_refuses_writes(tmp_path: Path) -> None:
    v = Volume.create(tmp_path / "v.img", 8 * B, B)
    store = ShadowStorage.create(v, tmp_path / "diff")
    store.create_snapshot()
    v.close()
    v = Volume.open(tmp_path / "v.img")
    assert v.diff_area_directory == str(tmp_path / "diff")
    with pytest.raises(VssBadStateError, match=r"ShadowStorage\.open"):
        v.write(0, b"x")
    assert v.read(0, 1) == b"\x00"
    ShadowStorage.open(v, tmp_path / "diff")
    v.write(0, b"x")
    v.close()


def test_every_error_is_a_vss_error_or_a_python_misuse_error(vol: Volume) -> None:
    with pytest.raises((VssError, ValueError, TypeError)):
        vol.write(-1, b"x")
    with pytest.raises((VssError, ValueError, TypeError)):
        vol.write(0, "x")  # type: ignore[arg-type]
