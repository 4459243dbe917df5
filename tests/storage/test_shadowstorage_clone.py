"""Cloning (reflink) old blocks into the store where the file system shares extents.

The fallback logic runs everywhere with ``fcntl.ioctl`` patched: a file system that cannot
clone (the first attempt fails with EOPNOTSUPP, EXDEV, ...) falls back to the copy path for good,
an emulated cloning file system (the fake ioctl copies the bytes) clones the long runs only,
and an unexpected error propagates with the volume, the snapshots and the slot bookkeeping as
before the write.  The real-clone tests need a directory on a file system with reflink (XFS made
with ``mkfs.xfs -m reflink=1``, btrfs) named by ``VSSSIM_REFLINK_DIR``; they run the model state
machine, a targeted test of the store's mapping and the kill -9 storm there.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test

from tests.storage import test_crash
from tests.storage import test_shadowstorage_model as model
from tests.storage.test_shadowstorage import assert_reopens_exact
from vsssim.storage import shadowstorage as ss_module
from vsssim.storage.shadowstorage import ShadowStorage
from vsssim.storage.volume import Volume

B = 4096
N = 64  # blocks per test volume
LONG = 8  # blocks: runs this long are cloned in these tests (_CLONE_MIN patched)

REFLINK_DIR = os.environ.get("VSSSIM_REFLINK_DIR")
needs_reflink = pytest.mark.skipif(
    not REFLINK_DIR,
    reason="real clones need VSSSIM_REFLINK_DIR: a directory on a file system with reflink "
    "(XFS made with mkfs.xfs -m reflink=1, or btrfs); see benchmarks/README.md",
)
REAL_IOCTL = fcntl.ioctl


def fill(i: int, n: int = N * B) -> bytes:
    return bytes([(i * 37 + 1) % 256]) * n


class Clones:
    """``fcntl.ioctl`` wrapped: records FICLONERANGE calls (length) and what they do."""

    def __init__(self, behaviour: str | int) -> None:
        self.behaviour = behaviour  # "real", "emulate" or an errno to raise
        self.calls: list[int] = []
        self.done = 0

    def __call__(self, fd: int, request: int, arg: Any = 0, *rest: Any) -> Any:
        if request != ss_module._FICLONERANGE:
            return REAL_IOCTL(fd, request, arg, *rest)
        src_fd, src, length, dst = struct.unpack("qQQQ", arg)
        self.calls.append(length)
        if isinstance(self.behaviour, int):
            raise OSError(self.behaviour, os.strerror(self.behaviour))
        if self.behaviour == "emulate":  # a file system that shares extents, emulated
            os.pwrite(fd, os.pread(src_fd, length, src), dst)
            out = arg
        else:
            out = REAL_IOCTL(fd, request, arg, *rest)
        self.done += 1
        return out


@pytest.fixture
def clone_min(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ss_module, "_CLONE_MIN", LONG * B)


@pytest.fixture
def vol(tmp_path: Path) -> Iterator[Volume]:
    v = Volume.create(tmp_path / "v.img", N * B, B)
    v.write(0, fill(0))
    yield v
    v.close()


def reopen(root: Path, vol: Volume) -> tuple[Volume, ShadowStorage]:
    vol.close()
    v = Volume.open(root / "v.img")
    return v, ShadowStorage.open(v, root / "diff")


def write_mix(vol: Volume) -> None:
    """One block, a short run, a long run and scattered blocks: 42 blocks preserved."""
    vol.write(5, b"x" * 10)  # block 0
    vol.write(3 * B + 7, b"y" * (2 * B))  # blocks 3-5
    vol.write(8 * B, b"z" * (20 * B))  # blocks 8-27: a long run
    vol.write_many([29 * B + 1, 31 * B + 2], 100, b"w" * 100)  # blocks 29 and 31
    vol.write_batch([(40 * B, b"v" * (17 * B))])  # blocks 40-56: a long run via a batch


MIX_BLOCKS = 1 + 3 + 20 + 2 + 17


# ------------------------------------------------------------------- fallback (everywhere)
@pytest.mark.parametrize(
    "err",
    [errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EBADF, errno.ENOSYS],
    ids=errno.errorcode.get,
)
def test_a_file_system_that_cannot_clone_falls_back_for_good(
    tmp_path: Path, vol: Volume, monkeypatch: pytest.MonkeyPatch, clone_min: None, err: int
) -> None:
    """The first copy through the kernel tries a clone; "not here" switches the store to
    today's copies (copy_file_range for short runs) for good, and the snapshot is exact."""
    clones = Clones(err)
    monkeypatch.setattr(fcntl, "ioctl", clones)
    real_cfr, cfr = os.copy_file_range, []

    def counting(*args: int) -> int:
        cfr.append(args[2])
        return real_cfr(*args)

    monkeypatch.setattr(os, "copy_file_range", counting)
    store = ShadowStorage.create(vol, tmp_path / "diff")
    snap = store.create_snapshot()
    write_mix(vol)
    assert clones.calls == [B]  # one attempt, on the first copy, whatever its length
    assert store._clone is False and cfr  # short runs: copy_file_range as before
    assert snap.read(0, N * B) == fill(0)
    assert store.used == MIX_BLOCKS * B
    store.verify()
    vol, store = reopen(tmp_path, vol)
    assert store.snapshots[0].read(0, N * B) == fill(0)
    vol.close()


