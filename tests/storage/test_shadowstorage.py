"""ShadowStorage: volsnap semantics, limits, purges, revert, persistence and bad input."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vsssim.clock import VirtualClock
from vsssim.errors import (
    VssHoldWritesTimeoutError,
    VssInsufficientStorageError,
    VssInvalidArgumentError,
    VssMaximumNumberOfSnapshotsReachedError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
    VssRevertInProgressError,
    VssUnsupportedContextError,
    VssVolumeInUseError,
)
from vsssim.storage import shadowstorage as ss_module
from vsssim.storage.shadowstorage import ShadowStorage
from vsssim.storage.volume import Volume
from vsssim.trace import EventKind, Trace, Tracer

B = 4096
N = 32  # blocks per test volume


def fill(i: int, n: int = N * B) -> bytes:
    return bytes([(i * 37 + 1) % 256]) * n


@pytest.fixture
def vol(tmp_path: Path) -> Iterator[Volume]:
    v = Volume.create(tmp_path / "v.img", N * B, B, clock=VirtualClock())
    v.write(0, fill(0))
    yield v
    v.close()


def reopen(tmp_path: Path, vol: Volume) -> tuple[Volume, ShadowStorage]:
    vol.close()
    v = Volume.open(tmp_path / "v.img", clock=VirtualClock())
    return v, ShadowStorage.open(v, tmp_path / "diff")


def assert_reopens_exact(root: Path, vol: Volume, expected: bytes) -> None:
    """Close ``vol``, reopen it and its store from ``root``: the first snapshot still reads
    ``expected`` and the store verifies."""
    vol, store = reopen(root, vol)
    try:
        assert store.snapshots[0].read(0, len(expected)) == expected
        store.verify()
    finally:
        vol.close()


def digest(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


# ------------------------------------------------------------------------------ creation
def test_create_and_its_properties(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff", 10 * B, max_snapshots=7)
    assert (store.max_size, store.max_snapshots, store.used, store.snapshots) == (
        10 * B,
        7,
        0,
        [],
    )
    assert store.volume is vol and vol.shadow_storage is store
    assert store.directory == str(tmp_path / "diff")
    assert vol.diff_area_directory == str(tmp_path / "diff")
    assert store.pending_revert is None
    store.verify()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_size": B - 1}, VssInvalidArgumentError),
        ({"max_size": 0}, VssInvalidArgumentError),
        ({"max_size": 1.5 * B}, TypeError),
        ({"max_snapshots": 0}, VssInvalidArgumentError),
        ({"max_snapshots": 513}, VssInvalidArgumentError),
        ({"tracer": "trace"}, TypeError),
    ],
)
def test_bad_arguments_create_nothing(
    tmp_path: Path, vol: Volume, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ShadowStorage.create(vol, tmp_path / "diff", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "diff").exists()
    assert vol.shadow_storage is None and vol.diff_area_directory is None


def test_a_directory_that_cannot_be_created(tmp_path: Path, vol: Volume) -> None:
    (tmp_path / "file").write_bytes(b"not a directory")
    with pytest.raises(VssInvalidArgumentError):
        ShadowStorage.create(vol, tmp_path / "file" / "diff")
    if os.geteuid() != 0:  # root ignores permissions
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
        with pytest.raises(VssInvalidArgumentError):
            ShadowStorage.create(vol, ro / "diff")
    assert vol.shadow_storage is None and vol.diff_area_directory is None
    vol.write(0, b"still writable")


def test_one_store_per_volume_and_per_directory(tmp_path: Path, vol: Volume) -> None:
    ShadowStorage.create(vol, tmp_path / "diff")
    with pytest.raises(VssObjectAlreadyExistsError):
        ShadowStorage.create(vol, tmp_path / "other")
    with pytest.raises(VssObjectAlreadyExistsError):
        ShadowStorage.open(vol, tmp_path / "diff")
    with Volume.create(tmp_path / "w.img", N * B, B) as w:
        with pytest.raises(VssObjectAlreadyExistsError):
            ShadowStorage.create(w, tmp_path / "diff")
        with pytest.raises(VssVolumeInUseError):
            ShadowStorage.open(w, tmp_path / "diff")  # locked by the open store
    assert not (tmp_path / "other").exists()


def test_open_errors(tmp_path: Path, vol: Volume) -> None:
    with pytest.raises(VssObjectNotFoundError):
        ShadowStorage.open(vol, tmp_path / "nothing")
    ShadowStorage.create(vol, tmp_path / "diff").create_snapshot()
    vol.shadow_storage.close()  # type: ignore[union-attr]
    with (
        Volume.create(tmp_path / "w.img", N * B, B) as w,
        pytest.raises(VssInvalidArgumentError, match="belongs to volume"),
    ):
        ShadowStorage.open(w, tmp_path / "diff")
    with pytest.raises(TypeError):
        ShadowStorage.open("volume", tmp_path / "diff")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- copy-on-write
def test_a_small_write_copies_one_whole_block_once(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    vol.write(0, b"no snapshot yet")
    assert (vol.stats.cow_blocks, store.used) == (0, 0)
    snap = store.create_snapshot()
    vol.write(B + 10, b"x")  # 1 byte: the whole 4 KiB block is preserved
    assert (vol.stats.cow_blocks, vol.stats.cow_bytes, store.used) == (1, B, B)
    vol.write(B + 20, b"y" * 100)  # same block: nothing more to copy
    vol.write_many([B + 1, B + 2], 1, b"z")
    assert (vol.stats.cow_blocks, store.used) == (1, B)
    vol.write(B - 1, b"ab")  # straddles blocks 0 and 1: only block 0 is new
    assert (vol.stats.cow_blocks, store.used) == (2, 2 * B)
    assert snap.read(0, 2 * B) == b"no snapshot yet" + fill(0, 2 * B - 15)


@pytest.mark.parametrize("behaviour", ["unsupported", "short"])
def test_copy_on_write_where_copy_file_range_fails_or_copies_short(
    tmp_path: Path, vol: Volume, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    """File systems without copy_file_range (EXDEV, EOPNOTSUPP...) and short in-kernel copies:
    the old blocks still reach the store whole (one block, short and long runs, batches)."""
    real = os.copy_file_range
    calls: list[int] = []

    def fake(src: int, dst: int, count: int, offset_src: int, offset_dst: int) -> int:
        calls.append(count)
        if behaviour == "unsupported":
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real(src, dst, min(count, 1000), offset_src, offset_dst)

    monkeypatch.setattr(os, "copy_file_range", fake)
    monkeypatch.setattr(ss_module, "_CLONE", False)  # the copy path, even where clones work
    store = ShadowStorage.create(vol, tmp_path / "diff")
    snap = store.create_snapshot()
    vol.write(5, b"x" * 10)  # one block
    vol.write(3 * B + 7, b"y" * (2 * B))  # a short run (three blocks)
    vol.write(8 * B, b"z" * (20 * B))  # a long run, past the in-kernel copy's limit
    vol.write_many([29 * B + 1, 31 * B + 2], 100, b"w" * 100)  # scattered blocks
    assert calls
    assert snap.read(0, N * B) == fill(0)
    assert store.used == 26 * B
    vol, store = reopen(tmp_path, vol)
    assert store.snapshots[0].read(0, N * B) == fill(0)
    vol.close()


@pytest.mark.parametrize("how", ["one block", "short run", "batch"])
def test_a_failed_copy_propagates_and_changes_nothing(
    tmp_path: Path, vol: Volume, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """An I/O error while copying the old blocks reaches the writer before the journal record
    and the live write: the volume, the snapshot, ``used`` and the slot bookkeeping stay as
    they were (the slots taken for the copy are free again), and the next write goes on."""
    real = os.copy_file_range

    def failing(*args: int) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "copy_file_range", failing)
    monkeypatch.setattr(ss_module, "_CLONE", False)  # the copy path, even where clones work
    store = ShadowStorage.create(vol, tmp_path / "diff")
    snap = store.create_snapshot()
    write: Callable[[], object] = {
        "one block": lambda: vol.write(5, b"x" * 10),
        "short run": lambda: vol.write(3 * B + 7, b"y" * (2 * B)),
        "batch": lambda: vol.write_many([9 * B, 20 * B], 10, b"w" * 10),
    }[how]
    with pytest.raises(OSError, match="Input/output error"):
        write()
    assert vol.read(0, N * B) == fill(0)
    assert snap.read(0, N * B) == fill(0)
    assert store.used == 0
    store.verify()
    monkeypatch.setattr(os, "copy_file_range", real)
    write()
    assert snap.read(0, N * B) == fill(0)
    store.verify()
    assert_reopens_exact(tmp_path, vol, fill(0))


def test_copy_on_write_into_the_reserved_store_goes_through_its_mapping(
    tmp_path: Path, vol: Volume, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slots inside the reserved store file are filled by a memcpy between the mappings (no
    copy_file_range); slots past it still go through the kernel.  Either way the snapshot is
    exact, before and after reopen, and freed slots are reused through the mapping."""
    real = os.copy_file_range
    calls: list[int] = []

    def counting(src: int, dst: int, count: int, offset_src: int, offset_dst: int) -> int:
        calls.append(count)
        return real(src, dst, count, offset_src, offset_dst)

    monkeypatch.setattr(os, "copy_file_range", counting)
    monkeypatch.setattr(ss_module, "_CLONE", False)  # the copy path, even where clones work
    store = ShadowStorage.create(vol, tmp_path / "diff")
    store.reserve(8 * B)
    old = store.create_snapshot()
    vol.write(5, b"x" * 10)  # one block
    vol.write(3 * B + 7, b"y" * (2 * B))  # a short run (three blocks)
    vol.write_many([29 * B + 1, 31 * B + 2], 100, b"w" * 100)  # scattered blocks
    assert calls == []
    assert old.read(0, N * B) == fill(0)
    expected = vol.read(0, N * B)
    store.delete(old)
    snap = store.create_snapshot()
    vol.write_many([B * k for k in range(6)], B, b"u" * B)  # the 6 freed slots, reused
    assert calls == []
    for k in range(10, 30, 2):  # more blocks than reserved: past the mapping
        vol.write(k * B + 1, b"v" * 9)
    assert calls
    assert snap.read(0, N * B) == expected
    assert store.allocated > 8 * B
    vol, store = reopen(tmp_path, vol)
    assert store.snapshots[0].read(0, N * B) == expected
    vol.write(0, b"t" * (4 * B))
    assert store.snapshots[0].read(0, N * B) == expected
    vol.close()


