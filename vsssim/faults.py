"""Declarative fault plans: make writers, providers, storage and requesters misbehave on cue.

A :class:`FaultPlan` is a list of faults; the coordinator asks it before every writer event and
every provider call whether something should go wrong, and records every fault that fires in the
trace (``EventKind.FAULT``), so a test or a lesson can see exactly what happened::

    plan = FaultPlan([
        WriterFault("Freeze", writer="KvStore Writer", action="veto",
                    hresult=hresult.VSS_E_WRITERERROR_RETRYABLE),
        WriterFault("Freeze", writer="File Share Writer", action="delay", delay=70.0),
        ProviderFault("CommitSnapshots", hresult=hresult.E_FAIL),
        RequesterCrash(after="Freeze"),
        IdentifyDuring("Thaw"),
    ])
    VssSystem(faults=plan)

Faults match by event or method name, optionally by writer or provider name (``None`` matches
any), and fire on the ``occurrence``-th match (1 = the first) or on ``every`` match.  Event and
method names are checked when a fault is made (a misspelt one is refused); writer and provider
names cannot be, since the machine's writers are not known then: spell them exactly (a writer's
``writer_name`` or instance name), or the fault never fires.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, get_args

from vsssim import hresult as hr

if TYPE_CHECKING:
    from hypothesis.vendor.pretty import RepresentationPrinter

__all__ = [
    "CREATION_METHODS",
    "PROVIDER_FAULT_METHODS",
    "SENT_EVENTS",
    "WRITER_ACTIONS",
    "WRITER_FAULT_EVENTS",
    "Fault",
    "FaultPlan",
    "IdentifyDuring",
    "InjectedFault",
    "ProviderFault",
    "RequesterCrash",
    "StorageFault",
    "WriterFault",
    "check_name",
]

WriterAction = Literal["veto", "fail", "raise", "delay", "none", "hang"]
#: Every :class:`WriterFault` action.
WRITER_ACTIONS: Final[tuple[str, ...]] = get_args(WriterAction)
#: The writer events a fault can name (``WriterFault.event``, ``IdentifyDuring.event``,
#: ``RequesterCrash.after``).
WRITER_FAULT_EVENTS: Final = ("Identify", "PrepareForBackup", "PrepareForSnapshot", "Freeze",
                              "Thaw", "PostSnapshot", "Abort", "BackupComplete",
                              "BackupShutdown", "PreRestore", "PostRestore")
#: The events VSS delivers to writers one after another during a backup or a restore, where
#: another program's Identify or a requester crash can come (``IdentifyDuring.event``,
#: ``RequesterCrash.after``): all but Identify and BackupShutdown.
SENT_EVENTS: Final = tuple(e for e in WRITER_FAULT_EVENTS
                           if e not in ("Identify", "BackupShutdown"))
#: The provider methods VSS calls while it creates a snapshot set.
CREATION_METHODS: Final = ("BeginPrepareSnapshot", "EndPrepareSnapshots", "PreCommitSnapshots",
                           "CommitSnapshots", "PostCommitSnapshots", "PreFinalCommitSnapshots",
                           "PostFinalCommitSnapshots")
#: Every provider method VSS calls through the coordinator (``ProviderFault.method``).
PROVIDER_FAULT_METHODS: Final = (*CREATION_METHODS, "AbortSnapshots", "DeleteSnapshots",
                                 "GetTargetLuns")
# The names each name field of each kind of fault may hold (a misspelt one would never match).
_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("WriterFault", "event"): WRITER_FAULT_EVENTS,
    ("WriterFault", "action"): WRITER_ACTIONS,
    ("IdentifyDuring", "event"): SENT_EVENTS,
    ("RequesterCrash", "after"): SENT_EVENTS,
    ("ProviderFault", "method"): PROVIDER_FAULT_METHODS,
    ("StorageFault", "at"): ("DoSnapshotSet",),
}


class InjectedFault(RuntimeError):
    """The exception a ``raise`` fault throws inside a handler or provider method."""


_NAME, _OPT_NAME = (str,), (str, type(None))
_INT, _OPT_INT, _NUM, _FLAG = (int,), (int, type(None)), (int, float), (bool,)
#: The type each field of a fault must have (a fault with a wrong one would never fire).
_FIELDS: dict[str, tuple[type, ...]] = {
    "event": _NAME, "method": _NAME, "volume": _NAME, "at": _NAME, "after": _NAME,
    "writer": _OPT_NAME, "provider": _OPT_NAME, "action": _NAME, "application_message": _NAME,
    "hresult": _OPT_INT, "application_hresult": _INT, "max_size": _INT, "delay": _NUM,
    "occurrence": _INT, "every": _FLAG, "raise_exception": _FLAG,
}


def _check_fields(fault: object) -> None:
    """Refuse a fault built with a value of the wrong type (``TypeError``) or range
    (``ValueError``): a misspelt fault would otherwise silently never fire."""
    kind = type(fault).__name__
    for name, value in vars(fault).items():
        types = _FIELDS[name]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            wanted = " or ".join("None" if t is type(None) else t.__name__ for t in types)
            raise TypeError(f"{kind}.{name} must be {wanted}, not {value!r}")
    if getattr(fault, "occurrence", 1) < 1:
        raise ValueError(f"{kind}.occurrence counts from 1, not {vars(fault)['occurrence']!r}")
    delay = getattr(fault, "delay", 0.0)
    if not delay >= 0:
        raise ValueError(f"{kind}.delay must be a non-negative number of seconds, not {delay!r}")
    for (owner, name), allowed in _NAMES.items():
        if owner == kind:
            check_name(f"{kind}.{name}", vars(fault)[name], allowed)


def check_name(what: str, value: object, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of the names ``allowed`` (a misspelt one
    would never match); a case-only mismatch is told the right spelling."""
    if value not in allowed:
        near = [a for a in allowed if a.lower() == str(value).lower()]
        hint = f" (names are case-sensitive: {near[0]!r})" if near else ""
        raise ValueError(f"{what} must be one of {sorted(allowed)}, not {value!r}{hint}")


