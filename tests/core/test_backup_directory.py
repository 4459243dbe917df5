"""The backup directory as ``VssSystem.backup`` writes it: where it goes, the manifest's exact
text, the refusals before anything is written."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from tests._writers import FileGroupWriter, ReadyWriter
from vsssim import VssSystem
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.constants import (
    BackupSchema,
    BackupType,
    ComponentType,
    FileSpecBackupType,
    RestoreMethod,
)
from vsssim.documents import WriterMetadataBuilder
from vsssim.errors import VssObjectAlreadyExistsError
from vsssim.medium import (
    BackupMedium,
    Manifest,
    ManifestComponent,
    ManifestFile,
    ManifestFileSet,
)


class TreeWriter(FileGroupWriter):
    """One recursive file group: ``C:\\Tree`` and every directory below it."""

    writer_id = UUID("6f1d4b63-8e2c-4b9f-a04d-3c7e9f2a5b81")
    writer_name = "Tree"
    component = "Tree"
    files_root = "C:\\Tree"


@pytest.fixture
def system(tmp_path: Path) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "machine", seed=3) as s:
        vol = s.add_volume("C:\\", size=16 * 2**20)
        app = s.add_application(KvStoreApp(vol.fs))
        s.add_writer(KvStoreWriter(app))
        s.add_writer(TreeWriter())
        for path in ("C:\\Tree\\a.txt", "C:\\Tree\\sub\\b.txt", "C:\\Tree\\sub\\deep\\c.txt"):
            vol.fs.write_file(path, path.encode(), create_dirs=True)
        vol.fs.makedirs("C:\\Tree\\empty")
        s.run_applications(3)
        yield s


def test_the_manifest_is_the_models_text(system: VssSystem, tmp_path: Path) -> None:
    result = system.backup(["C:\\"], target_dir=tmp_path / "b")
    assert result.succeeded and result.files and result.file_sets
    assert any(fs.directories for fs in result.file_sets)
    text = (tmp_path / "b" / "manifest.json").read_text(encoding="utf-8")
    saved = json.loads(text)
    # One model per record, as a requester building it by hand would: the same text.
    expected = Manifest(**{
        **saved,
        "components": [ManifestComponent(**c) for c in saved["components"]],
        "files": [ManifestFile(**dataclasses.asdict(f)) for f in result.files],
        "file_sets": [ManifestFileSet(**dict(dataclasses.asdict(fs),
                                             directories=list(fs.directories)))
                      for fs in result.file_sets],
    })
    assert text == expected.model_dump_json(indent=2)
    assert sorted(c["name"] for c in saved["components"]) == ["KvStore", "Tree"]
    assert saved["snapshot_set_id"] == str(result.snapshot_set_id)
    assert BackupMedium(tmp_path / "b").component_names() == result.component_names


def test_the_backup_directory_is_made_with_its_parents(system: VssSystem,
                                                       tmp_path: Path) -> None:
    given = tmp_path / "x" / "y" / "b"
    result = system.backup(["C:\\"], target_dir=given)
    assert result.succeeded and result.target_dir == given
    assert (given / "manifest.json").is_file() and (given / "writers" / "0.xml").is_file()
    as_text = system.backup(["C:\\"], target_dir=f"{tmp_path}/s/b/")  # a str, trailing slash
    assert as_text.succeeded and as_text.target_dir == tmp_path / "s" / "b"
    assert isinstance(as_text.target_dir, Path)
    made = {p.relative_to(given).as_posix() for p in given.rglob("*")}
    assert {f.target for f in result.files} <= made
    assert {"writers", "files", "backup_components.xml", "manifest.json"} <= made


def test_a_target_that_cannot_hold_a_backup_is_refused(system: VssSystem, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    for spelling in (f"{tmp_path}/file", f"{tmp_path}/file/"):  # refused before any VSS call
        mark = len(system.trace)
        with pytest.raises(ValueError,
                           match=r"target_dir '.*file' exists and is not a directory"):
            system.backup(["C:\\"], target_dir=spelling)
        assert len(system.trace[mark:].filter(name="DoSnapshotSet")) == 0
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text("{}")
    with pytest.raises(VssObjectAlreadyExistsError, match=r"'.*old' already holds a backup"):
        system.backup(["C:\\"], target_dir=f"{tmp_path}/old/")
    (tmp_path / "old2").mkdir()
    (tmp_path / "old2" / "manifest.json").mkdir()  # anything called so counts
    with pytest.raises(VssObjectAlreadyExistsError):
        system.backup(["C:\\"], target_dir=tmp_path / "old2")
    monkeypatch.chdir(tmp_path / "old")  # "" is the current directory, as for Path
    with pytest.raises(VssObjectAlreadyExistsError, match=r"'\.' already holds a backup"):
        system.backup(["C:\\"], target_dir="")
    assert (tmp_path / "old" / "manifest.json").read_text() == "{}"
    with pytest.raises(NotADirectoryError):  # under a file: not a place for a backup either
        system.backup(["C:\\"], target_dir=tmp_path / "file" / "b")
    for wrong in (123, b"bytes"):  # not a path: Path's own error
        with pytest.raises(TypeError, match=r"os\.PathLike"):
            system.backup(["C:\\"], target_dir=wrong)  # type: ignore[arg-type]


class MaskWriter(ReadyWriter):
    """A database component with data files, logs and file groups of chosen backup types."""

    writer_id = UUID("7a2e5c74-9f3d-4ca0-b15e-4d8fa03b6c92")
    writer_name = "Masks"

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        F = FileSpecBackupType
        metadata.set_backup_schema(BackupSchema.DIFFERENTIAL | BackupSchema.LOG)
        metadata.add_component(ComponentType.DATABASE, "", "Db", selectable=True)
        metadata.add_database_files("", "Db", "C:\\Db", "full.mdf", F.FULL_BACKUP_REQUIRED)
        metadata.add_database_files("", "Db", "C:\\Db", "diff.mdf",
                                    F.FULL_BACKUP_REQUIRED | F.DIFFERENTIAL_BACKUP_REQUIRED)
        metadata.add_database_log_files("", "Db", "C:\\Db", "all.ldf", F.ALL_BACKUP_REQUIRED)
        metadata.add_database_log_files("", "Db", "C:\\Db", "full.ldf", F.FULL_BACKUP_REQUIRED)
        metadata.add_database_log_files("", "Db", "C:\\Db", "log.ldf", F.LOG_BACKUP_REQUIRED)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True


@pytest.mark.parametrize(("backup_type", "copied"), [
    (BackupType.FULL, ["full.mdf", "diff.mdf", "all.ldf", "full.ldf"]),
    (BackupType.COPY, ["full.mdf", "diff.mdf", "all.ldf", "full.ldf"]),
    (BackupType.DIFFERENTIAL, ["diff.mdf", "all.ldf"]),
    (BackupType.LOG, ["all.ldf", "log.ldf"]),  # only log files, and only those of LOG backups
    (BackupType.INCREMENTAL, ["full.mdf", "diff.mdf", "all.ldf", "full.ldf"]),  # (as FULL)
])
def test_a_backup_copies_the_files_its_type_requires(tmp_path: Path, backup_type: BackupType,
                                                     copied: list[str]) -> None:
    with VssSystem(tmp_path / "m") as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        for name in ("full.mdf", "diff.mdf", "all.ldf", "full.ldf", "log.ldf"):
            vol.fs.write_file(f"C:\\Db\\{name}", name.encode(), create_dirs=True)
        system.add_writer(MaskWriter())
        result = system.backup(["C:\\"], backup_type=backup_type, target_dir=tmp_path / "b")
    assert result.succeeded
    assert [f.path.rpartition("\\")[2] for f in result.files] == copied


class NestedWriter(ReadyWriter):
    """Required, selectable, nested and other-volume components (the canonical selection)."""

    writer_id = UUID("8b3f6d85-a04e-4db1-c26f-5e9ab14c7da3")
    writer_name = "Nested"

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        for logical, name, selectable, path in (
                ("", "req", False, "C:\\Req"),
                ("", "top", True, "C:\\Top"),
                ("top", "sub", True, "C:\\Top\\Sub"),
                ("top", "hidden", False, "C:\\Top\\Hidden"),
                ("", "req2", False, "C:\\Req2"),
                ("", "other", True, "D:\\Other"),
                ("other", "deep", True, "D:\\Other\\Deep")):
            metadata.add_component(ComponentType.FILEGROUP, logical, name,
                                   selectable=selectable)
            metadata.add_files_to_file_group(logical, name, path, "*", False)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True


@pytest.mark.parametrize(("volumes", "components", "chosen"), [
    (["C:\\"], None, ["req", "top", "req2"]),
    (["D:\\"], None, ["other", "req", "req2"]),  # a writer with any component gets its required
    (None, None, ["req", "top", "req2", "other"]),
    (None, ["Nested:top\\sub"], ["top\\sub", "req", "req2"]),
    (None, ["Nested:top", "Nested:top\\sub"], ["top", "req", "req2"]),  # rule 8
    (None, ["Nested:other\\deep", "Nested:top\\sub"], ["top\\sub", "other\\deep", "req",
                                                       "req2"]),
    (None, ["Nested"], ["req", "top", "req2", "other"]),
])
def test_the_canonical_selection(tmp_path: Path, volumes: list[str] | None,
                                 components: list[str] | None, chosen: list[str]) -> None:
    with VssSystem(tmp_path / "m") as system:
        c = system.add_volume("C:\\", size=8 * 2**20)
        d = system.add_volume("D:\\", size=8 * 2**20)
        for fs, path in ((c.fs, "C:\\Req\\a"), (c.fs, "C:\\Top\\a"), (c.fs, "C:\\Top\\Sub\\a"),
                         (c.fs, "C:\\Top\\Hidden\\a"), (c.fs, "C:\\Req2\\a"),
                         (d.fs, "D:\\Other\\a"), (d.fs, "D:\\Other\\Deep\\a")):
            fs.write_file(path, b"x", create_dirs=True)
        system.add_writer(NestedWriter())
        result = system.backup(volumes, components=components, target_dir=tmp_path / "b")
    assert result.succeeded
    assert result.component_names == [f"Nested:{name}" for name in chosen]
