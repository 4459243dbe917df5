"""Mermaid diagrams: a ``sequenceDiagram`` of a trace and ``stateDiagram-v2`` of a state table.

The output is plain text (paste it into any Mermaid renderer, or a Markdown file on GitHub); it
depends only on the events, so the same trace always gives the same diagram.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from vsssim.trace import EventKind, TraceEvent

__all__ = ["render_sequence", "render_state_diagram"]

_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


def _ident(name: str, used: dict[str, str]) -> str:
    if name in used:
        return used[name]
    base = _UNSAFE.sub("_", name).strip("_") or "actor"
    if base[0].isdigit():
        base = "a_" + base
    ident, n = base, 2
    while ident in used.values():
        ident, n = f"{base}_{n}", n + 1
    used[name] = ident
    return ident


def _text(s: str) -> str:
    # Characters that end or confuse a Mermaid message; '#' starts an entity code.
    return (
        s.replace("#", "#35;")
        .replace(";", "#59;")
        .replace("\n", " ")
        .replace(":", "#58;")
        .strip()
    )


def _message(e: TraceEvent) -> str:
    return _text(f"{e.name} ({e.detail})" if e.detail and e.kind != EventKind.EVENT else e.name)


def _window_marks(evs: list[TraceEvent]) -> tuple[dict[int, list[str]], dict[int, int]]:
    """Where to open and close ``rect`` blocks: the freeze window (from the first writer's
    Freeze to the last writer's Thaw) and, nested in it, the hold window.  Mermaid blocks must
    nest, so a hold window that is not inside the freeze window is left unmarked."""
    from vsssim.render.lanes import layout

    windows = layout(evs).windows
    opens: dict[int, list[str]] = {}
    closes: dict[int, int] = {}
    freezes = [w for w in windows if w.kind == "freeze"]
    spans: list[tuple[int, int, str]] = []
    if freezes:
        spans.append((min(w.first for w in freezes), max(w.last for w in freezes),
                      "rect rgba(77, 171, 247, 0.15)"))
    for w in windows:
        if w.kind == "hold" and (not spans or spans[0][0] <= w.first <= w.last <= spans[0][1]):
            spans.append((w.first, w.last, "rect rgba(255, 135, 135, 0.25)"))
    for first, last, text in spans:
        opens.setdefault(first, []).append(text)
        closes[last] = closes.get(last, 0) + 1
    return opens, closes


def render_sequence(events: Iterable[TraceEvent], *, title: str | None = None,
                    windows: bool = False) -> str:
    """Render a trace as a Mermaid ``sequenceDiagram``.

    Calls and events are solid arrows, replies and results dashed ones; holds, releases,
    purges, faults, timeouts and state changes are notes over the actor concerned.  With
    ``windows`` the freeze window is a blue ``rect`` block and the hold window a red one
    inside it.
    """
    evs = list(events)
    opens, closes = _window_marks(evs) if windows else ({}, {})
    ids: dict[str, str] = {}
    order: list[str] = []
    for e in evs:
        for actor in (e.source, e.target):
            if actor not in ids:
                _ident(actor, ids)
                order.append(actor)
    lines = ["sequenceDiagram"]
    if title:
        lines.append(f"    title {_text(title)}")
    for actor in order:
        label = _text(actor)
        lines.append(f"    participant {ids[actor]} as {label}" if label != ids[actor]
                     else f"    participant {ids[actor]}")
    for i, e in enumerate(evs):
        lines.extend(f"    {text}" for text in opens.get(i, ()))
        src, dst = ids[e.source], ids[e.target]
        if e.kind in (EventKind.CALL, EventKind.EVENT, EventKind.PROVIDER, EventKind.COPY):
            lines.append(f"    {src}->>{dst}: {_message(e)}")
        elif e.kind in (EventKind.REPLY, EventKind.RESULT):
            lines.append(f"    {src}-->>{dst}: {_message(e)}")
        elif e.kind == EventKind.STATE:
            lines.append(f"    Note over {src}: {_text(str(e.get('state', e.name)))}")
        elif e.kind in (EventKind.HOLD, EventKind.RELEASE):
            lines.append(f"    Note over {src},{dst}: {_message(e)}")
        else:
            where = src if src == dst else f"{src},{dst}"
            lines.append(f"    Note over {where}: {_text(e.kind.value)} {_message(e)}")
        lines.extend("    end" for _ in range(closes.get(i, 0)))
    return "\n".join(lines) + "\n"


def render_state_diagram(
    transitions: Mapping[str, Mapping[str, str]],
    *,
    initial: str | None = None,
    final: Iterable[str] = (),
    title: str | None = None,
) -> str:
    """Render ``{state: {label: next_state}}`` as a Mermaid ``stateDiagram-v2``.

    States and labels are emitted in sorted order so the text is stable (docs are checked for
    being in sync with the tables by comparing this output).
    """
    ids: dict[str, str] = {}
    lines = ["stateDiagram-v2"]
    if title:
        lines.insert(0, f"---\ntitle: {title}\n---")
    states = sorted(set(transitions) | {s for m in transitions.values() for s in m.values()})
    for state in states:
        ident = _ident(state, ids)
        if ident != state:
            lines.append(f"    state \"{state}\" as {ident}")
    if initial is not None:
        lines.append(f"    [*] --> {_ident(initial, ids)}")
    for state in sorted(transitions):
        for label, nxt in sorted(transitions[state].items()):
            lines.append(f"    {_ident(state, ids)} --> {_ident(nxt, ids)}: {_text(label)}")
    for state in sorted(final):
        lines.append(f"    {_ident(state, ids)} --> [*]")
    return "\n".join(lines) + "\n"
