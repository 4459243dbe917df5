"""WriterMetadata as a model: the document rules hold however a document is made."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from vsssim.constants import ComponentType, FileSpecBackupType, RestoreMethod, WriterRestore
from vsssim.documents import (
    Dependency,
    FileDescriptor,
    RestoreMethodInfo,
    WmdComponent,
    WriterIdentity,
    WriterMetadata,
)

from .conftest import OTHER_WRITER_ID, WRITER_ID

DB, FG = ComponentType.DATABASE, ComponentType.FILEGROUP


def files(path: str = "C:\\d", spec: str = "*", recursive: bool = False) -> FileDescriptor:
    return FileDescriptor(path=path, filespec=spec, recursive=recursive)


def group(name: str, path: str = "", *descs: FileDescriptor, **kw: object) -> WmdComponent:
    return WmdComponent.model_validate(
        {
            "component_type": FG,
            "logical_path": path,
            "component_name": name,
            "selectable": True,
            "files": list(descs),
            **kw,
        }
    )


RESTORE = RestoreMethodInfo(
    method=RestoreMethod.RESTORE_IF_CAN_REPLACE, writer_restore=WriterRestore.ALWAYS
)


def test_properties_of_components_and_documents(identity: WriterIdentity) -> None:
    db = WmdComponent(
        component_type=DB,
        logical_path="a\\b",
        component_name="db",
        selectable=False,
        database_files=[files("C:\\x", "*.mdf")],
        database_log_files=[files("C:\\x", "*.ldf")],
    )
    assert db.full_path == "a\\b\\db"
    assert [f.filespec for f in db.all_files] == ["*.mdf", "*.ldf"]
    doc = WriterMetadata(identity=identity, components=[db, group("g")], exclude_files=[files()])
    assert doc.file_counts == (0, 1, 2)
    assert doc.component("A\\B", "DB") is doc.components[0]


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ([group("a"), group("A")], "declared twice"),
        ([group("a", "p\\q"), group("A", "P\\Q")], "declared twice"),
        ([group("a", "", files()), group("b", "", files("c:\\D\\", "*"))], "declared twice"),
        ([group("a", "", files(), files())], "declared twice"),
    ],
)
def test_duplicates_are_refused(
    identity: WriterIdentity, components: list[WmdComponent], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        WriterMetadata(identity=identity, components=components)


def test_distinct_file_sets_differ_by_recursion(identity: WriterIdentity) -> None:
    WriterMetadata(identity=identity, components=[group("a", "", files(), files(recursive=True))])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"component_type": ComponentType.UNDEFINED}, "DATABASE or FILEGROUP"),
        ({"restore_metadata": True}, "reserved"),
        ({"notify_on_backup_complete": True}, "reserved"),
        ({"component_type": DB, "files": [files()]}, "not file-group files"),
        ({"database_files": [files()]}, "not database files"),
        ({"component_type": DB, "database_files": [files(recursive=True)]}, "never recurse"),
        (
            {
                "component_type": DB,
                "database_log_files": [
                    FileDescriptor(path="C:\\l", filespec="*", alternate_location="D:\\x")
                ],
            },
            "no alternate path",
        ),
        ({"component_flags": 16}, "VSS_COMPONENT_FLAGS"),
        ({"component_name": "a\\b"}, "backslash"),
        ({"logical_path": "a\\\\b"}, "empty element"),
        ({"caption": "\x02"}, "caption"),
        ({"selectable": 1}, "selectable"),
        (
            {
                "dependencies": [
                    Dependency(writer_id=OTHER_WRITER_ID, logical_path="x", component_name="y")
                ]
                * 2
            },
            "declared twice",
        ),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_component_rules(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"component_type": FG, "component_name": "c", "selectable": True}
    with pytest.raises(ValidationError, match=message):
        WmdComponent.model_validate(base | fields)


def test_mappings_need_a_restore_method_and_a_file_set(identity: WriterIdentity) -> None:
    comp = group("g", "", files("C:\\d", "*.txt"))
    mapping = FileDescriptor(path="C:\\D\\", filespec="*.TXT", alternate_location="E:\\r")
    WriterMetadata(
        identity=identity,
        components=[comp],
        restore_method=RESTORE,
        alternate_location_mappings=[mapping],
    )
    with pytest.raises(ValidationError, match="need a restore method"):
        WriterMetadata(identity=identity, components=[comp], alternate_location_mappings=[mapping])
    with pytest.raises(ValidationError, match="matches no component file set"):
        WriterMetadata(
            identity=identity,
            components=[comp],
            restore_method=RESTORE,
            alternate_location_mappings=[mapping.model_copy(update={"recursive": True})],
        )
    with pytest.raises(ValidationError, match="no destination"):
        WriterMetadata(
            identity=identity,
            components=[comp],
            restore_method=RESTORE,
            alternate_location_mappings=[mapping.model_copy(update={"alternate_location": ""})],
        )
    with pytest.raises(ValidationError, match="mapped twice"):
        WriterMetadata(
            identity=identity,
            components=[comp],
            restore_method=RESTORE,
            alternate_location_mappings=[mapping, mapping],
        )


def test_writer_level_lists(identity: WriterIdentity) -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        WriterMetadata(identity=identity, exclude_files=[files(), files("c:\\d\\")])
    with pytest.raises(ValidationError, match="has a backup mask"):
        WriterMetadata(
            identity=identity,
            include_files=[
                FileDescriptor(path="C:\\a", filespec="*", backup_type_mask=FileSpecBackupType(1))
            ],
        )
    with pytest.raises(ValidationError, match="alternate location"):
        WriterMetadata(
            identity=identity,
            exclude_files_from_snapshot=[
                FileDescriptor(path="C:\\a", filespec="*", alternate_location="D:\\")
            ],
        )
    WriterMetadata(
        identity=identity,
        include_files=[FileDescriptor(path="C:\\a", filespec="*", alternate_location="D:\\")],
    )


def test_self_dependency_is_refused_unless_remote(identity: WriterIdentity) -> None:
    local = Dependency(writer_id=WRITER_ID, logical_path="x", component_name="y")
    with pytest.raises(ValidationError, match="its own writer"):
        WriterMetadata(identity=identity, components=[group("a", "", dependencies=[local])])
    remote = Dependency(writer_id=WRITER_ID, logical_path="\\\\Node2\\x", component_name="y")
    WriterMetadata(identity=identity, components=[group("a", "", dependencies=[remote])])


def test_service_only_with_stop_methods() -> None:
    with pytest.raises(ValidationError, match="service"):
        RestoreMethodInfo(
            method=RestoreMethod.CUSTOM, service="svc", writer_restore=WriterRestore.NEVER
        )
    RestoreMethodInfo(
        method=RestoreMethod.RESTORE_STOP_START, service="svc", writer_restore=WriterRestore.NEVER
    )


def test_identity_fields_are_strict() -> None:
    base: dict[str, object] = {
        "writer_id": uuid.UUID(int=1),
        "instance_id": uuid.UUID(int=2),
        "writer_name": "w",
        "usage_type": 3,
        "source_type": 1,
    }
    WriterIdentity.model_validate(base)
    for field, value in [
        ("writer_id", "00000000-0000-0000-0000-000000000001"),
        ("usage_type", 5),
        ("usage_type", "USERDATA"),
        ("version_major", -1),
        ("version_major", 1 << 32),
        ("version_major", "1"),
    ]:
        with pytest.raises(ValidationError, match=field):
            WriterIdentity.model_validate(base | {field: value})


def test_validate_assignment_on_mutable_models(identity: WriterIdentity) -> None:
    doc = WriterMetadata(identity=identity, components=[group("a"), group("b")])
    with pytest.raises(ValidationError, match="backup_schema"):
        doc.backup_schema = 0x800  # type: ignore[assignment]
    with pytest.raises(ValidationError, match="need a restore method"):
        doc.alternate_location_mappings = [files()]
    assert doc.alternate_location_mappings == []
    with pytest.raises(ValidationError, match="component_name"):
        doc.components[0].component_name = ""
    assert doc.components[0].component_name == "a"


def test_refused_assignment_changes_nothing() -> None:
    comp = group("g", "", files())
    with pytest.raises(ValidationError, match="not file-group files"):
        comp.component_type = DB
    assert comp.component_type is FG
    assert comp == group("g", "", files())


def test_list_edits_that_break_a_rule_are_caught_at_save(identity: WriterIdentity) -> None:
    doc = WriterMetadata(identity=identity, components=[group("a")])
    doc.components.append(group("A"))  # appending bypasses pydantic's validation
    with pytest.raises(ValueError, match="declared twice"):
        doc.save_as_xml()
    doc.components.pop()
    doc.components[0].database_files.append(files())
    with pytest.raises(ValueError, match="not database files"):
        doc.save_as_xml()


def test_a_lookup_by_a_name_that_is_not_a_str_is_a_type_error(identity: WriterIdentity) -> None:
    doc = WriterMetadata(identity=identity, components=[group("a")])
    assert doc.component(None, "A").component_name == "a"  # names compare case-folded
    with pytest.raises(TypeError, match="must be a str, not list"):
        doc.component(None, ["a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a str, not int"):
        doc.component(7, "a")  # type: ignore[arg-type]
