"""``vsssim fs ls|cat|get|put``: files on the lab machine, from the host.

Paths are Windows paths on the lab machine: a volume (``C:\\KvStore``), a shadow copy exposed as
a drive or folder (``P:\\KvStore``), or a shadow copy device
(``\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy2\\KvStore``, read-only).  ``get`` and
``put`` copy between the host and the lab machine with a progress bar for large files.
Writing to a volume goes through the copy-on-write engine like any application's write.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vsssim.cli.context import LabContext, pass_lab
from vsssim.cli.hostfiles import check_output_file, host_output
from vsssim.cli.simpaths import (
    copy_file,
    copy_into,
    is_windows_path,
    locate,
    quoting_hint,
)
from vsssim.cli.winfmt import windows_datetime
from vsssim.errors import VssError

__all__ = ["fs"]


def _windows(path: str) -> str:
    if not is_windows_path(path):
        raise click.BadParameter(f"{path!r} is not a path on the lab machine (C:\\..., "
                                 "P:\\..., \\\\?\\GLOBALROOT\\...)" + quoting_hint(path))
    return path


@click.group()
def fs() -> None:
    """Files on the lab machine's volumes and shadow copies."""


@fs.command()
@click.argument("path", default="C:\\")
@click.option("-r", "--recursive", is_flag=True, help="Also list subdirectories.")
@pass_lab
def ls(lab: LabContext, path: str, recursive: bool) -> None:
    """List a directory, like `dir`."""
    _windows(path)
    with lab.booted(f"fs ls {path}", save=False) as booted:
        try:
            filesystem, where = locate(booted.system, path)
            if not filesystem.is_dir(where):
                raise click.ClickException(f"{path} is not a directory")
            table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
            for column in ("modified", "size", "name"):
                table.add_column(column, justify="right" if column == "size" else "left",
                                 no_wrap=True)
            if recursive:
                entries = [f"{d.rstrip(chr(92))}\\{n}" for d, subs, files in
                           filesystem.walk(where) for n in sorted([*subs, *files])]
            else:
                entries = [f"{where.rstrip(chr(92))}\\{n}" for n in
                           sorted(filesystem.listdir(where))]
            for full in entries:
                st = filesystem.stat(full)
                label = full if recursive else full.rsplit("\\", 1)[-1]
                table.add_row(windows_datetime(st.modified),
                              "<DIR>" if st.is_dir else str(st.size),
                              label + ("\\" if st.is_dir else ""))
            Console(highlight=False).print(table)
        except VssError as exc:
            raise click.ClickException(exc.message) from None


@fs.command()
@click.argument("path")
@pass_lab
def cat(lab: LabContext, path: str) -> None:
    """Print a file (as text, undecodable bytes replaced)."""
    _windows(path)
    with lab.booted(f"fs cat {path}", save=False) as booted:
        try:
            filesystem, where = locate(booted.system, path)
            data: bytes = filesystem.read_file(where)
        except VssError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(data.decode("utf-8", "replace"), nl=not data.endswith(b"\n"))


@fs.command()
@click.argument("path")
@click.argument("host_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_lab
def get(lab: LabContext, path: str, host_file: Path) -> None:
    """Copy a file from the lab machine to the host (the host folder must exist; an existing
    file is replaced, as cp does)."""
    _windows(path)
    check_output_file(host_file)
    with lab.booted(f"fs get {path}", save=False) as booted:
        try:
            with host_output(host_file) as handle:
                size = copy_into(booted.system, path, handle)
        except VssError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(f"{path} -> {host_file} ({size} bytes)")


@fs.command()
@click.argument("host_file", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("path")
@pass_lab
def put(lab: LabContext, host_file: str, path: str) -> None:
    """Copy a host file (or standard input: -) to the lab machine."""
    _windows(path)
    data = sys.stdin.buffer.read() if host_file == "-" else None
    with lab.booted(f"fs put {path}", save=False) as booted:
        try:
            if data is not None:
                filesystem, where = locate(booted.system, path)
                filesystem.write_file(where, data, create_dirs=True)
                size = len(data)
            else:
                size = copy_file(booted.system, host_file, path)
        except VssError as exc:
            raise click.ClickException(exc.message) from None
        except OSError as exc:
            raise click.ClickException(f"{host_file}: {exc.strerror}") from None
    click.echo(f"{host_file} -> {path} ({size} bytes)")
