"""``RequesterMonitor``: checks a backup program (a requester) against the reference's rules.

The requester is your code: a function ``fn(system)`` that drives
``system.create_backup_components()`` the way your backup tool drives ``IVssBackupComponents``.
The monitor follows every requester object of the machine through the trace (each call and
result names its object) and checks the rules of :data:`~vsssim.testing.rules.REQUESTER_RULES`::

    monitor = RequesterMonitor(system)
    system.faults = FaultPlan([WriterFault("Freeze", action="veto",
                                           hresult=hresult.VSS_E_WRITERERROR_RETRYABLE)])
    monitor.hold_creation_lock()       # another backup is creating its set right now
    monitor.run(my_backup)             # runs my_backup(system), then checks

What each rule looks at:

* ends with BackupComplete or AbortBackup: every object that started a snapshot set called one of
  them before it was released;
* writer status: ``GatherWriterStatus`` after ``DoSnapshotSet`` returned (success or not) and
  after ``BackupComplete``, before the release;
* ``VSS_E_SNAPSHOT_SET_IN_PROGRESS``: with :meth:`RequesterMonitor.hold_creation_lock`, another
  requester holds the machine's creation lock until your code calls ``StartSnapshotSet`` a second
  time (on any object): giving up (or letting the error escape) breaks the rule;
* retryable writer errors (``VSS_E_WRITERERROR_RETRYABLE``, ``..._OUTOFRESOURCES``,
  ``..._TIMEOUT``, from a writer's reply or a freeze window that ran out): after the last one a
  new snapshot set must be started (unless three retries were made already, or another writer
  failed in the same attempt with ``NONRETRYABLE`` or ``INCONSISTENTSNAPSHOT``, which a plain
  retry cannot fix), and no more than three retries made;
* leaks: every object released, no shadow copy left from the run (unless ``allow_persistent``
  and the copy was made without auto-release: ``VSS_VOLSNAP_ATTR_NO_AUTO_RELEASE`` or
  ``..._PERSISTENT``), no snapshot-set creation left running;
* live reads: between a successful ``DoSnapshotSet`` and ``BackupComplete`` / ``AbortBackup`` /
  release, the live volumes are not read (the mechanism of ``BackupResult.live_reads``: shadow
  copy reads are not counted);
* the backup sequence: at ``DoSnapshotSet`` of an object that called ``GatherWriterMetadata``,
  ``PrepareForBackup`` was called, and in component mode every volume that the files of the
  added components (and of their sets' members) are on is in the snapshot set;
* calls in order: no call refused with ``VSS_E_BAD_STATE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from vsssim import hresult as hr
from vsssim.hresult import RETRYABLE_WRITER_ERRORS
from vsssim.testing._support import live_reads, nothing, reads_since, record, trace_tail
from vsssim.testing.rules import REQUESTER_RULES, ConformanceError, Violation

if TYPE_CHECKING:
    from uuid import UUID

    from vsssim.requester import BackupComponents
    from vsssim.system import VssSystem
    from vsssim.trace import TraceEvent

__all__ = ["RETRYABLE_WRITER_ERRORS", "RequesterMonitor"]

_FINAL_WRITER_ERRORS: Final = frozenset({hr.VSS_E_WRITERERROR_NONRETRYABLE,
                                         hr.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT})

_CREATION_EVENTS = frozenset({"PrepareForBackup", "PrepareForSnapshot", "Freeze", "Thaw",
                              "PostSnapshot"})
MAX_RETRIES = 3


@dataclass
class _Session:
    """What one requester object did, as the trace tells it."""

    id: str
    started: bool = False
    start_seq: int = 0
    dss_seq: int = 0
    dss_result: int | None = None
    status_after_dss: bool = False
    completed: bool = False
    bc_result: int | None = None
    status_after_bc: bool = False
    aborted: bool = False
    released: bool = False
    gathered: bool = False  # GatherWriterMetadata called: a backup with writers
    prepared: bool = False  # PrepareForBackup called
    reads_at: dict[str, int] | None = None  # live reads when its copy window opened


class RequesterMonitor:
    """Watches every requester object of ``system`` for broken requester rules.

    ``allow_persistent``: shadow copies the requester made without auto-release (a persistent
    context, or ``VSS_VOLSNAP_ATTR_NO_AUTO_RELEASE``) may stay: a tool that keeps snapshots on
    purpose; auto-release copies may never outlive a run.
    """

    def __init__(self, system: VssSystem, *, allow_persistent: bool = False) -> None:
        from vsssim import system as machines

        if not isinstance(system, machines.VssSystem):
            raise TypeError(f"system must be a VssSystem, not {type(system).__name__}")
        self.system = system
        self.allow_persistent = allow_persistent
        self._sessions: dict[str, _Session] = {}
        self._pending: list[Violation] = []
        self._last_session: str | None = None
        self._blocker: BackupComponents | None = None
        self._blocker_id: str | None = None
        self._blocked_starts = 0
        self._blocked_seq = 0  # the StartSnapshotSet call refused while the lock was held
        self._created: dict[str, int] = {}  # shadow copy id -> seq of its creation
        self._last_release = 0
        self._retryable: list[tuple[int, str]] = []  # (seq, what failed)
        self._final: list[int] = []  # seqs of writer failures a plain retry cannot fix
        self._error: Exception | None = None
        self._closed = False
        self._before: set[UUID] = set()  # shadow copies that existed when the run began
        self._unsubscribe = system.tracer.subscribe(self._on_event)

    # ---------------------------------------------------------------------- scenario
    def hold_creation_lock(self) -> None:
        """Another backup program starts creating a snapshot set now (``StartSnapshotSet``
        on its own object) and keeps the creation lock until your code calls
        ``StartSnapshotSet`` again after being refused with ``VSS_E_SNAPSHOT_SET_IN_PROGRESS``
        (the retry): then it aborts and releases its object."""
        if self._blocker is not None:
            return
        bc = self.system.create_backup_components()
        self._blocker_id = str(bc.session_id)
        self._sessions.pop(self._blocker_id, None)  # its creation was traced before we knew it
        bc.initialize_for_backup()
        bc.start_snapshot_set()
        self._blocker = bc
        self._blocked_starts = 0

    def _let_go(self) -> None:
        bc, self._blocker = self._blocker, None
        if bc is not None:
            bc.abort_backup()
            bc.release()

    def run(self, requester: Callable[[VssSystem], object]) -> object:
        """Run ``requester(system)`` and :meth:`check` what it did.

        A ``VssError`` escaping the requester is allowed (a tool reporting a failed backup)
        as long as no rule is broken; any other exception is raised again after the check.
        """
        __tracebackhide__ = True  # pytest: show the caller's line
        from vsssim.errors import VssError, VssSnapshotSetInProgressError

        self.begin()
        escaped: BaseException | None = None
        result: object = None
        try:
            result = requester(self.system)
        except VssSnapshotSetInProgressError as exc:
            escaped = exc
            self._violate("retries-snapshot-set-in-progress",
                          f"StartSnapshotSet failed with VSS_E_SNAPSHOT_SET_IN_PROGRESS and the "
                          f"error escaped ({exc.message}): wait and call it again",
                          self._blocked_seq)
        except Exception as exc:  # checked first, raised again below unless a VssError
            escaped = exc
        try:
            self.check()
        except ConformanceError as error:
            if escaped is not None:
                error.notes.append(f"The requester raised {type(escaped).__name__}: {escaped}")
            raise
        if escaped is not None and not isinstance(escaped, VssError):
            raise escaped
        return result

    def begin(self) -> None:
        """Start of a run: remember the shadow copies that exist already."""
        self._before = {p.snapshot_id for p in self.system.all_snapshots()}

    # ------------------------------------------------------------------------ observer
    def _violate(self, rule: str, message: str, seq: int = 0) -> None:
        record(self._pending, Violation(REQUESTER_RULES[rule], "requester", message, seq))

    def _on_event(self, e: TraceEvent) -> None:
        if self._error is not None:
            return
        try:
            self._observe(e)
        except Exception as exc:  # never break the machine from inside the trace
            self._error = exc

    def _observe(self, e: TraceEvent) -> None:
        kind = e.kind  # a StrEnum member: equal to its string value, without the lookup
        if kind in ("call", "result"):
            sid = e.get("session")
            if not isinstance(sid, str) or sid == self._blocker_id:
                return
            s = self._sessions.setdefault(sid, _Session(sid))
            self._last_session = sid
            if kind == "call":
                self._call(s, e)
            else:
                self._result(s, e)
        elif kind == "reply" and e.name in _CREATION_EVENTS:
            code = e.get("hresult")
            if isinstance(code, int) and code in RETRYABLE_WRITER_ERRORS:
                self._retryable.append((e.seq, f"{e.source} failed {e.name} with "
                                                f"{hr.name_of(code)}"))
            elif code in _FINAL_WRITER_ERRORS:
                self._final.append(e.seq)
        elif kind == "timeout" and e.name == "FreezeWindowExpired":
            self._retryable.append((e.seq, f"{e.target}'s freeze window expired "
                                           "(VSS_E_WRITERERROR_TIMEOUT)"))
        elif kind == "snapshot" and e.name == "CreateSnapshot":
            snapshot_id = e.get("snapshot_id")
            if isinstance(snapshot_id, str):
                self._created[snapshot_id] = e.seq
        elif e.name == "RequesterGone" and self._last_session in self._sessions:
            self._sessions[self._last_session].released = True  # VSS released it for it

    def _call(self, s: _Session, e: TraceEvent) -> None:
        refused = e.get("refused")
        if refused:
            self._violate("calls-in-order",
                          f"{e.name} was refused with {refused}: it is not legal at that point "
                          "of the sequence", e.seq)
            return
        name = e.name
        if name == "StartSnapshotSet" and self._blocker is not None:
            self._blocked_starts += 1
            self._blocked_seq = self._blocked_seq or e.seq
            if self._blocked_starts >= 2:
                self._let_go()  # the retry: the other backup has finished meanwhile
        elif name == "GatherWriterMetadata":
            s.gathered = True
        elif name == "PrepareForBackup":
            s.prepared = True
        elif name == "DoSnapshotSet" and s.gathered:
            self._check_sequence(s, e.seq)
        elif name == "GatherWriterStatus":
            if s.dss_result is not None and not s.completed:
                s.status_after_dss = True
            if s.bc_result is not None:
                s.status_after_bc = True
        elif name in ("BackupComplete", "AbortBackup", "Release"):
            self._close_copy_window(s, name, e.seq)
            if name == "BackupComplete":
                s.completed = True
            elif name == "AbortBackup":
                s.aborted = True
            else:
                self._released(s, e.seq)

    def _result(self, s: _Session, e: TraceEvent) -> None:
        code = e.get("hresult")
        if e.name == "StartSnapshotSet":
            s.started = True
            s.start_seq = e.seq
        elif e.name == "DoSnapshotSet":
            s.dss_seq = e.seq
            s.dss_result = int(code) if isinstance(code, int) else hr.S_OK
            if s.dss_result == hr.S_OK:
                s.reads_at = live_reads(self.system)
        elif e.name == "BackupComplete":
            s.bc_result = int(code) if isinstance(code, int) else hr.S_OK

    def _check_sequence(self, s: _Session, seq: int) -> None:
        """At DoSnapshotSet of a backup with writers: PrepareForBackup came first, and in
        component mode every volume of the selected components is in the set."""
        if not s.prepared:
            self._violate("follows-the-backup-sequence",
                          "DoSnapshotSet without PrepareForBackup: the writers never got "
                          "PrepareForBackup (OnPrepareBackup, where they learn the selected "
                          "components and the backup type); call it after AddToSnapshotSet",
                          seq)
        session = self.system.coordinator.creating
        if session is None or str(session.session_id) != s.id or session.snapshot_set is None \
                or not session.bcd.select_components:
            return
        from vsssim.backup import component_volumes
        from vsssim.errors import VssObjectNotFoundError

        in_set = {m.volume.name for m in session.snapshot_set.members}
        missing: dict[str, list[str]] = {}
        for entry in session.bcd.writers:
            p = session.participants.get(entry.instance_id)
            if p is None:
                continue
            for added in entry.components:
                try:
                    comp = p.metadata.component(added.logical_path, added.component_name)
                except VssObjectNotFoundError:
                    continue
                for name in component_volumes(self.system, p.metadata, comp):
                    if name not in in_set:
                        missing.setdefault(name, []).append(f"{p.reg.label}:{added.full_path}")
        for name, components in sorted(missing.items()):
            self._violate("follows-the-backup-sequence",
                          f"DoSnapshotSet without {name} in the snapshot set, where files of "
                          f"the selected {', '.join(components)} are: no shadow copy holds "
                          "them; add every volume the selected components' file sets name "
                          "(AddToSnapshotSet)", seq)

    def _close_copy_window(self, s: _Session, at: str, seq: int) -> None:
        if s.reads_at is None:
            return
        extra = reads_since(self.system, s.reads_at)
        s.reads_at = None
        if extra:
            where = ", ".join(f"{count} of {name}" for name, count in extra.items())
            self._violate("reads-only-the-snapshot",
                          f"{sum(extra.values())} read(s) of the live volumes ({where}) between "
                          f"DoSnapshotSet and {at}: copy the files from the shadow copies "
                          "(system.shadow_fs(snapshot_id), paths under the snapshot device), "
                          "never from the live volume", seq)

    def _released(self, s: _Session, seq: int) -> None:
        s.released = True
        self._last_release = seq
        if s.started and not (s.completed or s.aborted):
            if s.dss_result is None:
                what = "after StartSnapshotSet without AbortBackup"
            elif s.dss_result == hr.S_OK:
                what = "after a successful DoSnapshotSet without BackupComplete or AbortBackup"
            else:
                what = (f"after a failed DoSnapshotSet ({hr.name_of(s.dss_result)}) without "
                        "AbortBackup (rule 16: the requester cannot know whether VSS sent "
                        "Abort to the writers)")
            self._violate("ends-with-complete-or-abort",
                          f"the object was released {what}: writers are left waiting for the "
                          "end of the backup", seq)
        if s.dss_result is not None and not s.status_after_dss:
            self._violate("checks-writer-status",
                          "no GatherWriterStatus after DoSnapshotSet: writer failures (vetoes, "
                          "timeouts, retryable errors) go unnoticed and their components are "
                          "backed up as if they had succeeded", seq)
        if s.bc_result is not None and not s.status_after_bc:
            self._violate("checks-writer-status",
                          "no GatherWriterStatus after BackupComplete: failures in "
                          "OnBackupComplete go unnoticed (and on Windows Server 2008 SP2 and "
                          "earlier the writer's session slot is never freed)", seq)

    # --------------------------------------------------------------------------- checks
    @property
    def violations(self) -> list[Violation]:
        """Broken rules seen so far and not raised yet."""
        return list(self._pending)

    def check(self) -> None:
        """Raise :class:`ConformanceError` if the requester broke a rule since the last check
        (call it after the requester returned)."""
        __tracebackhide__ = True  # pytest: show the caller's line
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self._blocker is not None:
            if self._blocked_starts and not any(
                    v.rule.id == "retries-snapshot-set-in-progress" for v in self._pending):
                self._violate("retries-snapshot-set-in-progress",
                              "StartSnapshotSet was refused with VSS_E_SNAPSHOT_SET_IN_PROGRESS "
                              "(another backup was creating its set) and never tried again",
                              self._blocked_seq)
            self._let_go()
        self._check_retries()
        self._check_leaks()
        if self._pending:
            found, self._pending = self._pending, []
            mark = next((v.seq for v in found if v.seq), 0)
            raise ConformanceError(found, trace_tail(self.system.trace, mark=mark))
        self._sessions = {k: v for k, v in self._sessions.items() if not v.released}
        self._retryable = []
        self._final = []
        self._created = {}
        self._blocked_seq = 0

    def _check_retries(self) -> None:
        """After the last retryable writer failure a new attempt (a new snapshot set) must
        start, unless the requester already made its three retries; and no more than three
        attempts may follow the first failure (reference §5: wait, retry, at most 3 times)."""
        if not self._retryable:
            return
        first_seq, what = self._retryable[0]
        last_seq, last_what = self._retryable[-1]
        # A retry is a new snapshot set, started after the failure.
        retries = [s for s in self._sessions.values() if s.started and s.start_seq > first_seq]
        if len(retries) > MAX_RETRIES:
            self._violate("retries-retryable-writer-errors",
                          f"{len(retries)} new attempts after {what}: retry at most "
                          f"{MAX_RETRIES} times", first_seq)
        elif (len(retries) < MAX_RETRIES and not any(s.start_seq > last_seq for s in retries)
              and not self._gave_up_rightly(last_seq)):
            self._violate("retries-retryable-writer-errors",
                          f"{last_what} (a retryable error) and the backup was not tried again: "
                          f"wait and repeat the whole backup (up to {MAX_RETRIES} times)",
                          last_seq)

    def _gave_up_rightly(self, seq: int) -> bool:
        """True if the attempt that failed retryably at ``seq`` also had a writer fail with an
        error that a plain retry cannot fix (``NONRETRYABLE``: "do not retry with VSS";
        ``INCONSISTENTSNAPSHOT``: reconfigure first): giving up then is right."""
        starts = [s.start_seq for s in self._sessions.values() if s.started]
        begin = max((x for x in starts if x < seq), default=0)
        end = min((x for x in starts if x > seq), default=float("inf"))
        return any(begin < x < end for x in self._final)

    def _check_leaks(self) -> None:
        from vsssim.constants import VolumeSnapshotAttributes as A

        for s in self._sessions.values():
            if not s.released:
                self._violate("no-leaked-snapshots",
                              f"requester object {{{s.id}}} was never released: VSS keeps its "
                              "session, its auto-release shadow copies and (if it was creating "
                              "a set) the creation lock; release it (use it as a context "
                              "manager)", s.start_seq)
        for props in self.system.all_snapshots():
            if props.snapshot_id in self._before:
                continue
            if self.allow_persistent and props.snapshot_attributes & (
                    A.PERSISTENT | A.NO_AUTO_RELEASE):
                continue
            if props.snapshot_attributes & (A.PERSISTENT | A.NO_AUTO_RELEASE):
                how = ("it was made in a context without auto-release: delete it "
                       "(DeleteSnapshots) when the backup is done, or pass "
                       "allow_persistent=True if your tool keeps such copies on purpose")
            else:
                how = ("an auto-release copy lives as long as its requester object: release "
                       "the object (use it as a context manager)")
            self._violate("no-leaked-snapshots",
                          f"shadow copy {{{props.snapshot_id}}} of "
                          f"{props.original_volume_name} is still there after the run: {how}",
                          self._created.get(str(props.snapshot_id), self._last_release))
        creating = self.system.coordinator.creating
        if creating is not None and str(creating.session_id) != self._blocker_id:
            self._violate("no-leaked-snapshots",
                          "a snapshot set creation is still in progress after the run: the "
                          "machine-wide creation lock is held and no other backup can start")

    def close(self) -> None:
        """Stop watching the trace (and let go of the creation lock if still held)."""
        if not self._closed:
            self._let_go()
            self._unsubscribe()
            self._unsubscribe = nothing  # (it holds this monitor's bound method: a cycle)
            self._closed = True

    def __enter__(self) -> RequesterMonitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
