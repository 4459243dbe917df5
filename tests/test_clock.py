"""VirtualClock: deterministic time and timers; RealClock: the same protocol on wall time."""

from __future__ import annotations

import functools
import threading
import time
import weakref
from datetime import UTC, datetime, timedelta

import pytest

from vsssim.clock import DEFAULT_EPOCH, Clock, RealClock, VirtualClock, filetime


def test_virtual_time_moves_only_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep: list[float] = []
    monkeypatch.setattr(time, "sleep", lambda s: real_sleep.append(s))
    clock = VirtualClock()
    assert clock.now() == 0.0
    clock.sleep(70.0)  # a 70-second freeze costs no real time
    assert real_sleep == []
    assert clock.now() == 70.0
    assert clock.datetime() == DEFAULT_EPOCH + timedelta(seconds=70)


def test_timers_fire_in_deadline_order_at_their_deadline() -> None:
    clock = VirtualClock()
    seen: list[tuple[str, float]] = []
    clock.call_later(60.0, lambda: seen.append(("freeze window", clock.now())))
    clock.call_later(10.0, lambda: seen.append(("hold window", clock.now())))
    cancelled = clock.call_later(5.0, lambda: seen.append(("cancelled", clock.now())))
    cancelled.cancel()
    clock.sleep(30.0)
    assert seen == [("hold window", 10.0)]
    clock.sleep(40.0)
    assert seen == [("hold window", 10.0), ("freeze window", 60.0)]
    assert clock.now() == 70.0
    assert not cancelled.fired and cancelled.cancelled


def test_timer_callbacks_may_schedule_more_timers() -> None:
    clock = VirtualClock()
    seen: list[float] = []

    def tick() -> None:
        seen.append(clock.now())
        if len(seen) < 3:
            clock.call_later(1.0, tick)

    clock.call_later(1.0, tick)
    clock.advance(10.0)
    assert seen == [1.0, 2.0, 3.0]
    assert clock.pending_timers() == []


def test_equal_deadlines_fire_in_creation_order() -> None:
    clock = VirtualClock()
    seen: list[int] = []
    for i in range(5):
        clock.call_at(2.0, functools.partial(seen.append, i))
    clock.advance_to(2.0)
    assert seen == [0, 1, 2, 3, 4]


def test_bad_durations_are_refused() -> None:
    clock = VirtualClock()
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="non-negative"):
            clock.sleep(bad)
    assert clock.now() == 0.0


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(VirtualClock(), Clock)
    assert isinstance(RealClock(), Clock)


def test_real_clock_timer_fires_on_a_thread() -> None:
    clock = RealClock()
    fired = threading.Event()
    clock.call_later(0.01, fired.set)
    assert fired.wait(5.0)
    stopped = clock.call_later(0.01, lambda: pytest.fail("cancelled timer fired"))
    stopped.cancel()
    time.sleep(0.05)
    assert clock.now() > 0


def test_filetime_matches_the_windows_epoch() -> None:
    assert filetime(datetime(1601, 1, 1, tzinfo=UTC)) == 0
    # 2000-01-01T00:00:00Z is 125911584000000000 in FILETIME units.
    assert filetime(datetime(2000, 1, 1, tzinfo=UTC)) == 125_911_584_000_000_000


def test_a_cancelled_timer_lets_go_of_its_callback() -> None:
    # The clock keeps a cancelled timer until its deadline; what the callback refers to
    # must not stay alive with it.
    class Owner:
        def fire(self) -> None:
            raise AssertionError("a cancelled timer fired")

    clock = VirtualClock()
    owner = Owner()
    timer = clock.call_later(10, owner.fire)
    alive = weakref.ref(owner)
    timer.cancel()
    del owner
    assert alive() is None
    clock.advance(20)
    assert not timer.fired and timer.cancelled


def test_a_subclass_override_of_advance_or_advance_to_is_used_by_sleep() -> None:
    calls: list[str] = []

    class Advancing(VirtualClock):
        def advance(self, seconds: float) -> None:
            calls.append("advance")
            super().advance(seconds)

    class Moving(VirtualClock):
        def advance_to(self, moment: float) -> None:
            calls.append("advance_to")
            super().advance_to(moment)

    Advancing().sleep(1.0)
    assert calls == ["advance"]
    calls.clear()
    moving = Moving()
    moving.sleep(1.0)
    moving.advance(0.5)
    assert calls == ["advance_to", "advance_to"]
    assert moving.now() == 1.5


def test_a_sleep_ending_on_a_deadline_fires_the_timer_and_ends_there() -> None:
    # sleep does advance's work in one call; its checks must match advance_to's.
    clock = VirtualClock(1.0)
    seen: list[float] = []
    clock.call_at(3.0, lambda: seen.append(clock.now()))
    clock.sleep(2.0)
    assert seen == [3.0] and clock.now() == 3.0
    clock.sleep(0.0)
    assert seen == [3.0] and clock.now() == 3.0
    with pytest.raises(ValueError, match="non-negative"):
        clock.advance(-0.5)
    assert clock.now() == 3.0


def test_a_subclass_of_a_subclass_that_overrides_advance_to_still_sleeps_through_it() -> None:
    calls: list[float] = []

    class Moving(VirtualClock):
        def advance_to(self, moment: float) -> None:
            calls.append(moment)
            super().advance_to(moment)

    class Deeper(Moving):
        pass

    deeper = Deeper()
    deeper.sleep(2.0)
    deeper.advance(1.0)
    assert calls == [2.0, 3.0] and deeper.now() == 3.0
    with pytest.raises(ValueError, match="non-negative"):
        deeper.sleep(float("nan"))
