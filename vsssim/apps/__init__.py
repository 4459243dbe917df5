"""Sample applications with their writers: a WAL key-value store and a file share."""

from vsssim.apps.base import Application
from vsssim.apps.fileshare import FileShareApp, FileShareWriter
from vsssim.apps.kvstore import KvStore, KvStoreApp, KvStoreWriter, Recovery

__all__ = [
    "Application",
    "FileShareApp",
    "FileShareWriter",
    "KvStore",
    "KvStoreApp",
    "KvStoreWriter",
    "Recovery",
]
