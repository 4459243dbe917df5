"""Providers: the interface, a base class for your own, the system provider, a hardware-style
provider on a simulated storage array."""

from vsssim.providers.base import (
    GUID_NULL,
    Provider,
    ProviderHost,
    SnapshotProvider,
    SnapshotRecord,
    VolumeInfo,
)
from vsssim.providers.hardware import HARDWARE_PROVIDER_ID, HardwareProvider
from vsssim.providers.system import SYSTEM_PROVIDER_ID, DiffAreaAssociation, SystemProvider

__all__ = [
    "GUID_NULL",
    "HARDWARE_PROVIDER_ID",
    "SYSTEM_PROVIDER_ID",
    "DiffAreaAssociation",
    "HardwareProvider",
    "Provider",
    "ProviderHost",
    "SnapshotProvider",
    "SnapshotRecord",
    "SystemProvider",
    "VolumeInfo",
]
