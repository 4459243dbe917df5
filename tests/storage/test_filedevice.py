"""FileDevice: a BlockDevice over a raw image file (how a LUN copy is read)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsssim.clock import VirtualClock
from vsssim.errors import VssAccessDeniedError, VssObjectNotFoundError
from vsssim.storage import simfs
from vsssim.storage.blockdev import BlockDevice, MemoryDevice, is_block_device
from vsssim.storage.filedevice import FileDevice

SIZE = 256 * 1024


def image(tmp_path: Path, data: bytes = b"", size: int = SIZE) -> Path:
    path = tmp_path / "lun.img"
    with open(path, "wb") as f:
        f.truncate(size)
        f.write(data)
    return path


def test_reads_what_the_file_holds_and_is_a_block_device(tmp_path: Path) -> None:
    dev = FileDevice(image(tmp_path, b"hello world"), readonly=True)
    assert isinstance(dev, BlockDevice)
    assert (dev.size, dev.block_size, dev.readonly) == (SIZE, 16 * 1024, True)
    assert dev.read(0, 5) == b"hello"
    assert dev.read(6, 5) == b"world"
    assert dev.read(SIZE - 3, 3) == b"\0\0\0"
    assert dev.read(10, 0) == b""


def test_read_only_device_refuses_writes_and_changes_nothing(tmp_path: Path) -> None:
    path = image(tmp_path, b"abc")
    dev = FileDevice(path, readonly=True)
    with pytest.raises(VssAccessDeniedError):
        dev.write(0, b"xyz")
    assert path.read_bytes()[:3] == b"abc"


def test_writable_device_writes_through_to_the_file(tmp_path: Path) -> None:
    path = image(tmp_path)
    with FileDevice(path) as dev:
        dev.write(100, b"data")
        dev.write(SIZE - 2, bytearray(b"zz"))
        dev.flush()
    raw = path.read_bytes()
    assert raw[100:104] == b"data"
    assert raw[-2:] == b"zz"


def test_ranges_outside_the_device_are_refused(tmp_path: Path) -> None:
    dev = FileDevice(image(tmp_path))
    with pytest.raises(ValueError, match="outside"):
        dev.read(SIZE - 1, 2)
    with pytest.raises(ValueError, match="outside"):
        dev.write(-1, b"x")
    with pytest.raises(TypeError):
        dev.read(1.5, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dev.write(0, "text")  # type: ignore[arg-type]


def test_readonly_can_be_lifted_and_restored(tmp_path: Path) -> None:
    path = image(tmp_path)
    dev = FileDevice(path, readonly=True)
    dev.readonly = False  # reopens the image for writing
    dev.write(0, b"window")
    dev.readonly = True
    with pytest.raises(VssAccessDeniedError):
        dev.write(0, b"late")
    assert dev.read(0, 6) == b"window"
    with pytest.raises(TypeError):
        dev.readonly = 1  # type: ignore[assignment]


def test_closed_device_refuses_access(tmp_path: Path) -> None:
    dev = FileDevice(image(tmp_path))
    dev.close()
    dev.close()  # idempotent
    assert dev.closed
    with pytest.raises(ValueError, match="closed"):
        dev.read(0, 1)
    with pytest.raises(ValueError, match="closed"):
        dev.write(0, b"x")


def test_bad_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FileDevice(tmp_path / "missing.img")
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        FileDevice(empty)
    with pytest.raises(ValueError, match="power of two"):
        FileDevice(image(tmp_path), block_size=3000)
    with pytest.raises(TypeError):
        FileDevice(image(tmp_path), readonly="yes")  # type: ignore[arg-type]


def test_fs_mounts_the_simfs_in_the_image_following_readonly(tmp_path: Path) -> None:
    path = image(tmp_path, size=4 * 2**20)
    clock = VirtualClock()
    with FileDevice(path, clock=clock) as dev:
        simfs.format(dev, label="LUN", clock=clock)
        dev.fs.write_file("\\dir\\a.txt", b"payload", create_dirs=True)
    ro = FileDevice(path, readonly=True, clock=clock)
    ro.roots = ["X:\\"]
    assert ro.fs.read_file("X:\\dir\\a.txt") == b"payload"
    assert ro.fs.readonly
    with pytest.raises(VssAccessDeniedError):
        ro.fs.write_file("X:\\dir\\b.txt", b"no")
    mounted = ro.fs
    ro.roots = ["Y:\\"]  # new roots: a new mount
    assert ro.fs is not mounted
    assert ro.fs.read_file("Y:\\dir\\a.txt") == b"payload"
    ro.readonly = False  # the same mount follows the device
    ro.fs.write_file("Y:\\dir\\b.txt", b"yes")
    assert ro.fs.read_file("Y:\\dir\\b.txt") == b"yes"


def test_fs_without_a_file_system(tmp_path: Path) -> None:
    with pytest.raises(VssObjectNotFoundError):
        _ = FileDevice(image(tmp_path), readonly=True).fs


def test_operation_keeps_other_threads_out(tmp_path: Path) -> None:
    dev = FileDevice(image(tmp_path))
    inside = threading.Event()
    done = threading.Event()
    order: list[str] = []

    def other() -> None:
        inside.wait()
        dev.write(0, b"B")
        order.append("other")
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with dev.operation(), dev.operation():  # reentrant
        inside.set()
        assert not done.wait(0.05)  # the other thread's write waits for the operation
        dev.write(0, b"A")
        order.append("operation")
    t.join()
    assert order == ["operation", "other"]
    assert dev.read(0, 1) == b"B"


@given(st.lists(st.tuples(st.integers(0, SIZE - 1), st.binary(min_size=1, max_size=600)),
                max_size=20))
def test_matches_a_bytearray_model(tmp_path_factory: pytest.TempPathFactory,
                                   writes: list[tuple[int, bytes]]) -> None:
    path = image(tmp_path_factory.mktemp("model"))
    model = bytearray(SIZE)
    with FileDevice(path) as dev:
        for offset, data in writes:
            data = data[: SIZE - offset]
            dev.write(offset, data)
            model[offset : offset + len(data)] = data
        assert dev.read(0, SIZE) == bytes(model)
    assert path.read_bytes() == bytes(model)


class _NoOperation:
    """Every BlockDevice member but ``operation``."""

    size = 1 << 20
    block_size = 4096
    readonly = False

    def read(self, offset: int, length: int) -> bytes:
        return bytes(length)

    def write(self, offset: int, data: bytes) -> None:
        pass


def test_file_systems_refuse_what_is_not_a_block_device(tmp_path: Path) -> None:
    device = FileDevice(image(tmp_path, size=4 << 20))
    simfs.format(device)
    simfs.SimFS.mount(device)  # a device type seen once is accepted from then on ...
    for bad in (_NoOperation(), b"\0" * 4096, None):  # ... and other types still checked
        assert not is_block_device(bad)
        with pytest.raises(TypeError, match="BlockDevice"):
            simfs.format(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="BlockDevice"):
            simfs.SimFS.mount(bad)  # type: ignore[arg-type]
    assert is_block_device(device) and is_block_device(MemoryDevice(4096))
