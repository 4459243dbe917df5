"""Trace events and the questions you can ask of them.

Everything the simulator does that a VSS student or a test might want to see becomes an immutable
:class:`TraceEvent`: requester calls, writer events and their replies, writer state changes,
provider calls, flush-and-hold and release, copy-on-write milestones (a snapshot purged because the
diff area is full), injected faults and timeouts.  A :class:`Tracer` stamps each event with a
sequence number and the clock's time and hands it to its observers, in order, synchronously.
Tracing, timelines and invariant checks are observers, not code inside the coordinator.

:class:`Trace` is the observer that keeps events and answers questions about them
(``events_for(writer)``, ``writer_states(writer)``, ``between("Freeze", "Thaw")``) and renders them
(:meth:`Trace.to_text`, :meth:`Trace.to_mermaid`).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from operator import attrgetter
from typing import Any, Protocol, cast, overload, runtime_checkable

from vsssim.clock import Clock

__all__ = [
    "EventKind",
    "Observer",
    "Scalar",
    "Trace",
    "TraceEvent",
    "Tracer",
]

Scalar = str | int | float | bool | None


class EventKind(StrEnum):
    """What a trace event records."""

    CALL = "call"  #: a requester call into VSS (``source`` is the requester)
    RESULT = "result"  #: the outcome of a requester call or asynchronous operation
    EVENT = "event"  #: VSS delivers a writer event (``target`` is the writer)
    REPLY = "reply"  #: a writer's handler returned (``source`` is the writer)
    STATE = "state"  #: a writer's or a session's state changed
    PROVIDER = "provider"  #: VSS calls a provider method
    HOLD = "hold"  #: the kernel starts holding writes on the volumes of a set
    RELEASE = "release"  #: the kernel releases held writes
    SNAPSHOT = "snapshot"  #: a shadow copy was created, deleted, exposed, reverted, ...
    PURGE = "purge"  #: the system provider purged a shadow copy (diff area full, count limit)
    FAULT = "fault"  #: an injected fault fired
    TIMEOUT = "timeout"  #: a time window expired (freeze window, hold window)
    APP = "app"  #: application activity (writes, suspend, resume, service stop/start)
    COPY = "copy"  #: files copied (backup or restore)
    NOTE = "note"  #: anything else worth seeing on a timeline


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEvent:
    """One immutable record of the trace.

    ``seq`` orders events totally; ``time`` is clock seconds; ``source`` and ``target`` name the
    actors ("requester", "VSS", a writer's name, a provider's name, "kernel", a volume);
    ``name`` is the API name (``"DoSnapshotSet"``, ``"Freeze"``, ``"CommitSnapshots"``);
    ``detail`` is a short human sentence; ``data`` holds extra typed facts as (key, value) pairs.
    """

    seq: int
    time: float
    source: str
    target: str
    kind: EventKind
    name: str
    detail: str = ""
    data: tuple[tuple[str, Scalar], ...] = ()

    def get(self, key: str, default: Scalar = None) -> Scalar:
        """The value of ``key`` in :attr:`data`, or ``default``."""
        for k, v in self.data:
            if k == key:
                return v
        return default

    def involves(self, actor: str) -> bool:
        """True if ``actor`` is the source or the target of this event."""
        return actor in (self.source, self.target)

    def __str__(self) -> str:
        extra = f"  {self.detail}" if self.detail else ""
        head = f"{self.time:10.6f} #{self.seq:<4} {self.source} -> {self.target}"
        return f"{head}: {self.name}{extra}"


def _slot_setters() -> tuple[Callable[[TraceEvent, object], None], ...]:
    """The ``__set__`` of each slot of :class:`TraceEvent`, in field order (for ``emit``)."""
    names = tuple(f.name for f in fields(TraceEvent))
    if names != ("seq", "time", "source", "target", "kind", "name", "detail", "data"):
        raise RuntimeError(f"Tracer.emit sets TraceEvent's fields by hand; update it for {names}")
    return tuple(getattr(TraceEvent, n).__set__ for n in names)


_new_event = object.__new__
_SEQ = attrgetter("seq")  # a C key function for since()'s binary search
(_set_seq, _set_time, _set_source, _set_target, _set_kind, _set_name, _set_detail,
 _set_data) = _slot_setters()


@runtime_checkable
class Observer(Protocol):
    """Receives every trace event, synchronously and in order."""

    def on_trace_event(self, event: TraceEvent) -> None: ...


ObserverLike = Observer | Callable[[TraceEvent], None]


_KINDS: tuple[EventKind, ...] = tuple(EventKind)
_KIND_SET: frozenset[object] = frozenset(_KINDS)
_Subscription = tuple[Callable[[TraceEvent], None], frozenset[EventKind] | None]


class _Routes(dict[object, tuple[Callable[[TraceEvent], None], ...]]):
    """The observers of each event kind, in the order they subscribed (a kind outside
    :class:`EventKind` goes to the observers of every kind)."""

    __slots__ = ("_every",)

    def __init__(self, subscriptions: Sequence[_Subscription]) -> None:
        super().__init__(dict.fromkeys(_KINDS, ()))
        self._every: tuple[Callable[[TraceEvent], None], ...] = ()
        for fn, kinds in subscriptions:
            for kind in _KINDS if kinds is None else kinds:
                self[kind] += (fn,)
            if kinds is None:
                self._every += (fn,)

    def __missing__(self, kind: object) -> tuple[Callable[[TraceEvent], None], ...]:
        return self._every


class Tracer:
    """Stamps events with a sequence number and the clock's time and fans them out."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._seq = 0  # the last sequence number given (under the lock)
        # Each subscription (its function and its kinds, None: every kind), in order, and the
        # observers of each kind made from them.  Both are replaced (under the lock) on
        # subscribe and unsubscribe: emit reads the routes once and needs no copy to deliver
        # outside the lock.
        self._subscriptions: tuple[_Subscription, ...] = ()
        self._routes = _Routes(())
        self._lock = threading.RLock()

    def subscribe(self, observer: ObserverLike, *,
                  kinds: Iterable[EventKind] | None = None) -> Callable[[], None]:
        """Add an observer; returns a function that removes it again.

        ``kinds``: the kinds of event it gets (default: every event).  An observer that looks
        at a few kinds is then not called at all for the others."""
        # (``getattr`` rather than ``isinstance(observer, Observer)``: a runtime protocol
        # check costs tens of microseconds, and a machine subscribes several observers.)
        method = getattr(observer, "on_trace_event", None)
        fn = cast(Callable[[TraceEvent], None], method if callable(method) else observer)
        if isinstance(observer, Trace) and getattr(method, "__func__", None) \
                is Trace.on_trace_event:  # not overridden, on the class or the instance
            fn = observer._events.append  # what on_trace_event does, without its frame
        if isinstance(kinds, str):
            raise TypeError("kinds is a collection of EventKind values, not one string")
        wanted = None if kinds is None else frozenset(kinds)
        if wanted is not None and not wanted <= _KIND_SET:
            raise ValueError(f"kinds: {sorted(map(str, wanted - _KIND_SET))} are not kinds "
                             "of event (EventKind)")
        entry = (fn, wanted)
        with self._lock:
            self._subscriptions = (*self._subscriptions, entry)
            self._routes = _Routes(self._subscriptions)

        subscribed = True

        def unsubscribe() -> None:
            nonlocal subscribed
            with self._lock:
                if subscribed:  # once: a second call must not remove an equal observer
                    subscribed = False
                    subscriptions = list(self._subscriptions)
                    subscriptions.remove(entry)
                    self._subscriptions = tuple(subscriptions)
                    self._routes = _Routes(self._subscriptions)

        return unsubscribe

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.emit is not Tracer.emit and cls._emit_data is Tracer._record:
            cls._emit_data = Tracer._through_emit

    def _through_emit(self, source: str, target: str, kind: EventKind, name: str, detail: str,
                      data: tuple[tuple[str, Scalar], ...]) -> TraceEvent:
        """``_emit_data`` of a subclass that overrides :meth:`emit`: the event goes through
        the override, as every event did before the pairs' shortcut."""
        return self.emit(source, target, kind, name, detail, **dict(data))

    def emit(
        self,
        source: str,
        target: str,
        kind: EventKind,
        name: str,
        detail: str = "",
        **data: Scalar,
    ) -> TraceEvent:
        """Record one event and deliver it to every observer."""
        return self._record(source, target, kind, name, detail,
                            tuple(data.items()) if data else ())

    def _record(self, source: str, target: str, kind: EventKind, name: str, detail: str,
                data: tuple[tuple[str, Scalar], ...]) -> TraceEvent:
        """:meth:`emit` with ``data`` already as (key, value) pairs: what the simulator's
        per-event callers call as ``_emit_data`` (no keyword dict to build and take apart),
        unless a subclass overrides :meth:`emit` (see ``__init_subclass__``)."""
        # The event is filled in through its slots rather than by the generated ``__init__``
        # (a frozen dataclass's sets each field with ``object.__setattr__``): the same
        # immutable value, built in half the time, and the simulator emits thousands.
        event = _new_event(TraceEvent)
        with self._lock:
            self._seq = seq = self._seq + 1
            _set_seq(event, seq)
            _set_time(event, self.clock.now())
            routes = self._routes
        _set_source(event, source)
        _set_target(event, target)
        _set_kind(event, kind)
        _set_name(event, name)
        _set_detail(event, detail)
        _set_data(event, data)
        for fn in routes[kind]:
            fn(event)
        return event

    _emit_data = _record


