"""vsssim.constants against every enumeration table of the reference notes."""

from __future__ import annotations

from enum import IntEnum, IntFlag

import pytest

from tests._reference import enum_tables
from vsssim import constants as c
from vsssim.constants import SDK_NAMES, SDK_TYPES, sdk_name

V = c.VolumeSnapshotAttributes


def test_reference_lists_every_sdk_type_we_define() -> None:
    tables = enum_tables()
    assert set(tables) == set(SDK_TYPES), set(tables) ^ set(SDK_TYPES)


@pytest.mark.parametrize("sdk_type", sorted(SDK_TYPES))
def test_every_member_has_the_sdk_value(sdk_type: str) -> None:
    table = enum_tables()[sdk_type]
    cls, prefix = SDK_TYPES[sdk_type]
    assert table, sdk_type
    for full_name, value in table.items():
        member = SDK_NAMES[full_name]
        assert type(member) is cls
        assert int(member) == value, full_name
        assert full_name == prefix + str(member.name)
    # ...and nothing more than the SDK (aliases aside).
    canonical = {n for n, m in cls.__members__.items() if m.name == n}
    assert {prefix + n for n in canonical} == set(table)


def test_sdk_names_cover_all_members_and_round_trip() -> None:
    assert SDK_NAMES["VSS_WS_FAILED_AT_FREEZE"] is c.WriterState.FAILED_AT_FREEZE
    assert SDK_NAMES["VSS_CTX_APP_ROLLBACK"] is c.SnapshotContext.APP_ROLLBACK
    for full_name, member in SDK_NAMES.items():
        assert sdk_name(member) == full_name


def test_composite_contexts_equal_the_sdk_combinations() -> None:
    assert c.SnapshotContext.BACKUP == 0
    assert c.SnapshotContext.FILE_SHARE_BACKUP == V.NO_WRITERS == 0x10
    assert c.SnapshotContext.NAS_ROLLBACK == V.PERSISTENT | V.NO_AUTO_RELEASE | V.NO_WRITERS == 0x19
    assert c.SnapshotContext.APP_ROLLBACK == V.PERSISTENT | V.NO_AUTO_RELEASE == 0x09
    assert c.SnapshotContext.CLIENT_ACCESSIBLE == (
        V.PERSISTENT | V.CLIENT_ACCESSIBLE | V.NO_AUTO_RELEASE | V.NO_WRITERS
    ) == 0x1D
    assert c.SnapshotContext.CLIENT_ACCESSIBLE_WRITERS == (
        V.PERSISTENT | V.CLIENT_ACCESSIBLE | V.NO_AUTO_RELEASE
    ) == 0x0D
    assert c.SnapshotContext.ALL == 0xFFFFFFFF
    fsbt = c.FileSpecBackupType
    assert fsbt.ALL_BACKUP_REQUIRED | fsbt.ALL_SNAPSHOT_REQUIRED == 0xF0F
    # The mask the ASR/NTDS examples print for a default file set.
    assert int(c.FileSpecBackupType(3855)) == 0xF0F


def test_design_doc_aliases_are_the_same_members() -> None:
    assert c.UsageType.USER_DATA is c.UsageType.USERDATA
    assert c.SourceType.TRANSACTED_DB is c.SourceType.TRANSACTEDDB
    assert c.Context is c.SnapshotContext
    assert c.SnapshotAttributes is c.VolumeSnapshotAttributes
    assert c.WriterState.WAITING_FOR_THAW == 3  # style.md's own example value


def test_flag_types_combine_and_plain_enums_do_not() -> None:
    flags = {cls for cls, _ in SDK_TYPES.values() if issubclass(cls, IntFlag)}
    assert c.VolumeSnapshotAttributes in flags and c.BackupSchema in flags
    assert c.WriterState not in flags
    assert c.ApplicationLevel.AUTO == -1
    assert c.WriterState.FAILED_AT_THAW.is_failed and not c.WriterState.STABLE.is_failed


def test_sdk_name_refuses_combinations_and_foreign_enums() -> None:
    with pytest.raises(ValueError, match="combination"):
        sdk_name(V.PERSISTENT | V.NO_WRITERS)
    class Foreign(IntEnum):
        X = 1

    with pytest.raises(TypeError, match="not a VSS SDK enumeration"):
        sdk_name(Foreign.X)
