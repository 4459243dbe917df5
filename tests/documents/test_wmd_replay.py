"""WriterMetadataBuilder's replay of a recorded Identify: indistinguishable from building.

A writer makes the same builder calls at every Identify; the builder recognises the calls of
the last Identify of the writer class and hands over a copy of the document they built.  These
tests check that what comes out (documents, errors, XML) is what a builder with nothing
recorded gives, and that no document handed over shares a mutable part with another.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim.constants import (
    BackupSchema,
    ComponentType,
    RestoreMethod,
    SourceType,
    UsageType,
)
from vsssim.documents import FileDescriptor, WmdComponent, WriterIdentity, WriterMetadata
from vsssim.documents import wmd as wmd_module
from vsssim.documents.wmd import WriterMetadataBuilder
from vsssim.errors import VssBadStateError, VssInvalidArgumentError, VssObjectAlreadyExistsError

from .conftest import OTHER_WRITER_ID, WRITER_ID

DB = ComponentType.DATABASE
FG = ComponentType.FILEGROUP


class Name(str):
    """A str subclass: its equality could differ from str's, so calls with it are not recorded."""


class Equal(str):
    """A str equal to every other: it must never make a call pass for a recorded one."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


@pytest.fixture(autouse=True)
def _nothing_recorded() -> Iterator[None]:
    wmd_module._RECORDED.clear()
    yield
    wmd_module._RECORDED.clear()


def _identity(instance: int = 1, name: str = "MyWriter",
              writer_id: uuid.UUID = WRITER_ID, instance_name: str = "") -> WriterIdentity:
    return WriterIdentity(writer_id=writer_id, instance_id=uuid.UUID(int=instance),
                          writer_name=name, instance_name=instance_name,
                          usage_type=UsageType.USER_DATA, source_type=SourceType.TRANSACTED_DB)


def _declare(b: WriterMetadataBuilder, caption: str = "the database") -> None:
    """What a typical OnIdentify does (every kind of call, once)."""
    b.add_component(DB, "", "db", caption=caption, selectable=True)
    b.add_database_files("", "db", "C:\\db", "data.mdf")
    b.add_database_log_files("", "db", "C:\\db\\log", "*.ldf")
    b.add_component(FG, "files", "set", icon=b"\x01\x02")
    b.add_files_to_file_group("files", "set", "C:\\f\\", "*", True, "D:\\alt")
    b.add_component_dependency("", "db", OTHER_WRITER_ID, "", "other")
    b.add_include_files("C:\\inc", "*.txt", False)
    b.add_exclude_files("C:\\exc", "*.tmp", True)
    b.add_exclude_files_from_snapshot("C:\\exs", "*.bak", False)
    b.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
    b.add_alternate_location_mapping("C:\\db", "data.mdf", False, "E:\\moved")
    b.set_backup_schema(BackupSchema.COPY | BackupSchema.INCREMENTAL)


def _identify(identity: WriterIdentity | None = None, **kwargs: Any) -> WriterMetadata:
    b = WriterMetadataBuilder(identity or _identity())
    _declare(b, **kwargs)
    return b.finish()


def _built(identity: WriterIdentity | None = None, **kwargs: Any) -> WriterMetadata:
    """The document a builder with nothing recorded makes (the record left as it was)."""
    saved = dict(wmd_module._RECORDED)
    wmd_module._RECORDED.clear()
    try:
        b = WriterMetadataBuilder(identity or _identity())
        assert b._replaying is None
        _declare(b, **kwargs)
        return b.finish()
    finally:
        wmd_module._RECORDED.clear()
        wmd_module._RECORDED.update(saved)


def _fields_sets(doc: WriterMetadata) -> list[set[str]]:
    return [set(doc.model_fields_set), *(set(c.model_fields_set) for c in doc.components)]


def _same(doc: WriterMetadata, reference: WriterMetadata) -> None:
    """Equal in every observable way: values, set fields, XML."""
    assert doc == reference
    assert doc.model_dump() == reference.model_dump()
    assert _fields_sets(doc) == _fields_sets(reference)
    assert doc.save_as_xml() == reference.save_as_xml()
    assert doc.__pydantic_extra__ is None and doc.__pydantic_private__ is None


def _mutable_parts(doc: WriterMetadata) -> list[object]:
    parts: list[object] = [doc, doc.__dict__, doc.__pydantic_fields_set__]
    for name in ("components", "include_files", "exclude_files", "exclude_files_from_snapshot",
                 "alternate_location_mappings"):
        parts.append(getattr(doc, name))
    for comp in doc.components:
        parts += [comp, comp.__dict__, comp.__pydantic_fields_set__, comp.files,
                  comp.database_files, comp.database_log_files, comp.dependencies]
    return parts


def test_the_second_identify_is_replayed_and_equals_the_built_document() -> None:
    first = _identify()
    b = WriterMetadataBuilder(_identity())
    assert b._replaying is not None  # the fast path is taken
    _declare(b)
    second = b.finish()
    _same(second, _built())
    _same(second, first)
    shared = {id(p) for p in _mutable_parts(first)} & {id(p) for p in _mutable_parts(second)}
    assert not shared


def test_changing_a_handed_over_document_does_not_reach_the_next_one() -> None:
    for _ in range(3):
        doc = _identify()
        doc.components[0].caption = "changed"
        doc.components[0].database_files.append(
            FileDescriptor(path="C:\\x", filespec="x.mdf"))
        doc.components[1].files.clear()
        doc.components.append(WmdComponent(component_type=DB, component_name="new",
                                           selectable=True))
        doc.include_files.clear()
        doc.backup_schema = BackupSchema.DIFFERENTIAL
        doc.alternate_location_mappings.clear()
        doc.restore_method = None
    _same(_identify(), _built())


def test_the_replayed_document_carries_the_builders_identity() -> None:
    _identify(_identity(1, "first"))
    other = _identity(2, "second instance")
    doc = _identify(other)
    assert doc.identity is other
    _same(doc, _built(other))


def test_instances_of_a_class_each_replay_their_own_calls() -> None:
    first, second = _identity(1, instance_name="one"), _identity(2, instance_name="two")
    for round_ in range(3):
        for identity, caption in ((first, "first db"), (second, "second db")):
            b = WriterMetadataBuilder(identity)
            assert (b._replaying is not None) == (round_ > 0)
            _declare(b, caption=caption)
            doc = b.finish()
            assert doc.identity is identity
            _same(doc, _built(identity, caption=caption))


def test_another_writer_class_is_not_replayed() -> None:
    _identify()
    b = WriterMetadataBuilder(_identity(writer_id=uuid.UUID(int=7)))
    assert b._replaying is None


def test_different_calls_give_their_own_document() -> None:
    _identify()
    doc = _identify(caption="another caption")
    assert doc.components[0].caption == "another caption"
    _same(doc, _built(caption="another caption"))
    _same(_identify(), _built())  # and back


def test_fewer_calls_than_recorded() -> None:
    def declare_some(b: WriterMetadataBuilder) -> WriterMetadata:
        b.add_component(DB, "", "db", caption="the database", selectable=True)
        b.add_database_files("", "db", "C:\\db", "data.mdf")
        return b.finish()

    _identify()
    doc = declare_some(WriterMetadataBuilder(_identity()))
    wmd_module._RECORDED.clear()
    _same(doc, declare_some(WriterMetadataBuilder(_identity())))
    assert doc.restore_method is None and "backup_schema" not in doc.model_fields_set


def test_more_calls_than_recorded() -> None:
    _identify()
    b = WriterMetadataBuilder(_identity())
    _declare(b)
    b.add_component(DB, "more", "db2")
    doc = b.finish()
    assert [c.component_name for c in doc.components] == ["db", "set", "db2"]


def test_an_equal_argument_of_another_type_is_still_checked() -> None:
    _identify()
    # True == 1 == DATABASE, and they hash alike: the argument types tell the calls apart.
    b = WriterMetadataBuilder(_identity())
    with pytest.raises(VssInvalidArgumentError, match="component_type=True"):
        b.add_component(True, "", "db", caption="the database",  # type: ignore[arg-type]
                        selectable=True)
    b = WriterMetadataBuilder(_identity())
    with pytest.raises(TypeError, match="selectable must be a bool, not int"):
        b.add_component(DB, "", "db", caption="the database",
                        selectable=1)  # type: ignore[arg-type]
    b = WriterMetadataBuilder(_identity())
    b.add_component(DB, "", "db", caption="the database", selectable=True)
    b.add_database_files("", "db", "C:\\db", "data.mdf")
    b.add_database_log_files("", "db", "C:\\db\\log", "*.ldf")
    b.add_component(FG, "files", "set", icon=b"\x01\x02")
    assert b._replaying is not None
    with pytest.raises(TypeError, match="recursive must be a bool, not int"):
        b.add_files_to_file_group("files", "set", "C:\\f\\", "*", 1,  # type: ignore[arg-type]
                                  "D:\\alt")


def test_an_error_after_replayed_calls_is_the_usual_one() -> None:
    _identify()
    wmd_module._RECORDED.clear()
    fresh = WriterMetadataBuilder(_identity())
    fresh.add_component(DB, "", "db", caption="the database", selectable=True)
    with pytest.raises(VssObjectAlreadyExistsError) as expected:
        fresh.add_component(DB, "", "DB")
    _identify()
    b = WriterMetadataBuilder(_identity())
    b.add_component(DB, "", "db", caption="the database", selectable=True)
    assert b._replaying is not None
    with pytest.raises(VssObjectAlreadyExistsError) as got:
        b.add_component(DB, "", "DB")
    assert str(got.value) == str(expected.value)
    # The failed call changed nothing, and the builder goes on (now for real).
    b.add_database_files("", "db", "C:\\db", "data.mdf")
    fresh.add_database_files("", "db", "C:\\db", "data.mdf")
    _same(b.finish(), fresh.finish())


def test_get_document_and_save_as_xml_while_replaying() -> None:
    _identify()
    wmd_module._RECORDED.clear()
    fresh = WriterMetadataBuilder(_identity())
    fresh.add_component(DB, "", "db", caption="the database", selectable=True)
    fresh.add_database_files("", "db", "C:\\db", "data.mdf")
    _identify()
    b = WriterMetadataBuilder(_identity())
    b.add_component(DB, "", "db", caption="the database", selectable=True)
    b.add_database_files("", "db", "C:\\db", "data.mdf")
    assert b.save_as_xml() == fresh.save_as_xml()
    _same(b.get_document(), fresh.get_document())
    assert b.get_document() is not b.get_document()


def test_finish_hands_over_one_document_and_closes_the_builder() -> None:
    _identify()
    b = WriterMetadataBuilder(_identity())
    _declare(b)
    doc = b.finish()
    assert b.finish() is doc
    with pytest.raises(VssBadStateError):
        b.add_component(DB, "", "late")
    with pytest.raises(VssBadStateError):
        b.set_backup_schema(BackupSchema.COPY)
    assert b.get_document() == doc and b.get_document() is not doc


def test_calls_with_a_foreign_argument_type_are_not_recorded() -> None:
    b = WriterMetadataBuilder(_identity())
    b.add_component(DB, "", Name("db"))
    b.finish()
    assert not wmd_module._RECORDED
    # Nor is such a call ever taken for a recorded one.
    _identify()
    b = WriterMetadataBuilder(_identity())
    with pytest.raises(VssInvalidArgumentError, match="a component name is required"):
        b.add_component(DB, "", Equal("other"), caption="the database", selectable=True)
    assert b._replaying is None
    b.add_component(DB, "", Name("other"), caption="the database", selectable=True)
    assert b.get_document().components[0].component_name == "other"


def test_the_record_is_bounded() -> None:
    for i in range(wmd_module._RECORDED_MAX * 2 + 3):
        b = WriterMetadataBuilder(_identity(writer_id=uuid.UUID(int=1000 + i)))
        b.add_component(DB, "", "db")
        b.finish()
        assert len(wmd_module._RECORDED) <= wmd_module._RECORDED_MAX


# Calls a writer may make, some of which fail (a duplicate, a bool for an enumeration, an int
# for a bool, a dependency on its own class, a mapping before the restore method, ...).
_OPS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("add_component", (DB, "", "db"), {}),
    ("add_component", (DB, "", "DB"), {"caption": "x"}),
    ("add_component", (True, "", "db"), {}),
    ("add_component", (FG, "grp", "files"), {"caption": "Files", "icon": b"i"}),
    ("add_component", (FG, "grp", "files"), {"selectable": 1}),
    ("add_database_files", ("", "db", "C:\\db", "data.mdf"), {}),
    ("add_database_files", ("", "db", "C:\\db\\", "DATA.mdf"), {}),
    ("add_database_log_files", ("", "db", "C:\\db\\log", "*.ldf"), {}),
    ("add_files_to_file_group", ("grp", "files", "C:\\f", "*", True), {}),
    ("add_files_to_file_group", ("grp", "files", "C:\\g", "*", 1), {}),
    ("set_restore_method", (RestoreMethod.RESTORE_IF_CAN_REPLACE,), {}),
    ("set_restore_method", (RestoreMethod.STOP_RESTORE_START, "svc"), {}),
    ("add_alternate_location_mapping", ("C:\\db", "data.mdf", False, "D:\\alt"), {}),
    ("set_backup_schema", (BackupSchema.COPY,), {}),
    ("set_backup_schema", (True,), {}),
    ("set_backup_schema", (1 << 40,), {}),
    ("add_component_dependency", ("", "db", OTHER_WRITER_ID, "", "x"), {}),
    ("add_component_dependency", ("", "db", WRITER_ID, "", "x"), {}),
    ("add_include_files", ("C:\\inc", "*.txt", False), {}),
    ("add_exclude_files", ("C:\\exc", "*.tmp", True), {}),
    ("add_exclude_files", ("C:\\exc", "*.tmp", True), {}),
    ("add_exclude_files_from_snapshot", ("C:\\exs", "*.bak", False), {}),
    ("get_document", (), {}),
    ("save_as_xml", (), {}),
]


def _run(ops: list[int], identity: WriterIdentity) -> tuple[list[object], WriterMetadata]:
    """Run the calls: what each returned or raised, and the document handed over."""
    b = WriterMetadataBuilder(identity)
    outcomes: list[object] = []
    for i in ops:
        name, args, kwargs = _OPS[i]
        try:
            result = getattr(b, name)(*args, **kwargs)
        except Exception as exc:
            outcomes.append((type(exc), str(exc)))
        else:
            if isinstance(result, WriterMetadata):
                result = (result.model_dump(), _fields_sets(result), result.save_as_xml())
            outcomes.append(result)
    return outcomes, b.finish()


_SEQUENCES = st.lists(st.integers(0, len(_OPS) - 1), max_size=12)


@settings(max_examples=150, deadline=None)
@given(first=_SEQUENCES, second=_SEQUENCES, again=st.booleans())
def test_any_calls_give_what_a_builder_with_nothing_recorded_gives(
        first: list[int], second: list[int], again: bool) -> None:
    wmd_module._RECORDED.clear()
    _, doc = _run(first, _identity(1))
    doc.components.clear()  # the caller's copy: changing it must not reach the record
    doc.include_files.append(FileDescriptor(path="C:\\z", filespec="z"))
    if again:
        _run(first, _identity(2))  # a replayed one recorded again
    identity = _identity(3, "other")
    outcomes, doc = _run(second, identity)
    wmd_module._RECORDED.clear()
    expected, reference = _run(second, identity)
    assert outcomes == expected
    _same(doc, reference)
    assert doc.identity is identity


def test_identify_through_vss_gives_each_answer_its_own_document(tmp_path: Path) -> None:
    from vsssim import VssSystem
    from vsssim.apps import KvStoreApp, KvStoreWriter

    with VssSystem(tmp_path / "m") as system:
        app = system.add_application(KvStoreApp(system.add_volume("C:\\").fs))
        writer = system.add_writer(KvStoreWriter(app))
        reg = system.coordinator.writers[0]
        [(_, first)] = system.identify()
        assert reg.last_metadata is first and first is not None
        reference = first.clone()
        first.components[0].caption = "changed"
        first.components[0].database_files.clear()
        first.backup_schema = BackupSchema.DIFFERENTIAL
        [(_, second)] = system.identify()
        assert second is not first and reg.last_metadata is second
        _same(second, reference)
        writer.alternate_location = "D:\\moved"  # its calls change: so does its document
        [(_, third)] = system.identify()
        assert [m.alternate_location for m in third.alternate_location_mappings] == [
            "D:\\moved", "D:\\moved\\log"]
        writer.alternate_location = None
        [(_, fourth)] = system.identify()
        _same(fourth, reference)
