"""Which provider holds a shadow copy: each provider is asked for that one copy
(``GetSnapshotProperties``), and only completed copies count."""

from __future__ import annotations

from uuid import UUID

import pytest

from vsssim.constants import SnapshotContext
from vsssim.documents import SnapshotProperties
from vsssim.errors import VssObjectNotFoundError
from vsssim.system import VssSystem

from .conftest import FakeProvider


class _NoQuery(FakeProvider):
    """A provider whose catalog listing must not be needed to find one of its copies."""

    def query(self) -> list[SnapshotProperties]:
        raise AssertionError("Query() called to find one copy")


def test_each_copy_is_found_with_its_own_provider(machine: VssSystem) -> None:
    fake = machine.add_provider(_NoQuery("B", volumes=("D:\\",)))
    context = SnapshotContext.APP_ROLLBACK
    on_c = machine.backup(["C:\\"], context=context, copy_files=False)
    on_d = machine.backup(["D:\\"], context=context, copy_files=False)
    assert on_c.succeeded and on_d.succeeded
    (c_copy,) = [r.snapshot_id for r in machine.system_provider.records()]
    (d_copy,) = [r.snapshot_id for r in fake.records()]
    assert machine._owner(c_copy) is machine.system_provider
    assert machine._owner(d_copy) is fake
    assert machine.snapshot_properties(d_copy).provider_id == fake.provider_id
    machine.delete_snapshot(d_copy)
    with pytest.raises(VssObjectNotFoundError, match="no completed shadow copy"):
        machine._owner(d_copy)
    assert machine._owner(c_copy) is machine.system_provider


def test_unknown_and_unfinished_copies_have_no_owner(machine: VssSystem) -> None:
    with pytest.raises(VssObjectNotFoundError, match="no completed shadow copy"):
        machine._owner(UUID(int=7))
    with pytest.raises(TypeError, match=r"uuid\.UUID"):
        machine._owner(str(UUID(int=7)))  # type: ignore[arg-type]
    bc = machine.create_backup_components()
    bc.initialize_for_backup()
    bc.set_context(SnapshotContext.FILE_SHARE_BACKUP)  # no writers: no metadata to gather
    bc.start_snapshot_set()
    preparing = bc.add_to_snapshot_set("C:\\")  # known to the provider, not completed
    with pytest.raises(VssObjectNotFoundError, match="no completed shadow copy"):
        machine._owner(preparing)
    bc.abort_backup()
    bc.release()
