"""``vsssim app list|run``: the lab machine's applications, and keeping them writing.

Applications are live Python objects: another process cannot share them.  So "the applications
keep writing while other commands run" is done honestly in one of two ways (docs/cli.md):

* **Every command already runs them.**  Each vsssim command boots the lab machine with its
  applications, and the simulator runs their steps at VSS's scheduling points (before each
  writer event and provider call), deterministically from the seed: a ``vssadmin create
  shadow`` happens while the store and the share write, and writes that meet the kernel's
  hold wait for its release.  ``app run --steps N`` runs N more of those scheduling points
  between commands: at each, every application does a random burst of 0 to 2 steps (its
  ``burst``), so each does about N steps, not exactly N (deterministic, same seed same files).
* **Live mode.**  ``app run --for SECONDS`` runs each application on its own real thread for
  that long, with a live view of their work, and runs the ``--run`` commands (vssadmin command
  lines or ``diskshadow -s SCRIPT``) inside the same process while the threads write, every
  ``--every`` seconds.  It holds the root's lock for the whole time: another vsssim process
  waits (up to 10 s) and then refuses, so two processes never write the same images.
"""

from __future__ import annotations

import shlex
import threading
import time
from pathlib import Path

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from vsssim.apps import FileShareApp, KvStoreApp
from vsssim.apps.base import Application
from vsssim.cli.context import LabContext, pass_lab
from vsssim.system import VssSystem

__all__ = ["app"]


def _describe(app: Application) -> str:
    if isinstance(app, KvStoreApp):
        store = app.store
        return (f"{len(store.state)} keys, log sequence number {store.lsn}, checkpoint at "
                f"{store.checkpoint_lsn} ({store.directory})")
    if isinstance(app, FileShareApp):
        return f"{len(app.files())} documents, {app.saved} saves ({app.root})"
    return app.__class__.__name__


def _table(system: VssSystem, title: str) -> Table:
    table = Table(title=title)
    for column in ("application", "steps", "state", "downtime (s)", "data"):
        table.add_column(column, no_wrap=column != "data")
    for a in system.applications:
        state = "suspended (frozen)" if a.suspended else ("running" if a.running else "stopped")
        table.add_row(a.name, str(a.steps_run), state, f"{a.downtime:.3f}", _describe(a))
    return table


@click.group()
def app() -> None:
    """The lab machine's applications (they write during every VSS operation)."""


@app.command("list")
@pass_lab
def list_cmd(lab: LabContext) -> None:
    """List the applications and their writers."""
    console = Console(highlight=False)
    with lab.booted("app list", save=False) as booted:
        system = booted.system
        console.print(_table(system, f"Applications of {system.machine_name}"))
        for w in system.writers:
            console.print(f"writer: {w.writer_name} {{{w.writer_id}}}", markup=False)


def _run_command(system: VssSystem, lab: LabContext, line: str, console: Console) -> int:
    from vsssim.cli.diskshadow import run_script_on
    from vsssim.cli.vssadmin import run_vssadmin

    words = shlex.split(line, posix=True)
    if words and words[0].lower() == "vssadmin":
        code, lines = run_vssadmin(lab, words[1:], echo=False, system=system)
        for text in lines[3:]:  # without the banner
            console.print(text, markup=False, highlight=False)
        return code
    if len(words) == 3 and words[0].lower() == "diskshadow" and words[1] in ("-s", "/s"):
        return run_script_on(system, Path(words[2]),
                             lambda text: console.print(text, markup=False, highlight=False))
    console.print(f"--run takes `vssadmin ...` or `diskshadow -s SCRIPT`, not {line!r}",
                  markup=False)
    return 2


