"""The machine's own files and lookups: ``machine.json`` as the machine saves it (each volume's
entry made once), provider state directories, volume names, the root directory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from vsssim.apps.kvstore import KvStoreApp
from vsssim.errors import VssBadStateError, VssInvalidArgumentError, VssObjectNotFoundError
from vsssim.providers.system import SystemProvider
from vsssim.storage.san import SimulatedSan
from vsssim.system import MACHINE_FORMAT, VssSystem

MiB = 1 << 20


def _expected_machine_file(system: VssSystem) -> str:
    """``machine.json`` computed from scratch (no cached entry, no known relative path)."""
    data = {
        "format": MACHINE_FORMAT, "machine_name": system.machine_name,
        "os_version": system.os_version, "edition": system.edition, "boot": system.boot,
        "clock": system.clock.now(), "shadow_devices": system._device_counter,
        "pending_renames": [list(r) for r in system.pending_renames],
        "volumes": [
            {"name": e.name, "guid": str(e.guid), "image": os.path.relpath(e.image, system.root),
             "kind": e.kind, "readonly": e.readonly, "filesystem": e.filesystem,
             "luns": [lun.model_dump(mode="json") for lun in e.luns]}
            for e in system._volumes.values()],
    }
    return json.dumps(data, separators=(",", ":"))


def test_the_machine_file_is_what_the_machine_holds(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    root = tmp_path / "a" / ".." / "machine"  # (relpath normalises; the known form must too)
    system = VssSystem(str(root), seed=3)
    machine_file = Path(root, "machine.json")
    assert machine_file.read_text() == _expected_machine_file(system)
    system.add_volume("C:\\", size=8 * MiB)
    assert machine_file.read_text() == _expected_machine_file(system)
    system.add_volume("C:\\Mount\\Data", size=8 * MiB, filesystem="ReFS")
    system.add_volume("E:\\", size=8 * MiB, san=san)  # its image lies outside the root
    system.schedule_rename_at_reboot("C:\\a.tmp", "C:\\a")
    assert machine_file.read_text() == _expected_machine_file(system)
    volumes = json.loads(machine_file.read_text())["volumes"]
    assert [v["image"] for v in volumes][:2] == ["volumes/C.img", "volumes/C_Mount_Data.img"]
    assert volumes[2]["image"].startswith("..") and volumes[2]["luns"]
    system.clock.sleep(5.0)
    system.close()
    text = machine_file.read_text()
    assert json.loads(text)["clock"] == 5.0

    reopened = VssSystem(root, seed=3)  # entries read back, saved again in the same form
    assert machine_file.read_text() == _expected_machine_file(reopened)
    assert json.loads(machine_file.read_text())["volumes"] == json.loads(text)["volumes"]
    reopened.add_volume("F:\\", size=8 * MiB)
    reopened.close()
    assert machine_file.read_text() == _expected_machine_file(reopened)


def test_a_provider_state_directory_is_made_when_asked_for(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m") as system:
        path = system.state_directory(SystemProvider.provider_id)
        assert path == str(tmp_path / "m" / "providers" / str(SystemProvider.provider_id))
        assert os.path.isdir(path)
        shutil.rmtree(tmp_path / "m" / "providers")
        assert system.state_directory(SystemProvider.provider_id) == path  # the same, made again
        assert os.path.isdir(path)
        os.rmdir(path)
        Path(path).write_text("not a directory")
        with pytest.raises(FileExistsError):
            system.state_directory(SystemProvider.provider_id)
        os.unlink(path)


def test_the_root_is_made_with_its_parents_and_must_be_a_directory(tmp_path: Path) -> None:
    with VssSystem(str(tmp_path / "x" / "y" / "z")) as system:
        assert system.root == tmp_path / "x" / "y" / "z" and isinstance(system.root, Path)
    given = tmp_path / "x" / "y" / "z"
    with VssSystem(given) as again:  # an existing machine directory
        assert again.root == given and again.boot == 1
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError):
        VssSystem(tmp_path / "file")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "volumes").write_text("")  # a file where the images go
    with VssSystem(tmp_path / "m") as system, pytest.raises(FileExistsError):
        system.add_volume("C:\\", size=8 * MiB)


def test_volumes_answer_to_every_name_they_have(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m") as system:
        system.add_volume("c:", size=8 * MiB)
        system.add_volume("C:\\Mount\\Data\\", size=8 * MiB)
        c_guid = system.volume_guid_path("C:\\")
        for name in ("C:\\", "c:\\", "C:", "c:", c_guid, c_guid.upper(), c_guid.rstrip("\\")):
            assert system.resolve_volume(name).name == "C:\\", name
        for name in ("C:\\Mount\\Data\\", "c:\\mount\\data", "C:\\MOUNT\\DATA\\"):
            assert system.resolve_volume(name).name == "C:\\Mount\\Data\\", name
        for missing in ("D:\\", "C:\\Mount\\", "C:\\Mount\\Data\\x"):
            with pytest.raises(VssObjectNotFoundError):
                system.resolve_volume(missing)


def test_close_stops_application_threads(tmp_path: Path) -> None:
    system = VssSystem(tmp_path / "m")
    system.add_volume("C:\\", size=8 * MiB)
    system.add_application(KvStoreApp(system.volume("C:\\").fs))
    system.start_applications(interval=0.001)
    threads = list(system.scheduler.threads)
    assert threads and all(t.is_alive() for t in threads)
    system.close()
    assert not any(t.is_alive() for t in threads) and not system.scheduler.threads
    assert system.scheduler.stop.is_set()


def _longest_root(system: VssSystem, path: str) -> str | None:
    """The volume of ``path`` by the plain rule: the longest root (name or GUID path, any case,
    the trailing backslash optional for the root itself) that the path lies under."""
    low = path.lower()
    best: tuple[int, str] | None = None
    for e in system._volumes.values():
        for root in (e.name.lower(), e.guid_path.lower()):
            if (low.startswith(root) or low + "\\" == root) and (best is None
                                                                   or len(root) > best[0]):
                best = (len(root), e.name)
    return best[1] if best else None


def test_a_path_lies_on_the_volume_with_the_longest_matching_root(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "m") as system:
        system.add_volume("C:\\Mount\\Data\\", size=8 * MiB)  # added before its parent
        system.add_volume("C:\\", size=8 * MiB)
        system.add_volume("C:\\Mount\\Data\\Deep", size=8 * MiB)
        system.add_volume("D:\\", size=8 * MiB)
        guids = [system.volume_guid_path(n) for n in system.volume_names()]
        paths = ["C:\\", "c:", "C:\\file", "C:\\Mount", "C:\\Mount\\", "C:\\Mount\\Data",
                 "c:\\mount\\data\\", "C:\\Mount\\Data\\f", "C:\\Mount\\DataX\\f",
                 "C:\\Mount\\Data\\Deep", "C:\\Mount\\Data\\Deep\\x\\y", "D:", "d:\\a",
                 "E:\\a", "", "C", "\\\\?\\Volume{x}\\",
                 *guids, *(g.upper() + "a\\b" for g in guids), *(g[:-1] for g in guids)]
        for path in paths:
            found = system.volume_of_path(path)
            assert (found.name if found else None) == _longest_root(system, path), path
        found = system.volume_of_path("C:\\Mount\\Data\\f")
        assert found is not None and found.name == "C:\\Mount\\Data\\"


def test_volume_names_are_checked_before_they_are_looked_up(tmp_path: Path) -> None:
    system = VssSystem(tmp_path / "m")
    system.add_volume("C:\\", size=8 * MiB)
    assert system.resolve_volume("C:\\", strict=True).name == "C:\\"
    with pytest.raises(VssInvalidArgumentError, match="must end with a backslash"):
        system.resolve_volume("C:", strict=True)
    with pytest.raises(VssInvalidArgumentError, match="non-empty string"):
        system.resolve_volume("")
    system.close()
    with pytest.raises(VssBadStateError, match="shut down"):
        system.resolve_volume("C:\\")


@pytest.mark.parametrize("content", [b'{"format": "\xff"}', b"[1", b"[]", b'{"format": 0}'])
def test_a_damaged_machine_file_is_a_store_corrupt_error(tmp_path: Path, content: bytes) -> None:
    from vsssim.errors import VssStoreCorruptError

    tmp_path.joinpath("machine.json").write_bytes(content)  # not UTF-8, not JSON, not ours
    with pytest.raises(VssStoreCorruptError, match=r"machine\.json is damaged"):
        VssSystem(tmp_path)
