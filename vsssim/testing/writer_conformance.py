"""``WriterConformance``: property-based search for writer bugs, and ``check_writer``.

Subclass the machine with your writer (and, optionally, its application and a consistency
check), as hypothesis does with its own state machines::

    class TestMyWriter(WriterConformance):
        application_factory = MyApp           # called with the file system of C:\\
        writer_factory = MyWriter              # called with the application (or nothing)

    TestMyWriterCase = TestMyWriter.TestCase   # what pytest runs

or call :func:`check_writer` once.  Each example builds a fresh machine (volumes, the
application, the writer) and runs a random sequence of steps: backups of every type, context and
component selection with injected faults of every kind (writer vetoes, failures, exceptions,
delays, hangs and None returns; provider errors and slow commits; requester crashes; Identify
from another program in the middle), abandoned backups (the requester stops after
StartSnapshotSet, PrepareForBackup or DoSnapshotSet, with or without AbortBackup), restores of
the completed backups (with the writer's restore method, or each of ``restore_methods``),
Identify at odd moments and application writes between them.  After every step a
:class:`~vsssim.testing.monitor.WriterMonitor` checks every rule of
:data:`~vsssim.testing.rules.WRITER_RULES`.

When a rule breaks, hypothesis shrinks the run to a short sequence; the run then renders it as
a pytest test of plain vsssim calls, runs that test in the process, and leaves out each step and
each injected fault the failure does not need (hypothesis cannot always drop a step whose draws
differ from its neighbours', and does not shrink again a failing example it replays from its
database).  The :class:`~vsssim.testing.rules.ConformanceError` carries the minimal test
(paste it into a test file: it fails the same way; if it did not fail again when vsssim ran it,
the error says so) and the trace tail of its run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeGuard, TypeVar
from unittest import TestCase as UnitTestCase

from hypothesis import HealthCheck, Phase
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from vsssim.constants import BackupType, RestoreMethod, SnapshotContext, VolumeSnapshotAttributes
from vsssim.faults import Fault, FaultPlan, WriterFault
from vsssim.testing import _session
from vsssim.testing._machine import ConformanceMachine
from vsssim.testing._support import (
    check_call,
    fast_temp_dir,
    setting_name,
    static_attr,
    volume_pairs,
)
from vsssim.testing.monitor import WriterMonitor
from vsssim.testing.plans import AbandonedBackup, BackupPlan, MiB, RestorePlan, VolumeLayout
from vsssim.testing.repro import PLACEHOLDER, Reference, Replay, reference
from vsssim.testing.rules import ConformanceError

if TYPE_CHECKING:
    from vsssim.apps.base import Application
    from vsssim.backup import BackupResult
    from vsssim.restore import RestoreResult
    from vsssim.strategies import _FaultDrawer
    from vsssim.writer import Writer

__all__ = ["WriterConformance", "check_writer", "conformance_settings"]

_T = TypeVar("_T")
_D = TypeVar("_D")

_A = VolumeSnapshotAttributes
# Writer faults that skip the handler are not injected at Abort: the writer could then never
# resume its application, and the run would only show the fault.
_SKIPPING = ("veto", "raise", "none", "hang")
_BACKUP_EVENTS = ("Identify", "PrepareForBackup", "PrepareForSnapshot", "Freeze", "Thaw",
                  "PostSnapshot", "Abort", "BackupComplete", "BackupShutdown")


def _skips_abort(fault: Fault) -> TypeGuard[WriterFault]:
    return isinstance(fault, WriterFault) and fault.event == "Abort" and fault.action in _SKIPPING


def _tame(faults: Sequence[Fault]) -> Sequence[Fault]:
    """``faults`` with each skipping writer fault at Abort turned into a plain failure
    (``faults`` itself when there is none)."""
    if not any(map(_skips_abort, faults)):
        return faults
    return [WriterFault(f.event, f.writer, "fail", f.hresult) if _skips_abort(f) else f
            for f in faults]


def conformance_settings(owner: type | None = None, *, examples: int | None = None,
                         steps: int | None = None) -> Settings:
    """The hypothesis settings of a conformance run: the active profile, with
    ``--vss-conformance-examples`` (or ``examples``, or the class's ``max_examples``) examples
    of at most ``steps`` (or the class's ``step_count``) steps, no deadline."""
    for name, value in (("examples", examples), ("steps", steps)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ValueError(f"{name} must be a positive int (or None for the default), not "
                             f"{value!r}")
    count = examples or _session.conformance_examples or (
        getattr(owner, "max_examples", None) if owner is not None else None)
    length = steps or (getattr(owner, "step_count", None) if owner is not None else None) or 8
    base = Settings()
    return Settings(
        base,
        # The explain phase re-runs a failing example many times over to say which draws
        # mattered; the conformance error already shows the minimal sequence and its trace.
        phases=[p for p in base.phases if p is not Phase.explain],
        max_examples=count or base.max_examples,
        stateful_step_count=length,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


class ConformanceTestCase(UnitTestCase):
    """What ``Machine.TestCase`` is: a ``unittest.TestCase`` whose ``runTest`` runs ``machine``
    (like hypothesis's own ``TestCase``), with the settings computed when it runs, so that
    pytest options apply.  Assign ``Machine.TestCase.settings`` to choose them yourself."""

    __test__ = False  # this base is not a test; each machine's subclass is
    machine: ClassVar[type[RuleBasedStateMachine]]
    settings: ClassVar[Settings | None] = None

    def runTest(self) -> None:
        """Run the conformance machine once (hypothesis ``run_state_machine_as_test``)."""
        machine = type(self).machine
        run_conformance(machine, type(self).settings or conformance_settings(machine))


def run_conformance(machine: type[RuleBasedStateMachine], settings: Settings) -> None:
    """The machine's ``check_configuration()``, ``run_state_machine_as_test``, then, if a rule
    broke, the error's repro minimised by running it (:meth:`vsssim.testing.repro.Replay.minimise`).
    """
    __tracebackhide__ = True  # pytest: show the caller's line
    if issubclass(machine, ConformanceMachine):
        machine.check_configuration()
    try:
        run_state_machine_as_test(machine, settings=settings)
    except ConformanceError as exc:
        if isinstance(exc.replay, Replay):
            exc.replay.minimise(exc)
            exc.replay = None
        raise


class _TestCaseProperty:
    """``Machine.TestCase``: a :class:`ConformanceTestCase` of that machine, made once per
    class."""

    def __get__(self, obj: object, owner: type[RuleBasedStateMachine]
                ) -> type[ConformanceTestCase]:
        cache = owner.__dict__.get("_vsssim_test_case")
        if cache is not None:
            return cache  # type: ignore[no-any-return]
        case = type(owner.__name__ + ".TestCase", (ConformanceTestCase,), {
            "__test__": True, "machine": owner, "__qualname__": owner.__qualname__ + ".TestCase",
            "__module__": owner.__module__})
        type.__setattr__(owner, "_vsssim_test_case", case)
        return case


_RUNNER: Final = st.runner()


# The plans of the backup, restore and abandoned-backup steps, drawn as the rules' arguments
# for the machine that runs them (in a rule, st.runner() is the machine): they depend on the
# writer's metadata and on the completed backups.  Drawn there, rather than with st.data() in
# the rule, a plan costs hypothesis no top-level draw of its own.
@st.composite
def _backup_plans(draw: st.DrawFn) -> BackupPlan:
    machine: WriterConformance = draw(_RUNNER)
    return machine._backup_plan(draw)


@st.composite
def _restore_plans(draw: st.DrawFn) -> tuple[RestorePlan, FaultPlan]:
    machine: WriterConformance = draw(_RUNNER)
    return machine._restore_plan(draw)


@st.composite
def _abandoned_plans(draw: st.DrawFn) -> AbandonedBackup:
    machine: WriterConformance = draw(_RUNNER)
    return machine._abandoned_plan(draw)


_BACKUP_PLANS: Final = _backup_plans()
_RESTORE_PLANS: Final = _restore_plans()
_ABANDONED_PLANS: Final = _abandoned_plans()


class WriterConformance(ConformanceMachine[WriterMonitor]):
    """The writer conformance state machine (subclass it; see the module docstring).

    Class attributes (callables are used as written, never bound: a function defined in the
    class body gets no ``self``, with or without ``@staticmethod``):

    ``writer_factory``
        Builds the writer: ``writer_factory(app)`` when there is an application, else
        ``writer_factory()``; with ``restore_methods``, also ``restore_method=...``.
    ``application_factory``
        Optional: ``application_factory(fs)`` builds the application on the first volume.
    ``freeze_state(writer, app, fs)`` / ``consistency_check(frozen, fs)``
        Optional: what to remember at the freeze instant, and whether a restored volume holds
        it (see :class:`~vsssim.testing.monitor.WriterMonitor`).  Both see the first volume of
        ``volumes`` only (where the application lives; ``fs`` is its live file system for
        ``freeze_state``, a copy of the writer's restored files on it for
        ``consistency_check``): a writer with files on other volumes too is checked on that
        one, after restores of all its components there.  Without them the backup is
        compared with the writer's files as they were when OnFreeze returned.
    ``files``
        ``{path: bytes}`` written before the writer starts (the files its metadata names).
    ``volumes``
        ``((name, size), ...)``, the first one the application's (default one 16 MiB C:);
        also any form the ``vss`` marker takes (names of 16 MiB volumes, a ``{name: size}``
        mapping, a :class:`~vsssim.testing.plans.VolumeLayout`).  Sizes are positive
        multiples of 16 KiB.
    ``restore_methods``
        Restore methods to try (one per example), passed to the factory as ``restore_method``.
    ``backup_types`` / ``contexts``
        What backups to draw from.
    ``stable_metadata``
        False if the writer's metadata may change between Identify calls (its backups then
        select components the canonical way, not from a drawn selection).
    ``max_examples`` / ``step_count`` / ``seed``
        Examples per run (default: ``--vss-conformance-examples`` or the hypothesis profile),
        steps per example (8), a fixed machine seed (default: ``--vss-seed``, else drawn per
        example).
    """

    writer_factory: ClassVar[Any] = None
    application_factory: ClassVar[Any] = None
    freeze_state: ClassVar[Any] = None
    consistency_check: ClassVar[Any] = None
    files: ClassVar[Mapping[str, bytes]] = {}
    volumes: ClassVar[Sequence[tuple[str, int]]] = (("C:\\", 16 * MiB),)
    restore_methods: ClassVar[Sequence[RestoreMethod]] = ()
    backup_types: ClassVar[Sequence[BackupType]] = (
        BackupType.FULL, BackupType.COPY, BackupType.INCREMENTAL, BackupType.DIFFERENTIAL,
        BackupType.LOG)
    contexts: ClassVar[Sequence[int]] = (
        int(SnapshotContext.BACKUP), int(SnapshotContext.APP_ROLLBACK),
        int(SnapshotContext.BACKUP) | int(_A.NO_AUTORECOVERY))
    stable_metadata: ClassVar[bool] = True
    subject = "writer"

    TestCase = _TestCaseProperty()  # type: ignore[assignment]

    @classmethod
    def check_configuration(cls) -> None:
        """Check the class attributes before any example runs: the factories and the hooks are
        callables that accept the arguments the run passes, ``files`` maps paths to bytes,
        ``volumes`` names at least one volume (and is made ``(name, size)`` pairs).  Raises
        ``TypeError`` (or ``ValueError`` for a bad value) naming the attribute (the argument,
        for :func:`check_writer`)."""
        factory = cls._hook("writer_factory")
        if factory is None:
            raise TypeError(f"{cls.__name__}.writer_factory is not set: assign your writer class "
                            "(or a function returning a writer)")
        app_factory = cls._hook("application_factory")
        for attr in ("writer_factory", "application_factory", "freeze_state",
                     "consistency_check"):
            value = cls._hook(attr)
            if value is not None and not callable(value):
                what = ("a class or function that builds the application from the first "
                        "volume's file system (the class, not an instance)"
                        if attr == "application_factory" else "a callable")
                raise TypeError(f"{setting_name(cls, attr)} must be {what}, not {value!r}")
        if isinstance(factory, type) and inspect.isabstract(factory):
            missing = ", ".join(sorted(getattr(factory, "__abstractmethods__", ())))
            raise TypeError(f"{setting_name(cls, 'writer_factory')}: {factory.__name__} cannot "
                            f"be instantiated: define {missing} (CVssWriter's pure virtual "
                            "handlers)")
        method = {"restore_method": RestoreMethod.RESTORE_IF_CAN_REPLACE} \
            if cls.restore_methods else {}
        shown = ", restore_method=..." if method else ""
        if app_factory is None:
            check_call(cls, "writer_factory", factory, (), method,
                       f"writer_factory({shown.lstrip(', ')})",
                       f"without {setting_name(cls, 'application_factory')} there is no "
                       "application to pass: if your writer takes its application, set it")
        else:
            check_call(cls, "writer_factory", factory, (_APP,), method,
                       f"writer_factory(app{shown})")
            check_call(cls, "application_factory", app_factory, (_FS,), {},
                       "application_factory(fs), with the first volume's file system")
        # (hooks the run calls only at a freeze, or after a restore: checked here, or a run
        # with few examples passes and a longer one fails with the TypeError)
        hooks = {"freeze_state": ((_WRITER, _APP, _FS), "freeze_state(writer, app, fs)"),
                 "consistency_check": ((_FROZEN, _FS), "consistency_check(frozen, fs)")}
        for attr, (args, call) in hooks.items():
            hook = cls._hook(attr)
            if hook is not None:
                check_call(cls, attr, hook, args, {}, call)
        cls._check_volumes()
        from vsssim.strategies import _check_backup_types, _check_contexts, _some

        _check_backup_types(_some(cls.backup_types, setting_name(cls, "backup_types")),
                            setting_name(cls, "backup_types"))
        _check_contexts(_some(cls.contexts, setting_name(cls, "contexts")),
                        setting_name(cls, "contexts"))
        files = cls.files
        if not isinstance(files, Mapping):
            raise TypeError(f"{setting_name(cls, 'files')} must be a mapping {{path: bytes}}, not "
                            f"{type(files).__name__}")
        for path, content in files.items():
            if not isinstance(path, str):
                raise TypeError(f"{setting_name(cls, 'files')}: a path must be a str, not {path!r}")
            if not isinstance(content, bytes | bytearray | memoryview):
                hint = " (encode the text: 'text'.encode())" if isinstance(content, str) else ""
                raise TypeError(f"{setting_name(cls, 'files')}: the content of {path!r} must be "
                                f"bytes, not {type(content).__name__}{hint}")
            low = path.lower()
            if not any(low.startswith(name.lower()) for name, _ in cls.volumes):
                raise ValueError(f"{setting_name(cls, 'files')}: {path!r} is not on one of the "
                                 f"volumes {[v for v, _ in cls.volumes]}")

    @classmethod
    def _check_volumes(cls) -> None:
        """Check ``volumes`` (any shape the ``vss`` marker takes) and store it as ``(name,
        size)`` pairs, the names in their canonical form."""
        from vsssim.system import _canonical_name

        setting = setting_name(cls, "volumes")
        label = setting if setting.endswith("=") else f"{setting} = "
        pairs = volume_pairs(cls.volumes, label, 16 * MiB)
        shape = ("(e.g. volumes=[('C:\\\\', 16 * 2**20), ('D:\\\\', 32 * 2**20)]; the "
                 "first is the application's)")
        if not pairs:
            raise ValueError(f"{setting} names no volume: give at least one {shape}")
        out: list[tuple[str, int]] = []
        for name, size in pairs:
            try:
                canonical = _canonical_name(name)
            except ValueError as exc:
                raise ValueError(f"{setting}: {exc} {shape}") from None
            if size <= 0 or size % (16 * 1024):
                raise ValueError(f"{setting}: the size of {name!r} must be a positive multiple "
                                 f"of 16 KiB (16384 bytes), not {size!r} {shape}")
            if any(canonical == n for n, _ in out):
                raise ValueError(f"{setting}: {canonical!r} is named twice")
            out.append((canonical, size))
        cls.volumes = tuple(out)

    def __init__(self) -> None:
        super().__init__()
        self.writer: Writer | None = None
        self.app: Application | None = None
        self.backups: list[tuple[str, BackupResult]] = []
        self._counts: dict[str, int] = {}
        # What build_machine drew and used, for its lines (see _write_setup): the seed,
        # shuffled deliveries, the restore method, the hooks, the volume of each file.
        self._built: tuple[int, bool, RestoreMethod | None, dict[str, Any], list[str]] | None \
            = None

    # ------------------------------------------------------------------------- plumbing
    def _next(self, what: str) -> str:
        n = self._counts.get(what, 0) + 1
        self._counts[what] = n
        return f"{what}{n}"

    @classmethod
    def _hook(cls, name: str) -> Any:
        return static_attr(cls, name)

    def _ref(self, name: str, value: object) -> Reference:
        """How the generated test reaches class attribute ``name`` (holding ``value``)."""
        owner = type(self)
        via_class = reference(owner)
        fallback = f"{via_class.expression}.{name}" if via_class.importable else None
        ref = reference(value, fallback=fallback)
        self.references.append(ref if ref.importable else via_class)
        return ref

    def _check(self, result_var: str | None = None, backup_var: str | None = None,
               result: BackupResult | RestoreResult | None = None,
               backup: BackupResult | None = None) -> None:
        __tracebackhide__ = True  # pytest: show the caller's line
        monitor = self.monitor
        self._run(lambda: [f"monitor.check({', '.join(a for a in (result_var, backup_var) if a)})"],
                  lambda: monitor.check(result, backup))

    def teardown(self) -> None:
        """Shut the machine down and let go of the writer, its application and the backups."""
        super().teardown()
        self.writer = None
        self.app = None
        self.backups.clear()

    # -------------------------------------------------------------------------- setup
    # The machine's seed (16 bits) and whether it shuffles deliveries (the lowest bit) are one
    # integer choice: a boolean of its own costs hypothesis more than the integer.
    @initialize(setup=st.integers(0, 2**17 - 1), data=st.data())
    def build_machine(self, setup: int, data: st.DataObject) -> None:
        """A fresh machine: volumes, files, the application, the writer, its monitor."""
        from vsssim.options import VssOptions
        from vsssim.system import VssSystem

        cls = type(self)
        cls._check_once()
        seed = _session.machine_seed(cls.seed, setup >> 1)
        shuffled = bool(setup & 1)
        factory = self._hook("writer_factory")
        methods = list(cls.restore_methods)
        method = data.draw(st.sampled_from(methods), label="restore_method") if methods else None
        self.root = fast_temp_dir("vsssim-conformance-")
        self._system = VssSystem(self.root / "machine", seed=seed,
                                 options=VssOptions(delivery="shuffled") if shuffled else None)
        system = self._system
        for name, size in cls.volumes:
            system.add_volume(name, size=size)
        file_volumes: list[str] = []
        for path, content in cls.files.items():
            vol = system.volume_of_path(path)
            if vol is None:
                raise ValueError(f"{setting_name(cls, 'files')}: {path!r} is not on one of the "
                                 f"volumes {[v for v, _ in cls.volumes]}")
            file_volumes.append(vol.name)
            system.volume(vol.name).fs.write_file(path, content, create_dirs=True)
        first = cls.volumes[0][0]
        hooks = {"writer_factory": factory}
        app_factory = self._hook("application_factory")
        if app_factory is not None:
            hooks["application_factory"] = app_factory
            self.app = system.add_application(app_factory(system.volume(first).fs))
        kwargs: dict[str, Any] = {}
        if method is not None:
            kwargs["restore_method"] = method
        writer = factory(self.app, **kwargs) if self.app is not None else factory(**kwargs)
        self.writer = system.add_writer(writer)
        checks: dict[str, Any] = {}
        for hook in ("freeze_state", "consistency_check"):
            fn = self._hook(hook)
            if fn is not None:
                hooks[hook] = checks[hook] = fn
        # The repro's lines for all this are written out only if a repro needs them.
        self._built = (seed, shuffled, method, hooks, file_volumes)
        self._monitor = WriterMonitor(system, self.writer, self.app,
                                      stable_metadata=cls.stable_metadata, volume=first,
                                      **checks)
        self._check()

    def _write_setup(self) -> None:
        """The lines that build this example's machine (see :meth:`build_machine`), and the
        references they use."""
        if self._built is None or self.setup:
            return
        cls = type(self)
        seed, shuffled, method, hooks, file_volumes = self._built
        options = "options=VssOptions(delivery=\"shuffled\")" if shuffled else ""
        self.setup.append(f"with VssSystem(tmp_path / \"machine\", seed={seed}" + (
            f", {options}" if options else "") + ") as system:")
        for name, size in cls.volumes:
            self.setup.append(f"system.add_volume({name!r}, size={size})")
        for (path, content), volume in zip(cls.files.items(), file_volumes, strict=True):
            self.setup.append(f"system.volume({volume!r}).fs.write_file({path!r}, "
                              f"{content!r}, create_dirs=True)")
        first = cls.volumes[0][0]
        args: list[str] = []
        if "application_factory" in hooks:
            ref = self._ref("application_factory", hooks["application_factory"])
            self.setup.append(_naming(f"app = system.add_application({ref.expression}("
                                      f"system.volume({first!r}).fs))",
                                      [("application_factory", ref)]))
            args.append("app")
        else:
            self.setup.append("app = None")
        if method is not None:
            args.append(f"restore_method=RestoreMethod.{RestoreMethod(method).name}")
        ref = self._ref("writer_factory", hooks["writer_factory"])
        self.setup.append(_naming(f"writer = system.add_writer({ref.expression}("
                                  f"{', '.join(args)}))", [("writer_factory", ref)]))
        extra: list[str] = []
        refs: list[tuple[str, Reference]] = []
        for hook in ("freeze_state", "consistency_check"):
            if hook in hooks:
                refs.append((hook, self._ref(hook, hooks[hook])))
                extra.append(f"{hook}={refs[-1][1].expression}")
        if not cls.stable_metadata:
            extra.append("stable_metadata=False")
        self.setup.append(_naming("monitor = WriterMonitor(system, writer, app"
                                  + "".join(f", {e}" for e in extra) + ")", refs))

    # --------------------------------------------------------------------------- rules
    def _drawer(self, key: tuple[object, ...], build: Callable[[], _D]) -> _D:
        """A plan drawer built once per class and key: building one (its strategies, its
        selector) is far dearer than drawing from it, and the writer's metadata (the usual
        key) rarely changes."""
        cache: dict[tuple[object, ...], Any] = \
            type(self).__dict__.get("_vsssim_drawers") or {}
        if not cache:
            type.__setattr__(type(self), "_vsssim_drawers", cache)
        found = cache.get(key)
        if found is None:
            if len(cache) > 64:
                cache.clear()
            found = cache[key] = build()
        return found

    def _metadata_key(self) -> tuple[object, ...]:
        meta = self.monitor.metadata
        if meta is None:
            return ()
        return (meta.identity.writer_name, tuple(
            [(c.full_path, c.selectable, c.component_type) for c in meta.components]))

    def _faults(self, events: Sequence[str]) -> _FaultDrawer | None:
        from vsssim.strategies import _fault_drawer

        # A backup's drawn faults go through _tame (a plain call after the draw: a .map()
        # costs more); the other events' plans have no Abort to tame.
        return self._drawer(("faults", tuple(events)), lambda: _fault_drawer(events=events))

    def _backup_plan(self, draw: st.DrawFn) -> BackupPlan:
        """Draw the plan of a backup step (see :data:`_BACKUP_PLANS`)."""
        from vsssim.strategies import _backup_drawer

        cls = type(self)
        writer = self.writer
        # Components drawn from one Identify may be gone at the next if the writer's metadata
        # changes (stable_metadata=False): such a writer gets the canonical selection.
        metadata = self.monitor.metadata if cls.stable_metadata else None
        return self._drawer(("backup", *self._metadata_key()), lambda: _backup_drawer(
            metadata, writer_name=writer.writer_name if writer else None,
            volumes=[v for v, _ in cls.volumes], backup_types=cls.backup_types,
            contexts=cls.contexts, faults=self._faults(_BACKUP_EVENTS))).draw(draw)

    def _restore_plan(self, draw: st.DrawFn) -> tuple[RestorePlan, FaultPlan]:
        """Draw the plan of a restore step and its faults (see :data:`_RESTORE_PLANS`)."""
        from vsssim.strategies import _restore_drawer

        writer = self.writer
        count = len(self.backups)
        return self._drawer(("restore", count, *self._metadata_key()), lambda: _restore_drawer(
            count, self.monitor.metadata, writer_name=writer.writer_name if writer else None,
            faults=self._faults(("PreRestore", "PostRestore")))).draw_with_faults(draw)

    def _abandoned_plan(self, draw: st.DrawFn) -> AbandonedBackup:
        """Draw the plan of an abandoned backup (see :data:`_ABANDONED_PLANS`)."""
        from vsssim.strategies import _abandoned_drawer

        return self._drawer(("midway", *self._metadata_key()), lambda: _abandoned_drawer(
            self.monitor.metadata, volumes=[v for v, _ in type(self).volumes])).draw(draw)

    @rule(plan=_BACKUP_PLANS)
    def backup(self, plan: BackupPlan) -> None:
        """A backup (``system.backup``) of a drawn type, context and selection, with faults."""
        self._step()
        if plan.faults:
            tamed = _tame(plan.faults)
            if tamed is not plan.faults:
                plan = replace(plan, faults=tuple(tamed))
        name = self._next("backup")
        target = self.root / name if self.root else Path(name)
        system = self.system
        result = self._run(lambda: plan.code(name, f"tmp_path / {name!r}"),
                           lambda: plan.run(system, target))
        if result.succeeded and result.target_dir is not None:
            self.backups.append((name, result))
        self._check(name, None, result)

    @precondition(lambda self: bool(self.backups))
    @rule(drawn=_RESTORE_PLANS)
    def restore(self, drawn: tuple[RestorePlan, FaultPlan]) -> None:
        """A restore (``system.restore``) of one of the completed backups, perhaps with
        PreRestore / PostRestore faults; a reboot when it staged files for one."""
        self._step()
        plan, faults = drawn
        bname, backup = self.backups[plan.backup]
        plan = plan.within(backup.component_names)
        name = self._next("restore")

        def lines() -> list[str]:
            code = [f"system.faults = {_faults_code(faults)}"] if faults else []
            code += plan.code(name, bname, rebooted=False)
            if faults:
                code.append("system.faults = None")
            return code

        no_reboot = replace(plan, reboot=False)

        def run() -> RestoreResult:
            if faults:
                self.system.faults = faults
            try:
                return no_reboot.run(self.system, [b for _, b in self.backups])
            finally:
                if faults:
                    self.system.faults = None

        result = self._run(lines, run)
        if plan.reboot and result.pending_reboot:
            self._run(["system.reboot()  # the restore staged files for the next boot"],
                      self.system.reboot)
        self._check(name, bname, result, backup)

    @rule(times=st.integers(1, 2))
    def send_identify(self, times: int) -> None:
        """Another program sends Identify (rule 1: at any time), once or twice in a row."""
        self._step()
        for _ in range(times):
            self._run(["system.send_identify()"], self.system.send_identify)
        self._check()

    @precondition(lambda self: self.app is not None)
    @rule(steps=st.integers(1, 12))
    def run_applications(self, steps: int) -> None:
        """The application works for a while between backups."""
        self._step()
        self._run([f"system.run_applications({steps})"],
                  lambda: self.system.run_applications(steps))
        self._check()

    @rule(plan=_ABANDONED_PLANS)
    def stop_backup_midway(self, plan: AbandonedBackup) -> None:
        """A requester stops part-way (with or without AbortBackup) and releases its object."""
        self._step()
        self._run(plan.code, lambda: plan.run(self.system, self.writer))
        self._check()


# Stand-ins for the arguments a factory gets, to check its signature before a run.
_APP: Final = object()
_FS: Final = object()
_WRITER: Final = object()
_FROZEN: Final = object()


def _naming(line: str, refs: Sequence[tuple[str, Reference]]) -> str:
    """``line``, with a comment saying which setting each placeholder on it stands for."""
    unknown = [name for name, ref in refs if ref.expression == PLACEHOLDER]
    if not unknown:
        return line
    return f"{line}  # {PLACEHOLDER}: your {', then your '.join(unknown)}"


def _faults_code(plan: FaultPlan) -> str:
    from vsssim.testing.plans import faults_code

    return faults_code(plan.faults)


def _check_settings(settings: object, examples: int | None, steps: int | None) -> None:
    """Refuse ``settings=`` that are not hypothesis settings, or that come with ``examples=``
    or ``steps=`` (which they would silently override)."""
    if settings is None:
        return
    if not isinstance(settings, Settings):
        raise TypeError(f"settings= must be hypothesis settings (settings(...)), not "
                        f"{type(settings).__name__}")
    given = [f"{name}={value!r}" for name, value in (("examples", examples), ("steps", steps))
             if value is not None]
    if given:
        raise ValueError(f"settings= replaces the run's settings, so {' and '.join(given)} would "
                         "be ignored: give them to conformance_settings and build on it, "
                         f"settings=settings(conformance_settings({', '.join(given)}), ...)")


def check_writer(
    writer_factory: Callable[..., Writer],
    *,
    application_factory: Callable[[Any], Application] | None = None,
    freeze_state: Callable[[Any, Any, Any], object] | None = None,
    consistency_check: Callable[[Any, Any], object] | None = None,
    files: Mapping[str, bytes] | None = None,
    volumes: Sequence[tuple[str, int] | str] | Mapping[str, int] | VolumeLayout | None = None,
    restore_methods: Sequence[RestoreMethod] = (),
    stable_metadata: bool = True,
    examples: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    settings: Settings | None = None,
) -> None:
    """Run the writer conformance machine once (the same as a ``WriterConformance`` subclass
    with these attributes).  Returns quietly if no example broke a rule; otherwise raises
    :class:`~vsssim.testing.rules.ConformanceError` for the minimal failing sequence, with the
    sequence as a ready-to-paste pytest test (checked by running it) and its trace.

    ``writer_factory``
        Your writer class, or a function returning a writer: called ``writer_factory(app)``
        with the application when there is one, else ``writer_factory()``; with
        ``restore_methods``, also ``restore_method=...``.  Each example builds a new writer.
    ``application_factory``
        Your application class (or a function returning one), called
        ``application_factory(fs)`` with the live file system of the first volume.
    ``freeze_state``
        ``freeze_state(writer, app, fs)``, called when the writer's OnFreeze returns: what to
        remember of the application then (``app`` is None without an application; ``fs`` is
        the first volume's live file system).  Default: the writer's files, which each
        completed backup must then hold exactly.
    ``consistency_check``
        ``consistency_check(frozen, fs)``, called after each complete restore of a full or copy
        backup (after the writer's OnPostRestore) with what ``freeze_state`` returned at that
        backup's freeze and a file system holding the writer's restored files of the first
        volume; it returns False or raises ``AssertionError`` if they are not that state.  Both
        hooks see the first volume only (where the application lives): the writer's files on
        other volumes are not on ``fs``, and the check runs only after restores that include
        all the writer's components on the first volume.
    ``files``
        ``{path: bytes}`` written before the application and the writer start (the files the
        writer's metadata names); each path must be on one of ``volumes``.
    ``volumes``
        The machine's volumes, the first one the application's: ``(name, size)`` pairs (size
        in bytes, a positive multiple of 16 KiB), or any form the ``vss`` marker takes (a list
        of names, 16 MiB each; a ``{name: size}`` mapping; a
        :class:`~vsssim.testing.plans.VolumeLayout`).  Default: one 16 MiB ``C:\\``.
    ``restore_methods``
        Restore methods to try, one drawn per example and passed to ``writer_factory`` as
        ``restore_method=``; empty (the default): the writer's own, and no such argument.
    ``stable_metadata``
        False if the writer's metadata may change between Identify calls (files that come and
        go); its backups then select components the canonical way.
    ``examples`` / ``steps``
        Examples in the run (default: ``--vss-conformance-examples``, else the hypothesis
        profile's ``max_examples``) and the most steps in each (default 8).
    ``seed``
        A fixed seed for every example's machine (default: ``--vss-seed``, else one drawn per
        example, which hypothesis then shrinks and replays).
    ``settings``
        Hypothesis settings for the run.  They *replace* vsssim's conformance settings (no
        deadline, no explain phase, health checks off, ``--vss-conformance-examples``), and
        ``examples`` / ``steps`` cannot be given with them; to change one setting, build on
        vsssim's::

            from hypothesis import settings
            from vsssim.testing import check_writer, conformance_settings

            check_writer(MyWriter, settings=settings(
                conformance_settings(examples=200, steps=10), derandomize=True))
    """
    __tracebackhide__ = True  # pytest: show the caller's line
    _check_settings(settings, examples, steps)
    if not callable(writer_factory):
        raise TypeError(f"writer_factory must be a writer class or a function returning a "
                        f"writer, not {writer_factory!r}")
    if files is not None and not isinstance(files, Mapping):
        raise TypeError(f"files= must be a mapping {{path: bytes}}, not {type(files).__name__}")
    attrs: dict[str, Any] = {
        "_vsssim_from_function": True,
        "writer_factory": staticmethod(writer_factory),
        "application_factory": None if application_factory is None
        else staticmethod(application_factory),
        "freeze_state": None if freeze_state is None else staticmethod(freeze_state),
        "consistency_check": None if consistency_check is None
        else staticmethod(consistency_check),
        "restore_methods": tuple(restore_methods),
        "stable_metadata": stable_metadata,
        "seed": seed,
        "__module__": "vsssim.testing.writer_conformance",
    }
    if files is not None:
        attrs["files"] = dict(files)
    if volumes is not None:
        attrs["volumes"] = volumes  # checked, and made (name, size) pairs, by the run
    name = getattr(writer_factory, "__name__", "writer")
    machine = type(f"CheckWriter_{name}", (WriterConformance,), attrs)
    run_conformance(machine, settings or conformance_settings(machine, examples=examples,
                                                              steps=steps))
