"""Restore parameters a requester sets and writers read (restore options, additional restores,
alternative location mappings, directed targets) and who is told: ``VSS_WRE_*``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.restore.test_restore_rules import FG, SetWriter
from vsssim.components import WriterComponents
from vsssim.constants import (
    BackupSchema,
    FileRestoreStatus,
    RestoreMethod,
    RestoreTarget,
    RollforwardType,
    WriterRestore,
)
from vsssim.documents import WriterMetadataBuilder
from vsssim.errors import (
    VssBadStateError,
    VssInvalidArgumentError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
)
from vsssim.options import VssOptions
from vsssim.system import VssSystem


class ConditionWriter(SetWriter):
    """SetWriter with a chosen ``VSS_WRE_*`` and a record of what it read in its events."""

    def __init__(self, condition: WriterRestore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.condition = condition
        self.read: dict[str, Any] = {}

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        # SetWriter's layout (its Config, writerData and members), with this restore condition.
        r = self.root
        md.add_component(FG, "", "Config", selectable=False)
        md.add_files_to_file_group("", "Config", f"{r}\\Config", "*", True)
        md.add_component(FG, "", "writerData", selectable=True)
        for name, sfr in (("Set1", True), ("Set2", True), ("Query", False)):
            md.add_component(FG, "writerData", name, selectable=False,
                             selectable_for_restore=sfr)
            md.add_files_to_file_group("writerData", name, f"{r}\\{name}", "*", False)
        md.set_restore_method(self.method, writer_restore=self.condition)
        if self.alternate:
            for name in ("Set1", "Set2", "Query"):
                md.add_alternate_location_mapping(f"{r}\\{name}", "*", False,
                                                  f"{self.alternate}\\{name}")
        return True

    def on_pre_restore(self, components: WriterComponents) -> bool:
        for c in components:
            self.read[c.component_name] = (c.get_restore_options(), c.get_additional_restores())
            c.set_restore_target(RestoreTarget.DIRECTED)
            c.add_directed_target(f"{self.root}\\Set1", "set1.dat", "0:4",
                                  f"{self.root}\\Set1", "set1.dat", "0:4")
        return super().on_pre_restore(components)

    def on_post_restore(self, components: WriterComponents) -> bool:
        for c in components:
            self.read["mappings"] = [(m.path, m.destination)
                                     for m in c.get_alternate_location_mappings()]
            self.read["directed"] = len(c.get_directed_targets())
        return super().on_post_restore(components)


def _machine(tmp: Path, options: VssOptions | None = None) -> VssSystem:
    system = VssSystem(tmp / "m", seed=2, options=options)
    c = system.add_volume("C:\\", size=8 * 2**20)
    system.add_volume("D:\\", size=8 * 2**20)
    for name in ("Set1", "Set2", "Query"):
        c.fs.write_file(f"C:\\W\\{name}\\{name.lower()}.dat", name.encode(), create_dirs=True)
    c.fs.write_file("C:\\W\\Config\\app.ini", b"config", create_dirs=True)
    return system


def _restore_session(system: VssSystem, tmp: Path, w: ConditionWriter) -> Any:
    system.add_writer(w)
    assert system.backup(["C:\\"], target_dir=tmp / "b").succeeded
    bc = system.create_backup_components()
    bc.initialize_for_restore((tmp / "b" / "backup_components.xml").read_text())
    bc.gather_writer_metadata().result()
    bc.set_selected_for_restore(w.writer_id, FG, "", "writerData", True)
    return bc


def _finish(bc: Any, w: ConditionWriter, **post: Any) -> None:
    bc.pre_restore().result()
    bc.set_file_restore_status(w.writer_id, FG, "", "writerData", FileRestoreStatus.ALL)
    bc.post_restore(**post).result()
    bc.release()


def test_restore_options_and_additional_restores_reach_the_writer(tmp_path: Path) -> None:
    with _machine(tmp_path) as system:
        w = ConditionWriter(WriterRestore.ALWAYS)
        bc = _restore_session(system, tmp_path, w)
        bc.set_restore_options(w.writer_id, FG, "", "writerData", '"Recovery"="No"')
        with pytest.raises(VssObjectAlreadyExistsError):  # at most once per component
            bc.set_restore_options(w.writer_id, FG, "", "writerData", '"Recovery"="Yes"')
        bc.set_additional_restores(w.writer_id, FG, "", "writerData", True)
        _finish(bc, w)
    assert w.read["writerData"] == ('"Recovery"="No"', True)


def test_alternative_location_mappings_only_for_mapped_file_sets(tmp_path: Path) -> None:
    with _machine(tmp_path) as system:
        w = ConditionWriter(WriterRestore.ALWAYS, alternate="D:\\Alt")
        bc = _restore_session(system, tmp_path, w)
        bc.pre_restore().result()  # mappings are recorded after the files were copied
        bc.add_alternative_location_mapping(w.writer_id, FG, "", "writerData", "C:\\W\\Set1",
                                            "*", False, "D:\\Alt\\Set1")
        with pytest.raises(VssObjectNotFoundError):  # Config has no mapping in the metadata
            bc.add_alternative_location_mapping(w.writer_id, FG, "", "writerData",
                                                "C:\\W\\Config", "*", True, "D:\\Alt\\Config")
        bc.set_file_restore_status(w.writer_id, FG, "", "writerData", FileRestoreStatus.ALL)
        bc.post_restore().result()
        bc.release()
    assert w.read["mappings"] == [("C:\\W\\Set1", "D:\\Alt\\Set1")]
    assert w.read["directed"] == 1  # the directed target the writer added in PreRestore


@pytest.mark.parametrize(("condition", "honor", "replace_failed", "told"), [
    (WriterRestore.ALWAYS, False, False, ["PreRestore", "PostRestore"]),
    (WriterRestore.NEVER, False, False, []),
    (WriterRestore.IF_REPLACE_FAILS, False, False, ["PreRestore", "PostRestore"]),
    (WriterRestore.IF_REPLACE_FAILS, True, False, ["PreRestore"]),
    (WriterRestore.IF_REPLACE_FAILS, True, True, ["PreRestore", "PostRestore"]),
])
def test_writer_restore_conditions_decide_who_is_told(
        tmp_path: Path, condition: WriterRestore, honor: bool, replace_failed: bool,
        told: list[str]) -> None:
    with _machine(tmp_path, VssOptions(honor_if_replace_fails=honor)) as system:
        w = ConditionWriter(condition, method=RestoreMethod.RESTORE_IF_CAN_REPLACE)
        bc = _restore_session(system, tmp_path, w)
        failed: set[UUID] = {w.writer_id} if replace_failed else set()
        _finish(bc, w, replace_failed=failed)
    assert [event for event, _ in w.restore_events] == told


def test_the_key_value_store_restores_to_a_new_target_as_the_readme_shows(
        tmp_path: Path) -> None:
    """KvStoreWriter declares VSS_BS_WRITER_SUPPORTS_NEW_TARGET: both of its file sets can go
    to a new directory, and the copy opens with no recovery at the freeze instant's state."""
    from vsssim.apps import KvStore, KvStoreApp, KvStoreWriter

    with VssSystem(tmp_path / "m", seed=0) as system:
        vol = system.add_volume("C:\\", size=64 * 2**20)
        app = system.add_application(KvStoreApp(vol.fs))
        writer = system.add_writer(KvStoreWriter(app))
        assert system.backup(["C:\\"], target_dir=tmp_path / "backup").succeeded
        restored = system.restore(tmp_path / "backup", components=["KvStore"],
                                  new_targets={"C:\\KvStore": "C:\\KvCopy",
                                               "C:\\KvStore\\log": "C:\\KvCopy\\log"})
        assert restored.succeeded, restored.summary()
        assert "new target" in restored.summary()
        copy = KvStore.open(vol.fs, "C:\\KvCopy")
        assert (copy.recovery.replayed, copy.recovery.torn_bytes) == (0, 0)
        assert copy.state == writer.state_at_freeze


