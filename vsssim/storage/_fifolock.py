"""A reentrant lock that hands itself to waiting threads in arrival order.

The volume's write path, its file-system operations, the shadow storage's changes and the
kernel's flush-and-hold all take this one lock.  ``threading.RLock`` would do for mutual
exclusion, but it wakes waiters in no particular order, and flush-and-hold promises that the
writes held back during a commit "resume at release, in order".  So ownership is handed over
explicitly: ``release`` gives the lock to the oldest waiter (each waiter parks on its own
primitive lock), and a thread arriving while anybody waits queues behind them, so nobody barges
ahead of writes that were held.

The uncontended path is one ``get_ident`` and a non-blocking acquire of a primitive lock that
stands for "owned": it sits on every 4 KiB write.  A hand-over keeps that primitive locked,
so a newcomer can only take the fast path when nobody is queued.
"""

from __future__ import annotations

from collections import deque
from threading import Lock as _PrimitiveLock
from threading import get_ident

__all__ = ["FifoRLock"]


class FifoRLock:
    """Reentrant mutual exclusion with first-come, first-served hand-over."""

    __slots__ = ("_depth", "_mutex", "_owned", "_owner", "_waiters")

    def __init__(self) -> None:
        self._owned = _PrimitiveLock()  # held while anybody owns the lock (kept across hand-over)
        self._mutex = _PrimitiveLock()  # guards hand-over and _waiters
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[tuple[int, _PrimitiveLock]] = deque()

    def acquire(self) -> None:
        """Take the lock (again, if this thread owns it); wait behind earlier arrivals."""
        me = get_ident()
        if self._owner == me:  # only the owner can observe itself here: no race
            self._depth += 1
            return
        if self._owned.acquire(False):
            self._owner = me
            self._depth = 1
            return
        mutex = self._mutex
        mutex.acquire()
        if self._owned.acquire(False):  # released while we took the mutex
            self._owner = me
            self._depth = 1
            mutex.release()
            return
        gate = _PrimitiveLock()
        gate.acquire()
        self._waiters.append((me, gate))
        mutex.release()
        gate.acquire()  # the releasing owner made us the owner before opening the gate

    def release(self) -> None:
        """Give the lock up; the oldest waiter (if any) becomes the owner at once."""
        if self._owner != get_ident():
            raise RuntimeError("cannot release a FifoRLock owned by another thread")
        if self._depth > 1:
            self._depth -= 1
            return
        with self._mutex:
            if self._waiters:
                owner, gate = self._waiters.popleft()
                self._owner = owner
                self._depth = 1
                gate.release()
            else:
                self._owner = None
                self._depth = 0
                self._owned.release()

    def owned(self) -> bool:
        """True if the calling thread owns the lock."""
        return self._owner == get_ident()

    @property
    def waiting(self) -> int:
        """How many threads are queued for the lock."""
        return len(self._waiters)

    def __enter__(self) -> FifoRLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
