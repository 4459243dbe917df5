"""The Backup Components Document (BCD): what a requester's ``IVssBackupComponents`` owns.

It records the backup state (``SetBackupState`` / ``SetRestoreState``), the snapshot set, and, per
writer instance, the ``IVssComponent`` data of each *explicitly* included component (reference
sections 6.5 and 7.2).  Components included implicitly, as members of a component set, never
get an entry: they are re-derived from logical paths in the saved WMDs
(:mod:`vsssim.documents.components`).  The BCD holds no file sets of its own, only the per-file
data writers and requesters attach to a component (partial and differenced files, mappings
actually used, new and directed targets), each keyed by an exact file set.

Both the requester and the writers edit it in turn, so the models are mutable; assignments are
validated.  The document-level validator enforces what the SDK calls enforce: one entry per
(logical path, name) per writer *class* (across all its instances), unique writer instances
and snapshot ids, legal names.  Who may write which field when is the coordinator's business.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, Self

from pydantic import Field, model_validator

from vsssim.constants import (
    BackupType,
    ComponentType,
    FileRestoreStatus,
    RestoreTarget,
    RestoreType,
    RollforwardType,
)
from vsssim.documents._fields import (
    _FOLDED,
    BackupTypeField,
    ComponentName,
    ComponentTypeField,
    DocumentModel,
    FileName,
    FilePath,
    FileRestoreStatusField,
    FileSpec,
    HResultValue,
    Int64,
    LogicalPath,
    RestoreTargetField,
    RestoreTypeField,
    RollforwardTypeField,
    UInt32,
    UInt63,
    XmlText,
    check_component_name,
    check_logical_path,
    coerce_enum,
    fold,
    full_path,
    trusted,
)
from vsssim.documents._xml import (
    BOOL,
    GUID,
    HEX32,
    INT,
    Attr,
    Many,
    One,
    Spec,
    dump_document,
    enum_codec,
    load_document,
)
from vsssim.errors import (
    VssInvalidArgumentError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
)

__all__ = [
    "BCD_FORMAT_VERSION",
    "BackupComponentsDocument",
    "BcdComponent",
    "ComponentFailure",
    "DifferencedFile",
    "DirectedTarget",
    "DiskExtent",
    "LocationMapping",
    "LunInfo",
    "PartialFile",
    "RestoreSubcomponent",
    "SnapshotDescription",
    "WriterComponents",
]

#: Version of vsssim's BCD XML format (the real schema is private to Windows).
BCD_FORMAT_VERSION: Final = "1.0"


class LocationMapping(DocumentModel):
    """A file set and where it goes: an alternate location mapping the requester actually used
    (``AddAlternativeLocationMapping``), or a new target (``AddNewTarget``).
    """

    path: FilePath
    filespec: FileSpec
    recursive: bool
    destination: FilePath

    @property
    def key(self) -> tuple[str, str, bool]:
        """The file set it applies to: (path, file spec, recursive), case-folded."""
        return (_FOLDED[self.path], _FOLDED[self.filespec], self.recursive)


class PartialFile(DocumentModel):
    """``IVssComponent::AddPartialFile``: only byte ranges of a file are backed up.

    ``ranges`` is ``offset:length[,offset:length...]`` or the path of a binary ranges file;
    ``ranges_file_restore_path`` is set by ``SetRangesFilePath`` when that file was restored
    elsewhere.  Kept opaque.
    """

    path: FilePath
    filename: FileName
    ranges: XmlText
    metadata: XmlText = ""
    ranges_file_restore_path: XmlText = ""


class DifferencedFile(DocumentModel):
    """``AddDifferencedFilesByLastModifyTime`` (or ``...LSN``): only files changed since
    ``last_modify_time`` (a FILETIME; 0 lets the requester use its own records) are needed.
    """

    path: FilePath
    filespec: FileSpec
    recursive: bool
    last_modify_time: Int64 = 0
    lsn: XmlText = ""


class RestoreSubcomponent(DocumentModel):
    """``AddRestoreSubcomponent``: a member of the component's set chosen for restore."""

    logical_path: LogicalPath
    component_name: ComponentName
    repair: bool = False

    @property
    def full_path(self) -> str:
        """Logical path + ``\\`` + name."""
        return full_path(self.logical_path, self.component_name)


class DirectedTarget(DocumentModel):
    """``IVssComponent::AddDirectedTarget``: a writer-chosen per-file remap with byte ranges."""

    source_path: FilePath
    source_filename: FileName
    source_ranges: XmlText
    destination_path: FilePath
    destination_filename: FileName
    destination_ranges: XmlText


