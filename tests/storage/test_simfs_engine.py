"""simfs on the real copy-on-write engine: a Volume, its ShadowStorage and snapshot devices.

Snapshots are taken with ``ShadowStorage.create_snapshot()`` between file operations, the
volume keeps changing, and each snapshot's ``fs`` must still show (and ``check()``) the tree of
its instant.  Skipped while the engine modules are not installed.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from vsssim.clock import VirtualClock
from vsssim.errors import VssAccessDeniedError
from vsssim.storage.simfs import SimFS, format

volume_module = pytest.importorskip("vsssim.storage.volume")
shadow_module = pytest.importorskip("vsssim.storage.shadowstorage")

MiB = 1 << 20
SHADOW = "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{}\\"


def make_volume(tmp_path: Path, size: int = 8 * MiB) -> tuple[Any, Any, VirtualClock]:
    clock = VirtualClock()
    volume = volume_module.Volume.create(tmp_path / "c.img", size, name="C:\\", clock=clock)
    storage = shadow_module.ShadowStorage.create(volume, tmp_path / "diff")
    format(volume, label="C", clock=clock)
    return volume, storage, clock


def tree(fs: SimFS, root: str) -> dict[str, bytes | None]:
    """Every directory (value None) and file (its bytes), by path relative to ``root``."""
    out: dict[str, bytes | None] = {}
    for dirpath, _, files in fs.walk(root):
        rel = dirpath[len(root) :]
        out[rel] = None
        for name in files:
            out[(rel + "\\" if rel else "") + name] = fs.read_file(
                dirpath.rstrip("\\") + "\\" + name
            )
    return out


def test_a_snapshot_fs_shows_the_tree_of_its_instant(tmp_path: Path) -> None:
    volume, storage, clock = make_volume(tmp_path)
    fs = volume.fs
    fs.write_file("C:\\db\\data.mdf", b"page-v1" * 5000, create_dirs=True)
    fs.append_file("C:\\db\\log.ldf", b"rec1;")
    before = tree(fs, "C:\\")
    snapshot = storage.create_snapshot()
    snapshot.roots = [SHADOW.format(1)]
    clock.advance(60)
    fs.write_file("C:\\db\\data.mdf", b"page-v2" * 9000)
    fs.append_file("C:\\db\\log.ldf", b"rec2;")
    fs.rename("C:\\db", "C:\\db-moved")
    fs.write_file("C:\\new.txt", b"after the snapshot")
    shadow = snapshot.fs
    assert shadow.readonly
    assert shadow.check() == []
    assert tree(shadow, SHADOW.format(1)) == before
    assert shadow.stat(SHADOW.format(1) + "db\\data.mdf").modified == clock.epoch
    with pytest.raises(VssAccessDeniedError):
        shadow.write_file(SHADOW.format(1) + "x", b"")
    assert fs.check() == []
    assert fs.read_file("C:\\db-moved\\log.ldf") == b"rec1;rec2;"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations_with_snapshots_between_them(tmp_path: Path, seed: int) -> None:
    volume, storage, _ = make_volume(tmp_path)
    fs = volume.fs
    rnd = random.Random(seed)
    names = ["a", "b", "c.log", "d.mdf"]
    taken: list[tuple[Any, dict[str, bytes | None]]] = []
    for step in range(80):
        dirs = [p for p, v in tree(fs, "C:\\").items() if v is None]
        files = [p for p, v in tree(fs, "C:\\").items() if v is not None]
        base = "C:\\" + rnd.choice(dirs)
        base = base if base.endswith("\\") else base + "\\"
        action = rnd.randrange(6)
        if action == 0:
            fs.write_file(base + rnd.choice(names), rnd.randbytes(rnd.randrange(40_000)))
        elif action == 1:
            fs.append_file(base + rnd.choice(names), rnd.randbytes(rnd.randrange(5_000)))
        elif action == 2 and len(dirs) < 6:
            fs.makedirs(base + "dir" + rnd.choice(names), exist_ok=True)
        elif action == 3 and files:
            fs.remove("C:\\" + rnd.choice(files))
        elif action == 4 and files:
            fs.truncate("C:\\" + rnd.choice(files), rnd.randrange(30_000))
        if rnd.random() < 0.15 and len(taken) < 5:
            snapshot = storage.create_snapshot()
            snapshot.roots = [SHADOW.format(step)]
            taken.append((snapshot, tree(fs, "C:\\")))
    assert fs.check() == []
    assert len(taken) >= 3
    storage.delete(taken.pop(1)[0])  # deleting a middle snapshot keeps the others exact
    for snapshot, expected in taken:
        root = snapshot.roots[0]
        assert snapshot.fs.check() == []
        assert tree(snapshot.fs, root) == expected


def test_the_recovery_window_lets_a_writer_edit_the_snapshot_only(tmp_path: Path) -> None:
    volume, storage, _ = make_volume(tmp_path)
    fs = volume.fs
    fs.write_file("C:\\keep.txt", b"keep")
    fs.write_file("C:\\temp.tmp", b"scratch")
    snapshot = storage.create_snapshot()
    shadow = snapshot.fs
    with pytest.raises(VssAccessDeniedError):
        shadow.remove("\\temp.tmp")
    with snapshot.recovery_window():
        assert not shadow.readonly
        shadow.remove("\\temp.tmp")  # AddExcludeFilesFromSnapshot: the writer deletes it
    assert shadow.readonly
    assert shadow.listdir() == ["keep.txt"]
    assert shadow.check() == []
    assert fs.listdir() == ["keep.txt", "temp.tmp"]
    assert fs.check() == []


def test_revert_brings_the_old_tree_back_on_the_live_mount(tmp_path: Path) -> None:
    volume, storage, _ = make_volume(tmp_path)
    fs = volume.fs
    fs.write_file("C:\\db\\data.mdf", b"good", create_dirs=True)
    snapshot = storage.create_snapshot()
    fs.write_file("C:\\db\\data.mdf", b"corrupted by a bad update")
    fs.write_file("C:\\db\\junk", b"x")
    storage.revert(snapshot)
    assert fs.listdir("C:\\db") == ["data.mdf"]
    assert fs.read_file("C:\\db\\data.mdf") == b"good"
    assert fs.check() == []