@dataclass(frozen=True)
class WriterFault:
    """A writer misbehaving at one event.

    ``action``:
      * ``"veto"``: the handler is not run; the writer calls ``SetWriterFailureEx(hresult,
        application_hresult, application_message)`` and returns False (a veto);
      * ``"fail"``: the handler runs, then the writer reports ``hresult`` and returns True (a
        non-fatal failure, rule 13);
      * ``"raise"``: the handler raises :class:`InjectedFault` instead of running;
      * ``"delay"``: ``delay`` seconds pass on the system clock, then the handler runs (a 70 s
        delay at Freeze overruns the 60 s freeze window);
      * ``"hang"``: like delay, but the handler never runs and the writer does not answer;
      * ``"none"``: the handler returns None instead of a bool.
    """

    event: str
    writer: str | None = None
    action: WriterAction = "veto"
    hresult: int = hr.VSS_E_WRITERERROR_NONRETRYABLE
    application_hresult: int = hr.S_OK
    application_message: str = ""
    delay: float = 0.0
    occurrence: int = 1
    every: bool = False

    def __post_init__(self) -> None:
        _check_fields(self)

    def describe(self) -> str:
        """One line for the trace."""
        if self.action in ("veto", "fail"):
            what = f"{self.action} with {hr.name_of(self.hresult)}"
            if self.application_message:
                what += f" ({self.application_message})"
        elif self.action in ("delay", "hang"):
            what = f"{self.action} {self.delay:g} s"
        else:
            what = self.action
        return f"writer fault at {self.event}: {what}"


@dataclass(frozen=True)
class ProviderFault:
    """A provider method failing or stalling.

    The method returns ``hresult`` (translated like any provider return, providers reference
    §2.5: anything outside the allowed list becomes VSS_E_UNEXPECTED_PROVIDER_ERROR), or raises
    :class:`InjectedFault` when ``raise_exception`` is set.  ``delay`` seconds pass on the system
    clock first (a 12 s delay in CommitSnapshots overruns the 10 s hold).
    """

    method: str
    provider: str | None = None
    hresult: int | None = hr.VSS_E_PROVIDER_VETO
    raise_exception: bool = False
    delay: float = 0.0
    occurrence: int = 1
    every: bool = False

    def __post_init__(self) -> None:
        _check_fields(self)

    def describe(self) -> str:
        """One line for the trace."""
        parts = []
        if self.delay:
            parts.append(f"delay {self.delay:g} s")
        if self.raise_exception:
            parts.append("raise")
        elif self.hresult is not None:
            parts.append(f"return {hr.name_of(self.hresult)}")
        return f"provider fault in {self.method}: {', '.join(parts) or 'no-op'}"


