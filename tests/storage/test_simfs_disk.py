"""simfs on the device: format and mount, corruption detection, disk full, extents, snapshots."""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from vsssim.clock import VirtualClock
from vsssim.errors import (
    VssAccessDeniedError,
    VssInsufficientStorageError,
    VssObjectNotFoundError,
    VssStoreCorruptError,
)
from vsssim.storage import _simfs_layout as layout  # to locate structures to corrupt
from vsssim.storage.blockdev import Buffer, MemoryDevice
from vsssim.storage.simfs import BLOCK_SIZE, SimFS, format

KiB = 1024
MiB = 1024 * KiB


class FrozenDevice:
    """A read-only copy of a device's bytes: what a snapshot device looks like to simfs."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    block_size = 16 * KiB
    readonly = True

    def read(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]

    def write(self, offset: int, data: Buffer) -> None:
        raise VssAccessDeniedError("the snapshot is read-only")

    @contextmanager
    def operation(self) -> Iterator[None]:
        yield


class RecordingDevice(MemoryDevice):
    """A memory device that remembers every write (to replay part of an operation)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.log: list[tuple[int, bytes]] = []

    def write(self, offset: int, data: Buffer) -> None:
        self.log.append((offset, bytes(data)))
        super().write(offset, data)


def new_fs(size: int = 2 * MiB) -> tuple[MemoryDevice, SimFS]:
    device = MemoryDevice(size)
    clock = VirtualClock()
    format(device, label="Vol", clock=clock)
    return device, SimFS.mount(device, roots=["C:\\"], clock=clock)


def superblock(device: MemoryDevice) -> layout.Superblock:
    return layout.Superblock.decode(device.read(0, BLOCK_SIZE))


def flip(device: MemoryDevice, offset: int) -> None:
    device.write(offset, bytes([device.read(offset, 1)[0] ^ 0x40]))


