"""A damaged store is detected on reopen, never served, and the failed open changes nothing.

The index (``index.ckpt``) and every journal record carry CRC-32s, and records are numbered.
The journal ends at its first all-zero header; an append killed before its header was written
leaves only payload bytes after that end, which are ignored.  Any other damage raises
``VssStoreCorruptError``.  "Crashed" stores are made by copying the files of a store that is
still open, which is exactly what a killed process leaves behind.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from vsssim.errors import VssStoreCorruptError
from vsssim.storage._journal import RecordType, encode_record, read_journal
from vsssim.storage.shadowstorage import ShadowStorage
from vsssim.storage.volume import SIDECAR_SUFFIX, Volume

B = 4096
N = 16


def build(root: Path, *, crash: bool) -> tuple[Path, dict[str, bytes]]:
    """A volume with three persistent snapshots; returns the directory to reopen from and
    the content of each snapshot by id."""
    root.mkdir()
    vol = Volume.create(root / "v.img", N * B, B)
    vol.write(0, b"\x11" * N * B)
    store = ShadowStorage.create(vol, root / "diff")
    contents = {}
    for i in range(3):
        snap = store.create_snapshot(metadata={"i": str(i)})
        contents[str(snap.id)] = vol.read(0, N * B)
        vol.write(i * 3 * B + 100, bytes([i + 2]) * (2 * B))
    if crash:  # the files as a killed process leaves them: the journal holds everything
        out = root.parent / (root.name + "-crashed")
        out.mkdir()
        shutil.copy(root / "v.img", out / "v.img")
        shutil.copy(str(root / "v.img") + SIDECAR_SUFFIX, str(out / "v.img") + SIDECAR_SUFFIX)
        shutil.copytree(root / "diff", out / "diff")
        vol.close()
        return out, contents
    vol.close()
    return root, contents


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def reopen_ok(root: Path, contents: dict[str, bytes]) -> None:
    with Volume.open(root / "v.img") as vol:
        store = ShadowStorage.open(vol, root / "diff")
        assert sorted(str(s.id) for s in store.snapshots) == sorted(contents)
        for snap in store.snapshots:
            assert snap.read(0, N * B) == contents[str(snap.id)]
        store.verify()


def assert_refused(root: Path) -> None:
    before = digest(root)
    with Volume.open(root / "v.img") as vol:
        with pytest.raises(VssStoreCorruptError):
            ShadowStorage.open(vol, root / "diff")
        assert vol.shadow_storage is None
    assert digest(root) == before  # the failed open changed nothing


def flip(path: Path, pos: int) -> None:
    data = bytearray(path.read_bytes())
    data[pos] ^= 0x10
    path.write_bytes(bytes(data))


def journal(root: Path) -> Path:
    (path,) = (root / "diff").glob("journal.*")
    return path


def test_a_crashed_store_reopens_exactly(tmp_path: Path) -> None:
    root, contents = build(tmp_path / "a", crash=True)
    assert journal(root).stat().st_size > 200  # everything is in the journal
    reopen_ok(root, contents)


@pytest.mark.parametrize("where", [0, 9, 30, 60, -30, -3])
def test_bit_flips_in_the_index(tmp_path: Path, where: int) -> None:
    root, _ = build(tmp_path / "a", crash=False)
    index = root / "diff" / "index.ckpt"
    flip(index, where % index.stat().st_size)
    assert_refused(root)


@pytest.mark.parametrize("keep", [0, 10, 23, 24, 100, -8])
def test_a_truncated_index(tmp_path: Path, keep: int) -> None:
    root, _ = build(tmp_path / "a", crash=False)
    index = root / "diff" / "index.ckpt"
    data = index.read_bytes()
    index.write_bytes(data[: keep % len(data)])
    assert_refused(root)


def journal_end(root: Path) -> tuple[int, int]:
    """(number of records, byte where the next record goes) of the crashed journal."""
    path = journal(root)
    generation = int(path.name.split(".")[1])
    with Volume.open(root / "v.img") as vol:
        records, end = read_journal(str(path), generation, vol.id)
    return len(records), end


def test_bit_flips_in_the_journal(tmp_path: Path) -> None:
    root, _ = build(tmp_path / "a", crash=True)
    _, end = journal_end(root)
    positions = [3, 20, 66, 96, 110, (64 + end) // 2, end - 40, end - 1, end + 5]
    pristine = journal(root).read_bytes()
    for pos in positions:
        journal(root).write_bytes(pristine)
        flip(journal(root), pos)
        assert_refused(root)


@pytest.mark.parametrize("keep", [0, 20, 63])
def test_a_journal_without_a_complete_header(tmp_path: Path, keep: int) -> None:
    root, _ = build(tmp_path / "a", crash=True)
    data = journal(root).read_bytes()
    journal(root).write_bytes(data[:keep])
    assert_refused(root)


@pytest.mark.parametrize("back", [1, 8, 32])
def test_a_journal_truncated_inside_a_record(tmp_path: Path, back: int) -> None:
    root, _ = build(tmp_path / "a", crash=True)
    _, end = journal_end(root)
    data = journal(root).read_bytes()
    journal(root).write_bytes(data[: end - back])
    assert_refused(root)


def test_a_zeroed_header_cannot_hide_later_records(tmp_path: Path) -> None:
    root, _ = build(tmp_path / "a", crash=True)
    data = bytearray(journal(root).read_bytes())
    data[64:96] = bytes(32)  # the first record's header
    journal(root).write_bytes(bytes(data))
    assert_refused(root)


def test_missing_files(tmp_path: Path) -> None:
    root, _ = build(tmp_path / "a", crash=True)
    saved = journal(root).read_bytes()
    name = journal(root).name
    journal(root).unlink()
    assert_refused(root)
    (root / "diff" / name).write_bytes(saved)
    (root / "diff" / "store.dat").unlink()
    assert_refused(root)


def test_a_truncated_store_file(tmp_path: Path) -> None:
    root, _ = build(tmp_path / "a", crash=False)
    data = (root / "diff" / "store.dat").read_bytes()
    (root / "diff" / "store.dat").write_bytes(data[: len(data) - B])
    assert_refused(root)


def test_an_append_killed_before_its_header_is_ignored(tmp_path: Path) -> None:
    """A long record writes its payload first and its header last: killed in between, the
    payload sits after the end of the journal.  Its live write never happened."""
    root, contents = build(tmp_path / "a", crash=True)
    count, end = journal_end(root)
    record = encode_record(RecordType.REVERT_BEGIN, bytes(range(256)) * 40, count)
    data = bytearray(journal(root).read_bytes())
    data[end + 32 : end + len(record)] = record[32:]  # payload only, header still zero
    journal(root).write_bytes(bytes(data))
    reopen_ok(root, contents)
    reopen_ok(root, contents)  # and the repaired store opens again


def test_a_journal_record_that_contradicts_the_index(tmp_path: Path) -> None:
    """Checksums are right but the content is impossible: still corruption."""
    root, _ = build(tmp_path / "a", crash=True)
    count, end = journal_end(root)
    bogus = encode_record(RecordType.DELETE, (999).to_bytes(8, "little") + b"\x00", count)
    data = bytearray(journal(root).read_bytes())
    data[end : end + len(bogus)] = bogus
    journal(root).write_bytes(bytes(data))
    assert_refused(root)
