"""Lane layout of a trace: one lane per actor, one row per event, and the freeze and hold windows.

This is the shared geometry of the timelines that draw lanes (the rich terminal timeline of
``vsssim trace show`` and ``vsssim demo``, and the SVG of ``vsssim trace svg``): which lane each
actor gets, which lanes an event's arrow joins, and which rows lie inside a window.

* A **freeze window** belongs to one writer: from the Freeze event VSS sends it to the Thaw or
  Abort that ends it (or a freeze timeout, or the end of the trace).  That is the time its
  application is not allowed to write (60 s at most by default).
* A **hold window** is the kernel's flush-and-hold: from ``FlushAndHoldWrites`` to
  ``ReleaseWrites`` (or the hold timeout), around the providers' ``CommitSnapshots``; every
  write to the set's volumes waits (10 s at most).

The layout depends only on the events, so the same trace always gives the same picture.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from vsssim.trace import EventKind, TraceEvent

__all__ = ["BACKWARD_KINDS", "LaneLayout", "Row", "Window", "layout"]

#: Kinds drawn as answers (dashed): a reply to an event, the result of a call.  Every arrow
#: goes from ``source`` (who acts or answers) to ``target``.
BACKWARD_KINDS = (EventKind.REPLY, EventKind.RESULT)
# Actors that always get the first lanes, in this order, when they take part.
_PINNED = ("requester", "other program", "VSS")


@dataclass(frozen=True)
class Window:
    """A freeze window (``actor`` is the writer) or the hold window (``actor`` "kernel"):
    first and last row index (inclusive) and clock times."""

    kind: Literal["freeze", "hold"]
    actor: str
    first: int
    last: int
    start: float
    end: float
    closed: bool  # False: the trace ended inside the window

    @property
    def duration(self) -> float:
        """Clock seconds the window lasted (to the last event seen if still open)."""
        return self.end - self.start


@dataclass(frozen=True)
class Row:
    """One event: the lanes its arrow starts (``source``) and ends (``target``) at; equal for
    a note on one lane."""

    event: TraceEvent
    start: int
    end: int
    freeze: bool
    hold: bool

    @property
    def lanes(self) -> range:
        """Every lane the arrow crosses, both ends included."""
        return range(min(self.start, self.end), max(self.start, self.end) + 1)


@dataclass(frozen=True)
class LaneLayout:
    """Actors (one lane each, left to right), rows, and windows."""

    actors: list[str]
    rows: list[Row]
    windows: list[Window]

    def lane(self, actor: str) -> int:
        """The lane index of ``actor``."""
        return self.actors.index(actor)


def _actors(events: list[TraceEvent]) -> list[str]:
    seen: dict[str, None] = {}
    for e in events:
        for actor in (e.source, e.target):
            seen.setdefault(actor, None)
    pinned = [a for a in _PINNED if a in seen]
    return pinned + [a for a in seen if a not in pinned]


def _windows(events: list[TraceEvent]) -> list[Window]:
    out: list[Window] = []
    frozen: dict[str, tuple[int, float]] = {}
    hold: tuple[int, float] | None = None
    for i, e in enumerate(events):
        if e.kind == EventKind.EVENT and e.name == "Freeze" and e.target not in frozen:
            frozen[e.target] = (i, e.time)
        elif e.kind == EventKind.EVENT and e.name in ("Thaw", "Abort") and e.target in frozen:
            first, start = frozen.pop(e.target)
            out.append(Window("freeze", e.target, first, i, start, e.time, True))
        elif e.kind == EventKind.TIMEOUT and e.name == "FreezeWindowExpired":
            for writer in [w for w in frozen if e.involves(w)]:
                first, start = frozen.pop(writer)
                out.append(Window("freeze", writer, first, i, start, e.time, True))
        if e.kind == EventKind.HOLD and hold is None:
            hold = (i, e.time)
        elif hold is not None and (e.kind == EventKind.RELEASE or (
                e.kind == EventKind.TIMEOUT and "Hold" in e.name)):
            out.append(Window("hold", "kernel", hold[0], i, hold[1], e.time, True))
            hold = None
    if events:
        last, end = len(events) - 1, events[-1].time
        out += [Window("freeze", w, first, last, start, end, False)
                for w, (first, start) in frozen.items()]
        if hold is not None:
            out.append(Window("hold", "kernel", hold[0], last, hold[1], end, False))
    return sorted(out, key=lambda w: (w.first, w.kind, w.actor))


def layout(events: Iterable[TraceEvent], *, skip: Iterable[EventKind] = ()) -> LaneLayout:
    """Lay out ``events`` (minus the kinds in ``skip``) in lanes."""
    hidden = set(skip)
    evs = [e for e in events if e.kind not in hidden]
    actors = _actors(evs)
    index = {a: i for i, a in enumerate(actors)}
    windows = _windows(evs)
    rows = []
    for i, e in enumerate(evs):
        rows.append(Row(e, index[e.source], index[e.target],
                        any(w.kind == "freeze" and w.first <= i <= w.last for w in windows),
                        any(w.kind == "hold" and w.first <= i <= w.last for w in windows)))
    return LaneLayout(actors, rows, windows)
