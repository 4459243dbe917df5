"""Fixtures shared by the document tests."""

from __future__ import annotations

import uuid

import pytest

from vsssim.constants import SourceType, UsageType
from vsssim.documents import WriterIdentity, WriterMetadataBuilder

WRITER_ID = uuid.UUID("afbab4a2-367d-4d15-a586-71dbb18f8485")
INSTANCE_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")
OTHER_WRITER_ID = uuid.UUID("be000cbe-11fe-4426-9c58-531aa6355fc4")


@pytest.fixture
def identity() -> WriterIdentity:
    return WriterIdentity(
        writer_id=WRITER_ID,
        instance_id=INSTANCE_ID,
        writer_name="MyWriter",
        usage_type=UsageType.USER_DATA,
        source_type=SourceType.TRANSACTED_DB,
    )


@pytest.fixture
def builder(identity: WriterIdentity) -> WriterMetadataBuilder:
    return WriterMetadataBuilder(identity)
