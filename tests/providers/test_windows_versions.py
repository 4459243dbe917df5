"""What the simulated Windows version and edition change (providers reference §1.4, §3.1, §3.11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vsssim.constants import BackupType, SnapshotContext, VolumeSnapshotAttributes
from vsssim.errors import (
    VssInvalidArgumentError,
    VssNotImplementedError,
    VssUnsupportedContextError,
)
from vsssim.system import OS_VERSIONS, VssSystem

CTX = SnapshotContext
_A = VolumeSnapshotAttributes


def _set_context(system: VssSystem, context: int) -> None:
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(context)


@pytest.mark.parametrize(("os_version", "edition", "context", "allowed"), [
    ("XP", "client", CTX.BACKUP, True),
    ("XP", "client", CTX.APP_ROLLBACK, False),  # XP: only VSS_CTX_BACKUP
    ("XP", "client", CTX.CLIENT_ACCESSIBLE, False),
    ("2003", "server", CTX.CLIENT_ACCESSIBLE_WRITERS, False),  # not on 2003/XP
    ("2008", "server", CTX.CLIENT_ACCESSIBLE_WRITERS, True),
    ("10", "client", CTX.APP_ROLLBACK | _A.TRANSPORTABLE, False),  # client: no transport
    ("10", "client", CTX.APP_ROLLBACK, True),
    ("2022", "server", CTX.APP_ROLLBACK | _A.TRANSPORTABLE, True),
])
def test_contexts_by_version_and_edition(tmp_path: Path, os_version: str, edition: str,
                                         context: int, allowed: bool) -> None:
    with VssSystem(tmp_path, os_version=os_version, edition=edition) as system:  # type: ignore[arg-type]
        if allowed:
            _set_context(system, context)
        else:
            with pytest.raises(VssUnsupportedContextError, match=os_version):
                _set_context(system, context)


@pytest.mark.parametrize(("os_version", "edition"), [("10", "client"), ("2022", "client"),
                                                     ("7", "server")])
def test_revert_is_server_only(tmp_path: Path, os_version: str, edition: str) -> None:
    with VssSystem(tmp_path, os_version=os_version, edition=edition) as system:  # type: ignore[arg-type]
        system.add_volume("C:\\", size=8 * 2**20)
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.set_context(CTX.APP_ROLLBACK)
            bc.gather_writer_metadata().wait()
            bc.set_backup_state(False, False, BackupType.FULL)
            bc.start_snapshot_set()
            snapshot_id = bc.add_to_snapshot_set("C:\\")
            bc.prepare_for_backup().wait()
            bc.do_snapshot_set().wait()
            with pytest.raises(VssNotImplementedError, match="Server"):
                bc.revert_to_snapshot(snapshot_id)
        assert [p.snapshot_id for p in system.all_snapshots()] == [snapshot_id]


def test_unknown_versions_and_editions_are_refused(tmp_path: Path) -> None:
    assert "2022" in OS_VERSIONS
    with pytest.raises(VssInvalidArgumentError, match="os_version"):
        VssSystem(tmp_path, os_version="95")
    with pytest.raises(VssInvalidArgumentError, match="edition"):
        VssSystem(tmp_path, edition="datacenter")  # type: ignore[arg-type]