class Ex2Writer(ConditionWriter):
    """A ConditionWriter declaring the schema bits of the three IVssBackupComponentsEx2
    setters (or not), recording what its components say in PreRestore."""

    def __init__(self, schema: BackupSchema) -> None:
        super().__init__(WriterRestore.ALWAYS)
        self.schema = schema

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        md.set_backup_schema(self.schema)
        return super().on_identify(md)

    def on_pre_restore(self, components: WriterComponents) -> bool:
        for c in components:
            self.read["ex2"] = (c.get_authoritative_restore(), c.get_roll_forward(),
                                c.get_restore_name())
        return super().on_pre_restore(components)


_EX2 = BackupSchema.AUTHORITATIVE_RESTORE | BackupSchema.ROLLFORWARD_RESTORE | \
    BackupSchema.RESTORE_RENAME


def test_authoritative_restore_roll_forward_and_restore_name_reach_the_writer(
        tmp_path: Path) -> None:
    with _machine(tmp_path) as system:
        w = Ex2Writer(_EX2)
        bc = _restore_session(system, tmp_path, w)
        address = (w.writer_id, FG, "", "writerData")
        bc.set_authoritative_restore(*address, True)
        bc.set_roll_forward(*address, RollforwardType.PARTIAL, "log 42")
        bc.set_restore_name(*address, "writerData-copy")
        _finish(bc, w)
    assert w.read["ex2"] == (True, (RollforwardType.PARTIAL, "log 42"), "writerData-copy")


