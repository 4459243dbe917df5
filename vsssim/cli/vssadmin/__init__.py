"""``vsssim vssadmin ...``: the Windows ``vssadmin`` tool, with its syntax, output and errors,
on the lab machine.

Exit codes (vssadmin's are not in the reference; this is the simulator's choice, see
docs/cli.md): 0 success (an empty listing included), 1 the operation failed, 2 the command line
was refused (``Error: Invalid command.``, a bad switch or value).  A refused command line never
opens the lab machine; a failed operation changes no shadow copy, storage or file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from vsssim.cli.context import Booted, LabContext, pass_lab
from vsssim.cli.machine import LabError, LabMachine
from vsssim.cli.vssadmin.commands import Outcome, VssadminFailure, check_values, execute
from vsssim.cli.vssadmin.messages import BANNER
from vsssim.cli.vssadmin.syntax import Invocation, VssadminSyntaxError, command_list, parse
from vsssim.system import VssSystem

__all__ = ["EXIT_FAILED", "EXIT_SYNTAX", "run_vssadmin", "vssadmin"]

EXIT_FAILED = 1
EXIT_SYNTAX = 2


def _ask(prompt: str) -> str:
    click.echo(prompt, nl=False)
    line = sys.stdin.readline()
    if not sys.stdin.isatty():
        click.echo(line.rstrip("\n"))  # show the answer a script gave, as a console would
    return line


def run_vssadmin(lab: LabContext, args: list[str], *, echo: bool = True,
                 system: VssSystem | None = None) -> tuple[int, list[str]]:
    """Run one vssadmin command line on the lab machine: (exit code, printed lines).

    With ``system`` the command runs on that already booted machine (``vsssim app run``
    drives commands while its applications write); otherwise the lab machine is booted for
    this one command and its run saved."""
    lines: list[str] = []

    def out(*more: str) -> None:
        """Print (unless ``echo`` is off) and keep the lines."""
        lines.extend(more)
        if echo:
            for line in more:
                click.echo(line)

    help_only = not args or args[0] in ("/?", "-?")
    if system is not None:
        edition = system.edition
    else:
        try:
            edition = LabMachine(lab.root).check().edition
        except LabError:
            if not help_only:
                raise
            edition = "server"
    out(*BANNER)
    try:
        inv = parse(list(args), edition)
        if inv.spec is not None and not inv.help:
            check_values(inv)
    except VssadminSyntaxError as exc:
        if exc.spec is None:
            out(exc.message, " ", *command_list(edition))
        else:
            out(exc.message, "", *exc.spec.help_lines())
        return EXIT_SYNTAX, lines
    if inv.spec is None:
        out(*command_list(edition))
        return 0, lines
    if inv.help:
        out(*inv.spec.help_lines())
        return 0, lines
    if system is not None:
        return _execute(system, inv, out, None), lines
    with lab.booted("vssadmin " + " ".join(args)) as booted:
        return _execute(booted.system, inv, out, booted), lines


def _execute(system: VssSystem, inv: Invocation, out: Callable[..., None],
             booted: Booted | None) -> int:
    try:
        outcome: Outcome = execute(system, inv, _ask)
    except VssadminFailure as failure:
        out(*failure.lines)
        return failure.exit_code
    except VssadminSyntaxError as exc:  # a value only the machine could judge
        if booted is not None:
            booted.save = False
        out(exc.message)
        return EXIT_SYNTAX
    if booted is not None:
        booted.save = outcome.drove_vss
    out(*outcome.lines)
    return outcome.exit_code


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                 "help_option_names": ["--help"]})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_lab
def vssadmin(lab: LabContext, args: tuple[str, ...]) -> None:
    """The Windows vssadmin tool on the lab machine: `vsssim vssadmin list shadows`,
    `vsssim vssadmin create shadow /for=C:`, `vsssim vssadmin /?` for its commands."""
    code, _ = run_vssadmin(lab, list(args))
    sys.exit(code)
