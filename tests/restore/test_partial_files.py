"""Partial files, ranges files, directed targets and differenced files end to end through
``VssSystem.backup`` / ``VssSystem.restore`` (reference §8.6, §8.7, R7)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.restore._partial import PartialWriter, machine
from vsssim.clock import filetime
from vsssim.constants import (
    BackupSchema,
    BackupType,
    FileRestoreStatus,
    RestoreMethod,
    WriterState,
)
from vsssim.documents import (
    WriterMetadataBuilder,
    format_ranges,
    parse_ranges,
    parse_ranges_file,
    ranges_file_bytes,
)
from vsssim.errors import VssBadStateError
from vsssim.medium import BackupMedium, MediumError
from vsssim.options import fidelity_markdown
from vsssim.system import VssSystem

ORIGINAL = bytes(range(64))
DATA = "C:\\Db\\data.mdf"


def _patched(live: bytes, saved: bytes, ranges: list[tuple[int, int]]) -> bytes:
    """The model: the live file, with the saved bytes of each range written at its offset."""
    out = bytearray(live)
    for offset, length in ranges:
        if len(out) < offset:
            out.extend(bytes(offset - len(out)))
        out[offset:offset + length] = saved[offset:offset + length]
    return bytes(out)


def _volume(system: VssSystem) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name in ("C:\\", "D:\\"):
        vfs = system.volume(name).fs
        for top, _dirs, files in vfs.walk(name):
            for f in files:
                out[f"{top}\\{f}".lower()] = vfs.read_file(f"{top}\\{f}")
    return out


# -- the range formats ----------------------------------------------------------------------
def test_range_lists_are_decimal_or_hex_pairs() -> None:
    assert parse_ranges("0:4, 0x10:0X8,100:1") == [(0, 4), (16, 8), (100, 1)]
    assert format_ranges([(0, 4), (16, 8)]) == "0:4,16:8"
    data = ranges_file_bytes([(2, 3), (10, 1)])
    assert len(data) == 8 + 2 * 16 and parse_ranges_file(data) == [(2, 3), (10, 1)]


@pytest.mark.parametrize("bad", ["", "4", "0:", ":4", "-1:4", "0:0", "a:1", "1.5:2",
                                 f"{2**63}:1", "0:4;8:4"])
def test_malformed_range_lists_are_value_errors(bad: str) -> None:
    with pytest.raises(ValueError, match=r"range|pair|number|offset"):
        parse_ranges(bad)


@pytest.mark.parametrize("bad", [b"", b"\x01" + bytes(7), (1).to_bytes(8, "little") + bytes(8),
                                 (1).to_bytes(8, "little") + bytes(17)])
def test_malformed_ranges_files_are_value_errors(bad: bytes) -> None:
    with pytest.raises(ValueError, match=r"ranges file|empty"):
        parse_ranges_file(bad)


# -- backup and restore ---------------------------------------------------------------------
@pytest.mark.parametrize("when", ["PrepareForBackup", "PostSnapshot"])
def test_only_the_ranges_are_kept_and_restored_into_the_live_file(tmp_path: Path,
                                                                  when: str) -> None:
    w = PartialWriter(partial=[("C:\\Db", "data.mdf", "0:4,0x10:8")], when=when)
    with machine(tmp_path, w, {DATA: ORIGINAL, "C:\\Db\\log.txt": b"log"}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        assert result.succeeded, result.summary()
        kept = {f.path: f for f in result.files}
        assert kept[DATA].ranges == "0:4,16:8" and kept[DATA].size == 12
        assert kept[DATA].file_size == 64 and kept[DATA].partial_file == 0
        assert kept["C:\\Db\\log.txt"].ranges == ""  # the others are whole
        stored = (tmp_path / "b" / kept[DATA].target).read_bytes()
        assert stored == ORIGINAL[0:4] + ORIGINAL[16:24]
        manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
        assert manifest["partial_file_support"] is True and manifest["format"] == 2
        live = b"\xff" * 80  # the file changed (and grew) since the backup
        fs = system.volume("C:\\").fs
        fs.write_file(DATA, live)
        restored = system.restore(result)
        assert restored.succeeded, restored.summary()
        assert fs.read_file(DATA) == _patched(live, ORIGINAL, [(0, 4), (16, 8)])
        written = {f.destination: f for f in restored.files}
        assert written[DATA].ranges == "0:4,16:8" and written[DATA].size == 12
        assert restored.trace.filter(name="RestoreRanges")


def test_without_partial_file_support_add_partial_file_fails_prepare_for_backup(
        tmp_path: Path) -> None:
    w = PartialWriter(partial=[("C:\\Db", "data.mdf", "0:4")])
    with machine(tmp_path, w, {DATA: ORIGINAL}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")  # the default: False
        assert not result.succeeded
        assert result.writer_status[0].state == WriterState.FAILED_AT_PREPARE_BACKUP
        assert isinstance(result.handler_exceptions[0], VssBadStateError)
        with pytest.raises(TypeError, match="partial_file_support"):
            system.backup(["C:\\"], partial_file_support=1)  # type: ignore[arg-type]


def test_add_partial_file_refuses_a_malformed_range_list(tmp_path: Path) -> None:
    w = PartialWriter(partial=[("C:\\Db", "data.mdf", "0:4,nonsense")])
    with machine(tmp_path, w, {DATA: ORIGINAL}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        assert not result.succeeded
        assert "E_INVALIDARG" in w.failures[0] and "nonsense" in w.failures[0]


@pytest.mark.parametrize(("partial", "why"), [
    (("C:\\Elsewhere", "data.mdf", "0:4"), "not at or under a file set path"),
    (("C:\\Db", "data.mdf", "60:8"), "ends beyond the end of the file"),
    (("C:\\Db", "data.mdf", "C:\\Db\\missing.rng"), "does not exist on the shadow copy"),
    (("C:\\Db", "data.mdf", "C:\\Db\\bad.rng"), "ranges file"),
])
def test_a_writer_error_in_its_partial_files_fails_the_component(
        tmp_path: Path, partial: tuple[str, str, str], why: str) -> None:
    w = PartialWriter(partial=[partial])
    files = {DATA: ORIGINAL, "C:\\Elsewhere\\data.mdf": ORIGINAL, "C:\\Db\\bad.rng": b"123"}
    with machine(tmp_path, w, files) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        assert not result.succeeded and result.failed_components == ["Db"]
        failed = result.trace.filter(name="CopyFailed")
        assert failed and why in failed[0].detail
        assert f"copy failed: {failed[0].detail}" in result.summary().splitlines()  # says why


def test_a_ranges_file_is_kept_restored_first_and_its_new_path_set(tmp_path: Path) -> None:
    w = PartialWriter(partial=[("C:\\Db", "data.mdf", "C:\\Db\\data.rng")],
                      method=RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION, alternate="D:\\Alt")
    rng = ranges_file_bytes([(8, 8), (40, 4)])
    with machine(tmp_path, w, {DATA: ORIGINAL, "C:\\Db\\data.rng": rng}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        assert result.succeeded, result.summary()
        kept = {f.path: f for f in result.files}
        assert kept["C:\\Db\\data.rng"].ranges_file_of == 0  # kept once, as the ranges file
        assert [f.path for f in result.files].count("C:\\Db\\data.rng") == 1
        assert kept[DATA].ranges == "8:8,40:4"
        d = system.volume("D:\\").fs
        d.write_file("D:\\Alt\\data.mdf", b"\x00" * 64, create_dirs=True)
        restored = system.restore(result)
        assert restored.succeeded, restored.summary()
        order = [f.destination for f in restored.files]
        assert order.index("D:\\Alt\\data.rng") < order.index("D:\\Alt\\data.mdf")
        assert d.read_file("D:\\Alt\\data.rng") == rng
        assert d.read_file("D:\\Alt\\data.mdf") == _patched(bytes(64), ORIGINAL,
                                                            [(8, 8), (40, 4)])
        assert w.ranges_file_paths == ["D:\\Alt\\data.rng"]  # SetRangesFilePath
        assert restored.trace.filter(name="SetRangesFilePath")


def test_a_partial_file_outside_the_file_specs_is_kept_under_its_own_name(
        tmp_path: Path) -> None:
    w = PartialWriter(partial=[("C:\\Db\\sub", "x.bin", "1:2")], spec=("*.txt", False))
    files = {"C:\\Db\\sub\\x.bin": b"abcdef", "C:\\Db\\a.txt": b"a"}
    with machine(tmp_path, w, files) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        assert result.succeeded, result.summary()
        kept = {f.path: f for f in result.files}
        x = kept["C:\\Db\\sub\\x.bin"]
        assert (x.set_path, x.set_filespec, x.set_recursive) == ("C:\\Db\\sub\\", "x.bin", False)
        BackupMedium(tmp_path / "b")  # the medium accepts it
        fs = system.volume("C:\\").fs
        fs.write_file("C:\\Db\\sub\\x.bin", b"ABCDEF")
        assert system.restore(result).succeeded
        assert fs.read_file("C:\\Db\\sub\\x.bin") == b"AbcDEF"
    doc = " ".join((VssSystem.backup.__doc__ or "").split())
    assert ("a partial file need not match a file set's file spec, but must lie at or under "
            "one of its component's file set paths") in doc


def test_restoring_a_partial_file_needs_the_file_and_writes_nothing_without_it(
        tmp_path: Path) -> None:
    w = PartialWriter(partial=[("C:\\Db", "data.mdf", "0:4")])
    with machine(tmp_path, w, {DATA: ORIGINAL, "C:\\Db\\a.txt": b"a"}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        fs = system.volume("C:\\").fs
        fs.remove(DATA)
        fs.write_file("C:\\Db\\a.txt", b"changed")
        restored = system.restore(result)
        outcome = restored.component("Db")
        assert outcome.status == FileRestoreStatus.NONE and not outcome.files
        assert "restore a full backup of it first" in outcome.message
        assert not fs.exists(DATA) and fs.read_file("C:\\Db\\a.txt") == b"changed"


def test_directed_targets_write_source_ranges_at_destination_ranges(tmp_path: Path) -> None:
    w = PartialWriter(directed=[("C:\\Db", "data.mdf", "0:4,32:8", "D:\\Out", "copy.mdf",
                                 "100:4,0:8")])
    with machine(tmp_path, w, {DATA: ORIGINAL, "C:\\Db\\log.txt": b"log"}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        fs = system.volume("C:\\").fs
        fs.write_file(DATA, b"live")
        fs.write_file("C:\\Db\\log.txt", b"new log")
        restored = system.restore(result)
        assert restored.succeeded, restored.summary()
        out = system.volume("D:\\").fs.read_file("D:\\Out\\copy.mdf")
        assert out == ORIGINAL[32:40] + bytes(92) + ORIGINAL[0:4]  # created, zeros between
        assert fs.read_file(DATA) == b"live"  # the directed file went only where directed
        assert fs.read_file("C:\\Db\\log.txt") == b"log"  # undirected: its original place
        outcome = restored.component("Db")
        assert outcome.destination == "mixed: directed targets, original location"
        routes = {f.destination: (f.route, f.ranges) for f in outcome.files}
        assert routes == {"D:\\Out\\copy.mdf": ("directed targets", "100:4,0:8"),
                          "C:\\Db\\log.txt": ("original location", "")}


def test_a_directed_file_leaves_the_file_set_s_empty_directories_to_be_restored(
        tmp_path: Path) -> None:
    w = PartialWriter(directed=[("C:\\Db", "data.mdf", "", "D:\\Out", "copy.mdf", "")])
    with machine(tmp_path, w, {DATA: ORIGINAL, "C:\\Db\\log.txt": b"log"}) as system:
        fs = system.volume("C:\\").fs
        fs.makedirs("C:\\Db\\empty")
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        fs.rmdir("C:\\Db\\empty")
        restored = system.restore(result)
        assert restored.succeeded, restored.summary()
        assert restored.component("Db").destination.startswith("mixed: ")
        assert fs.is_dir("C:\\Db\\empty")  # the undirected rest went back, and so did it


def test_directed_ranges_into_an_existing_file_keep_its_other_bytes(tmp_path: Path) -> None:
    w = PartialWriter(directed=[("C:\\Db", "data.mdf", "8:4", "C:\\Db", "data.mdf", "8:4")])
    with machine(tmp_path, w, {DATA: ORIGINAL}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        fs = system.volume("C:\\").fs
        fs.write_file(DATA, b"\xaa" * 64)
        assert system.restore(result).succeeded
        assert fs.read_file(DATA) == _patched(b"\xaa" * 64, ORIGINAL, [(8, 4)])


@pytest.mark.parametrize(("directed", "error"), [
    (("C:\\Db", "data.mdf", "60:8", "D:\\Out", "x", "0:8"), "not among the bytes"),
    (("C:\\Db", "data.mdf", "0:8", "D:\\Out", "x", "0:4"), "same lengths"),
    (("C:\\Db", "data.mdf", "0:8", "D:\\Out", "x", ""), "at least one"),
])
def test_bad_directed_ranges_restore_nothing(tmp_path: Path, directed: tuple[str, ...],
                                             error: str) -> None:
    w = PartialWriter(directed=[directed])  # type: ignore[list-item]
    with machine(tmp_path, w, {DATA: ORIGINAL, "C:\\Db\\a.txt": b"a"}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        before = _volume(system)
        restored = system.restore(result)
        assert not restored.succeeded
        if error == "not among the bytes":
            outcome = restored.component("Db")
            assert outcome.status == FileRestoreStatus.NONE and error in outcome.message
        else:  # AddDirectedTarget itself refused them (E_INVALIDARG): the writer failed
            assert restored.handler_exceptions and error in str(restored.handler_exceptions[0])
        assert _volume(system) == before


def test_a_partial_file_in_a_directed_restore_keeps_to_its_saved_ranges(tmp_path: Path) -> None:
    w = PartialWriter(partial=[("C:\\Db", "data.mdf", "0:16")],
                      directed=[("C:\\Db", "data.mdf", "4:4", "D:\\Out", "p.bin", "0:4")])
    with machine(tmp_path, w, {DATA: ORIGINAL}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        assert system.restore(result).succeeded
        assert system.volume("D:\\").fs.read_file("D:\\Out\\p.bin") == ORIGINAL[4:8]


@pytest.mark.parametrize(("saved", "source", "held"), [
    ("0:4,4:4", "2:4", ORIGINAL[2:6]),  # two adjacent saved ranges
    ("8:8,0:12", "2:12", ORIGINAL[2:14]),  # overlapping, saved out of order
    ("0:2,2:2,4:2,6:2", "1:6", ORIGINAL[1:7]),  # a run of four
    ("0:4,5:4", "2:4", None),  # byte 4 was not saved
], ids=["adjacent", "overlapping", "run-of-four", "gap"])
def test_a_directed_source_range_may_span_saved_ranges_that_cover_it(
        tmp_path: Path, saved: str, source: str, held: bytes | None) -> None:
    w = PartialWriter(partial=[("C:\\Db", "data.mdf", saved)],
                      directed=[("C:\\Db", "data.mdf", source, "D:\\Out", "p.bin",
                                 f"1:{parse_ranges(source)[0][1]}")])
    with machine(tmp_path, w, {DATA: ORIGINAL}) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        assert result.succeeded, result.summary()
        before = _volume(system)
        restored = system.restore(result)
        if held is None:
            outcome = restored.component("Db")
            assert not restored.succeeded and outcome.status == FileRestoreStatus.NONE
            assert f"source range {source} is not among the bytes" in outcome.message
            assert _volume(system) == before
            return
        assert restored.succeeded, restored.summary()
        assert system.volume("D:\\").fs.read_file("D:\\Out\\p.bin") == b"\x00" + held
        [written] = restored.files
        assert (written.ranges, written.size) == (f"1:{len(held)}", len(held))


# -- differenced files -----------------------------------------------------------------------
@pytest.mark.parametrize("backup_type", [BackupType.INCREMENTAL, BackupType.DIFFERENTIAL])
def test_differenced_files_are_copied_only_if_modified_since_the_time(
        tmp_path: Path, backup_type: BackupType) -> None:
    w = PartialWriter()
    with machine(tmp_path, w, {"C:\\Db\\old.dat": b"old", "C:\\Db\\new.dat": b"1"}) as system:
        system.clock.sleep(60)
        since = filetime(system.clock.datetime())
        system.clock.sleep(60)
        system.volume("C:\\").fs.write_file("C:\\Db\\new.dat", b"2")
        w.differenced = [("C:\\Db", "*.dat", False, since)]
        result = system.backup(["C:\\"], backup_type=backup_type, target_dir=tmp_path / "b")
        assert result.succeeded, result.summary()
        assert [f.path for f in result.files] == ["C:\\Db\\new.dat"]
        w.differenced = [("C:\\Db", "*.dat", False, 0)]  # zero: the requester's own records
        again = system.backup(["C:\\"], backup_type=backup_type, target_dir=tmp_path / "c")
        assert sorted(f.path for f in again.files) == ["C:\\Db\\new.dat", "C:\\Db\\old.dat"]
        system.volume("C:\\").fs.write_file("C:\\Db\\new.dat", b"3")
        assert system.restore(result).succeeded  # restores what it holds: new.dat only
        assert system.volume("C:\\").fs.read_file("C:\\Db\\new.dat") == b"2"
    assert "copies every file such a spec covers" in fidelity_markdown()


class _FullOnlyWriter(PartialWriter):
    """LAST_MODIFY without INCREMENTAL or DIFFERENTIAL: every backup is FULL for it."""

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        super().on_identify(md)
        md.set_backup_schema(BackupSchema.LAST_MODIFY)
        return True


def test_differenced_files_refused_in_an_incremental_backup_that_is_full_for_the_writer(
        tmp_path: Path) -> None:
    w = _FullOnlyWriter(differenced=[("C:\\Db", "*.dat", False, 0)])
    with machine(tmp_path, w, {"C:\\Db\\a.dat": b"a"}) as system:
        result = system.backup(["C:\\"], backup_type=BackupType.INCREMENTAL,
                               target_dir=tmp_path / "b")
        assert not result.succeeded
        message = str(result.handler_exceptions[0])
        assert "(this one is FULL for this writer: an incremental or differential backup is " \
            "FULL for a writer without VSS_BS_INCREMENTAL or VSS_BS_DIFFERENTIAL in its " \
            "backup schema)" in message, message


def test_differenced_files_may_lie_outside_the_file_sets(tmp_path: Path) -> None:
    w = PartialWriter(differenced=[("C:\\Logs", "*.log", True, 0)])
    with machine(tmp_path, w, {"C:\\Db\\a": b"a", "C:\\Logs\\x\\1.log": b"1"}) as system:
        result = system.backup(["C:\\"], backup_type=BackupType.INCREMENTAL,
                               target_dir=tmp_path / "b")
        assert result.succeeded, result.summary()
        assert "C:\\Logs\\x\\1.log" in [f.path for f in result.files]
        BackupMedium(tmp_path / "b")
        system.volume("C:\\").fs.write_file("C:\\Logs\\x\\1.log", b"changed")
        assert system.restore(result).succeeded
        assert system.volume("C:\\").fs.read_file("C:\\Logs\\x\\1.log") == b"1"


# -- hostile manifests -----------------------------------------------------------------------
def _partial_backup(tmp_path: Path) -> Path:
    w = PartialWriter(partial=[("C:\\Db", "data.mdf", "0:4,16:8"),
                               ("C:\\Db", "big.mdf", "C:\\Db\\big.rng")])
    files = {DATA: ORIGINAL, "C:\\Db\\big.mdf": ORIGINAL,
             "C:\\Db\\big.rng": ranges_file_bytes([(2, 3)])}
    with machine(tmp_path, w, files) as system:
        result = system.backup(["C:\\"], target_dir=tmp_path / "b", partial_file_support=True)
        assert result.succeeded, result.summary()
    return tmp_path / "b"


def _entry(m: dict[str, Any], path: str) -> dict[str, Any]:
    return next(f for f in m["files"] if f["path"] == path)


def _set(which: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def apply(m: dict[str, Any]) -> None:
        _entry(m, which).update(changes)
    return apply


@pytest.mark.parametrize(("damage", "match"), [
    (_set(DATA, ranges="0:4,60:8"), "beyond the end"),
    (_set(DATA, ranges="0:4,16:7,30:1"), "not the ones the writer added"),
    (_set(DATA, ranges="0:12"), "not the ones the writer added"),
    (_set(DATA, ranges="0:4,16:9"), "add up to"),
    (_set(DATA, ranges="0:-4"), "ranges"),
    (_set(DATA, ranges="16:8,0:4"), "not the ones"),
    (_set(DATA, file_size=None), "size of the whole file"),
    (_set(DATA, file_size=-1), "not a vsssim backup manifest"),
    (_set(DATA, partial_file=7), "no partial file #7"),
    (_set(DATA, partial_file=1), "is not partial file #1"),
    (_set(DATA, partial_file=None), "only for partial files"),
    (_set("C:\\Db\\big.rng", ranges_file_of=0), "is not the ranges file"),
    (_set("C:\\Db\\big.rng", ranges="0:1", file_size=24), "kept whole"),
    (lambda m: m["files"].remove(_entry(m, "C:\\Db\\big.rng")), "lacks its ranges file"),
    (_set("C:\\Db\\big.mdf", ranges="2:2", size=2), "not the ones"),
    (lambda m: m.update(format=1), "format 1"),
    (_set(DATA, set_path="C:\\Other\\", set_filespec="data.mdf", rel="data.mdf",
          path="C:\\Other\\data.mdf"), "not partial file"),
])
def test_hostile_partial_entries_are_refused(tmp_path: Path,
                                             damage: Callable[[dict[str, Any]], None],
                                             match: str) -> None:
    target = _partial_backup(tmp_path)
    BackupMedium(target)  # the backup as written is accepted
    manifest = json.loads((target / "manifest.json").read_text())
    damage(manifest)
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MediumError, match=match):
        BackupMedium(target)


def test_a_format_1_manifest_still_restores(tmp_path: Path) -> None:
    w = PartialWriter()
    with machine(tmp_path, w, {DATA: ORIGINAL}) as system:
        system.backup(["C:\\"], target_dir=tmp_path / "b")
        manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
        manifest["format"] = 1
        del manifest["partial_file_support"]
        for f in manifest["files"]:
            for key in ("ranges", "file_size", "partial_file", "ranges_file_of"):
                del f[key]
        (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest))
        system.volume("C:\\").fs.write_file(DATA, b"x")
        assert system.restore(tmp_path / "b").succeeded
        assert system.volume("C:\\").fs.read_file(DATA) == ORIGINAL


# -- against a model -------------------------------------------------------------------------
_RANGES = st.lists(st.tuples(st.integers(0, 95), st.integers(1, 32)), min_size=1, max_size=4)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(original=st.binary(min_size=1, max_size=96), live=st.binary(max_size=128),
       ranges=_RANGES, data=st.data())
def test_restore_of_a_partial_backup_matches_the_model(original: bytes, live: bytes,
                                                       ranges: list[tuple[int, int]],
                                                       data: st.DataObject) -> None:
    ranges = [(min(o, len(original) - 1), min(n, len(original) - min(o, len(original) - 1)))
              for o, n in ranges]
    # A directed copy of saved bytes (from one saved range, or from several that together
    # cover them) into a new file, at an offset of its own.
    held = {i for o, n in ranges for i in range(o, o + n)}
    start = data.draw(st.sampled_from(sorted(held)))
    stop = next(i for i in range(start, len(original) + 1) if i not in held)
    length = data.draw(st.integers(1, stop - start))
    at = data.draw(st.integers(0, 64))
    directed = ("C:\\Db", "data.mdf", f"{start}:{length}", "D:\\Out", "one.bin",
                f"{at}:{length}")
    with tempfile.TemporaryDirectory() as tmp:
        w = PartialWriter(partial=[("C:\\Db", "data.mdf", format_ranges(ranges))])
        with machine(Path(tmp), w, {DATA: original}) as system:
            result = system.backup(["C:\\"], target_dir=Path(tmp) / "b",
                                   partial_file_support=True)
            assert result.succeeded, result.summary()
            fs = system.volume("C:\\").fs
            fs.write_file(DATA, live)
            restored = system.restore(result)
            assert restored.succeeded, restored.summary()
            assert fs.read_file(DATA) == _patched(live, original, ranges)
            w.directed = [directed]
            assert system.restore(result).succeeded
            expected = bytes(at) + original[start:start + length]
            assert system.volume("D:\\").fs.read_file("D:\\Out\\one.bin") == expected
