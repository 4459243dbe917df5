"""Saved runs: the trace of each command that drove VSS, as JSON lines under ``<root>/runs``.

``runs/<n>.jsonl`` starts with a header line (``{"run": n, "command": "...", "title": "..."}``)
followed by one line per :class:`~vsssim.trace.TraceEvent`.  ``vsssim trace show|mermaid|svg
[RUN]`` reads them back (the last run by default).  :func:`event_to_json` and
:func:`event_from_json` are the round trip of a ``TraceEvent`` (``vsssim.trace`` has none); a
damaged line is reported with its line number, never half-loaded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsssim.cli.machine import CONFIG_FILE
from vsssim.trace import EventKind, Scalar, Trace, TraceEvent

__all__ = ["KEEP_RUNS", "RUNS_DIR", "RunError", "SavedRun", "event_from_json", "event_to_json",
           "list_runs", "load_run", "save_run"]

RUNS_DIR = "runs"
#: How many runs are kept; saving one more deletes the oldest (an ``app run --every`` session
#: saves a run per command, for hours).
KEEP_RUNS = 100
_NAME = re.compile(r"^(\d+)\.jsonl$")


class RunError(ValueError):
    """A run that does not exist or cannot be read (``ValueError``: bad user input)."""


def event_to_json(event: TraceEvent) -> dict[str, Any]:
    """A JSON-ready dict of ``event`` (``data`` as a list of pairs, keeping its order)."""
    return {"seq": event.seq, "time": event.time, "source": event.source,
            "target": event.target, "kind": event.kind.value, "name": event.name,
            "detail": event.detail, "data": [[k, v] for k, v in event.data]}


def _scalar(value: object) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"data value {value!r} is not a scalar")


def event_from_json(item: object) -> TraceEvent:
    """The inverse of :func:`event_to_json` (``ValueError`` on anything malformed)."""
    if not isinstance(item, dict):
        raise ValueError("an event must be a JSON object")
    try:
        data = tuple((str(k), _scalar(v)) for k, v in item.get("data", []))
        seq, time = item["seq"], item["time"]
        if not isinstance(seq, int) or isinstance(seq, bool) or \
                not isinstance(time, int | float) or isinstance(time, bool):
            raise ValueError("seq must be an integer and time a number")
        return TraceEvent(seq=seq, time=float(time), source=str(item["source"]),
                          target=str(item["target"]), kind=EventKind(item["kind"]),
                          name=str(item["name"]), detail=str(item.get("detail", "")), data=data)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed event ({exc})") from None


@dataclass(frozen=True)
class SavedRun:
    """One saved run: its number, the command that made it, a title and its trace."""

    number: int
    command: str
    title: str
    trace: Trace


def _dir(root: Path) -> Path:
    return root / RUNS_DIR


def list_runs(root: str | os.PathLike[str]) -> list[int]:
    """The numbers of the saved runs, oldest first."""
    directory = _dir(Path(root))
    if not directory.is_dir():
        return []
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := _NAME.match(p.name)))


def save_run(root: str | os.PathLike[str], events: Iterable[TraceEvent], *, command: str,
             title: str = "") -> int:
    """Save a run's events as the next run number (the oldest beyond :data:`KEEP_RUNS` are
    deleted); returns the number."""
    directory = _dir(Path(root))
    directory.mkdir(parents=True, exist_ok=True)
    runs = list_runs(root)
    number = (runs[-1] + 1) if runs else 1
    lines = [json.dumps({"run": number, "command": command, "title": title or command})]
    lines.extend(json.dumps(event_to_json(e)) for e in events)
    tmp = directory / f".{number}.jsonl.tmp"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, directory / f"{number}.jsonl")
    for old in [*runs, number][:-KEEP_RUNS]:
        (directory / f"{old}.jsonl").unlink(missing_ok=True)
    return number


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def load_run(root: str | os.PathLike[str], number: int | None = None) -> SavedRun:
    """Read run ``number`` (default: the last one)."""
    runs = list_runs(root)
    if not runs:
        hint = ("run a vssadmin or diskshadow command, or a demo, first"
                if (Path(root) / CONFIG_FILE).exists() else
                f"there is no lab machine at {root} yet (a demo without one saves nothing): "
                f"create it with `vsssim --root {root} init`")
        raise RunError(f"no saved runs in {Path(root) / RUNS_DIR}: {hint}")
    if number is None:
        number = runs[-1]
    if number not in runs:
        raise RunError(f"there is no run {number}; saved runs: {_ranges(runs)}")
    path = _dir(Path(root)) / f"{number}.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None
    events = []
    header: dict[str, Any] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if lineno == 1:
                if not isinstance(item, dict) or "run" not in item:
                    raise ValueError("the first line must be the run header")
                header = item
            else:
                events.append(event_from_json(item))
        except ValueError as exc:
            raise RunError(f"{path} line {lineno} is damaged: {exc}") from None
    return SavedRun(number, str(header.get("command", "")), str(header.get("title", "")),
                    Trace(events))
