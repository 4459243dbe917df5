"""The host-file helpers the machine and the backups write through."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vsssim.storage._fileio import atomic_write, make_dirs, write_bytes


def test_write_bytes_is_open_wb(tmp_path: Path) -> None:
    path = str(tmp_path / "f")
    data = bytes(range(256)) * 3 + b"\r\n\n"  # no newline translation
    write_bytes(path, data)
    assert Path(path).read_bytes() == data
    write_bytes(path, b"short")  # an existing file is truncated
    assert Path(path).read_bytes() == b"short"
    with open(tmp_path / "g", "wb") as out:  # the mode open() gives (the umask applied)
        out.write(b"")
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(tmp_path / "g").st_mode)


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = str(tmp_path / "machine.json")
    atomic_write(path, b'{"a": 1}', durable=False)
    atomic_write(path, b"{}", durable=True)
    assert Path(path).read_bytes() == b"{}"
    assert sorted(os.listdir(tmp_path)) == ["machine.json"]


def test_make_dirs_makes_parents_and_accepts_an_existing_directory(tmp_path: Path) -> None:
    deep = str(tmp_path / "a" / "b" / "c")
    make_dirs(deep)
    make_dirs(deep)
    assert os.path.isdir(deep)
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError):  # a file in the way
        make_dirs(str(tmp_path / "file"))
    with pytest.raises(NotADirectoryError):
        make_dirs(str(tmp_path / "file" / "x"))
