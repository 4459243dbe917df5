"""Status and property records: frozen, strict, HRESULTs unsigned."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from vsssim import hresult as hr
from vsssim.constants import ProviderType, SnapshotState, VolumeSnapshotAttributes, WriterState
from vsssim.documents import ProviderProperties, SnapshotProperties, WriterStatus

IDS = [uuid.UUID(int=i) for i in range(6)]


def status(**changes: object) -> WriterStatus:
    fields: dict[str, object] = {
        "instance_id": IDS[1],
        "writer_id": IDS[2],
        "writer_name": "MyWriter",
        "state": WriterState.FAILED_AT_FREEZE,
        "failure": hr.VSS_E_WRITERERROR_TIMEOUT,
    }
    fields.update(changes)
    return WriterStatus.model_validate(fields)


def test_writer_status_is_a_frozen_value() -> None:
    s = status()
    assert s.state is WriterState.FAILED_AT_FREEZE
    assert s.failure == 0x800423F2
    assert (s.instance_name, s.application_failure, s.application_message) == ("", 0, "")
    with pytest.raises(ValidationError):
        s.state = WriterState.STABLE  # type: ignore[misc]
    assert s == status()
    assert hash(s) == hash(status())


def test_writer_status_normalises_and_checks_values() -> None:
    assert status(failure=hr.to_signed(hr.VSS_E_WRITERERROR_TIMEOUT)) == status()
    assert status(state=9).state is WriterState.FAILED_AT_FREEZE
    with pytest.raises(ValidationError, match="VSS_WRITER_STATE"):
        status(state=99)
    with pytest.raises(ValidationError, match="state"):
        status(state="STABLE")
    with pytest.raises(ValidationError, match="writer_id"):
        status(writer_id=str(IDS[2]))
    with pytest.raises(ValidationError, match="application_message"):
        status(application_message="\x00")


@pytest.mark.parametrize(("given", "stored"), [
    (0, 0), (hr.S_OK, 0), (hr.VSS_E_WRITERERROR_TIMEOUT, 0x800423F2), (-1, 0xFFFFFFFF),
    (-(1 << 31), 0x80000000), (0xFFFFFFFF, 0xFFFFFFFF), (7, 7)])
def test_an_hresult_is_stored_as_a_plain_unsigned_int(given: int, stored: int) -> None:
    value = status(failure=given).failure
    assert value == stored
    assert type(value) is int  # (an HResult member too: int(member))


@pytest.mark.parametrize(("given", "error"), [
    (-(1 << 31) - 1, "greater_than_equal"), (1 << 32, "less_than_equal"),
    (10**30, "less_than_equal"), (True, "int_type"), ("5", "int_type"), (5.0, "int_type"),
    (None, "int_type")])
def test_an_hresult_out_of_range_or_of_another_type_is_refused(given: object, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        status(failure=given)
    [err] = caught.value.errors(include_url=False)
    assert (err["loc"], err["type"], err["input"]) == (("failure",), error, given)


def test_snapshot_properties_follow_vss_snapshot_prop() -> None:
    prop = SnapshotProperties(
        snapshot_id=IDS[1],
        snapshot_set_id=IDS[2],
        snapshots_count=1,
        snapshot_device_object="\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1",
        original_volume_name="\\\\?\\Volume{1}\\",
        originating_machine="host",
        service_machine="host",
        provider_id=IDS[3],
        snapshot_attributes=VolumeSnapshotAttributes.PERSISTENT
        | VolumeSnapshotAttributes.CLIENT_ACCESSIBLE,
        creation_timestamp=133_000_000_000_000_000,
        status=SnapshotState.CREATED,
    )
    assert list(SnapshotProperties.model_fields)[:3] == [
        "snapshot_id",
        "snapshot_set_id",
        "snapshots_count",
    ]
    assert prop.exposed_name is None
    assert prop.snapshot_attributes == 0x5
    assert type(prop.snapshot_attributes) is int
    with pytest.raises(ValidationError):
        prop.model_copy(update={"status": 99}).model_validate(prop.model_dump() | {"status": 99})


def test_provider_properties() -> None:
    prop = ProviderProperties(
        provider_id=IDS[1],
        provider_name="Microsoft Software Shadow Copy provider 1.0",
        provider_type=ProviderType.SYSTEM,
        provider_version="1.0.0.7",
        provider_version_id=IDS[2],
        class_id=IDS[3],
    )
    assert prop.provider_type is ProviderType.SYSTEM
    with pytest.raises(ValidationError):
        ProviderProperties.model_validate(prop.model_dump() | {"provider_type": 7})
