"""Status and property records: what a requester reads back, as frozen values.

:class:`WriterStatus` is one entry of ``IVssBackupComponents::GetWriterStatus`` /
``IVssBackupComponentsEx3::GetWriterStatusEx``; :class:`SnapshotProperties` is
``VSS_SNAPSHOT_PROP`` (``GetSnapshotProperties``, ``Query``); :class:`ProviderProperties` is
``VSS_PROVIDER_PROP``.  Field order follows the SDK structures.  HRESULTs are stored unsigned
(a signed value, as COM hands it to Python, is converted).
"""

from __future__ import annotations

import uuid

from vsssim.documents._fields import (
    HResultValue,
    Int64,
    ProviderTypeField,
    RecordModel,
    SnapshotStateField,
    UInt32,
    WriterStateField,
    XmlText,
)

__all__ = ["ProviderProperties", "SnapshotProperties", "WriterStatus"]


class WriterStatus(RecordModel):
    """One writer's status (``GetWriterStatusEx``): identity, ``VSS_WRITER_STATE``, the failure
    the writer recorded with ``SetWriterFailure`` (``failure``, ``S_OK`` = 0 when none) and, from
    ``SetWriterFailureEx``, the application's own error code and message.
    """

    instance_id: uuid.UUID
    writer_id: uuid.UUID
    writer_name: XmlText
    instance_name: XmlText = ""
    state: WriterStateField
    failure: HResultValue = 0
    application_failure: HResultValue = 0
    application_message: XmlText = ""


class SnapshotProperties(RecordModel):
    """``VSS_SNAPSHOT_PROP``: one shadow copy as ``GetSnapshotProperties`` / ``Query`` report it.

    ``exposed_name`` / ``exposed_path`` are None while the shadow copy is not exposed;
    ``creation_timestamp`` is a FILETIME (100 ns ticks since 1601, UTC).
    """

    snapshot_id: uuid.UUID
    snapshot_set_id: uuid.UUID
    snapshots_count: UInt32
    snapshot_device_object: XmlText
    original_volume_name: XmlText
    originating_machine: XmlText
    service_machine: XmlText
    exposed_name: XmlText | None = None
    exposed_path: XmlText | None = None
    provider_id: uuid.UUID
    snapshot_attributes: UInt32
    creation_timestamp: Int64
    status: SnapshotStateField


class ProviderProperties(RecordModel):
    """``VSS_PROVIDER_PROP``: one registered provider."""

    provider_id: uuid.UUID
    provider_name: XmlText
    provider_type: ProviderTypeField
    provider_version: XmlText
    provider_version_id: uuid.UUID
    class_id: uuid.UUID
