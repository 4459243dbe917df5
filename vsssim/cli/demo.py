"""``vsssim demo``: a VSS story on fresh machines, as a lane timeline, a summary and what to
look at; ``--step`` pauses after each event and explains it.

The scenarios are in :mod:`vsssim.cli.scenarios` (``vsssim demo --list``).  Demos never touch
the lab machine; when one exists at ``--root``, the demo's trace is saved as one of its runs so
``vsssim trace svg`` can draw it.  Exit code: 0 when the run went the way the scenario explains,
1 otherwise (for example a ``--fail`` added to ``basic``).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from vsssim import hresult as hr
from vsssim.apps import FileShareWriter, KvStoreWriter
from vsssim.cli.context import LabContext, pass_lab
from vsssim.cli.hostfiles import check_output_dir, check_output_file, write_host_file
from vsssim.cli.machine import CONFIG_FILE
from vsssim.cli.runs import save_run
from vsssim.cli.scenarios import SCENARIOS, ScenarioContext, running
from vsssim.cli.stepper import Stepper
from vsssim.cli.timeline import print_lanes, print_timeline
from vsssim.errors import VssError
from vsssim.faults import WriterFault
from vsssim.render.svg import render_svg
from vsssim.trace import EventKind

__all__ = ["demo", "parse_fail"]

#: The writers of the demo machines (the sample applications'), by short alias and full name.
_WRITER_ALIASES = {"kvstore": KvStoreWriter.writer_name, "fileshare": FileShareWriter.writer_name,
                   "share": FileShareWriter.writer_name,
                   **{w.writer_name.lower(): w.writer_name for w in (KvStoreWriter,
                                                                     FileShareWriter)}}
_QUIET = (EventKind.STATE, EventKind.COPY, EventKind.APP)


def parse_fail(spec: str) -> WriterFault:
    """``WRITER:EVENT[:retryable]`` -> a veto fault (writer by name or short alias)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise click.BadParameter(f"{spec!r}: use WRITER:EVENT[:retryable], e.g. kvstore:Freeze")
    writer = _WRITER_ALIASES.get(parts[0].lower())
    if writer is None:
        raise click.BadParameter(f"{parts[0]!r} is not a writer of the demo machines "
                                 "(kvstore, fileshare)")
    retryable = len(parts) == 3 and parts[2].lower() == "retryable"
    if len(parts) == 3 and not retryable:
        raise click.BadParameter(f"{spec!r}: the third part can only be 'retryable'")
    events = {"identify": "Identify", "prepareforbackup": "PrepareForBackup",
              "prepareforsnapshot": "PrepareForSnapshot", "freeze": "Freeze", "thaw": "Thaw",
              "postsnapshot": "PostSnapshot", "backupcomplete": "BackupComplete",
              "backupshutdown": "BackupShutdown"}
    event = events.get(parts[1].lower())
    if event is None:
        names = ", ".join(events.values())
        raise click.BadParameter(f"{parts[1]!r} is not a writer event ({names})")
    code = hr.VSS_E_WRITERERROR_RETRYABLE if retryable else hr.VSS_E_WRITERERROR_NONRETRYABLE
    return WriterFault(event, writer=writer, action="veto", hresult=code)


def _list() -> None:
    width = max(len(n) for n in SCENARIOS)
    for name, sc in SCENARIOS.items():
        click.echo(f"{name:<{width}}  {sc.description}")


@click.command()
@click.option("--scenario", "name", type=click.Choice(list(SCENARIOS)), default="basic",
              show_default=True, metavar="NAME", help="The story to run (--list shows them).")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@click.option("--step", is_flag=True,
              help="Pause after each event and explain it (Enter: next, c: run to the end).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run.")
@click.option("--fail", "fails", multiple=True, metavar="WRITER:EVENT[:retryable]",
              help="Make a writer veto an event (writers: kvstore, fileshare; basic scenario "
              "only).")
@click.option("--mermaid", type=click.Path(dir_okay=False), default=None,
              help="Also write the run as a Mermaid sequence diagram to this file.")
@click.option("--svg", type=click.Path(dir_okay=False), default=None,
              help="Also write the run as an SVG timeline to this file.")
@click.option("--target", type=click.Path(file_okay=False), default=None,
              help="Backup directory (default: a temporary one).")
@click.option("--all-events", is_flag=True, help="Also show state changes and file copies.")
@click.option("--table", is_flag=True, help="A table of events instead of lanes.")
@pass_lab
def demo(lab: LabContext, name: str, list_only: bool, step: bool, seed: int,
         fails: tuple[str, ...], mermaid: str | None, svg: str | None, target: str | None,
         all_events: bool, table: bool) -> None:
    """Run a VSS scenario on fresh machines and show its timeline (default: a backup of a
    volume with a key-value store and a file share, both writing all the time)."""
    console = Console(highlight=False)
    if list_only:
        _list()
        return
    scenario = SCENARIOS[name]
    if fails and name != "basic":
        # The other stories script their own failure and explain it: a --fail would change the
        # run under an explanation that no longer fits it.
        raise click.UsageError(f"--fail works with the basic scenario only (--scenario {name} "
                               "scripts its own failure)")
    # Host files are checked before the run (not after printing it all).
    for path in (mermaid, svg):
        if path:
            check_output_file(path)
    if target:
        check_output_dir(target)
    skip = () if all_events else _QUIET
    ctx = ScenarioContext(seed=seed, faults=[parse_fail(f) for f in fails],
                          target=Path(target) if target else None)
    stepper = Stepper(console, skip=skip) if step else None
    if stepper is not None:
        ctx.observers.append(stepper)
        console.rule(f"[bold]{name}: {scenario.description}")
    try:
        with running(ctx):
            run = scenario.run(ctx)
    except VssError as exc:  # e.g. --target already holds a backup
        raise click.ClickException(str(exc)) from None
    if stepper is None:
        console.rule(f"[bold]{run.title}")
        if table:
            print_timeline(run.trace, console, skip=skip)
        else:
            print_lanes(run.trace, console, skip=skip)
    console.rule("[bold]Summary")
    for line in run.summary:
        console.print(line, markup=False)
    console.rule("[bold]What to look at")
    for line in run.look_at:
        console.print(f"- {line}", markup=False)
    if mermaid:
        write_host_file(mermaid, run.trace.to_mermaid())
        console.print(f"Mermaid sequence diagram written to {mermaid}", markup=False)
    if svg:
        write_host_file(svg, render_svg(run.trace, title=run.title, skip=skip))
        console.print(f"SVG timeline written to {svg}", markup=False)
    if (lab.root / CONFIG_FILE).exists():
        number = save_run(lab.root, run.trace, command=f"demo --scenario {name}",
                          title=f"demo {name}: {run.title}")
        console.print(f"Saved as run {number} (vsssim trace show {number})", markup=False)
    if not run.as_expected:
        raise SystemExit(1)
