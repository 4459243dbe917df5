"""SimulatedSan: LUN images, identities, clones, (un)masking and reclaiming, shared by
several machines and processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsssim.documents import LunInfo
from vsssim.errors import VssObjectNotFoundError, VssStoreCorruptError
from vsssim.storage.san import SimulatedSan, same_lun
from vsssim.storage.volume import Volume

MiB = 2**20


def fill(path: str, size: int, chunks: dict[int, bytes]) -> None:
    """Make a sparse image of ``size`` bytes with data only at ``chunks``."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in chunks.items():
            f.seek(offset)
            f.write(data)


def test_create_volume_image_gives_a_fresh_path_and_identity(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    path, lun = san.create_volume_image("m1-C", 8 * MiB)
    assert not os.path.exists(path)
    assert os.path.dirname(os.path.dirname(path)) == str(tmp_path / "san")
    assert lun.vendor_id == "VSSSIM"
    assert re.fullmatch(r"6[0-9a-f]{31}", lun.page83_id)  # an NAA type-6 identifier
    assert lun.serial_number and lun.product_id and lun.product_revision
    assert san.owns(lun)
    assert san.find(lun) is None  # the machine has not created the image yet
    Volume.create(path, 8 * MiB).close()
    assert san.find(lun) == path
    assert san.lun_for_image(path) == lun
    assert san.lun_for_image(tmp_path / "elsewhere.img") is None
    entry = san.lun(lun)
    assert entry is not None
    assert (entry.size, entry.name, entry.is_shadow_copy) == (8 * MiB, "m1-C", False)


def test_identities_are_unique_and_deterministic(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "a")
    luns = [san.create_volume_image(f"v{i}", MiB)[1] for i in range(20)]
    assert len({lun.page83_id for lun in luns}) == 20
    assert len({lun.serial_number for lun in luns}) == 20
    other = SimulatedSan(tmp_path / "b").create_volume_image("v0", MiB)[1]
    assert other.page83_id not in {lun.page83_id for lun in luns}
    # The same array reopened continues its numbering; a new array in the same place starts
    # with the same identities.
    again = SimulatedSan(tmp_path / "a")
    assert again.luns()[0].info == luns[0]
    assert again.create_volume_image("v20", MiB)[1].page83_id not in {
        lun.page83_id for lun in luns}
    shutil.rmtree(tmp_path / "a")
    assert SimulatedSan(tmp_path / "a").create_volume_image("v0", MiB)[1] == luns[0]


def test_a_given_array_number_gives_the_same_identities_in_any_directory(tmp_path: Path) -> None:
    first = SimulatedSan(tmp_path / "x", array="00000002a").create_volume_image("v0", MiB)[1]
    second = SimulatedSan(tmp_path / "y", array="00000002a").create_volume_image("v0", MiB)[1]
    assert first == second
    assert first != SimulatedSan(tmp_path / "z").create_volume_image("v0", MiB)[1]
    reopened = SimulatedSan(tmp_path / "x", array="00000002b")  # (another machine's seed)
    assert reopened.luns()[0].info == first
    made = reopened.create_volume_image("v1", MiB)[1]
    assert "00000002a" in made.page83_id and "00000002b" not in made.page83_id  # its number
    for bad in ("42", "00000002A", 42):
        with pytest.raises(ValueError, match="9 lowercase hex digits"):
            SimulatedSan(tmp_path / "w", array=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "w").exists()  # refused before anything was made


def test_find_checks_the_whole_identity(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    path, lun = san.create_volume_image("x", MiB)
    fill(path, MiB, {})
    assert san.find(lun.model_copy(update={"bus_type": 9})) == path  # bus type is ignored
    assert san.find(lun.model_copy(update={"page83_id": lun.page83_id.upper()})) == path
    for field, value in (("page83_id", "6" + "0" * 31), ("serial_number", "OTHER"),
                         ("vendor_id", "ACME"), ("product_id", "x"), ("device_type", 5)):
        tampered = lun.model_copy(update={field: value})
        assert san.find(tampered) is None, field
        assert not san.owns(tampered)
    assert same_lun(lun, lun.model_copy())


def test_clone_is_a_full_sparse_copy_with_a_new_identity(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    path, lun = san.create_volume_image("m1-D", 64 * MiB)
    fill(path, 64 * MiB, {0: b"head", 40 * MiB: b"x" * 70000})
    target, clone_path = san.clone(lun, machine="m1")
    assert not same_lun(target, lun)
    with open(path, "rb") as a, open(clone_path, "rb") as b:
        assert a.read() == b.read()
    # Holes stay holes: the clone occupies about what the source occupies, not 64 MiB.
    assert os.stat(clone_path).st_blocks * 512 < 4 * MiB
    entry = san.lun(target)
    assert entry is not None
    assert entry.shadow_of == lun.page83_id and entry.is_shadow_copy
    assert (entry.created_by, entry.presented_to, entry.size) == ("m1", (), 64 * MiB)
    # Later writes to the original do not reach the clone.
    fill(path, 64 * MiB, {0: b"HEAD"})
    with open(clone_path, "rb") as b:
        assert b.read(4) == b"head"
    # A clone of a clone is possible (the array does not care).
    target2, _ = san.clone(target)
    assert san.lun(target2).shadow_of == target.page83_id  # type: ignore[union-attr]
    assert not [n for n in os.listdir(tmp_path / "san" / "luns") if n.endswith(".tmp")]


def test_clone_of_a_missing_lun(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    _, lun = san.create_volume_image("never-made", MiB)  # no image file
    with pytest.raises(VssObjectNotFoundError):
        san.clone(lun)
    with pytest.raises(VssObjectNotFoundError):
        san.clone(lun.model_copy(update={"serial_number": "nope"}))
    assert len(san.luns()) == 1
    assert not [n for n in os.listdir(tmp_path / "san" / "luns") if n.endswith(".tmp")]


def test_presentation_release_and_delete(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    path, lun = san.create_volume_image("src", MiB, machine="A")
    fill(path, MiB, {0: b"v1"})
    assert san.lun(lun).presented_to == ("A",)  # type: ignore[union-attr]
    target, clone_path = san.clone(lun, machine="A")
    san.present(target, "A")
    san.present(target, "B")
    san.present(target, "B")  # idempotent
    assert san.lun(target).presented_to == ("A", "B")  # type: ignore[union-attr]
    assert san.release(target, "A") is False  # B still has it
    assert os.path.exists(clone_path)
    assert san.mask(target, "B").presented_to == ()
    san.present(target, "B")
    assert san.release(target, "B") is True  # nobody has it any more: reclaimed
    assert not os.path.exists(clone_path)
    assert san.find(target) is None and not san.owns(target)
    assert san.release(target, "B") is False  # OnLunEmpty is best-effort
    with pytest.raises(VssObjectNotFoundError):
        san.present(target, "A")
    # break_shadow: an ordinary LUN of the machine.
    target, _ = san.clone(lun, machine="A")
    broken = san.break_shadow(target, "C")
    assert (broken.shadow_of, broken.presented_to) == (None, ("C",))
    # delete: whoever has it; the volume sidecar goes too.
    Path(path + ".vsvol.json").write_text("{}")
    assert san.delete(lun) is True
    assert not os.path.exists(path) and not os.path.exists(path + ".vsvol.json")
    assert san.delete(lun) is False
    assert [e.info for e in san.luns()] == [target]


def test_bad_arguments_change_nothing(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    with pytest.raises(ValueError, match="size"):
        san.create_volume_image("x", 0)
    with pytest.raises(ValueError, match="size"):
        san.create_volume_image("x", True)
    with pytest.raises(ValueError, match="name"):
        san.create_volume_image("  ", MiB)
    _, lun = san.create_volume_image("x", MiB)
    with pytest.raises(TypeError):
        san.find("6abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="machine"):
        san.present(lun, "")
    assert len(san.luns()) == 1


def test_a_damaged_registry_is_reported(tmp_path: Path) -> None:
    SimulatedSan(tmp_path / "san").create_volume_image("x", MiB)
    registry = tmp_path / "san" / "san.json"
    registry.write_text("{not json")
    with pytest.raises(VssStoreCorruptError):
        SimulatedSan(tmp_path / "san")
    registry.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(VssStoreCorruptError):
        SimulatedSan(tmp_path / "san").luns()


def test_threads_share_one_array(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    results: list[LunInfo] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        for i in range(10):
            lun = san.create_volume_image(f"t{k}-{i}", MiB)[1]
            with lock:
                results.append(lun)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({lun.page83_id for lun in results}) == 40
    assert sorted(e.info.page83_id for e in san.luns()) == sorted(
        lun.page83_id for lun in results)


CHILD = textwrap.dedent("""
    import sys
    from vsssim.storage.san import SimulatedSan
    san = SimulatedSan(sys.argv[1])
    for i in range(15):
        san.create_volume_image(f"{sys.argv[2]}-{i}", 1 << 20, machine=sys.argv[2])
""")


def test_processes_share_one_array(tmp_path: Path) -> None:
    directory = str(tmp_path / "san")
    SimulatedSan(directory)
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, directory, name])
             for name in ("A", "B")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    luns = SimulatedSan(directory).luns()
    assert len(luns) == 30
    assert len({e.info.page83_id for e in luns}) == 30
    assert {e.created_by for e in luns} == {"A", "B"}


# A differential test: random array operations against a plain model of the registry.
_OPS = st.lists(st.tuples(st.sampled_from(["create", "clone", "present", "mask", "release",
                                           "delete", "break"]),
                          st.integers(0, 7), st.sampled_from(["A", "B"])), max_size=25)


@given(_OPS)
def test_random_operations_match_a_model(tmp_path_factory: pytest.TempPathFactory,
                                         ops: list[tuple[str, int, str]]) -> None:
    san = SimulatedSan(tmp_path_factory.mktemp("san"))
    # model: page83 -> (presented_to, shadow_of); order of creation kept by the dict.
    model: dict[str, tuple[list[str], str | None]] = {}
    known: list[LunInfo] = []  # every LUN ever made, deleted ones too
    for op, index, machine in ops:
        lun = known[index % len(known)] if known else None
        alive = lun is not None and lun.page83_id in model
        if op == "create" or lun is None:
            path, new = san.create_volume_image("v", MiB, machine=machine)
            fill(path, MiB, {index * 1000: bytes([index + 1]) * 10})
            known.append(new)
            model[new.page83_id] = ([machine], None)
        elif op == "clone":
            if alive:
                new, _ = san.clone(lun)
                known.append(new)
                model[new.page83_id] = ([], lun.page83_id)
            else:
                with pytest.raises(VssObjectNotFoundError):
                    san.clone(lun)
        elif op in ("present", "mask", "break"):
            if not alive:
                with pytest.raises(VssObjectNotFoundError):
                    getattr(san, op if op != "break" else "break_shadow")(lun, machine)
                continue
            presented, shadow_of = model[lun.page83_id]
            presented = [m for m in presented if m != machine]
            if op == "present":
                san.present(lun, machine)
                presented.append(machine)
            elif op == "mask":
                san.mask(lun, machine)
            else:
                san.break_shadow(lun, machine)
                presented.append(machine)
                shadow_of = None
            model[lun.page83_id] = (presented, shadow_of)
        elif op == "release":
            expect = False
            if alive:
                presented = [m for m in model[lun.page83_id][0] if m != machine]
                expect = not presented
                if expect:
                    del model[lun.page83_id]
                else:
                    model[lun.page83_id] = (presented, model[lun.page83_id][1])
            assert san.release(lun, machine) is expect
        else:
            assert san.delete(lun) is alive
            model.pop(lun.page83_id, None)
    entries = san.luns()
    assert [e.info.page83_id for e in entries] == list(model)
    for e in entries:
        assert (list(e.presented_to), e.shadow_of) == model[e.info.page83_id]
        assert os.path.exists(e.path)
    images = set(os.listdir(os.path.join(san.directory, "luns")))
    assert images == {os.path.basename(e.path) for e in entries}
