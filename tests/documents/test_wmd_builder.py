"""WriterMetadataBuilder (IVssCreateWriterMetadata): one test per documented rule.

Every failing call must raise the SDK's error class, name the offending argument where it is an
argument problem, and leave the document exactly as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from vsssim import hresult as hr
from vsssim.constants import (
    BackupSchema,
    ComponentFlags,
    ComponentType,
    FileSpecBackupType,
    RestoreMethod,
    WriterRestore,
)
from vsssim.documents import (
    FileDescriptor,
    WriterIdentity,
    WriterMetadata,
    WriterMetadataBuilder,
)
from vsssim.errors import (
    VssError,
    VssInvalidArgumentError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
)

from .conftest import OTHER_WRITER_ID, WRITER_ID

DB = ComponentType.DATABASE
FG = ComponentType.FILEGROUP


def refused(
    builder: WriterMetadataBuilder, error: type[BaseException], call: Callable[[], Any]
) -> BaseException:
    """Run a call that must fail with ``error`` and check that nothing changed."""
    before = builder.get_document()
    xml_before = builder.save_as_xml()
    with pytest.raises(error) as info:
        call()
    assert builder.get_document() == before
    assert builder.save_as_xml() == xml_before
    return info.value


@pytest.fixture
def populated(builder: WriterMetadataBuilder) -> WriterMetadataBuilder:
    builder.add_component(DB, None, "db")
    builder.add_database_files(None, "db", "C:\\data\\", "*.mdf")
    builder.add_database_log_files("", "db", "C:\\logs", "*.ldf")
    builder.add_component(FG, "db", "config", selectable=False)
    builder.add_files_to_file_group("db", "config", "C:\\cfg", "*.ini", True, "D:\\alt")
    return builder


# ------------------------------------------------------------------------------ happy path


def test_builder_builds_the_documented_structure(populated: WriterMetadataBuilder) -> None:
    populated.set_restore_method(RestoreMethod.STOP_RESTORE_START, "MSSQLSERVER")
    populated.add_alternate_location_mapping("C:\\cfg", "*.ini", True, "E:\\restore")
    populated.add_component_dependency("db", "config", OTHER_WRITER_ID, "Root", "Other")
    populated.set_backup_schema(BackupSchema.DIFFERENTIAL | BackupSchema.LOG)
    populated.add_include_files("C:\\inc", "*", False)
    populated.add_exclude_files("C:\\data", "*.tmp", False)
    populated.add_exclude_files_from_snapshot("C:\\data", "*.bak", True)
    doc = populated.get_document()
    db = doc.component("", "db")
    assert db.component_type is DB
    assert db.database_files == [FileDescriptor(path="C:\\data", filespec="*.mdf")]
    assert db.database_log_files[0].backup_type_mask == FileSpecBackupType(0xF0F)
    config = doc.component("DB", "CONFIG")  # case-insensitive, as on Windows
    assert config.full_path == "db\\config"
    assert config.files[0].alternate_location == "D:\\alt"
    assert config.dependencies[0].writer_id == OTHER_WRITER_ID
    assert doc.restore_method is not None
    assert doc.restore_method.service == "MSSQLSERVER"
    assert doc.restore_method.writer_restore is WriterRestore.ALWAYS
    assert doc.alternate_location_mappings[0].alternate_location == "E:\\restore"
    assert doc.backup_schema == BackupSchema.DIFFERENTIAL | BackupSchema.LOG
    assert doc.file_counts == (1, 1, 2)
    assert [len(c.all_files) for c in doc.components] == [2, 1]
    # What the builder makes is valid by the document's own rules.
    assert WriterMetadata.model_validate(doc.model_dump()) == doc


def test_get_document_is_a_deep_copy(populated: WriterMetadataBuilder) -> None:
    doc = populated.get_document()
    doc.components[0].database_files.clear()
    doc.components.clear()
    assert len(populated.get_document().components) == 2


def test_root_logical_path_is_none_or_empty(builder: WriterMetadataBuilder) -> None:
    builder.add_component(FG, None, "a")
    builder.add_component(FG, "", "b")
    assert [c.logical_path for c in builder.get_document().components] == ["", ""]
    assert builder.get_document().component(None, "a").full_path == "a"


def test_trailing_backslash_of_a_path_is_normalised_away(builder: WriterMetadataBuilder) -> None:
    builder.add_component(FG, None, "g")
    builder.add_files_to_file_group(None, "g", "C:\\dir\\\\", "*", False, "D:\\alt\\")
    desc = builder.get_document().components[0].files[0]
    assert (desc.path, desc.alternate_location) == ("C:\\dir", "D:\\alt")


def test_volume_guid_path_is_not_a_wildcard(builder: WriterMetadataBuilder) -> None:
    builder.add_component(FG, None, "g")
    builder.add_files_to_file_group(None, "g", "\\\\?\\Volume{1234}\\dir\\", "*", False)
    assert builder.get_document().components[0].files[0].path == "\\\\?\\Volume{1234}\\dir"


# ------------------------------------------------------------------------------ components


def test_component_name_is_required(builder: WriterMetadataBuilder) -> None:
    err = refused(builder, VssInvalidArgumentError, lambda: builder.add_component(DB, None, ""))
    assert "component_name" in str(err)


def test_component_name_has_no_backslash(builder: WriterMetadataBuilder) -> None:
    err = refused(builder, VssInvalidArgumentError, lambda: builder.add_component(DB, "", "a\\b"))
    assert "component_name='a\\\\b'" in str(err)


@pytest.mark.parametrize(
    "path",
    ["\\lead", "trail\\", "a\\\\b", "a\\", "\\", "tab\there", "nl\nhere", "del\x7f", "c1\x85"],
)
def test_bad_logical_paths_are_refused(builder: WriterMetadataBuilder, path: str) -> None:
    err = refused(builder, VssInvalidArgumentError, lambda: builder.add_component(DB, path, "c"))
    assert str(err).startswith("logical_path=")


def test_remote_prefix_is_only_for_dependency_targets(builder: WriterMetadataBuilder) -> None:
    refused(builder, VssInvalidArgumentError, lambda: builder.add_component(DB, "\\\\PC\\x", "c"))


def test_duplicate_component_is_refused_case_insensitively(builder: WriterMetadataBuilder) -> None:
    builder.add_component(DB, "Data\\Set", "Jan")
    err = refused(
        builder, VssObjectAlreadyExistsError, lambda: builder.add_component(FG, "DATA\\set", "JAN")
    )
    assert isinstance(err, VssError)
    assert err.hresult == hr.VSS_E_OBJECT_ALREADY_EXISTS


def test_same_name_under_another_path_is_fine(builder: WriterMetadataBuilder) -> None:
    builder.add_component(DB, "Set1", "Jan")
    builder.add_component(DB, "Set2", "Jan")
    assert len(builder.get_document().components) == 2


@pytest.mark.parametrize("argument", ["restore_metadata", "notify_on_backup_complete"])
def test_reserved_flags_must_be_false(builder: WriterMetadataBuilder, argument: str) -> None:
    err = refused(
        builder,
        VssInvalidArgumentError,
        lambda: builder.add_component(DB, "", "c", **{argument: True}),  # type: ignore[arg-type]
    )
    assert argument in str(err)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (7, "component_type=7 is not a VSS_COMPONENT_TYPE value"),
        (-1, "component_type=-1 is not a VSS_COMPONENT_TYPE value"),
        ("DATABASE", "component_type='DATABASE' is not a VSS_COMPONENT_TYPE value"),
        (True, "component_type=True is not a VSS_COMPONENT_TYPE value"),
        (1.0, "component_type=1.0 is not a VSS_COMPONENT_TYPE value"),
    ],
)
def test_unknown_component_type_names_the_argument(
    builder: WriterMetadataBuilder, value: object, message: str
) -> None:
    err = refused(
        builder,
        VssInvalidArgumentError,
        lambda: builder.add_component(value, "", "c"),  # type: ignore[arg-type]
    )
    assert message in str(err)


def test_an_enum_argument_error_says_what_to_pass(builder: WriterMetadataBuilder) -> None:
    err = refused(
        builder,
        VssInvalidArgumentError,
        lambda: builder.add_component("filegroup", "", "c"),  # type: ignore[arg-type]
    )
    assert "pass a ComponentType, e.g. ComponentType.FILEGROUP" in str(err)


def test_undefined_component_type_is_refused(builder: WriterMetadataBuilder) -> None:
    refused(
        builder,
        VssInvalidArgumentError,
        lambda: builder.add_component(ComponentType.UNDEFINED, "", "c"),
    )


def test_plain_int_enum_values_are_accepted(builder: WriterMetadataBuilder) -> None:
    builder.add_component(1, "", "c", component_flags=3)  # type: ignore[arg-type]
    comp = builder.get_document().components[0]
    assert comp.component_type is ComponentType.DATABASE
    assert (
        comp.component_flags
        == ComponentFlags.BACKUP_RECOVERY | ComponentFlags.APP_ROLLBACK_RECOVERY
    )


def test_component_flags_with_undefined_bits_are_refused(builder: WriterMetadataBuilder) -> None:
    err = refused(
        builder,
        VssInvalidArgumentError,
        lambda: builder.add_component(DB, "", "c", component_flags=8),
    )
    assert "component_flags=8" in str(err)
    assert "VSS_COMPONENT_FLAGS" in str(err)


def test_caption_must_be_xml_text(builder: WriterMetadataBuilder) -> None:
    err = refused(
        builder,
        VssInvalidArgumentError,
        lambda: builder.add_component(DB, "", "c", caption="a\x01"),
    )
    assert "caption" in str(err)
    assert "U+0001" in str(err)


def test_lone_surrogate_is_refused(builder: WriterMetadataBuilder) -> None:
    refused(builder, VssInvalidArgumentError, lambda: builder.add_component(DB, "", "bad\ud800"))


def test_python_type_misuse_raises_type_error(builder: WriterMetadataBuilder) -> None:
    refused(builder, TypeError, lambda: builder.add_component(DB, "", 5))  # type: ignore[arg-type]
    refused(builder, TypeError, lambda: builder.add_component(DB, "", "c", selectable="yes"))  # type: ignore[arg-type]
    refused(builder, TypeError, lambda: builder.add_component(DB, "", "c", icon="png"))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ file sets


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.add_database_files("", "nope", "C:\\x", "*"),
        lambda b: b.add_database_log_files("", "nope", "C:\\x", "*"),
        lambda b: b.add_files_to_file_group("", "nope", "C:\\x", "*", False),
        lambda b: b.add_component_dependency("", "nope", OTHER_WRITER_ID, "", "x"),
    ],
)
def test_file_calls_on_unknown_component_are_not_found(
    populated: WriterMetadataBuilder, call: Callable[[WriterMetadataBuilder], None]
) -> None:
    err = refused(populated, VssObjectNotFoundError, lambda: call(populated))
    assert isinstance(err, VssError)
    assert err.hresult == hr.VSS_E_OBJECT_NOT_FOUND


def test_database_files_need_a_database_component(populated: WriterMetadataBuilder) -> None:
    err = refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_database_files("db", "config", "C:\\y", "*"),
    )
    assert "database_name" in str(err)
    refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_database_log_files("db", "config", "C:\\y", "*"),
    )


def test_file_group_files_need_a_file_group_component(populated: WriterMetadataBuilder) -> None:
    err = refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_files_to_file_group("", "db", "C:\\y", "*", False),
    )
    assert "group_name" in str(err)


@pytest.mark.parametrize("filespec", ["", "dir\\*.txt", "a\nb"])
def test_bad_filespecs_are_refused(populated: WriterMetadataBuilder, filespec: str) -> None:
    err = refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_files_to_file_group("db", "config", "C:\\z", filespec, False),
    )
    assert str(err).startswith("filespec=")


@pytest.mark.parametrize("path", ["", "\\", "C:\\*", "C:\\dir?", "C:\\a\tb"])
def test_bad_paths_are_refused(populated: WriterMetadataBuilder, path: str) -> None:
    err = refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_database_files("", "db", path, "*.mdf"),
    )
    assert str(err).startswith("path=")


def test_file_set_declared_twice_in_a_writer_is_refused(populated: WriterMetadataBuilder) -> None:
    # Same file set as db's data files, via another component, different case, trailing "\".
    populated.add_component(DB, None, "db2")
    refused(
        populated,
        VssObjectAlreadyExistsError,
        lambda: populated.add_database_files("", "db2", "c:\\DATA\\", "*.MDF"),
    )
    # A different recursion flag is a different file set.
    populated.add_files_to_file_group("db", "config", "C:\\cfg", "*.ini", False)


def test_backup_type_mask_with_undefined_bits_is_refused(populated: WriterMetadataBuilder) -> None:
    err = refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_database_files("", "db", "C:\\q", "*", 0x1000),
    )
    assert "backup_type_mask=4096" in str(err)


def test_duplicate_exclude_and_include_entries_are_refused(builder: WriterMetadataBuilder) -> None:
    builder.add_exclude_files("C:\\t", "*.tmp", False)
    refused(
        builder,
        VssObjectAlreadyExistsError,
        lambda: builder.add_exclude_files("c:\\T\\", "*.TMP", False),
    )
    builder.add_include_files("C:\\t", "*", True)
    refused(
        builder, VssObjectAlreadyExistsError, lambda: builder.add_include_files("C:\\t", "*", True)
    )
    builder.add_exclude_files_from_snapshot("C:\\t", "*", True)
    refused(
        builder,
        VssObjectAlreadyExistsError,
        lambda: builder.add_exclude_files_from_snapshot("C:\\t", "*", True),
    )


# ------------------------------------------------------------------------------ restore method


def test_restore_method_is_set_once(builder: WriterMetadataBuilder) -> None:
    builder.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
    refused(
        builder,
        VssObjectAlreadyExistsError,
        lambda: builder.set_restore_method(RestoreMethod.RESTORE_IF_NOT_THERE),
    )


@pytest.mark.parametrize("method", [RestoreMethod.RESTORE_IF_CAN_REPLACE, RestoreMethod.CUSTOM])
def test_service_only_with_stop_methods(
    builder: WriterMetadataBuilder, method: RestoreMethod
) -> None:
    err = refused(
        builder, VssInvalidArgumentError, lambda: builder.set_restore_method(method, "MySvc")
    )
    assert str(err).startswith("service=")


@pytest.mark.parametrize(
    "method", [RestoreMethod.STOP_RESTORE_START, RestoreMethod.RESTORE_STOP_START]
)
def test_service_with_stop_methods(builder: WriterMetadataBuilder, method: RestoreMethod) -> None:
    builder.set_restore_method(method, "MySvc", None, WriterRestore.NEVER, True)
    info = builder.get_document().restore_method
    assert info is not None
    assert (info.service, info.writer_restore, info.reboot_required) == (
        "MySvc",
        WriterRestore.NEVER,
        True,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": 99}, "method=99 is not a VSS_RESTOREMETHOD_ENUM value"),
        (
            {"method": 1, "writer_restore": 7},
            "writer_restore=7 is not a VSS_WRITERRESTORE_ENUM value",
        ),
    ],
)
def test_restore_method_enums_are_checked(
    builder: WriterMetadataBuilder, kwargs: dict[str, Any], message: str
) -> None:
    err = refused(builder, VssInvalidArgumentError, lambda: builder.set_restore_method(**kwargs))
    assert message in str(err)


def test_mapping_before_restore_method_is_not_found(populated: WriterMetadataBuilder) -> None:
    refused(
        populated,
        VssObjectNotFoundError,
        lambda: populated.add_alternate_location_mapping("C:\\cfg", "*.ini", True, "E:\\r"),
    )


@pytest.mark.parametrize(
    ("path", "spec", "recursive"),
    [("C:\\cfg", "*.ini", False), ("C:\\cfg", "*.txt", True), ("C:\\other", "*.ini", True)],
)
def test_mapping_must_match_a_file_set_exactly(
    populated: WriterMetadataBuilder, path: str, spec: str, recursive: bool
) -> None:
    populated.set_restore_method(RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION)
    refused(
        populated,
        VssObjectNotFoundError,
        lambda: populated.add_alternate_location_mapping(path, spec, recursive, "E:\\r"),
    )


def test_mapping_matches_case_insensitively_and_only_once(populated: WriterMetadataBuilder) -> None:
    populated.set_restore_method(RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION)
    populated.add_alternate_location_mapping("c:\\CFG\\", "*.INI", True, "E:\\r")
    refused(
        populated,
        VssObjectAlreadyExistsError,
        lambda: populated.add_alternate_location_mapping("C:\\cfg", "*.ini", True, "F:\\r"),
    )


def test_mapping_needs_a_destination(populated: WriterMetadataBuilder) -> None:
    populated.set_restore_method(RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION)
    err = refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_alternate_location_mapping("C:\\cfg", "*.ini", True, ""),
    )
    assert str(err).startswith("destination=")


# ------------------------------------------------------------------------------ dependencies


def test_dependency_on_the_same_writer_is_refused(populated: WriterMetadataBuilder) -> None:
    err = refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_component_dependency("", "db", WRITER_ID, "db", "config"),
    )
    assert "on_writer_id" in str(err)


def test_remote_dependency_on_the_same_writer_class_is_fine(
    populated: WriterMetadataBuilder,
) -> None:
    populated.add_component_dependency("", "db", WRITER_ID, "\\\\Node2\\db", "config")
    populated.add_component_dependency("", "db", WRITER_ID, "", "\\\\Node2\\db")
    deps = populated.get_document().component("", "db").dependencies
    assert [d.is_remote for d in deps] == [True, True]


def test_remote_root_dependency(populated: WriterMetadataBuilder) -> None:
    populated.add_component_dependency("", "db", OTHER_WRITER_ID, "\\\\Node2\\", "Top")
    assert (
        populated.get_document().component("", "db").dependencies[0].logical_path == "\\\\Node2\\"
    )


@pytest.mark.parametrize(
    ("path", "name", "argument"),
    [
        ("\\\\\\x", "c", "on_logical_path"),  # empty computer name
        ("\\\\PC", "c", "on_logical_path"),  # no backslash after the computer
        ("a\\", "c", "on_logical_path"),
        ("a", "x\\y", "on_component_name"),
        ("\\\\PC\\a", "\\\\PC\\c", "on_component_name"),  # prefix on both
    ],
)
def test_bad_dependency_targets(
    populated: WriterMetadataBuilder, path: str, name: str, argument: str
) -> None:
    err = refused(
        populated,
        VssInvalidArgumentError,
        lambda: populated.add_component_dependency("", "db", OTHER_WRITER_ID, path, name),
    )
    assert str(err).startswith(argument)


def test_duplicate_dependency_is_refused(populated: WriterMetadataBuilder) -> None:
    populated.add_component_dependency("", "db", OTHER_WRITER_ID, "A", "B")
    refused(
        populated,
        VssObjectAlreadyExistsError,
        lambda: populated.add_component_dependency("", "DB", OTHER_WRITER_ID, "a", "b"),
    )


def test_dependency_writer_id_must_be_a_uuid(populated: WriterMetadataBuilder) -> None:
    refused(
        populated,
        TypeError,
        lambda: populated.add_component_dependency("", "db", str(OTHER_WRITER_ID), "a", "b"),  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------ schema


def test_backup_schema_with_undefined_bits_is_refused(builder: WriterMetadataBuilder) -> None:
    err = refused(builder, VssInvalidArgumentError, lambda: builder.set_backup_schema(0x800))
    assert "schema=2048" in str(err)
    assert "VSS_BACKUP_SCHEMA" in str(err)
    refused(builder, VssInvalidArgumentError, lambda: builder.set_backup_schema(-1))
    refused(builder, VssInvalidArgumentError, lambda: builder.set_backup_schema("COPY"))  # type: ignore[arg-type]


def test_backup_schema_can_be_replaced(builder: WriterMetadataBuilder) -> None:
    builder.set_backup_schema(BackupSchema.COPY)
    builder.set_backup_schema(0x1 | 0x2 | 0x8000)
    assert builder.get_document().backup_schema == BackupSchema(0x8003)


def test_builder_needs_an_identity() -> None:
    with pytest.raises(TypeError):
        WriterMetadataBuilder({"writer_id": uuid.uuid4()})  # type: ignore[arg-type]


def test_component_lookup_not_found(identity: WriterIdentity) -> None:
    doc = WriterMetadata(identity=identity)
    with pytest.raises(VssObjectNotFoundError, match="Set1"):
        doc.component("writerData", "Set1")
