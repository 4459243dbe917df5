"""simfs file objects and whole-file calls: semantics against models, handles, times, threads."""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsssim.clock import VirtualClock
from vsssim.errors import (
    VssAccessDeniedError,
    VssDirectoryNotEmptyError,
    VssFileExistsError,
    VssFileNotFoundError,
    VssInsufficientStorageError,
    VssInvalidArgumentError,
    VssIsADirectoryError,
    VssNotADirectoryError,
)
from vsssim.storage.blockdev import MemoryDevice
from vsssim.storage.simfs import BLOCK_SIZE, SimFS, _OperationLock, format
from vsssim.storage.volume import Volume


def make_fs(size: int = 4 * 2**20, clock: VirtualClock | None = None) -> SimFS:
    device = MemoryDevice(size)
    clock = clock or VirtualClock()
    format(device, clock=clock)
    return SimFS.mount(device, roots=["C:\\"], clock=clock)


# --------------------------------------------------------------- file object vs BytesIO
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.binary(max_size=3 * BLOCK_SIZE + 1)),
        st.tuples(st.just("write_big"), st.integers(1, 5 * BLOCK_SIZE), st.integers(0, 255)),
        st.tuples(st.just("seek"), st.integers(-2 * BLOCK_SIZE, 4 * BLOCK_SIZE), st.integers(0, 2)),
        st.tuples(st.just("read"), st.integers(-1, 2 * BLOCK_SIZE)),
        st.tuples(st.just("readinto"), st.integers(0, BLOCK_SIZE + 3)),
        st.tuples(st.just("truncate"), st.one_of(st.none(), st.integers(0, 4 * BLOCK_SIZE))),
        st.tuples(st.just("tell")),
    ),
    max_size=25,
)


def _apply(handle: io.RawIOBase | io.BytesIO, op: tuple[object, ...], model: bool) -> object:
    name = op[0]
    try:
        if name == "write":
            return handle.write(op[1])  # type: ignore[arg-type]
        if name == "write_big":
            return handle.write(bytes([op[2]]) * op[1])  # type: ignore[list-item,operator]
        if name == "seek":
            if model and isinstance(handle, io.BytesIO):
                # BytesIO clamps a negative relative seek to 0; real files refuse it.
                base = {0: 0, 1: handle.tell(), 2: len(handle.getbuffer())}[op[2]]  # type: ignore[index]
                if base + op[1] < 0:  # type: ignore[operator]
                    raise ValueError("negative seek position")
            return handle.seek(op[1], op[2])  # type: ignore[arg-type]
        if name == "read":
            return handle.read(op[1])  # type: ignore[arg-type]
        if name == "readinto":
            buffer = bytearray(op[1])  # type: ignore[call-overload]
            count = handle.readinto(buffer)
            return count, bytes(buffer[: count or 0])
        if name == "truncate":
            size = op[1]
            if model and isinstance(handle, io.BytesIO):
                # Real files (FileIO) extend with zeros; BytesIO does not: model FileIO.
                target = handle.tell() if size is None else size
                current = len(handle.getbuffer())
                if target > current:  # type: ignore[operator]
                    pos = handle.tell()
                    handle.seek(0, io.SEEK_END)
                    handle.write(bytes(target - current))  # type: ignore[operator]
                    handle.seek(pos)
                    return target
            return handle.truncate(size)  # type: ignore[arg-type]
        return handle.tell()
    except ValueError as exc:
        return ("ValueError", "negative" in str(exc))


@given(ops=_OPS)
def test_file_object_matches_bytesio(ops: list[tuple[object, ...]]) -> None:
    fs = make_fs()
    model = io.BytesIO()
    with fs.open("C:\\f.bin", "w+b") as handle:
        for op in ops:
            assert _apply(handle, op, False) == _apply(model, op, True), op
            assert handle.tell() == model.tell()
    assert fs.read_file("C:\\f.bin") == model.getvalue()
    assert fs.stat("C:\\f.bin").size == len(model.getvalue())
    with fs.open("C:\\f.bin", "rb") as handle:
        assert handle.read() == model.getvalue()
    assert fs.check() == []


# ------------------------------------------------------------------ modes vs real files
_SCRIPT: list[tuple[str, object]] = [
    ("write", b"hello"),
    ("seek", 0),
    ("read", 3),
    ("write", b"XY"),
    ("seek", 10),
    ("write", b"end"),
    ("tell", None),
    ("seek", 0),
    ("read", -1),
]


