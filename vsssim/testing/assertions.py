"""Assertions for VSS tests, with failure messages that show expected against actual.

Each one raises :class:`AssertionError` (so pytest reports it as a test failure) whose message
is a small diff a person can read without the debugger: the event names side by side, a table
of writer states, the volumes that were read, the files that differ.

* :func:`assert_event_order`: events happened in this order (writer events, requester calls,
  provider calls, or anything in the trace);
* :func:`assert_writer_states`: the writers' ``VSS_WRITER_STATE`` (and failure) as
  ``GetWriterStatus`` reports it, or as the trace last recorded it;
* :func:`assert_no_live_reads`: a requester copied from the shadow copies, never from the live
  volumes;
* :func:`assert_consistent_restore`: restoring a backup put back the bytes the backup copied
  from the shadow copy (and, optionally, the application's own check passes).
"""

from __future__ import annotations

import difflib
import hashlib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload
from uuid import UUID

from vsssim import hresult as hr
from vsssim.constants import WriterState
from vsssim.testing._support import live_reads, reads_since
from vsssim.trace import EventKind, Trace, TraceEvent

if TYPE_CHECKING:
    from vsssim.backup import BackupResult
    from vsssim.documents import WriterStatus
    from vsssim.requester import BackupComponents
    from vsssim.restore import RestoreResult
    from vsssim.system import VssSystem

__all__ = [
    "LiveReadsCheck",
    "assert_consistent_restore",
    "assert_event_order",
    "assert_no_live_reads",
    "assert_writer_states",
]

#: Anything with a trace: a :class:`Trace`, a ``BackupResult``/``RestoreResult``, a
#: ``VssSystem``, or trace events.
TraceSource = Trace | Iterable[TraceEvent] | Any
#: An expected writer state: a ``WriterState``, its name (``"STABLE"``) or number, or a
#: ``(state, failure)`` pair whose failure is an HRESULT or its name.
ExpectedState = WriterState | str | int | tuple[WriterState | str | int, int | str]

_MAX_LINES = 60


def _trace_of(source: TraceSource) -> Trace:
    if isinstance(source, Trace):
        return source
    inner = getattr(source, "trace", None)
    if isinstance(inner, Trace):
        return inner
    if isinstance(source, Iterable) and not isinstance(source, str | bytes):
        return Trace(source)
    raise TypeError(f"expected a Trace, a BackupResult/RestoreResult, a VssSystem or trace "
                    f"events, not {type(source).__name__}")


def _clip(lines: list[str], limit: int = _MAX_LINES) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"    ... {len(lines) - limit} more lines"]


# ---------------------------------------------------------------------------- event order
def assert_event_order(
    trace: TraceSource,
    expected: Sequence[str],
    *,
    writer: str | None = None,
    kind: EventKind | str | None = None,
    source: str | None = None,
    target: str | None = None,
    exact: bool = False,
) -> None:
    """Assert that events named ``expected`` happened in that order.

    ``trace``: a :class:`~vsssim.trace.Trace`, a backup or restore result, a ``VssSystem`` or
    trace events.  Which events count: with ``writer``, the writer events delivered to that
    writer (``Trace.writer_events``); otherwise the events matching ``kind``, ``source`` and
    ``target`` (as in ``Trace.filter``), or every event.  By default ``expected`` need only be
    a subsequence (other events may come between and around them); with ``exact=True`` the
    counted events must be ``expected`` and nothing else.

    On failure the message shows expected against actual as a diff (``-`` expected but not
    there, ``+`` there but not expected), the actual events restricted to the expected names
    unless ``exact``::

        assert_event_order(result, ["PrepareForBackup", "PrepareForSnapshot", "Freeze",
                                    "Thaw", "PostSnapshot", "BackupComplete"],
                           writer="KvStore Writer")
        assert_event_order(result, ["DoSnapshotSet", "BackupComplete"], kind="call")
        assert_event_order(system, ["Identify", "BackupShutdown"], writer="W", exact=True)
    """
    __tracebackhide__ = True  # pytest: show the caller's line
    events_of = _trace_of(trace)
    if isinstance(expected, str):
        raise TypeError("expected is a list of event names, not one string")
    want = list(expected)
    if writer is not None:
        events = [e for e in events_of if e.kind == EventKind.EVENT and e.target == writer]
        what = f"writer events of {writer!r}"
    else:
        events = list(events_of.filter(kind=kind, source=source, target=target))
        what = "events" + (f" of kind {str(kind)!r}" if kind is not None else "") + (
            f" from {source!r}" if source is not None else "") + (
            f" to {target!r}" if target is not None else "")
    names = [e.name for e in events]
    if exact:
        shown = names
        ok = names == want
    else:
        wanted = set(want)
        shown = [n for n in names if n in wanted]
        it = iter(shown)
        ok = all(any(n == w for n in it) for w in want)  # subsequence test
    if ok:
        return
    lines = [f"{what}: {'not exactly' if exact else 'not in'} the expected order",
             f"  expected: {', '.join(want) or '(none)'}",
             f"  actual:   {', '.join(shown) or '(none)'}"
             + ("" if exact else "   (only the expected names)")]
    missing = [w for w in dict.fromkeys(want) if names.count(w) < want.count(w)]
    if missing:
        lines.append(f"  missing:  {', '.join(missing)}")
    lines.append("  diff (- expected, + actual):")
    lines += _clip([f"    {d}" for d in difflib.ndiff(want, shown) if not d.startswith("?")])
    if events:
        lines.append("  the events:")
        lines += _clip([f"    {e}" for e in events if exact or e.name in set(want)], 30)
    raise AssertionError("\n".join(lines))


