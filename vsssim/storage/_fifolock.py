"""A reentrant lock that hands itself to waiting threads in arrival order.

The volume's write path, its file-system operations, the shadow storage's changes and the
kernel's flush-and-hold all take this one lock.  ``threading.RLock`` would do for mutual
exclusion, but it wakes waiters in no particular order, and flush-and-hold promises that the
writes held back during a commit "resume at release, in order".  So ownership is handed over
explicitly: a thread that cannot take the lock queues and parks on its own primitive lock, and
a release with a queue gives the lock to the oldest waiter without ever freeing it, so nobody
barges ahead of writes that were held.

The uncontended path sits on every 4 KiB write, so it avoids the bookkeeping mutex: acquiring
is a non-blocking acquire of the primitive ``_owned`` lock, releasing frees it and then looks
at the queue.  A waiter that queued while the owner was releasing is covered by the waiter
itself: once queued it tries ``_owned`` again if it is at the head of the queue, and the
releaser, seeing a queue after freeing, hands over (whichever comes first wins; the other finds
nothing to do).  The one unfairness left is a thread arriving at that very instant taking the
lock before the queue's head: it never overtakes writes held by a hold, whose release always
hands over.

The lock is also the volume's ``operation()`` context: ``with lock:`` acquires, and at exit
releases and then, after a block that raised nothing, runs the callbacks queued in
:attr:`FifoRLock.notices` (:func:`run_notices`: nothing while an outer level still holds it).
Plain :meth:`~FifoRLock.acquire` / :meth:`~FifoRLock.release` leave the notices to the caller.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from threading import Lock as _PrimitiveLock
from threading import get_ident
from types import TracebackType

__all__ = ["FifoRLock", "run_notices"]


class FifoRLock:
    """Reentrant mutual exclusion with first-come, first-served hand-over."""

    __slots__ = ("_depth", "_mutex", "_owned", "_waiters", "notices", "owner")

    def __init__(self) -> None:
        self._owned = _PrimitiveLock()  # held while anybody owns the lock (kept across hand-over)
        self._mutex = _PrimitiveLock()  # guards the queue and hand-over decisions
        #: The owning thread's ``get_ident()``, or None.  Read-only outside this class: a
        #: caller that finds its own id here already holds the lock and may skip a nested
        #: acquire/release pair (the volume's write path does, inside an operation).
        self.owner: int | None = None
        self._depth = 0
        self._waiters: deque[tuple[int, _PrimitiveLock]] = deque()
        #: Callbacks to run once the lock is released (queued by its owner; see the module
        #: docstring): the volume's notices to purge listeners.
        self.notices: list[Callable[[], None]] = []

    def acquire(self) -> None:
        """Take the lock (again, if this thread owns it); wait behind earlier arrivals."""
        me = get_ident()
        if self.owner == me:  # only the owner can observe itself here: no race
            self._depth += 1
            return
        if not self._waiters and self._owned.acquire(False):
            self.owner = me
            self._depth = 1
            return
        gate = _PrimitiveLock()
        gate.acquire()
        with self._mutex:
            self._waiters.append((me, gate))
            # The owner may have released between our failed try and the append without
            # seeing us queued: the head of the queue tries again.
            if self._waiters[0][0] == me and self._owned.acquire(False):
                self._waiters.popleft()
                self.owner = me
                self._depth = 1
                return
        gate.acquire()  # opened by a hand-over, which already made us the owner

    def release(self) -> None:
        """Give the lock up; the oldest waiter (if any) becomes the owner at once."""
        if self.owner != get_ident():
            raise RuntimeError("cannot release a FifoRLock owned by another thread")
        if self._depth > 1:
            self._depth -= 1
            return
        if self._waiters:
            with self._mutex:
                if self._waiters:
                    self._hand_over()
                    return
        self.owner = None
        self._depth = 0
        self._owned.release()
        if self._waiters:
            self._late_waiters()

    def _late_waiters(self) -> None:
        # Somebody queued while we released: hand over unless the head took the lock itself.
        with self._mutex:
            if self._waiters and self._owned.acquire(False):
                self._hand_over()

    def _hand_over(self) -> None:
        # caller holds _mutex and _owned; the oldest waiter becomes the owner
        owner, gate = self._waiters.popleft()
        self.owner = owner
        self._depth = 1
        gate.release()

    def owned(self) -> bool:
        """True if the calling thread owns the lock."""
        return self.owner == get_ident()

    @property
    def waiting(self) -> int:
        """How many threads are queued for the lock."""
        return len(self._waiters)

    # ``with lock:`` is acquire() itself on entry (the same function: no layer between), and
    # release() then the notices on exit.
    __enter__ = acquire

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        if exc_type is None and self.notices:
            run_notices(self, self.notices)  # (nothing while an outer level holds it)


def run_notices(lock: FifoRLock, notices: list[Callable[[], None]]) -> None:
    """Run and drop ``notices`` in order, unless this thread still holds ``lock`` (then the
    outermost release runs them)."""
    if lock.owned():
        return
    while notices:
        notices.pop(0)()
