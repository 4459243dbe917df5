"""``vsssim init``: create the lab machine (volumes C: and D:, the sample applications and their
writers) in the ``--root`` directory."""

from __future__ import annotations

from typing import Literal, cast

import click

from vsssim.cli.context import LabContext, pass_lab
from vsssim.cli.machine import MiB, create_lab
from vsssim.system import OS_VERSIONS

__all__ = ["init"]


@click.command()
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the lab machine: same seed and same commands, same ids.")
@click.option("--name", "machine_name", default="VSSSIM01", show_default=True,
              help="Computer name.")
@click.option("--edition", type=click.Choice(["server", "client"]), default="server",
              show_default=True, help="Windows Server, or a client edition (fewer vssadmin "
              "commands, no revert).")
@click.option("--os-version", type=click.Choice(OS_VERSIONS), default="2022", show_default=True)
@click.option("--size", type=click.IntRange(8, 4096), default=64, show_default=True,
              help="Size of each volume in MiB.")
@click.option("--san", default=None, metavar="DIR",
              help="Also a volume E: on a simulated storage array in DIR (shared with other "
              "lab machines) and a hardware provider for it.")
@pass_lab
def init(lab: LabContext, seed: int, machine_name: str, edition: str, os_version: str,
         size: int, san: str | None) -> None:
    """Create the lab machine: C: with a key-value store and a file share (both writing, each
    with its VSS writer), an empty D:."""
    config = create_lab(lab.root, seed=seed, machine_name=machine_name,
                        edition=cast(Literal["server", "client"], edition),
                        os_version=os_version, size=size * MiB, san=san)
    volumes = "C:, D:" + (", E: (on the storage array)" if san else "")
    click.echo(f"Lab machine {config.machine_name} (Windows {config.os_version} "
               f"{config.edition}) created in {lab.root}")
    click.echo(f"  volumes: {volumes}, {size} MiB each")
    click.echo("  applications: KvStore (C:\\KvStore), FileShare (C:\\Share), with their "
               "writers")
    click.echo("Try: vsssim vssadmin list writers")
