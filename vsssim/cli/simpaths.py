"""Windows paths on the lab machine: which file system a path lives on, and copies to and from
the host with a progress bar.

A path is looked up the way Windows resolves it: a shadow copy device path
(``\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy3\\...``) reads that shadow copy; a drive
letter or mount folder where a shadow copy is exposed (``P:\\...``) reads the exposed copy;
otherwise the volume with the longest matching root (``C:\\``, ``C:\\Mount\\Data\\``, a GUID
path).  Anything else is a host path.

Copies go in chunks through ``SimFS.open`` so that a long one can show a rich progress bar (only
on a terminal: piped output stays clean and deterministic).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from vsssim.errors import VssObjectNotFoundError
from vsssim.system import VssSystem

__all__ = ["CHUNK", "PROGRESS_MIN", "copy_file", "copy_into", "host_path", "is_windows_path",
           "locate", "progress_bar", "quoting_hint"]

CHUNK = 1 << 20
#: Copies smaller than this show no progress bar.
PROGRESS_MIN = 4 << 20
_WINDOWS = re.compile(r"^(?:[A-Za-z]:\\|[A-Za-z]:$|\\\\\?\\)")
_DEVICE = re.compile(r"^(\\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy\d+)(\\.*)?$",
                     re.IGNORECASE)


def is_windows_path(path: str) -> bool:
    """``C:\\...``, ``C:`` or ``\\\\?\\...``: a path on the lab machine, not on the host."""
    return bool(_WINDOWS.match(path))


#: What bash or zsh leave of an unquoted Windows path: ``C:\\report.txt`` -> ``C:report.txt``,
#: ``\\\\?\\GLOBALROOT\\Device\\...`` -> ``\\?GLOBALROOTDevice...``.
_EATEN = re.compile(r"^(?:[A-Za-z]:[^\\/]|\\?\??GLOBALROOT)", re.IGNORECASE)


def quoting_hint(path: str) -> str:
    """A hint when ``path`` looks like a Windows path whose backslashes the shell removed
    (an empty string otherwise)."""
    if _EATEN.match(path):
        return " (the shell removed its backslashes: quote Windows paths, 'C:\\report.txt')"
    return ""


def host_path(path: str) -> Path:
    """A host path written either way (``out\\data`` or ``out/data``): a script written for
    Windows works on the host too."""
    return Path(path.replace("\\", "/"))


def locate(system: VssSystem, path: str) -> tuple[Any, str]:
    """(SimFS, path for it) of a Windows path on the lab machine (``VssObjectNotFoundError``
    if no volume, exposure or shadow copy holds it)."""
    if re.fullmatch(r"[A-Za-z]:", path):
        path += "\\"
    m = _DEVICE.match(path)
    if m:
        device = m.group(1).lower()
        for props in system.all_snapshots():
            if props.snapshot_device_object.lower() == device:
                return system.shadow_fs(props.snapshot_id), path if m.group(2) else path + "\\"
        raise VssObjectNotFoundError(f"no shadow copy has the device {m.group(1)}")
    low = path.lower()
    best, best_root = None, ""
    for exposure in system.exposures:
        if exposure.remote:
            continue
        root = exposure.name.rstrip("\\").lower() + "\\"
        if (low.startswith(root) or low + "\\" == root) and len(root) > len(best_root):
            best, best_root = exposure, root
    vol = system.volume_of_path(path)
    if best is not None and (vol is None or len(best_root) >= len(vol.name)):
        return system.exposed(best.name).fs, path
    if vol is None:
        raise VssObjectNotFoundError(f"{path}: no volume of {system.machine_name} holds it")
    fs = getattr(vol.device, "fs", None)
    if fs is None:
        raise VssObjectNotFoundError(f"{path}: the volume {vol.name} has no file system")
    return fs, path


@contextmanager
def progress_bar(total: int, label: str, console: Console | None = None
                 ) -> Iterator[Callable[[int], None]]:
    """A rich progress bar for ``total`` bytes (nothing when not on a terminal, or small)."""
    console = console or Console(stderr=True)
    if total < PROGRESS_MIN or not console.is_terminal:
        yield lambda n: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _open_source(system: VssSystem | None, path: str) -> tuple[IO[bytes], int]:
    if system is not None and is_windows_path(path):
        fs, p = locate(system, path)
        return fs.open(p, "rb"), int(fs.stat(p).size)
    host = host_path(path)
    return open(host, "rb"), host.stat().st_size


def _open_target(system: VssSystem | None, path: str) -> IO[bytes]:
    if system is not None and is_windows_path(path):
        fs, p = locate(system, path)
        parent = p.rstrip("\\").rsplit("\\", 1)[0]
        if parent and len(parent) > 2 and not fs.exists(parent):
            fs.makedirs(parent, exist_ok=True)
        return fs.open(p, "wb")  # type: ignore[no-any-return]
    host = host_path(path)
    host.parent.mkdir(parents=True, exist_ok=True)
    return open(host, "wb")


def copy_into(system: VssSystem | None, source: str, writer: IO[bytes], *,
              console: Console | None = None) -> int:
    """Copy one file (on the lab machine or the host) into an open ``writer``; returns the
    bytes copied.  Large copies show a progress bar on a terminal."""
    reader, total = _open_source(system, source)
    try:
        return _pump(reader, total, source, writer, console)
    finally:
        reader.close()


def copy_file(system: VssSystem | None, source: str, target: str, *,
              console: Console | None = None) -> int:
    """Copy one file between the lab machine and the host (either side may be either);
    returns the bytes copied.  Large copies show a progress bar on a terminal."""
    reader, total = _open_source(system, source)  # first: a missing source creates no target
    try:
        writer = _open_target(system, target)
        try:
            return _pump(reader, total, source, writer, console)
        finally:
            writer.close()
    finally:
        reader.close()


def _pump(reader: IO[bytes], total: int, source: str, writer: IO[bytes],
          console: Console | None) -> int:
    done = 0
    name = os.path.basename(source.replace("\\", "/")) or source
    with progress_bar(total, f"copy {name}", console) as advance:
        while True:
            chunk = reader.read(CHUNK)
            if not chunk:
                break
            writer.write(chunk)
            done += len(chunk)
            advance(len(chunk))
    return done