class Trace(Sequence[TraceEvent]):
    """An ordered collection of trace events, with queries and renderers.

    A ``Trace`` is also an :class:`Observer`: subscribe it to a :class:`Tracer` and it records
    what happens.  Query results are new ``Trace`` objects, so queries chain.
    """

    def __init__(self, events: Iterable[TraceEvent] = ()) -> None:
        self._events: list[TraceEvent] = list(events)

    # -- observer ------------------------------------------------------------------------
    def on_trace_event(self, event: TraceEvent) -> None:
        self._events.append(event)  # one atomic append: no lock needed

    # -- sequence ------------------------------------------------------------------------
    @overload
    def __getitem__(self, index: int) -> TraceEvent: ...
    @overload
    def __getitem__(self, index: slice) -> Trace: ...
    def __getitem__(self, index: int | slice) -> TraceEvent | Trace:
        if isinstance(index, slice):
            return Trace(self._events[index])
        return self._events[index]

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(list(self._events))

    def __repr__(self) -> str:
        return f"Trace({len(self._events)} events)"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Trace):
            return self._events == other._events
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # -- queries -------------------------------------------------------------------------
    def filter(
        self,
        *,
        kind: EventKind | str | None = None,
        name: str | Iterable[str] | None = None,
        source: str | None = None,
        target: str | None = None,
        actor: str | None = None,
        where: Callable[[TraceEvent], bool] | None = None,
    ) -> Trace:
        """Events matching every given criterion (``actor`` = source or target)."""
        names = {name} if isinstance(name, str) else (set(name) if name is not None else None)
        out = []
        for e in self._events:
            if kind is not None and e.kind != kind:
                continue
            if names is not None and e.name not in names:
                continue
            if source is not None and e.source != source:
                continue
            if target is not None and e.target != target:
                continue
            if actor is not None and not e.involves(actor):
                continue
            if where is not None and not where(e):
                continue
            out.append(e)
        return Trace(out)

    def events_for(self, actor: str) -> Trace:
        """Every event in which ``actor`` (a writer, provider, volume, ...) takes part."""
        return self.filter(actor=actor)

    def names(self) -> list[str]:
        """The event names, in order."""
        return [e.name for e in self._events]

    def writer_events(self, writer: str) -> list[str]:
        """Names of the writer events delivered to ``writer``, in order."""
        return [e.name for e in self._events if e.kind == EventKind.EVENT and e.target == writer]

    def writer_states(self, writer: str) -> list[str]:
        """The successive writer states of ``writer`` (``VSS_WRITER_STATE`` member names)."""
        return [
            str(e.get("state"))
            for e in self._events
            if e.kind == EventKind.STATE and e.source == writer and e.get("state") is not None
        ]

    def first(self, name: str, **criteria: str) -> TraceEvent | None:
        """The first event called ``name`` (optionally also matching source/target/actor/kind)."""
        found = self.filter(name=name, **criteria)  # type: ignore[arg-type]
        return found[0] if len(found) else None

    def last(self, name: str, **criteria: str) -> TraceEvent | None:
        """The last event called ``name``."""
        found = self.filter(name=name, **criteria)  # type: ignore[arg-type]
        return found[-1] if len(found) else None

    def count_of(self, name: str) -> int:
        """How many events are called ``name``."""
        return sum(1 for e in self._events if e.name == name)

    def between(self, start: str, end: str, *, inclusive: bool = True) -> Trace:
        """Events from the first ``start`` event to the first ``end`` event after it.

        ``Trace.between("Freeze", "Thaw")`` is the freeze window; with ``inclusive=False`` the two
        bounding events themselves are left out.  Empty if ``start`` never happened; up to the end
        of the trace if ``end`` never followed.
        """
        events = self._events
        i = next((k for k, e in enumerate(events) if e.name == start), None)
        if i is None:
            return Trace()
        j = next((k for k in range(i + 1, len(events)) if events[k].name == end), None)
        stop = len(events) if j is None else (j + 1 if inclusive else j)
        return Trace(events[i if inclusive else i + 1 : stop])

    def duration(self, start: str, end: str) -> float | None:
        """Clock seconds from the first ``start`` to the first ``end`` after it (None if absent)."""
        window = self.between(start, end)
        if len(window) < 2 or window[-1].name != end:
            return None
        return window[-1].time - window[0].time

    def since(self, seq: int) -> Trace:
        """Events with a sequence number greater than ``seq``."""
        events = self._events  # sorted by seq: binary search, not a scan of the whole trace
        return Trace(events[bisect.bisect_right(events, seq, key=_SEQ):])

    def actors(self) -> list[str]:
        """Every source and target, in order of first appearance."""
        seen: dict[str, None] = {}
        for e in self._events:
            seen.setdefault(e.source, None)
            seen.setdefault(e.target, None)
        return list(seen)

    # -- renderers -----------------------------------------------------------------------
    def to_text(self, *, show_data: bool = False) -> str:
        """A plain-text timeline, one line per event (see :mod:`vsssim.render.text`)."""
        from vsssim.render.text import render_text

        return render_text(self, show_data=show_data)

    def to_mermaid(self) -> str:
        """A Mermaid ``sequenceDiagram`` (see :mod:`vsssim.render.mermaid`)."""
        from vsssim.render.mermaid import render_sequence

        return render_sequence(self)
