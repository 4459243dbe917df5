"""The conformance machines' small helpers: their temporary directories, their removal, the
static lookup of their settings."""

from __future__ import annotations

import inspect
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest

from vsssim.testing import _support
from vsssim.testing._support import fast_temp_dir, remove_tree, static_attr


def test_temporary_directories_are_new_private_and_on_the_tmpfs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_support, "_FAST_TMP", str(tmp_path))
    made = [fast_temp_dir("vsssim-x-") for _ in range(3)]
    assert len(set(made)) == 3
    for path in made:
        assert isinstance(path, Path) and path.parent == tmp_path and path.is_dir()
        assert path.name.startswith("vsssim-x-")
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert not any(path.iterdir())
    for path in made:
        remove_tree(path)
        assert not path.exists()


def test_without_a_tmpfs_the_system_temporary_directory_is_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_support, "_FAST_TMP", str(tmp_path / "missing"))
    path = fast_temp_dir("vsssim-y-")
    try:
        assert path.parent == Path(tempfile.gettempdir()) and path.is_dir()
        assert path.name.startswith("vsssim-y-")
    finally:
        remove_tree(path)


class _Meta(type):
    only_on_meta = "meta"
    shared = "meta"


def _plain() -> str:
    return "plain"


class _Base(metaclass=_Meta):
    factory = _plain
    shared = "base"
    static = staticmethod(_plain)

    @classmethod
    def made(cls) -> str:
        return cls.__name__


class _Child(_Base):
    shared = "child"
    overridden = None


@pytest.mark.parametrize("owner", [_Base, _Child])
@pytest.mark.parametrize("name", ["factory", "shared", "static", "made", "overridden",
                                  "only_on_meta", "missing", "__init__", "mro"])
def test_static_attr_is_getattr_static_with_descriptors_unwrapped(owner: type,
                                                                  name: str) -> None:
    expected: Any = inspect.getattr_static(owner, name, None)
    if isinstance(expected, staticmethod | classmethod):
        expected = expected.__get__(None, owner)
    assert static_attr(owner, name) == expected
    if name == "factory":
        assert static_attr(owner, name) is _plain  # a function, not a method