def test_old_data_goes_only_into_the_newest_store(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    s1 = store.create_snapshot()
    vol.write(0, fill(1, B))
    s2 = store.create_snapshot()
    vol.write(0, fill(2, 2 * B))  # block 0 again (for s2) and block 1 (shared by s1 and s2)
    assert vol.stats.cow_blocks == 3  # block 1 is copied once, not once per snapshot
    assert store.used == 3 * B
    assert s1.read(0, 2 * B) == fill(0, 2 * B)
    assert s2.read(0, 2 * B) == fill(1, B) + fill(0, B)
    # s1 reads block 1 through s2's diff area (the store chain)
    assert s1.read_provenance(0, 3 * B).store_blocks == (0, 1)
    assert s2.read_provenance(0, 3 * B).live_blocks == (2,)


def test_create_is_constant_time_in_volume_size(tmp_path: Path) -> None:
    """No per-block state is touched: creating a snapshot of a 1 TiB volume allocates as
    little memory and writes as few bytes as on a small one."""
    costs = []
    for size in (1 << 30, 1 << 40):
        with Volume.create(tmp_path / f"{size}.img", size) as v:
            store = ShadowStorage.create(v, tmp_path / f"diff{size}")
            v.write(size - 5, b"tail!")
            store.create_snapshot()  # warm-up (first use of code paths)
            before = os.path.getsize(store.directory + "/journal.1")
            tracemalloc.start()
            store.create_snapshot()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            costs.append((peak, os.path.getsize(store.directory + "/journal.1") - before))
    assert costs[0][1] == costs[1][1]  # same journal bytes
    assert costs[1][0] < 64 * 1024 and costs[1][0] < 2 * costs[0][0] + 8192


# ------------------------------------------------------------------------------- deletion
@pytest.mark.parametrize("victim", [0, 2, 4])
def test_delete_any_position_keeps_the_others_exact_and_moves_no_data(
    tmp_path: Path, vol: Volume, victim: int
) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    expected = {}
    for i in range(5):
        snap = store.create_snapshot()
        expected[snap.id] = vol.read(0, N * B)
        vol.write_many([((i * 7 + k * 3) % N) * B for k in range(6)], B, fill(i + 1, B))
    store_file = Path(store.directory) / "store.dat"
    before = hashlib.sha256(store_file.read_bytes()).hexdigest()
    writes_before = vol.stats.cow_bytes
    target = store.snapshots[victim]
    store.delete(target)
    assert hashlib.sha256(store_file.read_bytes()).hexdigest() == before  # no bytes moved
    assert vol.stats.cow_bytes == writes_before
    assert target.deleted and target.id not in [s.id for s in store.snapshots]
    for snap in store.snapshots:
        assert snap.read(0, N * B) == expected[snap.id]
    store.verify()
    with pytest.raises(VssObjectNotFoundError):
        store.delete(target)
    with pytest.raises(VssObjectNotFoundError):
        target.read(0, 1)


def test_delete_newest_then_write_preserves_for_the_new_newest(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    s1 = store.create_snapshot()
    vol.write(0, fill(1, B))
    s2 = store.create_snapshot()
    vol.write(B, fill(2, B))
    store.delete(s2)
    vol.write(B, fill(3, B))  # already preserved for s1 (inherited): no copy
    vol.write(2 * B, fill(3, B))  # new for s1
    assert s1.read(0, 3 * B) == fill(0, 3 * B)
    assert store.used == 3 * B
    store.verify()


# --------------------------------------------------------------------------- limits, purges
def test_full_diff_area_purges_the_oldest_and_the_write_goes_on(
    tmp_path: Path, vol: Volume
) -> None:
    trace = Trace()
    tracer = Tracer(VirtualClock())
    tracer.subscribe(trace)
    store = ShadowStorage.create(vol, tmp_path / "diff", 4 * B, tracer=tracer)
    seen: list[tuple[uuid.UUID, str, bool]] = []
    store.add_purge_listener(lambda sid, why: seen.append((sid, why, sid in store._st.by_id)))
    s1 = store.create_snapshot()
    vol.write(0, fill(1, 3 * B))
    s2 = store.create_snapshot()
    vol.write(10 * B, fill(2, 2 * B))  # needs 2 more blocks: 3 + 2 > 4, s1 goes
    assert s1.deleted and not s2.deleted
    assert seen == [(s1.id, "diff area full", False)]  # told after it was gone
    purges = trace.filter(kind=EventKind.PURGE)
    assert [e.name for e in purges] == ["PurgeSnapshot"]
    assert str(s1.id) in purges[0].detail and "diff area full" in purges[0].detail
    assert s2.read(0, N * B) == fill(1, 3 * B) + fill(0, (N - 3) * B)
    assert vol.read(10 * B, 2 * B) == fill(2, 2 * B)
    # a write bigger than the whole diff area: the last snapshot goes too (DIFF_AREA_FULL)
    vol.write(0, fill(4, 6 * B))
    assert store.snapshots == [] and store.used == 0
    assert vol.read(0, 6 * B) == fill(4, 6 * B)
    assert [why for _, why, _ in seen] == ["diff area full", "diff area full"]
    store.verify()


def test_the_snapshot_count_limit(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    assert store.max_snapshots == 512
    for _ in range(512):
        store.create_snapshot()
    with pytest.raises(VssMaximumNumberOfSnapshotsReachedError) as err:
        store.create_snapshot()
    assert err.value.hresult == 0x80042317
    assert len(store.snapshots) == 512
    seen: list[str] = []
    store.add_purge_listener(lambda sid, why: seen.append(why))
    oldest = store.snapshots[0]
    store.create_snapshot(purge_oldest_at_limit=True)  # MaxShadowCopies behaviour
    assert oldest.deleted and seen == ["count limit"] and len(store.snapshots) == 512


def test_duplicate_id_and_lookups(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    sid = uuid.uuid4()
    snap = store.create_snapshot(sid, metadata={"k": "v"})
    with pytest.raises(VssObjectAlreadyExistsError):
        store.create_snapshot(sid)
    assert store.get(sid) is snap and store.get(str(sid)) is snap
    with pytest.raises(VssObjectNotFoundError):
        store.get(uuid.uuid4())
    with pytest.raises(VssInvalidArgumentError):
        store.get("not-a-guid")
    with pytest.raises(TypeError):
        store.create_snapshot("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.create_snapshot(metadata={"k": 1})  # type: ignore[dict-item]
    assert len(store.snapshots) == 1


def test_resize_shrinks_by_purging_the_oldest(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    snaps = []
    for i in range(3):
        snaps.append(store.create_snapshot())
        vol.write(i * 4 * B, fill(i + 1, 4 * B))
    assert store.used == 12 * B
    reasons: list[str] = []
    store.add_purge_listener(lambda sid, why: reasons.append(why))
    store.resize(8 * B)
    assert [s.deleted for s in snaps] == [True, False, False]
    assert store.max_size == 8 * B and store.used == 8 * B
    assert reasons == ["diff area resized below the space in use"]
    store.resize(None)
    assert store.max_size is None
    with pytest.raises(VssInvalidArgumentError):
        store.resize(100)


def test_reserve_preallocates_without_using(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff", 16 * B)
    store.reserve(64 * B)  # capped at max_size
    assert (store.allocated, store.used) == (16 * B, 0)
    snap = store.create_snapshot()
    vol.write(0, fill(5, 8 * B))
    assert (store.allocated, store.used) == (16 * B, 8 * B)  # reused the reservation
    assert snap.read(0, 8 * B) == fill(0, 8 * B)
    store.verify()


# -------------------------------------------------------------------------------- revert
def test_revert_keeps_older_and_newer_snapshots_exact(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    snaps, contents = [], []
    for i in range(4):
        snaps.append(store.create_snapshot())
        contents.append(vol.read(0, N * B))
        vol.write(i * 3 * B, fill(i + 1, 5 * B))
    store.revert(snaps[1])
    assert vol.read(0, N * B) == contents[1]
    for snap, content in zip(snaps, contents, strict=True):
        assert snap.read(0, N * B) == content
    assert store.pending_revert is None
    store.verify()


def test_revert_refusals_change_nothing(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff", 6 * B)
    old = store.create_snapshot()
    vol.write(0, fill(1, 4 * B))
    newer = store.create_snapshot()
    volatile = store.create_snapshot(persistent=False)
    vol.write(8 * B, fill(2, B))
    live = vol.read(0, N * B)
    with pytest.raises(VssUnsupportedContextError):
        store.revert(volatile)
    # reverting to `old` rewrites 4 blocks that `volatile` (the newest) must preserve first,
    # but only 1 block of diff area is free
    with pytest.raises(VssInsufficientStorageError):
        store.revert(old)
    assert vol.read(0, N * B) == live and store.used == 5 * B
    assert [s.id for s in store.snapshots] == [old.id, newer.id, volatile.id]
    assert store.pending_revert is None
    vol.write(0, b"volume still writable")
    with vol.held(), pytest.raises(VssHoldWritesTimeoutError):
        store.revert(newer)


def test_a_revert_resumes_after_reopen(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    target = store.create_snapshot(metadata={"name": "target"})
    expected = vol.read(0, N * B)
    vol.write(0, fill(7, N * B))
    later = store.create_snapshot()
    job = store.begin_revert(target)
    assert job.progress == (0, N) and not job.done and store.pending_revert is job
    assert not job.step(5)
    assert job.progress == (5, N)
    with pytest.raises(VssRevertInProgressError):
        vol.write(0, b"x")
    with pytest.raises(VssRevertInProgressError):
        store.create_snapshot()
    with pytest.raises(VssRevertInProgressError):
        store.begin_revert(later)
    with pytest.raises(VssRevertInProgressError):
        store.delete(target)
    vol, store = reopen(tmp_path, vol)  # "the revert process will continue" after a reboot
    resumed = store.pending_revert
    assert resumed is not None
    job = resumed
    assert job and job.progress == (5, N) and job.snapshot_id == target.id
    with pytest.raises(VssRevertInProgressError):
        vol.write(0, b"x")
    while not job.step(7):
        pass
    assert job.done and store.pending_revert is None
    assert vol.read(0, N * B) == expected
    assert store.get(later.id).read(0, N * B) == fill(7, N * B)
    vol.write(0, b"writable again")
    with pytest.raises(VssInvalidArgumentError):
        job.step(0)
    vol.close()


def test_revert_refreshes_the_mounted_file_system(tmp_path: Path, vol: Volume) -> None:
    from vsssim.storage import simfs

    simfs.format(vol)
    store = ShadowStorage.create(vol, tmp_path / "diff")
    vol.fs.write_file("\\a.txt", b"version 1")
    snap = store.create_snapshot()
    vol.fs.write_file("\\a.txt", b"version 2 is longer")
    vol.fs.write_file("\\b.txt", b"new")
    store.revert(snap)
    assert vol.fs.read_file("\\a.txt") == b"version 1"
    assert not vol.fs.exists("\\b.txt")


# --------------------------------------------------------------------------- persistence
def test_persistent_snapshots_come_back_exactly(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff", 64 * B, max_snapshots=9)
    kept = {}
    for i in range(6):
        persistent = i % 2 == 0
        snap = store.create_snapshot(persistent=persistent, metadata={"i": str(i)})
        if persistent:
            kept[snap.id] = (vol.read(0, N * B), snap.sequence, snap.created)
        vol.write((i * 5 % N) * B, fill(i + 1, 3 * B))
    store.set_metadata(store.snapshots[2], {"i": "two", "extra": "yes"})
    vol, store = reopen(tmp_path, vol)
    assert [s.id for s in store.snapshots] == list(kept)
    assert [s.metadata for s in store.snapshots] == [
        {"i": "0"},
        {"i": "two", "extra": "yes"},
        {"i": "4"},
    ]
    assert (store.max_size, store.max_snapshots) == (64 * B, 9)
    for snap in store.snapshots:
        content, sequence, created = kept[snap.id]
        assert snap.read(0, N * B) == content
        assert (snap.sequence, snap.created, snap.persistent) == (sequence, created, True)
    assert store.create_snapshot().sequence > max(s[1] for s in kept.values())
    store.verify()
    vol.close()


def test_journal_compaction_keeps_everything(
    tmp_path: Path, vol: Volume, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ss_module, "_JOURNAL_MIN", 2048)  # compact every few records
    store = ShadowStorage.create(vol, tmp_path / "diff")
    contents = {}
    for i in range(12):
        snap = store.create_snapshot()
        contents[snap.id] = vol.read(0, N * B)
        for k in range(8):
            vol.write(((i + k * 5) % N) * B + k, fill(i + k, 100))
    journals = [p for p in os.listdir(store.directory) if p.startswith("journal.")]
    assert len(journals) == 1 and journals[0] != "journal.1"  # rotated, old ones removed
    vol, store = reopen(tmp_path, vol)
    for snap in store.snapshots:
        assert snap.read(0, N * B) == contents[snap.id]
    store.verify()
    vol.close()


def test_a_journal_left_by_a_crashed_compaction_is_replaced(tmp_path: Path, vol: Volume) -> None:
    """A compaction killed after creating ``journal.<n+1>`` but before renaming the index
    leaves that journal behind: the next checkpoint of that generation replaces it."""
    store = ShadowStorage.create(vol, tmp_path / "diff")
    snap = store.create_snapshot()
    vol.write(0, fill(5, B))
    store.close()  # checkpoint 2; opening writes checkpoint 3 next
    stray = tmp_path / "diff" / "journal.3"
    stray.write_bytes(b"left by a compaction that crashed" * 100)
    vol, store = reopen(tmp_path, vol)
    assert store.snapshots[0].id == snap.id
    assert store.snapshots[0].read(0, B) == fill(0, B)
    assert sorted(p for p in os.listdir(store.directory) if p.startswith("journal.")) == [
        "journal.3"
    ]
    assert os.path.getsize(stray) == 1 << 20  # a fresh, preallocated journal
    store.verify()
    vol.close()
    vol, store = reopen(tmp_path, vol)  # and what checkpoint 3 wrote reopens
    assert store.snapshots[0].read(0, B) == fill(0, B)
    vol.close()


def test_creating_a_store_in_an_existing_directory(tmp_path: Path, vol: Volume) -> None:
    (tmp_path / "diff").mkdir()
    (tmp_path / "diff" / "other.txt").write_bytes(b"kept")
    store = ShadowStorage.create(vol, tmp_path / "diff")
    snap = store.create_snapshot()
    vol.write(0, fill(6, B))
    assert snap.read(0, B) == fill(0, B)
    store.destroy()
    assert os.listdir(tmp_path / "diff") == ["other.txt"]  # nor is the directory removed


def test_durable_mode_and_destroy(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff", durable=True)
    assert store.durable
    snap = store.create_snapshot()
    vol.write(0, fill(3, 2 * B))
    assert snap.read(0, 2 * B) == fill(0, 2 * B)
    store.destroy()
    assert snap.deleted and store.closed
    assert os.listdir(tmp_path / "diff") == []
    assert vol.diff_area_directory is None and vol.shadow_storage is None
    vol.write(0, b"no diff area any more")
    ShadowStorage.create(vol, tmp_path / "diff")  # and a new one can be added


def test_closing_an_empty_store_releases_the_volume(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    store.close()
    store.close()
    assert vol.diff_area_directory is None
    vol.write(0, b"fine")
    with pytest.raises(ValueError, match="closed"):
        store.create_snapshot()


def test_metadata_memory_grows_with_data_not_volume_size(tmp_path: Path) -> None:
    nblocks = (1 << 40) // 16384  # 1 TiB, 64 Mi blocks
    with Volume.create(tmp_path / "huge.img", 1 << 40) as v:
        store = ShadowStorage.create(v, tmp_path / "diff")
        for i in range(64):
            store.create_snapshot()
            blocks = [(i * 7919 + k * 104729) * 37 % nblocks for k in range(32)]
            v.write_many([b * 16384 for b in blocks], 512, b"x" * 512)
        assert store.used == 64 * 32 * 16384
        assert store.metadata_bytes() < 512 * 1024  # ~2k preserved blocks, not 64 Mi


def test_a_closed_store_holding_copies_is_freed_without_the_collector(
        tmp_path: Path, vol: Volume) -> None:
    import gc
    import weakref

    store = ShadowStorage.create(vol, tmp_path / "diff", 10 * B)
    snap = store.create_snapshot()
    snap_id = snap.id
    store.close()
    with pytest.raises(ValueError, match="closed"):
        _ = store.snapshots
    with pytest.raises(ValueError, match="closed"):
        store.get(snap_id)
    with pytest.raises(ValueError, match="closed"):
        snap.read(0, B)  # a device kept by its user stops working
    gone = weakref.ref(store)
    gc.disable()
    try:
        del store, snap
        assert gone() is None  # no store <-> device cycle left for the collector
    finally:
        gc.enable()
