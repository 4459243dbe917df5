"""``vsssim diskshadow [-s SCRIPT] [-l LOG]``: the Windows diskshadow interpreter on the lab
machine, as a script runner or an interactive ``DISKSHADOW>`` prompt.

A script is parsed whole before the lab machine is opened: a syntax error on line N is reported
with N and changes nothing.  While a script runs, every command is echoed after ``-> `` and a
line that uses an alias is echoed again with its value, as diskshadow does; the first command
that fails stops the script (exit code 1).  The whole session is saved as one run.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

import click

from vsssim.cli.context import LabContext, pass_lab
from vsssim.cli.diskshadow.output import banner
from vsssim.cli.diskshadow.parser import (
    Command,
    DiskshadowSyntaxError,
    parse_line,
    parse_script,
)
from vsssim.cli.diskshadow.session import DiskshadowError, Session
from vsssim.cli.hostfiles import check_output_file
from vsssim.cli.machine import LabMachine
from vsssim.system import VssSystem

__all__ = ["diskshadow", "run_diskshadow", "run_script_on"]

PROMPT = "DISKSHADOW> "
EXITING = "DiskShadow is exiting."


class _Output:
    """Prints lines and copies them to the log file (``-l``)."""

    def __init__(self, log: IO[str] | None) -> None:
        self.log = log

    def __call__(self, line: str = "") -> None:
        click.echo(line)
        if self.log is not None:
            self.log.write(line + "\n")


def _run_script(session: Session, commands: list[Command], out: Callable[[str], None]) -> int:
    for cmd in commands:
        out(f"-> {cmd.text}")
        for name, value in session.aliases_in(cmd.text):
            out(f"-> %{name}% = {value}")
        try:
            if not session.execute(cmd):
                return 0
        except DiskshadowError as exc:
            first, *rest = str(exc).splitlines() or [""]
            out(f"Error on line {cmd.line}: {first}")
            for line in rest:
                out(line)
            return 1
    return 0


def _read_command(tty: bool) -> str | None:
    """One line from the user (None at the end of input); on a terminal with line editing."""
    if tty:
        with contextlib.suppress(ImportError):  # Windows has no readline module
            import readline  # noqa: F401 - gives input() history and editing
        try:
            return input(PROMPT) + "\n"
        except EOFError:
            click.echo("")
            return None
    click.echo(PROMPT, nl=False)
    line = sys.stdin.readline()
    if not line:
        click.echo("")
        return None
    click.echo(line.rstrip("\n"))  # a piped command is not echoed by a terminal: show it
    return line


def _run_interactive(session: Session, out: _Output) -> int:
    tty = sys.stdin.isatty()
    while True:
        line = _read_command(tty)
        if line is None:
            return 0
        if out.log is not None:
            out.log.write(PROMPT + line)
        try:
            cmd = parse_line(line)
        except DiskshadowSyntaxError as exc:
            out(f"Error: {exc.message}")
            continue
        if cmd is None:
            continue
        try:
            if not session.execute(cmd):
                return 0
        except DiskshadowError as exc:
            for text in str(exc).splitlines():
                out(text)


def run_script_on(system: VssSystem, script: Path, out: Callable[[str], None]) -> int:
    """Run a script on an already booted lab machine (``vsssim app run --run``): the same
    echo and errors, no banner; returns the exit code."""
    try:
        commands = parse_script(script.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        out(f"cannot read the script {script}: {exc}")
        return 1
    except DiskshadowSyntaxError as exc:
        out(f"Error on line {exc.line} of {script.name}: {exc.message}")
        return 1
    session = Session(system, out)
    try:
        code = _run_script(session, commands, out)
    finally:
        for note in session.close():
            out(note)
    return code


def run_diskshadow(lab: LabContext, script: Path | None, log: Path | None) -> int:
    """Run diskshadow on the lab machine; returns the exit code."""
    commands: list[Command] | None = None
    text = ""
    if script is not None:
        try:
            text = script.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read the script {script}: {exc}") from None
    LabMachine(lab.root).check()  # a damaged root is reported before anything else
    handle = None
    if log is not None:  # the log is written as the session goes: its folder is checked
        try:
            handle = open(check_output_file(log), "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise click.ClickException(f"cannot write {log}: {exc.strerror}") from None
    try:
        out = _Output(handle)
        if script is not None:
            try:
                commands = parse_script(text)
            except DiskshadowSyntaxError as exc:
                out(f"Error on line {exc.line} of {script.name}: {exc.message}")
                out(f"    {exc.line}: {exc.text}")
                out(EXITING)
                return 1
        title = f"diskshadow -s {script.name}" if script is not None else "diskshadow"
        with lab.booted(title) as booted:
            system = booted.system
            for line in banner(system.machine_name, system.clock.datetime()):
                out(line)
            session = Session(system, out)
            code = 1
            try:
                if commands is not None:
                    code = _run_script(session, commands, out)
                else:
                    code = _run_interactive(session, out)
            finally:
                notes = session.close()
                for note in notes:
                    out(note)
                if notes or code:
                    out(EXITING)
            return code
    finally:
        if handle is not None:
            handle.close()


@click.command()
@click.option("-s", "--script", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run the commands of this script file (diskshadow /s).")
@click.option("-l", "--log", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the output to this file (diskshadow /l).")
@pass_lab
def diskshadow(lab: LabContext, script: Path | None, log: Path | None) -> None:
    """The Windows diskshadow interpreter on the lab machine: a script (-s) or the
    DISKSHADOW> prompt (type HELP, EXIT to leave)."""
    sys.exit(run_diskshadow(lab, script, log))