# ---------------------------------------------------------------------------- writer states
def _state(value: WriterState | str | int) -> WriterState:
    if isinstance(value, WriterState):
        return value
    if isinstance(value, str):
        key = value.upper().removeprefix("VSS_WS_")
        try:
            return WriterState[key]
        except KeyError:
            raise ValueError(f"{value!r} is not a writer state (one of "
                             f"{', '.join(s.name for s in WriterState)})") from None
    return WriterState(value)


def _hresult(value: int | str) -> int:
    if isinstance(value, str):
        code = getattr(hr, value, None)
        if not isinstance(code, int):
            raise ValueError(f"{value!r} is not an HRESULT name of vsssim.hresult")
        return hr.to_unsigned(code)
    return hr.to_unsigned(value)


def _describe(state: WriterState | None, failure: int | None) -> str:
    if state is None:
        return "(not reported)"
    text = state.name
    if failure:
        text += f" ({hr.name_of(failure)})"
    return text


def _statuses(source: Any) -> tuple[dict[str, tuple[WriterState, int]], str]:
    """``{writer label: (state, failure)}`` and where it came from."""
    out: dict[str, tuple[WriterState, int]] = {}
    status: Sequence[WriterStatus] | None = None
    if isinstance(source, Sequence) and not isinstance(source, str) and all(
            hasattr(s, "state") and hasattr(s, "writer_name") for s in source):
        status = source
    elif hasattr(source, "legal_calls"):  # a BackupComponents
        try:
            status = source.writer_status
        except Exception as exc:
            raise AssertionError(
                f"no writer status to check ({exc}): call "
                "bc.gather_writer_status().wait() first") from None
    elif isinstance(getattr(source, "writer_status", None), list):
        status = source.writer_status  # a BackupResult or RestoreResult
    if status is not None:
        for s in status:
            label = f"{s.writer_name} ({s.instance_name})" if s.instance_name else s.writer_name
            out[label] = (WriterState(s.state), hr.to_unsigned(int(s.failure)))
        return out, "GetWriterStatus"
    for e in _trace_of(source).filter(kind=EventKind.STATE):
        state = e.get("state")
        if state is None or e.get("event") is None:
            continue
        failure = e.get("failure")
        out[e.source] = (WriterState[str(state)],
                         hr.to_unsigned(int(failure)) if isinstance(failure, int) else 0)
    return out, "the trace (the last state recorded per writer)"


