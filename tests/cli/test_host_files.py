"""Files written on the host follow one rule (docs/cli.md, "Files on the host"): the folder must
exist (a clear ``Error: cannot write ...``, exit code 1, checked before the work, nothing
created), an existing file is replaced, and a failure never leaves a half-written file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Lab, tree_digest


def _device(lab: Lab) -> str:
    created = lab.ok("vssadmin", "create", "shadow", "/for=C:")
    return created.split("Shadow Copy Volume Name: ")[1].split()[0]


def _commands(lab: Lab, missing: Path) -> dict[str, list[str]]:
    (lab.cwd / "c.dsh").write_text("add volume C:\ncreate\n")
    return {
        "volume export": ["volume", "export", _device(lab), str(missing / "o.img")],
        "fs get": ["fs", "get", "C:\\KvStore\\data.kv", str(missing / "data.kv")],
        "diskshadow -l": ["diskshadow", "-s", "c.dsh", "-l", str(missing / "d.log")],
        "trace svg": ["trace", "svg", "-o", str(missing / "x.svg")],
        "trace mermaid": ["trace", "mermaid", "-o", str(missing / "x.mmd")],
        "demo --svg": ["demo", "--svg", str(missing / "x.svg")],
        "demo --mermaid": ["demo", "--mermaid", str(missing / "x.mmd")],
        "demo --target": ["demo", "--target", str(missing / "backup")],
    }


@pytest.mark.parametrize("which", ["volume export", "fs get", "diskshadow -l", "trace svg",
                                   "trace mermaid", "demo --svg", "demo --mermaid",
                                   "demo --target"])
def test_a_missing_host_folder_is_one_clear_error(lab: Lab, tmp_path: Path, which: str) -> None:
    missing = tmp_path / "nonexistent"
    args = _commands(lab, missing)[which]
    before = tree_digest(lab.root)
    result = lab.run(*args)  # catch_exceptions=False: a traceback fails the test
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: cannot write {args[-1]}: the folder {missing} does not exist")
    assert "Summary" not in result.output  # checked before the demo runs, not after
    assert not missing.exists()  # no folder was created
    assert tree_digest(lab.root) == before  # nothing ran, no run saved


def test_set_metadata_refuses_a_missing_folder_at_its_line(lab: Lab, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    (lab.cwd / "m.dsh").write_text(f"set metadata {missing}/b.cab\nadd volume C:\ncreate\n")
    before = lab.ok("vssadmin", "list", "shadows")
    result = lab.run("diskshadow", "-s", "m.dsh")
    assert result.exit_code == 1
    assert (f"Error on line 1: cannot write the metadata file {missing}/b.cab: the folder "
            f"{missing} does not exist") in result.output
    assert not missing.exists()
    assert lab.ok("vssadmin", "list", "shadows") == before  # CREATE never ran


def test_existing_host_files_are_replaced(lab: Lab, tmp_path: Path) -> None:
    image, data = tmp_path / "o.img", tmp_path / "data.kv"
    image.write_bytes(b"old image")
    data.write_bytes(b"old data")
    device = _device(lab)
    assert "written to" in lab.ok("volume", "export", device, str(image))
    assert image.stat().st_size == 16 << 20  # the lab's 16 MiB volume
    lab.ok("fs", "get", "C:\\KvStore\\data.kv", str(data))
    assert data.read_bytes() != b"old data"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_a_failed_copy_leaves_no_host_file(lab: Lab, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    result = lab.run("fs", "get", "C:\\nope.txt", str(target))
    assert result.exit_code == 1 and "no such file" in result.output
    assert not target.exists() and list(tmp_path.glob(".*.part")) == []
    target.write_text("kept")
    assert lab.run("fs", "get", "C:\\nope.txt", str(target)).exit_code == 1
    assert target.read_text() == "kept"


def test_a_folder_is_not_an_output_file(lab: Lab, tmp_path: Path) -> None:
    result = lab.run("trace", "svg", "-o", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.output
    assert "Traceback" not in result.output


def test_diskshadow_without_a_lab_leaves_no_log(empty_lab: Lab) -> None:
    (empty_lab.cwd / "c.dsh").write_text("add volume C:\ncreate\n")
    result = empty_lab.run("diskshadow", "-s", "c.dsh", "-l", "d.log")
    assert result.exit_code == 1 and "init" in result.output
    assert not (empty_lab.cwd / "d.log").exists()
