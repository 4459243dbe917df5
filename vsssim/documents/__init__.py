"""VSS documents: the Writer Metadata Document (and its builder), the Backup Components
Document, the status and property records, the component model and restore options.

All are pydantic models with the SDK's enumerations; both documents save to and load from XML
shaped like VSS's (``save_as_xml`` / ``load_from_xml``), and loading treats the XML as hostile
(no DTDs or entities, bounded size and depth): anything that is not a valid document raises
:class:`~vsssim.errors.VssInvalidXmlDocumentError` and nothing is loaded.
"""

from vsssim.documents._xml import parse_xml
from vsssim.documents.bcd import (
    BCD_FORMAT_VERSION,
    BackupComponentsDocument,
    BcdComponent,
    ComponentFailure,
    DifferencedFile,
    DirectedTarget,
    DiskExtent,
    LocationMapping,
    LunInfo,
    PartialFile,
    RestoreSubcomponent,
    SnapshotDescription,
    WriterComponents,
)
from vsssim.documents.components import (
    ComponentKind,
    Verdict,
    can_add_for_backup,
    can_add_restore_subcomponent,
    closest_explicit_ancestor,
    full_path,
    implicitly_included,
    is_ancestor,
    kind_of,
    required_components,
    restore_set,
    set_members,
)
from vsssim.documents.ranges import (
    format_ranges,
    is_ranges_file_path,
    parse_ranges,
    parse_ranges_file,
    ranges_file_bytes,
)
from vsssim.documents.records import ProviderProperties, SnapshotProperties, WriterStatus
from vsssim.documents.restore_options import (
    RestoreOption,
    format_restore_options,
    options_for,
    parse_restore_options,
)
from vsssim.documents.wmd import (
    DEFAULT_BACKUP_TYPE_MASK,
    WMD_FORMAT_VERSION,
    Dependency,
    FileDescriptor,
    RestoreMethodInfo,
    WmdComponent,
    WriterIdentity,
    WriterMetadata,
    WriterMetadataBuilder,
)

__all__ = [
    "BCD_FORMAT_VERSION",
    "DEFAULT_BACKUP_TYPE_MASK",
    "WMD_FORMAT_VERSION",
    "BackupComponentsDocument",
    "BcdComponent",
    "ComponentFailure",
    "ComponentKind",
    "Dependency",
    "DifferencedFile",
    "DirectedTarget",
    "DiskExtent",
    "FileDescriptor",
    "LocationMapping",
    "LunInfo",
    "PartialFile",
    "ProviderProperties",
    "RestoreMethodInfo",
    "RestoreOption",
    "RestoreSubcomponent",
    "SnapshotDescription",
    "SnapshotProperties",
    "Verdict",
    "WmdComponent",
    "WriterComponents",
    "WriterIdentity",
    "WriterMetadata",
    "WriterMetadataBuilder",
    "WriterStatus",
    "can_add_for_backup",
    "can_add_restore_subcomponent",
    "closest_explicit_ancestor",
    "format_ranges",
    "format_restore_options",
    "full_path",
    "implicitly_included",
    "is_ancestor",
    "is_ranges_file_path",
    "kind_of",
    "options_for",
    "parse_ranges",
    "parse_ranges_file",
    "parse_restore_options",
    "parse_xml",
    "ranges_file_bytes",
    "required_components",
    "restore_set",
    "set_members",
]

# With hypothesis in use, st.from_type(WriterMetadata) should draw valid documents.
from vsssim._hypothesis import register_if_testing

register_if_testing(WriterIdentity, FileDescriptor, WriterMetadata, WmdComponent,
                    BackupComponentsDocument, WriterStatus, SnapshotProperties,
                    ProviderProperties)
