"""A self-contained SVG timeline of a trace: lanes, arrows, and the freeze and hold windows.

One vertical lane per actor (requester, VSS, each writer, each provider, the kernel...), one row
per event, an arrow from the lane that acts to the lane that is acted on (dashed for replies and
results, a diamond for a note on one lane).  Each writer's freeze window is a blue band on its
lane, the kernel's flush-and-hold a red band across the picture, each labelled with its
duration.  Hovering an event shows its time, kind and detail (``<title>``).

The file needs nothing else: no script, no external font or stylesheet; any browser renders
it.  Lanes are ``<g class="lane" data-actor="...">`` and events ``<g class="event"
data-seq="..." data-name="...">`` so tests (and people) can find them.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

from vsssim.render.lanes import BACKWARD_KINDS, layout
from vsssim.trace import EventKind, TraceEvent

__all__ = ["render_svg"]

_LANE_W = 150
_LEFT = 80  # the time column
_TOP = 70
_ROW_H = 22
_COLORS = {
    EventKind.CALL: "#0b6e99", EventKind.RESULT: "#0b6e99", EventKind.EVENT: "#2b8a3e",
    EventKind.REPLY: "#2b8a3e", EventKind.PROVIDER: "#862e9c", EventKind.HOLD: "#c92a2a",
    EventKind.RELEASE: "#c92a2a", EventKind.SNAPSHOT: "#862e9c", EventKind.PURGE: "#e67700",
    EventKind.FAULT: "#e67700", EventKind.TIMEOUT: "#c92a2a", EventKind.APP: "#1c7ed6",
    EventKind.COPY: "#495057", EventKind.STATE: "#868e96", EventKind.NOTE: "#495057",
}
_STYLE = """
text { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 11px; fill: #212529; }
.actor { font-weight: bold; font-size: 12px; }
.lane line { stroke: #adb5bd; stroke-dasharray: 4 3; }
.time { fill: #868e96; font-size: 10px; }
.freeze { fill: #4dabf7; fill-opacity: 0.22; stroke: #1c7ed6; stroke-opacity: 0.6; }
.hold { fill: #ff8787; fill-opacity: 0.18; stroke: #c92a2a; stroke-opacity: 0.6; }
.window-label { font-size: 10px; font-style: italic; }
.event:hover text { font-weight: bold; }
"""


def _x(lane: int) -> float:
    return _LEFT + lane * _LANE_W + _LANE_W / 2


def _y(row: int) -> float:
    return _TOP + row * _ROW_H + _ROW_H / 2


def _label(actor: str) -> str:
    return actor if len(actor) <= 22 else actor[:20] + "…"


def render_svg(events: Iterable[TraceEvent], *, title: str = "",
               skip: Iterable[EventKind] = ()) -> str:
    """Render ``events`` as an SVG document (a string)."""
    lay = layout(events, skip=skip)
    width = _LEFT + max(1, len(lay.actors)) * _LANE_W + 20
    height = _TOP + max(1, len(lay.rows)) * _ROW_H + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
           f"<title>{escape(title or 'vsssim timeline')}</title>",
           f"<style>{_STYLE}</style>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#495057"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    if title:
        out.append(f'<text x="10" y="20" class="actor">{escape(title)}</text>')
    bottom = _TOP + len(lay.rows) * _ROW_H
    for w in lay.windows:
        y0 = _TOP + w.first * _ROW_H + 2
        y1 = _TOP + (w.last + 1) * _ROW_H - 2
        text = (f"{'freeze' if w.kind == 'freeze' else 'writes held'} "
                f"{w.duration:.3f} s" + ("" if w.closed else " (open)"))
        if w.kind == "freeze" and w.actor in lay.actors:
            x = _x(lay.lane(w.actor)) - _LANE_W / 2 + 8
            out.append(f'<g class="window freeze-window" data-actor={quoteattr(w.actor)}>'
                       f'<rect class="freeze" x="{x:.1f}" y="{y0:.1f}" '
                       f'width="{_LANE_W - 16}" height="{y1 - y0:.1f}" rx="4"/>'
                       f'<text class="window-label" x="{x + 4:.1f}" y="{y0 + 11:.1f}">'
                       f"{escape(text)}</text></g>")
        else:
            out.append(f'<g class="window hold-window" data-actor="kernel">'
                       f'<rect class="hold" x="{_LEFT - 6}" y="{y0:.1f}" '
                       f'width="{width - _LEFT - 8}" height="{y1 - y0:.1f}" rx="4"/>'
                       f'<text class="window-label" x="{_LEFT - 2}" y="{y1 - 4:.1f}">'
                       f"{escape(text)}</text></g>")
    for i, actor in enumerate(lay.actors):
        x = _x(i)
        out.append(f'<g class="lane" data-actor={quoteattr(actor)}>'
                   f'<text class="actor" x="{x:.1f}" y="{_TOP - 12}" text-anchor="middle">'
                   f"{escape(_label(actor))}<title>{escape(actor)}</title></text>"
                   f'<line x1="{x:.1f}" y1="{_TOP - 4}" x2="{x:.1f}" y2="{bottom}"/></g>')
    for r, row in enumerate(lay.rows):
        e = row.event
        y = _y(r)
        color = _COLORS.get(e.kind, "#495057")
        tip = escape(f"#{e.seq} {e.time:.3f} s {e.kind.value}: {e.source} -> {e.target} "
                     f"{e.name}" + (f" ({e.detail})" if e.detail else ""))
        parts = [f'<g class="event" data-seq="{e.seq}" data-name={quoteattr(e.name)} '
                 f'data-kind="{e.kind.value}"><title>{tip}</title>',
                 f'<text class="time" x="6" y="{y + 4:.1f}">{e.time:8.3f}s</text>']
        x0, x1 = _x(row.start), _x(row.end)
        if row.start == row.end:
            parts.append(f'<path d="M {x0 - 5:.1f} {y:.1f} L {x0:.1f} {y - 5:.1f} '
                         f'L {x0 + 5:.1f} {y:.1f} L {x0:.1f} {y + 5:.1f} z" fill="{color}"/>')
            parts.append(f'<text x="{x0 + 9:.1f}" y="{y + 4:.1f}" fill="{color}">'
                         f"{escape(e.name)}</text>")
        else:
            dash = ' stroke-dasharray="5 3"' if e.kind in BACKWARD_KINDS else ""
            parts.append(f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" '
                         f'stroke="{color}" stroke-width="1.5" marker-end="url(#arrow)"{dash}/>')
            mid = (x0 + x1) / 2
            parts.append(f'<text x="{mid:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                         f'fill="{color}">{escape(e.name)}</text>')
        parts.append("</g>")
        out.append("".join(parts))
    out.append("</svg>")
    return "\n".join(out) + "\n"