def assert_writer_states(
    source: BackupComponents | BackupResult | RestoreResult | VssSystem | Trace
    | Sequence[WriterStatus],
    expected: Mapping[str | UUID, ExpectedState],
    *,
    exact: bool = False,
) -> None:
    """Assert each writer's ``VSS_WRITER_STATE`` (and, if given, its failure).

    ``source``: a ``BackupComponents`` after ``gather_writer_status()`` (what
    ``GetWriterStatus`` reports), a backup or restore result (the status gathered last), a list
    of ``WriterStatus``, or a ``VssSystem`` / ``Trace`` (the last state the trace recorded for
    each writer).  ``expected`` maps a writer's name (``"Name (instance)"`` for a named
    instance) to a state (``WriterState.STABLE``, ``"FAILED_AT_FREEZE"``, ``"VSS_WS_STABLE"``)
    or to ``(state, failure)``, the failure an HRESULT or its name.  Writers not in ``expected``
    are not checked unless ``exact``, when every reported writer must be expected.

    The failure message is a table of every writer, the differing rows marked::

        assert_writer_states(result, {"KvStore Writer": "STABLE"})
        bc.gather_writer_status().wait()
        assert_writer_states(bc, {"Veto Writer": ("FAILED_AT_FREEZE",
                                                  "VSS_E_WRITERERROR_RETRYABLE")})
    """
    __tracebackhide__ = True  # pytest: show the caller's line
    actual, origin = _statuses(source)
    rows: list[tuple[str, str, str, bool]] = []
    for key, value in expected.items():
        name = str(key)
        if isinstance(key, UUID):
            name = _label_for_id(source, key) or name
        if isinstance(value, tuple):
            want_state, want_failure = _state(value[0]), _hresult(value[1])
        else:
            want_state, want_failure = _state(value), None
        got = actual.get(name)
        if got is None:
            rows.append((name, _describe(want_state, want_failure), "(not reported)", True))
            continue
        differs = got[0] != want_state or (want_failure is not None and got[1] != want_failure)
        shown_want = _describe(want_state, want_failure) if want_failure is not None \
            else want_state.name
        rows.append((name, shown_want, _describe(*got), differs))
    named = {r[0] for r in rows}
    for name, got in actual.items():
        if name not in named:
            rows.append((name, "(not expected)" if exact else "(not checked)", _describe(*got),
                         exact))
    if not any(r[3] for r in rows):
        return
    width = max([len("writer"), *(len(r[0]) for r in rows)])
    wexp = max([len("expected"), *(len(r[1]) for r in rows)])
    lines = [f"writer states differ (actual from {origin}):",
             f"     {'writer':<{width}}  {'expected':<{wexp}}  actual"]
    lines += [f"  {'!!' if d else '  '} {n:<{width}}  {e:<{wexp}}  {a}" for n, e, a, d in rows]
    raise AssertionError("\n".join(lines))


def _label_for_id(source: Any, key: UUID) -> str | None:
    status = getattr(source, "writer_status", None)
    if isinstance(status, list):
        for s in status:
            if key in (s.instance_id, s.writer_id):
                return f"{s.writer_name} ({s.instance_name})" if s.instance_name \
                    else str(s.writer_name)
    return None


# ---------------------------------------------------------------------------- live reads
class LiveReadsCheck:
    """The ``with`` block of :func:`assert_no_live_reads` on a machine: counts the reads of
    every live volume (``Volume.stats.reads``; reads through a shadow copy are not counted)
    between entering and leaving, and fails on leaving if there were any."""

    def __init__(self, system: VssSystem) -> None:
        self.system = system
        self.before: dict[str, int] | None = None
        self.reads: dict[str, int] = {}
        self._entered = False

    def __enter__(self) -> LiveReadsCheck:
        self._entered = True
        self.before = live_reads(self.system)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        before, self.before = self.before or {}, None
        if exc_type is not None:
            return  # the block's own error says more
        self.reads = reads_since(self.system, before)
        if self.reads:
            rows = [f"    {name}: {count} read(s)" for name, count in self.reads.items()]
            raise AssertionError("\n".join([
                f"{sum(self.reads.values())} read(s) of the live volumes inside the block:",
                *rows,
                "  copy the files from the shadow copies (system.shadow_fs(snapshot_id), or paths "
                "under the snapshot device), never from the live volume; reads by applications "
                "running meanwhile count too (stop their background threads for the block)"]))

    def __del__(self) -> None:
        if not getattr(self, "_entered", True):
            warnings.warn("assert_no_live_reads(system) checks nothing unless used as "
                          "'with assert_no_live_reads(system): ...'", RuntimeWarning,
                          stacklevel=1)


@overload
def assert_no_live_reads(source: VssSystem) -> LiveReadsCheck: ...
@overload
def assert_no_live_reads(source: BackupResult) -> None: ...
def assert_no_live_reads(source: VssSystem | BackupResult) -> LiveReadsCheck | None:
    """Assert that a backup read only the shadow copies, never the live volumes.

    With a ``BackupResult`` (from ``system.backup``) it checks at once that its file copy read
    nothing from the live volumes.  With a ``VssSystem`` it returns a context manager that
    checks your own requester code: every read of a live volume between entering and leaving
    fails the assertion, naming the volumes::

        assert_no_live_reads(system.backup(["C:\\\\"], target_dir=tmp_path))

        bc.do_snapshot_set().wait()
        with assert_no_live_reads(system):
            copy_files_from(system.shadow_fs(snapshot_id))   # your copy loop

    (Calling it on a machine without ``with`` checks nothing and warns.)
    """
    __tracebackhide__ = True  # pytest: show the caller's line
    if hasattr(source, "coordinator") and hasattr(source, "volumes"):
        return LiveReadsCheck(source)  # type: ignore[arg-type]
    count = getattr(source, "live_reads", None)
    if not isinstance(count, int):
        raise TypeError(f"assert_no_live_reads takes a VssSystem (as a with block) or a "
                        f"BackupResult, not {type(source).__name__}")
    if count:
        raise AssertionError(
            f"the backup read the live volumes {count} time(s) while copying files "
            "(BackupResult.live_reads): files must be read from the shadow copies")
    return None


