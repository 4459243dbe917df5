"""What the writer and requester conformance machines share: the machine they build, its monitor,
the script of plain vsssim calls that replays an example, and the cleanup after it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from hypothesis.stateful import RuleBasedStateMachine

from vsssim.testing._support import remove_tree
from vsssim.testing.repro import Replay
from vsssim.testing.rules import ConformanceError

if TYPE_CHECKING:
    from vsssim.system import VssSystem
    from vsssim.testing.repro import Reference

__all__ = ["ConformanceMachine"]

_T = TypeVar("_T")

#: A step's source lines, or a function that makes them: the lines of a passing example are
#: never read, so a machine may leave writing them out until a repro needs them.
Lines = Sequence[str] | Callable[[], Sequence[str]]


class _Monitor(Protocol):
    def close(self) -> None: ...


_M = TypeVar("_M", bound=_Monitor)


class ConformanceMachine(RuleBasedStateMachine, Generic[_M]):
    """A state machine that builds a simulated machine per example, watches it with a monitor
    of type ``_M`` and records every call it makes as lines of a pytest test (``setup`` for the
    machine, ``script`` for the steps: each call's lines, or the function that writes them out
    when a repro needs them), so that a failure can be printed as a repro.

    Subclasses build ``root``, ``_system`` and ``_monitor`` in their ``@initialize`` rule and
    call :meth:`_step` at the start of every other rule, so that the repro knows its steps.
    They may leave ``setup`` empty until a repro needs it, and fill it in :meth:`_write_setup`.
    """

    __test__ = False  # pytest collects ``TestCase``, not the machine

    #: What the run tests ("writer", "requester"), for the repro's header.
    subject: ClassVar[str] = "machine"
    max_examples: ClassVar[int | None] = None
    step_count: ClassVar[int | None] = None
    seed: ClassVar[int | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.root: Path | None = None
        self._system: VssSystem | None = None
        self._monitor: _M | None = None
        self.setup: list[str] = []
        self.script: list[Lines] = []  # the lines of each call (or their makers), in order
        self.references: list[Reference] = []
        self._marks: list[int] = []  # where each rule's entries start in ``script``

    @property
    def system(self) -> VssSystem:
        """The machine of this example."""
        if self._system is None:
            raise RuntimeError("the machine is not built yet")
        return self._system

    @property
    def monitor(self) -> _M:
        """The monitor checking this example."""
        if self._monitor is None:
            raise RuntimeError("the machine is not built yet")
        return self._monitor

    @classmethod
    def check_configuration(cls) -> None:
        """Raise ``TypeError`` or ``ValueError`` if the class's attributes cannot build a
        machine.  A run calls it before its first example, so that a misconfigured class fails
        with its own message rather than inside hypothesis's report.  The base checks nothing.
        """

    @classmethod
    def _check_once(cls) -> None:
        """:meth:`check_configuration`, once per class: a run checks before its first example,
        a machine run directly by hypothesis checks here, in its ``@initialize`` rule."""
        if not cls.__dict__.get("_vsssim_configuration_checked"):
            cls.check_configuration()
            type.__setattr__(cls, "_vsssim_configuration_checked", True)

    def _step(self) -> None:
        """A rule starts: its lines form one step of the repro (see :meth:`replay`)."""
        self._marks.append(len(self.script))

    def _write_setup(self) -> None:
        """Fill ``setup`` and ``references``, for a machine that writes its setup lines out
        only when a repro needs them (the base writes its lines as it builds)."""

    def replay(self, error: ConformanceError | None) -> Replay:
        """The steps of this example so far (setup, then one group of lines per rule)."""
        self._write_setup()
        name = type(self).__name__
        rule = error.rule.id if error is not None else "steps"
        header = [f"Minimal sequence found by vsssim's {self.subject} conformance run ({name}).",
                  f"It breaks rule {rule!r}; fix the {self.subject}, keep the test." if error
                  else "The steps that ran before the error."]
        first = self._marks[0] if self._marks else len(self.script)
        bounds = [*self._marks, len(self.script)]
        written = (_written(self.script[a:b]) for a, b in itertools.pairwise(bounds))
        steps = [lines for lines in written if lines]
        return Replay(f"{name}_{rule}", header, self.setup + _written(self.script[:first]),
                      steps, list(self.references))

    def repro(self, error: ConformanceError | None) -> str:
        """The steps of this example as a pytest test (see :mod:`vsssim.testing.repro`)."""
        return self.replay(error).render()

    def _annotate(self, error: ConformanceError) -> None:
        """Attach what a user needs to reproduce ``error``: the repro, and the replay that
        :meth:`~vsssim.testing.repro.Replay.minimise` shortens after the run."""
        error.repro = self.repro(error)
        error.replay = self.replay(error)

    def _run(self, lines: Lines, action: Callable[[], _T]) -> _T:
        """Record ``lines`` (or the function that makes them, called for a repro) and run
        ``action`` (the same calls); add the repro to any error."""
        __tracebackhide__ = True  # pytest: show the caller's line
        self.script.append(lines)
        try:
            return action()
        except ConformanceError as exc:
            self._annotate(exc)
            raise
        except Exception as exc:
            exc.add_note("The steps so far, as a pytest test:\n\n" + self.repro(None))
            raise

    def teardown(self) -> None:
        """Shut the machine down, remove its directory and let go of it.

        (Hypothesis keeps the state machine in reference cycles of its own until its
        collector runs; dropping the simulated machine here frees it at once.)"""
        monitor, system, self._monitor, self._system = self._monitor, self._system, None, None
        try:
            try:
                if monitor is not None:
                    monitor.close()
            finally:
                if system is not None:
                    system.close()
        finally:  # a failing close (a user's provider, say) must not leave the directory
            if self.root is not None:
                remove_tree(self.root)


def _written(entries: Sequence[Lines]) -> list[str]:
    """The lines of ``script`` entries, each maker called."""
    lines: list[str] = []
    for entry in entries:
        lines += entry() if callable(entry) else entry
    return lines
