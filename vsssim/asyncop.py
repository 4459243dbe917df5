"""``IVssAsync``: the handle of an asynchronous VSS operation.

Operations are generators that yield a short description at every step (see
:mod:`vsssim.coordinator`).  How they run depends on the mode chosen for the requester:

* ``"immediate"`` (default): the operation runs to its end inside the call that starts it, so
  ``wait()`` returns at once; simplest for tests.
* ``"manual"``: nothing runs until someone calls :meth:`Async.step` (one step) or
  :meth:`Async.wait` (all of them); a teacher can walk a class through ``DoSnapshotSet`` event by
  event, and a race test can call other APIs between two steps.
* ``"background"``: a thread runs the operation while the requester polls :meth:`query_status`
  (``VSS_S_ASYNC_PENDING``), as a hypervisor guest agent does; a provider can hold its commit
  until told to go on.

As on Windows, ``wait()`` succeeding says nothing about the operation (rule 35): read
:meth:`query_status`, or call :meth:`result`, which raises the operation's error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager, nullcontext
from typing import Literal

from vsssim import hresult as hr
from vsssim.errors import VssBadStateError, VssError, error_for

__all__ = ["Async", "AsyncMode", "check_mode"]

AsyncMode = Literal["immediate", "manual", "background"]


def check_mode(mode: object, name: str = "mode") -> None:
    """Raise ``ValueError`` unless ``mode`` is an :data:`AsyncMode`."""
    if mode not in ("immediate", "manual", "background"):
        raise ValueError(f"{name}={mode!r} must be 'immediate', 'manual' or 'background'")


# Immediate operations are over before their handle reaches anyone: they need no lock.
_UNLOCKED: AbstractContextManager[object] = nullcontext()


class Async:
    """A running, finished, failed or cancelled asynchronous operation (``IVssAsync``)."""

    def __init__(
        self,
        name: str,
        operation: Generator[str, None, int],
        *,
        mode: AsyncMode = "immediate",
        on_finish: Callable[[int], int] | None = None,
        cancellable: bool = True,
        ends_on: tuple[type[Exception], int] | None = None,
    ) -> None:
        """``ends_on`` is ``(exception type, code)``: that exception ends the operation with
        ``code`` instead of becoming its error (the requester uses it for its own crash)."""
        if mode != "immediate" and mode != "manual" and mode != "background":
            check_mode(mode)
        self.name = name
        self.mode = mode
        self.cancellable = cancellable
        self.steps: list[str] = []
        self._gen = operation
        self._on_finish = on_finish
        self._ends_on = ends_on
        self._status: int = hr.VSS_S_ASYNC_PENDING
        self._over = False  # finished, failed or cancelled (only ever goes False -> True)
        self._cancel_requested = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        # Only a background operation can be waited for by another thread.
        self._finished_event = threading.Event() if mode == "background" else None
        if mode == "immediate":
            self._lock = _UNLOCKED
            self._run(every=True)
            return
        self._lock = threading.RLock()
        if mode == "background":
            self._thread = threading.Thread(target=self._run_all, name=f"vss-{name}",
                                            daemon=True)
            self._thread.start()

    @classmethod
    def finished(cls, name: str, status: int = hr.VSS_S_ASYNC_FINISHED) -> Async:
        """An operation that completed before anyone could wait for it."""

        def done() -> Generator[str, None, int]:
            return status
            yield ""  # pragma: no cover - makes this a generator

        return cls(name, done())

    def __repr__(self) -> str:
        return f"<Async {self.name}: {hr.name_of(self.query_status())}>"

    # -- running ---------------------------------------------------------------------------
    def _end(self) -> None:
        self._over = True
        if self._finished_event is not None:
            self._finished_event.set()

    def _advance(self) -> bool:
        """Run one step; False when the operation is over."""
        if self._over:
            return False
        with self._lock:
            if self._over:
                return False
            if self._cancel_requested:
                try:
                    self._gen.close()  # runs the operation's clean-up
                except Exception as exc:
                    if self._ends_on is None or not isinstance(exc, self._ends_on[0]):
                        raise
                on_finish, self._on_finish = self._on_finish, None
                if on_finish is not None:
                    on_finish(hr.VSS_S_ASYNC_CANCELLED)
                self._status = hr.VSS_S_ASYNC_CANCELLED
                self._end()
                return False
            return self._run(every=False)

    def _run(self, *, every: bool) -> bool:
        """Run one step (or, ``every``, all of them); False when the operation is over (it
        then finished, with the code its end gave, passed through ``on_finish``)."""
        steps, gen = self.steps, self._gen
        try:
            steps.append(next(gen))
            # (A plain loop: an immediate operation has no one to hand each step to.)
            while every:
                steps.append(next(gen))
            return True
        except StopIteration as stop:
            code = int(stop.value) if stop.value is not None else hr.S_OK
        except VssError as exc:
            self.error = exc
            code = exc.hresult
        except Exception as exc:  # a bug in a user's provider or writer plumbing
            if self._ends_on is not None and isinstance(exc, self._ends_on[0]):
                code = int(self._ends_on[1])
            else:
                self.error = exc
                code = hr.VSS_E_UNEXPECTED
        on_finish, self._on_finish = self._on_finish, None  # an ended operation lets go of it
        if on_finish is not None:
            code = on_finish(code)
        self._status = hr.VSS_S_ASYNC_FINISHED if code == hr.S_OK else hr.to_unsigned(code)
        self._over = True  # (what _end does)
        if self._finished_event is not None:
            self._finished_event.set()
        return False

    def _run_all(self) -> None:
        while self._advance():
            pass

    def step(self) -> str | None:
        """Manual mode: run the next step; returns its description, or None once finished."""
        if self.mode == "background":
            raise VssBadStateError("step() drives manual-mode operations; this one runs on a "
                                   "background thread", state="background", call="step")
        before = len(self.steps)
        self._advance()
        return self.steps[before] if len(self.steps) > before else None

    # -- IVssAsync ---------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> int:
        """``Wait``: block until the operation ends (``timeout`` real seconds; None = INFINITE).

        Returns ``S_OK`` when the wait itself worked, whatever the operation's outcome (rule 35);
        a timed-out wait returns ``VSS_S_ASYNC_PENDING``.
        """
        if self.mode == "manual":
            self._run_all()
        elif self._finished_event is not None and not self._finished_event.wait(timeout):
            return hr.VSS_S_ASYNC_PENDING
        return hr.S_OK

    def query_status(self) -> int:
        """``QueryStatus``: ``VSS_S_ASYNC_PENDING``, ``VSS_S_ASYNC_FINISHED``,
        ``VSS_S_ASYNC_CANCELLED`` or the operation's error HRESULT."""
        return self._status

    def cancel(self) -> int:
        """``Cancel``: ``S_OK`` if the cancellation was requested, ``VSS_S_ASYNC_FINISHED`` /
        ``VSS_S_ASYNC_CANCELLED`` if already over, or the operation's error if it failed."""
        if self._over:
            return self._status
        if not self.cancellable:
            return hr.VSS_E_BAD_STATE  # a revert cannot be cancelled
        self._cancel_requested = True
        if self.mode == "manual":
            self._advance()
        return hr.S_OK

    # -- Python conveniences -----------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once the operation finished, failed or was cancelled."""
        return self._over

    @property
    def succeeded(self) -> bool:
        """True if the operation finished successfully (a success code such as
        ``VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED`` counts)."""
        status = self._status
        return hr.is_success(status) and status not in (hr.VSS_S_ASYNC_PENDING,
                                                          hr.VSS_S_ASYNC_CANCELLED)

    def result(self, timeout: float | None = None) -> None:
        """Wait, then raise the operation's error as a :class:`VssError` if it failed."""
        # (An operation that is over needs no wait: that of wait() returns S_OK at once.)
        if not self._over and self.wait(timeout) != hr.S_OK:
            raise TimeoutError(f"{self.name} is still running")
        status = self._status
        if not status & 0x80000000:  # hr.is_success: the status is unsigned already
            return
        if isinstance(self.error, VssError) and self.error.hresult == status:
            raise self.error
        raise error_for(status, f"{self.name} failed")
