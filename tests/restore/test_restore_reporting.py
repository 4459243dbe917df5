"""What a hand-written writer test sees of a restore: the result, its errors and the calls'
argument checks (findings of a walk-through with a database-style writer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from tests._writers import ReadyWriter
from vsssim import hresult
from vsssim.backup import BackupResult
from vsssim.components import WriterComponents
from vsssim.constants import ComponentType, FileRestoreStatus, RestoreMethod
from vsssim.documents import WriterMetadataBuilder
from vsssim.errors import VssInvalidArgumentError, VssObjectNotFoundError
from vsssim.system import VssSystem
from vsssim.testing import assert_writer_states

DB = ComponentType.DATABASE
WRITER_ID = UUID("0d3c2b1a-9f8e-4d7c-8b6a-5f4e3d2c1b0a")


class DbWriter(ReadyWriter):
    """A database (data file + logs) and a config file group."""

    writer_id = WRITER_ID
    writer_name = "Db Writer"

    def __init__(self, method: RestoreMethod | None = RestoreMethod.RESTORE_IF_CAN_REPLACE
                 ) -> None:
        self.method = method
        self.pre_restore: str = "ok"        # "ok", "veto" or "raise"
        self.post_status: dict[str, FileRestoreStatus] = {}

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        md.add_component(DB, "Instances", "Sales", selectable=True)
        md.add_database_files("Instances", "Sales", "C:\\Db\\data", "sales.mdb")
        md.add_database_log_files("Instances", "Sales", "C:\\Db\\logs", "*.log")
        md.add_component(ComponentType.FILEGROUP, "", "Config", selectable=True)
        md.add_files_to_file_group("", "Config", "C:\\Db\\conf", "*.ini", True)
        if self.method is not None:
            md.set_restore_method(self.method)
        return True

    def on_freeze(self) -> bool:
        if self.pre_restore == "veto-freeze":
            self.set_writer_failure(hresult.VSS_E_WRITERERROR_RETRYABLE)
            return False
        return True

    def on_pre_restore(self, components: WriterComponents | None) -> bool:
        if self.pre_restore == "raise":
            raise RuntimeError("cannot take the database offline")
        if self.pre_restore == "veto":
            assert components is not None
            for c in components:
                if c.is_selected_for_restore():
                    c.set_pre_restore_failure_msg("the database is online: take it offline")
            self.set_writer_failure(hresult.VSS_E_WRITERERROR_NONRETRYABLE)
            return False
        return True

    def on_post_restore(self, components: WriterComponents | None) -> bool:
        assert components is not None
        for c in components:
            if c.is_selected_for_restore():
                self.post_status[c.full_path] = c.get_file_restore_status()
        return True


@pytest.fixture
def system(tmp_path: Path) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "m", seed=0) as system:
        fs = system.add_volume("C:\\", size=16 * 2**20).fs
        fs.write_file("C:\\Db\\data\\sales.mdb", b"DB-v1", create_dirs=True)
        fs.write_file("C:\\Db\\logs\\0001.log", b"LOG1", create_dirs=True)
        fs.write_file("C:\\Db\\conf\\db.ini", b"[db]", create_dirs=True)
        yield system


def _backup(system: VssSystem, writer: DbWriter, tmp_path: Path) -> BackupResult:
    system.add_writer(writer)
    backup = system.backup(["C:\\"], target_dir=tmp_path / "backup")
    assert backup.succeeded, backup.summary()
    return backup


@pytest.mark.parametrize("how", ["veto", "raise"])
def test_a_writer_failing_pre_restore_fails_the_restore(system: VssSystem, tmp_path: Path,
                                                        how: str) -> None:
    """A PreRestore veto (or a raising handler) means nothing was restored: the result says so
    for every selected component, with the writer's SetPreRestoreFailureMsg (reference R6)."""
    writer = DbWriter()
    backup = _backup(system, writer, tmp_path)
    fs = system.volume("C:\\").fs
    fs.write_file("C:\\Db\\data\\sales.mdb", b"DB-v2")
    writer.pre_restore = how
    restored = system.restore(backup)
    assert not restored.succeeded, restored.summary()
    assert [c.component for c in restored.components] == ["Instances\\Sales", "Config"]
    assert {c.status for c in restored.components} == {FileRestoreStatus.NONE}
    assert fs.read_file("C:\\Db\\data\\sales.mdb") == b"DB-v2"
    sales = restored.component("Instances\\Sales")
    assert "failed PreRestore" in sales.message
    if how == "veto":
        assert "the database is online: take it offline" in sales.message
        assert "the database is online" in restored.summary()
    else:
        assert "RuntimeError" in sales.message


