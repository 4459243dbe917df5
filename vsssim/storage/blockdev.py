"""The block-device protocol: what the file layer (simfs) and the copy-on-write engine agree on.

A :class:`BlockDevice` is anything with a fixed size that can be read (and, unless read-only,
written) at any offset: a live :class:`~vsssim.storage.volume.Volume`, a copy-on-write
:class:`~vsssim.storage.snapshot.SnapshotDevice`, a hardware provider's LUN copy, or the in-memory
:class:`MemoryDevice` used by tests.

:meth:`BlockDevice.operation` is the seam that makes snapshots consistent: a file-system operation
that needs several writes runs inside ``with device.operation():`` and a snapshot is only ever
taken between two such operations (the volume's flush-and-hold waits for the running one to end).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, runtime_checkable

from vsssim.errors import VssAccessDeniedError

__all__ = ["BlockDevice", "Buffer", "MemoryDevice", "check_range", "is_block_device"]

Buffer = bytes | bytearray | memoryview


@runtime_checkable
class BlockDevice(Protocol):
    """A fixed-size device that reads and writes bytes at any offset."""

    @property
    def size(self) -> int:
        """Size in bytes (fixed)."""
        ...

    @property
    def block_size(self) -> int:
        """Allocation/copy-on-write granularity in bytes (a power of two)."""
        ...

    @property
    def readonly(self) -> bool:
        """True if :meth:`write` raises ``VssAccessDeniedError``."""
        ...

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (the range must lie inside the device)."""
        ...

    def write(self, offset: int, data: Buffer) -> None:
        """Write ``data`` at ``offset`` (the range must lie inside the device)."""
        ...

    def operation(self) -> AbstractContextManager[None]:
        """Context manager: the writes inside it form one operation that no snapshot splits."""
        ...


_BLOCK_DEVICE_TYPES: dict[type, bool] = {}


def is_block_device(obj: object) -> bool:
    """``isinstance(obj, BlockDevice)``, decided once per type: a runtime protocol check
    looks up every member and costs about 10 us, and file systems check their device on every
    mount."""
    kind = type(obj)
    known = _BLOCK_DEVICE_TYPES.get(kind)
    if known is None:
        known = _BLOCK_DEVICE_TYPES[kind] = isinstance(obj, BlockDevice)
    return known


def check_range(offset: int, length: int, size: int) -> None:
    """Raise ``ValueError`` unless ``[offset, offset + length)`` lies inside ``[0, size)``."""
    if not isinstance(offset, int) or not isinstance(length, int):
        raise TypeError(
            f"offset and length must be int, not {type(offset).__name__}/{type(length).__name__}"
        )
    if offset < 0 or length < 0 or offset + length > size:
        raise ValueError(
            f"range [{offset}, {offset + length}) is outside the device (size {size} bytes)"
        )


class MemoryDevice:
    """A block device held in a ``bytearray``: for tests and for throw-away file systems."""

    def __init__(self, size: int, *, block_size: int = 16 * 1024, readonly: bool = False) -> None:
        if size <= 0 or block_size <= 0 or block_size & (block_size - 1):
            raise ValueError("size must be positive and block_size a power of two")
        self._data = bytearray(size)
        self._block_size = block_size
        self._readonly = readonly
        self._lock = threading.RLock()

    @property
    def size(self) -> int:
        return len(self._data)

    @property
    def block_size(self) -> int:
        return self._block_size

    @property
    def readonly(self) -> bool:
        return self._readonly

    def read(self, offset: int, length: int) -> bytes:
        check_range(offset, length, len(self._data))
        with self._lock:
            return bytes(self._data[offset : offset + length])

    def write(self, offset: int, data: Buffer) -> None:
        if self._readonly:
            raise VssAccessDeniedError("the device is read-only")
        view = memoryview(data).cast("B")
        check_range(offset, len(view), len(self._data))
        with self._lock:
            self._data[offset : offset + len(view)] = view

    @contextmanager
    def operation(self) -> Iterator[None]:
        with self._lock:
            yield

    @classmethod
    def from_bytes(cls, data: Buffer, *, block_size: int = 16 * 1024,
                   readonly: bool = True) -> MemoryDevice:
        """A device holding a copy of ``data`` (read-only by default)."""
        view = memoryview(data).cast("B")
        device = cls(len(view), block_size=block_size)
        device._data[:] = view
        device._readonly = readonly
        return device

    def snapshot_bytes(self) -> bytes:
        """A copy of the whole device (a trivially exact "snapshot", for tests)."""
        with self._lock:
            return bytes(self._data)
