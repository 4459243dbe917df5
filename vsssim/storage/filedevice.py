"""A block device over a raw image file: how a LUN is read once it reaches a machine.

A hardware provider's shadow copy is a whole LUN on the array (a clone of the original LUN's
image file).  Once VSS has surfaced it (auto-import of a non-transportable copy, or
``ImportSnapshots`` of a transportable one) the machine sees a disk, read-only and hidden; after
``BreakSnapshotSet`` the same LUN is an ordinary volume, read-only unless
``VSS_BREAKEX_FLAG_MAKE_READ_WRITE`` was asked for.  :class:`FileDevice` is that disk: positional
I/O on the image file, no copy-on-write, no sidecar.

Fidelity notes: Windows enforces a shadow LUN's read-only state with disk attributes that VSS
sets and clears (providers reference §2.6); here the flag lives on the device object only, so
two :class:`FileDevice` objects on the same image may disagree (the array maps the LUN
read/write either way, as the reference requires).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from vsssim.errors import VssAccessDeniedError
from vsssim.storage._fileio import as_buffer, fdatasync, os_error, pread_exact, pwrite_all
from vsssim.storage.blockdev import Buffer, check_range

if TYPE_CHECKING:
    from vsssim.clock import Clock
    from vsssim.storage.simfs import SimFS

__all__ = ["FileDevice"]


class FileDevice:
    """A ``BlockDevice`` over an existing raw image file (a LUN as a disk of the machine).

    ``readonly`` devices refuse :meth:`write` with ``VssAccessDeniedError`` (``E_ACCESSDENIED``,
    what writing to a shadow copy's hidden read-only volume gives); the flag can be changed
    later (auto-recovery opens a writable window; a break may make the LUN read-write).
    Thread-safe: every access runs under one reentrant lock, which :meth:`operation` also
    takes, so a multi-write file-system operation is never interleaved with another thread's
    writes.  :attr:`fs` mounts the simfs inside the image, following :attr:`readonly`.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False,
                 block_size: int = 16 * 1024, clock: Clock | None = None) -> None:
        if not isinstance(readonly, bool):
            raise TypeError(f"readonly must be bool, not {type(readonly).__name__}")
        if (not isinstance(block_size, int) or isinstance(block_size, bool)
                or block_size < 512 or block_size & (block_size - 1)):
            raise ValueError(f"block_size must be a power of two >= 512, not {block_size!r}")
        self._path = os.fspath(path)
        self._block_size = block_size
        self._readonly = readonly
        self._clock = clock
        # One reentrant lock guards the descriptor's life (a read racing close() could
        # otherwise read from a recycled descriptor number) and the operation bracket.
        self._lock = threading.RLock()
        self._fd = self._open(writable=not readonly)
        self._fd_writable = not readonly
        try:
            self._size = os.fstat(self._fd).st_size
        except OSError as exc:  # pragma: no cover - fstat on an open descriptor
            os.close(self._fd)
            raise os_error(exc, f"cannot stat {self._path!r}") from None
        if self._size <= 0:
            os.close(self._fd)
            raise ValueError(f"image {self._path!r} is empty: a device needs a positive size")
        self._roots: list[str] = []
        self._fs: SimFS | None = None

    def _open(self, *, writable: bool) -> int:
        try:
            return os.open(self._path, os.O_RDWR if writable else os.O_RDONLY)
        except OSError as exc:
            raise os_error(exc, f"cannot open image {self._path!r}") from None

    def __repr__(self) -> str:
        state = "closed" if self._fd < 0 else ("read-only" if self._readonly else "writable")
        return f"<FileDevice {self._path!r} {self._size} bytes {state}>"

    # ----------------------------------------------------------------------- properties
    @property
    def path(self) -> str:
        """The image file."""
        return self._path

    @property
    def size(self) -> int:
        """Size in bytes (the image's size when the device was opened)."""
        return self._size

    @property
    def block_size(self) -> int:
        """Allocation granularity in bytes (16 KiB unless told otherwise)."""
        return self._block_size

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._fd < 0

    @property
    def readonly(self) -> bool:
        """True if :meth:`write` raises ``VssAccessDeniedError``."""
        return self._readonly

    @readonly.setter
    def readonly(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"readonly must be bool, not {type(value).__name__}")
        with self._lock:
            self._check_open()
            if not value and not self._fd_writable:
                # Opened read-only: reopen for writing (fails cleanly if the file is not
                # writable on the host, leaving the device as it was).
                fd = self._open(writable=True)
                os.close(self._fd)
                self._fd, self._fd_writable = fd, True
            self._readonly = value

    @property
    def roots(self) -> list[str]:
        """Root prefixes of :attr:`fs` (a shadow copy's device object name, a drive)."""
        return list(self._roots)

    @roots.setter
    def roots(self, value: list[str] | tuple[str, ...]) -> None:
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise TypeError("roots must be a list of str")
        with self._lock:
            if list(value) != self._roots:
                self._roots = list(value)
                self._fs = None  # the next use of fs mounts with the new roots

    @property
    def fs(self) -> SimFS:
        """The simfs inside the image, mounted on first use (read-only while the device is).

        Raises ``VssObjectNotFoundError`` if the image holds no simfs.
        """
        from vsssim.storage.simfs import SimFS

        with self._lock:
            self._check_open()
            if self._fs is None:
                self._fs = SimFS.mount(self, roots=self._roots, clock=self._clock)
            return self._fs

    # -------------------------------------------------------------------------- I/O
    def _check_open(self) -> None:
        if self._fd < 0:
            raise ValueError(f"device {self._path!r} is closed")

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (``ReadFile`` on the disk)."""
        check_range(offset, length, self._size)
        with self._lock:
            self._check_open()
            if length == 0:
                return b""
            return pread_exact(self._fd, length, offset, f"image {self._path!r}")

    def write(self, offset: int, data: Buffer) -> None:
        """Write ``data`` at ``offset``; ``VssAccessDeniedError`` on a read-only device."""
        view = as_buffer(data)
        check_range(offset, view.nbytes, self._size)
        with self._lock:
            self._check_open()
            if self._readonly:
                raise VssAccessDeniedError(
                    f"{self._path!r} is read-only (a shadow copy LUN stays read-only until it "
                    "is broken with VSS_BREAKEX_FLAG_MAKE_READ_WRITE)")
            if view.nbytes:
                try:
                    pwrite_all(self._fd, view, offset)
                except OSError as exc:
                    raise os_error(exc, f"cannot write image {self._path!r}") from None

    @contextmanager
    def operation(self) -> Iterator[None]:
        """A multi-write operation that no other thread's access interleaves (reentrant)."""
        with self._lock:
            yield

    def flush(self) -> None:
        """``FlushFileBuffers``: make the writes so far durable."""
        with self._lock:
            self._check_open()
            fdatasync(self._fd)

    def close(self) -> None:
        """Close the image (idempotent); later reads and writes raise ``ValueError``."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                self._fs = None

    def __enter__(self) -> FileDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