def test_a_writer_failing_pre_restore_reads_none_restored_in_post_restore(
        system: VssSystem, tmp_path: Path) -> None:
    """SetFileRestoreStatus goes to every selected component, VSS_RS_NONE when nothing was
    written (reference R7): the writer that failed PreRestore reads NONE in PostRestore, not
    an undefined status."""
    writer = DbWriter()
    backup = _backup(system, writer, tmp_path)
    writer.pre_restore = "veto"
    restored = system.restore(backup)
    assert writer.post_status == {"Instances\\Sales": FileRestoreStatus.NONE,
                                  "Config": FileRestoreStatus.NONE}
    calls = restored.trace.filter(name="SetFileRestoreStatus")
    assert [e.detail for e in calls] == ["NONE", "NONE"]


def test_restoring_a_failed_backup_says_the_backup_failed(system: VssSystem,
                                                          tmp_path: Path) -> None:
    writer = DbWriter()
    writer.pre_restore = "veto-freeze"
    system.add_writer(writer)
    backup = system.backup(["C:\\"], target_dir=tmp_path / "backup")
    assert not backup.succeeded
    with pytest.raises(VssInvalidArgumentError) as info:
        system.restore(backup)
    message = str(info.value)
    assert "copy_files" not in message
    assert "did not succeed" in message and "VSS_E_UNEXPECTED_WRITER_ERROR" in message


def test_an_undefined_restore_method_is_a_writer_error(system: VssSystem,
                                                       tmp_path: Path) -> None:
    """SetRestoreMethod is mandatory; a writer without one (VSS_RME_UNDEFINED) cannot be
    restored: a writer error (reference §8.7), nothing written."""
    backup = _backup(system, DbWriter(method=None), tmp_path)
    fs = system.volume("C:\\").fs
    fs.write_file("C:\\Db\\conf\\db.ini", b"changed")
    restored = system.restore(backup)
    assert not restored.succeeded
    config = restored.component("Config")
    assert config.status == FileRestoreStatus.NONE
    assert "set_restore_method" in config.message
    assert fs.read_file("C:\\Db\\conf\\db.ini") == b"changed"


def test_the_backup_summary_names_an_incomplete_identify(system: VssSystem,
                                                         tmp_path: Path) -> None:
    backup = _backup(system, DbWriter(method=None), tmp_path)
    assert "set_restore_method" in backup.summary()


def test_selecting_before_gather_writer_metadata_says_to_gather(system: VssSystem,
                                                                tmp_path: Path) -> None:
    backup = _backup(system, DbWriter(), tmp_path)
    with system.create_backup_components() as bc:
        bc.initialize_for_restore(backup.components_xml)
        with pytest.raises(VssObjectNotFoundError) as info:
            bc.set_selected_for_restore(WRITER_ID, DB, "Instances", "Sales", True)
    assert "gather_writer_metadata" in str(info.value)
    assert "not running" not in str(info.value)


def test_restore_setters_refuse_a_component_type_that_is_not_one(system: VssSystem,
                                                                  tmp_path: Path) -> None:
    backup = _backup(system, DbWriter(), tmp_path)
    with system.create_backup_components() as bc:
        bc.initialize_for_restore(backup.components_xml)
        bc.gather_writer_metadata().wait()
        with pytest.raises(ValueError, match=r"ComponentType\.DATABASE"):
            bc.set_selected_for_restore(WRITER_ID, "database",  # type: ignore[arg-type]
                                        "Instances", "Sales", True)
        bc.set_selected_for_restore(WRITER_ID, DB, "Instances", "Sales", True)
        bc.pre_restore().wait()
        for wrong in (True, "ALL"):
            with pytest.raises(ValueError, match="pass a FileRestoreStatus"):
                bc.set_file_restore_status(WRITER_ID, DB, "Instances", "Sales",
                                           wrong)  # type: ignore[arg-type]
        bc.set_file_restore_status(WRITER_ID, DB, "Instances", "Sales", FileRestoreStatus.ALL)
        bc.post_restore().wait()
        bc.gather_writer_status().wait()
        assert_writer_states(bc.writer_status, {"Db Writer": "STABLE"})
