"""simfs against an in-memory model: random file operations, snapshots between them.

The model is a case-insensitive, case-preserving tree of dicts.  After every step the mounted
tree and every file's bytes equal the model and ``check()`` is clean.  "Snapshots" copy the
device's bytes between two operations (the engine's guarantee); a read-only mount of such a copy
must show the model as it was at that instant, pass ``check()`` and refuse writes.  A failed
operation (disk full, a name in the way) must leave the device byte-for-byte unchanged.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from vsssim.clock import VirtualClock
from vsssim.errors import (
    VssAccessDeniedError,
    VssDirectoryNotEmptyError,
    VssError,
    VssFileExistsError,
    VssInsufficientStorageError,
    VssInvalidArgumentError,
    VssIsADirectoryError,
    VssNotADirectoryError,
)
from vsssim.storage.blockdev import MemoryDevice
from vsssim.storage.simfs import BLOCK_SIZE, SimFS, format

ROOT = "C:\\"
SHADOW = "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1\\"
DEVICE_SIZE = 256 * 1024  # 64 blocks: small enough to fill, and 32 inodes to run out of
INODES = 32
NAMES = ["a", "B", "c.txt", "Data.MDF", "log", "x y"]


class FrozenDevice:
    """A read-only copy of a device's bytes: what a snapshot device looks like to simfs."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    block_size = 16 * 1024
    readonly = True

    def read(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]

    def write(self, offset: int, data: object) -> None:
        raise VssAccessDeniedError("the snapshot is read-only")

    @contextmanager
    def operation(self) -> Iterator[None]:
        yield


@dataclass
class MFile:
    name: str
    data: bytes
    mtime: float


@dataclass
class MDir:
    name: str
    children: dict[str, MFile | MDir] = field(default_factory=dict)


def key(name: str) -> str:
    return name.upper()


def respell(name: str, rnd: random.Random) -> str:
    return "".join(ch.upper() if rnd.random() < 0.5 else ch.lower() for ch in name)


