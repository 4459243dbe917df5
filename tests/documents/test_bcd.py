"""The Backup Components Document: component entries, lookups, validation of edits."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vsssim import hresult as hr
from vsssim.constants import (
    BackupType,
    ComponentType,
    FileRestoreStatus,
    RestoreTarget,
    RollforwardType,
)
from vsssim.documents import (
    BackupComponentsDocument,
    BcdComponent,
    ComponentFailure,
    DiskExtent,
    LocationMapping,
    PartialFile,
    RestoreSubcomponent,
    WriterComponents,
)
from vsssim.errors import (
    VssInvalidArgumentError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
)

DB, FG = ComponentType.DATABASE, ComponentType.FILEGROUP
CLASS_A, CLASS_B = uuid.UUID(int=0xA), uuid.UUID(int=0xB)
INST_1, INST_2, INST_3 = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)


@pytest.fixture
def doc() -> BackupComponentsDocument:
    doc = BackupComponentsDocument(select_components=True, backup_type=BackupType.FULL)
    doc.add_component(INST_1, CLASS_A, DB, None, "db")
    doc.add_component(INST_1, CLASS_A, FG, "db", "logs")
    doc.add_component(INST_2, CLASS_A, FG, "other", "files")  # second instance, same class
    doc.add_component(INST_3, CLASS_B, DB, "", "db")  # same name, other class
    return doc


def test_entries_are_grouped_by_writer_instance(doc: BackupComponentsDocument) -> None:
    assert [w.instance_id for w in doc.writers] == [INST_1, INST_2, INST_3]
    assert [c.full_path for c in doc.writer(INST_1).components] == ["db", "db\\logs"]
    assert [w.instance_id for w in doc.writers_for_class(CLASS_A)] == [INST_1, INST_2]
    assert doc.writers_for_class(uuid.UUID(int=99)) == []


def test_find_component_by_class_type_path_and_name(doc: BackupComponentsDocument) -> None:
    writer, comp = doc.find_component(CLASS_A, FG, "OTHER", "Files")
    assert writer.instance_id == INST_2
    assert comp.full_path == "other\\files"
    assert doc.find_component(CLASS_B, DB, None, "db")[0].instance_id == INST_3
    with pytest.raises(VssObjectNotFoundError):
        doc.find_component(CLASS_A, DB, "db", "logs")  # wrong type
    with pytest.raises(VssObjectNotFoundError):
        doc.find_component(uuid.UUID(int=99), DB, "", "db")


def test_lookups_that_fail(doc: BackupComponentsDocument) -> None:
    with pytest.raises(VssObjectNotFoundError):
        doc.writer(uuid.UUID(int=99))
    with pytest.raises(VssObjectNotFoundError) as info:
        doc.writer(INST_1).component("db", "nope")
    assert info.value.hresult == hr.VSS_E_OBJECT_NOT_FOUND
    assert doc.writer(INST_1).component(None, "DB").component_type is DB


def test_duplicate_per_writer_class_across_instances(doc: BackupComponentsDocument) -> None:
    before = doc.model_copy(deep=True)
    with pytest.raises(VssObjectAlreadyExistsError):
        doc.add_component(INST_2, CLASS_A, FG, "DB", "LOGS")  # INST_1 has it; same class
    with pytest.raises(VssObjectAlreadyExistsError):
        doc.add_component(uuid.UUID(int=4), CLASS_A, DB, "", "db")  # a new instance too
    assert doc == before


@pytest.mark.parametrize(
    ("args", "error", "argument"),
    [
        ((INST_1, CLASS_A, 9, "", "x"), VssInvalidArgumentError, "component_type=9"),
        (
            (INST_1, CLASS_A, ComponentType.UNDEFINED, "", "x"),
            VssInvalidArgumentError,
            "component_type",
        ),
        ((INST_1, CLASS_A, DB, "a\\", "x"), VssInvalidArgumentError, "logical_path"),
        ((INST_1, CLASS_A, DB, "", ""), VssInvalidArgumentError, "component_name"),
        ((INST_1, CLASS_A, DB, "", "a\\b"), VssInvalidArgumentError, "component_name"),
        ((INST_1, CLASS_B, DB, "", "x"), VssInvalidArgumentError, "writer_id"),  # instance of A
        ((str(INST_1), CLASS_A, DB, "", "x"), TypeError, "instance_id"),
        ((INST_1, CLASS_A, DB, "", 5), TypeError, "component_name"),
    ],
)
def test_add_component_refuses_bad_arguments(
    doc: BackupComponentsDocument, args: tuple[object, ...], error: type[Exception], argument: str
) -> None:
    before = doc.model_copy(deep=True)
    with pytest.raises(error, match=argument):
        doc.add_component(*args)  # type: ignore[arg-type]
    assert doc == before


def test_returned_entry_is_the_live_one(doc: BackupComponentsDocument) -> None:
    comp = doc.add_component(INST_3, CLASS_B, FG, "x", "y")
    comp.backup_succeeded = True
    comp.partial_files.append(PartialFile(path="C:\\d\\", filename="f.db", ranges="0:10"))
    loaded = BackupComponentsDocument.load_from_xml(doc.save_as_xml())
    _, found = loaded.find_component(CLASS_B, FG, "x", "y")
    assert found.backup_succeeded
    assert found.partial_files[0].path == "C:\\d"


def test_assignments_are_validated() -> None:
    comp = BcdComponent(component_type=DB, component_name="c")
    comp.restore_target = 3  # type: ignore[assignment]
    assert comp.restore_target is RestoreTarget.DIRECTED
    for field, value in [
        ("restore_target", 9),
        ("restore_target", "DIRECTED"),
        ("file_restore_status", -1),
        ("backup_succeeded", "yes"),
        ("backup_succeeded", 1),
        ("logical_path", "\\x"),
        ("component_name", ""),
        ("roll_forward_type", 4),
        ("backup_stamp", None),
    ]:
        with pytest.raises(ValidationError, match=field):
            setattr(comp, field, value)
    assert comp == BcdComponent(
        component_type=DB, component_name="c", restore_target=RestoreTarget.DIRECTED
    )
    comp.file_restore_status = FileRestoreStatus.FAILED
    comp.roll_forward_type = RollforwardType.PARTIAL


def test_hresults_are_stored_unsigned() -> None:
    signed = hr.to_signed(hr.VSS_E_OBJECT_NOT_FOUND)
    assert signed < 0
    failure = ComponentFailure(hresult=signed, application_hresult=hr.E_FAIL)
    assert failure.hresult == hr.VSS_E_OBJECT_NOT_FOUND
    assert failure.application_hresult == 0x80004005
    with pytest.raises(ValidationError):
        ComponentFailure(hresult=1 << 32)
    with pytest.raises(ValidationError):
        ComponentFailure(hresult=-(1 << 31) - 1)
    doc = BackupComponentsDocument()
    doc.add_component(INST_1, CLASS_A, DB, "", "c").failure = failure
    assert 'hresult="0x80042308"' in doc.save_as_xml()


def test_field_rules_of_the_parts() -> None:
    with pytest.raises(ValidationError, match="filename"):
        PartialFile(path="C:\\", filename="*.db", ranges="0:1")
    with pytest.raises(ValidationError, match="destination"):
        LocationMapping(path="C:\\a", filespec="*", recursive=False, destination="")
    with pytest.raises(ValidationError, match="offset"):
        DiskExtent(offset=-1, length=0)
    with pytest.raises(ValidationError, match="component_name"):
        RestoreSubcomponent(logical_path="a", component_name="b\\c")
    with pytest.raises(ValidationError, match="extra"):
        BcdComponent(component_type=DB, component_name="c", colour="red")  # type: ignore[call-arg]
    assert RestoreSubcomponent(logical_path="a", component_name="b").full_path == "a\\b"


def test_document_rules_on_construction() -> None:
    a = WriterComponents(instance_id=INST_1, writer_id=CLASS_A)
    with pytest.raises(ValidationError, match="listed twice"):
        BackupComponentsDocument(writers=[a, a.model_copy()])
    c1 = BcdComponent(component_type=DB, component_name="c")
    c2 = BcdComponent(component_type=FG, component_name="C")
    with pytest.raises(ValidationError, match="listed twice"):
        BackupComponentsDocument(
            writers=[
                WriterComponents(instance_id=INST_1, writer_id=CLASS_A, components=[c1]),
                WriterComponents(instance_id=INST_2, writer_id=CLASS_A, components=[c2]),
            ]
        )
    # Different classes may use the same key.
    BackupComponentsDocument(
        writers=[
            WriterComponents(instance_id=INST_1, writer_id=CLASS_A, components=[c1]),
            WriterComponents(instance_id=INST_2, writer_id=CLASS_B, components=[c2]),
        ]
    )


def test_snapshot_set_id_is_optional_in_xml() -> None:
    doc = BackupComponentsDocument()
    assert "snapshotSetId" not in doc.save_as_xml()
    doc.snapshot_set_id = uuid.UUID(int=5)
    assert 'snapshotSetId="{00000000-0000-0000-0000-000000000005}"' in doc.save_as_xml()
    assert BackupComponentsDocument.load_from_xml(doc.save_as_xml()) == doc


def test_list_edits_that_break_a_rule_are_caught_at_save(doc: BackupComponentsDocument) -> None:
    doc.writers.append(doc.writers[0].model_copy(deep=True))
    with pytest.raises(ValueError, match="listed twice"):
        doc.save_as_xml()


@given(path=st.sampled_from(["", "a", "a\\b", "Ünïcode\\x"]),
       name=st.sampled_from(["db", "DB", "ß", "x y"]),
       ctype=st.sampled_from([ComponentType.DATABASE, ComponentType.FILEGROUP, 1, 2]),
       plain=st.booleans())
def test_add_component_builds_what_the_validating_constructors_build(
        path: str, name: str, ctype: Any, plain: bool) -> None:
    class Name(str):
        pass

    instance_id, writer_id = uuid.UUID(int=1), uuid.UUID(int=2)
    if not plain:  # str subclasses: the validating constructors are used
        path, name = Name(path), Name(name)
    doc = BackupComponentsDocument()
    comp = doc.add_component(instance_id, writer_id, ctype, path, name)
    expected = BcdComponent(component_type=ComponentType(ctype), logical_path=path,
                            component_name=name)
    assert comp == expected
    assert comp.model_fields_set == expected.model_fields_set
    assert comp.model_dump() == expected.model_dump()
    assert doc.writers == [WriterComponents(instance_id=instance_id, writer_id=writer_id,
                                            components=[expected])]
    assert doc.writers[0].model_fields_set == {"instance_id", "writer_id"}
    again = BackupComponentsDocument.load_from_xml(doc.save_as_xml())
    assert again == doc
    assert doc.find_component(writer_id, ComponentType(ctype), path, name)[1] is comp