# ------------------------------------------------------------------------ consistent restore
def _read_live(system: VssSystem, path: str) -> bytes | None:
    vol = system.volume_of_path(path)
    fs = getattr(vol.device, "fs", None) if vol is not None else None
    if fs is None or not fs.exists(path):
        return None
    data: bytes = fs.read_file(path)
    return data


def assert_consistent_restore(
    system: VssSystem,
    backup: BackupResult,
    restore: RestoreResult | None = None,
    *,
    check: Callable[[VssSystem], object] | None = None,
    **restore_kwargs: Any,
) -> RestoreResult:
    """Assert that restoring ``backup`` put back exactly what the backup copied.

    Without ``restore`` it restores ``backup`` first (``system.restore(backup,
    **restore_kwargs)``, and ``system.reboot()`` if files were staged for the next boot).  Then:
    the restore succeeded and no component was only partly restored; every file the restore
    wrote holds the bytes the backup read from the shadow copy (SHA-256 of
    ``BackupResult.files``), at its destination on the live volume; and ``check(system)``, your
    application's own consistency check, neither raises ``AssertionError`` nor returns False.
    Returns the restore result.  Files staged for a reboot that has not happened yet are
    reported as such.

    Check right after the restore: an application that writes after its restart changes the
    files (use ``check`` for the application-level question)::

        backup = system.backup(["C:\\\\"], target_dir=tmp_path / "b")
        app.store.put(b"k", b"v2")                          # changes after the backup
        assert_consistent_restore(system, backup, check=lambda s: app.state[b"k"] == b"v1")
    """
    __tracebackhide__ = True  # pytest: show the caller's line
    from vsssim.backup import BackupResult
    from vsssim.constants import FileRestoreStatus
    from vsssim.restore import RestoreResult
    from vsssim.system import VssSystem

    if not isinstance(system, VssSystem):
        raise TypeError(f"assert_consistent_restore(system, backup, ...): system must be a "
                        f"VssSystem, not {type(system).__name__}")
    if not isinstance(backup, BackupResult):
        raise TypeError(f"backup must be the BackupResult to restore, not "
                        f"{type(backup).__name__}")
    if restore is not None and not isinstance(restore, RestoreResult):
        raise TypeError(f"restore must be a RestoreResult or None, not {type(restore).__name__}")
    if check is not None and not callable(check):
        raise TypeError(f"check must be a function of the system, not {check!r}")
    if restore is None:
        restore = system.restore(backup, **restore_kwargs)
        if restore.pending_reboot:
            system.reboot()
    elif restore_kwargs:
        raise TypeError("restore keywords are for the restore this function runs; "
                        "it was given a RestoreResult")
    problems: list[str] = []
    if not restore.succeeded:
        problems.append(f"the restore failed: {restore.error or 'see its summary'}")
    for c in restore.components:
        if c.status in (FileRestoreStatus.FAILED, FileRestoreStatus.NONE) and c.files:
            problems.append(f"{c.writer} / {c.component}: {c.status.name}"
                            + (f" ({c.message})" if c.message else ""))
    by_target = {f.target: f for f in backup.files}
    pending = {dest.lower() for _, dest in system.pending_renames}
    checked = 0
    for f in restore.files:
        original = by_target.get(f.source)
        if original is None:
            continue
        if f.destination.lower() in pending:
            problems.append(f"{f.destination}: staged for the next reboot (call "
                            "system.reboot() before checking)")
            continue
        data = _read_live(system, f.destination)
        checked += 1
        if data is None:
            problems.append(f"{f.destination}: missing after the restore "
                            f"(backed up {original.size} bytes from {original.snapshot_path})")
        elif hashlib.sha256(data).hexdigest() != original.sha256:
            problems.append(f"{f.destination}: {len(data)} bytes, not the {original.size} "
                            f"bytes backed up from {original.snapshot_path} "
                            f"(sha256 {hashlib.sha256(data).hexdigest()[:12]}... != "
                            f"{original.sha256[:12]}...)")
    if check is not None:
        try:
            ok = check(system)
        except AssertionError as exc:
            problems.append(f"the consistency check failed: {exc}")
        else:
            if ok is False:
                problems.append("the consistency check returned False")
    if problems:
        raise AssertionError("\n".join([
            f"the restore of the backup of set {{{backup.snapshot_set_id}}} is not consistent "
            f"({checked} restored file(s) compared):", *_clip([f"  - {p}" for p in problems]),
            "  restore summary:", *(f"    {line}" for line in restore.summary().splitlines())]))
    return restore
