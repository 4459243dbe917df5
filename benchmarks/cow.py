#!/usr/bin/env python3
"""Benchmark: the copy-on-write engine against raw pwrite/pread and qemu's qcow2, in one run.

Optional peer: qemu's qcow2 columns need qemu-utils (``qemu-img``, ``qemu-io``), installed the
documented way::

    apt-get install -y qemu-utils

Without them the script says so and skips the qemu cells (their targets read "not measured").

Replays the named workloads of ``benchmarks/peers/workloads.py`` (vendored from the project's
reference bench, see ``benchmarks/peers/__init__.py``; plus a few defined here, see ``EXTRA``)
against

* ``raw``: ``os.pwrite``/``os.pread`` on an image file of the same size, no copy-on-write (the
  ceiling for any Python engine; the reference bench's ``RawFile``);
* ``vsssim``: a :class:`~vsssim.storage.volume.Volume` with its
  :class:`~vsssim.storage.shadowstorage.ShadowStorage`, one ``write`` call per operation;
* ``vsssim batch``: the same, the timed writes handed over in one ``write_many`` call;
* ``in-place COW floor``: the system calls of vsssim's write path and nothing else (see
  :class:`Floor`), the best ratio an engine that writes the live image in place can reach;
* ``qemu-io qcow2-64k -t unsafe`` (and ``qemu-img`` for deletes) when qemu-utils is installed,
  driven by ``benchmarks/peers/qemu.py``; skipped, with a message, when qemu-utils is absent;

and prints the measurements (median of the runs, with min and max) and the issue's targets as
ratios measured in this run, each marked PASS or FAIL.  Protocol of the reference bench: every run
prepares fresh files, calls ``os.sync()`` and ``warm_memory()``, then times the operation;
nothing is fsync'd.  The engine's store is preallocated before the preparation (``reserve``,
volsnap's minimum diff area); one row without it is reported for the first-write workload.

Usage:
  python benchmarks/cow.py                 # everything (a few minutes on 2 cores)
  python benchmarks/cow.py --quick         # small volumes, 1 run, no qemu: under a minute
  python benchmarks/cow.py --only read,create --reps 3
  python benchmarks/cow.py --dir /mnt/xfs/bench  # every image on that file system (reflink)
  python benchmarks/cow.py --write-readme  # also rewrite the section in benchmarks/README.md
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import mmap
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
sys.dont_write_bytecode = True

from peers import qemu as peers  # noqa: E402
from peers import workloads as W  # noqa: E402

from vsssim.storage import shadowstorage as ss  # noqa: E402
from vsssim.storage.shadowstorage import ShadowStorage  # noqa: E402
from vsssim.storage.volume import Volume  # noqa: E402

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40

#: Where every engine's images go (``--dir``); None: $TMPDIR or /tmp.
WORKDIR: str | None = None


def workdir(prefix: str) -> str:
    """A fresh directory for one measurement's images, under ``--dir``."""
    return tempfile.mkdtemp(prefix=prefix, dir=WORKDIR or os.environ.get("TMPDIR", "/tmp"))


def clone_range(dst_fd: int, src_fd: int, src: int, length: int, dst: int) -> bool:
    """FICLONERANGE as the engine calls it (``ShadowStorage._clone_range``); False where the
    file system cannot share extents, other errors propagate."""
    try:
        fcntl.ioctl(dst_fd, ss._FICLONERANGE, struct.pack("qQQQ", src_fd, src, length, dst))
    except OSError as exc:
        if exc.errno not in ss._NO_CLONE:
            raise
        return False
    return True


