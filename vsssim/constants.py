"""Every enumeration of the VSS SDK headers, with the SDK's numeric values.

Headers covered: ``vss.h``, ``vswriter.h``, ``vsbackup.h`` (it declares no enumeration of its own),
``vsprov.h`` (none of its own either: it uses the ``vss.h`` ones) and ``vsmgmt.h``.

Naming: the SDK type in CapWords (``VSS_WRITER_STATE`` -> :class:`WriterState`), members without
the common prefix (``VSS_WS_FAILED_AT_FREEZE`` -> ``WriterState.FAILED_AT_FREEZE``).  Enumerations
that the SDK combines with ``|`` are :class:`enum.IntFlag`; the others are :class:`enum.IntEnum`.
A few members also carry a spelled-out alias (``UsageType.USER_DATA`` for ``USERDATA``); aliases
are the same member.

:data:`SDK_NAMES` maps every full SDK member name (``"VSS_WS_FAILED_AT_FREEZE"``) to its member,
and :func:`sdk_name` goes the other way.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, IntFlag
from types import MappingProxyType
from typing import Final

__all__ = [
    "SDK_NAMES",
    "SDK_TYPES",
    "AlternateWriterState",
    "ApplicationLevel",
    "BackupSchema",
    "BackupType",
    "ComponentFlags",
    "ComponentType",
    "Context",
    "FileRestoreStatus",
    "FileSpecBackupType",
    "HardwareOptions",
    "MgmtObjectType",
    "ObjectType",
    "ProtectionFault",
    "ProtectionLevel",
    "ProviderCapabilities",
    "ProviderType",
    "RecoveryOptions",
    "RestoreMethod",
    "RestoreTarget",
    "RestoreType",
    "RollforwardType",
    "SnapshotAttributes",
    "SnapshotCompatibility",
    "SnapshotContext",
    "SnapshotPropertyId",
    "SnapshotState",
    "SourceType",
    "SubscribeMask",
    "UsageType",
    "VolumeSnapshotAttributes",
    "WriterRestore",
    "WriterState",
    "sdk_name",
]


# --------------------------------------------------------------------------------------- vss.h
class ObjectType(IntEnum):
    """``VSS_OBJECT_TYPE``: the kind of object a query or a deletion addresses."""

    UNKNOWN = 0
    NONE = 1
    SNAPSHOT_SET = 2
    SNAPSHOT = 3
    PROVIDER = 4
    TYPE_COUNT = 5


class SnapshotState(IntEnum):
    """``VSS_SNAPSHOT_STATE``.  Requesters only ever observe ``CREATED``.

    ``POSTCOMMITTED`` (15) was appended after ``DELETED``: numeric order is not life order.
    """

    UNKNOWN = 0
    PREPARING = 1
    PROCESSING_PREPARE = 2
    PREPARED = 3
    PROCESSING_PRECOMMIT = 4
    PRECOMMITTED = 5
    PROCESSING_COMMIT = 6
    COMMITTED = 7
    PROCESSING_POSTCOMMIT = 8
    PROCESSING_PREFINALCOMMIT = 9
    PREFINALCOMMITTED = 10
    PROCESSING_POSTFINALCOMMIT = 11
    CREATED = 12
    ABORTED = 13
    DELETED = 14
    POSTCOMMITTED = 15
    COUNT = 16


class VolumeSnapshotAttributes(IntFlag):
    """``VSS_VOLUME_SNAPSHOT_ATTRIBUTES``: the bits of a shadow copy's attribute mask."""

    PERSISTENT = 0x1
    NO_AUTORECOVERY = 0x2
    CLIENT_ACCESSIBLE = 0x4
    NO_AUTO_RELEASE = 0x8
    NO_WRITERS = 0x10
    TRANSPORTABLE = 0x20
    NOT_SURFACED = 0x40
    NOT_TRANSACTED = 0x80
    HARDWARE_ASSISTED = 0x10000
    DIFFERENTIAL = 0x20000
    PLEX = 0x40000
    IMPORTED = 0x80000
    EXPOSED_LOCALLY = 0x100000
    EXPOSED_REMOTELY = 0x200000
    AUTORECOVER = 0x400000
    ROLLBACK_RECOVERY = 0x800000
    DELAYED_POSTSNAPSHOT = 0x1000000
    TXF_RECOVERY = 0x2000000
    FILE_SHARE = 0x4000000


_A = VolumeSnapshotAttributes


