"""Rich rendering of a trace for the terminal: one row per event, coloured by kind."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vsssim.trace import EventKind, TraceEvent

__all__ = ["print_timeline"]

_STYLE = {
    EventKind.CALL: "bold cyan",
    EventKind.RESULT: "cyan",
    EventKind.EVENT: "bold green",
    EventKind.REPLY: "green",
    EventKind.STATE: "dim",
    EventKind.PROVIDER: "magenta",
    EventKind.HOLD: "bold red",
    EventKind.RELEASE: "bold red",
    EventKind.SNAPSHOT: "bold magenta",
    EventKind.PURGE: "yellow",
    EventKind.FAULT: "bold yellow",
    EventKind.TIMEOUT: "bold red",
    EventKind.APP: "blue",
    EventKind.COPY: "dim cyan",
    EventKind.NOTE: "italic",
}
_BACK = (EventKind.REPLY, EventKind.RESULT)


def print_timeline(events: Iterable[TraceEvent], console: Console, *,
                   skip: Iterable[EventKind] = ()) -> None:
    """Print ``events`` as a table: time, from, to, event, detail."""
    hidden = set(skip)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("time", justify="right", style="dim", no_wrap=True)
    table.add_column("from", max_width=20, overflow="ellipsis", no_wrap=True)
    table.add_column("", justify="center", no_wrap=True)
    table.add_column("to", max_width=20, overflow="ellipsis", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for e in events:
        if e.kind in hidden:
            continue
        style = _STYLE.get(e.kind, "")
        src, dst, arrow = (e.target, e.source, "<-") if e.kind in _BACK else (
            e.source, e.target, "->")
        table.add_row(f"{e.time:8.3f}s", src, arrow, dst, Text(e.name, style=style), e.detail)
    console.print(table)
