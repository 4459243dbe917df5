#!/usr/bin/env python3
"""Benchmark: simfs writing 100 files of 1 MiB with one snapshot active, against raw writes.

Target (issue 3): simfs throughput >= 0.2x raw ``os.pwrite`` of the same 100 MiB into an image
file, measured in the same run, median of 5 repetitions.

Each repetition builds a fresh volume image under ``$TMPDIR`` and writes it once end to end (a
used disk: both sides then write into allocated pages of their image), formats simfs, fills it
with the 100 files (1 MiB each), takes one snapshot, and then times rewriting the 100 files
(every block of every file is then copied once by the copy-on-write engine: the worst case for
an active snapshot).  A second timed phase writes 100 *new* files into free space under the same
snapshot (the engine copies those blocks too: it preserves every written block, where volsnap
skips blocks the file system had free).  The raw side writes the same bytes with ``os.pwrite``
into a preallocated image file of the same size; with the engine, a third row times the same
rewrites through ``Volume.write`` alone (no file system), the ceiling for simfs.  Nothing is
``fsync``'d (the page cache is the medium, as in the engine's reference measurements).  As in the
shared bench's protocol, 512 MiB of memory is touched and freed right before every timed phase
(``_warm_memory``), and each row prints its median with the min and max of the repetitions.

With the copy-on-write engine available (``vsssim.storage.volume`` and
``vsssim.storage.shadowstorage``) the volume is a real ``Volume`` with a ``ShadowStorage`` diff
area.  Without it the benchmark falls back to a plain file-backed block device (no snapshot) and
says so in its output.

Usage: python benchmarks/simfs.py [--reps 5] [--files 100] [--file-size-mib 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from vsssim.clock import VirtualClock
from vsssim.storage.blockdev import Buffer, check_range
from vsssim.storage.simfs import SimFS, format

MiB = 1 << 20
TARGET = 0.2
WARM = 512 * MiB  # memory touched before each timed phase (see _warm_memory)

# (device, take one snapshot, close everything)
_Setup = tuple[Any, Callable[[], None], Callable[[], None]]


class FileDevice:
    """A plain image-file block device (``os.pread``/``os.pwrite``), for the fallback setup."""

    def __init__(self, path: Path, size: int) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        os.ftruncate(self._fd, size)
        self._size = size
        self._lock = threading.RLock()

    @property
    def size(self) -> int:
        return self._size

    block_size = 16 * 1024
    readonly = False

    def read(self, offset: int, length: int) -> bytes:
        check_range(offset, length, self._size)
        return os.pread(self._fd, length, offset)

    def write(self, offset: int, data: Buffer) -> None:
        check_range(offset, len(data), self._size)
        os.pwrite(self._fd, data, offset)

    @contextlib.contextmanager
    def operation(self) -> Iterator[None]:
        with self._lock:
            yield

    def close(self) -> None:
        os.close(self._fd)


def _preallocate(path: Path, size: int) -> None:
    """Write the whole image once so both sides write into allocated, cached pages."""
    chunk = bytes(8 * MiB)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for offset in range(0, size, len(chunk)):
            os.pwrite(fd, chunk[: min(len(chunk), size - offset)], offset)
    finally:
        os.close(fd)


def _engine_setup(workdir: Path, size: int) -> _Setup | None:
    """A real Volume + ShadowStorage if the engine is installed: (device, snapshot, close)."""
    try:
        shadowstorage = importlib.import_module("vsssim.storage.shadowstorage")
        volume_module = importlib.import_module("vsssim.storage.volume")
    except ImportError:
        return None
    volume = volume_module.Volume.create(workdir / "volume.img", size)
    # A used disk, like the raw side's image: every block written once, before any snapshot
    # (writing into the holes of a fresh sparse image costs the host file system extra).
    zeros = bytes(8 * MiB)
    for offset in range(0, size, len(zeros)):
        volume.write(offset, zeros[: min(len(zeros), size - offset)])
    storage = shadowstorage.ShadowStorage.create(volume, workdir / "diff")
    snapshots: list[Any] = []

    def snapshot() -> None:
        snapshots.append(storage.create_snapshot())

    def close() -> None:
        for closer in (getattr(storage, "close", None), getattr(volume, "close", None)):
            if closer is not None:
                closer()

    return volume, snapshot, close


def _fallback_setup(workdir: Path, size: int) -> _Setup:
    _preallocate(workdir / "volume.img", size)
    device = FileDevice(workdir / "volume.img", size)
    return device, (lambda: None), device.close


def _warm_memory(nbytes: int = WARM) -> None:
    """Touch and free ``nbytes`` of anonymous memory right before a timed phase.

    The shared bench's ``workloads.warm_memory``: on the project's VMs the guest hands free
    pages back to the host, and touching such a page again costs ~10 us per 4 KiB, which made
    page-cache writes into new pages (the diff area's) slow and noisy.  Pre-touching leaves
    host-backed free pages for the timed writes.
    """
    block = b"\x01" * nbytes
    del block


def _timed(action: Callable[[], object]) -> float:
    gc.collect()
    _warm_memory()
    gc.disable()
    try:
        start = time.perf_counter()
        action()
        return time.perf_counter() - start
    finally:
        gc.enable()


def _raw_rep(workdir: Path, size: int, payload: bytes, files: int) -> float:
    """Raw side: the same bytes, same sizes, into a preallocated image file."""
    path = workdir / "raw.img"
    _preallocate(path, size)
    fd = os.open(path, os.O_RDWR)
    try:
        os.sync()
        return _timed(lambda: [os.pwrite(fd, payload, i * len(payload)) for i in range(files)])
    finally:
        os.close(fd)


def _simfs_rep(
    workdir: Path, size: int, fill: bytes, payload: bytes, files: int
) -> tuple[float, float, bool]:
    """simfs side: fill, snapshot, then time a rewrite of every file and new files."""
    setup = _engine_setup(workdir, size)
    engine = setup is not None
    device, snapshot, close = setup if setup is not None else _fallback_setup(workdir, size)
    try:
        clock = VirtualClock()
        format(device, clock=clock)
        fs = SimFS.mount(device, roots=["C:\\"], clock=clock)
        fs.makedirs("C:\\bench")
        names = [f"C:\\bench\\file{i:03d}.bin" for i in range(files)]
        new_names = [f"C:\\bench\\new{i:03d}.bin" for i in range(files)]
        for name in names:
            fs.write_file(name, fill)
        snapshot()
        os.sync()

        def write_all(paths: list[str]) -> None:
            for path in paths:
                fs.write_file(path, payload)

        rewrite = _timed(lambda: write_all(names))
        create = _timed(lambda: write_all(new_names))
        problems = fs.check()
        if problems or fs.read_file(names[0]) != payload:
            raise SystemExit(f"simfs failed its check after the benchmark: {problems}")
        return rewrite, create, engine
    finally:
        close()


def _engine_rep(workdir: Path, size: int, fill: bytes, payload: bytes, files: int) -> float | None:
    """The engine alone, for reference: the same 1 MiB rewrites through ``Volume.write`` at
    consecutive offsets under one snapshot (no file system): the ceiling for simfs."""
    (workdir / "ceiling").mkdir()
    setup = _engine_setup(workdir / "ceiling", size)
    if setup is None:
        return None
    device, snapshot, close = setup
    try:
        base = 64 * MiB
        for i in range(files):
            device.write(base + i * len(fill), fill)
        snapshot()
        os.sync()

        def write_all() -> None:
            for i in range(files):
                device.write(base + i * len(payload), payload)

        return _timed(write_all)
    finally:
        close()


def run(reps: int, files: int, file_size: int) -> dict[str, Any]:
    """Median-of-``reps`` timings and ratios (see the module docstring)."""
    fill = os.urandom(file_size)
    payload = os.urandom(file_size)
    total = files * file_size
    image_size = 2 * total + 64 * MiB
    raw_times: list[float] = []
    rewrite_times: list[float] = []
    new_times: list[float] = []
    engine_times: list[float] = []
    engine_used = False
    for _ in range(reps):
        workdir = Path(tempfile.mkdtemp(prefix="simfs-bench-"))
        try:
            raw_times.append(_raw_rep(workdir, image_size, payload, files))
            rewrite, create, engine_used = _simfs_rep(workdir, image_size, fill, payload, files)
            rewrite_times.append(rewrite)
            new_times.append(create)
            ceiling = _engine_rep(workdir, image_size, fill, payload, files)
            if ceiling is not None:
                engine_times.append(ceiling)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    raw_med = statistics.median(raw_times)
    rewrite_med = statistics.median(rewrite_times)
    new_med = statistics.median(new_times)
    setup = (
        "Volume + ShadowStorage, 1 snapshot"
        if engine_used
        else "file-backed device, no snapshot (engine not available)"
    )
    return {
        "setup": setup,
        "files": files,
        "file_size": file_size,
        "reps": reps,
        "raw_s": raw_times,
        "rewrite_s": rewrite_times,
        "new_files_s": new_times,
        "engine_s": engine_times,
        "engine_ms": statistics.median(engine_times) * 1e3 if engine_times else None,
        "raw_ms": raw_med * 1e3,
        "rewrite_ms": rewrite_med * 1e3,
        "new_files_ms": new_med * 1e3,
        "ratio_rewrite": raw_med / rewrite_med,
        "ratio_new_files": raw_med / new_med,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--file-size-mib", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.reps, args.files, args.file_size_mib * MiB)
    ok = result["ratio_rewrite"] >= TARGET
    mib = result["files"] * result["file_size"] / MiB
    print(f"setup: {result['setup']}")
    print(f"{result['files']} files x {result['file_size'] / MiB:g} MiB, median of {args.reps}")
    rows = [("raw os.pwrite", "raw_ms", None)]
    if result["engine_ms"] is not None:
        rows.append(("Volume.write (no fs)", "engine_ms", None))
    for label, key, ratio in (
        *rows,
        ("simfs rewrite", "rewrite_ms", "ratio_rewrite"),
        ("simfs new files", "new_files_ms", "ratio_new_files"),
    ):
        samples = result[key.replace("_ms", "_s")]
        spread = f"(min {min(samples) * 1e3:.1f}, max {max(samples) * 1e3:.1f})"
        line = (
            f"  {label:<22}{result[key]:9.1f} ms {spread:<24}{mib / result[key] * 1e3:7.0f} MiB/s"
        )
        print(line + (f"  ratio {result[ratio]:.2f}x" if ratio else ""))
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict}: rewrite ratio {result['ratio_rewrite']:.2f}x (target >= {TARGET}x)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