class SnapshotContext(IntEnum):
    """``VSS_SNAPSHOT_CONTEXT``.  Each context is a combination of attribute bits, as in the SDK.

    A requester may OR a few modifier bits into a context (``APP_ROLLBACK | TRANSPORTABLE``);
    the result is a plain ``int`` (the SDK passes contexts as ``LONG``).
    """

    BACKUP = 0x0
    FILE_SHARE_BACKUP = int(_A.NO_WRITERS)
    NAS_ROLLBACK = int(_A.PERSISTENT | _A.NO_AUTO_RELEASE | _A.NO_WRITERS)
    APP_ROLLBACK = int(_A.PERSISTENT | _A.NO_AUTO_RELEASE)
    CLIENT_ACCESSIBLE = int(
        _A.PERSISTENT | _A.CLIENT_ACCESSIBLE | _A.NO_AUTO_RELEASE | _A.NO_WRITERS
    )
    CLIENT_ACCESSIBLE_WRITERS = int(_A.PERSISTENT | _A.CLIENT_ACCESSIBLE | _A.NO_AUTO_RELEASE)
    ALL = 0xFFFFFFFF


class ProviderCapabilities(IntFlag):
    """``VSS_PROVIDER_CAPABILITIES`` (documented as "not supported"; kept for completeness)."""

    LEGACY = 0x1
    COMPLIANT = 0x2
    LUN_REPOINT = 0x4
    LUN_RESYNC = 0x8
    OFFLINE_CREATION = 0x10
    MULTIPLE_IMPORT = 0x20
    RECYCLING = 0x40
    PLEX = 0x80
    DIFFERENTIAL = 0x100
    CLUSTERED = 0x200


class HardwareOptions(IntFlag):
    """``VSS_HARDWARE_OPTIONS``: ``BreakSnapshotSetEx`` flags and ``OnLunStateChange`` flags."""

    BREAKEX_FLAG_MASK_LUNS = 0x1
    BREAKEX_FLAG_MAKE_READ_WRITE = 0x2
    BREAKEX_FLAG_REVERT_IDENTITY_ALL = 0x4
    BREAKEX_FLAG_REVERT_IDENTITY_NONE = 0x8
    ONLUNSTATECHANGE_NOTIFY_READ_WRITE = 0x100
    ONLUNSTATECHANGE_NOTIFY_LUN_PRE_RECOVERY = 0x200
    ONLUNSTATECHANGE_NOTIFY_LUN_POST_RECOVERY = 0x400
    ONLUNSTATECHANGE_DO_MASK_LUNS = 0x800


class RecoveryOptions(IntFlag):
    """``VSS_RECOVERY_OPTIONS`` (``IVssBackupComponentsEx3::RecoverSet``)."""

    REVERT_IDENTITY_ALL = 0x100
    NO_VOLUME_CHECK = 0x200


class WriterState(IntEnum):
    """``VSS_WRITER_STATE``: what ``GetWriterStatus`` reports for a writer."""

    UNKNOWN = 0
    STABLE = 1
    WAITING_FOR_FREEZE = 2
    WAITING_FOR_THAW = 3
    WAITING_FOR_POST_SNAPSHOT = 4
    WAITING_FOR_BACKUP_COMPLETE = 5
    FAILED_AT_IDENTIFY = 6
    FAILED_AT_PREPARE_BACKUP = 7
    FAILED_AT_PREPARE_SNAPSHOT = 8
    FAILED_AT_FREEZE = 9
    FAILED_AT_THAW = 10
    FAILED_AT_POST_SNAPSHOT = 11
    FAILED_AT_BACKUP_COMPLETE = 12
    FAILED_AT_PRE_RESTORE = 13
    FAILED_AT_POST_RESTORE = 14
    FAILED_AT_BACKUPSHUTDOWN = 15
    COUNT = 16

    @property
    def is_failed(self) -> bool:
        """True for every ``FAILED_AT_*`` state."""
        return WriterState.FAILED_AT_IDENTIFY <= self <= WriterState.FAILED_AT_BACKUPSHUTDOWN


class BackupType(IntEnum):
    """``VSS_BACKUP_TYPE``."""

    UNDEFINED = 0
    FULL = 1
    INCREMENTAL = 2
    DIFFERENTIAL = 3
    LOG = 4
    COPY = 5
    OTHER = 6


class RestoreType(IntEnum):
    """``VSS_RESTORE_TYPE``.  ``UNDEFINED`` is the default and writers treat it as ``BY_COPY``."""

    UNDEFINED = 0
    BY_COPY = 1
    IMPORT = 2
    OTHER = 3