class ComponentFailure(DocumentModel):
    """``IVssComponentEx2::SetFailure``: a component-level error (for partial failures)."""

    hresult: HResultValue
    application_hresult: HResultValue = 0
    message: XmlText = ""


class BcdComponent(DocumentModel):
    """One explicitly included component (``IVssComponent`` / ``IVssComponentEx[2]``).

    Set-wide properties (success, options, stamps, metadata, failure messages, restore target)
    apply to every member of the component set it defines; per-file-set data (partial and
    differenced files, mappings, new and directed targets) name the member's file set.
    """

    component_type: ComponentTypeField
    logical_path: LogicalPath = ""
    component_name: ComponentName
    backup_succeeded: bool = False
    backup_options: XmlText = ""
    restore_options: XmlText = ""
    backup_metadata: XmlText = ""
    restore_metadata: XmlText = ""
    backup_stamp: XmlText = ""
    previous_backup_stamp: XmlText = ""
    partial_files: list[PartialFile] = Field(default_factory=list)
    differenced_files: list[DifferencedFile] = Field(default_factory=list)
    selected_for_restore: bool = False
    restore_subcomponents: list[RestoreSubcomponent] = Field(default_factory=list)
    additional_restores: bool = False
    restore_target: RestoreTargetField = RestoreTarget.ORIGINAL
    directed_targets: list[DirectedTarget] = Field(default_factory=list)
    new_targets: list[LocationMapping] = Field(default_factory=list)
    alternate_location_mappings: list[LocationMapping] = Field(default_factory=list)
    file_restore_status: FileRestoreStatusField = FileRestoreStatus.UNDEFINED
    prepare_for_backup_failure_msg: XmlText = ""
    post_snapshot_failure_msg: XmlText = ""
    pre_restore_failure_msg: XmlText = ""
    post_restore_failure_msg: XmlText = ""
    authoritative_restore: bool = False
    roll_forward_type: RollforwardTypeField = RollforwardType.UNDEFINED
    roll_forward_point: XmlText = ""
    restore_name: XmlText = ""
    failure: ComponentFailure | None = None

    @model_validator(mode="after")
    def _validate_rules(self) -> Self:
        self._check_component()
        return self

    def _check_component(self) -> None:
        if self.component_type is ComponentType.UNDEFINED:
            raise ValueError("component_type must be DATABASE or FILEGROUP")

    @property
    def full_path(self) -> str:
        """Logical path + ``\\`` + name, or just the name at the root."""
        return full_path(self.logical_path, self.component_name)

    @property
    def key(self) -> tuple[str, str]:
        """(logical path, name), case-folded."""
        return (_FOLDED[self.logical_path], _FOLDED[self.component_name])


class WriterComponents(DocumentModel):
    """The components of one writer instance (``IVssWriterComponentsExt``; ``GetWriterInfo``
    gives the instance and class ids).
    """

    instance_id: uuid.UUID
    writer_id: uuid.UUID
    instance_name: XmlText = ""
    components: list[BcdComponent] = Field(default_factory=list)

    def component(self, logical_path: str | None, name: str) -> BcdComponent:
        """The component with that logical path (``None``/``""`` = root) and name, or
        :class:`~vsssim.errors.VssObjectNotFoundError`.
        """
        key = (fold(logical_path or ""), fold(name))
        for comp in self.components:
            if comp.key == key:
                return comp
        raise VssObjectNotFoundError(
            f"writer instance {self.instance_id} has no component "
            f"{full_path(logical_path, name)!r} in the backup components document"
        )


class LunInfo(DocumentModel):
    """A simplified ``VDS_LUN_INFORMATION``: what transportable snapshot sets record per LUN."""

    device_type: UInt32 = 0
    bus_type: UInt32 = 0
    vendor_id: XmlText = ""
    product_id: XmlText = ""
    product_revision: XmlText = ""
    serial_number: XmlText = ""
    page83_id: XmlText = ""


class DiskExtent(DocumentModel):
    """A volume extent on disk (``VSS_DISK_EXTENT``-like): byte offset and length."""

    offset: UInt63
    length: UInt63


class SnapshotDescription(DocumentModel):
    """One shadow copy of the snapshot set as the BCD records it (``AddToSnapshotSet``);
    transportable sets also carry LUN information and volume extents.
    """

    snapshot_id: uuid.UUID
    original_volume: XmlText
    provider_id: uuid.UUID
    attributes: UInt32 = 0
    timestamp: Int64 = 0
    original_luns: list[LunInfo] = Field(default_factory=list)
    target_luns: list[LunInfo] = Field(default_factory=list)
    extents: list[DiskExtent] = Field(default_factory=list)