def _run_script(handle: object) -> list[object]:
    out: list[object] = []
    for name, arg in _SCRIPT:
        method = getattr(handle, name)
        try:
            out.append(method() if arg is None else method(arg))
        except io.UnsupportedOperation:
            out.append("unsupported")
    return out


@pytest.mark.parametrize("mode", ["rb", "r+b", "wb", "w+b", "xb", "ab", "a+b"])
@pytest.mark.parametrize("exists", [True, False])
def test_open_modes_behave_like_python_files(tmp_path: Path, mode: str, exists: bool) -> None:
    fs = make_fs()
    host = tmp_path / "f.bin"
    if exists:
        host.write_bytes(b"0123456789abcdef")
        fs.write_file("C:\\f.bin", b"0123456789abcdef")
    try:
        real = open(host, mode, buffering=0)  # noqa: SIM115 - compared step by step below
    except OSError as exc:
        expected = {FileNotFoundError: VssFileNotFoundError, FileExistsError: VssFileExistsError}
        with pytest.raises(expected[type(exc)]):
            fs.open("C:\\f.bin", mode)
        return
    with real, fs.open("C:\\f.bin", mode) as mine:
        assert _run_script(mine) == _run_script(real)
    assert fs.read_file("C:\\f.bin") == host.read_bytes()


def test_text_and_buffered_wrappers_work_on_top(tmp_path: Path) -> None:
    fs = make_fs()
    with io.TextIOWrapper(io.BufferedWriter(fs.open("C:\\log.txt", "wb")), "utf-8") as text:
        text.write("line 1\nline 2\n")
    with io.TextIOWrapper(io.BufferedReader(fs.open("C:\\log.txt", "rb")), "utf-8") as text:
        assert text.readlines() == ["line 1\n", "line 2\n"]


def test_handle_misuse_raises() -> None:
    fs = make_fs()
    handle = fs.open("C:\\f", "wb")
    with pytest.raises(io.UnsupportedOperation):
        handle.read()
    assert handle.name == "C:\\f"
    assert handle.mode == "wb"
    handle.close()
    handle.close()
    for call in (handle.read, handle.tell, lambda: handle.write(b"x"), handle.flush):
        with pytest.raises(ValueError, match="closed"):
            call()
    with fs.open("C:\\f", "rb") as reader, pytest.raises(io.UnsupportedOperation):
        reader.write(b"x")
    for mode in ["r", "w", "rt", "z", "rw"]:
        with pytest.raises(ValueError, match="binary"):
            fs.open("C:\\f", mode)
    with pytest.raises(VssIsADirectoryError):
        fs.open("C:\\", "rb")
    fs.mkdir("C:\\d")
    with pytest.raises(VssIsADirectoryError):
        fs.open("C:\\d", "wb")


# --------------------------------------------------------------------------- handles
def test_an_open_file_cannot_be_removed_or_renamed_until_closed() -> None:
    fs = make_fs()
    fs.write_file("C:\\f", b"data")
    fs.write_file("C:\\g", b"other")
    handle = fs.open("C:\\f", "rb")
    with pytest.raises(VssAccessDeniedError, match="sharing violation"):
        fs.remove("C:\\F")
    with pytest.raises(VssAccessDeniedError):
        fs.rename("C:\\f", "C:\\h")
    with pytest.raises(VssAccessDeniedError):
        fs.rename("C:\\g", "C:\\f", replace=True)
    handle.close()
    fs.rename("C:\\f", "C:\\h")
    assert fs.read_file("C:\\h") == b"data"
    fs.remove("C:\\h")
    assert fs.check() == []


def test_a_handle_follows_its_file_across_a_directory_rename() -> None:
    fs = make_fs()
    fs.write_file("C:\\a\\f", b"data", create_dirs=True)
    with fs.open("C:\\a\\f", "r+b") as handle:
        fs.rename("C:\\a", "C:\\b")
        handle.seek(0, io.SEEK_END)
        handle.write(b"+more")
    assert fs.read_file("C:\\b\\f") == b"data+more"


def test_a_handle_whose_file_vanished_after_refresh_fails_cleanly() -> None:
    device = MemoryDevice(2**20)
    format(device)
    fs = SimFS.mount(device, roots=["C:\\"])
    before = device.snapshot_bytes()
    fs.write_file("C:\\f", b"data")
    handle = fs.open("C:\\f", "r+b")
    device.write(0, before)  # the volume is reverted underneath the mount
    fs.refresh()
    assert fs.listdir() == []
    with pytest.raises(VssFileNotFoundError, match="no longer exists"):
        handle.read()
    with pytest.raises(VssFileNotFoundError):
        handle.write(b"x")
    handle.close()
    assert fs.check() == []


