"""A writer that uses partial files, differenced files and directed targets (reference §8.6,
§8.7), and a machine to run it on."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from tests._writers import ReadyWriter
from vsssim.components import WriterComponents
from vsssim.constants import BackupSchema, ComponentType, RestoreMethod, RestoreTarget
from vsssim.documents import WriterMetadataBuilder
from vsssim.system import VssSystem

FG = ComponentType.FILEGROUP
Directed = tuple[str, str, str, str, str, str]


class PartialWriter(ReadyWriter):
    """One selectable component ``Db`` holding ``C:\\Db\\*`` (recursive; ``spec`` changes the
    file spec and recursion).

    ``partial`` lists the ``AddPartialFile`` calls (path, file name, ranges) made in
    ``when`` (PrepareForBackup or PostSnapshot); ``differenced`` the
    ``AddDifferencedFilesByLastModifyTime`` calls (path, spec, recursive, FILETIME), made in
    PostSnapshot; ``directed`` the ``AddDirectedTarget`` calls made in PreRestore (with the
    restore target DIRECTED).
    """

    writer_id = UUID("0a0a0a0a-1111-2222-3333-444444444444")
    writer_name = "Partial Writer"

    def __init__(self, *, partial: list[tuple[str, str, str]] | None = None,
                 when: str = "PrepareForBackup",
                 differenced: list[tuple[str, str, bool, int]] | None = None,
                 directed: list[Directed] | None = None, alternate: str | None = None,
                 method: RestoreMethod = RestoreMethod.RESTORE_IF_CAN_REPLACE,
                 spec: tuple[str, bool] = ("*", True)) -> None:
        self.spec = spec
        self.partial = partial or []
        self.when = when
        self.differenced = differenced or []
        self.directed = directed
        self.alternate = alternate
        self.method = method
        self.ranges_file_paths: list[str] = []
        self.failures: list[str] = []

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        md.add_component(FG, "", "Db", selectable=True)
        md.add_files_to_file_group("", "Db", "C:\\Db", *self.spec)
        md.set_restore_method(self.method)
        if self.alternate:
            md.add_alternate_location_mapping("C:\\Db", "*", True, self.alternate)
        md.set_backup_schema(BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL
                             | BackupSchema.LAST_MODIFY)
        return True

    def _add(self, components: WriterComponents) -> None:
        for c in components:
            for path, name, ranges in self.partial:
                c.add_partial_file(path, name, ranges)

    def on_prepare_backup(self, components: WriterComponents) -> bool:
        if self.when == "PrepareForBackup":
            try:
                self._add(components)
            except Exception as exc:
                self.failures.append(str(exc))
                raise
        return True

    def on_post_snapshot(self, components: WriterComponents) -> bool:
        if self.when == "PostSnapshot":
            self._add(components)
        for c in components:
            for path, spec, recursive, time in self.differenced:
                c.add_differenced_files_by_last_modify_time(path, spec, recursive, time)
        return True

    def on_pre_restore(self, components: WriterComponents) -> bool:
        if self.directed is not None:
            for c in components:
                c.set_restore_target(RestoreTarget.DIRECTED)
                for d in self.directed:
                    c.add_directed_target(*d)
        return True

    def on_post_restore(self, components: WriterComponents) -> bool:
        for c in components:
            self.ranges_file_paths = [p.ranges_file_restore_path for p in c.get_partial_files()]
        return True


def machine(tmp: Path, writer: PartialWriter, files: dict[str, bytes]) -> VssSystem:
    """A machine with C: and D:, ``files`` written on C:, and ``writer`` subscribed."""
    system = VssSystem(tmp / "m", seed=3)
    c = system.add_volume("C:\\", size=16 * 2**20)
    system.add_volume("D:\\", size=8 * 2**20)
    for path, data in files.items():
        c.fs.write_file(path, data, create_dirs=True)
    system.add_writer(writer)
    return system