@dataclass(frozen=True)
class StorageFault:
    """The system provider's diff area of ``volume`` is limited to ``max_size`` bytes at ``at``.

    With a small limit the oldest shadow copies are purged as writes go on (volsnap's behaviour);
    with ``max_size=0`` the diff area cannot take a new shadow copy at all and creation fails
    with VSS_E_INSUFFICIENT_STORAGE.
    """

    volume: str
    max_size: int = 0
    at: str = "DoSnapshotSet"
    occurrence: int = 1
    every: bool = False

    def __post_init__(self) -> None:
        _check_fields(self)

    def describe(self) -> str:
        """One line for the trace."""
        return f"storage fault: diff area of {self.volume} limited to {self.max_size} bytes"


@dataclass(frozen=True)
class RequesterCrash:
    """The requester process dies right after event ``after`` (one of :data:`SENT_EVENTS`; after
    PrepareForBackup, also when the requester's own call returns): VSS releases its object
    (BackupShutdown, auto-release shadow copies deleted) and nothing more of that backup runs."""

    after: str
    occurrence: int = 1
    every: bool = False

    def __post_init__(self) -> None:
        _check_fields(self)

    def describe(self) -> str:
        """One line for the trace."""
        return f"requester crashes after {self.after}"


@dataclass(frozen=True)
class IdentifyDuring:
    """Another program sends Identify to every writer right before event ``event`` (rule 1)."""

    event: str
    occurrence: int = 1
    every: bool = False

    def __post_init__(self) -> None:
        _check_fields(self)

    def describe(self) -> str:
        """One line for the trace."""
        return f"third-party Identify before {self.event}"


Fault = WriterFault | ProviderFault | StorageFault | RequesterCrash | IdentifyDuring


@dataclass
class FaultPlan:
    """An ordered list of faults and how often each one has matched so far."""

    faults: list[Fault] = field(default_factory=list)
    _counts: dict[int, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, fault: Fault) -> FaultPlan:
        """Append a fault; returns the plan for chaining."""
        self.faults.append(fault)
        return self

    def __bool__(self) -> bool:
        return bool(self.faults)

    def _repr_pretty_(self, p: RepresentationPrinter, cycle: bool) -> None:
        """How hypothesis's (and IPython's) pretty printer shows a plan, in a failing test
        case: its constructor with the faults, as ``repr`` (without it, the printer lists every
        dataclass field, the match counts and the lock included)."""
        if cycle:
            p.text("FaultPlan(...)")
            return
        with p.group(len("FaultPlan(faults="), "FaultPlan(faults=", ")"):
            p.pretty(self.faults)

    def _fires(self, index: int, fault: Fault) -> bool:
        with self._lock:
            n = self._counts.get(index, 0) + 1
            self._counts[index] = n
        return fault.every or n == fault.occurrence

    def writer_fault(self, event: str, writer_names: tuple[str, ...]) -> WriterFault | None:
        """The writer fault that fires now for ``event`` delivered to a writer known by names."""
        for i, f in enumerate(self.faults):
            if (isinstance(f, WriterFault) and f.event == event
                    and (f.writer is None or f.writer in writer_names) and self._fires(i, f)):
                return f
        return None

    def provider_fault(self, method: str, provider: str) -> ProviderFault | None:
        """The provider fault that fires now for ``provider.method``."""
        for i, f in enumerate(self.faults):
            if (isinstance(f, ProviderFault) and f.method == method
                    and (f.provider is None or f.provider == provider) and self._fires(i, f)):
                return f
        return None

    def storage_faults(self, point: str) -> list[StorageFault]:
        """Storage faults that fire at ``point`` (a call or event name)."""
        return [f for i, f in enumerate(self.faults)
                if isinstance(f, StorageFault) and f.at == point and self._fires(i, f)]

    def requester_crash(self, point: str) -> RequesterCrash | None:
        """The requester crash that fires after ``point``."""
        for i, f in enumerate(self.faults):
            if isinstance(f, RequesterCrash) and f.after == point and self._fires(i, f):
                return f
        return None

    def identify_during(self, event: str) -> IdentifyDuring | None:
        """The third-party Identify that fires before ``event``."""
        for i, f in enumerate(self.faults):
            if isinstance(f, IdentifyDuring) and f.event == event and self._fires(i, f):
                return f
        return None


# With hypothesis in use, st.from_type(FaultPlan) should draw valid plans.
from vsssim._hypothesis import register_if_testing  # noqa: E402

register_if_testing(FaultPlan)
