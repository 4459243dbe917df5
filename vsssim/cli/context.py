"""What every ``vsssim`` sub-command shares: the lab root, and booting it for one command.

``vsssim --root DIR`` (env ``VSSSIM_ROOT``, default ``./.vsssim``) names the lab machine; the
group stores a :class:`LabContext` in click's context object.  :meth:`LabContext.booted` opens
the machine for one command and, when the command drove VSS, saves what it did as a run
(``runs/<n>.jsonl``) so that ``vsssim trace show`` can render it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from vsssim.cli.machine import LabMachine
from vsssim.cli.runs import save_run
from vsssim.system import VssSystem

__all__ = ["Booted", "LabContext", "pass_lab"]


@dataclass
class Booted:
    """One boot of the lab machine: the system, where this command's events start, and
    whether to save them as a run (a command that fails on bad input may decide not to)."""

    system: VssSystem
    machine: LabMachine
    start_seq: int
    save: bool = True
    run: int | None = None
    title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LabContext:
    """The ``--root`` of this invocation."""

    root: Path

    @contextmanager
    def booted(self, command: str, *, save: bool = True, faults: Any = None,
               options: Any = None) -> Iterator[Booted]:
        """Boot the lab machine for ``command``; on the way out save its events as a run
        (unless ``save`` is False, or the command set ``booted.save = False``)."""
        machine = LabMachine(self.root)
        with machine.open(faults=faults, options=options) as system:
            start = system.trace[-1].seq if len(system.trace) else 0
            booted = Booted(system, machine, start, save)
            try:
                yield booted
            finally:
                events = list(system.trace.since(booted.start_seq))
                if booted.save and events:
                    booted.run = save_run(self.root, events, command=command,
                                          title=booted.title or command)


pass_lab = click.make_pass_decorator(LabContext)
