"""Deterministic workload definitions for the copy-on-write benchmarks.

Vendored from the project's reference bench (``bench/workloads.py``; see ``__init__``).
Every engine (raw file, qemu-io on qcow2, vsssim) replays exactly the same operations, so the
offsets come from a tiny self-contained PRNG (splitmix64) rather than from numpy.random, whose
streams may change between releases.  Nothing here touches the disk.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

VOLUME = 1 * GiB  # default volume size for the write/read workloads
BLOCK = 16 * KiB  # copy-on-write granularity of the simulator (volsnap: 16 KiB)
RAND_OPS = 16384  # number of 4 KiB random writes (64 MiB written)
RAND_LEN = 4 * KiB
SEQ_LEN = 1 * MiB
CHURN_OPS = 2048  # writes between two snapshots of a chain (16 KiB each: 32 MiB)
CHURN_LEN = 16 * KiB
RAND_SEED = 1000  # seed of the measured random workload
CHURN_SEED_BASE = 1  # churn after snapshot i uses seed CHURN_SEED_BASE + i

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(seed: int, n: int) -> np.ndarray:
    """n pseudo-random uint64 values; identical on every platform and numpy version."""
    with np.errstate(over="ignore"):
        x = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x = x + np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x & _MASK


def rand_offsets(seed: int, n: int, volume: int = VOLUME, align: int = RAND_LEN) -> np.ndarray:
    """n offsets, aligned to `align`, uniformly spread over the volume (int64)."""
    slots = volume // align
    return (splitmix64(seed, n) % np.uint64(slots)).astype(np.int64) * align


def seq_offsets(volume: int = VOLUME, length: int = SEQ_LEN) -> np.ndarray:
    return np.arange(0, volume, length, dtype=np.int64)


def churn_offsets(i: int, volume: int = VOLUME) -> np.ndarray:
    return rand_offsets(CHURN_SEED_BASE + i, CHURN_OPS, volume, CHURN_LEN)


def pattern(i: int) -> int:
    """Fill byte of pass i (never 0, so a zero-filled read is always a bug)."""
    return 1 + (i * 37) % 255


# The named workloads.  "prep" is what happens before the clock starts:
#   fill      - the whole volume is written once (pattern 0xAA), so COW has data to copy
#   snaps=N   - N snapshots; between snapshot i and i+1 (i < N-1) a churn of
#               CHURN_OPS x CHURN_LEN random writes (seed CHURN_SEED_BASE+i, pattern(i+1))
#   overwrite - after the snapshots, the whole volume is rewritten in 1 MiB writes
#               (pattern 0x55), so every block of the newest snapshot lives in its diff area
#   rand_once - the measured random writes are done once before the clock starts
# "op" is what is timed.
WORKLOADS: dict[str, dict[str, Any]] = {
    # writes
    "seq-1MiB-write/0snap": {"prep": {"fill": True, "snaps": 0}, "op": "seq_write"},
    "seq-1MiB-write/1snap": {"prep": {"fill": True, "snaps": 1}, "op": "seq_write"},
    "rand-4KiB-write/0snap": {"prep": {"fill": True, "snaps": 0}, "op": "rand_write"},
    "rand-4KiB-write/1snap": {"prep": {"fill": True, "snaps": 1}, "op": "rand_write"},
    "rand-4KiB-write/8snap": {"prep": {"fill": True, "snaps": 8}, "op": "rand_write"},
    "rand-4KiB-write/32snap": {"prep": {"fill": True, "snaps": 32}, "op": "rand_write"},
    "rand-4KiB-rewrite/1snap": {
        "prep": {"fill": True, "snaps": 1, "rand_once": True},
        "op": "rand_write",
    },
    # snapshot management
    "snap-delete/oldest-of-64": {"prep": {"fill": True, "snaps": 64}, "op": "snap_delete_oldest"},
    "snap-delete/middle-of-64": {"prep": {"fill": True, "snaps": 64}, "op": "snap_delete_middle"},
    # reads
    "snap-read/full-1of1": {
        "prep": {"fill": True, "snaps": 1, "overwrite": True},
        "op": "snap_read_oldest",
    },
    "snap-read/oldest-of-8": {
        "prep": {"fill": True, "snaps": 8, "overwrite": True},
        "op": "snap_read_oldest",
    },
}


def warm_bytes(name: str) -> int:
    """Memory to pre-touch right before the clock starts (see warm_memory)."""
    op = WORKLOADS[name]["op"]
    if op in ("seq_write", "rand_write"):
        return 2560 * MiB
    if op == "snap_read_oldest":
        return 256 * MiB
    return 64 * MiB


def warm_memory(nbytes: int) -> float:
    """Touch and free `nbytes` of anonymous memory; returns the touch rate in MiB/s.

    On the project's VMs the guest returns free pages to the host (virtio-balloon free page
    reporting, a few seconds after they are freed).  Touching such a page again costs about
    10 us per 4 KiB (~400 MiB/s instead of ~7-15 GiB/s), which made page-cache writes into new
    file blocks 10-40x slower and very noisy.  Pre-touching right before the timed operation
    leaves enough recently freed, host-backed pages at the head of the free lists for the
    operation to use.
    """
    if nbytes <= 0:
        return 0.0
    t = time.perf_counter()
    a = np.ones(nbytes // 8, dtype=np.float64)
    t = time.perf_counter() - t
    del a
    return nbytes / MiB / t
