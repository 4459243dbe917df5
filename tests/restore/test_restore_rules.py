"""Restore rules of reference §11 (24-31, 33, 36), component sets and subcomponents."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests._writers import ReadyWriter
from vsssim.components import WriterComponents
from vsssim.constants import (
    BackupSchema,
    ComponentType,
    FileRestoreStatus,
    RestoreMethod,
    RestoreTarget,
)
from vsssim.documents import WriterMetadataBuilder
from vsssim.errors import (
    VssBadStateError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
)
from vsssim.system import VssSystem
from vsssim.writer import Writer

FG = ComponentType.FILEGROUP


class SetWriter(ReadyWriter):
    """The documentation's MyWriter-style layout: a set with selectable-for-restore members.

    writerData (selectable) -> Set1 (selectable for restore) -> files C:\\W\\Set1\\*
                            -> Set2 (selectable for restore) -> files C:\\W\\Set2\\*
                            -> Query (not selectable for restore) -> C:\\W\\Query\\*
    Config (required) -> C:\\W\\Config\\* (recursive), *.tmp excluded
    """

    writer_id = UUID("11111111-2222-3333-4444-555555555555")
    writer_name = "Set Writer"

    def __init__(self, root: str = "C:\\W", *, method: RestoreMethod =
                 RestoreMethod.RESTORE_IF_CAN_REPLACE, target: RestoreTarget | None = None,
                 new_target: bool = True, alternate: str | None = None) -> None:
        self.root = root
        self.method = method
        self.target = target
        self.new_target = new_target
        self.alternate = alternate
        self.restore_events: list[tuple[str, list[str]]] = []
        self.post_status: dict[str, FileRestoreStatus] = {}

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        r = self.root
        md.add_component(FG, "", "Config", selectable=False)
        md.add_files_to_file_group("", "Config", f"{r}\\Config", "*", True)
        md.add_exclude_files(f"{r}\\Config", "*.tmp", True)
        md.add_component(FG, "", "writerData", selectable=True)
        for name, sfr in (("Set1", True), ("Set2", True), ("Query", False)):
            md.add_component(FG, "writerData", name, selectable=False,
                             selectable_for_restore=sfr)
            md.add_files_to_file_group("writerData", name, f"{r}\\{name}", "*", False)
        md.set_restore_method(self.method)
        if self.alternate:
            for name in ("Set1", "Set2", "Query"):
                md.add_alternate_location_mapping(f"{r}\\{name}", "*", False,
                                                  f"{self.alternate}\\{name}")
        if self.new_target:
            md.set_backup_schema(BackupSchema.WRITER_SUPPORTS_NEW_TARGET)
        return True

    def on_pre_restore(self, components: WriterComponents) -> bool:
        names = []
        for c in components:
            names += [s.component_name for s in c.get_restore_subcomponents()]
            if self.target is not None:
                c.set_restore_target(self.target)
        self.restore_events.append(("PreRestore", names))
        return True

    def on_post_restore(self, components: WriterComponents) -> bool:
        for c in components:
            self.post_status[c.component_name] = c.get_file_restore_status()
        self.restore_events.append(("PostRestore", []))
        return True


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    with VssSystem(tmp_path / "m", seed=2) as system:
        c = system.add_volume("C:\\", size=8 * 2**20)
        system.add_volume("D:\\", size=8 * 2**20)
        for name in ("Set1", "Set2", "Query"):
            c.fs.write_file(f"C:\\W\\{name}\\{name.lower()}.dat", name.encode(), create_dirs=True)
        c.fs.write_file("C:\\W\\Config\\app.ini", b"config", create_dirs=True)
        c.fs.write_file("C:\\W\\Config\\scratch.tmp", b"scratch")
        c.fs.makedirs("C:\\W\\Config\\empty")
        yield system, c.fs, tmp_path


def _backup(system: VssSystem, tmp: Path, writer: Writer) -> Any:
    system.add_writer(writer)
    result = system.backup(["C:\\"], target_dir=tmp / "b")
    assert result.succeeded, result.summary()
    return result


def _wipe(fs: Any) -> None:
    for path in fs.glob("C:\\W", "*", recursive=True):
        fs.remove(path)


def test_whole_set_restore(lab: Any) -> None:
    system, fs, tmp = lab
    w = SetWriter()
    result = _backup(system, tmp, w)
    # Only the explicit components are in the document (rule 6); members come with the set.
    names = sorted(c.component_name for e in result_document(result).writers
                   for c in e.components)
    assert names == ["Config", "writerData"]
    _wipe(fs)
    restored = system.restore(result)
    assert restored.succeeded, restored.summary()
    for name in ("Set1", "Set2", "Query"):
        assert fs.read_file(f"C:\\W\\{name}\\{name.lower()}.dat") == name.encode()
    assert w.post_status == {"Config": FileRestoreStatus.ALL,
                             "writerData": FileRestoreStatus.ALL}


def result_document(result: Any) -> Any:
    from vsssim.documents import BackupComponentsDocument

    return BackupComponentsDocument.load_from_xml(result.components_xml)


def test_rule_24_only_named_subcomponents_are_restored(lab: Any) -> None:
    system, fs, tmp = lab
    w = SetWriter()
    result = _backup(system, tmp, w)
    _wipe(fs)
    restored = system.restore(result, components=["writerData"],
                              subcomponents={"writerData": ["writerData\\Set2"]})
    assert restored.succeeded
    assert fs.exists("C:\\W\\Set2\\set2.dat")
    assert not fs.exists("C:\\W\\Set1\\set1.dat")  # only the named member of the set
    assert not fs.exists("C:\\W\\Query\\query.dat")
    assert w.restore_events[0] == ("PreRestore", ["Set2"])


def test_rule_24_selection_rules(lab: Any) -> None:
    system, _fs, tmp = lab
    w = SetWriter()
    _backup(system, tmp, w)
    bc = system.create_backup_components()
    bc.initialize_for_restore((tmp / "b" / "backup_components.xml").read_text())
    bc.gather_writer_metadata().result()
    with pytest.raises(VssObjectNotFoundError):  # implicit member: not in the document
        bc.set_selected_for_restore(w.writer_id, FG, "writerData", "Set1", True)
    with pytest.raises(VssBadStateError):  # the defining component is not selected yet
        bc.add_restore_subcomponent(w.writer_id, FG, "", "writerData", "writerData", "Set1")
    bc.set_selected_for_restore(w.writer_id, FG, "", "writerData", True)
    with pytest.raises(VssObjectNotFoundError, match="selectable for restore"):
        bc.add_restore_subcomponent(w.writer_id, FG, "", "writerData", "writerData", "Query")
    bc.add_restore_subcomponent(w.writer_id, FG, "", "writerData", "writerData", "Set1")
    with pytest.raises(VssObjectAlreadyExistsError):
        bc.add_restore_subcomponent(w.writer_id, FG, "", "writerData", "writerData", "Set1")
    bc.release()
    system.remove_writer(w)  # a writer that does not run now cannot be selected
    bc2 = system.create_backup_components()
    bc2.initialize_for_restore((tmp / "b" / "backup_components.xml").read_text())
    bc2.gather_writer_metadata().result()
    with pytest.raises(VssObjectNotFoundError, match="not running"):
        bc2.set_selected_for_restore(w.writer_id, FG, "", "writerData", True)


def test_rule_25_restore_ordering(lab: Any) -> None:
    system, _fs, tmp = lab
    w = SetWriter()
    _backup(system, tmp, w)
    bc = system.create_backup_components()
    bc.initialize_for_restore((tmp / "b" / "backup_components.xml").read_text())
    bc.gather_writer_metadata().result()
    bc.set_selected_for_restore(w.writer_id, FG, "", "writerData", True)
    with pytest.raises(VssBadStateError):  # only between PreRestore and PostRestore
        bc.set_file_restore_status(w.writer_id, FG, "", "writerData", FileRestoreStatus.ALL)
    views = bc.get_writer_components()
    bc.pre_restore().result()
    with pytest.raises(VssBadStateError):  # selections are over
        bc.set_selected_for_restore(w.writer_id, FG, "", "Config", True)
    with pytest.raises(VssBadStateError, match="no longer valid"):
        list(views[0])  # PreRestore killed the old views
    bc.set_file_restore_status(w.writer_id, FG, "", "writerData", FileRestoreStatus.ALL)
    bc.post_restore().result()
    with pytest.raises(VssBadStateError):
        bc.set_file_restore_status(w.writer_id, FG, "", "writerData", FileRestoreStatus.ALL)
    assert w.post_status["writerData"] == FileRestoreStatus.ALL


def test_rule_26_rt_original_follows_the_method(lab: Any) -> None:
    system, _fs, tmp = lab
    w = SetWriter(method=RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION, alternate="D:\\Alt",
                  target=RestoreTarget.ORIGINAL)
    result = _backup(system, tmp, w)
    restored = system.restore(result, components=["writerData"])
    assert restored.component("writerData").destination == "alternate location"
    assert system.volume("D:\\").fs.read_file("D:\\Alt\\Set1\\set1.dat") == b"Set1"


def test_original_location_overrides_an_alternate_method(lab: Any) -> None:
    system, fs, tmp = lab
    w = SetWriter(method=RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION, alternate="D:\\Alt",
                  target=RestoreTarget.ORIGINAL_LOCATION)
    result = _backup(system, tmp, w)
    _wipe(fs)
    restored = system.restore(result, components=["writerData"])
    assert restored.component("writerData").destination == "original location"
    assert fs.exists("C:\\W\\Set1\\set1.dat")


def test_rule_27_exclusions_and_28_empty_directories(lab: Any) -> None:
    system, fs, tmp = lab
    result = _backup(system, tmp, SetWriter())
    assert not any(f.path.endswith(".tmp") for f in result.files)
    fs.remove("C:\\W\\Config\\app.ini")
    fs.remove("C:\\W\\Config\\scratch.tmp")
    fs.rmdir("C:\\W\\Config\\empty")
    system.restore(result, components=["Config"])
    assert fs.is_dir("C:\\W\\Config\\empty")  # recreated: the set is recursive
    assert fs.exists("C:\\W\\Config\\app.ini")
    assert not fs.exists("C:\\W\\Config\\scratch.tmp")


def test_rule_29_the_alternate_path_is_ignored_on_restore(tmp_path: Path) -> None:
    class AltPathWriter(SetWriter):
        def on_identify(self, md: WriterMetadataBuilder) -> bool:
            md.add_component(FG, "", "Data", selectable=True)
            # Read from C:\Staging at backup, but the files belong in C:\Data.
            md.add_files_to_file_group("", "Data", "C:\\Data", "*", False, "C:\\Staging")
            md.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
            return True

    with VssSystem(tmp_path / "m") as system:
        fs = system.add_volume("C:\\", size=4 * 2**20).fs
        fs.write_file("C:\\Staging\\x.dat", b"staged copy", create_dirs=True)
        fs.makedirs("C:\\Data")
        result = _backup(system, tmp_path, AltPathWriter())
        assert [f.path for f in result.files] == ["C:\\Data\\x.dat"]
        system.restore(result)
        assert fs.read_file("C:\\Data\\x.dat") == b"staged copy"


def test_rule_30_new_targets_must_match_a_file_set(lab: Any) -> None:
    system, _fs, tmp = lab
    w = SetWriter()
    _backup(system, tmp, w)
    bc = system.create_backup_components()
    bc.initialize_for_restore((tmp / "b" / "backup_components.xml").read_text())
    bc.gather_writer_metadata().result()
    bc.set_selected_for_restore(w.writer_id, FG, "", "writerData", True)
    with pytest.raises(VssObjectNotFoundError, match="exactly"):
        bc.add_new_target(w.writer_id, FG, "", "writerData", "C:\\W\\Set1", "*.dat", False,
                          "D:\\New")
    bc.add_new_target(w.writer_id, FG, "", "writerData", "C:\\W\\Set1", "*", False, "D:\\New")
    bc.release()


def test_new_target_restore(lab: Any) -> None:
    system, _fs, tmp = lab
    result = _backup(system, tmp, SetWriter())
    restored = system.restore(result, components=["writerData"],
                              new_targets={"C:\\W\\Set1": "D:\\Elsewhere"})
    assert restored.succeeded
    assert system.volume("D:\\").fs.read_file("D:\\Elsewhere\\set1.dat") == b"Set1"


def test_rule_33_restores_use_the_stored_metadata(lab: Any) -> None:
    system, fs, tmp = lab
    w = SetWriter()
    result = _backup(system, tmp, w)
    w.root = "C:\\Moved"  # the live writer now describes different paths
    _wipe(fs)
    restored = system.restore(result, components=["writerData"])
    assert restored.succeeded
    assert fs.exists("C:\\W\\Set1\\set1.dat")  # the saved file specs, not the live ones
    assert not fs.exists("C:\\Moved")