def blocks_with_magic(device: MemoryDevice, magic: bytes) -> list[int]:
    raw = device.snapshot_bytes()
    return [b for b in range(len(raw) // BLOCK_SIZE) if raw[b * BLOCK_SIZE :].startswith(magic)]


# ------------------------------------------------------------------------ format/mount
def test_format_and_mount_basics() -> None:
    device, fs = new_fs(3 * MiB + 123)  # a tail smaller than a block is ignored
    assert fs.label == "Vol"
    assert fs.block_size == BLOCK_SIZE
    assert fs.capacity == 3 * MiB
    assert 0 < fs.free_space < fs.capacity
    assert fs.roots == ("C:\\",)
    assert not fs.readonly
    assert fs.device is device
    assert fs.listdir() == []
    assert fs.check() == []
    assert "C:" in repr(fs)


class CountingDevice(MemoryDevice):
    """A memory device that remembers every read."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.reads: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return super().read(offset, length)


@pytest.mark.parametrize(("size", "reads"), [(2 * MiB, 1), (130 * MiB, 2)])
def test_a_mount_reads_the_metadata_before_the_data_area_at_once(size: int, reads: int) -> None:
    """The superblock, both bitmaps and the root's inode-table block are one read while they
    fit in the device's first 16 KiB, two on a volume whose bitmaps reach past it."""
    device = CountingDevice(size)
    format(device, clock=VirtualClock())
    fs = SimFS.mount(device, roots=["C:\\"])
    mount_reads = list(device.reads)
    sb = superblock(device)
    assert len(mount_reads) == reads
    assert sum(length for _, length in mount_reads) == (sb.itable_start + 1) * BLOCK_SIZE
    fs.makedirs("C:\\a\\b")
    assert SimFS.mount(device, roots=["C:\\"]).listdir("C:\\a") == ["b"]


def test_format_refuses_read_only_small_devices_and_long_labels() -> None:
    with pytest.raises(VssAccessDeniedError):
        format(MemoryDevice(MiB, readonly=True))
    with pytest.raises(ValueError, match="too small") as info:
        format(MemoryDevice(16 * KiB))
    assert "at least" in str(info.value)
    with pytest.raises(ValueError, match="32"):
        format(MemoryDevice(MiB), label="x" * 33)
    with pytest.raises(TypeError):
        format(b"not a device")  # type: ignore[arg-type]


def test_mount_without_a_file_system_says_so() -> None:
    with pytest.raises(VssObjectNotFoundError, match="format it first"):
        SimFS.mount(MemoryDevice(MiB))
    with pytest.raises(VssObjectNotFoundError):
        SimFS.mount(MemoryDevice(512))
    with pytest.raises(TypeError):
        SimFS.mount(object())  # type: ignore[arg-type]


def test_reformat_empties_the_volume() -> None:
    device, fs = new_fs()
    fs.write_file("C:\\f", b"x")
    format(device, label="new")
    fresh = SimFS.mount(device)
    assert fresh.listdir() == []
    assert fresh.label == "new"
    assert fresh.check() == []


# ------------------------------------------------------------------------- corruption
@pytest.mark.parametrize("offset", [8, 20, 40, 60, 90])
def test_superblock_corruption_is_detected(offset: int) -> None:
    device, fs = new_fs()
    flip(device, offset)
    with pytest.raises(VssStoreCorruptError, match="superblock"):
        SimFS.mount(device)
    assert any("superblock" in p for p in fs.check())


def test_wiped_magic_means_no_file_system() -> None:
    device, fs = new_fs()
    device.write(0, b"\0" * 8)
    with pytest.raises(VssObjectNotFoundError):
        SimFS.mount(device)
    assert fs.check() == ["no simfs superblock on the device"]


@pytest.mark.parametrize("which", ["bmap", "imap"])
def test_bitmap_corruption_is_detected_on_mount(which: str) -> None:
    device, fs = new_fs()
    fs.write_file("C:\\f", b"x" * 3 * BLOCK_SIZE)
    sb = superblock(device)
    start = sb.bmap_start if which == "bmap" else sb.imap_start
    flip(device, start * BLOCK_SIZE + 100)
    with pytest.raises(VssStoreCorruptError, match="bitmap"):
        SimFS.mount(device)
    assert fs.check() != []


def test_directory_block_corruption_is_detected() -> None:
    device, fs = new_fs()
    fs.write_file("C:\\db\\data.mdf", b"x", create_dirs=True)
    (root_block, _) = blocks_with_magic(device, layout.DIR_MAGIC)
    flip(device, root_block * BLOCK_SIZE + layout.DIR_HEADER + 2)
    assert any("checksum" in p for p in fs.check())
    fresh = SimFS.mount(device, roots=["C:\\"])
    with pytest.raises(VssStoreCorruptError, match="directory block"):
        fresh.listdir("C:\\")


def test_inode_corruption_is_detected() -> None:
    device, fs = new_fs()
    fs.write_file("C:\\f", b"x")
    sb = superblock(device)
    second_inode = sb.itable_start * BLOCK_SIZE + layout.INODE_SIZE
    flip(device, second_inode + 20)  # the size field of inode 2
    assert any("inode 2" in p for p in fs.check())
    fresh = SimFS.mount(device, roots=["C:\\"])
    with pytest.raises(VssStoreCorruptError, match="inode 2"):
        fresh.read_file("C:\\f")


def test_root_inode_corruption_is_detected_on_mount() -> None:
    device, _ = new_fs()
    flip(device, superblock(device).itable_start * BLOCK_SIZE + 30)
    with pytest.raises(VssStoreCorruptError, match="inode 1"):
        SimFS.mount(device)


def test_a_lost_bitmap_update_is_found_by_check_and_mount() -> None:
    """What a snapshot that split an operation would see: each block checksums fine, but they
    disagree with each other."""
    device, fs = new_fs()
    fs.write_file("C:\\f", b"x" * 5 * BLOCK_SIZE)
    sb = superblock(device)
    stale = device.read(sb.bmap_start * BLOCK_SIZE, BLOCK_SIZE)
    fs.remove("C:\\f")
    device.write(sb.bmap_start * BLOCK_SIZE, stale)
    problems = fs.check()
    assert any("marked used but owned by nothing" in p for p in problems)
    assert any("free block count" in p for p in problems)
    with pytest.raises(VssStoreCorruptError, match="free blocks"):
        SimFS.mount(device)


def test_every_partial_replay_of_an_operation_is_caught_or_harmless() -> None:
    """Replaying only a prefix of one operation's writes (a torn operation) either leaves the
    old tree intact or makes check() complain: check() is sensitive enough for the snapshot
    tests to mean something."""
    device = RecordingDevice(2 * MiB)
    format(device)
    fs = SimFS.mount(device, roots=["C:\\"])
    fs.write_file("C:\\a\\old.txt", b"old", create_dirs=True)
    before = device.snapshot_bytes()
    device.log.clear()
    fs.rename("C:\\a\\old.txt", "C:\\new.txt")
    fs.write_file("C:\\b\\c\\big.bin", b"z" * 3 * BLOCK_SIZE, create_dirs=True)
    writes = list(device.log)
    caught = 0
    for cut in range(1, len(writes)):
        image = bytearray(before)
        for offset, data in writes[:cut]:
            image[offset : offset + len(data)] = data
        try:
            shadow = SimFS.mount(FrozenDevice(bytes(image)), roots=["C:\\"])
        except VssStoreCorruptError:
            caught += 1
            continue
        problems = shadow.check()
        if problems:
            caught += 1
        else:
            tree = sorted(shadow.glob("C:\\", recursive=True))
            assert tree in (["C:\\a\\old.txt"], ["C:\\new.txt"]), cut
    assert caught >= len(writes) // 2


# -------------------------------------------------------------------------- disk full
def test_disk_full_leaves_the_device_byte_for_byte_unchanged() -> None:
    device, fs = new_fs(MiB)
    fs.write_file("C:\\keep", b"k" * 2 * BLOCK_SIZE)
    before = device.snapshot_bytes()
    free = fs.free_space
    attempts: list[Callable[[], object]] = [
        lambda: fs.write_file("C:\\big", bytes(free + 1)),
        lambda: fs.write_file("C:\\keep", bytes(free + 2 * BLOCK_SIZE + 1)),
        lambda: fs.write_file("C:\\x\\y\\big", bytes(free), create_dirs=True),
        lambda: fs.append_file("C:\\keep", bytes(free + 1)),
        lambda: fs.truncate("C:\\keep", free + 3 * BLOCK_SIZE),
    ]
    for attempt in attempts:
        with pytest.raises(VssInsufficientStorageError, match="full"):
            attempt()
        assert device.snapshot_bytes() == before
        assert fs.check() == []
        assert fs.free_space == free
    with fs.open("C:\\keep", "r+b") as handle:
        handle.seek(free + 2 * BLOCK_SIZE)
        with pytest.raises(VssInsufficientStorageError):
            handle.write(b"!")
    assert device.snapshot_bytes() == before
    assert fs.read_file("C:\\keep") == b"k" * 2 * BLOCK_SIZE


def test_filling_exactly_then_one_byte_more() -> None:
    _, fs = new_fs(MiB)
    fs.write_file("C:\\first", b"")  # gives the root directory its block
    fs.write_file("C:\\fill", bytes(fs.free_space))
    assert fs.free_space == 0
    fs.write_file("C:\\empty", b"")  # needs no data block
    with pytest.raises(VssInsufficientStorageError):
        fs.write_file("C:\\one", b"1")
    fs.truncate("C:\\fill", fs.stat("C:\\fill").size - 1)  # same block count: no change
    assert fs.free_space == 0
    fs.remove("C:\\fill")
    fs.write_file("C:\\one", b"1")
    assert fs.check() == []


def test_running_out_of_file_records() -> None:
    device, fs = new_fs(256 * KiB)  # 32 inodes
    for n in range(31):
        fs.write_file(f"C:\\f{n}", b"")
    before = device.snapshot_bytes()
    with pytest.raises(VssInsufficientStorageError, match="file records"):
        fs.write_file("C:\\one-too-many", b"")
    assert device.snapshot_bytes() == before
    assert fs.check() == []


# ---------------------------------------------------------------------------- extents
def test_appends_extend_the_last_extent() -> None:
    _, fs = new_fs()
    for _ in range(20):
        fs.append_file("C:\\wal", b"r" * 1000)
    fs.write_file("C:\\other", b"o")
    for _ in range(20):
        fs.append_file("C:\\wal", b"s" * 1000)
    assert fs.read_file("C:\\wal") == b"r" * 20000 + b"s" * 20000
    assert fs.check() == []


def test_a_badly_fragmented_file_uses_extent_chain_blocks() -> None:
    device, fs = new_fs(6 * MiB)
    baseline = fs.free_space
    piece = bytes(range(256)) * (BLOCK_SIZE // 256)
    # Alternate block-sized appends to two files: every block becomes its own extent.
    for i in range(600):
        fs.append_file("C:\\a", piece[i % 7 :] + piece[: i % 7])
        fs.append_file("C:\\b", piece)
    expected = b"".join(piece[i % 7 :] + piece[: i % 7] for i in range(600))
    assert len(blocks_with_magic(device, layout.EXT_MAGIC)) == 4  # 2 chain blocks per file
    assert fs.read_file("C:\\a") == expected
    assert fs.check() == []
    fresh = SimFS.mount(device, roots=["C:\\"])
    assert fresh.read_file("C:\\a") == expected
    with fresh.open("C:\\a", "rb") as handle:
        handle.seek(300 * BLOCK_SIZE - 5)
        assert handle.read(10) == expected[300 * BLOCK_SIZE - 5 : 300 * BLOCK_SIZE + 5]
    fresh.truncate("C:\\a", 30 * BLOCK_SIZE + 1)
    assert fresh.read_file("C:\\a") == expected[: 30 * BLOCK_SIZE + 1]
    assert fresh.check() == []
    fresh.remove("C:\\a")
    fresh.remove("C:\\b")
    assert fresh.check() == []
    # Only the root directory's block stays allocated.
    assert fresh.free_space == baseline - BLOCK_SIZE


def test_holes_too_small_for_data_plus_its_chain_block_are_disk_full() -> None:
    device, fs = new_fs(MiB)  # 64 file records
    names = [f"C:\\f{i}" for i in range(50)]
    for name in names:
        fs.write_file(name, b"x")
    fs.write_file("C:\\tail", bytes(fs.free_space))
    for name in names[::2][:25]:
        fs.remove(name)
    holes = fs.free_space // BLOCK_SIZE
    assert holes == 25
    before = device.snapshot_bytes()
    with pytest.raises(VssInsufficientStorageError):
        fs.write_file("C:\\frag", bytes(holes * BLOCK_SIZE))  # 25 extents need a chain block
    assert device.snapshot_bytes() == before
    fs.write_file("C:\\frag", bytes((holes - 1) * BLOCK_SIZE))  # 24 extents fit inline
    assert fs.free_space == BLOCK_SIZE
    assert fs.check() == []


def test_a_volume_with_several_bitmap_blocks() -> None:
    device, fs = new_fs(130 * MiB)
    sb = superblock(device)
    assert sb.bmap_blocks == 2
    fs.write_file("C:\\big", b"")
    fs.truncate("C:\\big", 123 * MiB)  # the next file straddles bitmap blocks 0 and 1
    fs.write_file("C:\\straddle", bytes(range(256)) * (4 * MiB // 256))
    assert fs.check() == []
    fs.remove("C:\\big")
    fresh = SimFS.mount(device, roots=["C:\\"])
    assert fresh.read_file("C:\\straddle") == bytes(range(256)) * (4 * MiB // 256)
    assert fresh.check() == []


@pytest.mark.parametrize("count", [0, 1, 23, 24, 25, 600])
def test_inode_record_layout(count: int) -> None:
    # Field by field, as the module docstring of simfs describes the record.
    extents = [(100 + 3 * i, i + 1) for i in range(count)]
    chain = [900, 901] if count > layout.INLINE_EXTENTS else []
    node = layout.Inode(
        ino=7,
        kind=layout.KIND_FILE,
        generation=9,
        parent=1,
        size=12345,
        created=11,
        modified=22,
        accessed=33,
        mtime=4.5,
        extents=extents,
        chain=chain,
    )
    # kind, pad, links, generation, parent, size, times, mtime, extent count, first chain block
    fields = (layout.KIND_FILE, 0, 1, 9, 1, 12345, 11, 22, 33, 4.5, count, chain[0] if chain else 0)
    head = struct.pack("<BBHIIQqqqdII", *fields)
    inline = b"".join(struct.pack("<II", s, n) for s, n in extents[: layout.INLINE_EXTENTS])
    body = head + inline + bytes(layout.INODE_SIZE - 4 - len(head) - len(inline))
    record = node.encode()
    assert record == struct.pack("<I", zlib.crc32(body, 7)) + body
    decoded, got_count, got_chain = layout.Inode.decode(record, 7)
    assert (got_count, got_chain) == (count, chain[0] if chain else 0)
    assert decoded.extents == extents[: layout.INLINE_EXTENTS]
    with pytest.raises(VssStoreCorruptError, match="inode 8"):
        layout.Inode.decode(record, 8)  # the CRC is seeded with the inode number


# -------------------------------------------------------------------------- snapshots
def test_read_only_mount_refuses_every_change() -> None:
    device, fs = new_fs()
    fs.write_file("C:\\d\\f", b"x", create_dirs=True)
    shadow = SimFS.mount(FrozenDevice(device.snapshot_bytes()), roots=["C:\\"])
    assert shadow.readonly
    changes: list[Callable[[], object]] = [
        lambda: shadow.write_file("C:\\d\\f", b"y"),
        lambda: shadow.append_file("C:\\d\\f", b"y"),
        lambda: shadow.truncate("C:\\d\\f", 0),
        lambda: shadow.remove("C:\\d\\f"),
        lambda: shadow.rmdir("C:\\d"),
        lambda: shadow.mkdir("C:\\e"),
        lambda: shadow.makedirs("C:\\e\\f"),
        lambda: shadow.rename("C:\\d", "C:\\e"),
        lambda: shadow.open("C:\\d\\f", "r+b"),
        lambda: shadow.open("C:\\d\\g", "wb"),
        lambda: shadow.open("C:\\d\\f", "ab"),
    ]
    for change in changes:
        with pytest.raises(VssAccessDeniedError, match="read-only"):
            change()
    assert shadow.read_file("C:\\d\\f") == b"x"
    assert shadow.check() == []


class TogglingDevice(MemoryDevice):
    """A snapshot device whose read-only flag can be lifted (auto-recovery window)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.locked = False

    @property
    def readonly(self) -> bool:
        return self.locked

    def write(self, offset: int, data: Buffer) -> None:
        if self.locked:
            raise VssAccessDeniedError("read-only")
        super().write(offset, data)


def test_readonly_follows_the_device_at_each_call() -> None:
    device = TogglingDevice(MiB)
    format(device)
    fs = SimFS.mount(device, roots=["C:\\"])
    fs.write_file("C:\\f", b"x")
    device.locked = True
    assert fs.readonly
    with pytest.raises(VssAccessDeniedError):
        fs.remove("C:\\f")
    device.locked = False
    fs.remove("C:\\f")
    assert fs.check() == []


def test_snapshots_taken_between_concurrent_operations_are_consistent() -> None:
    """A writer thread keeps changing files; snapshots copy the device between operations
    (as the engine does); each must pass check() and hold only whole versions of files."""
    device, fs = new_fs(4 * MiB)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        version = 0
        try:
            while not stop.is_set():
                version += 1
                tag = bytes([version % 251 + 1])
                path = f"C:\\d{version % 3}\\v.bin"
                fs.write_file(path, tag * (version % 9000 + 1), create_dirs=True)
                fs.append_file("C:\\log", tag * 100)
                if version % 4 == 0:
                    fs.rename(f"C:\\d{version % 3}", f"C:\\tmp{version % 3}")
                    fs.rename(f"C:\\tmp{version % 3}", f"C:\\d{version % 3}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    images = []
    try:
        for _ in range(25):
            with device.operation():  # the engine takes snapshots between operations
                images.append(device.snapshot_bytes())
            threading.Event().wait(0.002)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    for image in images:
        shadow = SimFS.mount(FrozenDevice(image), roots=["C:\\"])
        assert shadow.check() == []
        for path in shadow.glob("C:\\", "v.bin", recursive=True):
            content = shadow.read_file(path)
            assert content == content[:1] * len(content)
        if shadow.exists("C:\\log"):
            log = shadow.read_file("C:\\log")
            assert len(log) % 100 == 0
            assert all(log[i : i + 100] == log[i : i + 1] * 100 for i in range(0, len(log), 100))


def test_kept_bitmap_images_follow_every_mark_and_release() -> None:
    """The block images Bitmap keeps and updates in place equal a fresh packing of the bits,
    for runs inside a byte, across bytes and across bitmap blocks."""
    import random

    import numpy as np

    from vsssim.storage._simfs_alloc import Bitmap

    per_block = layout.BITS_PER_BITMAP_BLOCK
    nbits = 2 * per_block + 1000
    blocks = -(-nbits // per_block)

    def packed(bitmap: Bitmap, index: int) -> bytes:
        chunk = np.frombuffer(bytes(bitmap.bits), np.uint8)[index * per_block :][:per_block]
        bits = np.packbits(chunk, bitorder="little").tobytes()
        return layout.encode_bitmap_block(layout.BMAP_MAGIC, index, bits)

    rng = random.Random(3)
    bitmap = Bitmap.fresh(layout.BMAP_MAGIC, nbits, 5)
    for index in range(blocks):  # start keeping every block's image
        assert bitmap.block_image(index) == packed(bitmap, index)
    for _ in range(400):
        start = rng.randrange(5, nbits - 1)
        count = min(rng.choice([1, 2, 7, 8, 9, 30, 500, per_block + 77]), nbits - start)
        used = bitmap.bits[start : start + count]
        if used.count(0) == count:
            bitmap.mark(start, count)
        elif used.count(1) == count:
            bitmap.release(start, count)
        else:
            continue
        for index in range(blocks):
            assert bitmap.block_image(index) == packed(bitmap, index)
    assert bitmap.block_image(blocks - 1)[layout.BITMAP_HEADER + (nbits % per_block) // 8 + 1 :] \
        == bytes(4096 - layout.BITMAP_HEADER - (nbits % per_block) // 8 - 1)


def test_an_append_in_the_last_block_writes_what_the_general_commit_writes() -> None:
    """The append fast path (data and inode only, no buffers) makes the same writes as the
    general commit, and a failed write reloads the caches like commit()'s."""
    clock = VirtualClock()
    device = RecordingDevice(2 * MiB)
    format(device, clock=clock)
    fs = SimFS.mount(device, roots=["C:\\"], clock=clock)
    fs.write_file("C:\\log", b"a" * 100)
    clock.advance(1.5)
    device.log.clear()
    fs.append_file("C:\\log", b"b" * 50)  # stays in block 0: the fast path
    fast = list(device.log)
    assert [len(data) for _, data in fast] == [50, layout.INODE_SIZE]
    other = RecordingDevice(2 * MiB)
    other._data[:] = device.snapshot_bytes()
    general = SimFS.mount(other, roots=["C:\\"], clock=clock)
    node, _, _ = general._walk_path(("log",), "C:\\log")
    general._store.touched = True  # (any pending change sends an append the general way)
    node.size -= 50  # replay the same append through _pwrite and commit()
    other.log.clear()
    general.append_file("C:\\log", b"b" * 50)
    assert other.log == fast
    assert device.snapshot_bytes() == other.snapshot_bytes()

    class Failing(RecordingDevice):
        fail = False

        def write(self, offset: int, data: Buffer) -> None:
            if self.fail and len(data) == layout.INODE_SIZE:
                raise OSError("injected")
            super().write(offset, data)

    broken = Failing(2 * MiB)
    broken._data[:] = device.snapshot_bytes()
    fs = SimFS.mount(broken, roots=["C:\\"])
    fs.read_file("C:\\log")
    broken.fail = True
    with pytest.raises(OSError, match="injected"):
        fs.append_file("C:\\log", b"c" * 10)
    broken.fail = False
    assert fs.stat("C:\\log").size == 150  # the caches were reloaded from the device
    assert fs.read_file("C:\\log") == b"a" * 100 + b"b" * 50
    assert fs.check() == []


def test_a_commit_that_fails_before_writing_leaves_the_mount_as_the_device_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No operation opens the store's buffers: a commit that raises while encoding (nothing
    written yet) reloads the caches, so the next operation starts clean."""
    device = RecordingDevice(2 * MiB)
    format(device)
    fs = SimFS.mount(device, roots=["C:\\"])
    fs.write_file("C:\\a", b"a")
    before = device.snapshot_bytes()
    real = layout.Superblock.encode

    def failing(sb: layout.Superblock) -> bytes:
        raise MemoryError("injected")

    monkeypatch.setattr(layout.Superblock, "encode", failing)
    device.log.clear()
    with pytest.raises(MemoryError, match="injected"):
        fs.write_file("C:\\b", b"b")  # a new file changes the superblock's counters
    assert device.log == [] and device.snapshot_bytes() == before
    monkeypatch.setattr(layout.Superblock, "encode", real)
    assert not fs.exists("C:\\b") and fs.listdir("C:\\") == ["a"]
    fs.append_file("C:\\a", b"+")  # the fast path: it needs an operation with nothing pending
    fs.write_file("C:\\c", b"c")
    assert fs.read_file("C:\\a") == b"a+" and fs.listdir("C:\\") == ["a", "c"]
    assert fs.check() == []
    assert SimFS.mount(device, roots=["C:\\"]).check() == []


def test_the_superblock_encodes_a_changed_label() -> None:
    sb = layout.Superblock.layout(1000, 64, created=5, label="old")
    first = sb.encode()
    sb.label = "new label"
    assert layout.Superblock.decode(sb.encode()).label == "new label"
    sb.label = "old"
    assert sb.encode() == first