# ---------------------------------------------------------------------- whole files
def test_write_file_replaces_content_in_place_and_keeps_the_stored_name() -> None:
    fs = make_fs()
    fs.write_file("C:\\Data.MDF", b"a" * 3 * BLOCK_SIZE)
    free = fs.free_space
    fs.write_file("C:\\data.mdf", b"b" * 3 * BLOCK_SIZE)
    assert fs.free_space == free
    assert fs.listdir() == ["Data.MDF"]
    fs.write_file("C:\\DATA.mdf", b"c")
    assert fs.free_space == free + 2 * BLOCK_SIZE
    assert fs.read_file("C:\\data.mdf") == b"c"


def test_append_truncate_and_gaps_read_back_as_zeros() -> None:
    fs = make_fs()
    fs.append_file("C:\\wal", b"one")
    fs.append_file("C:\\wal", b"two")
    assert fs.read_file("C:\\wal") == b"onetwo"
    fs.truncate("C:\\wal", 3)
    fs.truncate("C:\\wal", 2 * BLOCK_SIZE + 5)
    assert fs.read_file("C:\\wal") == b"one" + bytes(2 * BLOCK_SIZE + 2)
    fs.truncate("C:\\wal", 0)
    assert fs.read_file("C:\\wal") == b""
    with pytest.raises(ValueError, match="negative"):
        fs.truncate("C:\\wal", -1)
    assert fs.check() == []


def test_stale_bytes_of_freed_blocks_never_show_through() -> None:
    fs = make_fs()
    fs.write_file("C:\\secret", b"S" * 2 * BLOCK_SIZE)
    fs.remove("C:\\secret")
    fs.write_file("C:\\f", b"x")
    fs.truncate("C:\\f", BLOCK_SIZE + 10)
    with fs.open("C:\\g", "wb") as handle:
        handle.seek(BLOCK_SIZE + 100)
        handle.write(b"y")
    assert fs.read_file("C:\\f") == b"x" + bytes(BLOCK_SIZE + 9)
    assert fs.read_file("C:\\g") == bytes(BLOCK_SIZE + 100) + b"y"


def test_directory_operations_and_their_errors() -> None:
    fs = make_fs()
    fs.makedirs("C:\\a\\b\\c")
    fs.makedirs("C:\\A\\B", exist_ok=True)
    with pytest.raises(VssFileExistsError):
        fs.makedirs("C:\\a\\b")
    with pytest.raises(VssFileExistsError):
        fs.mkdir("C:\\a")
    with pytest.raises(VssFileNotFoundError):
        fs.mkdir("C:\\x\\y")
    with pytest.raises(VssDirectoryNotEmptyError):
        fs.rmdir("C:\\a\\b")
    with pytest.raises(VssIsADirectoryError):
        fs.remove("C:\\a")
    with pytest.raises(VssIsADirectoryError):
        fs.write_file("C:\\a", b"")
    with pytest.raises(VssAccessDeniedError):
        fs.rmdir("C:\\")
    with pytest.raises(VssInvalidArgumentError, match="into itself"):
        fs.rename("C:\\a", "C:\\a\\b\\c\\a")
    fs.write_file("C:\\a\\f", b"")
    with pytest.raises(VssNotADirectoryError):
        fs.rmdir("C:\\a\\f")
    with pytest.raises(VssFileExistsError):
        fs.makedirs("C:\\a\\f\\g", exist_ok=True)
    with pytest.raises(VssFileNotFoundError):
        fs.remove("C:\\a\\nope")
    fs.rename("C:\\a\\b", "C:\\b")
    assert list(fs.walk("C:\\")) == [
        ("C:\\", ["a", "b"], []),
        ("C:\\a", [], ["f"]),
        ("C:\\b", ["c"], []),
        ("C:\\b\\c", [], []),
    ]
    fs.rmdir("C:\\b\\c")
    fs.rename("C:\\b", "C:\\B")  # case-only rename of a directory
    assert fs.listdir() == ["a", "B"]
    assert fs.check() == []


