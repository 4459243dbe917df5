"""The qemu peer: the named workloads on qcow2 images through ``qemu-img`` and ``qemu-io``.

Vendored from the project's reference bench (``bench/peers.py``, the qemu section; see
``__init__``).  Needs qemu-utils (``apt-get install -y qemu-utils``); ``available()`` says
whether both tools are on PATH.  qemu-io write workloads are timed by qemu-io itself: the sum
of the per-command times that ``write -C`` reports (command parsing and the flush at exit
excluded).  qemu-img commands are timed as whole processes; ``startup_time`` gives the time of
``qemu-img snapshot -l`` on the same image for comparison.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

from .workloads import (
    CHURN_LEN,
    RAND_LEN,
    RAND_OPS,
    RAND_SEED,
    SEQ_LEN,
    VOLUME,
    WORKLOADS,
    GiB,
    KiB,
    churn_offsets,
    pattern,
    rand_offsets,
    seq_offsets,
)

IO_RE = re.compile(r"(\d+),(\d+),[\d:.]+,([\d.]+),([\d.]+)")


def available() -> bool:
    return shutil.which("qemu-img") is not None and shutil.which("qemu-io") is not None


def sh(args: list[str], inp: str | None = None) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(args, input=inp, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{args[:4]}... rc={p.returncode}: {p.stderr[-500:]}")
    return p


def timed(args: list[str], inp: str | None = None) -> float:
    t = time.perf_counter()
    sh(args, inp)
    return time.perf_counter() - t


class Qcow:
    """A qcow2 (or raw) image driven through qemu-img / qemu-io."""

    def __init__(
        self, path: str, fmt: str = "qcow2", cluster: int = 64 * KiB, volume: int = VOLUME
    ) -> None:
        self.path, self.fmt, self.volume = path, fmt, volume
        if fmt == "qcow2":
            opts = f"cluster_size={cluster}"
            sh(["qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, path, str(volume)])
        else:
            sh(["qemu-img", "create", "-q", "-f", "raw", path, str(volume)])
        self.nsnap = 0

    def io(self, cmds: list[str], cache: str = "unsafe") -> subprocess.CompletedProcess[str]:
        return sh(
            ["qemu-io", "-f", self.fmt, "-t", cache, self.path], inp="\n".join(cmds) + "\nquit\n"
        )

    def io_timed(self, cmds: list[str], cache: str) -> tuple[float, float]:
        """(sum of the per-command times qemu-io reports, process wall time)."""
        t = time.perf_counter()
        p = self.io(cmds, cache)
        wall = time.perf_counter() - t
        tot, n = 0.0, 0
        for m in IO_RE.finditer(p.stdout):
            nb, _, bps, _ = m.groups()
            tot += int(nb) / float(bps)
            n += 1
        if n != len(cmds):
            raise RuntimeError(
                f"qemu-io reported {n} of {len(cmds)} commands: {p.stdout[-300:]} {p.stderr[-300:]}"
            )
        return tot, wall

    def fill(self, pat: int = 0xAA, upto: int | None = None) -> None:
        upto = upto or self.volume
        self.io([f"write -q -P {pat} {off} {GiB}" for off in range(0, upto, GiB)])

    def snapshot(self) -> None:
        sh(["qemu-img", "snapshot", "-c", f"s{self.nsnap}", self.path])
        self.nsnap += 1

    def churn(self, i: int) -> None:
        pat = pattern(i + 1)
        offs = churn_offsets(i, self.volume).tolist()
        self.io([f"write -q -P {pat} {o} {CHURN_LEN}" for o in offs])


def qemu_prepare(name: str, fmt: str, cluster: int, path: str) -> Qcow:
    prep = WORKLOADS[name]["prep"]
    volume = prep.get("volume", VOLUME)
    q = Qcow(path, fmt, cluster, volume)
    if prep.get("fill"):
        q.fill()
    n = prep.get("snaps", 0)
    for i in range(n):
        q.snapshot()
        if i < n - 1:
            q.churn(i)
    if prep.get("overwrite"):
        q.io([f"write -q -P 0x55 {o} {GiB}" for o in range(0, volume, GiB)])
    if prep.get("rand_once"):
        offs = rand_offsets(RAND_SEED, RAND_OPS).tolist()
        q.io([f"write -q -P {pattern(99)} {o} {RAND_LEN}" for o in offs])
    return q


_GOLDEN: dict[tuple[str, str, int], tuple[str, Qcow]] = {}


def qemu_image(name: str, fmt: str, cluster: int, path: str, tmp: str) -> Qcow:
    """A prepared image at `path`.  Expensive preparations (>= 8 snapshots) are built once per
    (preparation, format) and copied for every run."""
    prep = WORKLOADS[name]["prep"]
    if prep.get("snaps", 0) < 8:
        return qemu_prepare(name, fmt, cluster, path)
    key = (json.dumps(prep, sort_keys=True), fmt, cluster)
    if key not in _GOLDEN:
        gpath = os.path.join(tmp, f"golden{len(_GOLDEN)}.img")
        _GOLDEN[key] = (gpath, qemu_prepare(name, fmt, cluster, gpath))
    _, gq = _GOLDEN[key]
    sh(["cp", "--sparse=always", _GOLDEN[key][0], path])
    q = Qcow.__new__(Qcow)
    q.path, q.fmt, q.volume, q.nsnap = path, gq.fmt, gq.volume, gq.nsnap
    return q


def drop_goldens() -> None:
    for gpath, _ in _GOLDEN.values():
        if os.path.exists(gpath):
            os.unlink(gpath)
    _GOLDEN.clear()


def write_cmds(name: str) -> list[str]:
    """The timed writes of a write workload as qemu-io commands (``-C``: timed per command)."""
    op = WORKLOADS[name]["op"]
    if op == "seq_write":
        offs = seq_offsets().tolist()
        return [f"write -C -P {pattern(100)} {o} {SEQ_LEN}" for o in offs]
    offs = rand_offsets(RAND_SEED, RAND_OPS).tolist()
    return [f"write -C -P {pattern(100)} {o} {RAND_LEN}" for o in offs]


def startup_time(path: str) -> float:
    return min(timed(["qemu-img", "snapshot", "-l", path]) for _ in range(3))
