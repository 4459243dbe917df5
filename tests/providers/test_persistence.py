"""A simulated machine outlives its process: persistent copies, shadow storage settings and
exposures come back in a new process; auto-release copies do not (as after a reboot)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vsssim.constants import SnapshotContext, VolumeSnapshotAttributes
from vsssim.errors import VssStoreCorruptError
from vsssim.system import VssSystem

_A = VolumeSnapshotAttributes

CHILD = textwrap.dedent(r"""
    import json, sys
    from vsssim import VssSystem, SnapshotContext, VolumeSnapshotAttributes as A, VssOptions
    root = sys.argv[1]
    system = VssSystem(root, seed=5, options=VssOptions(min_shadow_storage=0))
    c = system.add_volume("C:\\", size=8 * 2**20)
    system.add_volume("D:\\", size=8 * 2**20)
    system.add_shadow_storage("C:\\", "D:\\", 4 * 2**20)
    c.fs.write_file("C:\\data\\report.txt", b"version 1", create_dirs=True)
    ids = {}
    for name, ctx in (("persistent", SnapshotContext.APP_ROLLBACK),
                      ("auto", SnapshotContext.FILE_SHARE_BACKUP)):
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        bc.set_context(ctx)
        if not ctx & A.NO_WRITERS:
            bc.gather_writer_metadata().result()
            bc.set_backup_state(False, False, 1)
        bc.start_snapshot_set()
        sid = bc.add_to_snapshot_set("C:\\")
        ids[name] = str(sid)
        if not ctx & A.NO_WRITERS:
            bc.prepare_for_backup().result()
        bc.do_snapshot_set().result()
        if name == "persistent":
            bc.expose_snapshot(sid, None, A.EXPOSED_LOCALLY, "X:")
            bc.release()
        else:
            keep_alive = bc  # never released: the process just ends
    c.fs.write_file("C:\\data\\report.txt", b"version 2")
    print(json.dumps(ids))
    sys.stdout.flush()
    import os
    os._exit(0)  # the process dies: no clean shutdown
""")


def test_a_new_process_finds_the_persistent_state(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ids = json.loads(proc.stdout.strip().splitlines()[-1])
    with VssSystem(root, seed=5) as system:
        snaps = {str(s.snapshot_id): s for s in system.all_snapshots()}
        assert set(snaps) == {ids["persistent"]}  # the auto-release copy died with its process
        props = snaps[ids["persistent"]]
        assert props.exposed_name == "X:"
        assert props.snapshot_attributes & _A.EXPOSED_LOCALLY
        assert system.exposed("X:").fs.read_file("X:\\data\\report.txt") == b"version 1"
        assert system.volume("C:\\").fs.read_file("C:\\data\\report.txt") == b"version 2"
        (storage,) = system.shadow_storage(for_volume="C:\\")
        assert (storage.on_volume, storage.max_size) == ("D:\\", 4 * 2**20)
        assert system.boot == 1
        # New ids in the new boot never collide with the old ones.
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        bc.set_context(SnapshotContext.NAS_ROLLBACK)
        bc.start_snapshot_set()
        assert str(bc.add_to_snapshot_set("C:\\")) not in ids.values()


def test_a_damaged_machine_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    with VssSystem(root) as system:
        system.add_volume("C:\\", size=4 * 2**20)
    (root / "machine.json").write_text("{not json")
    with pytest.raises(VssStoreCorruptError, match=r"machine\.json"):
        VssSystem(root)
