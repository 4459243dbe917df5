"""Storage: volumes as image files, the copy-on-write diff area, snapshot devices, simfs, and a
simulated storage array for hardware shadow copies.

=======================  ===================================================================
:class:`Volume`          a volume image file with a write hook for copy-on-write
:class:`ShadowStorage`   the diff area of a volume (numpy block maps, journaled index)
:class:`SnapshotDevice`  a read-only device showing a volume at a snapshot's instant
:class:`SimFS`           the small NTFS-like file system inside images (``format``)
:class:`SimulatedSan`    LUN images and their identities, for the hardware provider
:class:`FileDevice`      a raw image file as a device (a LUN presented to a machine)
=======================  ===================================================================
"""

from typing import TYPE_CHECKING, Any

# Imported on first use (PEP 562): the engine pulls in numpy, and modules that need only
# ``vsssim.storage.blockdev`` should not pay for it.
_LAZY = {
    "BlockDevice": "vsssim.storage.blockdev",
    "MemoryDevice": "vsssim.storage.blockdev",
    "FileDevice": "vsssim.storage.filedevice",
    "SimulatedSan": "vsssim.storage.san",
    "ShadowStorage": "vsssim.storage.shadowstorage",
    "SimFS": "vsssim.storage.simfs",
    "filespec_matches": "vsssim.storage.simfs",
    "format": "vsssim.storage.simfs",
    "SnapshotDevice": "vsssim.storage.snapshot",
    "Volume": "vsssim.storage.volume",
}

if TYPE_CHECKING:
    from vsssim.storage.blockdev import BlockDevice, MemoryDevice
    from vsssim.storage.filedevice import FileDevice
    from vsssim.storage.san import SimulatedSan
    from vsssim.storage.shadowstorage import ShadowStorage
    from vsssim.storage.simfs import SimFS, filespec_matches, format
    from vsssim.storage.snapshot import SnapshotDevice
    from vsssim.storage.volume import Volume


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vsssim.storage' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BlockDevice",
    "FileDevice",
    "MemoryDevice",
    "ShadowStorage",
    "SimFS",
    "SimulatedSan",
    "SnapshotDevice",
    "Volume",
    "filespec_matches",
    "format",
]
