"""Storage: volumes as image files, the copy-on-write diff area, snapshot devices, simfs."""

from vsssim.storage.blockdev import BlockDevice, MemoryDevice

__all__ = ["BlockDevice", "MemoryDevice"]
