"""``RequesterConformance`` and ``check_requester``: run your backup code against faults.

Your requester is a function ``fn(system)`` (or any callable) that makes a backup with
``system.create_backup_components()``, the way your backup tool drives
``IVssBackupComponents``.  Each example builds a machine with the sample applications and their
writers (the key-value store on C:, the file share on C: or on D:), then runs your function
again and again, each time with a random :class:`~vsssim.faults.FaultPlan` (writer vetoes and
failures, retryable and not, freeze windows running out, provider errors, slow commits,
Identify from another program) and sometimes another backup holding the creation lock, with
the applications writing in between.  A :class:`~vsssim.testing.requester_monitor.RequesterMonitor`
checks what backup tools get wrong in practice (:data:`~vsssim.testing.rules.REQUESTER_RULES`)::

    class TestMyBackupTool(RequesterConformance):
        requester = my_backup                   # fn(system) -> anything

    TestMyBackupToolCase = TestMyBackupTool.TestCase

or ``check_requester(my_backup)``.  A broken rule raises
:class:`~vsssim.testing.rules.ConformanceError` with the minimal failing sequence as a pytest
test, minimised as :mod:`~vsssim.testing.writer_conformance` says (each step and each fault it
does not need left out, checked by running it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    initialize,
    rule,
)

from vsssim import hresult as hr
from vsssim.faults import Fault, FaultPlan, IdentifyDuring, ProviderFault, WriterFault
from vsssim.testing import _session
from vsssim.testing._machine import ConformanceMachine
from vsssim.testing._support import check_call, fast_temp_dir, setting_name, static_attr
from vsssim.testing.plans import MiB, faults_code
from vsssim.testing.repro import reference
from vsssim.testing.requester_monitor import RequesterMonitor
from vsssim.testing.writer_conformance import (
    _check_settings,
    _TestCaseProperty,
    conformance_settings,
    run_conformance,
)

if TYPE_CHECKING:
    from vsssim.system import VssSystem

__all__ = ["RequesterConformance", "check_requester"]

_WRITERS = ("KvStore Writer", "File Share Writer")
# Writer failures at the events of a backup, weighted towards the retryable codes a requester
# must react to (reference §5 failure-code table): three of the four are retryable.
_FAILURE_CODES = (hr.VSS_E_WRITERERROR_RETRYABLE, hr.VSS_E_WRITERERROR_NONRETRYABLE,
                  hr.VSS_E_WRITERERROR_OUTOFRESOURCES, hr.VSS_E_WRITERERROR_TIMEOUT)


def _requester_faults() -> st.SearchStrategy[FaultPlan]:
    """Faults a backup tool meets in practice: writer vetoes and failures (retryable or not) at
    each event of a backup, freeze windows that run out (``VSS_E_WRITERERROR_TIMEOUT``), provider
    errors and commits slower than the 10 s hold, Identify from another program in the middle.
    At most two per run; shrinks towards no fault."""
    from vsssim.strategies import CREATION_EVENTS, PROVIDER_FAILURES, PROVIDER_METHODS

    writers = st.sampled_from(_WRITERS)
    kinds: list[st.SearchStrategy[Fault]] = [
        st.builds(WriterFault, event=st.sampled_from((*CREATION_EVENTS, "BackupComplete")),
                  writer=writers, action=st.sampled_from(("veto", "fail")),
                  hresult=st.sampled_from(_FAILURE_CODES), occurrence=st.integers(1, 2)),
        st.builds(WriterFault, event=st.sampled_from(("Freeze", "Thaw")), writer=writers,
                  action=st.just("delay"), delay=st.just(70.0)),  # past the 60 s window
        st.builds(ProviderFault, method=st.sampled_from(PROVIDER_METHODS),
                  hresult=st.sampled_from(PROVIDER_FAILURES)),
        st.builds(ProviderFault, method=st.just("CommitSnapshots"), hresult=st.none(),
                  delay=st.just(12.0)),  # past the 10 s flush-and-hold
        st.builds(IdentifyDuring, event=st.sampled_from(CREATION_EVENTS)),
    ]
    return st.lists(st.one_of(kinds), max_size=2).map(FaultPlan)


class RequesterConformance(ConformanceMachine[RequesterMonitor]):
    """The requester conformance state machine (subclass it; see the module docstring).

    ``requester``: the callable under test, ``requester(system)`` (used as written, never
    bound: defined in the class body, it gets no ``self``, with or without ``@staticmethod``).
    ``allow_persistent``: shadow copies your tool makes in a persistent context may outlive a
    run.  ``max_examples`` / ``step_count`` / ``seed``: as for
    :class:`~vsssim.testing.WriterConformance`.
    """

    requester: ClassVar[Any] = None
    subject = "requester"
    allow_persistent: ClassVar[bool] = False

    TestCase = _TestCaseProperty()  # type: ignore[assignment]

    @classmethod
    def check_configuration(cls) -> None:
        """Check before any example runs that ``requester`` is a callable taking the machine;
        raises ``TypeError`` naming the attribute (the argument, for :func:`check_requester`).
        """
        fn = static_attr(cls, "requester")
        if fn is None:
            raise TypeError(f"{cls.__name__}.requester is not set: assign your backup function "
                            "(requester(system))")
        if not callable(fn):
            raise TypeError(f"{setting_name(cls, 'requester')} must be a function taking the "
                            f"machine (requester(system)), not {fn!r}")
        check_call(cls, "requester", fn, (object(),), {}, "requester(system)")

    @initialize(seed=st.integers(0, 2**16 - 1), share_on_d=st.booleans())
    def build_machine(self, seed: int, share_on_d: bool) -> None:
        """The machine: C: with the key-value store, the file share on C: or D:, writers."""
        from vsssim.apps import FileShareApp, FileShareWriter, KvStoreApp, KvStoreWriter
        from vsssim.system import VssSystem

        cls = type(self)
        cls._check_once()
        seed = _session.machine_seed(cls.seed, seed)
        share_volume = "D:\\" if share_on_d else "C:\\"
        self.root = fast_temp_dir("vsssim-requester-")
        self._system = system = VssSystem(self.root / "machine", seed=seed)
        system.add_volume("C:\\", size=16 * MiB)
        if share_on_d:
            system.add_volume("D:\\", size=8 * MiB)
        kv = KvStoreApp(system.volume("C:\\").fs)
        system.add_application(kv)
        system.add_writer(KvStoreWriter(kv))
        share = FileShareApp(system.volume(share_volume).fs, f"{share_volume}Share")
        system.add_application(share)
        system.add_writer(FileShareWriter(share))
        self._monitor = RequesterMonitor(system, allow_persistent=cls.allow_persistent)
        self.references += [reference(KvStoreApp), reference(KvStoreWriter),
                            reference(FileShareApp), reference(FileShareWriter)]
        self.setup += [f"with VssSystem(tmp_path / \"machine\", seed={seed}) as system:",
                       f"system.add_volume('C:\\\\', size={16 * MiB})"]
        if share_on_d:
            self.setup.append(f"system.add_volume('D:\\\\', size={8 * MiB})")
        self.setup += [
            "kv = system.add_application(KvStoreApp(system.volume('C:\\\\').fs))",
            "system.add_writer(KvStoreWriter(kv))",
            f"share = system.add_application(FileShareApp(system.volume({share_volume!r}).fs, "
            f"{share_volume + 'Share'!r}))",
            "system.add_writer(FileShareWriter(share))",
            "monitor = RequesterMonitor(system"
            + (", allow_persistent=True" if cls.allow_persistent else "") + ")",
        ]

    @rule(faults=_requester_faults(), busy=st.booleans())
    def run_requester(self, faults: FaultPlan, busy: bool) -> None:
        """Run the requester once, with ``faults`` injected and, if ``busy``, another backup
        holding the snapshot-set creation lock when it starts."""
        self._step()
        cls = type(self)
        fn = static_attr(cls, "requester")
        owner = reference(cls)
        ref = reference(fn, fallback=f"{owner.expression}.requester" if owner.importable
                        else None)
        self.references.append(ref if ref.importable else owner)
        lines = []
        if not (ref.importable or owner.importable):
            # Not importable by name (a lambda, a local function): the test says what to put.
            lines.append(f"requester = {ref.expression}")
            call = "monitor.run(requester)"
        else:
            call = f"monitor.run({ref.expression})"
        if faults:
            lines.append(f"system.faults = {faults_code(faults.faults)}")
        if busy:
            lines.append("monitor.hold_creation_lock()")
        lines.append(call)
        if faults:
            lines.append("system.faults = None")

        def run() -> None:
            if faults:
                self.system.faults = faults
            try:
                if busy:
                    self.monitor.hold_creation_lock()
                self.monitor.run(fn)
            finally:
                if faults:
                    self.system.faults = None

        self._run(lines, run)

    @rule(steps=st.integers(1, 12))
    def run_applications(self, steps: int) -> None:
        """The applications work between backups."""
        self._step()
        self._run([f"system.run_applications({steps})"],
                  lambda: self.system.run_applications(steps))


def check_requester(
    requester: Callable[[VssSystem], object],
    *,
    allow_persistent: bool = False,
    examples: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    settings: Settings | None = None,
) -> None:
    """Run the requester conformance machine once with ``requester(system)``.  Returns quietly
    if no example broke a rule; otherwise raises
    :class:`~vsssim.testing.rules.ConformanceError` for the minimal failing sequence, with the
    sequence as a ready-to-paste pytest test and its trace.

    ``requester``
        Your backup code: a function (or any callable) called ``requester(system)`` with the
        machine, again and again in each example; it makes a backup with
        ``system.create_backup_components()``.  What it returns is ignored.
    ``allow_persistent``
        True if shadow copies your tool makes without auto-release (a persistent context, or
        ``VSS_VOLSNAP_ATTR_NO_AUTO_RELEASE``) may stay after a run: a tool that keeps snapshots
        on purpose.  Default False: no shadow copy may be left from a run.
    ``examples`` / ``steps``
        Examples in the run (default: ``--vss-conformance-examples``, else the hypothesis
        profile's ``max_examples``) and the most steps in each (default 4).
    ``seed``
        A fixed seed for every example's machine (default: ``--vss-seed``, else one drawn per
        example).
    ``settings``
        Hypothesis settings for the run.  They *replace* vsssim's conformance settings (no
        deadline, no explain phase, health checks off, ``--vss-conformance-examples``, 4
        steps), and ``examples`` / ``steps`` cannot be given with them; to change one setting,
        build on vsssim's::

            check_requester(my_backup, settings=settings(
                conformance_settings(examples=200, steps=4), derandomize=True))
    """
    __tracebackhide__ = True  # pytest: show the caller's line
    _check_settings(settings, examples, steps)
    if not callable(requester):
        raise TypeError(f"requester must be a function taking the machine (requester(system)), "
                        f"not {requester!r}")
    name = getattr(requester, "__name__", "requester")
    machine: type[RequesterConformance] = type(f"CheckRequester_{name}", (RequesterConformance,), {
        "_vsssim_from_function": True,
        "requester": staticmethod(requester),
        "allow_persistent": allow_persistent,
        "seed": seed,
        "__module__": "vsssim.testing.requester_conformance",
    })
    run_conformance(machine, settings or conformance_settings(machine, examples=examples,
                                                              steps=steps or 4))
