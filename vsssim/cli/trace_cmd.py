"""``vsssim trace list|show|mermaid|svg [RUN]``: look at what a command did, afterwards.

Every vssadmin/diskshadow command that drove VSS, every ``app run`` and every ``demo`` run on
an existing lab machine saved its trace as a numbered run (:mod:`vsssim.cli.runs`); these
commands render the last run, or the one named.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from vsssim.cli.context import LabContext, pass_lab
from vsssim.cli.hostfiles import write_host_file
from vsssim.cli.runs import RunError, SavedRun, list_runs, load_run
from vsssim.cli.timeline import print_lanes, print_timeline
from vsssim.render.mermaid import render_sequence
from vsssim.render.svg import render_svg
from vsssim.trace import EventKind

__all__ = ["trace"]

_QUIET = (EventKind.STATE, EventKind.COPY, EventKind.APP)


def _load(lab: LabContext, run: int | None) -> SavedRun:
    try:
        return load_run(lab.root, run)
    except RunError as exc:
        raise click.ClickException(str(exc)) from None


def _write(text: str, output: Path | None, what: str) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    write_host_file(output, text)
    click.echo(f"{what} written to {output}", err=True)


@click.group()
def trace() -> None:
    """Saved runs: list them, show one as a timeline, a Mermaid diagram or an SVG."""


@trace.command("list")
@pass_lab
def list_cmd(lab: LabContext) -> None:
    """List the saved runs."""
    runs = list_runs(lab.root)
    if not runs:
        click.echo("No runs saved yet.")
        return
    damaged = 0
    for number in runs:
        try:
            saved = load_run(lab.root, number)
        except RunError as exc:  # one damaged file does not hide the others
            damaged += 1
            click.echo(f"{number:4d}  {'damaged':>12}  {exc}")
            continue
        click.echo(f"{number:4d}  {len(saved.trace):5d} events  {saved.title}")
    if damaged:
        raise click.ClickException(f"{damaged} of {len(runs)} saved runs are damaged "
                                   "(delete their files to get rid of them)")


@trace.command()
@click.argument("run", type=int, required=False)
@click.option("--all-events", is_flag=True, help="Also state changes, file copies, app steps.")
@click.option("--table", is_flag=True, help="A table of events instead of lanes.")
@pass_lab
def show(lab: LabContext, run: int | None, all_events: bool, table: bool) -> None:
    """Show a run (default: the last) as a timeline with lanes and the freeze/hold windows."""
    saved = _load(lab, run)
    console = Console()
    console.rule(f"[bold]run {saved.number}: {saved.title}")
    skip = () if all_events else _QUIET
    if table:
        print_timeline(saved.trace, console, skip=skip)
    else:
        print_lanes(saved.trace, console, skip=skip)


@trace.command()
@click.argument("run", type=int, required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@click.option("--all-events", is_flag=True, help="Also state changes, file copies, app steps.")
@pass_lab
def mermaid(lab: LabContext, run: int | None, output: Path | None, all_events: bool) -> None:
    """A run as a Mermaid sequence diagram (freeze window blue, hold window red)."""
    saved = _load(lab, run)
    events = [e for e in saved.trace if all_events or e.kind not in _QUIET]
    _write(render_sequence(events, title=f"run {saved.number}: {saved.title}", windows=True),
           output, "Mermaid sequence diagram")


@trace.command()
@click.argument("run", type=int, required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@click.option("--all-events", is_flag=True, help="Also state changes, file copies, app steps.")
@pass_lab
def svg(lab: LabContext, run: int | None, output: Path | None, all_events: bool) -> None:
    """A run as a self-contained SVG timeline (open it in a browser)."""
    saved = _load(lab, run)
    _write(render_svg(saved.trace, title=f"run {saved.number}: {saved.title}",
                      skip=() if all_events else _QUIET), output, "SVG timeline")
