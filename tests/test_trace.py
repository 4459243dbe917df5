"""Trace events, queries and renderers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from vsssim.clock import VirtualClock
from vsssim.render import render_state_diagram
from vsssim.trace import EventKind, Scalar, Trace, TraceEvent, Tracer


def _sample() -> Trace:
    clock = VirtualClock()
    tracer = Tracer(clock)
    trace = Trace()
    tracer.subscribe(trace)
    tracer.emit("requester", "VSS", EventKind.CALL, "DoSnapshotSet")
    tracer.emit("VSS", "Db Writer", EventKind.EVENT, "Freeze")
    tracer.emit("Db Writer", "Db Writer", EventKind.STATE, "WriterState", state="WAITING_FOR_THAW")
    clock.sleep(2.5)
    tracer.emit("kernel", "C:\\", EventKind.HOLD, "FlushAndHold", "hold writes")
    tracer.emit("kernel", "C:\\", EventKind.RELEASE, "ReleaseWrites")
    tracer.emit("VSS", "Db Writer", EventKind.EVENT, "Thaw")
    tracer.emit("Db Writer", "Db Writer", EventKind.STATE, "WriterState",
                state="WAITING_FOR_POST_SNAPSHOT")
    return trace


def test_events_are_frozen_values() -> None:
    event = _sample()[0]
    assert isinstance(event, TraceEvent)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.name = "x"  # type: ignore[misc]
    assert event.seq == 1 and event.time == 0.0


def test_queries() -> None:
    trace = _sample()
    assert trace.names()[:2] == ["DoSnapshotSet", "Freeze"]
    assert trace.between("Freeze", "Thaw").names() == [
        "Freeze", "WriterState", "FlushAndHold", "ReleaseWrites", "Thaw"
    ]
    assert trace.between("Freeze", "Thaw", inclusive=False).names() == [
        "WriterState", "FlushAndHold", "ReleaseWrites"
    ]
    assert trace.duration("Freeze", "Thaw") == 2.5
    assert trace.writer_events("Db Writer") == ["Freeze", "Thaw"]
    assert trace.writer_states("Db Writer") == ["WAITING_FOR_THAW", "WAITING_FOR_POST_SNAPSHOT"]
    assert len(trace.events_for("kernel")) == 2
    assert trace.count_of("WriterState") == 2
    assert trace.first("Thaw") is not None and trace.last("Nope") is None
    assert trace.filter(kind=EventKind.HOLD)[0].detail == "hold writes"
    assert trace.between("Nope", "Thaw").names() == []
    assert trace.since(5).names() == ["Thaw", "WriterState"]


def test_observers_see_events_in_order_and_can_unsubscribe() -> None:
    tracer = Tracer(VirtualClock())
    seen: list[int] = []
    stop = tracer.subscribe(lambda e: seen.append(e.seq))
    tracer.emit("a", "b", EventKind.NOTE, "one")
    stop()
    tracer.emit("a", "b", EventKind.NOTE, "two")
    assert seen == [1]


def test_an_event_goes_to_the_observers_subscribed_when_it_was_emitted() -> None:
    tracer = Tracer(VirtualClock())
    seen: list[tuple[str, int]] = []
    stops: list[Callable[[], None]] = []

    def first(e: TraceEvent) -> None:
        seen.append(("first", e.seq))
        if e.seq == 1:  # subscribes a newcomer and stops the second, while delivering
            stops.append(tracer.subscribe(lambda e: seen.append(("late", e.seq))))
            stops[0]()

    tracer.subscribe(first)
    stops.append(tracer.subscribe(lambda e: seen.append(("second", e.seq))))
    tracer.emit("a", "b", EventKind.NOTE, "one")
    tracer.emit("a", "b", EventKind.NOTE, "two")
    assert seen == [("first", 1), ("second", 1), ("first", 2), ("late", 2)]


def test_unsubscribing_one_of_two_equal_observers_keeps_the_other() -> None:
    tracer = Tracer(VirtualClock())
    seen: list[int] = []

    def note(e: TraceEvent) -> None:
        seen.append(e.seq)

    stop = tracer.subscribe(note)
    tracer.subscribe(note)
    stop()
    stop()  # a second call does nothing: the other subscription stays
    tracer.emit("a", "b", EventKind.NOTE, "one")
    assert seen == [1]


def test_an_observer_of_some_kinds_gets_only_those_in_order() -> None:
    tracer = Tracer(VirtualClock())
    seen: list[tuple[str, int]] = []
    tracer.subscribe(lambda e: seen.append(("all", e.seq)))
    stop = tracer.subscribe(lambda e: seen.append(("some", e.seq)),
                            kinds=[EventKind.EVENT, "reply"])  # type: ignore[list-item]
    tracer.subscribe(lambda e: seen.append(("last", e.seq)), kinds=(EventKind.REPLY,))
    tracer.emit("VSS", "w", EventKind.EVENT, "Freeze")
    tracer.emit("w", "w", EventKind.STATE, "WriterState")
    tracer.emit("w", "VSS", EventKind.REPLY, "Freeze")
    tracer.emit("a", "b", "custom", "x")  # type: ignore[arg-type]  # a kind of its own
    stop()
    tracer.emit("VSS", "w", EventKind.EVENT, "Thaw")
    assert seen == [("all", 1), ("some", 1), ("all", 2), ("all", 3), ("some", 3), ("last", 3),
                    ("all", 4), ("all", 5)]
    with pytest.raises(TypeError, match="not one string"):
        tracer.subscribe(print, kinds="call")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'calls'] are not kinds of event"):
        tracer.subscribe(print, kinds=["calls"])  # type: ignore[list-item]


def test_text_timeline_is_deterministic() -> None:
    text = _sample().to_text()
    assert text == _sample().to_text()
    lines = text.splitlines()
    assert "DoSnapshotSet" in lines[2] and "requester" in lines[2]
    assert lines[6].strip().startswith("2.500s")


def test_mermaid_sequence_diagram() -> None:
    diagram = _sample().to_mermaid()
    assert diagram.startswith("sequenceDiagram\n")
    assert "requester->>VSS: DoSnapshotSet" in diagram
    assert "VSS->>Db_Writer: Freeze" in diagram
    assert "participant Db_Writer as Db Writer" in diagram
    assert "Note over Db_Writer: WAITING_FOR_THAW" in diagram


def test_mermaid_state_diagram_is_sorted_and_stable() -> None:
    table = {"STABLE": {"PrepareForSnapshot ok": "WAITING_FOR_FREEZE"},
             "WAITING_FOR_FREEZE": {"Freeze ok": "WAITING_FOR_THAW"}}
    text = render_state_diagram(table, initial="STABLE")
    assert text.splitlines()[0] == "stateDiagram-v2"
    assert "    [*] --> STABLE" in text
    assert "    STABLE --> WAITING_FOR_FREEZE: PrepareForSnapshot ok" in text


def test_emit_builds_the_same_value_as_the_constructor() -> None:
    """``Tracer.emit`` fills the slots itself (a fast path): the event must be the very value
    the dataclass constructor makes, still frozen and hashable."""
    tracer = Tracer(VirtualClock(2.5))
    trace = Trace()
    tracer.subscribe(trace)
    event = tracer.emit("VSS", "Writer", EventKind.EVENT, "Freeze", "detail", a=1, b="x")
    expected = TraceEvent(seq=1, time=2.5, source="VSS", target="Writer", kind=EventKind.EVENT,
                          name="Freeze", detail="detail", data=(("a", 1), ("b", "x")))
    assert event == expected and hash(event) == hash(expected)
    assert repr(event) == repr(expected) and list(trace) == [expected]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 2  # type: ignore[misc]


def test_an_instance_override_of_on_trace_event_is_what_the_tracer_calls() -> None:
    seen: list[TraceEvent] = []
    trace = Trace()
    trace.on_trace_event = seen.append  # type: ignore[method-assign, assignment]
    tracer = Tracer(VirtualClock())
    tracer.subscribe(trace)
    tracer.emit("a", "b", EventKind.NOTE, "X")
    assert [e.name for e in seen] == ["X"]
    assert len(trace) == 0


def test_events_carry_the_time_of_the_clock_the_tracer_has_now() -> None:
    """``emit`` reads a plain VirtualClock's time without calling ``now()`` (a fast path):
    a clock whose ``now()`` is overridden, on its class or on the instance, and a clock given
    to the tracer later, must still be what stamps the events."""

    class Late(VirtualClock):
        def now(self) -> float:
            return super().now() + 100.0

    assert Tracer(Late(1.0)).emit("a", "b", EventKind.NOTE, "X").time == 101.0
    patched = VirtualClock(1.0)
    patched.now = lambda: 7.0  # type: ignore[method-assign]
    assert Tracer(patched).emit("a", "b", EventKind.NOTE, "X").time == 7.0
    plain = VirtualClock(3.0)
    tracer = Tracer(plain)
    assert tracer.emit("a", "b", EventKind.NOTE, "X").time == 3.0
    plain.advance(1.5)
    assert tracer.emit("a", "b", EventKind.NOTE, "X").time == 4.5
    tracer.clock = Late(2.0)
    assert tracer.emit("a", "b", EventKind.NOTE, "X").time == 102.0
    tracer.clock = VirtualClock(5.0)
    assert tracer.emit("a", "b", EventKind.NOTE, "X").time == 5.0


def test_emit_data_builds_the_same_event_as_emit() -> None:
    """The simulator's per-event callers pass their data as pairs (``_emit_data``): the
    event must be the one ``emit`` builds from keywords."""
    one, two = Tracer(VirtualClock(1.0)), Tracer(VirtualClock(1.0))
    seen: list[TraceEvent] = []
    two.subscribe(seen.append)
    a = one.emit("VSS", "W", EventKind.REPLY, "Freeze", "ok", result=True, hresult=0)
    b = two._emit_data("VSS", "W", EventKind.REPLY, "Freeze", "ok",
                       (("result", True), ("hresult", 0)))
    assert a == b and seen == [b]


def test_a_tracer_that_overrides_emit_gets_every_event(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """The simulator's pairs shortcut (``_emit_data``) goes through an overridden ``emit``."""
    import vsssim.system
    from vsssim.apps import KvStoreApp, KvStoreWriter

    through: list[str] = []

    class Counting(Tracer):
        def emit(self, source: str, target: str, kind: EventKind, name: str, detail: str = "",
                 **data: Scalar) -> TraceEvent:
            through.append(name)
            return super().emit(source, target, kind, name, detail, **data)

    monkeypatch.setattr(vsssim.system, "Tracer", Counting)
    with vsssim.system.VssSystem(tmp_path / "m") as system:
        assert type(system.tracer) is Counting
        app = system.add_application(KvStoreApp(system.add_volume("C:\\", size=16 << 20).fs))
        system.add_writer(KvStoreWriter(app))
        system.backup(["C:\\"], target_dir=tmp_path / "b")
        assert len(system.trace) > 50
        assert through == [e.name for e in system.trace]
    plain = Tracer(VirtualClock(0.0))
    assert type(plain)._emit_data is Tracer._record  # the shortcut, left alone
