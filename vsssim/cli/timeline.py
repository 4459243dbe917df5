"""Rich rendering of a trace for the terminal: a table of events coloured by kind
(:func:`print_timeline`), or lanes with the freeze and hold windows marked (:func:`print_lanes`)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vsssim.render.lanes import LaneLayout, Row, layout
from vsssim.trace import EventKind, TraceEvent

__all__ = ["lane_label", "lanes_needed", "print_lanes", "print_timeline"]

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
_MIN_DETAIL = 20
# The lane timeline's geometry, shared by the check "do the lanes fit?" and the layout, so the
# lanes either fit whole or the plain table is printed instead (never squeezed into "…"):
# time | FH | lanes | event | detail, with _GAP columns between two columns.
_GAP = 2
_MARGIN_W = 2  # the F and H columns
_MIN_LANE = 7
_MAX_LANE = 12
_MAX_EVENT = 30  # event names are at most 29 characters (AddAlternativeLocationMapping)
_MIN_LANE_DETAIL = 10
_SHORT = {"Microsoft Software Shadow Copy provider 1.0": "System provider"}


def print_timeline(events: Iterable[TraceEvent], console: Console, *,
                   skip: Iterable[EventKind] = ()) -> None:
    """Print ``events`` as a table: time, from, to, event, detail."""
    hidden = set(skip)
    rows = []
    for e in events:
        if e.kind in hidden:
            continue
        src, dst, arrow = (e.target, e.source, "<-") if e.kind in _BACK else (
            e.source, e.target, "->")
        rows.append((e, _SHORT.get(src, src), arrow, _SHORT.get(dst, dst)))
    # Fixed widths (rich would otherwise squeeze the short columns to fit long details): the
    # detail column gets what is left and folds.
    from_w = min(17, max([4, *(len(r[1]) for r in rows)]))
    to_w = min(17, max([2, *(len(r[3]) for r in rows)]))
    event_w = min(_MAX_EVENT - 1, max([5, *(len(r[0].name) for r in rows)]))
    # Narrow terminals: shorten the event, then the actor columns, before squeezing details.
    while console.width - 9 - from_w - 2 - to_w - event_w - 10 < 6 and (
            max(from_w, to_w, event_w) > 8):
        if event_w >= max(from_w, to_w):
            event_w -= 1
        elif from_w >= to_w:
            from_w -= 1
        else:
            to_w -= 1
    detail_w = console.width - 9 - from_w - 2 - to_w - event_w - 10
    # Too narrow for a readable detail column (an 80-column terminal): the detail goes under
    # the event's name, in one wider column, instead of folding a few characters per line.
    stacked = detail_w < _MIN_DETAIL
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("time", justify="right", style="dim", no_wrap=True, width=9)
    for name, width in (("from", from_w), ("", 2), ("to", to_w)):
        table.add_column(name, width=width, overflow="ellipsis", no_wrap=True)
    stacked_w = max(6, console.width - 9 - from_w - 2 - to_w - 8)
    if stacked:
        table.add_column("event / detail", width=stacked_w, overflow="fold")
    else:
        table.add_column("event", width=event_w, overflow="ellipsis", no_wrap=True)
        table.add_column("detail", width=detail_w, overflow="fold")
    for e, src, arrow, dst in rows:
        label = Text(e.name, style=_STYLE.get(e.kind, ""))
        if stacked:
            if e.detail:  # on the same line when both fit, else under the name
                same = len(e.name) + 2 + len(e.detail) <= stacked_w
                label.append(("  " if same else "\n") + e.detail, style="dim")
            table.add_row(f"{e.time:8.3f}s", src, arrow, dst, label)
        else:
            table.add_row(f"{e.time:8.3f}s", src, arrow, dst, label, e.detail)
    console.print(table)


def lane_label(actor: str, width: int) -> list[str]:
    """An actor's name wrapped to ``width`` columns (long provider names shortened)."""
    name = _SHORT.get(actor, actor)
    lines = [line if len(line) <= width else line[: width - 1] + "…"
             for line in textwrap.wrap(name, width, break_long_words=False)] or [name[:width]]
    if len(lines) > 3:
        lines = [*lines[:2], lines[2][: width - 1] + "…"]
    return lines


def _lane_text(row: Row, lanes: int, width: int) -> Text:
    """The row's arrow across all lanes: ``●`` where it starts, ``▶``/``◀`` where it ends,
    dashed for replies and results, ``◆`` for a note on one lane."""
    style = _STYLE.get(row.event.kind, "")
    text = Text()
    lo, hi = min(row.start, row.end), max(row.start, row.end)
    half = width // 2
    line = "╌" if row.event.kind in _BACK else "─"
    rightward = row.end > row.start
    idle = " " * half + "│" + " " * (width - half - 1)
    for lane in range(lanes):
        if row.start == row.end:
            cell = (" " * half + "◆" + " " * (width - half - 1)) if lane == row.start else idle
            text.append(cell, style=style if lane == row.start else "grey50")
            continue
        if not lo <= lane <= hi:
            text.append(idle, style="grey50")
            continue
        left, right = line * half, line * (width - half - 1)
        if lane == row.start:
            cell = (" " * half + "●" + right) if rightward else (left + "●" + " " * len(right))
        elif lane == row.end:
            cell = (left + "▶" + " " * len(right)) if rightward else (" " * half + "◀" + right)
        else:
            cell = line * width
        text.append(cell, style=style)
    return text


