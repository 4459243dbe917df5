"""The volume's FIFO reentrant lock under contention (it guards every write and every hold)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from vsssim.storage._fifolock import FifoRLock


def test_mutual_exclusion_under_contention() -> None:
    lock = FifoRLock()
    counter = [0]
    inside = [0]
    overlaps = [0]

    def work() -> None:
        for i in range(2000):
            lock.acquire()
            try:
                inside[0] += 1
                if inside[0] != 1:
                    overlaps[0] += 1
                value = counter[0]
                if i % 50 == 0:
                    time.sleep(0)  # let others run while we hold it
                counter[0] = value + 1
                inside[0] -= 1
            finally:
                lock.release()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (counter[0], overlaps[0]) == (12000, 0)
    assert lock.waiting == 0 and not lock.owned()


def _queue_in_order(lock: FifoRLock, enter: Callable[[int], None],
                    n: int) -> list[threading.Thread]:
    """Start ``n`` threads running ``enter(i)`` while the caller holds ``lock``, each once the
    one before is waiting for it: they arrive in the order 0, 1, ..., n - 1."""
    threads = []
    for i in range(n):
        t = threading.Thread(target=enter, args=(i,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 20
        while lock.waiting != i + 1:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    return threads


def test_waiters_get_the_lock_in_arrival_order_and_reentrancy() -> None:
    lock = FifoRLock()
    order: list[int] = []

    def enter(i: int) -> None:
        lock.acquire()
        order.append(i)
        lock.release()

    with lock, lock:  # reentrant
        assert lock.owned()
        threads = _queue_in_order(lock, enter, 8)
    for t in threads:
        t.join()
    assert order == list(range(8))


def test_the_with_statement_excludes_and_hands_over_in_arrival_order() -> None:
    """``with lock:`` excludes like acquire/release, and waiters that entered with ``with``
    get the lock in arrival order."""
    lock = FifoRLock()
    counter = [0]
    overlaps = [0]
    inside = [0]

    def work() -> None:
        for i in range(2000):
            with lock:
                inside[0] += 1
                overlaps[0] += inside[0] != 1
                value = counter[0]
                if i % 50 == 0:
                    time.sleep(0)
                with lock:  # reentrant
                    counter[0] = value + 1
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (counter[0], overlaps[0], lock.waiting, lock.owned()) == (8000, 0, 0, False)

    order: list[int] = []

    def enter(i: int) -> None:
        with lock:
            order.append(i)

    with lock:
        waiters = _queue_in_order(lock, enter, 6)
    for t in waiters:
        t.join()
    assert order == list(range(6))


def test_release_by_a_stranger_is_an_error() -> None:
    lock = FifoRLock()
    with pytest.raises(RuntimeError):
        lock.release()
    lock.acquire()
    errors: list[BaseException] = []

    def stranger() -> None:
        try:
            lock.release()
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=stranger)
    t.start()
    t.join()
    lock.release()
    assert len(errors) == 1


def test_the_with_statement_runs_the_notices_after_the_outermost_release() -> None:
    """``with lock:`` (a volume's operation()) runs the queued notices once the lock is free,
    in order, after a block that raised nothing; acquire/release leave them queued."""
    lock = FifoRLock()
    ran: list[tuple[int, bool]] = []

    def notice(n: int) -> Callable[[], None]:
        return lambda: ran.append((n, lock.owned()))

    with lock:
        with lock:
            lock.notices.append(notice(1))
        assert ran == []  # an inner exit: the outer level still holds the lock
        lock.notices.append(notice(2))
    assert ran == [(1, False), (2, False)] and lock.notices == []

    lock.acquire()
    lock.notices.append(notice(3))
    lock.release()
    assert ran == [(1, False), (2, False)] and len(lock.notices) == 1

    with pytest.raises(KeyError), lock:
        raise KeyError("x")
    assert len(lock.notices) == 1  # not after a block that raised
    with lock:
        pass
    assert ran == [(1, False), (2, False), (3, False)] and lock.notices == []
