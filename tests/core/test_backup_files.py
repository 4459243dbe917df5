"""Component sets and file sets in a backup: reference §11 rules 7 and 28."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from tests._writers import ReadyWriter
from tests.restore.test_restore_rules import FG, SetWriter
from vsssim import VssSystem
from vsssim.components import WriterComponents
from vsssim.constants import BackupType, ComponentType, RestoreMethod
from vsssim.documents import WriterMetadataBuilder
from vsssim.errors import VssObjectNotFoundError


class FileSetWriter(ReadyWriter):
    """One FILEGROUP component per entry of ``specs``: name -> (path, filespec)."""

    writer_id = UUID("5e0c3a52-7d1b-4a8e-9f3c-2b6d8e1f4a70")
    writer_name = "File Sets"

    def __init__(self, specs: dict[str, tuple[str, str]]) -> None:
        self.specs = specs

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        for name, (path, filespec) in self.specs.items():
            metadata.add_component(ComponentType.FILEGROUP, "", name, selectable=True)
            metadata.add_files_to_file_group("", name, path, filespec, False)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True


def test_rule_28_a_named_file_must_exist_but_a_wildcard_may_match_nothing(
        tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=1) as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        vol.fs.makedirs("C:\\Data")
        vol.fs.write_file("C:\\Data\\here.dat", b"present")
        system.add_writer(FileSetWriter({"named": ("C:\\Data", "gone.dat"),
                                         "wildcard": ("C:\\Nothing", "*.log"),
                                         "present": ("C:\\Data", "here.dat")}))
        result = system.backup(["C:\\"], target_dir=tmp_path / "out")
    assert not result.succeeded
    assert result.failed_components == ["named"]  # the missing named file fails its component
    failed = [e.detail for e in result.trace if e.name == "CopyFailed"]
    assert len(failed) == 1 and "gone.dat is missing" in failed[0]
    assert [f.path for f in result.files] == ["C:\\Data\\here.dat"]
    xml = result.components_xml
    assert 'componentName="named" backupSucceeded="no"' in xml
    assert 'componentName="wildcard" backupSucceeded="yes"' in xml  # matched nothing: fine
    assert 'componentName="present" backupSucceeded="yes"' in xml


class SeeingSetWriter(SetWriter):
    """SetWriter that records the components its PostSnapshot sees."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    def on_post_snapshot(self, components: WriterComponents) -> bool:
        self.seen += [(c.logical_path, c.component_name) for c in components]
        return True


def test_rule_07_set_wide_properties_live_on_the_defining_component(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m", seed=2) as system:
        vol = system.add_volume("C:\\", size=8 * 2**20)
        for name in ("Set1", "Set2", "Query", "Config"):
            vol.fs.write_file(f"C:\\W\\{name}\\{name.lower()}.dat", b"x", create_dirs=True)
        w = SeeingSetWriter()
        system.add_writer(w)
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        bc.gather_writer_metadata().result()
        bc.set_backup_state(True, False, BackupType.FULL)
        bc.add_component(w.instance_id, w.writer_id, FG, "", "writerData")
        bc.add_component(w.instance_id, w.writer_id, FG, "", "Config")
        bc.set_backup_options(w.writer_id, FG, "", "writerData", '"Mode"="Fast"')
        with pytest.raises(VssObjectNotFoundError):  # a member has no properties of its own
            bc.set_backup_options(w.writer_id, FG, "writerData", "Set1", '"Mode"="Slow"')
        bc.start_snapshot_set()
        bc.add_to_snapshot_set("C:\\")
        bc.prepare_for_backup().result()
        bc.do_snapshot_set().result()
        assert w.seen == [("", "writerData"), ("", "Config")]  # the set, not its members
        bc.set_backup_succeeded(w.instance_id, w.writer_id, FG, "", "writerData", True)
        with pytest.raises(VssObjectNotFoundError):
            bc.set_backup_succeeded(w.instance_id, w.writer_id, FG, "writerData", "Set1", True)
        bc.backup_complete().result()
        bc.release()
