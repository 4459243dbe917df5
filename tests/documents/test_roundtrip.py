"""Round trips through XML: ``load(save(d)) == d`` and ``save(load(save(d))) == save(d)``.

Documents come from ``st.from_type`` (which also checks that vsssim.strategies registered them).
The builder replay is a differential test: rebuilding a random valid document call by call
through ``IVssCreateWriterMetadata`` must give the same document.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vsssim.strategies as vst
from vsssim.constants import (
    BackupSchema,
    ComponentType,
    FileSpecBackupType,
    SourceType,
    UsageType,
)
from vsssim.documents import (
    BackupComponentsDocument,
    BcdComponent,
    FileDescriptor,
    WriterIdentity,
    WriterMetadata,
    WriterMetadataBuilder,
)


@given(st.from_type(WriterMetadata))
def test_writer_metadata_round_trips(doc: WriterMetadata) -> None:
    xml = doc.save_as_xml()
    loaded = WriterMetadata.load_from_xml(xml)
    assert loaded == doc
    assert loaded.save_as_xml() == xml
    assert WriterMetadata.load_from_xml(xml.encode("utf-8")) == doc


@given(st.from_type(BackupComponentsDocument))
def test_backup_components_document_round_trips(doc: BackupComponentsDocument) -> None:
    xml = doc.save_as_xml()
    loaded = BackupComponentsDocument.load_from_xml(xml)
    assert loaded == doc
    assert loaded.save_as_xml() == xml


@given(vst.writer_metadata())
def test_generated_documents_pass_their_own_validation(doc: WriterMetadata) -> None:
    assert WriterMetadata.model_validate(doc.model_dump()) == doc
    assert doc.model_copy(deep=True) == doc


def replay(doc: WriterMetadata) -> WriterMetadataBuilder:
    """Rebuild ``doc`` through the builder, in an order the SDK allows."""
    builder = WriterMetadataBuilder(doc.identity)
    for desc in doc.include_files:
        builder.add_include_files(desc.path, desc.filespec, desc.recursive, desc.alternate_location)
    for desc in doc.exclude_files:
        builder.add_exclude_files(desc.path, desc.filespec, desc.recursive)
    for desc in doc.exclude_files_from_snapshot:
        builder.add_exclude_files_from_snapshot(desc.path, desc.filespec, desc.recursive)
    for comp in doc.components:
        builder.add_component(
            comp.component_type,
            comp.logical_path or None,
            comp.component_name,
            comp.caption,
            comp.icon or None,
            False,
            False,
            comp.selectable,
            comp.selectable_for_restore,
            comp.component_flags,
        )
        for desc in comp.database_files:
            builder.add_database_files(
                comp.logical_path,
                comp.component_name,
                desc.path,
                desc.filespec,
                desc.backup_type_mask,
            )
        for desc in comp.database_log_files:
            builder.add_database_log_files(
                comp.logical_path,
                comp.component_name,
                desc.path,
                desc.filespec,
                desc.backup_type_mask,
            )
        for desc in comp.files:
            builder.add_files_to_file_group(
                comp.logical_path,
                comp.component_name,
                desc.path,
                desc.filespec,
                desc.recursive,
                desc.alternate_location or None,
                desc.backup_type_mask,
            )
    for comp in doc.components:
        for dep in comp.dependencies:
            builder.add_component_dependency(
                comp.logical_path,
                comp.component_name,
                dep.writer_id,
                dep.logical_path,
                dep.component_name,
            )
    if doc.restore_method is not None:
        method = doc.restore_method
        builder.set_restore_method(
            method.method,
            method.service or None,
            method.user_procedure,
            method.writer_restore,
            method.reboot_required,
        )
    for mapping in doc.alternate_location_mappings:
        builder.add_alternate_location_mapping(
            mapping.path, mapping.filespec, mapping.recursive, mapping.alternate_location
        )
    builder.set_backup_schema(doc.backup_schema)
    return builder


@given(vst.writer_metadata())
def test_builder_replay_rebuilds_any_valid_document(doc: WriterMetadata) -> None:
    builder = replay(doc)
    assert builder.get_document() == doc
    assert builder.save_as_xml() == doc.save_as_xml()


AWKWARD = [
    "",
    " leading and trailing ",
    "line1\nline2",
    "crlf\r\nlone cr\r",
    "\ttabs\t",
    "quotes \" and ' and <tags> & ampersands &amp;",
    "]]> cdata end",
    "non-ASCII: Grüße, 日本語, emoji 😀, U+2028\u2028, NEL\x85",
    "   \n\t\r   ",
]


OPAQUE_FIELDS = [
    "backup_options",
    "restore_options",
    "backup_metadata",
    "restore_metadata",
    "backup_stamp",
    "previous_backup_stamp",
    "prepare_for_backup_failure_msg",
    "post_snapshot_failure_msg",
    "pre_restore_failure_msg",
    "post_restore_failure_msg",
    "roll_forward_point",
    "restore_name",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_opaque_bcd_strings_round_trip_exactly(text: str) -> None:
    doc = BackupComponentsDocument(originating_machine=text, os_version=text)
    comp = doc.add_component(uuid.uuid4(), uuid.uuid4(), ComponentType.FILEGROUP, None, "c")
    for name in OPAQUE_FIELDS:
        setattr(comp, name, text)
    assert comp.backup_metadata == text
    loaded = BackupComponentsDocument.load_from_xml(doc.save_as_xml())
    assert loaded == doc
    assert loaded.writers[0].components[0].backup_stamp == text


@pytest.mark.parametrize("text", [t for t in AWKWARD if t])
def test_writer_identity_strings_round_trip_exactly(text: str) -> None:
    identity = WriterIdentity(
        writer_id=uuid.uuid4(),
        instance_id=uuid.uuid4(),
        writer_name=text,
        instance_name=text,
        usage_type=UsageType.OTHER,
        source_type=0,  # type: ignore[arg-type]
    )
    builder = WriterMetadataBuilder(identity)
    builder.add_component(ComponentType.DATABASE, None, "c", caption=text, icon=text.encode())
    doc = builder.get_document()
    assert WriterMetadata.load_from_xml(doc.save_as_xml()) == doc


@pytest.mark.parametrize(
    "bad", ["nul\x00", "bell\x07", "vt\x0b", "esc\x1b", "lone \ud800", "\udfff", "\ufffe", "\uffff"]
)
def test_text_xml_cannot_carry_is_refused_by_validation(bad: str) -> None:
    with pytest.raises(ValueError, match="writer_name") as info:
        WriterIdentity(
            writer_id=uuid.uuid4(),
            instance_id=uuid.uuid4(),
            writer_name=bad,
            usage_type=UsageType.OTHER,
            source_type=0,  # type: ignore[arg-type]
        )
    assert "XML 1.0" in str(info.value)
    comp = BcdComponent(component_type=ComponentType.DATABASE, component_name="c")
    with pytest.raises(ValueError, match="backup_metadata"):
        comp.backup_metadata = bad
    assert comp.backup_metadata == ""


def test_file_descriptor_equality_is_field_equality() -> None:
    a = FileDescriptor(path="C:\\x\\", filespec="*")
    b = FileDescriptor(path="C:\\x", filespec="*")
    assert a == b
    assert hash(a) == hash(b)
    assert FileDescriptor(path="c:\\X", filespec="*") != a  # spelling is kept...
    assert (
        FileDescriptor(path="c:\\X", filespec="*").key == a.key
    )  # ...but compares as Windows does


@pytest.mark.long
@settings(max_examples=1000)
@given(vst.writer_metadata(max_components=20), vst.backup_components_documents(max_writers=6))
def test_large_documents_round_trip(wmd: WriterMetadata, bcd: BackupComponentsDocument) -> None:
    assert WriterMetadata.load_from_xml(wmd.save_as_xml()) == wmd
    assert replay(wmd).get_document() == wmd
    assert BackupComponentsDocument.load_from_xml(bcd.save_as_xml()) == bcd


def _element(model: Any, tag: str, spec: Any, extra: tuple[tuple[str, str], ...] = ()
             ) -> ET.Element:
    """``model`` as an element tree, walking its spec the plain way (no plans, no text)."""
    elem = ET.Element(tag)
    for name, value in (*spec.fixed, *extra):
        elem.set(name, value)
    for attr in spec.attrs:
        value = getattr(model, attr.field)
        if value is not None:
            elem.set(attr.name, attr.codec.encode(value))
    for one in spec.ones:
        sub = getattr(model, one.field)
        if sub is not None:
            elem.append(_element(sub, one.tag, one.spec))
    for many in spec.manys:
        items = getattr(model, many.field)
        parent = elem
        if many.within:
            found = elem.find(many.within)
            if found is None:
                if not items:
                    continue
                found = ET.SubElement(elem, many.within)
            parent = found
        role = (many.role,) if many.role else ()
        for item in items:
            parent.append(_element(item, many.tag_for(item), many.spec, role))
    return elem


def _elementtree_text(doc: WriterMetadata | BackupComponentsDocument) -> str:
    """The document as the standard library writes it (the reference for ``dump_document``)."""
    from vsssim.documents import bcd, wmd

    tag, spec = (("WRITER_METADATA", wmd._WMD_SPEC) if isinstance(doc, WriterMetadata)
                 else ("BACKUP_COMPONENTS", bcd._BCD_SPEC))
    root = _element(doc, tag, spec)
    ET.indent(root, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


@given(st.one_of(st.from_type(WriterMetadata), st.from_type(BackupComponentsDocument)))
def test_documents_are_written_exactly_as_elementtree_writes_them(
        doc: WriterMetadata | BackupComponentsDocument) -> None:
    assert doc.save_as_xml() == _elementtree_text(doc)


def test_attribute_escapes_match_elementtree() -> None:
    awkward = 'a&b<c>d"e\rf\ng\th\'i é 😀 ]]>'
    doc = WriterMetadata(identity=WriterIdentity(
        writer_id=uuid.uuid4(), instance_id=uuid.uuid4(), writer_name=awkward,
        instance_name="\t\n", usage_type=UsageType.USER_DATA,
        source_type=SourceType.TRANSACTED_DB))
    xml = doc.save_as_xml()
    assert xml == _elementtree_text(doc)
    assert "&amp;b&lt;c&gt;d&quot;e&#13;f&#10;g&#09;h'i" in xml
    assert WriterMetadata.load_from_xml(xml) == doc


class _Text(str):
    """A str subclass (a model built unchecked may hold one): escaped all the same."""


def test_kept_escaped_texts_are_those_elementtree_writes() -> None:
    # The writer escapes each text once and keeps it: the second document is written from
    # the kept texts, the str subclass (never kept) escaped on its own.
    for name in ('a&b<c>d"e\rf\ng\th', 'a&b<c>d"e\rf\ng\th', "plain", "plain",
                 _Text('x"y&z'), _Text("plain")):
        doc = WriterMetadata.model_construct(identity=WriterIdentity.model_construct(
            writer_id=uuid.UUID(int=1), instance_id=uuid.UUID(int=2), writer_name=name,
            instance_name=name, usage_type=UsageType.USER_DATA,
            source_type=SourceType.TRANSACTED_DB, version_major=0, version_minor=0),
            restore_method=None, backup_schema=BackupSchema.UNDEFINED, components=[],
            include_files=[], exclude_files=[], exclude_files_from_snapshot=[],
            alternate_location_mappings=[])
        assert doc.save_as_xml() == _elementtree_text(doc)


# The writer keeps the texts its codecs gave, by the value's exact type and value: equal
# values of other types (True and 1, 1 and 1.0, a flag and its int) must still get their own
# codec's text or error, and an unhashable value (a model built unchecked) the codec's error.
@pytest.mark.parametrize("values", [
    (True, 1, 1.0), (False, 0, 0.0),
    (FileSpecBackupType(0xF0F), 0xF0F, 3855.0),
    (ComponentType.DATABASE, 1, True),
    (uuid.UUID(int=5), uuid.UUID(int=5)),
    ([1], {"a": 1}),
])
def test_attribute_texts_are_the_codecs_for_each_value_type(values: tuple[object, ...]) -> None:
    from vsssim.documents._xml import BOOL, GUID, dump_document, enum_codec, flags_codec
    from vsssim.documents.wmd import _FILE_SPEC, _IDENTITY_SPEC

    Model = type[FileDescriptor] | type[WriterIdentity]
    cases: list[tuple[str, str, Any, Any, Model]] = [
        ("recursive", "recursive", BOOL, _FILE_SPEC, FileDescriptor),
        ("backup_type_mask", "filespecBackupType", flags_codec(FileSpecBackupType),
         _FILE_SPEC, FileDescriptor),
        ("usage_type", "usage", enum_codec(UsageType), _IDENTITY_SPEC, WriterIdentity),
        ("writer_id", "writerId", GUID, _IDENTITY_SPEC, WriterIdentity)]
    base: dict[type, dict[str, Any]] = {
        FileDescriptor: {"path": "C:\\d", "filespec": "*"},
        WriterIdentity: {"writer_id": uuid.UUID(int=1), "instance_id": uuid.UUID(int=2),
                         "writer_name": "w", "usage_type": UsageType.USER_DATA,
                         "source_type": SourceType.TRANSACTED_DB}}
    for field, attr, codec, spec, model in cases:
        for _ in range(2):  # the second time from the kept texts
            for value in values:
                doc = model.model_construct(**{**base[model], field: value})
                try:
                    expected: object = f' {attr}="{codec.encode(value)}"'
                except Exception as exc:
                    expected = (type(exc), str(exc))
                try:
                    got: object = dump_document(doc, "X", spec)
                except Exception as exc:
                    got = (type(exc), str(exc))
                assert got == expected if not isinstance(expected, str) else (
                    isinstance(got, str) and expected in got)