def test_walk_prunes_like_os_walk() -> None:
    fs = make_fs()
    for path in ["a\\x\\1", "a\\y\\2", "b\\3"]:
        fs.write_file("C:\\" + path, b"", create_dirs=True)
    seen = []
    for dirpath, dirs, _ in fs.walk("C:\\"):
        seen.append(dirpath)
        if dirpath == "C:\\a":
            dirs.remove("x")
    assert seen == ["C:\\", "C:\\a", "C:\\a\\y", "C:\\b"]
    assert list(fs.walk("C:\\missing")) == []
    assert list(fs.walk("C:\\b\\3")) == []


def test_copy_in_and_out(tmp_path: Path) -> None:
    fs = make_fs()
    source = tmp_path / "in.bin"
    source.write_bytes(b"payload" * 1000)
    fs.copy_in(source, "C:\\dir\\file.bin", create_dirs=True)
    fs.copy_out("C:\\dir\\file.bin", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == source.read_bytes()


# ---------------------------------------------------------------------- path lookups
# simfs remembers walked paths until the directory tree changes: every change must show.
def test_remembered_paths_follow_renames_removals_and_case() -> None:
    fs = make_fs()
    fs.write_file("C:\\Db\\Log\\wal", b"1", create_dirs=True)
    assert fs.stat("C:\\db\\LOG\\wal").path == "C:\\Db\\Log\\wal"
    fs.append_file("C:\\DB\\log\\wal", b"2")
    fs.rename("C:\\Db\\Log", "C:\\Db\\LOGS")  # another name
    with pytest.raises(VssFileNotFoundError, match="no such file"):
        fs.append_file("C:\\DB\\log\\wal", b"3")
    assert fs.read_file("C:\\db\\logs\\WAL") == b"12"
    assert fs.stat("C:\\db\\logs\\WAL").path == "C:\\Db\\LOGS\\wal"
    fs.rename("C:\\Db\\LOGS", "C:\\Db\\Logs")  # a case-only rename
    assert fs.stat("C:\\db\\logs\\WAL").path == "C:\\Db\\Logs\\wal"
    fs.remove("C:\\Db\\Logs\\wal")
    fs.rmdir("C:\\Db\\Logs")
    fs.write_file("C:\\Db\\logs", b"now a file")
    with pytest.raises(VssNotADirectoryError):
        fs.append_file("C:\\db\\LOGS\\wal", b"4")
    fs.remove("C:\\Db\\logs")
    fs.makedirs("C:\\Db\\logs")
    fs.append_file("C:\\db\\LOGS\\wal", b"5")  # a new directory inode, same path
    assert fs.read_file("C:\\Db\\logs\\wal") == b"5"
    assert fs.check() == []


def test_a_change_forgets_only_the_remembered_paths_through_the_changed_entry() -> None:
    """A rename or removal drops the walks through the entry it changed (that file, or
    everything under that directory) and keeps every other walk as it was."""
    fs = make_fs()
    fs.write_file("C:\\db\\wal", b"log", create_dirs=True)
    fs.write_file("C:\\db\\ckpt", b"old")
    fs.write_file("C:\\db\\sub\\f", b"f", create_dirs=True)
    for path in ("C:\\db\\wal", "C:\\db\\ckpt", "C:\\db\\sub\\f"):
        assert fs.exists(path)
    wal = fs._walks[("db", "wal")]
    fs.write_file("C:\\db\\tmp", b"new")
    fs.rename("C:\\db\\tmp", "C:\\db\\ckpt", replace=True)  # a checkpoint
    assert fs._walks[("db", "wal")] is wal and ("db", "sub", "f") in fs._walks
    assert ("db", "ckpt") not in fs._walks and ("db", "tmp") not in fs._walks
    assert fs.read_file("C:\\db\\ckpt") == b"new"
    fs.rename("C:\\db\\ckpt", "C:\\db\\CKPT")  # a case-only rename
    assert fs.stat("C:\\db\\ckpt").path == "C:\\db\\CKPT"
    fs.rename("C:\\db\\sub", "C:\\db\\moved")  # a directory: the walks below it go
    assert ("db", "sub", "f") not in fs._walks and fs._walks[("db", "wal")] is wal
    with pytest.raises(VssFileNotFoundError):
        fs.read_file("C:\\db\\sub\\f")
    assert fs.read_file("C:\\db\\moved\\f") == b"f"
    fs.remove("C:\\db\\moved\\f")
    assert ("db", "moved", "f") not in fs._walks and fs._walks[("db", "wal")] is wal
    assert not fs.exists("C:\\db\\moved\\f")
    fs.append_file("C:\\db\\wal", b"+")
    assert fs.read_file("C:\\db\\wal") == b"log+" and fs.check() == []


def test_remembered_paths_are_dropped_by_a_failed_operation_and_a_refresh() -> None:
    device = MemoryDevice(2**20)
    format(device)
    fs = SimFS.mount(device, roots=["C:\\"])
    before = device.snapshot_bytes()
    # The directories exist (and are walked) inside the operation, which then fails.
    with pytest.raises(VssInsufficientStorageError):
        fs.write_file("C:\\new\\dir\\big", bytes(2**20), create_dirs=True)
    assert not fs.exists("C:\\new\\dir")
    fs.write_file("C:\\a\\b\\f", b"x", create_dirs=True)
    assert fs.is_file("C:\\a\\b\\f")
    device.write(0, before)  # the volume is reverted underneath the mount
    fs.refresh()
    assert not fs.exists("C:\\a\\b\\f")
    assert not fs.exists("C:\\a")


def test_remembered_paths_are_bounded() -> None:
    fs = make_fs()
    fs.makedirs("C:\\abcdefghijkl")
    for i in range(1 << 12):  # every spelling of the name is a separate remembered path
        spelling = "".join(ch.upper() if i >> k & 1 else ch for k, ch in enumerate("abcdefghijkl"))
        assert fs.is_dir("C:\\" + spelling)
    assert 0 < len(fs._walks) <= 1024


# ------------------------------------------------------------------------------ times
def test_times_come_from_the_clock() -> None:
    clock = VirtualClock(start=100.0)
    fs = make_fs(clock=clock)
    t0 = clock.datetime()
    fs.write_file("C:\\d\\f", b"x", create_dirs=True)
    clock.advance(30.5)
    fs.append_file("C:\\d\\f", b"y")
    info = fs.stat("C:\\d\\f")
    assert info.created == t0
    assert info.modified == info.accessed == t0 + timedelta(seconds=30.5)
    assert info.mtime == 130.5
    assert info.size == 2
    assert not info.is_dir
    assert info.path == "C:\\d\\f"
    clock.advance(5)
    fs.read_file("C:\\d\\f")  # reads do not update the access time (NTFS default)
    assert fs.stat("C:\\d\\f").accessed == info.accessed
    directory = fs.stat("C:\\D")
    assert directory.is_dir
    assert directory.size == 0
    assert directory.modified == t0
    fs.write_file("C:\\d\\g", b"")
    assert fs.stat("C:\\d").modified == t0 + timedelta(seconds=35.5)
    fs.rename("C:\\d\\g", "C:\\d\\h")
    assert fs.stat("C:\\d\\h").modified == t0 + timedelta(seconds=35.5)


@pytest.mark.parametrize("start", [0.0, 0.1 + 0.2, 1e-7, 5e-7, 1.5e-6, 2.5e-6, 86_399.9999995,
                                   123_456_789.123_456_5, 1 / 3])
def test_file_times_of_a_virtual_clock_equal_its_datetime(start: float) -> None:
    """The FILETIME a VirtualClock's time converts to without building the datetime is
    exactly ``filetime(clock.datetime())``, rounding of the microseconds included."""

    from vsssim.clock import filetime

    class Shifted(VirtualClock):  # a datetime() of its own: converted through it
        def datetime(self) -> datetime:
            return super().datetime() + timedelta(days=1)

    for clock in (VirtualClock(start=start), Shifted(start=start)):
        fs = make_fs(clock=clock)
        fs.write_file("C:\\f", b"x")
        node, _, _ = fs._walk_path(("f",), "C:\\f")
        assert node.modified == filetime(clock.datetime())


# ---------------------------------------------------------------------------- threads
def test_threads_writing_different_files_concurrently() -> None:
    fs = make_fs(size=8 * 2**20)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            fs.makedirs(f"C:\\t{n}", exist_ok=True)
            for i in range(30):
                fs.write_file(f"C:\\t{n}\\f{i % 7}", bytes([n]) * (i * 300 + 1))
                fs.append_file(f"C:\\t{n}\\log", bytes([i]) * 50)
                if i % 5 == 4:
                    fs.remove(f"C:\\t{n}\\f{i % 7}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert fs.check() == []
    for n in range(4):
        assert fs.read_file(f"C:\\t{n}\\log") == b"".join(bytes([i]) * 50 for i in range(30))
    fresh = SimFS.mount(fs.device, roots=["C:\\"])
    assert fresh.check() == []
    assert sorted(fresh.glob("C:\\", recursive=True)) == sorted(fs.glob("C:\\", recursive=True))


class _UnlockedDevice(MemoryDevice):
    """A device whose operation() excludes nothing: the mount's own lock is all there is."""

    @contextlib.contextmanager
    def operation(self) -> Iterator[None]:
        yield


@pytest.mark.parametrize("kind", ["memory", "unlocked", "volume"])
def test_every_guard_keeps_concurrent_changes_apart(kind: str, tmp_path: Path) -> None:
    """Threads changing one mount: on a volume its operation lock is the mount's only lock;
    on other devices the mount adds its own after device.operation() (the only exclusion
    when that excludes nothing)."""
    clock = VirtualClock()
    size = 8 * 2**20
    device: MemoryDevice | Volume
    if kind == "volume":
        device = Volume.create(tmp_path / "v.img", size, clock=clock)
    else:
        device = _UnlockedDevice(size) if kind == "unlocked" else MemoryDevice(size)
    format(device, clock=clock)
    fs = SimFS.mount(device, roots=["C:\\"], clock=clock)
    if kind == "volume":
        assert isinstance(device, Volume) and fs._guard is device.operation()
    else:
        assert isinstance(fs._guard, _OperationLock)
    # While one thread is inside the guard, another thread's call waits for it.
    done = threading.Event()

    def append() -> None:
        fs.append_file("C:\\w", b"1")
        done.set()

    other = threading.Thread(target=append)
    with fs._guard:
        other.start()
        assert not done.wait(0.05)
        assert not fs.exists("C:\\w")
    other.join()
    assert done.is_set() and fs.read_file("C:\\w") == b"1"
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            fs.makedirs(f"C:\\t{n}", exist_ok=True)
            for i in range(40):
                fs.write_file(f"C:\\t{n}\\f{i % 7}", bytes([n]) * (i * 300 + 1))
                fs.append_file(f"C:\\t{n}\\log", bytes([i]) * 50)
                if i % 5 == 4:
                    fs.rename(f"C:\\t{n}\\f{i % 7}", f"C:\\t{n}\\g", replace=True)
                assert fs.free_space <= fs.capacity
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: an unguarded change would interleave
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert fs.check() == []
    for n in range(4):
        assert fs.read_file(f"C:\\t{n}\\log") == b"".join(bytes([i]) * 50 for i in range(40))
    if isinstance(fs._guard, _OperationLock):
        assert fs._guard._ops == []
    if isinstance(device, Volume):
        device.close()


def test_the_guard_of_a_plain_device_enters_its_operation_first_and_leaves_it_last() -> None:
    """_OperationLock: device.operation() around the mount's lock, nested and after a raise."""
    events: list[str] = []

    class Recording(MemoryDevice):
        @contextlib.contextmanager
        def operation(self) -> Iterator[None]:
            events.append("op")
            try:
                yield
            finally:
                events.append("/op")

    device = Recording(4 * 2**20)
    format(device)
    fs = SimFS.mount(device, roots=["C:\\"])
    guard = fs._guard
    assert isinstance(guard, _OperationLock)
    events.clear()
    with guard:
        assert guard._lock._is_owned()  # type: ignore[attr-defined]
        with guard:
            assert events == ["op", "op"]
        assert events == ["op", "op", "/op"]
    assert events == ["op", "op", "/op", "/op"] and guard._ops == []
    assert not guard._lock._is_owned()  # type: ignore[attr-defined]
    with pytest.raises(VssFileNotFoundError):
        fs.read_file("C:\\missing")
    assert guard._ops == [] and not guard._lock._is_owned()  # type: ignore[attr-defined]


def test_a_file_time_past_the_last_datetime_is_refused_as_before() -> None:
    """The FILETIME fast path refuses a moment after 9999-12-31 as the datetime does."""
    clock = VirtualClock()
    fs = make_fs(clock=clock)
    fs.write_file("C:\\a", b"1")
    clock.advance(3e11)  # about 9,500 years on
    with pytest.raises(OverflowError):
        fs.write_file("C:\\b", b"2")
    assert fs.listdir("C:\\") == ["a"]


def test_a_bitmap_block_of_any_magic_has_the_crc_of_its_bytes() -> None:
    from vsssim.storage import _simfs_layout as layout

    bits = bytes(range(256)) * 4
    for magic in (layout.BMAP_MAGIC, layout.IMAP_MAGIC, b"ZZZZ"):
        block = layout.encode_bitmap_block(magic, 3, bits)
        assert int.from_bytes(block[4:8], "little") == layout._crc(block, 4)
        assert layout.decode_bitmap_block(block, magic, 3, "x")[:len(bits)] == bits
