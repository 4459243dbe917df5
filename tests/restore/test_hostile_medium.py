"""Hostile and damaged backup directories: refused before anything is written.

Each test takes a good backup, damages one thing the way an attacker (or a bad disk) would, and
checks that ``VssSystem.restore`` raises a clear error *and* that the machine's volumes and the
host directories around the backup are exactly as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vsssim import hresult
from vsssim.constants import FileRestoreStatus, RestoreMethod
from vsssim.errors import VssInvalidXmlDocumentError, VssObjectNotFoundError
from vsssim.medium import BackupMedium, MediumError
from vsssim.system import VssSystem

from .conftest import Lab


def _volumes(system: VssSystem) -> dict[str, bytes | None]:
    """Every path on every volume with its contents (None for directories)."""
    out: dict[str, bytes | None] = {}
    for name, vol in system.volumes.items():
        fs = vol.fs
        for top, dirs, files in fs.walk(name):
            for d in dirs:
                out[f"{top}\\{d}".lower()] = None
            for f in files:
                out[f"{top}\\{f}".lower()] = fs.read_file(f"{top}\\{f}")
    return out


def _host(lab: Lab) -> dict[str, bytes]:
    """The host files around the machine (not its own state, which a restore may log to)."""
    return {str(p): p.read_bytes() for p in sorted(lab.tmp.rglob("*"))
            if p.is_file() and not p.is_symlink() and lab.system.root not in p.parents}


@pytest.fixture
def good(make_lab: Callable[..., Lab]) -> tuple[Lab, Path]:
    lab = make_lab()
    target = lab.tmp / "backup"
    result = lab.system.backup(["C:\\"], target_dir=target)
    assert result.succeeded, result.summary()
    lab.system.run_applications(10)
    lab.quiet()
    return lab, target


def _manifest(target: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((target / "manifest.json").read_text())
    return data


def _save(target: Path, manifest: dict[str, Any]) -> None:
    (target / "manifest.json").write_text(json.dumps(manifest))


def _refused(lab: Lab, target: Path, match: str,
             error: type[Exception] = MediumError) -> None:
    """The restore raises ``error`` and changes nothing on the volumes or on the host."""
    before, host_before = _volumes(lab.system), _host(lab)
    trace_before = len(lab.system.trace)
    with pytest.raises(error, match=match):
        lab.system.restore(target)
    assert _volumes(lab.system) == before
    assert _host(lab) == host_before
    assert not [e for e in lab.system.trace[trace_before:] if e.name == "PreRestore"]


def _first_file(manifest: dict[str, Any], name: str = "data.kv") -> dict[str, Any]:
    entry: dict[str, Any] = next(f for f in manifest["files"] if f["rel"] == name)
    return entry


def test_the_good_backup_restores(good: tuple[Lab, Path]) -> None:
    lab, target = good  # the baseline the other tests damage
    assert BackupMedium(target).manifest.files
    assert lab.system.restore(target).succeeded


@pytest.mark.parametrize("bad", ["../outside.kv", "/etc/passwd", "files/../../outside.kv",
                                 "files\\C\\KvStore\\data.kv", "files//C/x", "C:/x", ""])
def test_backup_file_targets_that_leave_the_directory(good: tuple[Lab, Path], bad: str) -> None:
    lab, target = good
    (lab.tmp / "outside.kv").write_bytes(b"host file")
    m = _manifest(target)
    _first_file(m)["target"] = bad
    _save(target, m)
    _refused(lab, target, "relative path|leave the backup directory")


def test_a_symlink_to_a_host_file_is_refused(good: tuple[Lab, Path]) -> None:
    lab, target = good
    secret = lab.tmp / "secret.txt"
    secret.write_bytes(b"host secret")
    m = _manifest(target)
    entry = _first_file(m)
    data_file = target / entry["target"]
    data_file.unlink()
    data_file.symlink_to(secret)
    entry["size"], entry["sha256"] = 11, hashlib.sha256(b"host secret").hexdigest()
    _save(target, m)
    _refused(lab, target, "symbolic link")


def test_a_symlinked_directory_in_the_backup_is_refused(good: tuple[Lab, Path]) -> None:
    lab, target = good
    files = target / "files" / "C"
    moved = lab.tmp / "elsewhere"
    shutil.move(files, moved)
    files.symlink_to(moved, target_is_directory=True)
    _refused(lab, target, "symbolic link")


def test_the_backup_directory_itself_may_be_reached_through_a_link(
        good: tuple[Lab, Path]) -> None:
    lab, target = good
    link = lab.tmp / "link-to-backup"
    link.symlink_to(target, target_is_directory=True)
    assert lab.system.restore(link).succeeded


@pytest.mark.parametrize(("rel", "match"), [
    ("..\\..\\Windows\\evil.kv", "not a valid|\\.\\."),
    ("D:evil.kv", "invalid|not a valid|character"),
    ("CON", "reserved"),
    ("sub\\data.kv", "non-recursive"),
])
def test_windows_names_that_would_steer_the_restore(good: tuple[Lab, Path], rel: str,
                                                    match: str) -> None:
    lab, target = good
    m = _manifest(target)
    entry = _first_file(m)
    entry["rel"] = rel
    entry["path"] = entry["set_path"] + "\\" + rel
    _save(target, m)
    _refused(lab, target, match)


def test_a_path_that_is_not_its_sets_root_and_name(good: tuple[Lab, Path]) -> None:
    lab, target = good
    m = _manifest(target)
    _first_file(m)["path"] = "C:\\Windows\\System32\\data.kv"
    _save(target, m)
    _refused(lab, target, "joined")


@pytest.mark.parametrize("set_path", ["/etc", "C:", "relative\\dir", "C:\\KvStore\\..\\.."])
def test_file_set_roots_must_be_absolute_and_clean(good: tuple[Lab, Path], set_path: str) -> None:
    lab, target = good
    m = _manifest(target)
    entry = _first_file(m)
    entry["set_path"] = set_path
    entry["path"] = set_path + "\\" + entry["rel"]
    _save(target, m)
    _refused(lab, target, "absolute path|not a valid|\\.\\.")


def test_a_file_set_the_writer_never_declared(good: tuple[Lab, Path]) -> None:
    lab, target = good
    lab.system.volume("C:\\").fs.makedirs("C:\\Windows")
    m = _manifest(target)
    entry = _first_file(m)
    entry["set_path"] = "C:\\Windows"
    entry["path"] = "C:\\Windows\\data.kv"
    _save(target, m)
    _refused(lab, target, "stored metadata declares")


def test_a_name_outside_the_file_spec(good: tuple[Lab, Path]) -> None:
    lab, target = good
    m = _manifest(target)
    entry = _first_file(m)
    entry["rel"] = "boot.ini"
    entry["path"] = entry["set_path"] + "\\boot.ini"
    _save(target, m)
    _refused(lab, target, "file spec")


def test_a_tampered_file_fails_its_hash(good: tuple[Lab, Path]) -> None:
    lab, target = good
    entry = _first_file(_manifest(target))
    path = target / entry["target"]
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    _refused(lab, target, "SHA-256")


def test_a_missing_file(good: tuple[Lab, Path]) -> None:
    lab, target = good
    (target / _first_file(_manifest(target))["target"]).unlink()
    _refused(lab, target, "missing")


def test_a_directory_where_a_file_should_be(good: tuple[Lab, Path]) -> None:
    lab, target = good
    path = target / _first_file(_manifest(target))["target"]
    path.unlink()
    path.mkdir()
    _refused(lab, target, "not a regular file")


def test_a_document_that_does_not_match_the_manifest(good: tuple[Lab, Path]) -> None:
    lab, target = good
    m = _manifest(target)
    m["components"] = [c for c in m["components"] if c["name"] != "Share"]
    _save(target, m)
    _refused(lab, target, "does not match")


def test_missing_writer_metadata(good: tuple[Lab, Path]) -> None:
    lab, target = good
    m = _manifest(target)
    m["writers"] = m["writers"][:1]
    _save(target, m)
    _refused(lab, target, "no stored metadata")


@pytest.mark.parametrize("payload", [
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    '<BACKUP_COMPONENTS>&e;</BACKUP_COMPONENTS>',
    "<BACKUP_COMPONENTS",
    "",
])
def test_tampered_backup_components_xml(good: tuple[Lab, Path], payload: str) -> None:
    lab, target = good
    (target / "backup_components.xml").write_text(payload)
    _refused(lab, target, "BackupComponents|XML|document", VssInvalidXmlDocumentError)


def test_a_tampered_alternate_location_mapping(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION, kv_alternate="C:\\Alt")
    target = lab.tmp / "backup"
    assert lab.system.backup(["C:\\"], target_dir=target).succeeded
    lab.quiet()
    changed = 0
    for xml_path in (target / "writers").iterdir():
        xml = xml_path.read_text()
        if 'alternatePath="C:\\Alt"' in xml:
            xml_path.write_text(xml.replace('alternatePath="C:\\Alt"',
                                            'alternatePath="C:\\Alt\\..\\..\\Windows"'))
            changed += 1
    assert changed == 1
    _refused(lab, target, "alternate location mapping")


@pytest.mark.parametrize("text", ["not json", "[]", '{"format": 1}', json.dumps(
    {"format": 99, "machine": "", "os_version": "", "backup_type": "FULL",
     "select_components": True, "bootable_system_state": False, "context": 0,
     "snapshot_set_id": None, "time": "", "writers": [], "components": [], "files": []})])
def test_a_manifest_that_is_not_ours(good: tuple[Lab, Path], text: str) -> None:
    lab, target = good
    (target / "manifest.json").write_text(text)
    _refused(lab, target, "manifest")


def test_a_manifest_with_extra_fields(good: tuple[Lab, Path]) -> None:
    lab, target = good
    m = _manifest(target)
    _first_file(m)["destination"] = "C:\\Windows"
    _save(target, m)
    _refused(lab, target, "manifest")


_EMPTY = "the directory holds no manifest.json and no backup_components.xml"


def test_no_backup_there_is_object_not_found_not_a_damaged_backup(
        good: tuple[Lab, Path]) -> None:
    """A path with no backup at all is not a damaged backup (``MediumError``,
    ``VSS_E_INVALID_XML_DOCUMENT``): the error says there is no backup there."""
    lab, _target = good
    mark = lab.system.trace[-1].seq
    (lab.tmp / "plain-file").write_bytes(b"x")
    (lab.tmp / "empty").mkdir()
    (lab.tmp / "other-files").mkdir()
    (lab.tmp / "other-files" / "notes.txt").write_text("x")
    for path, says in [("nothing-here", "the directory does not exist"),
                       ("plain-file", "it is a file, not a backup directory"),
                       ("empty", _EMPTY), ("other-files", _EMPTY)]:
        with pytest.raises(VssObjectNotFoundError) as info:
            lab.system.restore(lab.tmp / path)
        assert not isinstance(info.value, MediumError)
        assert info.value.hresult == hresult.VSS_E_OBJECT_NOT_FOUND
        assert f"backup {'at' if path in ('nothing-here', 'plain-file') else 'in'} " \
            f"{str(lab.tmp / path)!r}: {says}" in str(info.value)
    assert lab.system.trace[-1].seq == mark  # refused before any VSS call


def test_a_backup_missing_its_manifest_is_damaged(good: tuple[Lab, Path]) -> None:
    lab, target = good
    (target / "manifest.json").unlink()  # backup_components.xml is still there
    with pytest.raises(MediumError, match=r"'manifest\.json' is missing from the backup"):
        lab.system.restore(target)


def test_medium_error_is_exported_with_the_other_errors() -> None:
    import vsssim

    assert vsssim.MediumError is MediumError
    assert "MediumError" in vsssim.__all__
    assert issubclass(vsssim.MediumError, vsssim.VssInvalidXmlDocumentError)


def test_a_full_volume_fails_the_component_and_says_what_was_written(
        make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION, kv_alternate="E:\\KvAlt")
    small = lab.system.add_volume("E:\\", size=2**20)
    target = lab.tmp / "backup"
    assert lab.system.backup(["C:\\"], target_dir=target).succeeded
    lab.quiet()
    fs = small.fs
    fs.write_file("E:\\filler", bytes(fs.free_space - 2 * fs.block_size))  # almost full
    result = lab.system.restore(target)
    assert not result.succeeded
    kv = result.component("KvStore")
    assert kv.status in (FileRestoreStatus.FAILED, FileRestoreStatus.NONE)
    assert "space" in kv.message.lower() or "full" in kv.message.lower()
    # What the result lists as written is exactly what is on the volume.
    written = {f.destination.lower() for f in kv.files}
    for name in ("E:\\KvAlt\\data.kv", "E:\\KvAlt\\log\\wal.log"):
        assert fs.exists(name) == (name.lower() in written)  # no half-written file left
    assert kv.status == (FileRestoreStatus.FAILED if kv.files else FileRestoreStatus.NONE)
    # The writer was told the same status.
    assert result.component("Share").status == FileRestoreStatus.ALL
    assert os.path.isdir(target)