class RollforwardType(IntEnum):
    """``VSS_ROLLFORWARD_TYPE`` (``IVssBackupComponentsEx2::SetRollForward``)."""

    UNDEFINED = 0
    NONE = 1
    ALL = 2
    PARTIAL = 3


class ProviderType(IntEnum):
    """``VSS_PROVIDER_TYPE``."""

    UNKNOWN = 0
    SYSTEM = 1
    SOFTWARE = 2
    HARDWARE = 3
    FILESHARE = 4


class ApplicationLevel(IntEnum):
    """``VSS_APPLICATION_LEVEL``: Freeze goes to FRONT_END, then BACK_END, then SYSTEM writers.

    ``SYSTEM_RM`` is undocumented: see :attr:`vsssim.options.VssOptions.system_rm_writers`."""

    UNKNOWN = 0
    SYSTEM = 1
    BACK_END = 2
    FRONT_END = 3
    SYSTEM_RM = 4
    AUTO = -1


class SnapshotCompatibility(IntFlag):
    """``VSS_SNAPSHOT_COMPATIBILITY`` (returned by ``IsVolumeSnapshotted``)."""

    DISABLE_DEFRAG = 0x1
    DISABLE_CONTENTINDEX = 0x2


class SnapshotPropertyId(IntEnum):
    """``VSS_SNAPSHOT_PROPERTY_ID`` (``IVssSoftwareSnapshotProvider::SetSnapshotProperty``)."""

    UNKNOWN = 0x0
    SNAPSHOT_ID = 0x1
    SNAPSHOT_SET_ID = 0x2
    SNAPSHOTS_COUNT = 0x3
    SNAPSHOT_DEVICE = 0x4
    ORIGINAL_VOLUME = 0x5
    ORIGINATING_MACHINE = 0x6
    SERVICE_MACHINE = 0x7
    EXPOSED_NAME = 0x8
    EXPOSED_PATH = 0x9
    PROVIDER_ID = 0xA
    SNAPSHOT_ATTRIBUTES = 0xB
    CREATION_TIMESTAMP = 0xC
    STATUS = 0xD


class FileSpecBackupType(IntFlag):
    """``VSS_FILE_SPEC_BACKUP_TYPE``: per-file-set mask; the default is ``0xF0F``."""

    FULL_BACKUP_REQUIRED = 0x1
    DIFFERENTIAL_BACKUP_REQUIRED = 0x2
    INCREMENTAL_BACKUP_REQUIRED = 0x4
    LOG_BACKUP_REQUIRED = 0x8
    FULL_SNAPSHOT_REQUIRED = 0x100
    DIFFERENTIAL_SNAPSHOT_REQUIRED = 0x200
    INCREMENTAL_SNAPSHOT_REQUIRED = 0x400
    LOG_SNAPSHOT_REQUIRED = 0x800
    CREATED_DURING_BACKUP = 0x10000
    ALL_BACKUP_REQUIRED = 0xF
    ALL_SNAPSHOT_REQUIRED = 0xF00


class BackupSchema(IntFlag):
    """``VSS_BACKUP_SCHEMA``: the backup and restore features a writer supports."""

    UNDEFINED = 0x0
    DIFFERENTIAL = 0x1
    INCREMENTAL = 0x2
    EXCLUSIVE_INCREMENTAL_DIFFERENTIAL = 0x4
    LOG = 0x8
    COPY = 0x10
    TIMESTAMPED = 0x20
    LAST_MODIFY = 0x40
    LSN = 0x80
    WRITER_SUPPORTS_NEW_TARGET = 0x100
    WRITER_SUPPORTS_RESTORE_WITH_MOVE = 0x200
    INDEPENDENT_SYSTEM_STATE = 0x400
    ROLLFORWARD_RESTORE = 0x1000
    RESTORE_RENAME = 0x2000
    AUTHORITATIVE_RESTORE = 0x4000
    WRITER_SUPPORTS_PARALLEL_RESTORES = 0x8000


# ----------------------------------------------------------------------------------- vswriter.h
class UsageType(IntEnum):
    """``VSS_USAGE_TYPE``.  ``USER_DATA`` etc. are spelled-out aliases of the SDK members."""

    UNDEFINED = 0
    BOOTABLESYSTEMSTATE = 1
    SYSTEMSERVICE = 2
    USERDATA = 3
    OTHER = 4
    BOOTABLE_SYSTEM_STATE = 1
    SYSTEM_SERVICE = 2
    USER_DATA = 3


