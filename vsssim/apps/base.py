"""Applications: programs that keep writing to the simulated volumes while backups run.

An :class:`Application` does its work in small steps (:meth:`Application.step`), each one a
single file-system operation or less, so that a shadow copy can fall between any two of them.
The system schedules steps at deterministic points drawn from its seed (before every writer event
and provider call), or runs applications on real threads (``VssSystem.start_applications``).
While the kernel holds writes during a commit, scheduled steps wait and run, in order, right after
the release: nothing is lost and nothing lands in the snapshot being committed.
"""

from __future__ import annotations

import random
import threading
from abc import ABC, abstractmethod

from vsssim.clock import Clock

__all__ = ["Application"]


class Application(ABC):
    """A simulated application.  Subclasses implement :meth:`step`.

    ``burst`` is the most steps the scheduler runs at one scheduling point (it draws 0..burst
    from the system's seed).  ``suspended`` is True while its writer has it frozen: a suspended
    application's steps do nothing.

    The rest models the application's Windows service and its open files:

    * ``running`` is True while the service runs.  A stopped application runs no steps
      (:meth:`run` returns at once and draws nothing), like a service stopped for a restore.
    * :meth:`stop` stops the service.  The restore calls it for ``STOP_RESTORE_START`` (and
      ``RESTORE_STOP_START``, after PostRestore) when the application's ``service`` attribute
      names the writer's service; ``RevertToSnapshot`` with ``force_dismount=True`` calls it too.
      A writer may call it in PreRestore.  Override it to flush or drop what is only in memory:
      after a restore the files, not the memory, are the truth.
    * :meth:`start` starts the service again.  Override it to reload the state from the files
      (the restored ones), never to keep the state from before the stop.
    * :meth:`locked_files` lists the files the running application holds open exclusively.
      A restore cannot replace them until the application stops: ``RESTORE_IF_CAN_REPLACE``
      uses the alternate location or restores nothing, the other methods fail (access denied).
    * :meth:`uses` says whether the application has files on a volume: such a volume is in
      use, and ``RevertToSnapshot`` refuses it unless the application is stopped or the revert
      forces a dismount.
    """

    name: str = "application"
    burst: int = 2

    def __init__(self) -> None:
        self.suspended = False
        self.steps_run = 0
        #: The system clock, set when the application is added to a machine.
        self.clock: Clock | None = None
        #: Total seconds spent suspended by its writer (the downtime VSS minimises).
        self.downtime = 0.0
        self._suspended_at: float | None = None
        # One step at a time: the writer (on the coordinator's thread) and the application's
        # own thread must never interleave inside a step.
        self.lock = threading.RLock()

    @abstractmethod
    def step(self, rng: random.Random) -> None:
        """Do one small unit of work (at most one file-system operation)."""

    def run(self, rng: random.Random, steps: int = 1) -> None:
        """Run ``steps`` steps unless suspended or stopped (then it runs none, counts none and
        draws nothing from ``rng``)."""
        for _ in range(steps):
            with self.lock:
                if self.suspended or not self.running:
                    return
                self.step(rng)
                self.steps_run += 1

    running: bool = True

    def uses(self, device: object) -> bool:
        """True if the application has files on ``device`` (it keeps the volume in use)."""
        return False

    def locked_files(self) -> list[str]:
        """Files the running application holds open exclusively (a restore cannot replace
        them until the application stops)."""
        return []

    def stop(self) -> None:
        """Stop the application's service (a restore or a forced dismount needs it)."""
        with self.lock:
            self.running = False

    def start(self) -> None:
        """Start the application's service again."""
        with self.lock:
            self.running = True

    def restart(self) -> None:
        """The machine rebooted: whatever was only in memory is gone; start from the files."""
        self.suspended = False
        self._suspended_at = None
        self.start()

    def suspend(self) -> None:
        """Stop writing (the writer's Freeze); waits for a step in progress to end."""
        with self.lock:
            if not self.suspended and self.clock is not None:
                self._suspended_at = self.clock.now()
            self.suspended = True

    def resume(self) -> None:
        """Start writing again (the writer's Thaw or Abort); idempotent."""
        with self.lock:
            if self.suspended and self._suspended_at is not None and self.clock is not None:
                self.downtime += self.clock.now() - self._suspended_at
            self._suspended_at = None
            self.suspended = False