def filesystem(path: str) -> str:
    """The type of the file system holding ``path`` (from /proc/mounts) and whether it
    shares extents (a FICLONERANGE probe on two scratch files there)."""
    path = os.path.realpath(path)
    fstype, best = "?", ""
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mnt, kind = line.split()[:3]
            inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
            if inside and len(mnt) >= len(best):
                fstype, best = kind, mnt
    except OSError:
        pass
    tmp = tempfile.mkdtemp(prefix="cowprobe-", dir=path)
    try:
        a = os.open(os.path.join(tmp, "a"), os.O_RDWR | os.O_CREAT, 0o644)
        b = os.open(os.path.join(tmp, "b"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(a, bytes(64 * KiB), 0)
            shares = clone_range(b, a, 0, 64 * KiB, 0)
        except OSError:
            shares = False
        finally:
            os.close(a)
            os.close(b)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return f"{fstype}, {'reflink' if shares else 'no reflink'}"


# Workloads defined here (same conventions as workloads.WORKLOADS).
EXTRA: dict[str, dict[str, Any]] = {
    # a chain of 512 snapshots, 16 random 16 KiB writes between two of them
    "rand-4KiB-write/512snap": {
        "prep": {"fill": True, "snaps": 512, "churn_ops": 16},
        "op": "rand_write",
    },
    # one snapshot, then every block b with splitmix64(7)[b] % 4 == 0 rewritten
    "snap-read/25pct-preserved": {
        "prep": {"fill": True, "snaps": 1, "rewrite_quarter": True},
        "op": "snap_read_oldest",
    },
    "snap-read/untouched": {
        "prep": {"fill": True, "snaps": 1},
        "op": "snap_read_oldest",
    },
}
ALL = {**W.WORKLOADS, **EXTRA}


@dataclass(frozen=True)
class Scale:
    """Sizes of one benchmark run (the reference bench's constants, or small ones for --quick)."""

    volume: int = W.VOLUME
    rand_ops: int = W.RAND_OPS
    churn_ops: int = W.CHURN_OPS
    reps: int = 5
    heavy_reps: int = 3  # workloads with >= 32 snapshots
    memory_written: int = GiB  # data written for the metadata-memory measurement
    qemu: bool = True


QUICK = Scale(
    volume=64 * MiB,
    rand_ops=2048,
    churn_ops=128,
    reps=1,
    heavy_reps=1,
    memory_written=64 * MiB,
    qemu=False,
)


# ----------------------------------------------------------------------------- engines
class Vsssim:
    """The reference bench's engine protocol around a Volume and its ShadowStorage."""

    label = "vsssim"
    batch = False  # timed random writes: one write() per operation
    reserve = True

    def __init__(self, path: str, volume: int) -> None:
        self.vol = Volume.create(path, volume)
        self.store = ShadowStorage.create(self.vol, path + ".diff")
        if self.reserve:
            self.store.reserve(volume)
        self.snaps: list[Any] = []

    def write(self, off: int, data: bytes) -> None:
        self.vol.write(off, data)

    def prep_write_many(self, offsets: np.ndarray, length: int, data: bytes) -> None:
        self.vol.write_many(offsets, length, data)

    def write_many(self, offsets: np.ndarray, length: int, data: bytes) -> None:
        if self.batch:
            self.vol.write_many(offsets, length, data)
        else:
            w = self.vol.write
            for off in offsets.tolist():
                w(off, data)

    def snapshot(self) -> None:
        self.snaps.append(self.store.create_snapshot())

    def delete(self, k: int) -> None:
        self.store.delete(self.snaps.pop(k))

    def read_snapshot(self, k: int, off: int, length: int) -> bytes:
        data: bytes = self.snaps[k].read(off, length)
        return data

    def diff_bytes(self) -> int:
        return self.store.used

    def close(self) -> None:
        self.vol.close()


class VsssimBatch(Vsssim):
    label = "vsssim batch (write_many)"
    batch = True


class VsssimNoReserve(Vsssim):
    label = "vsssim, store not preallocated"
    reserve = False


class Raw:
    """A plain image file, ``os.pwrite``/``os.pread``, snapshots are no-ops (the ceiling)."""

    label = "raw os.pwrite/os.pread"

    def __init__(self, path: str, volume: int) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        os.ftruncate(self.fd, volume)

    def write(self, off: int, data: bytes) -> None:
        os.pwrite(self.fd, data, off)

    def write_many(self, offsets: np.ndarray, length: int, data: bytes) -> None:
        fd = self.fd
        for off in offsets.tolist():
            os.pwrite(fd, data, off)

    def snapshot(self) -> None:
        pass

    def delete(self, k: int) -> None:
        pass

    def read_snapshot(self, k: int, off: int, length: int) -> bytes:
        return os.pread(self.fd, length, off)

    def close(self) -> None:
        os.close(self.fd)


class Floor:
    """The system calls of an in-place copy-on-write engine and nothing else: the floor.

    Per first write after a snapshot it does exactly what vsssim's write path does at the
    system-call level (old blocks into preallocated store slots: a memcpy between the volume's
    and the store's mappings up to 64 KiB, a page-aligned buffer beyond, or a clone of runs
    of at least ``_CLONE_MIN`` where the file system shares extents; a 64-byte journal
    record; then the live write), with a ``bytearray`` of copied flags as its only
    bookkeeping: no index, no locking, no checks.
    Its ratio to raw (or to qemu) is the best any engine that keeps the live image a plain file
    written in place can reach in this run; vsssim's distance to it is the engine's Python.
    """

    label = "in-place COW floor (system calls only)"

    def __init__(self, path: str, volume: int) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        os.ftruncate(self.fd, volume)
        self.sfd = os.open(path + ".store", os.O_RDWR | os.O_CREAT, 0o644)
        zero = bytes(MiB)
        for off in range(0, volume, MiB):  # preallocated like ShadowStorage.reserve
            os.pwrite(self.sfd, zero, off)
        self.jfd = os.open(path + ".journal", os.O_RDWR | os.O_CREAT, 0o644)
        os.ftruncate(self.jfd, 64 * MiB)
        self.jpos = 0
        self.record = bytes(range(64))
        self.nblocks = volume // W.BLOCK
        self.copied = bytearray(b"\x01") * self.nblocks  # no snapshot yet: nothing to copy
        self.slot = 0
        self.scratch = memoryview(mmap.mmap(-1, 4 * MiB))
        self.clone = True  # until a clone fails (its short runs never reach the kernel)
        self.vmap = memoryview(mmap.mmap(self.fd, volume, prot=mmap.PROT_READ))
        self.smap = memoryview(mmap.mmap(self.sfd, volume))

    def write(self, off: int, data: bytes) -> None:
        b0, b1 = off // W.BLOCK, (off + len(data) - 1) // W.BLOCK + 1
        if self.copied[b0:b1].count(0):
            src, dst, n = b0 * W.BLOCK, self.slot * W.BLOCK, (b1 - b0) * W.BLOCK
            if dst + n > self.nblocks * W.BLOCK:  # store full: reuse it from the start
                self.slot, dst = 0, 0
            if n <= 64 * KiB:  # a memcpy between the mappings, as vsssim into a reserved store
                self.smap[dst : dst + n] = self.vmap[src : src + n]
            elif not (n >= ss._CLONE_MIN and self.clone and self.cloned(src, dst, n)):
                view = self.scratch[:n]
                os.preadv(self.fd, [view], src)
                os.pwrite(self.sfd, view, dst)
            os.pwrite(self.jfd, self.record, self.jpos)
            self.jpos = (self.jpos + 64) % (64 * MiB)
            self.copied[b0:b1] = b"\x01" * (b1 - b0)
            self.slot += b1 - b0
        os.pwrite(self.fd, data, off)

    def cloned(self, src: int, dst: int, n: int) -> bool:
        """Clone the run, as vsssim where the file system shares extents; False for good if
        it cannot."""
        self.clone = clone_range(self.sfd, self.fd, src, n, dst)
        return self.clone

    def write_many(self, offsets: np.ndarray, length: int, data: bytes) -> None:
        w = self.write
        for off in offsets.tolist():
            w(off, data)

    def snapshot(self) -> None:
        self.copied = bytearray(self.nblocks)

    def close(self) -> None:
        self.vmap.release()
        self.smap.release()
        for fd in (self.fd, self.sfd, self.jfd):
            os.close(fd)


ENGINES: dict[str, Any] = {
    "raw": Raw,
    "floor": Floor,
    "vsssim": Vsssim,
    "batch": VsssimBatch,
    "noreserve": VsssimNoReserve,
}


# ----------------------------------------------------------------------------- one run
def _io_counters() -> tuple[int, int]:
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return 0, 0
    values = dict(line.split(": ") for line in text.splitlines())
    return int(values["rchar"]), int(values["wchar"])


def run_once(factory: Callable[..., Any], name: str, tmp: str, sc: Scale) -> dict[str, Any]:
    """The reference bench's run_once, parametrised by scale and the EXTRA preparation steps."""
    spec = ALL[name]
    prep = spec["prep"]
    volume = prep.get("volume", sc.volume)
    eng = factory(os.path.join(tmp, "vol.img"), volume)
    many = getattr(eng, "prep_write_many", None) or eng.write_many
    one_mib = bytes([0xAA]) * MiB
    if prep.get("fill") and volume <= sc.volume:
        for off in range(0, volume, MiB):
            eng.write(off, one_mib)
    for off in range(0, prep.get("head", 0), MiB):
        eng.write(off, one_mib)
    nsnaps = prep.get("snaps", 0)
    churn = prep.get("churn_ops", sc.churn_ops)
    for i in range(nsnaps):
        eng.snapshot()
        if i < nsnaps - 1:
            offs = W.rand_offsets(W.CHURN_SEED_BASE + i, churn, volume, W.CHURN_LEN)
            many(offs, W.CHURN_LEN, bytes([W.pattern(i + 1)]) * W.CHURN_LEN)
    if prep.get("overwrite"):
        buf = bytes([0x55]) * MiB
        for off in range(0, volume, MiB):
            eng.write(off, buf)
    if prep.get("rewrite_quarter"):
        nb = volume // W.BLOCK
        pick = np.flatnonzero(W.splitmix64(7, nb) % np.uint64(4) == 0).astype(np.int64)
        many(pick * W.BLOCK, W.BLOCK, bytes([0x55]) * W.BLOCK)
    roffs = W.rand_offsets(W.RAND_SEED, sc.rand_ops, volume)
    if prep.get("rand_once"):
        many(roffs, W.RAND_LEN, bytes([W.pattern(99)]) * W.RAND_LEN)
    os.sync()
    gc.collect()
    W.warm_memory(W.warm_bytes(name) if name in W.WORKLOADS else 256 * MiB)
    op = spec["op"]
    io0 = _io_counters()
    if op == "seq_write":
        buf = bytes([W.pattern(100)]) * W.SEQ_LEN
        offs = W.seq_offsets(volume).tolist()
        t = time.perf_counter()
        for off in offs:
            eng.write(off, buf)
        t = time.perf_counter() - t
    elif op == "rand_write":
        rbuf = bytes([W.pattern(100)]) * W.RAND_LEN
        t = time.perf_counter()
        eng.write_many(roffs, W.RAND_LEN, rbuf)
        t = time.perf_counter() - t
    elif op in ("snap_delete_oldest", "snap_delete_middle"):
        k = 0 if op == "snap_delete_oldest" else nsnaps // 2
        t = time.perf_counter()
        eng.delete(k)
        t = time.perf_counter() - t
    elif op == "snap_read_oldest":
        t = time.perf_counter()
        for off in range(0, volume, MiB):
            eng.read_snapshot(0, off, MiB)
        t = time.perf_counter() - t
    else:
        raise ValueError(op)
    io1 = _io_counters()
    diff = getattr(eng, "diff_bytes", lambda: None)()
    eng.close()
    return {
        "seconds": t,
        "written": io1[1] - io0[1],
        "read": io1[0] - io0[0],
        "diff": diff,
    }


def workload_bytes(name: str, sc: Scale) -> int:
    op = ALL[name]["op"]
    if op in ("seq_write", "snap_read_oldest"):
        return sc.volume
    if op == "rand_write":
        return sc.rand_ops * int(W.RAND_LEN)
    return 0


def workload_ops(name: str, sc: Scale) -> int:
    op = ALL[name]["op"]
    if op in ("seq_write", "snap_read_oldest"):
        return sc.volume // MiB
    if op == "rand_write":
        return sc.rand_ops
    return 1


# ----------------------------------------------------------------------------- results
@dataclass
class Cell:
    workload: str
    config: str
    samples: list[float] = field(default_factory=list)
    nbytes: int = 0
    nops: int = 0
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def row(self) -> str:
        s = self.samples
        lo, med, hi = min(s), statistics.median(s), max(s)
        t = f"{lo * 1e3:.4g} / **{med * 1e3:.4g}** / {hi * 1e3:.4g}"
        thr = (
            f"{self.nbytes / MiB / hi:.0f} / **{self.nbytes / MiB / med:.0f}** / "
            f"{self.nbytes / MiB / lo:.0f}"
            if self.nbytes
            else ""
        )
        ops = f"{self.nops / med:.0f}" if self.nops > 1 else ""
        noisy = " (noisy: max/min > 2)" if lo > 0 and hi / lo > 2 else ""
        return (
            f"| {self.workload} | {self.config} | {len(s)} | {t} | {thr} | {ops} | "
            f"{self.note}{noisy} |"
        )


HEADER = (
    "| workload | configuration | runs | time ms min / **median** / max "
    "| MiB/s min / **median** / max | ops/s (median) | note |\n"
    "| --- | --- | --- | --- | --- | --- | --- |"
)


class Results:
    def __init__(self, sc: Scale) -> None:
        self.sc = sc
        self.cells: dict[tuple[str, str], Cell] = {}
        self.lines: list[str] = []
        self.extras: dict[str, Any] = {}
        self.per_rep: dict[int, list[float]] = {}  # row of the target table -> ratios

    def add(self, workload: str, config: str, seconds: float, note: str = "") -> None:
        key = (workload, config)
        cell = self.cells.get(key)
        if cell is None:
            nb = workload_bytes(workload, self.sc) if workload in ALL else 0
            ops = workload_ops(workload, self.sc) if workload in ALL else 1
            cell = self.cells[key] = Cell(workload, config, nbytes=nb, nops=ops)
        cell.samples.append(seconds)
        if note:
            cell.note = note

    def median(self, workload: str, config: str) -> float | None:
        cell = self.cells.get((workload, config))
        return cell.median if cell else None

    def print_cell(self, workload: str, config: str) -> None:
        line = self.cells[(workload, config)].row()
        self.lines.append(line)
        print(line, flush=True)


def measure(res: Results, names: list[str], engines: list[str]) -> None:
    """Every named workload on every engine, engines interleaved within each repetition."""
    sc = res.sc
    for name in names:
        reps = sc.heavy_reps if ALL[name]["prep"].get("snaps", 0) >= 32 else sc.reps
        for _ in range(reps):
            for key in engines:
                tmp = workdir("cowbench-")
                try:
                    rec = run_once(ENGINES[key], name, tmp, sc)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                note = ""
                if ALL[name]["op"].startswith("snap_delete"):
                    note = f"bytes written by the delete: {rec['written']}"
                    res.extras[f"{name}/{key}/written"] = rec["written"]
                res.add(name, ENGINES[key].label, rec["seconds"], note)
        for key in engines:
            res.print_cell(name, ENGINES[key].label)


# ----------------------------------------------------------------------------- qemu side
def qemu_available() -> bool:
    return peers.available()


def measure_qemu(res: Results, names: list[str]) -> None:
    tmp = workdir("cowqemu-")
    try:
        for name in names:
            op = W.WORKLOADS[name]["op"]
            reps = (
                res.sc.heavy_reps
                if W.WORKLOADS[name]["prep"].get("snaps", 0) >= 32
                else res.sc.reps
            )
            config = (
                "qemu-io qcow2-64k -t unsafe"
                if "write" in op
                else "qemu-img snapshot -d, qcow2-64k"
            )
            for _ in range(reps):
                path = os.path.join(tmp, "q.img")
                q = peers.qemu_image(name, "qcow2", 64 * KiB, path, tmp)
                os.sync()
                W.warm_memory(W.warm_bytes(name))
                if "write" in op:
                    t, _ = q.io_timed(peers.write_cmds(name), "unsafe")
                    res.add(name, config, t)
                else:
                    victim = 0 if op == "snap_delete_oldest" else q.nsnap // 2
                    start = peers.startup_time(path)
                    t = peers.timed(["qemu-img", "snapshot", "-d", f"s{victim}", path])
                    res.add(
                        name,
                        config,
                        t,
                        f"`qemu-img snapshot -l` takes {start * 1e3:.1f} ms",
                    )
                os.unlink(path)
            peers.drop_goldens()
            res.print_cell(name, config)
    finally:
        peers.drop_goldens()
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------- special measurements
def measure_create(res: Results, count: int) -> None:
    """Snapshot creation on a 1 GiB and a 1 TiB sparse volume, alternating, ``count`` each."""
    base = workdir("cowcreate-")
    try:
        stores = {}
        for label, size in (("1GiB", GiB), ("1TiB-sparse", TiB)):
            vol = Volume.create(os.path.join(base, f"{label}.img"), size)
            for off in range(0, 64 * MiB, MiB):
                vol.write(off, bytes([0xAA]) * MiB)
            stores[label] = ShadowStorage.create(vol, os.path.join(base, f"{label}.diff"))
            stores[label].create_snapshot()  # warm-up
        for _ in range(count):
            for label, store in stores.items():
                t = time.perf_counter()
                store.create_snapshot()
                res.add(f"snap-create/{label}", "vsssim", time.perf_counter() - t)
        for label, store in stores.items():
            store.volume.close()
            res.print_cell(f"snap-create/{label}", "vsssim")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def measure_memory(res: Results) -> None:
    """Engine metadata of a 1 TiB sparse volume with ``memory_written`` bytes written, as
    random 16 KiB blocks scattered over the whole volume, under 64 snapshots."""
    base = workdir("cowmem-")
    try:
        nblocks = TiB // W.BLOCK
        per_snap = res.sc.memory_written // W.BLOCK // 64
        data = bytes([0x5A]) * W.BLOCK
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        vol = Volume.create(os.path.join(base, "tib.img"), TiB)
        store = ShadowStorage.create(vol, os.path.join(base, "tib.diff"))
        for i in range(64):
            store.create_snapshot()
            blocks = W.splitmix64(500 + i, per_snap) % np.uint64(nblocks)
            offs = blocks.astype(np.int64) * W.BLOCK
            for chunk in range(0, offs.size, 4096):
                vol.write_many(offs[chunk : chunk + 4096], W.BLOCK, data)
            del blocks, offs
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        res.extras["memory"] = {
            "traced": traced,
            "estimate": store.metadata_bytes(),
            "used": store.used,
            "written": 64 * per_snap * W.BLOCK,
        }
        vol.close()
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        shutil.rmtree(base, ignore_errors=True)
    m = res.extras["memory"]
    line = (
        f"| metadata memory, 1 TiB sparse volume, {m['written'] / MiB:.0f} MiB written as random "
        f"16 KiB blocks under 64 snapshots | vsssim | 1 | | | | traced by tracemalloc "
        f"{m['traced'] / MiB:.1f} MiB; engine estimate {m['estimate'] / MiB:.1f} MiB; "
        f"diff area {m['used'] / MiB:.0f} MiB |"
    )
    res.lines.append(line)
    print(line, flush=True)


# ----------------------------------------------------------------------------- targets
def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def bound(
    out: list[tuple[str, float | None, str, bool | None]],
    text: str,
    peer: float | None,
    floor: float | None,
) -> None:
    """A reference row: what the floor engine reaches against the same peer (no verdict)."""
    if peer is not None and floor is not None:
        out.append((text, peer / floor, "(reference)", None))


def targets(res: Results) -> list[tuple[str, float | None, str, bool | None]]:
    """(description, measured, goal text, passed) for every target of the issue."""
    m = res.median
    raw, eng, bat = Raw.label, Vsssim.label, VsssimBatch.label
    qemu = "qemu-io qcow2-64k -t unsafe"
    out: list[tuple[str, float | None, str, bool | None]] = []

    def r(wa: str, ca: str, wb: str, cb: str) -> tuple[float | None, list[float]]:
        """Ratio of the medians, and the ratios of the repetitions paired in run order."""
        a, b = res.cells.get((wa, ca)), res.cells.get((wb, cb))
        if a is None or b is None:
            return None, []
        return a.median / b.median, [x / y for x, y in zip(a.samples, b.samples, strict=False)]

    def add(
        text: str,
        value: float | tuple[float | None, list[float]] | None,
        goal: float,
        *,
        most: bool = False,
    ) -> None:
        if isinstance(value, tuple):
            value, reps = value
            if reps:
                res.per_rep[len(out)] = reps
        sign = "<=" if most else ">="
        ok = None if value is None else (value <= goal if most else value >= goal)
        out.append((text, value, f"{sign} {goal:g}", ok))

    seq = "seq-1MiB-write/1snap"
    add(
        "first sequential 1 MiB writes after 1 snapshot, vs raw pwrite",
        r(seq, raw, seq, eng),
        0.30,
    )
    add("  the same, vs qemu-io qcow2-64k cache=unsafe", r(seq, qemu, seq, eng), 2.0)
    flo = Floor.label
    bound(
        out,
        "  bound: the in-place floor vs qemu-io (system calls only)",
        m(seq, qemu),
        m(seq, flo),
    )
    rw = "rand-4KiB-rewrite/1snap"
    add(
        "rewrites of already copied blocks (random 4 KiB, per call), vs raw",
        r(rw, raw, rw, eng),
        0.8,
    )
    r8 = "rand-4KiB-write/8snap"
    add(
        "random 4 KiB writes with 8 snapshots (per call), vs raw per-call pwrite",
        r(r8, raw, r8, eng),
        0.6,
    )
    bound(
        out,
        "  bound: the in-place floor vs raw (system calls only)",
        m(r8, raw),
        m(r8, flo),
    )
    add("  the same, vs qemu-io qcow2-64k cache=unsafe", r(r8, qemu, r8, eng), 5.0)
    add(
        "  through the batch API (write_many), vs raw per-call pwrite",
        r(r8, raw, r8, bat),
        1.2,
    )
    add(
        "write throughput with 512 snapshots / with 1 snapshot (random 4 KiB, per call)",
        r("rand-4KiB-write/1snap", eng, "rand-4KiB-write/512snap", eng),
        0.9,
    )
    add(
        "snapshot create time, 1 TiB sparse volume / 1 GiB volume",
        r("snap-create/1TiB-sparse", "vsssim", "snap-create/1GiB", "vsssim"),
        1.5,
        most=True,
    )
    q = "snap-read/25pct-preserved"
    add(
        "full sequential snapshot read, 25 % of blocks preserved, vs raw read",
        r(q, raw, q, eng),
        0.5,
    )
    u = "snap-read/untouched"
    add(
        "full sequential snapshot read, untouched snapshot, vs raw read",
        r(u, raw, u, eng),
        0.9,
    )
    for which in ("oldest", "middle"):
        key = f"snap-delete/{which}-of-64/vsssim/written"
        if key in res.extras:
            moved = float(res.extras[key])
            ok = moved < W.BLOCK  # a journal record, never a data block
            out.append(
                (
                    f"delete the {which} of 64 snapshots: bytes written (data moved: none)",
                    moved,
                    f"< {W.BLOCK} (no block)",
                    ok,
                )
            )
    if "memory" in res.extras:
        mem = res.extras["memory"]["traced"] / MiB
        add(
            f"engine metadata, 1 TiB sparse volume, {res.extras['memory']['written'] / GiB:g} GiB "
            "written under 64 snapshots (MiB)",
            mem,
            32,
            most=True,
        )
    return out


def target_table(res: Results) -> list[str]:
    lines = [
        "| target | measured (ratio of medians) | per repetition min / median / max | goal "
        "| result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row, (text, value, goal, ok) in enumerate(targets(res)):
        shown = "not measured" if value is None else f"{value:.3g}"
        reps = sorted(res.per_rep.get(row, []))
        spread = (
            f"{reps[0]:.3g} / {statistics.median(reps):.3g} / {reps[-1]:.3g} ({len(reps)})"
            if reps
            else ""
        )
        verdict = (
            "" if goal == "(reference)" else "n/a" if ok is None else ("PASS" if ok else "**FAIL**")
        )
        lines.append(f"| {text} | {shown} | {spread} | {goal} | {verdict} |")
    return lines


# ----------------------------------------------------------------------------- main
GROUPS = {
    "seq": ["seq-1MiB-write/1snap"],
    "rand": [
        "rand-4KiB-write/1snap",
        "rand-4KiB-write/8snap",
        "rand-4KiB-write/512snap",
    ],
    "rewrite": ["rand-4KiB-rewrite/1snap"],
    "read": [
        "snap-read/untouched",
        "snap-read/25pct-preserved",
        "snap-read/oldest-of-8",
    ],
    "delete": ["snap-delete/oldest-of-64", "snap-delete/middle-of-64"],
    "create": [],
    "memory": [],
}
ENGINES_FOR = {
    "seq-1MiB-write/1snap": ["raw", "floor", "vsssim", "noreserve"],
    "rand-4KiB-write/1snap": ["vsssim"],
    "rand-4KiB-write/8snap": ["raw", "floor", "vsssim", "batch"],
    "rand-4KiB-write/512snap": ["vsssim"],
    "rand-4KiB-rewrite/1snap": ["raw", "vsssim", "batch"],
    "snap-read/untouched": ["raw", "vsssim"],
    "snap-read/25pct-preserved": ["raw", "vsssim"],
    "snap-read/oldest-of-8": ["raw", "vsssim"],
    "snap-delete/oldest-of-64": ["vsssim"],
    "snap-delete/middle-of-64": ["vsssim"],
}
QEMU_FOR = ["seq-1MiB-write/1snap", "rand-4KiB-write/8snap", "snap-delete/oldest-of-64"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    qemu = ""
    if qemu_available():
        version = subprocess.run(["qemu-img", "--version"], capture_output=True, text=True)
        qemu = "; " + version.stdout.splitlines()[0]
    where = WORKDIR or os.environ.get("TMPDIR", "/tmp")
    return (
        f"{os.cpu_count()} x {cpu}, Linux {platform.release()}, Python "
        f"{platform.python_version()}, numpy {np.__version__}{qemu}; images in {where} "
        f"({filesystem(where)})"
    )


def write_readme(res: Results, args: argparse.Namespace, when: str) -> None:
    path = ROOT / "benchmarks" / "README.md"
    cmd = "python benchmarks/cow.py" + (" --quick" if args.quick else "")
    cmd += f" --dir {args.dir}" if args.dir else ""
    body = "\n".join(
        [
            "<!-- cow:begin (generated by benchmarks/cow.py --write-readme; edit the script) -->",
            "### Last generated run",
            "",
            f"Measured {when} on {machine()}.  Reproduce with `{cmd} --write-readme` "
            "(qemu columns need `apt-get install -y qemu-utils`).  All ratios come from this "
            "one run; medians of the runs, with min and max.  Ratios are throughput ratios "
            "(>1: vsssim faster), except where the goal says `<=`.",
            "",
            "#### Targets (issue 3)",
            "",
            *target_table(res),
            "",
            "#### Measurements",
            "",
            HEADER,
            *res.lines,
            "",
            README_NOTES,
            "<!-- cow:end -->",
        ]
    )
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"<!-- cow:begin.*?<!-- cow:end -->", re.S)
    text = (
        pattern.sub(lambda _: body, text) if pattern.search(text) else text.rstrip() + "\n\n" + body
    )
    path.write_text(text.rstrip() + "\n")
    print(f"\nwrote {path}")


README_NOTES = """\
How to read it:

* *raw* writes and reads the same offsets of an image file of the same size with
  `os.pwrite`/`os.pread`, no copy-on-write: the ceiling of any Python engine.  A first write
  after a snapshot moves three times the bytes (read the old block, write it to the store, write
  the new data), so about 1/3 of raw is the physical limit of that workload.
* The engine's store is preallocated (`ShadowStorage.reserve`, volsnap's minimum diff area)
  before the untimed preparation; the row "store not preallocated" shows the first-write
  workload growing the store file during the timed writes instead.
* `rand-4KiB-write/512snap` builds a chain of 512 snapshots with 16 random 16 KiB writes
  between two of them, then times the same random writes as `rand-4KiB-write/1snap`; the
  target compares the two.  `snap-read/25pct-preserved` rewrites a quarter of the blocks
  (splitmix64 seed 7) after one snapshot and reads the snapshot back; `snap-read/untouched`
  reads a snapshot nothing was written after.
* Deletes report the bytes the process wrote during the call (`/proc/self/io` wchar): one
  journal record, no data block.  Memory is what `tracemalloc` sees the engine allocate
  (numpy buffers included) for the whole scenario, next to the engine's own estimate
  (`ShadowStorage.metadata_bytes()`).
* *in-place COW floor* is the write path's system calls in a bare loop (class `Floor`: old
  blocks into preallocated store slots, by a memcpy between mappings up to 64 KiB, a clone
  of runs of 1 MiB or more where the file system shares extents (as vsssim), a
  64-byte journal record, the live write; a bytearray
  of flags is its only bookkeeping).  Its ratio, printed as "bound" under the two first-write
  targets, is what any engine that keeps the live image a plain file written in place can
  reach in that run; vsssim's distance to it is the engine's own Python.
* What limits the first-write targets.  Every first write after a snapshot copies the old
  16 KiB block into the store before the new data lands (volsnap's design: the live image
  stays a plain file written in place).  A sequential 1 MiB first write therefore makes three
  page-cache passes (read the old MiB, write it into store slots, write the new MiB) where raw
  makes one, and qcow2 makes one write into new clusters plus its metadata: the 2x-qemu target
  holds only in runs where qemu is 2x slower than the floor.  On a file system that shares
  extents (`--dir` on XFS made with reflink, or btrfs) the old MiB is cloned instead, a
  metadata update, and the first write makes one pass like raw.  A random 4 KiB first write costs
  the raw write plus a 16 KiB copy (a memcpy between mappings into a reserved store), a
  64-byte journal record that must land before the live write (the write-ahead order forbids
  batching it across calls) and a few microseconds of Python; on a fully cached volume, where
  raw pwrite is cheap, that is about 0.45 of raw.  Handed over as one batch (`write_many`) the
  same writes run faster than raw per-call pwrite.  The hand-written part of this section
  says what was measured, tried and left out.
* This VM's page cache is noisy (`workloads.warm_memory` explains the balloon effect), and the
  machine is shared: cells with max/min > 2 are flagged; rerun a group with `--only`.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small volumes, 1 run, no qemu")
    ap.add_argument(
        "--reps",
        type=int,
        default=0,
        help="runs per cell (default 5; 3 with >= 32 snapshots)",
    )
    ap.add_argument("--only", default="", help=f"comma-separated groups: {','.join(GROUPS)}")
    ap.add_argument("--no-qemu", action="store_true", help="skip the qemu columns")
    ap.add_argument(
        "--dir",
        default=None,
        help="where the images of every engine go (default: $TMPDIR or /tmp); e.g. a "
        "directory on XFS with reflink to measure cloned copies (see benchmarks/README.md)",
    )
    ap.add_argument("--write-readme", action="store_true", help="update benchmarks/README.md")
    args = ap.parse_args(argv)
    sc = QUICK if args.quick else Scale()
    if args.reps:
        sc = Scale(**{**sc.__dict__, "reps": args.reps, "heavy_reps": args.reps})
    groups = [g for g in GROUPS if not args.only or g in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(GROUPS) if args.only else set()
    if unknown:
        ap.error(f"unknown groups {sorted(unknown)}; choose from {list(GROUPS)}")
    global WORKDIR
    if args.dir is not None:
        os.makedirs(args.dir, exist_ok=True)
        WORKDIR = os.path.abspath(args.dir)
    use_qemu = sc.qemu and not args.no_qemu
    if use_qemu and not qemu_available():
        print(
            "qemu-img/qemu-io not found: the qcow2 columns are skipped "
            "(apt-get install -y qemu-utils to include them)\n"
        )
        use_qemu = False
    elif not use_qemu:
        print("qcow2 columns skipped (--quick or --no-qemu)\n")
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"<!-- benchmarks/cow.py {' '.join(argv or sys.argv[1:])} | {when} | {machine()} -->\n")
    res = Results(sc)
    print(HEADER)
    for group in groups:
        names = GROUPS[group]
        for name in names:
            measure(res, [name], ENGINES_FOR[name])
        if use_qemu:
            measure_qemu(res, [n for n in names if n in QEMU_FOR])
        if group == "create":
            measure_create(res, 30 if args.quick else 200)
        if group == "memory":
            measure_memory(res)
    print("\n### Targets\n")
    for line in target_table(res):
        print(line)
    if args.write_readme:
        write_readme(res, args, when)
    return 0


if __name__ == "__main__":
    sys.exit(main())
