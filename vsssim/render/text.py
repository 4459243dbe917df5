"""Plain-text timeline of a trace: one line per event, columns aligned, deterministic."""

from __future__ import annotations

from collections.abc import Iterable

from vsssim.trace import EventKind, TraceEvent

__all__ = ["render_text"]

_ARROWS = {
    EventKind.REPLY: "<-",
    EventKind.RESULT: "<-",
}


def _line(e: TraceEvent, width_src: int, width_dst: int, show_data: bool) -> str:
    arrow = _ARROWS.get(e.kind, "->")
    left, right = (e.target, e.source) if arrow == "<-" else (e.source, e.target)
    text = f"{e.time:10.3f}s {e.seq:5d}  {left:<{width_src}} {arrow} {right:<{width_dst}}  {e.name}"
    if e.detail:
        text += f"  ({e.detail})"
    if show_data and e.data:
        text += "  " + " ".join(f"{k}={v}" for k, v in e.data)
    return text.rstrip()


def render_text(events: Iterable[TraceEvent], *, show_data: bool = False) -> str:
    """Render ``events`` as a timeline: time, sequence, actors, event name and detail."""
    evs = list(events)
    if not evs:
        return "(empty trace)\n"
    width_src = min(24, max(len(e.target if e.kind in _ARROWS else e.source) for e in evs))
    width_dst = min(24, max(len(e.source if e.kind in _ARROWS else e.target) for e in evs))
    header = f"{'time':>11} {'seq':>5}  {'from':<{width_src}}    {'to':<{width_dst}}  event"
    lines = [header, "-" * len(header)]
    lines.extend(_line(e, width_src, width_dst, show_data) for e in evs)
    return "\n".join(lines) + "\n"