@pytest.mark.parametrize("durable", [False, True])
def test_where_extents_are_shared_long_runs_are_cloned_and_short_runs_copied(
    tmp_path: Path, vol: Volume, monkeypatch: pytest.MonkeyPatch, clone_min: None, durable: bool
) -> None:
    """An emulated cloning file system: the first kernel copy clones (the probe), then only
    runs of at least _CLONE_MIN; short runs take the scratch buffer, never copy_file_range
    (which clones too there, and is slower for short runs)."""
    clones = Clones("emulate")
    monkeypatch.setattr(fcntl, "ioctl", clones)
    cfr: list[int] = []
    def counting(*args: int) -> int:
        cfr.append(args[2])
        return 0

    monkeypatch.setattr(os, "copy_file_range", counting)
    store = ShadowStorage.create(vol, tmp_path / "diff", durable=durable)
    snap = store.create_snapshot()
    write_mix(vol)
    assert clones.calls == [B, 20 * B, 17 * B] and cfr == []
    assert store._clone is True
    assert snap.read(0, N * B) == fill(0)
    assert (store.used, store.allocated) == (MIX_BLOCKS * B, MIX_BLOCKS * B)
    store.verify()
    vol, store = reopen(tmp_path, vol)
    assert store.snapshots[0].read(0, N * B) == fill(0)
    vol.close()


@pytest.mark.parametrize("when", ["probe", "long run"])
def test_an_unexpected_clone_error_propagates_and_changes_nothing(
    tmp_path: Path, vol: Volume, monkeypatch: pytest.MonkeyPatch, clone_min: None, when: str
) -> None:
    """Like a failed copy_file_range: the error reaches the writer before the journal record
    and the live write, so the volume and every snapshot are as before, and the slots taken
    for the copy are free again (verify() passes).  The next write goes on."""
    clones = Clones("emulate")
    monkeypatch.setattr(fcntl, "ioctl", clones)
    store = ShadowStorage.create(vol, tmp_path / "diff")
    snap = store.create_snapshot()
    if when == "long run":
        vol.write(0, b"a" * B)  # the probe clones: the file system shares extents
    before, used = vol.read(0, N * B), store.used
    clones.behaviour = errno.EIO
    with pytest.raises(OSError, match="Input/output error") as info:
        vol.write(8 * B, b"z" * (20 * B))
    assert info.value.errno == errno.EIO
    assert vol.read(0, N * B) == before
    assert snap.read(0, N * B) == fill(0)
    assert store.used == used
    store.verify()
    clones.behaviour = "emulate"
    vol.write(8 * B, b"z" * (20 * B))
    assert store._clone is True
    assert snap.read(0, N * B) == fill(0)
    store.verify()
    assert_reopens_exact(tmp_path, vol, fill(0))


