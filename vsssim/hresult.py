"""Every HRESULT of the Windows SDK header ``vsserror.h``, plus the generic COM codes VSS uses.

Values are exactly the SDK ones, as unsigned 32-bit integers (``VSS_E_BAD_STATE == 0x80042301``).
Each code is a member of the :class:`HResult` ``IntEnum`` and is also exported as a module
constant of the same name, so ``hresult.VSS_E_BAD_STATE`` and ``HResult.VSS_E_BAD_STATE`` are the
same object.  :func:`lookup` turns any value (unsigned, or signed as COM hands it to Python)
into its name and documented one-line meaning.

Source of the values: the SDK header as shipped by mingw-w64 10.0.0 (checked against a copy of
the Windows SDK header); meanings are paraphrased from the per-method documentation pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

__all__ = [
    "MEANINGS",
    "RETRYABLE_WRITER_ERRORS",
    "TRANSIENT_CREATION_ERRORS",
    "VSS_CODES",
    "HResult",
    "HResultInfo",
    "as_hresult",
    "describe",
    "is_error",
    "is_success",
    "lookup",
    "name_of",
    "to_signed",
    "to_unsigned",
]


class HResult(IntEnum):
    """A VSS or generic COM HRESULT, valued as an unsigned 32-bit integer."""

    # Generic COM codes used on the VSS pages (winerror.h).
    S_OK = 0x00000000
    S_FALSE = 0x00000001
    E_NOTIMPL = 0x80004001
    E_FAIL = 0x80004005
    E_UNEXPECTED = 0x8000FFFF
    E_ACCESSDENIED = 0x80070005
    E_OUTOFMEMORY = 0x8007000E
    E_INVALIDARG = 0x80070057
    # vsserror.h, in order of the code.
    VSS_E_BAD_STATE = 0x80042301
    VSS_E_UNEXPECTED = 0x80042302
    VSS_E_PROVIDER_ALREADY_REGISTERED = 0x80042303
    VSS_E_PROVIDER_NOT_REGISTERED = 0x80042304
    VSS_E_PROVIDER_VETO = 0x80042306
    VSS_E_PROVIDER_IN_USE = 0x80042307
    VSS_E_OBJECT_NOT_FOUND = 0x80042308
    VSS_S_ASYNC_PENDING = 0x00042309
    VSS_S_ASYNC_FINISHED = 0x0004230A
    VSS_S_ASYNC_CANCELLED = 0x0004230B
    VSS_E_VOLUME_NOT_SUPPORTED = 0x8004230C
    VSS_E_OBJECT_ALREADY_EXISTS = 0x8004230D
    VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER = 0x8004230E
    VSS_E_UNEXPECTED_PROVIDER_ERROR = 0x8004230F
    VSS_E_CORRUPT_XML_DOCUMENT = 0x80042310
    VSS_E_INVALID_XML_DOCUMENT = 0x80042311
    VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED = 0x80042312
    VSS_E_FLUSH_WRITES_TIMEOUT = 0x80042313
    VSS_E_HOLD_WRITES_TIMEOUT = 0x80042314
    VSS_E_UNEXPECTED_WRITER_ERROR = 0x80042315
    VSS_E_SNAPSHOT_SET_IN_PROGRESS = 0x80042316
    VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED = 0x80042317
    VSS_E_WRITER_INFRASTRUCTURE = 0x80042318
    VSS_E_WRITER_NOT_RESPONDING = 0x80042319
    VSS_E_WRITER_ALREADY_SUBSCRIBED = 0x8004231A
    VSS_E_UNSUPPORTED_CONTEXT = 0x8004231B
    VSS_E_VOLUME_IN_USE = 0x8004231D
    VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED = 0x8004231E
    VSS_E_INSUFFICIENT_STORAGE = 0x8004231F
    VSS_E_NO_SNAPSHOTS_IMPORTED = 0x80042320
    VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED = 0x80042321
    VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED = 0x00042321
    VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED = 0x80042322
    VSS_E_REMOTE_SERVER_UNAVAILABLE = 0x80042323
    VSS_E_REMOTE_SERVER_UNSUPPORTED = 0x80042324
    VSS_E_REVERT_IN_PROGRESS = 0x80042325
    VSS_E_REVERT_VOLUME_LOST = 0x80042326
    VSS_E_REBOOT_REQUIRED = 0x80042327
    VSS_E_TRANSACTION_FREEZE_TIMEOUT = 0x80042328
    VSS_E_TRANSACTION_THAW_TIMEOUT = 0x80042329
    VSS_E_UNSELECTED_VOLUME = 0x8004232A
    VSS_E_SNAPSHOT_NOT_IN_SET = 0x8004232B
    VSS_E_NESTED_VOLUME_LIMIT = 0x8004232C
    VSS_E_VOLUME_NOT_LOCAL = 0x8004232D
    VSS_E_CLUSTER_TIMEOUT = 0x8004232E
    VSS_E_NOT_SUPPORTED = 0x8004232F
    VSS_E_WRITERERROR_PARTIAL_FAILURE = 0x80042336
    VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT = 0x800423F0
    VSS_E_WRITERERROR_OUTOFRESOURCES = 0x800423F1
    VSS_E_WRITERERROR_TIMEOUT = 0x800423F2
    VSS_E_WRITERERROR_RETRYABLE = 0x800423F3
    VSS_E_WRITERERROR_NONRETRYABLE = 0x800423F4
    VSS_E_WRITERERROR_RECOVERY_FAILED = 0x800423F5
    VSS_E_BREAK_REVERT_ID_FAILED = 0x800423F6
    VSS_E_LEGACY_PROVIDER = 0x800423F7
    VSS_E_MISSING_DISK = 0x800423F8
    VSS_E_MISSING_HIDDEN_VOLUME = 0x800423F9
    VSS_E_MISSING_VOLUME = 0x800423FA
    VSS_E_AUTORECOVERY_FAILED = 0x800423FB
    VSS_E_DYNAMIC_DISK_ERROR = 0x800423FC
    VSS_E_NONTRANSPORTABLE_BCD = 0x800423FD
    VSS_E_CANNOT_REVERT_DISKID = 0x800423FE
    VSS_E_RESYNC_IN_PROGRESS = 0x800423FF
    VSS_E_CLUSTER_ERROR = 0x80042400
    VSS_E_ASRERROR_DISK_ASSIGNMENT_FAILED = 0x80042401
    VSS_E_ASRERROR_DISK_RECREATION_FAILED = 0x80042402
    VSS_E_ASRERROR_NO_ARCPATH = 0x80042403
    VSS_E_ASRERROR_MISSING_DYNDISK = 0x80042404
    VSS_E_ASRERROR_SHARED_CRIDISK = 0x80042405
    VSS_E_ASRERROR_DATADISK_RDISK0 = 0x80042406
    VSS_E_ASRERROR_RDISK0_TOOSMALL = 0x80042407
    VSS_E_ASRERROR_CRITICAL_DISKS_TOO_SMALL = 0x80042408
    VSS_E_WRITER_STATUS_NOT_AVAILABLE = 0x80042409
    VSS_E_ASRERROR_DYNAMIC_VHD_NOT_SUPPORTED = 0x8004240A
    VSS_E_CRITICAL_VOLUME_ON_INVALID_DISK = 0x80042411
    VSS_E_ASRERROR_RDISK_FOR_SYSTEM_DISK_NOT_FOUND = 0x80042412
    VSS_E_ASRERROR_NO_PHYSICAL_DISK_AVAILABLE = 0x80042413
    VSS_E_ASRERROR_FIXED_PHYSICAL_DISK_AVAILABLE_AFTER_DISK_EXCLUSION = 0x80042414
    VSS_E_ASRERROR_CRITICAL_DISK_CANNOT_BE_EXCLUDED = 0x80042415
    VSS_E_ASRERROR_SYSTEM_PARTITION_HIDDEN = 0x80042416
    VSS_E_FSS_TIMEOUT = 0x80042417


#: Documented one-line meaning of every code, by SDK name.
MEANINGS: Final[dict[str, str]] = {
    "S_OK": "success",
    "S_FALSE": "success, with a negative or partial answer",
    "E_NOTIMPL": "the method is not implemented",
    "E_FAIL": "unspecified failure",
    "E_UNEXPECTED": "catastrophic or unexpected failure",
    "E_ACCESSDENIED": "access denied (the caller lacks backup privilege or is not an administrator)",
    "E_OUTOFMEMORY": "out of memory",
    "E_INVALIDARG": "one of the parameters is not valid",
    "VSS_E_BAD_STATE": "call made in the wrong state / order",
    "VSS_E_UNEXPECTED": "unexpected internal error (before Win7/2008 R2, `E_UNEXPECTED` was used instead)",
    "VSS_E_PROVIDER_ALREADY_REGISTERED": "provider registration duplicate",
    "VSS_E_PROVIDER_NOT_REGISTERED": "provider ID unknown",
    "VSS_E_PROVIDER_VETO": "provider refused / failed; may be transient (retry advice: 10 min, 3 times)",
    "VSS_E_PROVIDER_IN_USE": "provider busy, cannot unregister",
    "VSS_E_OBJECT_NOT_FOUND": "component, writer, volume, snapshot or file set not found",
    "VSS_S_ASYNC_PENDING": "async operation still running (success code)",
    "VSS_S_ASYNC_FINISHED": "async operation completed (success code)",
    "VSS_S_ASYNC_CANCELLED": "async operation was cancelled (success code)",
    "VSS_E_VOLUME_NOT_SUPPORTED": "no provider supports the volume",
    "VSS_E_OBJECT_ALREADY_EXISTS": "duplicate (e.g. same logical path + component name)",
    "VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER": "the chosen provider does not support the volume",
    "VSS_E_UNEXPECTED_PROVIDER_ERROR": "provider returned an unexpected code; may be transient",
    "VSS_E_CORRUPT_XML_DOCUMENT": "malformed XML (deprecated code)",
    "VSS_E_INVALID_XML_DOCUMENT": "XML malformed or not matching the schema",
    "VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED": "too many volumes in the set (limit 64)",
    "VSS_E_FLUSH_WRITES_TIMEOUT": "flushing writes to a volume timed out (busy volume); retry later",
    "VSS_E_HOLD_WRITES_TIMEOUT": "holding writes timed out (busy volume); retry later",
    "VSS_E_UNEXPECTED_WRITER_ERROR": "trouble delivering events to writers",
    "VSS_E_SNAPSHOT_SET_IN_PROGRESS": "another snapshot creation is running; wait and retry",
    "VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED": "volume already has its maximum number of shadow copies",
    "VSS_E_WRITER_INFRASTRUCTURE": "cannot reach writers (event system / VSS service problem)",
    "VSS_E_WRITER_NOT_RESPONDING": "writer did not answer a status request (crashed or hung)",
    "VSS_E_WRITER_ALREADY_SUBSCRIBED": "Subscribe called twice",
    "VSS_E_UNSUPPORTED_CONTEXT": "provider does not support the snapshot context",
    "VSS_E_VOLUME_IN_USE": "storage association in use, cannot delete",
    "VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED": "too many storage associations",
    "VSS_E_INSUFFICIENT_STORAGE": "not enough space for the shadow copy storage",
    "VSS_E_NO_SNAPSHOTS_IMPORTED": "import: nothing imported",
    "VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED": "import: partial (error code)",
    "VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED": "import: partial (success code)",
    "VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED": "too many remote machines",
    "VSS_E_REMOTE_SERVER_UNAVAILABLE": "remote server unreachable",
    "VSS_E_REMOTE_SERVER_UNSUPPORTED": "remote VSS too old for remote snapshots",
    "VSS_E_REVERT_IN_PROGRESS": "a revert is already running on the volume",
    "VSS_E_REVERT_VOLUME_LOST": "volume lost during revert",
    "VSS_E_REBOOT_REQUIRED": "provider needs a restart",
    "VSS_E_TRANSACTION_FREEZE_TIMEOUT": "KTM/DTC could not be frozen in time",
    "VSS_E_TRANSACTION_THAW_TIMEOUT": "too long between freezing and thawing KTM/DTC",
    "VSS_E_UNSELECTED_VOLUME": "operation would overwrite a volume not explicitly selected",
    "VSS_E_SNAPSHOT_NOT_IN_SET": "snapshot ID not in the BCD of the set",
    "VSS_E_NESTED_VOLUME_LIMIT": "volume nested too deeply (VHD in VHD, or VHD and its host volume in one set)",
    "VSS_E_VOLUME_NOT_LOCAL": "volume not mounted on this host",
    "VSS_E_CLUSTER_TIMEOUT": "timeout preparing a cluster shared volume",
    "VSS_E_NOT_SUPPORTED": "operation not supported (e.g. express-writer restrictions)",
    "VSS_E_WRITERERROR_PARTIAL_FAILURE": "writer: component-level failures, see IVssComponentEx2::GetFailure",
    "VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT": "writer: set lacks volumes it needs",
    "VSS_E_WRITERERROR_OUTOFRESOURCES": "writer: resource allocation failed (retryable)",
    "VSS_E_WRITERERROR_TIMEOUT": "writer: Freeze..Thaw window exceeded (retryable)",
    "VSS_E_WRITERERROR_RETRYABLE": "writer: transient error (retryable)",
    "VSS_E_WRITERERROR_NONRETRYABLE": "writer: persistent error (do not retry)",
    "VSS_E_WRITERERROR_RECOVERY_FAILED": "writer: recovery of the shadow copy volume failed",
    "VSS_E_BREAK_REVERT_ID_FAILED": "break: disk identities could not be reverted",
    "VSS_E_LEGACY_PROVIDER": "hardware provider too old for the operation",
    "VSS_E_MISSING_DISK": "expected disk did not arrive",
    "VSS_E_MISSING_HIDDEN_VOLUME": "expected hidden volume did not arrive",
    "VSS_E_MISSING_VOLUME": "expected volume did not arrive",
    "VSS_E_AUTORECOVERY_FAILED": "auto-recovery of the shadow copy failed",
    "VSS_E_DYNAMIC_DISK_ERROR": "dynamic disk processing error",
    "VSS_E_NONTRANSPORTABLE_BCD": "operation needs a transportable-snapshot BCD",
    "VSS_E_CANNOT_REVERT_DISKID": "disk signature / GPT ID could not be set",
    "VSS_E_RESYNC_IN_PROGRESS": "another LUN resync is running",
    "VSS_E_CLUSTER_ERROR": "clustered disks could not be enumerated / put in maintenance mode",
    "VSS_E_ASRERROR_DISK_ASSIGNMENT_FAILED": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_DISK_RECREATION_FAILED": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_NO_ARCPATH": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_MISSING_DYNDISK": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_SHARED_CRIDISK": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_DATADISK_RDISK0": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_RDISK0_TOOSMALL": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_CRITICAL_DISKS_TOO_SMALL": "ASR (Automated System Recovery) restore error",
    "VSS_E_WRITER_STATUS_NOT_AVAILABLE": "status missing; writer may be out of session slots; retry later",
    "VSS_E_ASRERROR_DYNAMIC_VHD_NOT_SUPPORTED": "ASR (Automated System Recovery) restore error",
    "VSS_E_CRITICAL_VOLUME_ON_INVALID_DISK": "a critical volume is on a disk that cannot be used (ASR)",
    "VSS_E_ASRERROR_RDISK_FOR_SYSTEM_DISK_NOT_FOUND": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_NO_PHYSICAL_DISK_AVAILABLE": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_FIXED_PHYSICAL_DISK_AVAILABLE_AFTER_DISK_EXCLUSION": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_CRITICAL_DISK_CANNOT_BE_EXCLUDED": "ASR (Automated System Recovery) restore error",
    "VSS_E_ASRERROR_SYSTEM_PARTITION_HIDDEN": "ASR (Automated System Recovery) restore error",
    "VSS_E_FSS_TIMEOUT": "file share shadow copy (FSS) timeout",
}

#: The SDK names of the codes that ``vsserror.h`` defines (all ``VSS_E_*`` and ``VSS_S_*``).
VSS_CODES: Final[tuple[str, ...]] = (
    "VSS_E_BAD_STATE",
    "VSS_E_UNEXPECTED",
    "VSS_E_PROVIDER_ALREADY_REGISTERED",
    "VSS_E_PROVIDER_NOT_REGISTERED",
    "VSS_E_PROVIDER_VETO",
    "VSS_E_PROVIDER_IN_USE",
    "VSS_E_OBJECT_NOT_FOUND",
    "VSS_S_ASYNC_PENDING",
    "VSS_S_ASYNC_FINISHED",
    "VSS_S_ASYNC_CANCELLED",
    "VSS_E_VOLUME_NOT_SUPPORTED",
    "VSS_E_OBJECT_ALREADY_EXISTS",
    "VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER",
    "VSS_E_UNEXPECTED_PROVIDER_ERROR",
    "VSS_E_CORRUPT_XML_DOCUMENT",
    "VSS_E_INVALID_XML_DOCUMENT",
    "VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED",
    "VSS_E_FLUSH_WRITES_TIMEOUT",
    "VSS_E_HOLD_WRITES_TIMEOUT",
    "VSS_E_UNEXPECTED_WRITER_ERROR",
    "VSS_E_SNAPSHOT_SET_IN_PROGRESS",
    "VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED",
    "VSS_E_WRITER_INFRASTRUCTURE",
    "VSS_E_WRITER_NOT_RESPONDING",
    "VSS_E_WRITER_ALREADY_SUBSCRIBED",
    "VSS_E_UNSUPPORTED_CONTEXT",
    "VSS_E_VOLUME_IN_USE",
    "VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED",
    "VSS_E_INSUFFICIENT_STORAGE",
    "VSS_E_NO_SNAPSHOTS_IMPORTED",
    "VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED",
    "VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED",
    "VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED",
    "VSS_E_REMOTE_SERVER_UNAVAILABLE",
    "VSS_E_REMOTE_SERVER_UNSUPPORTED",
    "VSS_E_REVERT_IN_PROGRESS",
    "VSS_E_REVERT_VOLUME_LOST",
    "VSS_E_REBOOT_REQUIRED",
    "VSS_E_TRANSACTION_FREEZE_TIMEOUT",
    "VSS_E_TRANSACTION_THAW_TIMEOUT",
    "VSS_E_UNSELECTED_VOLUME",
    "VSS_E_SNAPSHOT_NOT_IN_SET",
    "VSS_E_NESTED_VOLUME_LIMIT",
    "VSS_E_VOLUME_NOT_LOCAL",
    "VSS_E_CLUSTER_TIMEOUT",
    "VSS_E_NOT_SUPPORTED",
    "VSS_E_WRITERERROR_PARTIAL_FAILURE",
    "VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT",
    "VSS_E_WRITERERROR_OUTOFRESOURCES",
    "VSS_E_WRITERERROR_TIMEOUT",
    "VSS_E_WRITERERROR_RETRYABLE",
    "VSS_E_WRITERERROR_NONRETRYABLE",
    "VSS_E_WRITERERROR_RECOVERY_FAILED",
    "VSS_E_BREAK_REVERT_ID_FAILED",
    "VSS_E_LEGACY_PROVIDER",
    "VSS_E_MISSING_DISK",
    "VSS_E_MISSING_HIDDEN_VOLUME",
    "VSS_E_MISSING_VOLUME",
    "VSS_E_AUTORECOVERY_FAILED",
    "VSS_E_DYNAMIC_DISK_ERROR",
    "VSS_E_NONTRANSPORTABLE_BCD",
    "VSS_E_CANNOT_REVERT_DISKID",
    "VSS_E_RESYNC_IN_PROGRESS",
    "VSS_E_CLUSTER_ERROR",
    "VSS_E_ASRERROR_DISK_ASSIGNMENT_FAILED",
    "VSS_E_ASRERROR_DISK_RECREATION_FAILED",
    "VSS_E_ASRERROR_NO_ARCPATH",
    "VSS_E_ASRERROR_MISSING_DYNDISK",
    "VSS_E_ASRERROR_SHARED_CRIDISK",
    "VSS_E_ASRERROR_DATADISK_RDISK0",
    "VSS_E_ASRERROR_RDISK0_TOOSMALL",
    "VSS_E_ASRERROR_CRITICAL_DISKS_TOO_SMALL",
    "VSS_E_WRITER_STATUS_NOT_AVAILABLE",
    "VSS_E_ASRERROR_DYNAMIC_VHD_NOT_SUPPORTED",
    "VSS_E_CRITICAL_VOLUME_ON_INVALID_DISK",
    "VSS_E_ASRERROR_RDISK_FOR_SYSTEM_DISK_NOT_FOUND",
    "VSS_E_ASRERROR_NO_PHYSICAL_DISK_AVAILABLE",
    "VSS_E_ASRERROR_FIXED_PHYSICAL_DISK_AVAILABLE_AFTER_DISK_EXCLUSION",
    "VSS_E_ASRERROR_CRITICAL_DISK_CANNOT_BE_EXCLUDED",
    "VSS_E_ASRERROR_SYSTEM_PARTITION_HIDDEN",
    "VSS_E_FSS_TIMEOUT",
)

S_OK: Final = HResult.S_OK
S_FALSE: Final = HResult.S_FALSE
E_NOTIMPL: Final = HResult.E_NOTIMPL
E_FAIL: Final = HResult.E_FAIL
E_UNEXPECTED: Final = HResult.E_UNEXPECTED
E_ACCESSDENIED: Final = HResult.E_ACCESSDENIED
E_OUTOFMEMORY: Final = HResult.E_OUTOFMEMORY
E_INVALIDARG: Final = HResult.E_INVALIDARG
VSS_E_BAD_STATE: Final = HResult.VSS_E_BAD_STATE
VSS_E_UNEXPECTED: Final = HResult.VSS_E_UNEXPECTED
VSS_E_PROVIDER_ALREADY_REGISTERED: Final = HResult.VSS_E_PROVIDER_ALREADY_REGISTERED
VSS_E_PROVIDER_NOT_REGISTERED: Final = HResult.VSS_E_PROVIDER_NOT_REGISTERED
VSS_E_PROVIDER_VETO: Final = HResult.VSS_E_PROVIDER_VETO
VSS_E_PROVIDER_IN_USE: Final = HResult.VSS_E_PROVIDER_IN_USE
VSS_E_OBJECT_NOT_FOUND: Final = HResult.VSS_E_OBJECT_NOT_FOUND
VSS_S_ASYNC_PENDING: Final = HResult.VSS_S_ASYNC_PENDING
VSS_S_ASYNC_FINISHED: Final = HResult.VSS_S_ASYNC_FINISHED
VSS_S_ASYNC_CANCELLED: Final = HResult.VSS_S_ASYNC_CANCELLED
VSS_E_VOLUME_NOT_SUPPORTED: Final = HResult.VSS_E_VOLUME_NOT_SUPPORTED
VSS_E_OBJECT_ALREADY_EXISTS: Final = HResult.VSS_E_OBJECT_ALREADY_EXISTS
VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER: Final = HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER
VSS_E_UNEXPECTED_PROVIDER_ERROR: Final = HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR
VSS_E_CORRUPT_XML_DOCUMENT: Final = HResult.VSS_E_CORRUPT_XML_DOCUMENT
VSS_E_INVALID_XML_DOCUMENT: Final = HResult.VSS_E_INVALID_XML_DOCUMENT
VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED: Final = HResult.VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED
VSS_E_FLUSH_WRITES_TIMEOUT: Final = HResult.VSS_E_FLUSH_WRITES_TIMEOUT
VSS_E_HOLD_WRITES_TIMEOUT: Final = HResult.VSS_E_HOLD_WRITES_TIMEOUT
VSS_E_UNEXPECTED_WRITER_ERROR: Final = HResult.VSS_E_UNEXPECTED_WRITER_ERROR
VSS_E_SNAPSHOT_SET_IN_PROGRESS: Final = HResult.VSS_E_SNAPSHOT_SET_IN_PROGRESS
VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED: Final = HResult.VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED
VSS_E_WRITER_INFRASTRUCTURE: Final = HResult.VSS_E_WRITER_INFRASTRUCTURE
VSS_E_WRITER_NOT_RESPONDING: Final = HResult.VSS_E_WRITER_NOT_RESPONDING
VSS_E_WRITER_ALREADY_SUBSCRIBED: Final = HResult.VSS_E_WRITER_ALREADY_SUBSCRIBED
VSS_E_UNSUPPORTED_CONTEXT: Final = HResult.VSS_E_UNSUPPORTED_CONTEXT
VSS_E_VOLUME_IN_USE: Final = HResult.VSS_E_VOLUME_IN_USE
VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED: Final = HResult.VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED
VSS_E_INSUFFICIENT_STORAGE: Final = HResult.VSS_E_INSUFFICIENT_STORAGE
VSS_E_NO_SNAPSHOTS_IMPORTED: Final = HResult.VSS_E_NO_SNAPSHOTS_IMPORTED
VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED: Final = HResult.VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED
VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED: Final = HResult.VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED
VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED: Final = HResult.VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED
VSS_E_REMOTE_SERVER_UNAVAILABLE: Final = HResult.VSS_E_REMOTE_SERVER_UNAVAILABLE
VSS_E_REMOTE_SERVER_UNSUPPORTED: Final = HResult.VSS_E_REMOTE_SERVER_UNSUPPORTED
VSS_E_REVERT_IN_PROGRESS: Final = HResult.VSS_E_REVERT_IN_PROGRESS
VSS_E_REVERT_VOLUME_LOST: Final = HResult.VSS_E_REVERT_VOLUME_LOST
VSS_E_REBOOT_REQUIRED: Final = HResult.VSS_E_REBOOT_REQUIRED
VSS_E_TRANSACTION_FREEZE_TIMEOUT: Final = HResult.VSS_E_TRANSACTION_FREEZE_TIMEOUT
VSS_E_TRANSACTION_THAW_TIMEOUT: Final = HResult.VSS_E_TRANSACTION_THAW_TIMEOUT
VSS_E_UNSELECTED_VOLUME: Final = HResult.VSS_E_UNSELECTED_VOLUME
VSS_E_SNAPSHOT_NOT_IN_SET: Final = HResult.VSS_E_SNAPSHOT_NOT_IN_SET
VSS_E_NESTED_VOLUME_LIMIT: Final = HResult.VSS_E_NESTED_VOLUME_LIMIT
VSS_E_VOLUME_NOT_LOCAL: Final = HResult.VSS_E_VOLUME_NOT_LOCAL
VSS_E_CLUSTER_TIMEOUT: Final = HResult.VSS_E_CLUSTER_TIMEOUT
VSS_E_NOT_SUPPORTED: Final = HResult.VSS_E_NOT_SUPPORTED
VSS_E_WRITERERROR_PARTIAL_FAILURE: Final = HResult.VSS_E_WRITERERROR_PARTIAL_FAILURE
VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT: Final = HResult.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT
VSS_E_WRITERERROR_OUTOFRESOURCES: Final = HResult.VSS_E_WRITERERROR_OUTOFRESOURCES
VSS_E_WRITERERROR_TIMEOUT: Final = HResult.VSS_E_WRITERERROR_TIMEOUT
VSS_E_WRITERERROR_RETRYABLE: Final = HResult.VSS_E_WRITERERROR_RETRYABLE
VSS_E_WRITERERROR_NONRETRYABLE: Final = HResult.VSS_E_WRITERERROR_NONRETRYABLE
VSS_E_WRITERERROR_RECOVERY_FAILED: Final = HResult.VSS_E_WRITERERROR_RECOVERY_FAILED
VSS_E_BREAK_REVERT_ID_FAILED: Final = HResult.VSS_E_BREAK_REVERT_ID_FAILED
VSS_E_LEGACY_PROVIDER: Final = HResult.VSS_E_LEGACY_PROVIDER
VSS_E_MISSING_DISK: Final = HResult.VSS_E_MISSING_DISK
VSS_E_MISSING_HIDDEN_VOLUME: Final = HResult.VSS_E_MISSING_HIDDEN_VOLUME
VSS_E_MISSING_VOLUME: Final = HResult.VSS_E_MISSING_VOLUME
VSS_E_AUTORECOVERY_FAILED: Final = HResult.VSS_E_AUTORECOVERY_FAILED
VSS_E_DYNAMIC_DISK_ERROR: Final = HResult.VSS_E_DYNAMIC_DISK_ERROR
VSS_E_NONTRANSPORTABLE_BCD: Final = HResult.VSS_E_NONTRANSPORTABLE_BCD
VSS_E_CANNOT_REVERT_DISKID: Final = HResult.VSS_E_CANNOT_REVERT_DISKID
VSS_E_RESYNC_IN_PROGRESS: Final = HResult.VSS_E_RESYNC_IN_PROGRESS
VSS_E_CLUSTER_ERROR: Final = HResult.VSS_E_CLUSTER_ERROR
VSS_E_ASRERROR_DISK_ASSIGNMENT_FAILED: Final = HResult.VSS_E_ASRERROR_DISK_ASSIGNMENT_FAILED
VSS_E_ASRERROR_DISK_RECREATION_FAILED: Final = HResult.VSS_E_ASRERROR_DISK_RECREATION_FAILED
VSS_E_ASRERROR_NO_ARCPATH: Final = HResult.VSS_E_ASRERROR_NO_ARCPATH
VSS_E_ASRERROR_MISSING_DYNDISK: Final = HResult.VSS_E_ASRERROR_MISSING_DYNDISK
VSS_E_ASRERROR_SHARED_CRIDISK: Final = HResult.VSS_E_ASRERROR_SHARED_CRIDISK
VSS_E_ASRERROR_DATADISK_RDISK0: Final = HResult.VSS_E_ASRERROR_DATADISK_RDISK0
VSS_E_ASRERROR_RDISK0_TOOSMALL: Final = HResult.VSS_E_ASRERROR_RDISK0_TOOSMALL
VSS_E_ASRERROR_CRITICAL_DISKS_TOO_SMALL: Final = HResult.VSS_E_ASRERROR_CRITICAL_DISKS_TOO_SMALL
VSS_E_WRITER_STATUS_NOT_AVAILABLE: Final = HResult.VSS_E_WRITER_STATUS_NOT_AVAILABLE
VSS_E_ASRERROR_DYNAMIC_VHD_NOT_SUPPORTED: Final = HResult.VSS_E_ASRERROR_DYNAMIC_VHD_NOT_SUPPORTED
VSS_E_CRITICAL_VOLUME_ON_INVALID_DISK: Final = HResult.VSS_E_CRITICAL_VOLUME_ON_INVALID_DISK
VSS_E_ASRERROR_RDISK_FOR_SYSTEM_DISK_NOT_FOUND: Final = HResult.VSS_E_ASRERROR_RDISK_FOR_SYSTEM_DISK_NOT_FOUND
VSS_E_ASRERROR_NO_PHYSICAL_DISK_AVAILABLE: Final = HResult.VSS_E_ASRERROR_NO_PHYSICAL_DISK_AVAILABLE
VSS_E_ASRERROR_FIXED_PHYSICAL_DISK_AVAILABLE_AFTER_DISK_EXCLUSION: Final = HResult.VSS_E_ASRERROR_FIXED_PHYSICAL_DISK_AVAILABLE_AFTER_DISK_EXCLUSION
VSS_E_ASRERROR_CRITICAL_DISK_CANNOT_BE_EXCLUDED: Final = HResult.VSS_E_ASRERROR_CRITICAL_DISK_CANNOT_BE_EXCLUDED
VSS_E_ASRERROR_SYSTEM_PARTITION_HIDDEN: Final = HResult.VSS_E_ASRERROR_SYSTEM_PARTITION_HIDDEN
VSS_E_FSS_TIMEOUT: Final = HResult.VSS_E_FSS_TIMEOUT


#: Writer failures after which a requester should wait and repeat the whole backup, at most
#: three times (reference §5, failure-code table; ``IVssBackupComponents::GetWriterStatus``).
RETRYABLE_WRITER_ERRORS: Final = frozenset({
    HResult.VSS_E_WRITERERROR_RETRYABLE,
    HResult.VSS_E_WRITERERROR_OUTOFRESOURCES,
    HResult.VSS_E_WRITERERROR_TIMEOUT,
})
#: ``DoSnapshotSet`` failures the docs call transient: the same advice (wait, try again).
TRANSIENT_CREATION_ERRORS: Final = frozenset({
    HResult.VSS_E_FLUSH_WRITES_TIMEOUT,
    HResult.VSS_E_HOLD_WRITES_TIMEOUT,
    HResult.VSS_E_PROVIDER_VETO,
    HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
})


# Member names by value, for name_of (``HResult(v).name`` is an enum call and a property).
_NAMES: dict[int, str] = {int(m): m.name for m in HResult}


@dataclass(frozen=True, slots=True)
class HResultInfo:
    """What is known about one HRESULT value."""

    value: int
    name: str
    meaning: str

    def __str__(self) -> str:
        return f"{self.name} (0x{self.value:08X}): {self.meaning}"


def to_unsigned(value: int) -> int:
    """Return ``value`` as an unsigned 32-bit integer (COM hands HRESULTs to Python signed)."""
    cls = type(value)
    if cls is HResult:
        return int(value)  # the common cases first: a member, or an int already unsigned
    if cls is int and 0 <= value <= 0xFFFFFFFF:
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"an HRESULT is an int, not {type(value).__name__} {value!r}")
    if not -(1 << 31) <= value < (1 << 32):
        raise ValueError(f"{value!r} is not a 32-bit HRESULT")
    return value & 0xFFFFFFFF


def as_hresult(value: int) -> int:
    """``value`` as its :class:`HResult` member when it is a known code (so that it prints by
    name), else as an unsigned int."""
    code = to_unsigned(value)
    try:
        return HResult(code)
    except ValueError:
        return code


def to_signed(value: int) -> int:
    """Return ``value`` as a signed 32-bit integer, the way a C ``HRESULT`` reads."""
    value = to_unsigned(value)
    return value - (1 << 32) if value & 0x80000000 else value


def is_error(value: int) -> bool:
    """True if the severity bit is set (``FAILED(hr)`` in C)."""
    return bool(to_unsigned(value) & 0x80000000)


def is_success(value: int) -> bool:
    """True if the severity bit is clear (``SUCCEEDED(hr)`` in C)."""
    return not to_unsigned(value) & 0x80000000


def lookup(value: int) -> HResultInfo:
    """Return the name and documented meaning of ``value`` (signed or unsigned).

    Raises ``LookupError`` for a value that is neither a VSS code nor one of the generic COM
    codes VSS uses.
    """
    try:
        member = HResult(to_unsigned(value))
    except ValueError:
        raise LookupError(f"0x{to_unsigned(value):08X} is not a known VSS or COM HRESULT") from None
    return HResultInfo(int(member), member.name, MEANINGS[member.name])


def name_of(value: int) -> str:
    """SDK name of ``value``, or its hex form when it is not a known code."""
    cls = type(value)
    if cls is int or cls is HResult:  # (a known code as it usually comes: no conversion)
        name = _NAMES.get(value)
        if name is not None:
            return name
    code = to_unsigned(value)
    name = _NAMES.get(code)
    return name if name is not None else f"0x{code:08X}"


def describe(value: int) -> str:
    """``"NAME (0x...): meaning"`` for a known code, the hex form otherwise."""
    try:
        return str(lookup(value))
    except LookupError:
        return f"0x{to_unsigned(value):08X}"
