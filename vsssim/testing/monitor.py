"""``WriterMonitor``: checks one writer against the reference's rules while a test drives it.

The monitor is an observer of the machine's trace (style: checks are observers, not code in the
coordinator).  It follows the writer's handlers as they run, and between operations
:meth:`WriterMonitor.check` raises :class:`~vsssim.testing.rules.ConformanceError` for the first
broken rule of :data:`~vsssim.testing.rules.WRITER_RULES`::

    monitor = WriterMonitor(system, writer, app)
    monitor.check()                              # Identify: metadata valid and stable
    backup = system.backup(["C:\\\\"], target_dir=tmp_path / "b")
    monitor.check(backup)                        # every rule, and the backup vs the freeze
    restored = system.restore(backup)
    monitor.check(restored, backup)              # and the restore vs the freeze

What each rule looks at:

* handlers return a bool and never raise: the coordinator's ``HandlerReturnedNone``,
  ``HandlerReturnedNonBool`` and ``HandlerRaised`` trace records for the writer;
* a veto follows ``set_writer_failure``: a reply ``result=False`` without ``set_failure``;
* the freeze window: ``FreezeWindowExpired`` while one of the writer's handlers was running
  (it names the handler that overran);
* the application resumed: ``app.suspended`` right after the writer's OnThaw and OnAbort
  returned, and at the end of every operation in which no fault was injected;
* metadata: :meth:`check` takes the writer's answer to the last Identify sent since the previous
  check (a backup's GatherWriterMetadata, another program's Identify) or, if there was none or
  it failed (or the metadata may change: ``stable_metadata=False``), sends one (any program
  may, at any time: rule 1), and checks the document (restore method, components, every
  non-wildcard file spec names an existing file on a volume of the machine) and that it equals
  the first one (``stable_metadata``);
* the shadow copy: writes counted by each new copy's device (a copy made with
  NO_AUTORECOVERY must have none), and handlers that failed touching a read-only copy (outside
  the auto-recovery window of PostSnapshot) or asking for it outside PostSnapshot;
* consistency: the writer's files are read when its OnFreeze returns; a completed backup must
  hold exactly those (unless ``freeze_state`` replaces that capture), a restore must leave no
  component half-written, and ``consistency_check(frozen, fs)`` (if given) must accept the
  restored volume.

Faults injected with a :class:`~vsssim.faults.FaultPlan` are not the writer's doing: a handler
skipped, delayed or made to return None by a fault is excused.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vsssim.testing._support import nothing, record, trace_tail, writer_label
from vsssim.testing.rules import WRITER_RULES, ConformanceError, Violation
from vsssim.trace import EventKind

if TYPE_CHECKING:
    from vsssim.apps.base import Application
    from vsssim.backup import BackedUpFile, BackupResult
    from vsssim.coordinator import WriterRegistration
    from vsssim.documents import WmdComponent, WriterMetadata
    from vsssim.restore import RestoreResult
    from vsssim.storage.simfs import SimFS
    from vsssim.system import VssSystem
    from vsssim.trace import TraceEvent
    from vsssim.writer import Writer

__all__ = ["ConsistencyCheck", "FreezeState", "WriterMonitor"]

#: ``freeze_state(writer, app, fs)``: what to remember of the application at the freeze instant.
FreezeState = Callable[[Any, Any, Any], object]
#: ``consistency_check(frozen, fs)``: False (or an AssertionError) if ``fs`` does not hold it.
ConsistencyCheck = Callable[[Any, Any], object]

# Fault actions that keep the writer's own handler from running (or from answering).
_SKIPPED = frozenset({"veto", "raise", "none", "hang"})
# Fault actions under which the writer is not to blame for the time a handler took.
_SLOWED = frozenset({"delay", "hang"})
# Exceptions a handler gets from a shadow copy it may not touch.
_SNAPSHOT_ERRORS = frozenset({"VssAccessDeniedError", "VssObjectNotFoundError"})
# Trace records of injected faults (FaultPlan): what happens under them is not the writer's doing.
_INJECTED = frozenset({"WriterFault", "ProviderFault", "StorageFault", "RequesterCrash",
                       "IdentifyDuring"})
# The kinds of trace event the monitor reads (the requester's calls for PostRestore): the
# tracer does not call it for the others.
_WATCHED = frozenset({EventKind.FAULT, EventKind.NOTE, EventKind.EVENT, EventKind.REPLY,
                      EventKind.TIMEOUT, EventKind.SNAPSHOT, EventKind.CALL})
_RETURN_HINT = "return True to go on, or call set_writer_failure(...) and return False to veto"


@dataclass
class _Handler:
    """The writer's handler that is running now (between its EVENT and its REPLY)."""

    event: str
    seq: int
    time: float
    fault: str | None = None
    reported: bool = False  # a violation for this handler is already recorded