def print_lanes(events: Iterable[TraceEvent], console: Console, *,
                skip: Iterable[EventKind] = (), lane_width: int | None = None) -> None:
    """Print ``events`` as a lane timeline: one lane per actor, an arrow per event from the
    actor that acts to the one acted on, and a margin marking the freeze window (blue ``F``:
    a writer is frozen) and the hold window (red ``H``: the kernel holds writes).  A legend
    with each window's length follows."""
    events = list(events)
    lay = layout(events, skip=skip)
    if not lay.rows:
        console.print("(no events)")
        return
    geometry = _lane_geometry(lay, console.width, lane_width)
    if geometry is None:
        # Too narrow for lanes (rich would squeeze every column into ellipses): the plain
        # table of events, which reads at any width, and the windows below it.
        print_timeline(events, console, skip=skip)
        console.print(Text(f"(a lane timeline needs {lanes_needed(lay)} columns; this one "
                           f"has {console.width})", style="dim"))
        _print_windows(lay, console)
        return
    time_w, lane_width, event_w, detail_w = geometry
    labels = [lane_label(a, lane_width - 1) for a in lay.actors]
    depth = max(len(x) for x in labels)
    header = Text()
    for i in range(depth):
        for lab in labels:
            piece = lab[i - (depth - len(lab))] if i >= depth - len(lab) else ""
            left = lane_width // 2 - len(piece) // 2
            header.append((" " * left + piece).ljust(lane_width), style="bold")
        if i < depth - 1:
            header.append("\n")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False,
                  padding=(0, 1))
    # Fixed widths (_lane_geometry): rich would otherwise squeeze the time and event columns
    # to fit long details; the detail column gets what is left and is cut with an ellipsis.
    lanes_w = lane_width * len(lay.actors)
    table.add_column("time", justify="right", style="dim", no_wrap=True, vertical="bottom",
                     width=time_w)
    table.add_column("FH", no_wrap=True, width=_MARGIN_W, vertical="bottom")
    table.add_column(header, no_wrap=True, vertical="bottom", width=lanes_w)
    table.add_column("event", no_wrap=True, vertical="bottom", width=event_w,
                     overflow="ellipsis")
    table.add_column("detail", overflow="ellipsis", no_wrap=True, vertical="bottom",
                     width=detail_w)
    for row in lay.rows:
        e = row.event
        margin = Text()
        margin.append("F" if row.freeze else " ", style="bold white on blue" if row.freeze
                      else "")
        margin.append("H" if row.hold else " ", style="bold white on red" if row.hold else "")
        table.add_row(f"{e.time:.3f}s", margin, _lane_text(row, len(lay.actors), lane_width),
                      Text(e.name, style=_STYLE.get(e.kind, "")), e.detail)
    console.print(table)
    _print_windows(lay, console)


def _fixed_widths(lay: LaneLayout) -> tuple[int, int, int]:
    """(time column, narrowest lane that shows every actor's name whole, event column)."""
    time_w = max(4, *(len(f"{r.event.time:.3f}s") for r in lay.rows))
    word = max(len(w) for a in lay.actors for w in _SHORT.get(a, a).split())
    lane = min(_MAX_LANE, max(_MIN_LANE, word + 1))  # a label is one column narrower
    event_w = min(_MAX_EVENT, max(5, *(len(r.event.name) for r in lay.rows)))
    return time_w, lane, event_w


def lanes_needed(lay: LaneLayout) -> int:
    """The narrowest terminal that shows ``lay`` as lanes: time, F and H, every lane at its
    narrowest, the whole event names and some detail, with the gaps between the columns."""
    time_w, lane, event_w = _fixed_widths(lay)
    return (time_w + _MARGIN_W + lane * len(lay.actors) + event_w + _MIN_LANE_DETAIL
            + 4 * _GAP)


def _lane_geometry(lay: LaneLayout, width: int, lane_width: int | None
                   ) -> tuple[int, int, int, int] | None:
    """(time, lane, event, detail) widths that add up to ``width`` at most, or None when the
    lanes do not fit (``lane_width`` given: that lane width, whatever the terminal)."""
    time_w, _narrowest, event_w = _fixed_widths(lay)
    fixed = time_w + _MARGIN_W + event_w + 4 * _GAP
    if lane_width is None:
        if width < lanes_needed(lay):
            return None
        lane_width = min(_MAX_LANE, (width - fixed - _MIN_LANE_DETAIL) // len(lay.actors))
    detail_w = max(_MIN_LANE_DETAIL, width - fixed - lane_width * len(lay.actors))
    return time_w, lane_width, event_w, detail_w


def _print_windows(lay: LaneLayout, console: Console) -> None:
    """The legend: each freeze and hold window with its length."""
    for w in lay.windows:
        what = (f"freeze window of {w.actor}" if w.kind == "freeze"
                else "hold window (the kernel holds writes)")
        colour = "blue" if w.kind == "freeze" else "red"
        state = "" if w.closed else " (still open at the end of the trace)"
        console.print(Text(f"{'F' if w.kind == 'freeze' else 'H'}  {what}: {w.duration:.3f} s,"
                           f" from {w.start:.3f} s to {w.end:.3f} s{state}", style=colour))
