"""Small file primitives shared by the volume and the shadow storage.

Everything is positional I/O on file descriptors (``os.pread`` / ``os.pwrite``): no file
offsets to share between threads, and a contiguous run is one system call.  Durability is
explicit: nothing here calls ``fsync`` unless asked to (the hot path never does).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vsssim.errors import (
    VssAccessDeniedError,
    VssError,
    VssFileNotFoundError,
    VssInsufficientStorageError,
    VssInvalidArgumentError,
    VssStoreCorruptError,
)

__all__ = [
    "as_buffer",
    "atomic_write",
    "data_extents",
    "fdatasync",
    "fsync_dir",
    "os_error",
    "pread_exact",
    "pwrite_all",
    "read_json",
]

_ZERO_CHUNK = 1 << 20

#: ``os.fdatasync`` where the OS has it (Linux); ``os.fsync`` elsewhere (macOS has none).
fdatasync = getattr(os, "fdatasync", os.fsync)


# ``json.dumps(value, sort_keys=True, separators=(",", ":"))`` without the encoder that call
# builds each time (an encoder keeps only its settings: shared by every thread): the compact
# form of the diff-area journal's records and the volume sidecar.
COMPACT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def as_buffer(data: object) -> memoryview:
    """``data`` as a flat byte ``memoryview`` without copying.

    Accepts ``bytes``, ``bytearray``, ``memoryview`` and C-contiguous ``uint8`` numpy arrays
    (the shapes the issue promises); anything else is a ``TypeError`` so that, say, a float
    array is never written as its raw bytes by accident.
    """
    if isinstance(data, bytes | bytearray):
        return memoryview(data)
    if isinstance(data, memoryview):
        if data.c_contiguous:
            return data.cast("B") if (data.format != "B" or data.ndim != 1) else data
        raise TypeError("memoryview data must be C-contiguous")
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise TypeError(f"numpy data must have dtype uint8, not {data.dtype}")
        if not data.flags.c_contiguous:
            raise TypeError("numpy data must be C-contiguous (use numpy.ascontiguousarray)")
        return data.data.cast("B")
    raise TypeError(
        "data must be bytes, bytearray, memoryview or a contiguous uint8 numpy array, "
        f"not {type(data).__name__}"
    )


def pread_exact(fd: int, length: int, offset: int, what: str) -> bytes:
    """``length`` bytes at ``offset``; a short read means the file was truncated under us."""
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise VssStoreCorruptError(
            f"{what}: expected {length} bytes at offset {offset}, the file holds only "
            f"{len(data)} there (truncated?)"
        )
    return data


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (loops over short writes, which are rare)."""
    done = os.pwrite(fd, data, offset)
    if done == len(data):
        return
    view = memoryview(data).cast("B")
    while done < len(view):
        n = os.pwrite(fd, view[done:], offset + done)
        if n <= 0:
            raise VssInsufficientStorageError(f"short write at offset {offset + done}")
        done += n


def fsync_dir(path: str) -> None:
    """Make a rename or a new file in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: str) -> None:
    """``Path(path).mkdir(parents=True, exist_ok=True)`` on a string path, with one ``mkdir``
    per missing directory and no ``stat`` when the directory is new, the usual case (the
    machine's root, a provider's state directory, each directory of a backup); ``pathlib``
    builds a path object per call and per parent."""
    try:
        os.mkdir(path)
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if not parent or parent == path:
            raise
        make_dirs(parent)
        try:
            os.mkdir(path)
        except OSError:
            if not os.path.isdir(path):
                raise
    except OSError:
        if not os.path.isdir(path):
            raise


# Create or truncate, for writing bytes as they are (O_BINARY: no newline translation on
# Windows, where os.open opens in text mode without it).
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


def write_bytes(path: str, data: bytes) -> None:
    """``open(path, "wb").write(data)``, without the io objects (about half the time of
    ``open()`` on a tmpfs): a backup writes every file it copies."""
    fd = os.open(path, _NEW_FILE, 0o666)
    try:
        pwrite_all(fd, data, 0)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, *, durable: bool) -> None:
    """Replace ``path`` by ``data`` atomically (temporary file + ``rename``).

    A process killed at any instant leaves either the old or the new file; with ``durable``
    the data and the rename are also flushed, so a power loss does too.
    """
    tmp = f"{path}.tmp"
    fd = os.open(tmp, _NEW_FILE, 0o644)
    try:
        pwrite_all(fd, data, 0)
        if durable:
            fdatasync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(os.path.dirname(os.path.abspath(path)))


def read_json(path: str, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; a missing file or bad JSON raises a ``VssError``."""
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20)
    except FileNotFoundError:
        raise VssFileNotFoundError(f"{what} {path!r} does not exist") from None
    except OSError as exc:
        raise os_error(exc, f"cannot read {what} {path!r}") from None
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VssStoreCorruptError(f"{what} {path!r} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise VssStoreCorruptError(f"{what} {path!r} does not hold a JSON object")
    return value


def os_error(exc: OSError, message: str) -> VssError:
    """The ``VssError`` that best reports an ``OSError`` (with its text appended)."""
    text = f"{message}: {exc.strerror or exc}"
    if isinstance(exc, PermissionError):
        return VssAccessDeniedError(text)
    if isinstance(exc, FileNotFoundError):
        return VssFileNotFoundError(text)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return VssInsufficientStorageError(text)
    return VssInvalidArgumentError(text)


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """The ``(start, end)`` byte ranges of ``fd`` that hold data (holes skipped).

    Uses ``SEEK_DATA``/``SEEK_HOLE``; where the file system lacks them the whole file is one
    extent (correct, just not sparse).
    """
    if not hasattr(os, "SEEK_DATA"):
        yield (0, size)
        return
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after pos
                return
            yield (pos, size)
            return
        if start >= size:
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield (start, end)
        pos = end


def zero_fill(fd: int, start: int, end: int) -> None:
    """Write zeros over ``[start, end)`` so that the pages exist (a reservation, not a hole)."""
    zeros = bytes(min(_ZERO_CHUNK, max(end - start, 0)))
    pos = start
    while pos < end:
        n = min(len(zeros), end - pos)
        pwrite_all(fd, zeros if n == len(zeros) else zeros[:n], pos)
        pos += n


def runs(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """Start indexes of the runs of consecutive integers in ``values`` (plus ``len``)."""
    if values.size == 0:
        return np.zeros(1, np.int64)
    cut = np.flatnonzero(np.diff(values) != 1) + 1
    return np.concatenate(([0], cut, [values.size])).astype(np.int64)


@contextlib.contextmanager
def open_fd(path: str, flags: int, mode: int = 0o644) -> Iterator[int]:
    """``os.open`` as a context manager (closes on exit)."""
    fd = os.open(path, flags, mode)
    try:
        yield fd
    finally:
        os.close(fd)