def test_without_them_the_writer_reads_the_defaults(tmp_path: Path) -> None:
    with _machine(tmp_path) as system:
        w = Ex2Writer(_EX2)
        _finish(_restore_session(system, tmp_path, w), w)
    assert w.read["ex2"] == (False, (RollforwardType.UNDEFINED, ""), "")


@pytest.mark.parametrize(("missing", "call"), [
    (BackupSchema.AUTHORITATIVE_RESTORE, lambda bc, a: bc.set_authoritative_restore(*a, True)),
    (BackupSchema.ROLLFORWARD_RESTORE,
     lambda bc, a: bc.set_roll_forward(*a, RollforwardType.ALL)),
    (BackupSchema.RESTORE_RENAME, lambda bc, a: bc.set_restore_name(*a, "new")),
])
def test_each_needs_its_schema_bit(tmp_path: Path, missing: BackupSchema,
                                   call: Callable[[Any, tuple[Any, ...]], None]) -> None:
    with _machine(tmp_path) as system:
        w = Ex2Writer(_EX2 & ~missing)
        bc = _restore_session(system, tmp_path, w)
        with pytest.raises(VssObjectNotFoundError, match=f"VSS_BS_{missing.name}"):
            call(bc, (w.writer_id, FG, "", "writerData"))
        _finish(bc, w)  # the refused call changed nothing
    assert w.read["ex2"] == (False, (RollforwardType.UNDEFINED, ""), "")


def test_roll_forward_arguments_are_checked(tmp_path: Path) -> None:
    with _machine(tmp_path) as system:
        w = Ex2Writer(_EX2)
        bc = _restore_session(system, tmp_path, w)
        address = (w.writer_id, FG, "", "writerData")
        with pytest.raises(VssInvalidArgumentError, match="give one with VSS_RF_PARTIAL"):
            bc.set_roll_forward(*address, RollforwardType.PARTIAL)
        with pytest.raises(VssInvalidArgumentError, match="none with NONE or ALL"):
            bc.set_roll_forward(*address, RollforwardType.ALL, "log 42")
        with pytest.raises(VssInvalidArgumentError, match="pass NONE, ALL or PARTIAL"):
            bc.set_roll_forward(*address, RollforwardType.UNDEFINED)
        with pytest.raises(ValueError, match="roll_type"):
            bc.set_roll_forward(*address, "all")
        with pytest.raises(VssInvalidArgumentError, match="restore_name"):
            bc.set_restore_name(*address, "")
        bc.pre_restore().result()
        with pytest.raises(VssBadStateError):  # restore parameters come before PreRestore
            bc.set_authoritative_restore(*address, True)
        bc.release()


def test_a_restore_target_cannot_change_an_at_reboot_restore(tmp_path: Path) -> None:
    """Reference §8.7: no VSS runs at reboot, so the writer's ALTERNATE target is ignored and
    the files are staged for their original places; the component's message says so."""
    with _machine(tmp_path) as system:
        w = SetWriter(method=RestoreMethod.RESTORE_AT_REBOOT, target=RestoreTarget.ALTERNATE,
                      alternate="D:\\Alt")
        system.add_writer(w)
        backup = system.backup(["C:\\"], target_dir=tmp_path / "b")
        assert backup.succeeded, backup.summary()
        fs = system.volume("C:\\").fs
        fs.write_file("C:\\W\\Set1\\set1.dat", b"changed")
        restored = system.restore(backup, components=["Set Writer:writerData"])
        data = restored.component("writerData")
        assert data.message == ("its restore target ALTERNATE was ignored: restore targets "
                                "cannot change a RESTORE_AT_REBOOT restore")
        assert system.trace.first("RestoreTargetIgnored") is not None
        assert restored.pending_reboot
        system.reboot()
        assert system.volume("C:\\").fs.read_file("C:\\W\\Set1\\set1.dat") == b"Set1"
        assert not system.volume("D:\\").fs.exists("D:\\Alt")
