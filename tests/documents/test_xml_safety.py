"""Hostile and malformed XML: refused with VSS_E_INVALID_XML_DOCUMENT, cheaply, nothing loaded.

"Fails fast" is checked without timing: a refused entity bomb must not allocate more than a
small, fixed amount of memory (tracemalloc sees expat's allocations, which go through Python's
allocator), which proves no entity was ever expanded.
"""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Callable

import pytest

from vsssim import hresult as hr
from vsssim.constants import ComponentType, RestoreMethod
from vsssim.documents import (
    BackupComponentsDocument,
    WriterMetadata,
    WriterMetadataBuilder,
    parse_xml,
)
from vsssim.errors import VssInvalidXmlDocumentError

from .conftest import OTHER_WRITER_ID

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<WRITER_METADATA version="1.0" backupSchema="0">&lol9;</WRITER_METADATA>
"""


def quadratic_blowup(entity_size: int = 100_000, references: int = 50_000) -> str:
    # One big entity referenced many times: ~5 GB if expanded, ~350 KB as text.
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE kaboom [<!ENTITY a "{"x" * entity_size}">]>\n'
        f"<WRITER_METADATA>{'&a;' * references}</WRITER_METADATA>"
    )


EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<WRITER_METADATA version="1.0" backupSchema="0">
  <IDENTIFICATION writerId="{00000000-0000-0000-0000-000000000001}"
    instanceId="{00000000-0000-0000-0000-000000000002}" friendlyName="&xxe;"
    usage="USERDATA" dataSource="OTHER"/>
</WRITER_METADATA>
"""

LOADERS: list[Callable[[str | bytes], object]] = [
    WriterMetadata.load_from_xml,
    BackupComponentsDocument.load_from_xml,
    parse_xml,
]


def peak_memory(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(VssInvalidXmlDocumentError):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("load", LOADERS)
def test_billion_laughs_is_refused_without_expansion(load: Callable[[str], object]) -> None:
    with pytest.raises(VssInvalidXmlDocumentError, match="DTD") as info:
        load(BILLION_LAUGHS)
    assert info.value.hresult == hr.VSS_E_INVALID_XML_DOCUMENT
    # Expanded, the document would be 3 GB; refused at the DOCTYPE it costs next to nothing.
    assert peak_memory(lambda: load(BILLION_LAUGHS)) < 512 * 1024


def test_quadratic_blowup_is_refused_with_bounded_memory() -> None:
    payload = quadratic_blowup()
    peak = peak_memory(lambda: WriterMetadata.load_from_xml(payload))
    assert peak < 4 * len(payload) + 512 * 1024


@pytest.mark.parametrize("load", LOADERS)
def test_external_entity_is_refused(load: Callable[[str], object]) -> None:
    with pytest.raises(VssInvalidXmlDocumentError) as info:
        load(EXTERNAL_ENTITY)
    assert "root:" not in str(info.value)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE WRITER_METADATA SYSTEM "http://example.invalid/evil.dtd">',
        '<!DOCTYPE WRITER_METADATA PUBLIC "-//x//y" "file:///etc/passwd">',
        "<!DOCTYPE WRITER_METADATA>",
        '<!DOCTYPE WRITER_METADATA [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        '<!DOCTYPE WRITER_METADATA [<!NOTATION n SYSTEM "x">]>',
    ],
)
def test_any_dtd_is_refused(doctype: str) -> None:
    with pytest.raises(VssInvalidXmlDocumentError, match="DTD"):
        parse_xml(f'<?xml version="1.0"?>{doctype}<WRITER_METADATA/>')


def test_entity_reference_without_declaration_is_malformed() -> None:
    with pytest.raises(VssInvalidXmlDocumentError, match="malformed"):
        parse_xml("<a>&undefined;</a>")


def test_predefined_entities_and_character_references_are_fine() -> None:
    root = parse_xml('<a b="&lt;&amp;&#10;&#x1F600;">&gt;&quot;&apos;</a>')
    assert root.get("b") == "<&\n😀"
    assert root.text == ">\"'"


def test_processing_instructions_are_refused() -> None:
    with pytest.raises(VssInvalidXmlDocumentError, match="processing instructions"):
        parse_xml('<?xml version="1.0"?><?xml-stylesheet href="evil.xsl"?><a/>')


def test_comments_and_xml_declaration_are_fine() -> None:
    assert (
        parse_xml('<?xml version="1.0" encoding="UTF-8"?><!-- hi --><a><!-- x --></a>').tag == "a"
    )


@pytest.mark.parametrize("load", LOADERS)
def test_oversize_str_is_refused_before_parsing(load: Callable[[str], object]) -> None:
    # Nine MiB of a document that would be malformed anyway: the message shows the size check
    # came first.
    with pytest.raises(VssInvalidXmlDocumentError, match="larger than"):
        load("<" * (9 * 2**20))