class BackupComponentsDocument(DocumentModel):
    """The requester's backup components document (``IVssBackupComponents::SaveAsXML`` /
    ``InitializeForRestore``).  ``os_version`` is the simulated Windows version that made it.
    """

    select_components: bool = False
    bootable_system_state: bool = False
    backup_type: BackupTypeField = BackupType.UNDEFINED
    partial_file_support: bool = False
    restore_type: RestoreTypeField = RestoreType.UNDEFINED
    context: UInt32 = 0
    snapshot_set_id: uuid.UUID | None = None
    snapshots: list[SnapshotDescription] = Field(default_factory=list)
    writers: list[WriterComponents] = Field(default_factory=list)
    originating_machine: XmlText = ""
    os_version: XmlText = ""

    @model_validator(mode="after")
    def _validate_rules(self) -> Self:
        self._check_document()
        return self

    def _check_document(self) -> None:
        instances: set[uuid.UUID] = set()
        keys: set[tuple[uuid.UUID, str, str]] = set()
        for writer in self.writers:
            if writer.instance_id in instances:
                raise ValueError(f"writer instance {writer.instance_id} is listed twice")
            instances.add(writer.instance_id)
            for comp in writer.components:
                key = (writer.writer_id, *comp.key)
                if key in keys:
                    raise ValueError(
                        f"component {comp.full_path!r} of writer class {writer.writer_id} "
                        "is listed twice"
                    )
                keys.add(key)
        snapshot_ids: set[uuid.UUID] = set()
        for snap in self.snapshots:
            if snap.snapshot_id in snapshot_ids:
                raise ValueError(f"snapshot {snap.snapshot_id} is listed twice")
            snapshot_ids.add(snap.snapshot_id)

    def writer(self, instance_id: uuid.UUID) -> WriterComponents:
        """The entry of one writer instance, or :class:`~vsssim.errors.VssObjectNotFoundError`."""
        for writer in self.writers:
            if writer.instance_id == instance_id:
                return writer
        raise VssObjectNotFoundError(f"writer instance {instance_id} has no components here")

    def writers_for_class(self, writer_id: uuid.UUID) -> list[WriterComponents]:
        """The entries of every instance of writer class ``writer_id`` (maybe none)."""
        return [w for w in self.writers if w.writer_id == writer_id]

    def find_component(
        self,
        writer_id: uuid.UUID,
        component_type: ComponentType,
        logical_path: str | None,
        component_name: str,
    ) -> tuple[WriterComponents, BcdComponent]:
        """The entry addressed the way most ``IVssBackupComponents`` setters address one
        (writer class, type, logical path, name), or ``VssObjectNotFoundError``.
        """
        key = (fold(logical_path or ""), fold(component_name))
        for writer in self.writers_for_class(writer_id):
            for comp in writer.components:
                if comp.key == key and comp.component_type == component_type:
                    return writer, comp
        raise VssObjectNotFoundError(
            f"no {getattr(component_type, 'name', component_type)} component "
            f"{full_path(logical_path, component_name)!r} of writer class {writer_id} "
            "was added to the backup components document"
        )

    def add_component(
        self,
        instance_id: uuid.UUID,
        writer_id: uuid.UUID,
        component_type: ComponentType,
        logical_path: str | None,
        component_name: str,
    ) -> BcdComponent:
        """Record an explicitly included component (the document side of
        ``IVssBackupComponents::AddComponent``) and return its entry.

        A second entry with the same (logical path, name) for the writer *class* raises
        ``VssObjectAlreadyExistsError``; a bad type, path or name raises
        ``VssInvalidArgumentError``.  Whether the component exists in the writer's metadata is
        the caller's check.
        """
        for arg, ident in (("instance_id", instance_id), ("writer_id", writer_id)):
            if not isinstance(ident, uuid.UUID):
                raise TypeError(f"{arg} must be a uuid.UUID, not {type(ident).__name__}")
        try:
            ctype = coerce_enum(ComponentType, component_type)
        except ValueError as exc:
            raise VssInvalidArgumentError(f"component_type={exc}") from None
        if ctype is ComponentType.UNDEFINED:
            raise VssInvalidArgumentError(
                "component_type=UNDEFINED: a component is a DATABASE or a FILEGROUP"
            )
        path = logical_path or ""
        for name, value, check in (
            ("logical_path", path, check_logical_path),
            ("component_name", component_name, check_component_name),
        ):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, not {type(value).__name__}")
            try:
                check(value)
            except ValueError as exc:
                raise VssInvalidArgumentError(f"{name}={value!r}: {exc}") from None
        key = (fold(path), fold(component_name))
        for writer in self.writers_for_class(writer_id):
            for comp in writer.components:
                if comp.key == key:
                    raise VssObjectAlreadyExistsError(
                        f"component {comp.full_path!r} of writer class {writer_id} was already "
                        "added"
                    )
        entry = next((w for w in self.writers if w.instance_id == instance_id), None)
        if entry is not None and entry.writer_id != writer_id:
            raise VssInvalidArgumentError(
                f"writer_id={writer_id}: instance {instance_id} belongs to writer class "
                f"{entry.writer_id}"
            )
        # Every value is checked above: the models are built without validating them again
        # (for plain str and UUID values, which the validators would keep as they are).
        values: dict[str, Any] = {"component_type": ctype, "logical_path": path,
                                  "component_name": component_name}
        comp = trusted(BcdComponent, values) if type(path) is str and type(
            component_name) is str else BcdComponent(**values)
        if entry is None:
            ids: dict[str, Any] = {"instance_id": instance_id, "writer_id": writer_id}
            entry = trusted(WriterComponents, ids) if type(instance_id) is uuid.UUID and type(
                writer_id) is uuid.UUID else WriterComponents(**ids)
            self.writers.append(entry)
        entry.components.append(comp)
        return comp

    def save_as_xml(self) -> str:
        """The document as XML (``IVssBackupComponents::SaveAsXML``), vsssim format 1.0.

        Raises ``ValueError`` if in-place list edits (which pydantic does not validate) broke
        a document rule: an invalid document is never written.
        """
        for writer in self.writers:
            for comp in writer.components:
                comp._check_component()
        self._check_document()
        return dump_document(self, "BACKUP_COMPONENTS", _BCD_SPEC)

    @classmethod
    def load_from_xml(cls, xml: str | bytes) -> BackupComponentsDocument:
        """Load a saved BCD (the document side of ``InitializeForRestore`` /
        ``InitializeForBackup(xml)``).

        Raises :class:`~vsssim.errors.VssInvalidXmlDocumentError` for anything that is not a
        valid BCD; nothing is loaded.
        """
        return load_document(xml, "BACKUP_COMPONENTS", _BCD_SPEC, cls)