def _check_command(line: str, edition: str) -> str | None:
    """Why ``--run LINE`` cannot run (None: it can), found before the machine boots: the
    shape, the vssadmin syntax, the diskshadow script readable and parsable."""
    from vsssim.cli.diskshadow.parser import DiskshadowSyntaxError, parse_script
    from vsssim.cli.vssadmin.syntax import VssadminSyntaxError, parse

    try:
        words = shlex.split(line, posix=True)
    except ValueError as exc:
        return f"--run {line!r}: {exc}"
    if words and words[0].lower() == "vssadmin":
        if len(words) == 1:
            return f"--run {line!r}: a vssadmin command is missing (e.g. list shadows)"
        try:
            parse(words[1:], edition)
        except VssadminSyntaxError as exc:
            return (f"--run {line!r}: vssadmin would refuse it: "
                    f"{exc.message.removeprefix('Error: ')}")
        return None
    if len(words) == 3 and words[0].lower() == "diskshadow" and words[1] in ("-s", "/s"):
        try:
            parse_script(Path(words[2]).read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            return f"--run {line!r}: cannot read the script {words[2]}: {exc}"
        except DiskshadowSyntaxError as exc:
            return f"--run {line!r}: line {exc.line} of {words[2]}: {exc.message}"
        return None
    return f"--run takes `vssadmin ...` or `diskshadow -s SCRIPT`, not {line!r}"


@app.command()
@click.option("--steps", type=click.IntRange(1, 100_000), default=None, metavar="N",
              help="Run N scheduling points (default 50): at each, every application does a "
              "random burst of 0 to 2 steps, so about N steps each (deterministic from the "
              "seed).")
@click.option("--for", "seconds", type=click.FloatRange(0.1, 3600), default=None,
              help="Run the applications on real threads for this many seconds (live view).")
@click.option("--run", "commands", multiple=True, metavar="COMMAND",
              help="With --for: a vssadmin command line or `diskshadow -s SCRIPT` to run while "
              "the applications write (repeatable).")
@click.option("--every", type=click.FloatRange(0.1, 3600), default=None,
              help="With --for: run the --run commands again every this many seconds "
              "(default: once, at the start).")
@pass_lab
def run(lab: LabContext, steps: int | None, seconds: float | None,
        commands: tuple[str, ...], every: float | None) -> None:
    """Keep the applications writing: N scheduling points (deterministic), or real threads
    for a while with commands running meanwhile."""
    if steps is not None and seconds is not None:
        raise click.UsageError("give --steps or --for, not both")
    if (commands or every) and seconds is None:
        raise click.UsageError("--run and --every need --for")
    if every is not None and not commands:
        raise click.UsageError("--every needs --run (the commands to repeat)")
    if commands:
        from vsssim.cli.machine import LabMachine

        edition = LabMachine(lab.root).check().edition  # a damaged root: its LabError
        for line in commands:  # all refused before the applications start
            problem = _check_command(line, edition)
            if problem is not None:
                raise click.UsageError(problem)
    console = Console(highlight=False)
    points = steps or 50
    title = "app run " + (f"--for {seconds:g}" if seconds else f"--steps {points}")
    with lab.booted(title) as booted:
        system = booted.system
        if seconds is None:
            system.run_applications(points)
            console.print(_table(system, f"After {points} scheduling point"
                                 f"{'s' if points != 1 else ''} (a random burst of steps "
                                 "each)"))
            return
        failures = _live(system, lab, seconds, commands, every, console)
        console.print(_table(system, f"After {seconds:g} s on threads"))
    if failures:
        raise SystemExit(1)


def _live(system: VssSystem, lab: LabContext, seconds: float, commands: tuple[str, ...],
          every: float | None, console: Console) -> int:
    """Threads write; the commands run in this thread meanwhile.  Returns failed commands."""
    failures = 0
    stop = threading.Event()
    system.start_applications(interval=0.001)
    deadline = time.monotonic() + seconds
    next_run = time.monotonic()
    try:
        with Live(_table(system, "Applications writing"), console=console,
                  refresh_per_second=4, transient=True) as live:
            ran_once = False
            while not stop.is_set() and time.monotonic() < deadline:
                if commands and time.monotonic() >= next_run and (every or not ran_once):
                    for line in commands:
                        live.console.print(f"> {line}", markup=False)
                        if _run_command(system, lab, line, live.console) != 0:
                            failures += 1
                    ran_once = True
                    next_run = time.monotonic() + (every or seconds)
                live.update(Group(_table(system, "Applications writing")))
                time.sleep(0.05)
    finally:
        system.stop_applications()
    return failures
