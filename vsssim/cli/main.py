"""The ``vsssim`` command group: the lab machine (``--root``) and every sub-command."""

from __future__ import annotations

from pathlib import Path

import click

from vsssim import __version__
from vsssim.cli.app import app
from vsssim.cli.context import LabContext
from vsssim.cli.demo import demo
from vsssim.cli.diskshadow import diskshadow
from vsssim.cli.docs import fidelity, state_diagram
from vsssim.cli.fs import fs
from vsssim.cli.init import init
from vsssim.cli.machine import DEFAULT_ROOT
from vsssim.cli.trace_cmd import trace
from vsssim.cli.volume import volume
from vsssim.cli.vssadmin import vssadmin

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vsssim")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_ROOT, envvar="VSSSIM_ROOT", show_default=True,
              help="Directory of the lab machine (env VSSSIM_ROOT).")
@click.pass_context
def cli(ctx: click.Context, root: Path) -> None:
    """vsssim: a simulator of the Windows Volume Shadow Copy Service.

    Start with `vsssim init`, then type what you would type on Windows:
    `vsssim vssadmin list writers`, `vsssim diskshadow`, ...
    """
    ctx.obj = LabContext(root)


for _command in (init, vssadmin, diskshadow, volume, fs, app, trace, demo, state_diagram, fidelity):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``vsssim`` console script."""
    cli()


if __name__ == "__main__":
    main()