def test_oversize_bytes_and_multibyte_text_are_refused() -> None:
    with pytest.raises(VssInvalidXmlDocumentError, match="larger than 10 bytes"):
        parse_xml(b"<a>0123456789</a>", max_bytes=10)
    # 6 characters, 12 bytes in UTF-8: the limit is in bytes.
    with pytest.raises(VssInvalidXmlDocumentError, match="larger than"):
        parse_xml("<a>éé</a>", max_bytes=10)
    assert parse_xml("<a>éé</a>", max_bytes=12).text == "éé"


def test_nesting_depth_is_limited() -> None:
    def nested(depth: int) -> str:
        return "<a>" * depth + "</a>" * depth

    parse_xml(nested(64))
    with pytest.raises(VssInvalidXmlDocumentError, match="deeper than 64"):
        parse_xml(nested(65))
    with pytest.raises(VssInvalidXmlDocumentError, match="deeper than 64"):
        WriterMetadata.load_from_xml(nested(100_000))


def test_element_count_is_limited() -> None:
    parse_xml("<a>" + "<b/>" * 9 + "</a>", max_elements=10)
    with pytest.raises(VssInvalidXmlDocumentError, match="more than 10 elements"):
        parse_xml("<a>" + "<b/>" * 10 + "</a>", max_elements=10)
    with pytest.raises(VssInvalidXmlDocumentError, match="more than 200000 elements"):
        parse_xml("<a>" + "<b/>" * 200_000 + "</a>")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "not xml",
        "<a>",
        "<a></b>",
        "<a/><b/>",
        '<a x="1" x="2"/>',
        "<a>\x01</a>",
        b"<a>\xff\xfe\xfd</a>",
        b'<?xml version="1.0" encoding="no-such-encoding"?><a/>',
        "<a>\ud800</a>",
    ],
)
@pytest.mark.parametrize("load", LOADERS)
def test_malformed_xml_is_refused(text: str | bytes, load: Callable[[str | bytes], object]) -> None:
    with pytest.raises(VssInvalidXmlDocumentError):
        load(text)


