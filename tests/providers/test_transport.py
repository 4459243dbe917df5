"""Transportable shadow copies between two simulated machines, through the public API only.

Machine A (a production server) makes a transportable hardware copy of its data volume on a
shared array and saves its Backup Components Document; machine B (a backup server) imports the
copy with the document, reads the files of A's freeze instant, and breaks the copy into an
ordinary volume (providers reference §3.9, §3.10).  Windows versions decide whether the import
is possible at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import pytest

from vsssim import hresult as hr
from vsssim.apps import KvStore, KvStoreApp, KvStoreWriter
from vsssim.constants import BackupType, SnapshotContext, VolumeSnapshotAttributes
from vsssim.documents import BackupComponentsDocument
from vsssim.errors import VssSnapshotSetInProgressError, VssUnsupportedContextError
from vsssim.options import VssOptions
from vsssim.providers import HARDWARE_PROVIDER_ID, HardwareProvider
from vsssim.storage.san import SimulatedSan
from vsssim.system import VssSystem

_A = VolumeSnapshotAttributes
TRANSPORTABLE = int(SnapshotContext.APP_ROLLBACK | _A.TRANSPORTABLE)
MiB = 2**20

Machine = Callable[..., VssSystem]


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    san = SimulatedSan(tmp_path / "array")
    made: list[VssSystem] = []

    def make(name: str, os_version: str = "2022", edition: str = "server") -> VssSystem:
        system = VssSystem(tmp_path / name, machine_name=name, os_version=os_version,
                           edition=edition, seed=len(made))  # type: ignore[arg-type]
        system.add_provider(HardwareProvider(san, name="Array provider"))
        made.append(system)
        return system

    make.san = san  # type: ignore[attr-defined]
    yield make
    for s in made:
        s.close()


def _production(machine: Machine, os_version: str = "2022") -> tuple[VssSystem, KvStoreApp]:
    a = machine("PROD", os_version)
    vol = a.add_volume("E:\\", size=8 * MiB, san=machine.san)  # type: ignore[attr-defined]
    app = a.add_application(KvStoreApp(vol.fs, "E:\\KvStore"))
    assert isinstance(app, KvStoreApp)
    a.add_writer(KvStoreWriter(app))
    a.run_applications(20)
    return a, app


def _transportable_copy(a: VssSystem) -> tuple[str, UUID]:
    """The requester on A: a transportable copy of E:, the document saved as XML."""
    with a.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(TRANSPORTABLE)
        bc.gather_writer_metadata().wait()
        bc.set_backup_state(True, False, BackupType.FULL)
        for instance_id, wmd in bc.writer_metadata:
            for c in wmd.components:
                bc.add_component(instance_id, wmd.identity.writer_id, c.component_type,
                                 c.logical_path, c.component_name)
        bc.start_snapshot_set()
        snapshot_id = bc.add_to_snapshot_set("E:\\", HARDWARE_PROVIDER_ID)
        bc.prepare_for_backup().wait()
        op = bc.do_snapshot_set()
        op.wait()
        assert op.query_status() == hr.VSS_S_ASYNC_FINISHED
        xml = bc.save_as_xml()
        bc.backup_complete().wait()
    return xml, snapshot_id


def _import(b: VssSystem, xml: str) -> int:
    with b.create_backup_components() as bc:
        bc.initialize_for_backup(xml)  # the context comes with the document
        op = bc.import_snapshots()
        op.wait()
        return op.query_status()


def test_a_copy_made_on_one_machine_is_imported_read_and_broken_on_another(
        machine: Machine) -> None:
    a, app = _production(machine)
    xml, snapshot_id = _transportable_copy(a)
    frozen = dict(a.writers[0].state_at_freeze or {})  # type: ignore[attr-defined]
    assert frozen
    a.run_applications(20)  # production goes on
    # On A the copy exists but is not surfaced: it is meant for another machine.
    props = a.snapshot_properties(snapshot_id)
    assert props.snapshot_attributes & _A.TRANSPORTABLE
    assert props.snapshot_attributes & _A.NOT_SURFACED

    b = machine("BACKUP")
    assert _import(b, xml) == hr.VSS_S_ASYNC_FINISHED
    imported = b.snapshot_properties(snapshot_id)
    assert imported.snapshot_attributes & _A.IMPORTED
    assert imported.originating_machine == "PROD"
    assert imported.service_machine == "BACKUP"
    # B reads the files of A's freeze instant through the imported copy.
    store = KvStore.open(b.shadow_fs(snapshot_id),
                         imported.snapshot_device_object + "\\KvStore")
    assert store.state == frozen
    assert app.store.state != frozen  # A moved on; the copy did not
    # Break: the copy becomes an ordinary (read-only) volume of B.
    with b.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(TRANSPORTABLE)
        names = bc.break_snapshot_set_ex(imported.snapshot_set_id, 0)
    assert len(names) == 1
    assert snapshot_id not in {p.snapshot_id for p in b.all_snapshots()}
    assert KvStore.open(b.volume(names[0]).fs, names[0] + "KvStore").state == frozen
    b.close()  # the broken copy is one of B's volumes from now on
    with VssSystem(b.root) as again:
        assert KvStore.open(again.volume(names[0]).fs, names[0] + "KvStore").state == frozen


def test_a_tampered_document_imports_nothing(machine: Machine) -> None:
    a, _app = _production(machine)
    xml, snapshot_id = _transportable_copy(a)
    bcd = BackupComponentsDocument.load_from_xml(xml)
    lun = bcd.snapshots[0].target_luns[0]
    bcd.snapshots[0].target_luns[0] = lun.model_copy(update={"serial_number": "FORGED"})
    b = machine("BACKUP")
    assert _import(b, bcd.save_as_xml()) == hr.VSS_E_NO_SNAPSHOTS_IMPORTED
    assert b.all_snapshots() == []
    assert _import(b, xml) == hr.VSS_S_ASYNC_FINISHED  # the real document still works
    assert [p.snapshot_id for p in b.all_snapshots()] == [snapshot_id]


@pytest.mark.parametrize(("made_on", "imported_on", "works"), [
    ("2003", "2003R2", True),
    ("2003", "2008", False),
    ("2008", "2003R2", False),
    ("2008", "2008R2", True),
    ("2008R2", "2008", True),
    ("2012R2", "2022", True),
])
def test_windows_versions_decide_whether_a_copy_can_be_imported(
        machine: Machine, made_on: str, imported_on: str, works: bool) -> None:
    a, _app = _production(machine, made_on)
    xml, _snapshot_id = _transportable_copy(a)
    b = machine("BACKUP", imported_on)
    status = _import(b, xml)
    assert (status == hr.VSS_S_ASYNC_FINISHED) == works
    if not works:
        assert status == hr.VSS_E_NO_SNAPSHOTS_IMPORTED
        assert b.all_snapshots() == []


def test_client_editions_refuse_transportable_contexts(machine: Machine) -> None:
    pc = machine("DESKTOP", "10", "client")
    with pc.create_backup_components() as bc:
        bc.initialize_for_backup()
        with pytest.raises(VssUnsupportedContextError):
            bc.set_context(TRANSPORTABLE)


@pytest.mark.parametrize("concurrent_import", ["refuse", "wait"])
def test_rule_31_imports_are_one_at_a_time(machine: Machine, concurrent_import: str) -> None:
    """A second ImportSnapshots while one runs is refused with VSS_E_SNAPSHOT_SET_IN_PROGRESS
    (nothing changed, a retry later works), or waits for the first with
    ``concurrent_import="wait"``.  Manual async mode stops the first import half-way."""
    a, _app = _production(machine)
    xml, snapshot_id = _transportable_copy(a)
    b = machine("BACKUP")
    b.options = VssOptions(concurrent_import=concurrent_import)
    first = b.create_backup_components(async_mode="manual")
    second = b.create_backup_components(async_mode="manual")
    first.initialize_for_backup(xml)
    second.initialize_for_backup(xml)
    op1 = first.import_snapshots()
    assert op1.step() == "LocateLuns"  # the first import holds the machine's import slot
    if concurrent_import == "refuse":
        with pytest.raises(VssSnapshotSetInProgressError) as caught:
            second.import_snapshots()
        assert caught.value.hresult == hr.VSS_E_SNAPSHOT_SET_IN_PROGRESS
        op1.wait()
        assert op1.query_status() == hr.VSS_S_ASYNC_FINISHED
        # Nothing changed for the refused requester: it may retry once the first is done.
        op2 = second.import_snapshots()
        op2.wait()
        # Already imported by the first, so this one brings in nothing.
        assert op2.query_status() == hr.VSS_E_NO_SNAPSHOTS_IMPORTED
    else:
        op2 = second.import_snapshots()
        assert op2.step() == "waiting for the import in progress"
        assert op2.step() == "waiting for the import in progress"
        assert op2.query_status() == hr.VSS_S_ASYNC_PENDING
        op1.wait()
        assert op1.query_status() == hr.VSS_S_ASYNC_FINISHED
        op2.wait()
        assert op2.query_status() == hr.VSS_E_NO_SNAPSHOTS_IMPORTED
        assert "LocateLuns" in op2.steps
    assert [s.snapshot_id for s in b.all_snapshots()] == [snapshot_id]
    first.release()
    second.release()


def test_rule_31_a_failed_import_leaves_its_luns_for_the_requester(machine: Machine) -> None:
    """The document's LUN is found and unmasked, then refused (it is no longer a shadow copy of
    the original the document names): nothing is imported, and the LUN stays presented to the
    importing machine for the requester to clean up with storage tools."""
    a, _app = _production(machine)
    xml, _snapshot_id = _transportable_copy(a)
    doc = BackupComponentsDocument.load_from_xml(xml)
    (target,) = doc.snapshots[0].target_luns
    san: SimulatedSan = machine.san  # type: ignore[attr-defined]
    san.break_shadow(target, "PROD")  # e.g. someone broke the copy on the array meanwhile
    b = machine("BACKUP")
    assert _import(b, xml) == hr.VSS_E_NO_SNAPSHOTS_IMPORTED
    assert b.all_snapshots() == []
    lun = san.lun(target)
    assert lun is not None and "BACKUP" in lun.presented_to
