"""Fixtures and a recording writer for the coordinator tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from vsssim.components import WriterComponents
from vsssim.constants import ApplicationLevel, ComponentType, RestoreMethod
from vsssim.documents import WriterMetadataBuilder
from vsssim.system import VssSystem
from vsssim.writer import Writer


class RecordingWriter(Writer):
    """A writer that records every event and can be told how to answer.

    ``answers`` maps an event name ("Freeze") to True/False/None or a callable(writer) run as the
    handler body.  Files: one FILEGROUP component per entry of ``components`` (name -> path).
    """

    def __init__(self, name: str, *, level: ApplicationLevel = ApplicationLevel.FRONT_END,
                 components: dict[str, str] | None = None, freeze_timeout: float = 60.0,
                 answers: dict[str, Any] | None = None, selectable: bool = True) -> None:
        self.writer_id = uuid5(NAMESPACE_URL, f"vsssim-test:{name}")
        self.writer_name = name
        self.level = level
        self.freeze_timeout = freeze_timeout
        self.components = components if components is not None else {"data": "C:\\" + name}
        self.answers = answers or {}
        self.selectable = selectable
        self.events: list[str] = []
        self.seen: dict[str, Any] = {}

    def _answer(self, event: str, *args: Any) -> Any:
        self.events.append(event)
        answer = self.answers.get(event, True)
        if callable(answer):
            return answer(self, *args)
        return answer

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        self.events.append("Identify")
        answer = self.answers.get("Identify", True)
        for comp, path in self.components.items():
            metadata.add_component(ComponentType.FILEGROUP, "", comp, selectable=self.selectable)
            metadata.add_files_to_file_group("", comp, path, "*", True)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return answer(self, metadata) if callable(answer) else answer  # type: ignore[no-any-return]

    def on_prepare_backup(self, components: WriterComponents) -> bool:
        return self._answer("PrepareForBackup", components)  # type: ignore[no-any-return]

    def on_prepare_snapshot(self) -> bool:
        return self._answer("PrepareForSnapshot")  # type: ignore[no-any-return]

    def on_freeze(self) -> bool:
        return self._answer("Freeze")  # type: ignore[no-any-return]

    def on_thaw(self) -> bool:
        return self._answer("Thaw")  # type: ignore[no-any-return]

    def on_post_snapshot(self, components: WriterComponents) -> bool:
        return self._answer("PostSnapshot", components)  # type: ignore[no-any-return]

    def on_abort(self) -> bool:
        return self._answer("Abort")  # type: ignore[no-any-return]

    def on_backup_complete(self, components: WriterComponents) -> bool:
        return self._answer("BackupComplete", components)  # type: ignore[no-any-return]

    def on_backup_shutdown(self, snapshot_set_id: UUID) -> bool:
        self.seen["shutdown_set"] = snapshot_set_id
        return self._answer("BackupShutdown")  # type: ignore[no-any-return]


@pytest.fixture
def system(tmp_path: Any) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "machine", seed=1) as s:
        s.add_volume("C:\\", size=8 * 2**20)
        yield s


@pytest.fixture
def make_writer(system: VssSystem) -> Callable[..., RecordingWriter]:
    def make(name: str, **kwargs: Any) -> RecordingWriter:
        w = RecordingWriter(name, **kwargs)
        for path in w.components.values():
            system.volume("C:\\").fs.makedirs(path, exist_ok=True)
            system.volume("C:\\").fs.write_file(path + "\\file.dat", name.encode())
        system.add_writer(w)
        return w

    return make