# ==================================================================================== XML shape

_MAPPING_SPEC: Final = Spec(
    LocationMapping,
    attrs=(
        Attr("path", "path"),
        Attr("filespec", "filespec"),
        Attr("recursive", "recursive", BOOL),
        Attr("destination", "destination"),
    ),
)
_PARTIAL_SPEC: Final = Spec(
    PartialFile,
    attrs=(
        Attr("path", "path"),
        Attr("filename", "filename"),
        Attr("ranges", "ranges"),
        Attr("metadata", "metadata"),
        Attr("ranges_file_restore_path", "rangesFileRestorePath"),
    ),
)
_DIFFERENCED_SPEC: Final = Spec(
    DifferencedFile,
    attrs=(
        Attr("path", "path"),
        Attr("filespec", "filespec"),
        Attr("recursive", "recursive", BOOL),
        Attr("last_modify_time", "lastModifyTime", INT),
        Attr("lsn", "lsn"),
    ),
)
_SUBCOMPONENT_SPEC: Final = Spec(
    RestoreSubcomponent,
    attrs=(
        Attr("logical_path", "logicalPath"),
        Attr("component_name", "componentName"),
        Attr("repair", "repair", BOOL),
    ),
)
_DIRECTED_SPEC: Final = Spec(
    DirectedTarget,
    attrs=(
        Attr("source_path", "sourcePath"),
        Attr("source_filename", "sourceFilename"),
        Attr("source_ranges", "sourceRanges"),
        Attr("destination_path", "destinationPath"),
        Attr("destination_filename", "destinationFilename"),
        Attr("destination_ranges", "destinationRanges"),
    ),
)
_FAILURE_SPEC: Final = Spec(
    ComponentFailure,
    attrs=(
        Attr("hresult", "hresult", HEX32),
        Attr("application_hresult", "applicationHresult", HEX32),
        Attr("message", "message"),
    ),
)
_COMPONENT_SPEC: Final = Spec(
    BcdComponent,
    attrs=(
        Attr("component_type", "componentType", enum_codec(ComponentType)),
        Attr("logical_path", "logicalPath"),
        Attr("component_name", "componentName"),
        Attr("backup_succeeded", "backupSucceeded", BOOL),
        Attr("backup_options", "backupOptions"),
        Attr("restore_options", "restoreOptions"),
        Attr("backup_metadata", "backupMetadata"),
        Attr("restore_metadata", "restoreMetadata"),
        Attr("backup_stamp", "backupStamp"),
        Attr("previous_backup_stamp", "previousBackupStamp"),
        Attr("selected_for_restore", "selectedForRestore", BOOL),
        Attr("additional_restores", "additionalRestores", BOOL),
        Attr("restore_target", "restoreTarget", enum_codec(RestoreTarget)),
        Attr("file_restore_status", "fileRestoreStatus", enum_codec(FileRestoreStatus)),
        Attr("prepare_for_backup_failure_msg", "prepareForBackupFailureMsg"),
        Attr("post_snapshot_failure_msg", "postSnapshotFailureMsg"),
        Attr("pre_restore_failure_msg", "preRestoreFailureMsg"),
        Attr("post_restore_failure_msg", "postRestoreFailureMsg"),
        Attr("authoritative_restore", "authoritativeRestore", BOOL),
        Attr("roll_forward_type", "rollForwardType", enum_codec(RollforwardType)),
        Attr("roll_forward_point", "rollForwardPoint"),
        Attr("restore_name", "restoreName"),
    ),
    ones=(One("failure", "FAILURE", _FAILURE_SPEC),),
    manys=(
        Many("partial_files", _PARTIAL_SPEC, tag="PARTIAL_FILE"),
        Many("differenced_files", _DIFFERENCED_SPEC, tag="DIFFERENCED_FILE"),
        Many("restore_subcomponents", _SUBCOMPONENT_SPEC, tag="RESTORE_SUBCOMPONENT"),
        Many("directed_targets", _DIRECTED_SPEC, tag="DIRECTED_TARGET"),
        Many("new_targets", _MAPPING_SPEC, tag="NEW_TARGET"),
        Many("alternate_location_mappings", _MAPPING_SPEC, tag="ALTERNATE_LOCATION_MAPPING"),
    ),
)
_WRITER_SPEC: Final = Spec(
    WriterComponents,
    attrs=(
        Attr("instance_id", "instanceId", GUID),
        Attr("writer_id", "writerId", GUID),
        Attr("instance_name", "instanceName"),
    ),
    manys=(Many("components", _COMPONENT_SPEC, tag="COMPONENT"),),
)
_LUN_SPEC: Final = Spec(
    LunInfo,
    attrs=(
        Attr("device_type", "deviceType", INT),
        Attr("bus_type", "busType", INT),
        Attr("vendor_id", "vendorId"),
        Attr("product_id", "productId"),
        Attr("product_revision", "productRevision"),
        Attr("serial_number", "serialNumber"),
        Attr("page83_id", "page83Id"),
    ),
)
_EXTENT_SPEC: Final = Spec(
    DiskExtent, attrs=(Attr("offset", "offset", INT), Attr("length", "length", INT))
)
_SNAPSHOT_SPEC: Final = Spec(
    SnapshotDescription,
    attrs=(
        Attr("snapshot_id", "snapshotId", GUID),
        Attr("original_volume", "originalVolume"),
        Attr("provider_id", "providerId", GUID),
        Attr("attributes", "attributes", INT),
        Attr("timestamp", "timestamp", INT),
    ),
    manys=(
        Many("original_luns", _LUN_SPEC, tag="LUN_INFORMATION", role=("role", "original")),
        Many("target_luns", _LUN_SPEC, tag="LUN_INFORMATION", role=("role", "target")),
        Many("extents", _EXTENT_SPEC, tag="DISK_EXTENT"),
    ),
)
_BCD_SPEC: Final = Spec(
    BackupComponentsDocument,
    fixed=(("version", BCD_FORMAT_VERSION),),
    attrs=(
        Attr("select_components", "selectComponents", BOOL),
        Attr("bootable_system_state", "bootableSystemState", BOOL),
        Attr("backup_type", "backupType", enum_codec(BackupType)),
        Attr("partial_file_support", "partialFileSupport", BOOL),
        Attr("restore_type", "restoreType", enum_codec(RestoreType)),
        Attr("context", "context", INT),
        Attr("snapshot_set_id", "snapshotSetId", GUID),
        Attr("originating_machine", "originatingMachine"),
        Attr("os_version", "osVersion"),
    ),
    manys=(
        Many(
            "snapshots",
            _SNAPSHOT_SPEC,
            tag="SNAPSHOT_DESCRIPTION",
            within="SNAPSHOT_SET_DESCRIPTION",
        ),
        Many("writers", _WRITER_SPEC, tag="WRITER_COMPONENTS"),
    ),
)