def blocks(size: int) -> int:
    return -(-size // BLOCK_SIZE)


def model_dirs(root: MDir) -> list[tuple[tuple[str, ...], MDir]]:
    out: list[tuple[tuple[str, ...], MDir]] = []
    stack: list[tuple[tuple[str, ...], MDir]] = [((), root)]
    while stack:
        path, node = stack.pop()
        out.append((path, node))
        for child in node.children.values():
            if isinstance(child, MDir):
                stack.append(((*path, child.name), child))
    return sorted(out, key=lambda item: [key(n) for n in item[0]])


def model_files(root: MDir) -> dict[tuple[str, ...], MFile]:
    out: dict[tuple[str, ...], MFile] = {}
    for path, node in model_dirs(root):
        for child in node.children.values():
            if isinstance(child, MFile):
                out[(*path, child.name)] = child
    return out


def count_inodes(root: MDir) -> int:
    return len(model_dirs(root)) + len(model_files(root))


def fs_tree(fs: SimFS, prefix: str) -> tuple[set[tuple[str, ...]], dict[tuple[str, ...], bytes]]:
    dirs: set[tuple[str, ...]] = set()
    files: dict[tuple[str, ...], bytes] = {}
    for dirpath, _, filenames in fs.walk(prefix):
        assert dirpath.startswith(prefix)
        rel = tuple(p for p in dirpath[len(prefix) :].split("\\") if p)
        dirs.add(rel)
        for name in filenames:
            files[(*rel, name)] = fs.read_file(dirpath.rstrip("\\") + "\\" + name)
    return dirs, files


def assert_matches(fs: SimFS, prefix: str, root: MDir) -> None:
    dirs, files = fs_tree(fs, prefix)
    assert dirs == {path for path, _ in model_dirs(root)}
    expected = {path: f.data for path, f in model_files(root).items()}
    assert files.keys() == expected.keys()
    for path, data in expected.items():
        assert files[path] == data, path
    for path, f in model_files(root).items():
        assert fs.stat(prefix + "\\".join(path)).mtime == f.mtime


def join(path: tuple[str, ...]) -> str:
    return ROOT + "\\".join(path)


class SimFSMachine(RuleBasedStateMachine):
    """Random operations on a small volume, compared with the model after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.device = MemoryDevice(DEVICE_SIZE)
        format(self.device, label="model", clock=self.clock)
        self.fs = SimFS.mount(self.device, roots=[ROOT], clock=self.clock)
        self.model = MDir("")
        self.snapshots: list[tuple[bytes, MDir]] = []
        self.rnd = random.Random(0)

    @initialize(seed=st.integers(0, 2**16))
    def seed(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    # ------------------------------------------------------------------ helpers
    def tick(self) -> None:
        self.clock.advance(1.0)

    def pick_dir(self, data: st.DataObject) -> tuple[tuple[str, ...], MDir]:
        return data.draw(st.sampled_from(model_dirs(self.model)), label="dir")

    def spelled(self, path: tuple[str, ...]) -> str:
        return join(tuple(respell(n, self.rnd) for n in path))

    def spelled_new(self, path: tuple[str, ...], name: str) -> tuple[str, str]:
        """A path to a possibly new leaf, and the leaf's spelling (stored if it is created)."""
        leaf = respell(name, self.rnd)
        return self.spelled(path) + ("\\" if path else "") + leaf, leaf

    @contextmanager
    def unchanged_on(self, *errors: type[VssError]) -> Iterator[list[VssError]]:
        """Run an operation; if it raises one of ``errors`` the device must be unchanged."""
        before = self.device.snapshot_bytes()
        caught: list[VssError] = []
        try:
            yield caught
        except errors as exc:
            event(f"failed with {type(exc).__name__}")
            caught.append(exc)
            assert self.device.snapshot_bytes() == before, "a failed operation changed the disk"

    def full_is_plausible(self, new_blocks: int, creates: int) -> None:
        """A disk-full error must be justified: data, a directory block, or no inode left."""
        free_blocks = self.fs.free_space // BLOCK_SIZE
        inodes_left = INODES - count_inodes(self.model)
        assert free_blocks < new_blocks + 2 * creates + 2 or inodes_left < creates

    # ------------------------------------------------------------------- rules
    @rule(data=st.data(), name=st.sampled_from(NAMES), size=st.integers(0, 3 * BLOCK_SIZE + 9))
    def write_file(self, data: st.DataObject, name: str, size: int) -> None:
        self.tick()
        path, parent = self.pick_dir(data)
        content = self.rnd.randbytes(size)
        existing = parent.children.get(key(name))
        target, name = self.spelled_new(path, name)
        if isinstance(existing, MDir):
            with pytest.raises(VssIsADirectoryError):
                self.fs.write_file(target, content)
            return
        with self.unchanged_on(VssInsufficientStorageError) as failed:
            self.fs.write_file(target, content)
        if failed:
            old = blocks(len(existing.data)) if existing else 0
            self.full_is_plausible(blocks(size) - old, 0 if existing else 1)
            return
        if existing:
            existing.data, existing.mtime = content, self.clock.now()
        else:
            parent.children[key(name)] = MFile(name, content, self.clock.now())

    @rule(data=st.data(), name=st.sampled_from(NAMES), size=st.integers(1, BLOCK_SIZE + 5))
    def append_file(self, data: st.DataObject, name: str, size: int) -> None:
        self.tick()
        path, parent = self.pick_dir(data)
        content = self.rnd.randbytes(size)
        existing = parent.children.get(key(name))
        target, name = self.spelled_new(path, name)
        if isinstance(existing, MDir):
            with pytest.raises(VssIsADirectoryError):
                self.fs.append_file(target, content)
            return
        with self.unchanged_on(VssInsufficientStorageError) as failed:
            self.fs.append_file(target, content)
        if failed:
            old_size = len(existing.data) if existing else 0
            grow = blocks(old_size + size) - blocks(old_size)
            self.full_is_plausible(grow, 0 if existing else 1)
            return
        if existing:
            existing.data += content
            existing.mtime = self.clock.now()
        else:
            parent.children[key(name)] = MFile(name, content, self.clock.now())

    @precondition(lambda self: bool(model_files(self.model)))
    @rule(data=st.data(), size=st.integers(0, 3 * BLOCK_SIZE))
    def truncate(self, data: st.DataObject, size: int) -> None:
        self.tick()
        path, mfile = data.draw(st.sampled_from(sorted(model_files(self.model).items())))
        with self.unchanged_on(VssInsufficientStorageError) as failed:
            self.fs.truncate(self.spelled(path), size)
        if failed:
            self.full_is_plausible(blocks(size) - blocks(len(mfile.data)), 0)
            return
        mfile.data = mfile.data[:size] + bytes(max(0, size - len(mfile.data)))
        mfile.mtime = self.clock.now()

    @precondition(lambda self: bool(model_files(self.model)))
    @rule(
        data=st.data(),
        offset=st.integers(0, 2 * BLOCK_SIZE + 3),
        size=st.integers(1, BLOCK_SIZE + 7),
        mode=st.sampled_from(["r+b", "a+b", "w+b"]),
    )
    def open_seek_write(self, data: st.DataObject, offset: int, size: int, mode: str) -> None:
        self.tick()
        path, mfile = data.draw(st.sampled_from(sorted(model_files(self.model).items())))
        content = self.rnd.randbytes(size)
        with self.fs.open(self.spelled(path), mode) as handle:
            if mode == "w+b" and mfile.data:
                # Opening for "w" truncates, as its own operation.
                mfile.data, mfile.mtime = b"", self.clock.now()
            assert handle.tell() == (len(mfile.data) if mode == "a+b" else 0)
            handle.seek(offset)
            written_at = len(mfile.data) if mode == "a+b" else offset
            self.tick()
            with self.unchanged_on(VssInsufficientStorageError) as failed:
                handle.write(content)
            if failed:
                grow = blocks(written_at + size) - blocks(len(mfile.data))
                self.full_is_plausible(grow, 0)
                return
            assert handle.tell() == written_at + size
            handle.seek(0)
            got = handle.read()
        new = bytearray(mfile.data)
        if written_at > len(new):
            new.extend(bytes(written_at - len(new)))
        new[written_at : written_at + size] = content
        mfile.data, mfile.mtime = bytes(new), self.clock.now()
        assert got == mfile.data

    @rule(data=st.data(), name=st.sampled_from(NAMES), deeper=st.sampled_from([None, *NAMES]))
    def makedirs(self, data: st.DataObject, name: str, deeper: str | None) -> None:
        self.tick()
        path, parent = self.pick_dir(data)
        names = tuple(respell(n, self.rnd) for n in ([name] if deeper is None else [name, deeper]))
        # Predict: walk the model.
        node: MDir = parent
        missing: list[str] = []
        blocked = False
        for n in names:
            child = node.children.get(key(n)) if not missing else None
            if child is None:
                missing.append(n)
            elif isinstance(child, MFile):
                blocked = True
                break
            else:
                node = child
        target = self.spelled(path) + ("\\" if path else "") + "\\".join(names)
        if blocked:
            with pytest.raises(VssFileExistsError):
                self.fs.makedirs(target, exist_ok=True)
            return
        if not missing:
            with pytest.raises(VssFileExistsError):
                self.fs.makedirs(target)
            self.fs.makedirs(target, exist_ok=True)
            return
        with self.unchanged_on(VssInsufficientStorageError) as failed:
            self.fs.makedirs(target)
        if failed:
            self.full_is_plausible(0, len(missing))
            return
        for n in missing:
            new = MDir(n)
            node.children[key(n)] = new
            node = new

    @precondition(lambda self: bool(model_files(self.model)))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        self.tick()
        path, _ = data.draw(st.sampled_from(sorted(model_files(self.model).items())))
        self.fs.remove(self.spelled(path))
        parent = self.lookup_dir(path[:-1])
        del parent.children[key(path[-1])]

    @precondition(lambda self: len(model_dirs(self.model)) > 1)
    @rule(data=st.data())
    def rmdir(self, data: st.DataObject) -> None:
        self.tick()
        path, node = data.draw(st.sampled_from(model_dirs(self.model)[1:]))
        if node.children:
            with pytest.raises(VssDirectoryNotEmptyError):
                self.fs.rmdir(self.spelled(path))
            return
        self.fs.rmdir(self.spelled(path))
        del self.lookup_dir(path[:-1]).children[key(path[-1])]

    @precondition(lambda self: len(model_dirs(self.model)) > 1 or bool(model_files(self.model)))
    @rule(data=st.data(), name=st.sampled_from(NAMES), replace=st.booleans())
    def rename(self, data: st.DataObject, name: str, replace: bool) -> None:
        self.tick()
        sources = [p for p, _ in model_dirs(self.model)[1:]] + sorted(model_files(self.model))
        src = data.draw(st.sampled_from(sources), label="src")
        dst_dir_path, dst_dir = self.pick_dir(data)
        if data.draw(st.booleans(), label="case-only"):
            dst_dir_path, dst_dir = src[:-1], self.lookup_dir(src[:-1])
            name = respell(src[-1], self.rnd)
        src_parent = self.lookup_dir(src[:-1])
        node = src_parent.children[key(src[-1])]
        existing = dst_dir.children.get(key(name))
        s = self.spelled(src)
        d, name = self.spelled_new(dst_dir_path, name)
        expected: type[Exception] | None = None
        if dst_dir is src_parent and key(name) == key(src[-1]):
            pass
        elif isinstance(node, MDir) and [key(n) for n in dst_dir_path[: len(src)]] == [
            key(n) for n in src
        ]:
            expected = VssInvalidArgumentError
        elif existing is not None:
            if not replace:
                expected = VssFileExistsError
            elif isinstance(existing, MDir):
                expected = VssIsADirectoryError
            elif isinstance(node, MDir):
                expected = VssNotADirectoryError
        if expected is not None:
            event(f"rename refused with {expected.__name__}")
            with pytest.raises(expected):
                self.fs.rename(s, d, replace=replace)
            return
        with self.unchanged_on(VssInsufficientStorageError) as failed:
            self.fs.rename(s, d, replace=replace)
        if failed:
            self.full_is_plausible(0, 1)
            return
        del src_parent.children[key(src[-1])]
        node.name = name
        dst_dir.children[key(name)] = node

    @rule(extra=st.integers(0, 3))
    def fill_disk(self, extra: int) -> None:
        """Ask for more than is free: must fail and change nothing."""
        self.tick()
        size = self.fs.free_space + extra * BLOCK_SIZE + 1
        with self.unchanged_on(VssInsufficientStorageError) as failed:
            self.fs.write_file(ROOT + "filler.bin", bytes(size))
        assert failed, "writing more than the free space succeeded"

    @rule()
    def take_snapshot(self) -> None:
        self.snapshots.append((self.device.snapshot_bytes(), copy.deepcopy(self.model)))
        if len(self.snapshots) > 3:
            self.snapshots.pop(0)

    @precondition(lambda self: self.snapshots)
    @rule(data=st.data())
    def verify_snapshot(self, data: st.DataObject) -> None:
        raw, model = data.draw(st.sampled_from(self.snapshots))
        shadow = SimFS.mount(FrozenDevice(raw), roots=[SHADOW, ROOT], clock=self.clock)
        assert shadow.readonly
        event("snapshot verified")
        assert shadow.check() == []
        assert_matches(shadow, SHADOW, model)
        with pytest.raises(VssAccessDeniedError):
            shadow.write_file(SHADOW + "new.txt", b"x")
        with pytest.raises(VssAccessDeniedError):
            shadow.makedirs(ROOT + "dir")

    @rule()
    def remount(self) -> None:
        self.fs = SimFS.mount(self.device, roots=[ROOT], clock=self.clock)

    @rule()
    def refresh(self) -> None:
        self.fs.refresh()

    # ------------------------------------------------------------------ invariants
    def lookup_dir(self, path: tuple[str, ...]) -> MDir:
        node = self.model
        for n in path:
            child = node.children[key(n)]
            assert isinstance(child, MDir)
            node = child
        return node

    @invariant()
    def tree_matches_model(self) -> None:
        assert_matches(self.fs, ROOT, self.model)

    @invariant()
    def consistent(self) -> None:
        assert self.fs.check() == []


TestSimFSMachine = SimFSMachine.TestCase
TestSimFSMachine.settings = settings(TestSimFSMachine.settings, stateful_step_count=60)
