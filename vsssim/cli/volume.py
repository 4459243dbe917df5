"""``vsssim volume create|list|export``: the lab machine's volumes, and raw images of shadow
copies.

``export`` writes a shadow copy (by id, device path or the drive letter it is exposed as) to a
raw image on the host, in chunks, with a progress bar on a terminal; all-zero chunks stay holes
in the image (a sparse file), as ``SnapshotDevice.export`` does.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vsssim.cli.context import LabContext, pass_lab
from vsssim.cli.hostfiles import check_output_file, host_output
from vsssim.cli.machine import MiB
from vsssim.cli.simpaths import CHUNK, progress_bar, quoting_hint
from vsssim.cli.winfmt import parse_guid
from vsssim.errors import VssError
from vsssim.system import VssSystem

__all__ = ["volume"]


@click.group()
def volume() -> None:
    """The lab machine's volumes."""


@volume.command()
@click.argument("name")
@click.option("--size", type=click.IntRange(8, 4096), default=64, show_default=True,
              help="Size in MiB.")
@click.option("--filesystem", type=click.Choice(["NTFS", "ReFS", "FAT32", "exFAT"]),
              default="NTFS", show_default=True,
              help="What the volume claims to be (persistent shadow copies need NTFS).")
@click.option("--san", "on_san", is_flag=True,
              help="Put it on the storage array of the lab's hardware provider.")
@pass_lab
def create(lab: LabContext, name: str, size: int, filesystem: str, on_san: bool) -> None:
    """Add a volume (a drive letter like E: or a mount folder like C:\\Mount\\Data)."""
    with lab.booted(f"volume create {name}", save=False) as booted:
        system = booted.system
        san = None
        if on_san:
            from vsssim.providers.hardware import HardwareProvider

            hw = next((p for p in system.providers if isinstance(p, HardwareProvider)), None)
            if hw is None:
                raise click.ClickException("this lab machine has no storage array: create it "
                                           "with `vsssim init --san DIR`")
            san = hw.san
        try:
            system.add_volume(name, size=size * MiB, filesystem=filesystem, san=san)
        except VssError as exc:
            raise click.ClickException(exc.message) from None
        info = system.resolve_volume(name)
        click.echo(f"Volume {info.name} created: {size} MiB, {filesystem}, {info.guid_path}")


def _shadow_count(system: VssSystem, guid_path: str) -> int:
    return sum(1 for p in system.all_snapshots()
               if p.original_volume_name.lower() == guid_path.lower())


@volume.command("list")
@pass_lab
def list_cmd(lab: LabContext) -> None:
    """List the volumes, their shadow copies and where shadow copies are exposed."""
    console = Console(highlight=False)
    with lab.booted("volume list", save=False) as booted:
        system = booted.system
        table = Table(title=f"Volumes of {system.machine_name}")
        for column in ("volume", "size", "file system", "free", "shadow copies"):
            table.add_column(column, no_wrap=True)
        table.add_column("GUID path", overflow="fold")
        for name in system.volume_names():
            info = system.resolve_volume(name)
            fs = getattr(info.device, "fs", None)
            free = f"{fs.free_space // MiB} MiB" if fs is not None else "-"
            table.add_row(info.name, f"{info.device.size // MiB} MiB", info.filesystem, free,
                          str(_shadow_count(system, info.guid_path)), info.guid_path)
        console.print(table)
        exposures = system.exposures
        if exposures:
            table = Table(title="Exposed shadow copies")
            for column in ("exposed as", "shadow copy", "kind"):
                table.add_column(column, no_wrap=True)
            for e in exposures:
                table.add_row(e.name, f"{{{e.snapshot_id}}}",
                              "share" if e.remote else "drive / mount folder")
            console.print(table)


@volume.command()
@click.argument("shadow")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@pass_lab
def export(lab: LabContext, shadow: str, output: Path) -> None:
    """Write a shadow copy (id, device path or exposed drive) to a raw image file (its folder
    must exist; an existing file is replaced)."""
    check_output_file(output)
    with lab.booted(f"volume export {shadow}", save=False) as booted:
        system = booted.system
        wanted = parse_guid(shadow)
        props = next((p for p in system.all_snapshots()
                      if p.snapshot_id == wanted
                      or p.snapshot_device_object.lower() == shadow.rstrip("\\").lower()
                      or (p.exposed_name or "").rstrip("\\").lower()
                      == shadow.rstrip("\\").lower()), None)
        if props is None:
            raise click.ClickException(f"no shadow copy {shadow} on {system.machine_name}"
                                       + quoting_hint(shadow))
        device = system.snapshot_device(props.snapshot_id)
        size = int(device.size)
        with host_output(output) as handle, \
                progress_bar(size, f"export {{{props.snapshot_id}}}") as advance:
            handle.truncate(size)
            pos = 0
            while pos < size:
                n = min(CHUNK, size - pos)
                data = device.read(pos, n)
                if data.count(0) != n:  # all-zero chunks stay holes (a sparse image)
                    handle.seek(pos)
                    handle.write(data)
                pos += n
                advance(n)
        click.echo(f"Shadow copy {{{props.snapshot_id}}} of {props.original_volume_name} "
                   f"written to {output} ({size // MiB} MiB)")