class SourceType(IntEnum):
    """``VSS_SOURCE_TYPE``.  ``TRANSACTED_DB`` etc. are spelled-out aliases of the SDK members."""

    UNDEFINED = 0
    TRANSACTEDDB = 1
    NONTRANSACTEDDB = 2
    OTHER = 3
    TRANSACTED_DB = 1
    NON_TRANSACTED_DB = 2


class RestoreMethod(IntEnum):
    """``VSS_RESTOREMETHOD_ENUM``: the writer-wide restore method of a writer's metadata."""

    UNDEFINED = 0
    RESTORE_IF_NOT_THERE = 1
    RESTORE_IF_CAN_REPLACE = 2
    STOP_RESTORE_START = 3
    RESTORE_TO_ALTERNATE_LOCATION = 4
    RESTORE_AT_REBOOT = 5
    RESTORE_AT_REBOOT_IF_CANNOT_REPLACE = 6
    CUSTOM = 7
    RESTORE_STOP_START = 8


class WriterRestore(IntEnum):
    """``VSS_WRITERRESTORE_ENUM``: whether the writer wants restore events."""

    UNDEFINED = 0
    NEVER = 1
    IF_REPLACE_FAILS = 2
    ALWAYS = 3


class ComponentType(IntEnum):
    """``VSS_COMPONENT_TYPE``."""

    UNDEFINED = 0
    DATABASE = 1
    FILEGROUP = 2


class AlternateWriterState(IntEnum):
    """``VSS_ALTERNATE_WRITER_STATE`` (reserved mechanism; writers keep the default)."""

    UNDEFINED = 0
    NO_ALTERNATE_WRITER = 1
    ALTERNATE_WRITER_EXISTS = 2
    THIS_IS_ALTERNATE_WRITER = 3


class SubscribeMask(IntFlag):
    """``VSS_SUBSCRIBE_MASK``: ``CVssWriter::Subscribe`` flags (keep the default ``0x6``)."""

    POST_SNAPSHOT_FLAG = 0x1
    BACKUP_EVENTS_FLAG = 0x2
    RESTORE_EVENTS_FLAG = 0x4
    IO_THROTTLING_FLAG = 0x8
    ALL_FLAGS = 0xFFFFFFFF


class RestoreTarget(IntEnum):
    """``VSS_RESTORE_TARGET``.  ``ORIGINAL`` means "follow the restore method"."""

    UNDEFINED = 0
    ORIGINAL = 1
    ALTERNATE = 2
    DIRECTED = 3
    ORIGINAL_LOCATION = 4


class FileRestoreStatus(IntEnum):
    """``VSS_FILE_RESTORE_STATUS``."""

    UNDEFINED = 0
    NONE = 1
    ALL = 2
    FAILED = 3


class ComponentFlags(IntFlag):
    """``VSS_COMPONENT_FLAGS``."""

    BACKUP_RECOVERY = 0x1
    APP_ROLLBACK_RECOVERY = 0x2
    NOT_SYSTEM_STATE = 0x4


# ------------------------------------------------------------------------------------ vsmgmt.h
class MgmtObjectType(IntEnum):
    """``VSS_MGMT_OBJECT_TYPE``."""

    UNKNOWN = 0
    VOLUME = 1
    DIFF_VOLUME = 2
    DIFF_AREA = 3


class ProtectionLevel(IntEnum):
    """``VSS_PROTECTION_LEVEL``."""

    ORIGINAL_VOLUME = 0
    SNAPSHOT = 1


class ProtectionFault(IntEnum):
    """``VSS_PROTECTION_FAULT``."""

    NONE = 0
    DIFF_AREA_MISSING = 1
    IO_FAILURE_DURING_ONLINE = 2
    META_DATA_CORRUPTION = 3
    MEMORY_ALLOCATION_FAILURE = 4
    MAPPED_MEMORY_FAILURE = 5
    COW_READ_FAILURE = 6
    COW_WRITE_FAILURE = 7
    DIFF_AREA_FULL = 8
    GROW_TOO_SLOW = 9
    GROW_FAILED = 10
    DESTROY_ALL_SNAPSHOTS = 11
    FILE_SYSTEM_FAILURE = 12
    IO_FAILURE = 13
    DIFF_AREA_REMOVED = 14
    EXTERNAL_WRITER_TO_DIFF_AREA = 15
    MOUNT_DURING_CLUSTER_OFFLINE = 16


# Short names used by design.md; the same classes.
Context = SnapshotContext
SnapshotAttributes = VolumeSnapshotAttributes

