"""The ``vsssim`` command group."""

from __future__ import annotations

import click

from vsssim import __version__
from vsssim.cli.demo import demo
from vsssim.cli.docs import fidelity, state_diagram

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vsssim")
def cli() -> None:
    """vsssim: a simulator of the Windows Volume Shadow Copy Service."""


cli.add_command(demo)
cli.add_command(state_diagram)
cli.add_command(fidelity)


def main() -> None:
    """Entry point of the ``vsssim`` console script."""
    cli()


if __name__ == "__main__":
    main()
