"""Writers shared by tests."""

from __future__ import annotations

from vsssim import ComponentType, RestoreMethod, WriterMetadataBuilder
from vsssim.writer import Writer


class ReadyWriter(Writer):
    """A writer with nothing to flush or freeze: the four required handlers (CVssWriter's pure
    virtual ones) say yes.  Tests subclass it and write only the handlers they are about."""

    def on_prepare_snapshot(self) -> bool:
        return True

    def on_freeze(self) -> bool:
        return True

    def on_thaw(self) -> bool:
        return True

    def on_abort(self) -> bool:
        return True


class FileGroupWriter(ReadyWriter):
    """A ReadyWriter with one selectable file group, ``component``, holding every file below
    ``files_root`` (recursive), restored if it can replace them.  Tests set the two names."""

    component = "data"
    files_root = "C:\\data"

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        metadata.add_component(ComponentType.FILEGROUP, "", self.component, selectable=True)
        metadata.add_files_to_file_group("", self.component, self.files_root, "*", True)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True
