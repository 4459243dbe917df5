"""Time for the simulator: one protocol, a deterministic virtual clock and a real one.

Every timeout of VSS is measured on a :class:`Clock`: the writers' 60-second freeze window, the
kernel's 10-second flush-and-hold window, a provider's commit budget.  The default
:class:`VirtualClock` makes them testable in milliseconds: time only moves when someone sleeps or
advances it, and timers fire, in deadline order, exactly when virtual time passes their deadline,
with ``now()`` equal to the deadline while the callback runs.  A handler that "works" for 70 s
calls ``clock.sleep(70)`` and returns at once, having fired the freeze timer on the way.

:class:`RealClock` follows ``time.monotonic`` and runs timers on threads, for demonstrations with
real threads.

Both map their seconds onto a calendar through :attr:`Clock.epoch` (a UTC datetime), which is
where shadow-copy creation times and file times come from.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_EPOCH",
    "Clock",
    "RealClock",
    "Timer",
    "VirtualClock",
    "filetime",
]

#: Where a virtual clock's second 0 lies on the calendar unless told otherwise.
DEFAULT_EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def filetime(moment: datetime) -> int:
    """A Windows ``FILETIME`` / ``VSS_TIMESTAMP``: 100-ns intervals since 1601-01-01 UTC."""
    delta = moment - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _never_called() -> None:
    """The callback of a cancelled timer."""


@dataclass(eq=False)
class Timer:
    """A callback scheduled at ``deadline`` (clock seconds).  ``cancel()`` is idempotent."""

    deadline: float
    callback: Callable[[], None]
    name: str = ""
    cancelled: bool = False
    fired: bool = False
    _seq: int = field(default=0, repr=False)
    _thread: threading.Timer | None = field(default=None, repr=False)

    def cancel(self) -> None:
        """Stop the timer from firing (no effect once it fired)."""
        self.cancelled = True
        self.callback = _never_called  # (the clock keeps a cancelled timer until it is due)
        if self._thread is not None:
            self._thread.cancel()

    @property
    def pending(self) -> bool:
        """True while the timer can still fire."""
        return not (self.cancelled or self.fired)


@runtime_checkable
class Clock(Protocol):
    """What the simulator needs from time."""

    @property
    def epoch(self) -> datetime:
        """The calendar moment of clock second 0."""
        ...

    def now(self) -> float:
        """Seconds since the clock's epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (a virtual clock advances and fires due timers)."""
        ...

    def call_at(self, deadline: float, callback: Callable[[], None], name: str = "") -> Timer:
        """Run ``callback`` once when the clock reaches ``deadline``."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None], name: str = "") -> Timer:
        """Run ``callback`` once, ``delay`` seconds from now."""
        ...

    def datetime(self) -> datetime:
        """The current moment as a UTC datetime."""
        ...


def _check_seconds(seconds: float, what: str) -> float:
    seconds = float(seconds)
    if not seconds >= 0.0:  # also rejects NaN
        raise ValueError(f"{what} must be a non-negative number of seconds, not {seconds!r}")
    return seconds


class VirtualClock:
    """A deterministic clock: time moves only through :meth:`sleep` / :meth:`advance`.

    Timers fire in (deadline, creation) order while time passes their deadline; a callback sees
    ``now() == deadline`` and may schedule further timers, which fire in the same advance if they
    are due.  Thread-safe: real application threads may share it (each ``sleep`` advances the
    one shared time line).
    """

    def __init__(self, start: float = 0.0, *, epoch: datetime = DEFAULT_EPOCH) -> None:
        self._now = _check_seconds(start, "start")
        self._epoch = epoch if epoch.tzinfo else epoch.replace(tzinfo=UTC)
        self._timers: list[tuple[float, int, Timer]] = []
        self._counter = itertools.count()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now:.6f})"

    @property
    def epoch(self) -> datetime:
        return self._epoch

    def now(self) -> float:
        return self._now

    def datetime(self) -> datetime:
        return self._epoch + timedelta(seconds=self._now)

    def call_at(self, deadline: float, callback: Callable[[], None], name: str = "") -> Timer:
        with self._lock:
            seq = next(self._counter)
            timer = Timer(float(deadline), callback, name, _seq=seq)
            heapq.heappush(self._timers, (timer.deadline, seq, timer))
            return timer

    def call_later(self, delay: float, callback: Callable[[], None], name: str = "") -> Timer:
        return self.call_at(self._now + _check_seconds(delay, "delay"), callback, name)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer that falls due on the way."""
        self.advance_to(self._now + _check_seconds(seconds, "seconds"))

    def advance_to(self, moment: float) -> None:
        """Move time forward to ``moment`` (never backwards), firing due timers in order."""
        with self._lock:
            target = max(float(moment), self._now)
            while self._timers and self._timers[0][0] <= target:
                deadline, _, timer = heapq.heappop(self._timers)
                if not timer.pending:
                    continue
                self._now = max(self._now, deadline)
                timer.fired = True
                timer.callback()
            self._now = target

    def pending_timers(self) -> list[Timer]:
        """Timers that have neither fired nor been cancelled, in firing order."""
        with self._lock:
            return [t for _, _, t in sorted(self._timers) if t.pending]

    def next_deadline(self) -> float | None:
        """Deadline of the next pending timer, or None."""
        pending = self.pending_timers()
        return pending[0].deadline if pending else None


class RealClock:
    """Wall time (``time.monotonic``); timers run on background threads.

    Use it for demonstrations with real application threads.  Tests should prefer
    :class:`VirtualClock`: timeouts then cost no real time and runs are reproducible.
    """

    def __init__(self, *, epoch: datetime | None = None) -> None:
        self._start = time.monotonic()
        self._epoch = epoch or datetime.now(UTC)

    def __repr__(self) -> str:
        return f"RealClock(now={self.now():.6f})"

    @property
    def epoch(self) -> datetime:
        return self._epoch

    def now(self) -> float:
        return time.monotonic() - self._start

    def datetime(self) -> datetime:
        return self._epoch + timedelta(seconds=self.now())

    def sleep(self, seconds: float) -> None:
        time.sleep(_check_seconds(seconds, "seconds"))

    def call_at(self, deadline: float, callback: Callable[[], None], name: str = "") -> Timer:
        return self.call_later(max(0.0, deadline - self.now()), callback, name)

    def call_later(self, delay: float, callback: Callable[[], None], name: str = "") -> Timer:
        delay = _check_seconds(delay, "delay")
        timer = Timer(self.now() + delay, callback, name)

        def fire() -> None:
            if timer.pending:
                timer.fired = True
                callback()

        thread = threading.Timer(delay, fire)
        thread.daemon = True
        timer._thread = thread
        thread.start()
        return timer
