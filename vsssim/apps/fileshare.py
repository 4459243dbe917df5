"""A file share: users save documents, and a writer that backs the share up as a file group.

``FileShareApp`` writes whole documents (one file-system operation each) under
``C:\\Share\\<user>\\`` and scratch files ``*.tmp`` it deletes again.  ``FileShareWriter`` is a
back-end writer with one FILEGROUP component covering the share recursively, the scratch files
excluded (exclusions beat inclusions, rule 27).  It shows what a simple, non-transactional
writer looks like, and freeze ordering: the front-end KvStore writer freezes first.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING
from uuid import UUID

from vsssim.apps.base import Application
from vsssim.constants import (
    ApplicationLevel,
    ComponentType,
    RestoreMethod,
    SourceType,
    UsageType,
    WriterRestore,
)
from vsssim.writer import Writer

if TYPE_CHECKING:
    from vsssim.documents import WriterMetadataBuilder
    from vsssim.storage.simfs import SimFS

__all__ = ["FileShareApp", "FileShareWriter"]


class FileShareApp(Application):
    """Users saving documents on a share."""

    def __init__(self, fs: SimFS, root: str = "C:\\Share", *, users: tuple[str, ...] = (
            "alice", "bob", "carol"), name: str = "FileShare") -> None:
        super().__init__()
        self.fs = fs
        self.root = root.rstrip("\\")
        self.users = users
        self.name = name
        self.service = "LanmanServer"
        self.running = True
        self.saved = 0
        for user in users:
            fs.makedirs(f"{self.root}\\{user}", exist_ok=True)

    def step(self, rng: random.Random) -> None:
        if not self.running:
            return
        user = rng.choice(self.users)
        if rng.random() < 0.2:
            scratch = f"{self.root}\\{user}\\~edit.tmp"
            if self.fs.exists(scratch):
                self.fs.remove(scratch)
            else:
                self.fs.write_file(scratch, rng.randbytes(64))
            return
        doc = f"{self.root}\\{user}\\doc{rng.randrange(6)}.txt"
        self.saved += 1
        self.fs.write_file(doc, f"{user} revision {self.saved}\n".encode() * rng.randint(1, 40))

    def uses(self, device: object) -> bool:
        return self.fs.device is device

    def files(self) -> dict[str, bytes]:
        """Every document now on the share (scratch files excluded), by path."""
        out = {}
        for path in self.fs.glob(self.root, "*.txt", recursive=True):
            out[path] = self.fs.read_file(path)
        return out



class FileShareWriter(Writer):
    """A back-end writer for the share: one file group, ``*.tmp`` excluded."""

    writer_id = UUID("7d3a8e44-2b1f-4c6a-8f0e-5a9b3c2d1e77")
    writer_name = "File Share Writer"
    usage_type = UsageType.USERDATA
    source_type = SourceType.OTHER
    level = ApplicationLevel.BACK_END

    def __init__(self, app: FileShareApp, *,
                 restore_method: RestoreMethod = RestoreMethod.RESTORE_IF_CAN_REPLACE,
                 alternate_location: str | None = None) -> None:
        self.app = app
        self.restore_method = restore_method
        self.alternate_location = alternate_location
        self.files_at_freeze: dict[str, bytes] | None = None

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        metadata.add_component(ComponentType.FILEGROUP, "", "Share", caption="User documents",
                               selectable=True)
        metadata.add_files_to_file_group("", "Share", self.app.root, "*", True)
        metadata.add_exclude_files(self.app.root, "*.tmp", True)
        metadata.set_restore_method(self.restore_method, None, None, WriterRestore.ALWAYS, False)
        if self.alternate_location:
            metadata.add_alternate_location_mapping(self.app.root, "*", True,
                                                    self.alternate_location)
        return True

    def on_prepare_snapshot(self) -> bool:
        return True

    def on_freeze(self) -> bool:
        with self.app.lock:
            self.app.suspend()
            self.files_at_freeze = self.app.files()
        return True

    def on_thaw(self) -> bool:
        self.app.resume()
        return True

    def on_abort(self) -> bool:
        self.app.resume()
        return True