def test_non_text_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_xml(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        WriterMetadata.load_from_xml(None)  # type: ignore[arg-type]


def test_bytes_follow_their_encoding(builder: WriterMetadataBuilder) -> None:
    builder.add_component(ComponentType.DATABASE, None, "Données 😀")
    xml = builder.save_as_xml()
    expected = builder.get_document()
    assert WriterMetadata.load_from_xml(xml.encode("utf-8")) == expected
    assert WriterMetadata.load_from_xml(xml.encode("utf-16")) == expected  # BOM
    latin = xml.replace('version="1.0"?>', 'version="1.0" encoding="ISO-8859-1"?>', 1)
    latin = latin.replace("Données 😀", "Données")
    assert (
        WriterMetadata.load_from_xml(latin.encode("latin-1")).components[0].component_name
        == "Données"
    )


# ------------------------------------------------------------------------------ wrong shape


@pytest.fixture
def wmd_xml(builder: WriterMetadataBuilder) -> str:
    builder.add_component(ComponentType.DATABASE, None, "db", selectable=False)
    builder.add_database_files(None, "db", "C:\\data", "*.mdf")
    builder.add_component(ComponentType.FILEGROUP, "db", "files")
    builder.add_files_to_file_group("db", "files", "C:\\f", "*", True)
    builder.add_component_dependency("db", "files", OTHER_WRITER_ID, "x", "y")
    builder.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
    builder.add_alternate_location_mapping("C:\\f", "*", True, "D:\\alt")
    xml = builder.save_as_xml()
    assert WriterMetadata.load_from_xml(xml) == builder.get_document()
    return xml


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("</WRITER_METADATA>", "</WRITER_METADATA><!-- trailing -->", None),
        ('<WRITER_METADATA version="1.0"', '<WRITER_METADATA version="2.0"', "version"),
        ('<WRITER_METADATA version="1.0"', "<WRITER_METADATA", "version"),
        ('selectable="no"', 'selectable="maybe"', "selectable"),
        ('selectable="no"', 'selectable="false"', "selectable"),
        ('componentFlags="0"', 'componentFlags="x"', "componentFlags"),
        ('componentFlags="0"', 'componentFlags="-1"', "componentFlags"),
        ('componentFlags="0"', 'componentFlags="64"', "component_flags"),
        ('filespecBackupType="3855"', 'filespecBackupType="4096"', "backup_type_mask"),
        ('backupSchema="0"', 'backupSchema="2048"', "backup_schema"),
        ('versionMajor="0"', 'versionMajor="4294967296"', "version_major"),
        ('versionMajor="0"', 'versionMajor="1e3"', "versionMajor"),
        ('usage="USERDATA"', 'usage="USER-DATA"', "usage"),
        ('usage="USERDATA"', 'usage="3"', "usage"),
        ('dataSource="TRANSACTEDDB"', 'dataSource="transacteddb"', "dataSource"),
        ('method="RESTORE_IF_CAN_REPLACE"', 'method="NOPE"', "method"),
        ('writerId="{afbab4a2', 'writerId="{zzzzzzzz', "writerId"),
        ('writerId="{afbab4a2-367d-4d15-a586-71dbb18f8485}"', 'writerId="afbab4a2"', "writerId"),
        ('icon=""', 'icon="!!"', "icon"),
        ('icon=""', 'icon="QQ"', "icon"),
        (' friendlyName="MyWriter"', "", "writer_name"),
        ('componentName="db"', 'componentName=""', "component_name"),
        ('componentName="db"', 'componentName="a\\b"', "component_name"),
        ('logicalPath="db"', 'logicalPath="db\\"', "logical_path"),
        ('path="C:\\data"', 'path="C:\\*"', "path"),
        ('filespec="*.mdf"', 'filespec=""', "filespec"),
        ('selectable="no"', 'selectable="no" bogus="1"', "unknown attribute"),
        ("<BACKUP_LOCATIONS>", '<BACKUP_LOCATIONS x="1">', "unexpected attribute"),
        ("<BACKUP_LOCATIONS>", "<BACKUP_LOCATIONS><COMPONENT/>", "unexpected element"),
        ("<BACKUP_LOCATIONS>", "<BACKUP_LOCATIONS>text", "text"),
        ("<BACKUP_LOCATIONS>", "<BACKUP_LOCATIONS/><BACKUP_LOCATIONS>", "more than one"),
        ("<RESTORE_METHOD ", "<EXTRA/><RESTORE_METHOD ", "unexpected element <EXTRA>"),
        ("<DATABASE ", "<DATABASE restoreMetadata2='no' ", "unknown attribute"),
        ('restoreMetadata="no"', 'restoreMetadata="yes"', "reserved"),
        ("<FILE_LIST ", "<DATABASE_FILES ", "FILEGROUP"),
    ],
)
def test_wrong_shapes_are_refused(wmd_xml: str, old: str, new: str, message: str | None) -> None:
    assert old in wmd_xml, old
    hostile = wmd_xml.replace(old, new, 1)
    if message is None:  # a harmless change: still loads
        WriterMetadata.load_from_xml(hostile)
        return
    with pytest.raises(VssInvalidXmlDocumentError) as info:
        WriterMetadata.load_from_xml(hostile)
    assert message in str(info.value)


def test_wrong_root_element_is_refused(wmd_xml: str) -> None:
    hostile = wmd_xml.replace("WRITER_METADATA", "BACKUP_COMPONENTS")
    with pytest.raises(VssInvalidXmlDocumentError, match="root element is <BACKUP_COMPONENTS>"):
        WriterMetadata.load_from_xml(hostile)


def test_duplicate_identification_is_refused(wmd_xml: str) -> None:
    start = wmd_xml.index("<IDENTIFICATION")
    end = wmd_xml.index("/>", start) + 2
    hostile = wmd_xml[:end] + wmd_xml[start:end] + wmd_xml[end:]
    with pytest.raises(VssInvalidXmlDocumentError, match="more than one <IDENTIFICATION>"):
        WriterMetadata.load_from_xml(hostile)


def test_missing_identification_is_refused(wmd_xml: str) -> None:
    start = wmd_xml.index("<IDENTIFICATION")
    end = wmd_xml.index("/>", start) + 2
    with pytest.raises(VssInvalidXmlDocumentError, match="identity"):
        WriterMetadata.load_from_xml(wmd_xml[:start] + wmd_xml[end:])


def test_duplicate_components_in_a_loaded_wmd_are_refused(wmd_xml: str) -> None:
    hostile = wmd_xml.replace(
        'logicalPath="db" componentName="files"', 'logicalPath="" componentName="DB"'
    )
    with pytest.raises(VssInvalidXmlDocumentError, match="declared twice"):
        WriterMetadata.load_from_xml(hostile)