class WriterMonitor:
    """Watches ``writer`` (and its application ``app``) on ``system`` for broken writer rules.

    ``freeze_state(writer, app, fs)`` replaces the default capture at the freeze instant (the
    writer's files); ``fs`` is the file system of ``volume`` (default: ``"C:\\\\"`` or the first
    volume).  ``consistency_check(frozen, fs)`` is called after each complete restore of a full
    or copy backup, with what ``freeze_state`` returned for it and a file system holding the
    writer's files on ``volume`` as the restore and the writer's OnPostRestore left them (what
    the application wrote in between, once its service started again, left out), or as the
    reboot that moved staged files into place left them; it returns False or raises
    ``AssertionError`` if they do not hold that state.  Both hooks see that one volume only:
    the writer's files on other volumes are not on ``fs``, and the check runs only after a
    restore of every component of the writer with files on ``volume``.
    ``stable_metadata=False`` allows the metadata to change between Identify calls (a writer
    that lists files that come and go).
    """

    def __init__(self, system: VssSystem, writer: Writer, app: Application | None = None, *,
                 freeze_state: FreezeState | None = None,
                 consistency_check: ConsistencyCheck | None = None,
                 stable_metadata: bool = True, volume: str | None = None) -> None:
        from vsssim import system as machines
        from vsssim import writer as writers
        from vsssim.apps import base as apps

        if not isinstance(system, machines.VssSystem):
            raise TypeError(f"system must be a VssSystem, not {type(system).__name__}")
        if not isinstance(writer, writers.Writer):
            raise TypeError(f"writer must be the vsssim Writer to watch, not "
                            f"{type(writer).__name__}")
        if app is not None and not isinstance(app, apps.Application):
            raise TypeError(f"app must be its vsssim Application or None, not "
                            f"{type(app).__name__}")
        self.system = system
        self.writer = writer
        self.app = app
        self.freeze_state = freeze_state
        self.consistency_check = consistency_check
        self.stable_metadata = stable_metadata
        names = system.volume_names()
        self.volume = volume or ("C:\\" if "C:\\" in names else (names[0] if names else "C:\\"))
        self.label = writer_label(writer)
        self.metadata: WriterMetadata | None = None
        self._first: WriterMetadata | None = None  # the first Identify's document
        self._reg: WriterRegistration | None = None  # the writer's registration, once found
        self._pending: list[Violation] = []
        self._handler: _Handler | None = None
        self._faults = 0  # faults fired since the last check
        self._frozen_now: object = None
        self._froze = False
        self._frozen: dict[str, object] = {}  # snapshot set id -> state at its freeze
        self._reboots = 0
        self._reboot_seq = 0  # the last reboot's trace event
        self._restore_seq = 0  # the last restore's PostRestore (the writer's reply, or the call)
        self._restored: dict[str, bytes] | None = None
        self._before_post_restore: dict[str, bytes] | None = None
        self._closed = False
        self._error: Exception | None = None
        self._unsubscribe = system.tracer.subscribe(self._on_event, kinds=_WATCHED)

    # ------------------------------------------------------------------------ observer
    def _violate(self, rule: str, message: str, seq: int = 0) -> None:
        record(self._pending, Violation(WRITER_RULES[rule], self.label, message, seq))
        if self._handler is not None:
            self._handler.reported = True

    def _on_event(self, e: TraceEvent) -> None:
        # An observer runs inside the coordinator: a failing hook (freeze_state) must not break
        # the machine under test; the error is raised by the next check() instead.
        # (One method, not a wrapper around another: it runs for every event it watches.)
        if self._error is not None:
            return
        try:
            kind = e.kind  # a StrEnum member: equal to its string value, without the lookup
            if kind == "fault":
                if e.name in _INJECTED:
                    self._faults += 1
                if e.name == "WriterFault" and e.target == self.label and self._handler:
                    self._handler.fault = str(e.get("action"))
                elif e.name == "HandlerRaised" and e.source == self.label:
                    self._handler_raised(e)
                return
            if e.name == "Reboot":
                self._reboots += 1
                self._reboot_seq = e.seq
                return
            if kind == "call" and e.name == "PostRestore" and self.consistency_check is not None:
                # The files as the restore left them, before the application runs again (with
                # STOP_RESTORE_START its service is already back and may write at any moment).
                self._restored = self.writer_files()
                self._restore_seq = e.seq
                return
            if kind == "event" and e.target == self.label:
                self._handler = _Handler(e.name, e.seq, e.time)
                if e.name == "PostRestore" and self._restored is not None:
                    self._before_post_restore = self.writer_files()
            elif kind == "reply" and e.source == self.label:
                if e.name == "PostRestore" and self._before_post_restore is not None:
                    self._restore_seq = e.seq
                    self._add_post_restore_changes(self._before_post_restore)
                    self._before_post_restore = None
                self._reply(e)
            elif kind == "note" and e.source == self.label:
                self._note(e)
            elif kind == "timeout" and e.name == "FreezeWindowExpired" and e.target == self.label:
                self._window_expired(e)
            elif kind == "snapshot" and e.name == "SnapshotSetCreated":
                self._set_created(e)
        except Exception as exc:
            self._error = exc

    def _handler_raised(self, e: TraceEvent) -> None:
        h = self._handler
        if h is not None and h.fault == "raise":
            return  # an injected exception, not the writer's
        event = h.event if h else "a handler"
        exc = str(e.get("exception"))
        # The coordinator's detail reads "On<event> raised <exception>: <message>".
        head, sep, said = e.detail.partition(f" raised {exc}: ")
        if not (sep and head.startswith("On")):
            said = e.detail
        site = ""
        if e.get("line") is not None:  # the writer's code raised it: said once, after the text
            site = f"{os.path.basename(str(e.get('file')))}:{e.get('line')}, in {e.get('function')}"
            said = said.removesuffix(f" (at {site})")
            site = f" at {site}"
        if event == "Identify":
            self._violate("metadata-valid-and-stable",
                          f"OnIdentify raised {exc} ({said}){site}: the writer disappears from the "
                          "requester's metadata and status lists (rule 2); describe each "
                          "component once, with valid names and paths", e.seq)
        elif exc in _SNAPSHOT_ERRORS and "shadow copy" in e.detail:
            self._violate("snapshot-changed-only-in-post-snapshot",
                          f"On{event} touched a shadow copy that is read-only now ({exc}: "
                          f"{said}); "
                          "a writer may change a copy only in OnPostSnapshot, and only an "
                          "auto-recoverable one", e.seq)
        elif exc == "VssBadStateError" and "GetSnapshotDeviceName" in e.detail:
            self._violate("snapshot-changed-only-in-post-snapshot",
                          f"On{event} asked for the shadow copy outside PostSnapshot "
                          f"({exc}: {said}; rule 18)", e.seq)
        else:
            self._violate("handler-returns-bool",
                          f"On{event} raised {exc} ({said}){site}: handlers never throw; catch "
                          f"the error, call set_writer_failure(...) and return False", e.seq)

    def _note(self, e: TraceEvent) -> None:
        h = self._handler
        if e.name == "HandlerReturnedNone" and not (h and h.fault == "none"):
            event = h.event if h else "a handler"
            self._violate("handler-returns-bool",
                          f"On{event} returned None: {_RETURN_HINT}", e.seq)
        elif e.name == "HandlerReturnedNonBool":
            self._violate("handler-returns-bool", f"{e.detail}: {_RETURN_HINT}", e.seq)
        elif e.name == "IdentifyIncomplete":
            self._violate("metadata-valid-and-stable",
                          "OnIdentify gave no restore method or no component: it must call "
                          "set_restore_method and add at least one component (B5)", e.seq)

    def _reply(self, e: TraceEvent) -> None:
        h = self._handler
        self._handler = None
        if h is None or h.event != e.name:
            return
        ran = h.fault not in _SKIPPED
        result = e.get("result")
        if e.name == "Identify":
            if result is False and ran and not h.reported:
                self._violate("metadata-valid-and-stable",
                              "OnIdentify returned False: the writer disappears from the "
                              "requester's metadata and status lists (rule 2)", e.seq)
            return
        if result is False and ran and not h.reported and not e.get("set_failure") \
                and e.detail != "did not answer":
            self._violate("veto-after-set-writer-failure",
                          f"On{e.name} returned False without calling set_writer_failure: the "
                          "requester cannot tell why or whether a retry helps (its status shows "
                          "an unspecified failure); call set_writer_failure(VSS_E_WRITERERROR_"
                          "...) first", e.seq)
        if e.name == "Freeze" and ran:
            self._froze = True
            self._frozen_now = self._capture()
        elif e.name in ("Thaw", "Abort") and ran and self.app is not None \
                and self.app.suspended:
            undo = "resume it (it may come after a failed or timed-out Freeze, and more than " \
                   "once)" if e.name == "Abort" else "resume it"
            self._violate("resume-after-thaw-and-abort",
                          f"On{e.name} returned but the application {self.app.name!r} is still "
                          f"suspended: On{e.name} must {undo}", e.seq)

    def _add_post_restore_changes(self, before: dict[str, bytes]) -> None:
        """What the writer's OnPostRestore changed (it may finish the restore: roll a log
        forward, rename files into place) goes on top of the files as the restore left them;
        what the application wrote since its service started does not."""
        if self._restored is None:
            return
        after = self.writer_files()
        for path in before.keys() - after.keys():
            self._restored.pop(path, None)
        for path, data in after.items():
            if before.get(path) != data:
                self._restored[path] = data

    def _window_expired(self, e: TraceEvent) -> None:
        h = self._handler
        if h is None or h.fault in _SLOWED:
            return  # the window ran out outside the writer's handlers (or under a fault)
        timeout = float(getattr(self.writer, "freeze_timeout", 60.0))
        self._violate("freeze-window",
                      f"On{h.event} was still running {e.time - h.time:.3f} s after it started "
                      f"when the {timeout:g} s freeze window expired: the writer is failed with "
                      "VSS_E_WRITERERROR_TIMEOUT and the snapshot is aborted; keep Freeze..Thaw "
                      "short (do heavy work in OnPrepareSnapshot)", e.seq)

    def _set_created(self, e: TraceEvent) -> None:
        set_id = str(e.get("set"))
        if self._froze:
            self._frozen[set_id] = self._frozen_now
        self._froze, self._frozen_now = False, None
        from vsssim.constants import VolumeSnapshotAttributes as A

        for props in self.system.all_snapshots():
            # (Only a copy that may not be written has its writes counted.)
            if str(props.snapshot_set_id) != set_id \
                    or not props.snapshot_attributes & A.NO_AUTORECOVERY:
                continue
            try:
                device = self.system.snapshot_device(props.snapshot_id)
            except Exception:  # a provider without devices: nothing to count
                continue
            writes = int(getattr(getattr(device, "stats", None), "writes", 0) or 0)
            if writes:
                self._violate("snapshot-changed-only-in-post-snapshot",
                              f"{writes} write(s) went into the shadow copy of "
                              f"{props.original_volume_name}, whose context forbids "
                              "auto-recovery (VSS_VOLSNAP_ATTR_NO_AUTORECOVERY): that copy is "
                              "read-only from the start", e.seq)

    # -------------------------------------------------------------------- freeze state
    def _fs(self) -> SimFS:
        return self.system.volume(self.volume).fs

    def _capture(self) -> object:
        if self.freeze_state is not None:
            return self.freeze_state(self.writer, self.app, self._fs())
        return self.writer_files()

    def writer_files(self) -> dict[str, bytes]:
        """The writer's files now (every file its file sets name, by path).

        Uses the metadata of the last :meth:`check`; before any, every file of every volume.
        """
        out: dict[str, bytes] = {}
        meta = self.metadata
        if meta is None:
            for name in self.system.volume_names():
                fs = getattr(self.system.resolve_volume(name).device, "fs", None)
                if fs is not None:
                    for path in fs.glob(name, "*", recursive=True):
                        out[path] = fs.read_file(path)
            return out
        for comp in meta.components:
            for fd in comp.all_files:
                vol = self.system.volume_of_path(fd.path)
                fs = getattr(vol.device, "fs", None) if vol is not None else None
                if fs is None:
                    continue
                # (glob matches nothing under a missing directory or a file: no is_dir first)
                for path in fs.glob(fd.path.rstrip("\\"), fd.filespec, recursive=fd.recursive):
                    out[path] = fs.read_file(path)
        return out

    def frozen_state(self, snapshot_set_id: object) -> object:
        """What was captured when the writer's OnFreeze returned, for that snapshot set."""
        return self._frozen.get(str(snapshot_set_id))

    # --------------------------------------------------------------------------- checks
    @property
    def violations(self) -> list[Violation]:
        """Broken rules seen since the last :meth:`check` (not raised yet)."""
        return list(self._pending)

    def check(self, result: BackupResult | RestoreResult | None = None,
              backup: BackupResult | None = None) -> None:
        """Raise :class:`ConformanceError` if the writer broke a rule since the last check.

        ``result``: the :class:`BackupResult` of the operation that just ran (checked against the
        freeze instant), or a :class:`RestoreResult` together with the ``backup`` it restored.
        Ends by checking the metadata: the writer's answer to the last Identify since the
        previous check, or to one it sends now if there was none (or that one failed).
        """
        __tracebackhide__ = True  # pytest: show the caller's line
        from vsssim.backup import BackupResult
        from vsssim.restore import RestoreResult

        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if isinstance(result, BackupResult):
            self._check_backup(result)
        elif isinstance(result, RestoreResult):
            if backup is None:
                raise TypeError("check(restore_result, backup): give the backup it restored")
            self._check_restore(result, backup)
        elif result is not None:
            raise TypeError(f"check() takes a BackupResult or a RestoreResult, not "
                            f"{type(result).__name__}")
        app = self.app
        if app is not None and app.suspended and not self._faults and not self._pending:
            self._violate("resume-after-thaw-and-abort",
                          f"the application {app.name!r} is still suspended after the operation "
                          "ended: its writer must resume it in OnThaw and in OnAbort")
        self._raise()
        self._faults = 0
        self._check_metadata()
        self._raise()

    def _raise(self) -> None:
        if not self._pending:
            return
        found, self._pending = self._pending, []
        mark = next((v.seq for v in found if v.seq), 0)
        raise ConformanceError(found, trace_tail(self.system.trace, mark=mark))

    def _check_backup(self, result: BackupResult) -> None:
        if not result.succeeded or result.snapshot_set_id is None:
            return
        key = str(result.snapshot_set_id)
        if key not in self._frozen or self.freeze_state is not None:
            return
        frozen_files = self._frozen[key]
        if not isinstance(frozen_files, dict):
            return
        frozen = {path.lower(): data for path, data in frozen_files.items()}
        for f in result.files:
            if f.writer != self.label:
                continue
            before = frozen.get(f.path.lower())
            if before is None:
                self._violate("consistent-restore",
                              f"the backup holds {f.path}, which did not exist when OnFreeze "
                              "returned: the writer's files changed after its freeze")
            elif hashlib.sha256(before).hexdigest() != f.sha256:
                self._violate("consistent-restore",
                              f"the backup of {f.path} differs from the file when OnFreeze "
                              f"returned ({_difference(before, _backed_up(result, f), f.size)}):"
                              " the writer (or its application) wrote between Freeze and the "
                              "shadow copy; suspend every write in OnFreeze")

    def _check_restore(self, restored: RestoreResult, backup: BackupResult) -> None:
        from vsssim.constants import BackupType, FileRestoreStatus

        mine = [c for c in restored.components if c.writer == self.writer.writer_name]
        for c in mine:
            if c.status == FileRestoreStatus.FAILED:
                self._violate("consistent-restore",
                              f"component {c.component!r} was only partly restored "
                              f"({c.message or 'FAILED'}): the restore left it corrupt")
        check = self.consistency_check
        if check is None or backup.snapshot_set_id is None or not mine:
            return
        if any(c.status != FileRestoreStatus.ALL for c in mine):
            return  # nothing (or not everything) was restored: nothing to compare
        if restored.pending_reboot and self._reboots == 0:
            return  # the files are only staged until the next reboot
        if self._effective_type(backup) not in (BackupType.FULL, BackupType.COPY):
            return  # an incremental, differential or log backup alone is not the whole state
        if not self._restores_volume([c.component for c in mine]):
            return  # a component on the hooks' volume was left out: not the whole state
        key = str(backup.snapshot_set_id)
        if key not in self._frozen:
            return
        if restored.pending_reboot:
            files = self.writer_files()  # moved into place by the reboot, nothing ran since
        elif self._restored is not None:
            files = self._restored
        else:
            return
        self._restored = None
        # Marked in the trace: the PostRestore after which the files were compared (or the
        # reboot that moved them into place).
        seq = self._reboot_seq if restored.pending_reboot else self._restore_seq
        where = ("compared after the reboot that moved the staged files into place"
                 if restored.pending_reboot else "compared after the restore's PostRestore")
        blame = (f"({where}: the fault is in OnFreeze, which decides what the backup captured, "
                 "or in the restore handlers, OnPreRestore / OnPostRestore)")
        # The hook sees one volume, as freeze_state did: the writer's files on the others (a
        # file group on D:\ of an application on C:\) are not on it.
        files = {path: data for path, data in files.items() if self._on_volume(path)}
        try:
            ok = check(self._frozen[key], _memory_fs(files, self.volume))
        except AssertionError as exc:
            self._violate("consistent-restore",
                          f"after restoring the backup of set {{{key}}}: {exc} {blame}", seq)
            return
        if ok is False:
            self._violate("consistent-restore",
                          f"after restoring the backup of set {{{key}}} the application's data "
                          "is not its state at the freeze instant (consistency_check returned "
                          f"False) {blame}", seq)

    def _on_volume(self, path: str) -> bool:
        """Whether ``path`` lies on the volume the hooks see."""
        vol = self.system.volume_of_path(path)
        return vol is not None and \
            vol.guid_path == self.system.resolve_volume(self.volume).guid_path

    def _restores_volume(self, restored: list[str]) -> bool:
        """Whether the ``restored`` components (full paths; a set brings its members) include
        every component of the writer with files on the hooks' volume (one at least)."""
        meta = self.metadata
        if meta is None:
            return True  # no metadata to tell by
        done = [name.lower() for name in restored]
        needed = [c.full_path.lower() for c in meta.components
                  if any(self._on_volume(fd.path) for fd in c.all_files)]
        return bool(needed) and all(
            any(path == name or path.startswith(name + "\\") for name in done)
            for path in needed)

    def _effective_type(self, backup: BackupResult) -> object:
        from vsssim.coordinator import effective_backup_type

        schema = self.metadata.backup_schema if self.metadata is not None else 0
        return effective_backup_type(backup.backup_type, schema)  # type: ignore[arg-type]

    def _answered(self) -> WriterMetadata | None:
        """The writer's answer to an Identify sent since the last check (a backup's
        GatherWriterMetadata, another program's), if the last one it got succeeded.

        Only for stable metadata: a document that follows the files (``stable_metadata=False``)
        may name files the rest of the step removed, so it is asked for again now."""
        if not self.stable_metadata:
            return None
        reg = self._reg
        if reg is None or not reg.subscribed:
            # (A registration stays the writer's until it is unsubscribed: a writer is
            # subscribed at most once on a machine, and a new subscription is a new one.)
            reg = self._reg = next(
                (r for r in self.system.coordinator.writers if r.writer is self.writer), None)
        doc = reg.last_metadata if reg is not None else None
        return doc if doc is not None and doc is not self.metadata else None

    def _check_metadata(self) -> None:
        doc = self._answered()
        if doc is None:
            gathered = self.system.identify()
            doc = next((wmd for w, wmd in gathered if w is self.writer), None)
        if doc is None:
            if not self._pending:
                self._violate("metadata-valid-and-stable",
                              "the writer did not answer Identify: it is not subscribed, or "
                              "OnIdentify failed")
            return
        self.metadata = doc
        for comp in doc.components:
            for fd in comp.all_files:
                self._check_file_set(comp, fd.path, fd.filespec)
        first = self._first
        if first is None:
            self._first = doc.clone()
        elif self.stable_metadata and not _same_document(doc, first):
            exclude: Any = {"identity": {"instance_id"}}
            dump = doc.model_dump(mode="json", exclude=exclude)
            before = first.model_dump(mode="json", exclude=exclude)
            changed = sorted(k for k in dump if dump[k] != before.get(k))
            self._violate("metadata-valid-and-stable",
                          f"Identify gave a different document than the first time (changed: "
                          f"{', '.join(changed)}): OnIdentify must be deterministic, whenever "
                          "it is asked (rule 1); set stable_metadata=False if the writer's files "
                          "really come and go")

    def _check_file_set(self, comp: WmdComponent, path: str, filespec: str) -> None:
        vol = self.system.volume_of_path(path)
        root = path.rstrip("\\")
        where = f"{root}\\{filespec}"
        if vol is None:
            self._violate("metadata-valid-and-stable",
                          f"component {comp.full_path!r}: file set {where} is not on a volume "
                          "of this machine")
            return
        if "*" in filespec or "?" in filespec:
            return  # a wildcard may legitimately match nothing (rule 28)
        fs = getattr(vol.device, "fs", None)
        if fs is not None and not fs.exists(where):
            self._violate("metadata-valid-and-stable",
                          f"component {comp.full_path!r}: file set {where} names a file that does "
                          "not exist (rule 28: every file of a file set must exist at backup "
                          "time, or the backup of the component fails)")

    def close(self) -> None:
        """Stop watching the trace."""
        if not self._closed:
            self._unsubscribe()
            self._unsubscribe = nothing  # (it holds this monitor's bound method: a cycle)
            self._closed = True


