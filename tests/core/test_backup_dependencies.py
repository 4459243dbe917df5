"""Component dependencies in the one-call backup (reference §8.5): VSS does not enforce them and
the facade selects nothing more than asked, but a dependency left out of the backup is named in
a ``DependencyNotSelected`` trace note and in ``BackupResult.summary()``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from tests._writers import ReadyWriter
from vsssim.backup import BackupResult
from vsssim.constants import ComponentType, RestoreMethod
from vsssim.documents import WriterMetadataBuilder
from vsssim.system import VssSystem
from vsssim.trace import EventKind

FG = ComponentType.FILEGROUP
DATA_ID = UUID("d0d0d0d0-0000-4000-8000-000000000001")


class DataWriter(ReadyWriter):
    writer_id = DATA_ID
    writer_name = "Data Writer"

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        md.add_component(FG, "Stores", "Main", selectable=True)
        md.add_files_to_file_group("Stores", "Main", "C:\\Data", "*", False)
        md.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True


class IndexWriter(ReadyWriter):
    """Its Index (a selectable set) holds a member, Terms, that depends on Data Writer's
    Stores\\Main, and the set itself on a component of another machine if ``remote``."""

    writer_id = UUID("1d1d1d1d-0000-4000-8000-000000000002")
    writer_name = "Index Writer"

    def __init__(self, *, on_name: str = "Main", remote: bool = False) -> None:
        self.on_name, self.remote = on_name, remote

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        md.add_component(FG, "", "Index", selectable=True)
        md.add_component(FG, "Index", "Terms", selectable=False)
        md.add_files_to_file_group("Index", "Terms", "C:\\Index", "*", False)
        md.add_component_dependency("Index", "Terms", DATA_ID, "Stores", self.on_name)
        if self.remote:
            md.add_component_dependency("", "Index", DATA_ID, "\\\\SERVER2\\Stores", "Far")
        md.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True


@pytest.fixture
def system(tmp_path: Path) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "m", seed=3) as system:
        fs = system.add_volume("C:\\", size=8 * 2**20).fs
        fs.write_file("C:\\Data\\main.db", b"rows", create_dirs=True)
        fs.write_file("C:\\Index\\terms.idx", b"terms", create_dirs=True)
        yield system


def _notes(result: BackupResult) -> list[str]:
    return [e.detail for e in result.trace if e.kind == EventKind.NOTE
            and e.name == "DependencyNotSelected"]


def test_a_dependency_left_out_is_named_and_nothing_else_changes(system: VssSystem) -> None:
    system.add_writer(DataWriter())
    system.add_writer(IndexWriter())
    result = system.backup(components=["Index Writer"])
    assert result.succeeded, result.summary()
    assert result.component_names == ["Index Writer:Index"]  # nothing added behind the back
    note = ("dependency not backed up: Index Writer:Index\\Terms depends on Data Writer:"
            "Stores\\Main (AddComponentDependency), which is not selected: add it to "
            "components=; VSS does not enforce dependencies, the requester backs up both "
            "(reference §8.5)")
    assert _notes(result) == [note]
    assert note in result.summary().splitlines()


@pytest.mark.parametrize("components", [["Index Writer", "Data Writer"],
                                        ["Index Writer", "Data Writer:Stores\\Main"], None])
def test_no_note_when_the_target_is_backed_up(system: VssSystem,
                                              components: list[str] | None) -> None:
    system.add_writer(DataWriter())
    system.add_writer(IndexWriter())
    result = system.backup(components=components)
    assert result.succeeded, result.summary()
    assert _notes(result) == []
    assert "dependency" not in result.summary()


def test_a_missing_writer_an_undeclared_target_and_a_remote_one(system: VssSystem) -> None:
    system.add_writer(IndexWriter(remote=True))
    alone = system.backup(components=["Index Writer"])
    assert alone.succeeded, alone.summary()
    assert [n.split(", which ")[1].split(";")[0] for n in _notes(alone)] == [
        "is on another machine: back it up there (with your own agent) before this backup "
        "completes",
        "is not selected: no writer of that class id answered Identify (is its application "
        "running?)"]
    assert "Index Writer:Index depends on \\\\SERVER2\\Stores\\Far" in _notes(alone)[0]
    assert "depends on {d0d0d0d0-0000-4000-8000-000000000001}:Stores\\Main" in \
        _notes(alone)[1]
    system.remove_writer(system.writers[0])
    system.add_writer(DataWriter())
    system.add_writer(IndexWriter(on_name="Gone"))
    result = system.backup(components=["Index Writer"])
    assert [n.split(", which ")[1].split(";")[0] for n in _notes(result)] == [
        "is not selected, and its writer declares no such component"]


def test_a_target_whose_writer_is_excluded_is_named_as_excluded(system: VssSystem) -> None:
    system.add_writer(DataWriter())
    system.add_writer(IndexWriter())
    result = system.backup(components=["Index Writer"], exclude_writers=["Data Writer"])
    assert result.succeeded, result.summary()
    assert [n.split(", which ")[1].split(";")[0] for n in _notes(result)] == [
        "is not selected: its writer is left out by exclude_writers="]