# ------------------------------------------------------------- real clones (reflink dir)
@pytest.fixture
def reflink_dir() -> Iterator[Path]:
    """A fresh directory under VSSSIM_REFLINK_DIR, checked to share extents."""
    assert REFLINK_DIR
    Path(REFLINK_DIR).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="vsssim-clone-", dir=REFLINK_DIR))
    try:
        flags = os.O_RDWR | os.O_CREAT
        a, b = os.open(root / "a", flags), os.open(root / "b", flags)
        try:
            os.pwrite(a, b"p" * 4096, 0)
            REAL_IOCTL(b, ss_module._FICLONERANGE, struct.pack("qQQQ", a, 0, 4096, 0))
        except OSError as exc:
            pytest.fail(f"VSSSIM_REFLINK_DIR={REFLINK_DIR!r} cannot share extents: {exc}")
        finally:
            os.close(a)
            os.close(b)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@needs_reflink
def test_real_clones_into_the_reserved_store_read_through_its_mappings(
    reflink_dir: Path, monkeypatch: pytest.MonkeyPatch, clone_min: None
) -> None:
    """A clone over reserved slots, some of them dirtied through the store's writable mapping
    by earlier memcpy copies: the mapping, the snapshot reads and a reopen all see the cloned
    bytes; used and allocated are what they were with copies."""
    clones = Clones("real")
    monkeypatch.setattr(fcntl, "ioctl", clones)
    vol = Volume.create(reflink_dir / "v.img", N * B, B)
    vol.write(0, b"".join(fill(k, B) for k in range(N)))
    store = ShadowStorage.create(vol, reflink_dir / "diff")
    store.reserve(N * B)
    old = store.create_snapshot()
    vol.write_many([k * B for k in range(0, 24, 2)], B, b"m" * B)  # memcpy into mapped slots
    assert clones.calls == [] and store._wmap_end == N * B
    store.delete(old)  # their slots are free again, their pages dirty in the page cache
    snap = store.create_snapshot()
    expected = vol.read(0, N * B)
    vol.write(B, b"c" * (40 * B))  # blocks 1-40: one long run, cloned over the reused slots
    assert clones.done >= 1 and store._clone is True
    for block in (1, 2, 23, 40):
        slot = store._nm[block]
        old_block = expected[block * B : (block + 1) * B]
        assert bytes(store._wmap[slot * B : (slot + 1) * B]) == old_block
    assert snap.read(0, N * B) == expected
    assert (store.used, store.allocated) == (40 * B, N * B)
    store.verify()
    vol, store = reopen(reflink_dir, vol)
    assert store.snapshots[0].read(0, N * B) == expected
    vol.close()


class ReflinkMachine(model.EngineMachine):
    """The model state machine in the reflink directory, with long writes and reservations
    so that clones land in fresh slots, reused slots and the store's mapping."""

    def __init__(self) -> None:
        super().__init__()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="vsssim-model-", dir=REFLINK_DIR))

    @rule(data=st.data(), seed=st.integers(0, 2**16))
    def long_write(self, data: st.DataObject, seed: int) -> None:
        offset, length = self.span(data, self.size)
        payload = model.pattern(seed, length)
        assert self.vol is not None
        self.vol.write(offset, payload)
        self.model.write([(offset, payload)])

    @rule(nblocks=st.integers(0, 48))
    def reserve(self, nblocks: int) -> None:
        assert self.store is not None
        self.store.reserve(nblocks * B)


@needs_reflink
def test_real_clones_against_the_model(reflink_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ss_module, "_CLONE_MIN", B)  # every kernel copy clones
    clones = Clones("real")
    monkeypatch.setattr(fcntl, "ioctl", clones)
    run_state_machine_as_test(
        ReflinkMachine, settings=settings(max_examples=60, stateful_step_count=60)
    )
    assert clones.done > 0 and len(clones.calls) == clones.done


@needs_reflink
def test_real_clones_survive_kill_9(reflink_dir: Path) -> None:
    """test_crash's storm (its child clones runs of 8+ blocks) in the reflink directory."""
    test_crash.run_storm(reflink_dir, kills=20, seed=3)
