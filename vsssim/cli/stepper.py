"""``--step``: pause after each event of a demo and explain it in one line.

The stepper is a trace observer.  Observers run synchronously inside the simulator, so waiting
for the student's Enter key in the observer pauses the whole machine at that event, writers
frozen or writes held included (the clock is virtual: no timeout fires while it waits).
``c`` + Enter runs to the end without pausing; ``q`` + Enter stops pausing as well.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.text import Text

from vsssim.cli.explain import explain
from vsssim.cli.timeline import _STYLE
from vsssim.trace import EventKind, TraceEvent

__all__ = ["PROMPT", "Stepper"]

PROMPT = "[Enter] next event, [c] run to the end: "


class Stepper:
    """Print each event with its explanation, then wait for a line on ``stdin``."""

    def __init__(self, console: Console, *, skip: Iterable[EventKind] = (),
                 stdin: TextIO | None = None) -> None:
        self.console = console
        self.skip = set(skip)
        self.stdin = stdin or sys.stdin
        self.pausing = True
        self.shown = 0

    def __call__(self, event: TraceEvent) -> None:
        if event.kind in self.skip:
            return
        self.shown += 1
        head = Text(f"{event.time:8.3f}s  ", style="dim")
        head.append(f"{event.source} -> {event.target}  ")
        head.append(event.name, style=_STYLE.get(event.kind, "bold"))
        if event.detail:
            head.append(f"  ({event.detail})", style="dim")
        self.console.print(head)
        self.console.print(Text("          " + explain(event), style="italic"))
        if not self.pausing:
            return
        self.console.print(PROMPT, end="", markup=False, highlight=False)
        self.console.file.flush()
        answer = self.stdin.readline()
        if not self.stdin.isatty():
            self.console.print()  # a piped answer is not echoed: end the prompt line
        if not answer or answer.strip().lower() in ("c", "q"):
            self.pausing = False
