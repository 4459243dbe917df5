"""Running plans by hand: ``RestorePlan.run`` takes the list of completed backups and says so
when given anything else."""

from __future__ import annotations

import pytest

from vsssim import VssSystem
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.testing import RestorePlan


def test_a_restore_plan_runs_on_a_list_of_backups(vss: VssSystem) -> None:
    vss.add_writer(KvStoreWriter(vss.add_application(KvStoreApp(vss.volume("C:\\").fs))))
    backup = vss.backup(["C:\\"], target_dir=vss.root / "backup")
    assert RestorePlan().run(vss, [backup]).succeeded


def test_a_restore_plan_refuses_a_single_backup_naming_what_it_takes(vss: VssSystem) -> None:
    vss.add_writer(KvStoreWriter(vss.add_application(KvStoreApp(vss.volume("C:\\").fs))))
    backup = vss.backup(["C:\\"], target_dir=vss.root / "backup")
    with pytest.raises(TypeError, match=r"sequence of BackupResult.*got BackupResult \(pass "
                                        r"\[result\]\)"):
        RestorePlan().run(vss, backup)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got str"):
        RestorePlan().run(vss, "backup")  # type: ignore[arg-type]
    with pytest.raises(IndexError, match=r"backups\[1\], but 1 backup\(s\) were passed"):
        RestorePlan(backup=1).run(vss, [backup])