#: SDK type name -> (class, prefix of its members' SDK names).
SDK_TYPES: Final[Mapping[str, tuple[type[IntEnum] | type[IntFlag], str]]] = MappingProxyType({
    "VSS_OBJECT_TYPE": (ObjectType, "VSS_OBJECT_"),
    "VSS_SNAPSHOT_STATE": (SnapshotState, "VSS_SS_"),
    "VSS_VOLUME_SNAPSHOT_ATTRIBUTES": (VolumeSnapshotAttributes, "VSS_VOLSNAP_ATTR_"),
    "VSS_SNAPSHOT_CONTEXT": (SnapshotContext, "VSS_CTX_"),
    "VSS_PROVIDER_CAPABILITIES": (ProviderCapabilities, "VSS_PRV_CAPABILITY_"),
    "VSS_HARDWARE_OPTIONS": (HardwareOptions, "VSS_"),
    "VSS_RECOVERY_OPTIONS": (RecoveryOptions, "VSS_RECOVERY_"),
    "VSS_WRITER_STATE": (WriterState, "VSS_WS_"),
    "VSS_BACKUP_TYPE": (BackupType, "VSS_BT_"),
    "VSS_RESTORE_TYPE": (RestoreType, "VSS_RTYPE_"),
    "VSS_ROLLFORWARD_TYPE": (RollforwardType, "VSS_RF_"),
    "VSS_PROVIDER_TYPE": (ProviderType, "VSS_PROV_"),
    "VSS_APPLICATION_LEVEL": (ApplicationLevel, "VSS_APP_"),
    "VSS_SNAPSHOT_COMPATIBILITY": (SnapshotCompatibility, "VSS_SC_"),
    "VSS_SNAPSHOT_PROPERTY_ID": (SnapshotPropertyId, "VSS_SPROPID_"),
    "VSS_FILE_SPEC_BACKUP_TYPE": (FileSpecBackupType, "VSS_FSBT_"),
    "VSS_BACKUP_SCHEMA": (BackupSchema, "VSS_BS_"),
    "VSS_USAGE_TYPE": (UsageType, "VSS_UT_"),
    "VSS_SOURCE_TYPE": (SourceType, "VSS_ST_"),
    "VSS_RESTOREMETHOD_ENUM": (RestoreMethod, "VSS_RME_"),
    "VSS_WRITERRESTORE_ENUM": (WriterRestore, "VSS_WRE_"),
    "VSS_COMPONENT_TYPE": (ComponentType, "VSS_CT_"),
    "VSS_ALTERNATE_WRITER_STATE": (AlternateWriterState, "VSS_AWS_"),
    "VSS_SUBSCRIBE_MASK": (SubscribeMask, "VSS_SM_"),
    "VSS_RESTORE_TARGET": (RestoreTarget, "VSS_RT_"),
    "VSS_FILE_RESTORE_STATUS": (FileRestoreStatus, "VSS_RS_"),
    "VSS_COMPONENT_FLAGS": (ComponentFlags, "VSS_CF_"),
    "VSS_MGMT_OBJECT_TYPE": (MgmtObjectType, "VSS_MGMT_OBJECT_"),
    "VSS_PROTECTION_LEVEL": (ProtectionLevel, "VSS_PROTECTION_LEVEL_"),
    "VSS_PROTECTION_FAULT": (ProtectionFault, "VSS_PROTECTION_FAULT_"),
})


def _build_sdk_names() -> dict[str, IntEnum | IntFlag]:
    names: dict[str, IntEnum | IntFlag] = {}
    for cls, prefix in SDK_TYPES.values():
        # __members__ includes aliases; only canonical names are SDK names.
        for member_name, member in cls.__members__.items():
            if member.name == member_name:
                names[prefix + member_name] = member
    return names


#: Every full SDK member name -> its member (aliases excluded).
SDK_NAMES: Final[Mapping[str, IntEnum | IntFlag]] = MappingProxyType(_build_sdk_names())

_PREFIX_BY_CLASS: Final = dict(SDK_TYPES.values())


def sdk_name(member: IntEnum | IntFlag) -> str:
    """Full SDK name of an enumeration member: ``sdk_name(WriterState.STABLE) == "VSS_WS_STABLE"``.

    Raises ``ValueError`` for a flag combination that is not itself a named member.
    """
    prefix = _PREFIX_BY_CLASS.get(type(member))
    if prefix is None:
        raise TypeError(f"{type(member).__name__} is not a VSS SDK enumeration")
    if member.name is None or "|" in member.name:
        raise ValueError(f"{member!r} is a combination of flags, not one SDK member")
    return prefix + member.name
