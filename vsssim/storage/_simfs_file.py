"""simfs file objects: the binary file handle that ``SimFS.open`` returns.

A handle remembers its file by inode number and generation, never by path: a rename does not
disturb it, and a handle whose file vanished underneath it (the volume was reverted and the file
system refreshed) raises ``VssFileNotFoundError`` instead of touching a reused inode.  Every call
is one file-system operation, so a snapshot never splits a ``write``.
"""

from __future__ import annotations

import io
from typing import Protocol

from typing_extensions import Buffer

__all__ = ["FileBackend", "SimFile", "parse_mode"]

_MODES = {
    # mode: (readable, writable, create, truncate, exclusive, append, must exist)
    "rb": (True, False, False, False, False, False, True),
    "r+b": (True, True, False, False, False, False, True),
    "wb": (False, True, True, True, False, False, False),
    "w+b": (True, True, True, True, False, False, False),
    "xb": (False, True, True, False, True, False, False),
    "x+b": (True, True, True, False, True, False, False),
    "ab": (False, True, True, False, False, True, False),
    "a+b": (True, True, True, False, False, True, False),
}
_ALIASES = {
    "br": "rb",
    "rb+": "r+b",
    "br+": "r+b",
    "bw": "wb",
    "wb+": "w+b",
    "bx": "xb",
    "xb+": "x+b",
    "ba": "ab",
    "ab+": "a+b",
    "b": "rb",
}


def parse_mode(mode: str) -> tuple[bool, bool, bool, bool, bool, bool, bool]:
    """The flags of a binary ``open`` mode; ``ValueError`` for text or unknown modes."""
    if not isinstance(mode, str):
        raise TypeError(f"mode must be str, not {type(mode).__name__}")
    key = _ALIASES.get(mode, mode)
    if key not in _MODES:
        raise ValueError(
            f"invalid mode {mode!r}: simfs files are binary; use one of {', '.join(_MODES)}"
        )
    return _MODES[key]


class FileBackend(Protocol):
    """What a handle needs from the file system (implemented by ``SimFS``)."""

    def _handle_read(self, ino: int, generation: int, offset: int, size: int) -> bytes: ...

    def _handle_write(self, ino: int, generation: int, offset: int | None, data: Buffer) -> int:
        """Write at ``offset`` (``None``: at the end); returns the offset written at."""
        ...

    def _handle_truncate(self, ino: int, generation: int, size: int) -> None: ...

    def _handle_size(self, ino: int, generation: int) -> int: ...

    def _handle_close(self, ino: int) -> None: ...


class SimFile(io.RawIOBase):
    """A binary file on a simfs volume, like the object ``open(path, "rb")`` returns.

    Models a Win32 file handle opened with ``CreateFile`` and used with ``ReadFile`` /
    ``WriteFile`` / ``SetFilePointerEx`` / ``SetEndOfFile``.  Semantics follow Python's
    ``FileIO``: writes past the end fill the gap with zeros, ``truncate`` may extend (with
    zeros) and does not move the position, append mode writes every chunk at the current end.
    Fidelity note: an open handle does not lock the file against other handles (Python opens
    files with read/write sharing), but it does prevent ``remove`` and ``rename`` of the file,
    as a handle without ``FILE_SHARE_DELETE`` does on Windows.
    """

    def __init__(
        self,
        backend: FileBackend,
        ino: int,
        generation: int,
        name: str,
        mode: str,
        *,
        readable: bool,
        writable: bool,
        append: bool,
    ) -> None:
        super().__init__()
        self._backend = backend
        self._ino = ino
        self._gen = generation
        self._readable = readable
        self._writable = writable
        self._append = append
        self._pos = 0
        self.name = name
        self.mode = mode
        self._released = False
        if append:
            self._pos = backend._handle_size(ino, generation)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"pos={self._pos}"
        return f"<SimFile name={self.name!r} mode={self.mode!r} {state}>"

    # ----------------------------------------------------------------------- io protocol
    def readable(self) -> bool:
        """True if the handle was opened for reading."""
        self._check_open()
        return self._readable

    def writable(self) -> bool:
        """True if the handle was opened for writing."""
        self._check_open()
        return self._writable

    def seekable(self) -> bool:
        """Always True."""
        self._check_open()
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` bytes from the position (all the rest if ``size`` is negative)."""
        self._check_readable()
        if size is None:
            size = -1
        if not isinstance(size, int):
            raise TypeError(f"size must be int, not {type(size).__name__}")
        data = self._backend._handle_read(self._ino, self._gen, self._pos, size)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        """Everything from the position to the end of the file."""
        return self.read(-1)

    def readinto(self, buffer: Buffer, /) -> int:
        """Read into ``buffer``; returns the number of bytes read (0 at end of file)."""
        self._check_readable()
        view = memoryview(buffer).cast("B")
        data = self._backend._handle_read(self._ino, self._gen, self._pos, len(view))
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def write(self, data: Buffer, /) -> int:
        """Write ``data`` at the position (at the end in append mode); returns its length."""
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        view = memoryview(data).cast("B")
        at = self._backend._handle_write(
            self._ino, self._gen, None if self._append else self._pos, view
        )
        self._pos = at + len(view)
        return len(view)

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Move the position (``SEEK_SET``, ``SEEK_CUR`` or ``SEEK_END``); returns it."""
        self._check_open()
        if not isinstance(offset, int):
            raise TypeError(f"offset must be int, not {type(offset).__name__}")
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._backend._handle_size(self._ino, self._gen) + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return target

    def tell(self) -> int:
        """The current position."""
        self._check_open()
        return self._pos

    def truncate(self, size: int | None = None, /) -> int:
        """Set the file's size to ``size`` (default: the position); the position is kept."""
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        target = self._pos if size is None else size
        if not isinstance(target, int):
            raise TypeError(f"size must be int, not {type(target).__name__}")
        if target < 0:
            raise ValueError(f"negative size {target}")
        self._backend._handle_truncate(self._ino, self._gen, target)
        return target

    def flush(self) -> None:
        """Nothing to do: every write already reached the volume (write-through)."""
        self._check_open()

    def close(self) -> None:
        """Close the handle (idempotent); the file may then be removed or renamed."""
        if not self._released:
            self._released = True
            self._backend._handle_close(self._ino)
        super().close()

    def fileno(self) -> int:
        """Not supported: simfs files have no operating-system descriptor."""
        raise io.UnsupportedOperation("simfs files have no file descriptor")

    def isatty(self) -> bool:
        """Always False."""
        self._check_open()
        return False

    # -------------------------------------------------------------------------- helpers
    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def _check_readable(self) -> None:
        self._check_open()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")
