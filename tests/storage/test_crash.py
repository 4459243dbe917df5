"""kill -9 at random instants: every persistent snapshot is exact after reopen.

A child process (this module run with ``sys.executable``) opens the store and runs a
deterministic storm of operations: unaligned writes, ``write_many`` and ``write_batch``
batches, snapshot creation (persistent or not; each snapshot's metadata records the round and
the operation index at which it was taken), deletions at any position, resizes that purge, and
journal compactions (the child compacts every few KiB).  The parent kills it with SIGKILL at a
random instant, reopens the store, checks its consistency, and compares every surviving
snapshot byte for byte with the content recomputed by replaying the operations of its round up
to its index on the volume as the round found it.  Then the next round runs on the same store.

A second test kills a revert in progress and checks that ``pending_revert`` finishes it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

B = 4096
NBLOCKS = 64
SIZE = NBLOCKS * B
ROUND_STRIDE = 1_000_000  # operation indexes of round r start at r * ROUND_STRIDE

HERE = Path(__file__).resolve().parent


def payload(i: int, n: int) -> bytes:
    return random.Random(i * 7 + 1).randbytes(n)


def operation(seed: int, i: int) -> tuple[str, object]:
    """Operation ``i`` of the storm: a pure function of (seed, i)."""
    rng = random.Random(seed * 1_000_003 + i)
    r = rng.random()
    if r < 0.50:
        n = rng.randrange(1, 3 * B)
        return "write", [(rng.randrange(SIZE - n + 1), payload(i, n))]
    if r < 0.60:
        n = rng.randrange(1, B)
        offsets = [rng.randrange(SIZE - n + 1) for _ in range(rng.randrange(1, 12))]
        return "many", (offsets, payload(i, n))
    if r < 0.70:
        items = []
        for k in range(rng.randrange(1, 6)):
            n = rng.randrange(1, 2 * B)
            items.append((rng.randrange(SIZE - n + 1), payload(i * 31 + k, n)))
        return "batch", items
    if r < 0.72:
        n = rng.randrange(8, 24) * B
        return "write", [(rng.randrange(0, SIZE - n + 1, B), payload(i, n))]
    if r < 0.85:
        return "create", rng.random() < 0.75
    if r < 0.90:
        return "delete", rng.random()
    if r < 0.92:
        return "resize", rng.choice([None, 40 * B, 64 * B, 24 * B])
    n = rng.randrange(1, 2 * B)
    return "write", [(rng.randrange(SIZE - n + 1), payload(i, n))]


def writes_of(op: tuple[str, object]) -> list[tuple[int, bytes]]:
    kind, arg = op
    if kind in ("write", "batch"):
        return arg  # type: ignore[return-value]
    if kind == "many":
        offsets, data = arg  # type: ignore[misc]
        return [(o, data) for o in offsets]  # type: ignore[has-type]
    return []


def child_storm(root: str, rnd: int, seed: int) -> None:
    """Body of the child process (never returns: it is killed)."""
    from vsssim.storage import shadowstorage
    from vsssim.storage.shadowstorage import ShadowStorage
    from vsssim.storage.volume import Volume

    shadowstorage._JOURNAL_MIN = 4096  # compact often, so kills land in compactions too
    shadowstorage._CLONE_MIN = 8 * B  # where extents are shared, runs of 8+ blocks are cloned
    vol = Volume.open(os.path.join(root, "v.img"))
    store = ShadowStorage.open(vol, os.path.join(root, "diff"))
    if rnd % 2:
        store.reserve(48 * B)  # copies into the mapped store (memcpy), not through the kernel
    print("ready", flush=True)
    i = rnd * ROUND_STRIDE
    while True:
        op = operation(seed, i)
        kind, arg = op
        if kind == "write":
            for off, data in arg:  # type: ignore[attr-defined]
                vol.write(off, data)
        elif kind == "many":
            offsets, data = arg  # type: ignore[misc]
            vol.write_many(offsets, len(data), data)  # type: ignore[has-type]
        elif kind == "batch":
            vol.write_batch(arg)  # type: ignore[arg-type]
        elif kind == "create":
            if len(store.snapshots) >= store.max_snapshots:
                store.delete(store.snapshots[0])
            store.create_snapshot(persistent=bool(arg), metadata={"round": str(rnd), "op": str(i)})
        elif kind == "delete" and store.snapshots:
            store.delete(store.snapshots[int(arg * len(store.snapshots))])  # type: ignore[operator]
        elif kind == "resize":
            store.resize(arg)  # type: ignore[arg-type]
        i += 1


def child_revert(root: str) -> None:
    """Body of the revert child: reverts one block per step until killed (or done)."""
    from vsssim.storage.shadowstorage import ShadowStorage
    from vsssim.storage.volume import Volume

    vol = Volume.open(os.path.join(root, "v.img"))
    store = ShadowStorage.open(vol, os.path.join(root, "diff"))
    job = store.begin_revert(store.snapshots[0])
    print("ready", flush=True)
    while not job.step(1):
        time.sleep(0.0005)
    print("done", flush=True)
    time.sleep(60)


def spawn(args: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"child failed to start: {line!r} {proc.stderr.read()}")  # type: ignore[union-attr]
    return proc


def kill_at_random(proc: subprocess.Popen[str], rng: random.Random, longest: float) -> None:
    time.sleep(rng.uniform(0.0, longest))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()  # type: ignore[union-attr]


def run_storm(root: Path, kills: int, seed: int) -> None:
    from vsssim.storage.shadowstorage import ShadowStorage
    from vsssim.storage.volume import Volume

    with Volume.create(root / "v.img", SIZE, B) as vol:
        vol.write(0, payload(-1, SIZE))
        ShadowStorage.create(vol, root / "diff", 48 * B, max_snapshots=8)
    rng = random.Random(seed)
    bases: dict[int, bytes] = {}
    checked = 0
    for rnd in range(kills):
        with Volume.open(root / "v.img") as vol:
            bases[rnd] = vol.read(0, SIZE)  # the volume as this round finds it
        proc = spawn(["storm", str(root), str(rnd), str(seed)])
        kill_at_random(proc, rng, 0.3)
        with Volume.open(root / "v.img") as vol:
            store = ShadowStorage.open(vol, root / "diff")
            store.verify()
            snaps = sorted(
                store.snapshots, key=lambda s: (int(s.metadata["round"]), int(s.metadata["op"]))
            )
            assert all(s.persistent for s in snaps)
            replay: dict[int, tuple[int, bytearray]] = {}
            for snap in snaps:
                r, op = int(snap.metadata["round"]), int(snap.metadata["op"])
                at, content = replay.get(r, (r * ROUND_STRIDE, bytearray(bases[r])))
                for i in range(at, op):
                    for off, data in writes_of(operation(seed, i)):
                        content[off : off + len(data)] = data
                replay[r] = (op, content)
                assert snap.read(0, SIZE) == bytes(content), f"snapshot of round {r} op {op}"
                checked += 1
    assert checked > 0


def test_kill_during_a_write_storm(tmp_path: Path) -> None:
    run_storm(tmp_path, kills=20, seed=1)


@pytest.mark.long
def test_kill_during_a_write_storm_long(tmp_path: Path) -> None:
    for seed in range(2, 12):
        root = tmp_path / f"s{seed}"
        root.mkdir()
        run_storm(root, kills=25, seed=seed)


@pytest.mark.parametrize("attempt", range(4))
def test_kill_during_a_revert(tmp_path: Path, attempt: int) -> None:
    from vsssim.storage.shadowstorage import ShadowStorage
    from vsssim.storage.volume import Volume

    with Volume.create(tmp_path / "v.img", SIZE, B) as vol:
        store = ShadowStorage.create(vol, tmp_path / "diff")
        vol.write(0, payload(1, SIZE))
        target = store.create_snapshot()
        vol.write(3 * B, payload(2, 40 * B))
        middle = store.create_snapshot()
        vol.write(10 * B + 5, payload(3, 30 * B))
        expected = {target.id: payload(1, SIZE), middle.id: middle.read(0, SIZE)}
    proc = spawn(["revert", str(tmp_path)])
    kill_at_random(proc, random.Random(attempt), 0.03)
    with Volume.open(tmp_path / "v.img") as vol:
        store = ShadowStorage.open(vol, tmp_path / "diff")
        store.verify()
        job = store.pending_revert
        if job is not None:  # killed mid-revert: the revert continues
            assert job.snapshot_id == target.id
            while not job.step(3):
                pass
        assert vol.read(0, SIZE) == expected[target.id]
        for snap in store.snapshots:
            assert snap.read(0, SIZE) == expected[snap.id]


if __name__ == "__main__":
    if sys.argv[1] == "storm":
        child_storm(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        child_revert(sys.argv[2])