def _same_document(doc: WriterMetadata, first: WriterMetadata) -> bool:
    """The same metadata, whatever the instance id (a restarted writer gets a new one)."""
    # Field by field, the identity's instance id left out: what ``==`` of the documents, and
    # of the identity copied with the first instance id, compare (without making the copy).
    mine, theirs = doc.identity, first.identity
    return type(mine) is type(theirs) and \
        {**doc.__dict__, "identity": None} == {**first.__dict__, "identity": None} and \
        {**mine.__dict__, "instance_id": None} == {**theirs.__dict__, "instance_id": None}


def _memory_fs(files: dict[str, bytes], root: str) -> SimFS:
    """A throw-away file system holding ``files`` (paths under ``root``)."""
    from vsssim.storage.blockdev import MemoryDevice
    from vsssim.storage.simfs import SimFS
    from vsssim.storage.simfs import format as format_fs

    size = max(4 << 20, 4 * sum(len(d) for d in files.values()) + (1 << 20) * len(files) // 16)
    size = -(-size // (16 * 1024)) * 16 * 1024
    device = MemoryDevice(size)
    format_fs(device)
    fs = SimFS.mount(device, roots=[root])
    for path, data in files.items():
        fs.write_file(path, data, create_dirs=True)
    return fs


def _backed_up(result: BackupResult, f: BackedUpFile) -> bytes | None:
    """The copy of ``f`` in the backup's directory (None if it cannot be read)."""
    if result.target_dir is None:
        return None
    try:
        return (result.target_dir / f.target).read_bytes()
    except OSError:
        return None


def _difference(before: bytes, after: bytes | None, size: int, *, width: int = 16) -> str:
    """Where two versions of a file part, for a message: the sizes, and the bytes from the
    first difference on (``width`` of each) when the backup's copy could be read."""
    sizes = f"{len(before)} bytes then, {size} in the backup"
    if after is None:
        return sizes
    at = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
              min(len(before), len(after)))
    return (f"{sizes}; from byte {at}: {before[at:at + width]!r} then, "
            f"{after[at:at + width]!r} in the backup")