def test_duplicate_file_set_in_a_loaded_wmd_is_refused(wmd_xml: str) -> None:
    hostile = wmd_xml.replace(
        'path="C:\\f" filespec="*" recursive="yes" alternatePath=""',
        'path="c:\\DATA\\" filespec="*.MDF" recursive="no" alternatePath=""',
    )
    assert hostile != wmd_xml
    hostile = hostile.replace(
        '<ALTERNATE_LOCATION_MAPPING path="C:\\f"', '<ALTERNATE_LOCATION_MAPPING path="c:\\data"'
    )
    hostile = hostile.replace(
        'filespec="*" recursive="yes" alternatePath="D:\\alt"',
        'filespec="*.mdf" recursive="no" alternatePath="D:\\alt"',
    )
    with pytest.raises(VssInvalidXmlDocumentError, match="declared twice"):
        WriterMetadata.load_from_xml(hostile)


def test_mapping_without_matching_file_set_in_a_loaded_wmd_is_refused(wmd_xml: str) -> None:
    hostile = wmd_xml.replace(
        '<ALTERNATE_LOCATION_MAPPING path="C:\\f"', '<ALTERNATE_LOCATION_MAPPING path="C:\\g"'
    )
    with pytest.raises(VssInvalidXmlDocumentError, match="matches no component file set"):
        WriterMetadata.load_from_xml(hostile)


def test_self_dependency_in_a_loaded_wmd_is_refused(wmd_xml: str) -> None:
    hostile = wmd_xml.replace(f"{{{OTHER_WRITER_ID}}}", "{afbab4a2-367d-4d15-a586-71dbb18f8485}")
    with pytest.raises(VssInvalidXmlDocumentError, match="its own writer"):
        WriterMetadata.load_from_xml(hostile)


def test_a_wmd_is_not_a_bcd(wmd_xml: str) -> None:
    with pytest.raises(VssInvalidXmlDocumentError, match="expected <BACKUP_COMPONENTS>"):
        BackupComponentsDocument.load_from_xml(wmd_xml)


# ------------------------------------------------------------------------------ BCD shapes


@pytest.fixture
def bcd_xml() -> str:
    doc = BackupComponentsDocument(snapshot_set_id=uuid.UUID(int=7))
    comp = doc.add_component(uuid.UUID(int=1), uuid.UUID(int=2), ComponentType.DATABASE, "", "db")
    comp.backup_succeeded = True
    doc.add_component(uuid.UUID(int=3), uuid.UUID(int=2), ComponentType.FILEGROUP, "x", "files")
    return doc.save_as_xml()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('backupSucceeded="yes"', 'backupSucceeded="1"', "backupSucceeded"),
        ('backupType="UNDEFINED"', 'backupType="FULLISH"', "backupType"),
        ('context="0"', 'context="4294967296"', "context"),
        ('componentType="DATABASE"', 'componentType="UNDEFINED"', "component_type"),
        ('logicalPath="x"', 'logicalPath=""', None),
        (
            'logicalPath="x" componentName="files"',
            'logicalPath="" componentName="DB"',
            "listed twice",
        ),
        (
            'instanceId="{00000000-0000-0000-0000-000000000003}"',
            'instanceId="{00000000-0000-0000-0000-000000000001}"',
            "listed twice",
        ),
        ("<COMPONENT ", "<FAILURE hresult='1'/><COMPONENT ", "unexpected element <FAILURE>"),
    ],
)
def test_wrong_bcd_shapes_are_refused(
    bcd_xml: str, old: str, new: str, message: str | None
) -> None:
    assert old in bcd_xml, old
    hostile = bcd_xml.replace(old, new, 1)
    if message is None:
        BackupComponentsDocument.load_from_xml(hostile)
        return
    with pytest.raises(VssInvalidXmlDocumentError) as info:
        BackupComponentsDocument.load_from_xml(hostile)
    assert message in str(info.value)


def test_lun_roles_are_checked() -> None:
    from vsssim.documents import LunInfo, SnapshotDescription

    doc = BackupComponentsDocument(
        snapshots=[
            SnapshotDescription(
                snapshot_id=uuid.UUID(int=1),
                original_volume="C:\\",
                provider_id=uuid.UUID(int=2),
                original_luns=[LunInfo(vendor_id="a")],
                target_luns=[LunInfo(vendor_id="b")],
            )
        ]
    )
    xml = doc.save_as_xml()
    assert BackupComponentsDocument.load_from_xml(xml) == doc
    with pytest.raises(VssInvalidXmlDocumentError, match="LUN_INFORMATION"):
        BackupComponentsDocument.load_from_xml(xml.replace('role="target"', 'role="spare"'))
    with pytest.raises(VssInvalidXmlDocumentError, match="LUN_INFORMATION"):
        BackupComponentsDocument.load_from_xml(xml.replace(' role="target"', ""))


def test_str_input_ignores_the_declared_encoding() -> None:
    # A str is already decoded: the declaration's encoding cannot apply to it.
    assert parse_xml('<?xml version="1.0" encoding="UTF-16"?><a>é</a>').text == "é"
    assert parse_xml("\ufeff<a>x</a>").text == "x"
