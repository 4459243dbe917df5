"""Providers: the interface, a base class for your own, the system provider."""

from vsssim.providers.base import (
    GUID_NULL,
    Provider,
    ProviderHost,
    SnapshotProvider,
    SnapshotRecord,
    VolumeInfo,
)
from vsssim.providers.system import SYSTEM_PROVIDER_ID, DiffAreaAssociation, SystemProvider

__all__ = [
    "GUID_NULL",
    "SYSTEM_PROVIDER_ID",
    "DiffAreaAssociation",
    "Provider",
    "ProviderHost",
    "SnapshotProvider",
    "SnapshotRecord",
    "SystemProvider",
    "VolumeInfo",
]
