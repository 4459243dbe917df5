"""Files that a ``vsssim`` command writes on the host: one rule for all of them.

``volume export OUT.img``, ``fs get PATH HOSTFILE``, ``diskshadow -l LOG``, diskshadow's ``set
metadata FILE``, ``trace svg|mermaid -o FILE`` and ``demo --svg|--mermaid FILE`` follow the
rule of ``cp`` (docs/cli.md §2, "Files on the host"):

* the folder must exist (nothing creates missing folders): otherwise ``Error: cannot write
  PATH: the folder DIR does not exist``, exit code 1, checked *before* the command does its
  work;
* an existing file is replaced (a directory is refused);
* the file is written next to its final name and renamed into place at the end, so a command
  that fails half way leaves the previous file (or no file), never a half-written one.

``demo --target DIR`` (a backup directory) follows the same rule for its parent: ``DIR`` itself
is created, its parent must exist.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click

from vsssim.errors import VssError

__all__ = ["check_output_dir", "check_output_file", "host_output", "write_host_file"]


def _cannot(path: Path, why: str) -> click.ClickException:
    return click.ClickException(f"cannot write {path}: {why}")


def _check_parent(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise _cannot(path, f"the folder {parent} does not exist")
    if not parent.is_dir():
        raise _cannot(path, f"{parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _cannot(path, f"permission denied in the folder {parent}")


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """Refuse (``click.ClickException``) a host output file that cannot be written: its
    folder missing or not writable, or the path a directory.  Returns it as a ``Path``."""
    path = Path(path)
    if path.is_dir():
        raise _cannot(path, "it is a folder")
    _check_parent(path)
    return path


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Refuse a host output folder whose parent does not exist (the folder itself may)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise _cannot(path, "it exists and is not a folder")
    if not path.exists():
        _check_parent(path)
    return path


@contextmanager
def host_output(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Write a host file the safe way: checked first, written to a hidden temporary file in
    the same folder, renamed over ``path`` when the block ends without an exception (removed
    otherwise).  ``OSError`` while writing becomes ``Error: cannot write PATH: ...``."""
    path = check_output_file(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.part"
    try:
        handle = open(tmp, "wb")  # noqa: SIM115 - closed below, before the rename
    except OSError as exc:
        raise _cannot(path, exc.strerror or str(exc)) from None
    try:
        try:
            with handle:
                yield handle
            os.replace(tmp, path)
        except OSError as exc:
            if isinstance(exc, VssError):  # the lab machine's error, not the host file's
                raise
            raise _cannot(path, exc.strerror or str(exc)) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_host_file(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to a host file by :func:`host_output`'s rule."""
    with host_output(path) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
