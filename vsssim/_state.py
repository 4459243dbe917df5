"""Transition tables of vsssim: requester sessions and writers (the only place they are decided).

Theory of operation
-------------------
VSS has two kinds of state that a simulator must get exactly right, and this module holds both as
plain data, in the manner of h11's ``_state.py``.

1. **Requester session states** (one ``IVssBackupComponents`` object).  Microsoft documents the
   order of the calls (``InitializeForBackup`` first, ``AddComponent`` before
   ``StartSnapshotSet``, ``SetBackupState`` before ``PrepareForBackup``, ``BackupComplete`` only
   after a successful ``DoSnapshotSet`` ...) and answers every violation with ``VSS_E_BAD_STATE``.
   :data:`SESSION_TRANSITIONS` maps ``state -> call -> next state``.  A call that changes nothing
   maps to its own state.  Some preconditions are not positions in the sequence but facts about the
   session (``SetContext`` only once, ``DoSnapshotSet`` needs ``GatherWriterMetadata`` in writer
   contexts, nothing while an asynchronous operation is still running): those are the named
   :class:`Guard` conditions of :data:`CALL_GUARDS`, evaluated by the caller and passed in as the
   set of guards that currently hold.  :func:`decide` consults both and either returns the next
   state or raises :class:`~vsssim.errors.VssBadStateError` naming the current state, the call and
   every call that would be legal now.  Deciding happens before anything is done, so a refused
   call changes nothing.  Where the docs leave a precondition open, the table allows the call
   and a guard that a fidelity option switches on refuses it (DoSnapshotSet without
   PrepareForBackup: :attr:`Guard.PREPARED_IF_REQUIRED`); the tables themselves do not depend on
   options.

2. **Writer states** (``VSS_WRITER_STATE``, what ``GetWriterStatus`` reports).  The docs give only
   the meaning of each state; the table below is inferred from the enumeration's names, the event
   order and KB 915331 (reference §4.2).  :data:`WRITER_TRANSITIONS` maps
   ``event -> outcome -> from-state -> to-state``; ``ANY`` matches every state.  A writer is sent an
   event only if the table has an entry for its current state (:func:`writer_accepts`): that is how
   a writer that failed PrepareForSnapshot drops out of Freeze and Thaw, and why Abort never reaches
   a writer that already ran PostSnapshot.

Both tables render as Mermaid state diagrams (``vsssim state-diagram writer|requester``); a test
keeps the copies in ``docs/`` in sync with the tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from vsssim.constants import WriterState
from vsssim.errors import VssBadStateError

__all__ = [
    "ANY",
    "CALLS_WHILE_PENDING",
    "CALL_GUARDS",
    "GUARD_BITS",
    "SESSION_TRANSITIONS",
    "UNCHANGED",
    "WRITER_NEXT",
    "WRITER_NEXT_ABORT_KEEPS_STATE",
    "WRITER_RECEIVES",
    "WRITER_TRANSITIONS",
    "Call",
    "Guard",
    "Outcome",
    "SessionState",
    "WriterEvent",
    "decide",
    "decide_mask",
    "guard_mask",
    "guards_of",
    "legal_calls",
    "next_writer_state",
    "session_state_diagram",
    "writer_accepts",
    "writer_state_diagram",
]


# ------------------------------------------------------------------------ requester sessions
class SessionState(StrEnum):
    """Where an ``IVssBackupComponents`` object is in its one operation."""

    CREATED = "Created"  # CreateVssBackupComponents returned; nothing initialized yet
    BACKUP_INITIALIZED = "BackupInitialized"
    SNAPSHOT_SET_STARTED = "SnapshotSetStarted"
    BACKUP_PREPARED = "BackupPrepared"
    CREATING_SNAPSHOTS = "CreatingSnapshots"  # DoSnapshotSet's async operation is running
    SNAPSHOTS_CREATED = "SnapshotsCreated"
    SNAPSHOTS_FAILED = "SnapshotsFailed"
    BACKUP_COMPLETED = "BackupCompleted"
    BACKUP_ABORTED = "BackupAborted"
    RESTORE_INITIALIZED = "RestoreInitialized"
    RESTORE_PREPARED = "RestorePrepared"  # PreRestore done: files may be copied back
    RESTORE_COMPLETED = "RestoreCompleted"  # PostRestore done
    RELEASED = "Released"


class Call(StrEnum):
    """Requester calls, by their Windows API names (``IVssBackupComponents``)."""

    INITIALIZE_FOR_BACKUP = "InitializeForBackup"
    INITIALIZE_FOR_RESTORE = "InitializeForRestore"
    SET_CONTEXT = "SetContext"
    SET_BACKUP_STATE = "SetBackupState"
    SET_RESTORE_STATE = "SetRestoreState"
    ENABLE_WRITER_CLASSES = "EnableWriterClasses"
    DISABLE_WRITER_CLASSES = "DisableWriterClasses"
    DISABLE_WRITER_INSTANCES = "DisableWriterInstances"
    GATHER_WRITER_METADATA = "GatherWriterMetadata"
    GET_WRITER_METADATA = "GetWriterMetadata"
    FREE_WRITER_METADATA = "FreeWriterMetadata"
    ADD_COMPONENT = "AddComponent"
    SET_BACKUP_OPTIONS = "SetBackupOptions"
    SET_PREVIOUS_BACKUP_STAMP = "SetPreviousBackupStamp"
    START_SNAPSHOT_SET = "StartSnapshotSet"
    ADD_TO_SNAPSHOT_SET = "AddToSnapshotSet"
    IS_VOLUME_SUPPORTED = "IsVolumeSupported"
    PREPARE_FOR_BACKUP = "PrepareForBackup"
    DO_SNAPSHOT_SET = "DoSnapshotSet"
    SNAPSHOTS_DONE = "(DoSnapshotSet completed)"  # internal: the async operation succeeded
    SNAPSHOTS_FAILED = "(DoSnapshotSet failed)"  # internal: the async operation failed
    GATHER_WRITER_STATUS = "GatherWriterStatus"
    GET_WRITER_STATUS = "GetWriterStatus"
    FREE_WRITER_STATUS = "FreeWriterStatus"
    GET_WRITER_COMPONENTS = "GetWriterComponents"
    GET_SNAPSHOT_PROPERTIES = "GetSnapshotProperties"
    QUERY = "Query"
    SET_BACKUP_SUCCEEDED = "SetBackupSucceeded"
    SAVE_AS_XML = "SaveAsXML"
    BACKUP_COMPLETE = "BackupComplete"
    ABORT_BACKUP = "AbortBackup"
    DELETE_SNAPSHOTS = "DeleteSnapshots"
    EXPOSE_SNAPSHOT = "ExposeSnapshot"
    UNEXPOSE_SNAPSHOT = "UnexposeSnapshot"
    BREAK_SNAPSHOT_SET = "BreakSnapshotSet"
    IMPORT_SNAPSHOTS = "ImportSnapshots"
    REVERT_TO_SNAPSHOT = "RevertToSnapshot"
    QUERY_REVERT_STATUS = "QueryRevertStatus"
    SET_SELECTED_FOR_RESTORE = "SetSelectedForRestore"
    ADD_RESTORE_SUBCOMPONENT = "AddRestoreSubcomponent"
    SET_RESTORE_OPTIONS = "SetRestoreOptions"
    SET_ADDITIONAL_RESTORES = "SetAdditionalRestores"
    SET_AUTHORITATIVE_RESTORE = "SetAuthoritativeRestore"
    SET_ROLL_FORWARD = "SetRollForward"
    SET_RESTORE_NAME = "SetRestoreName"
    ADD_NEW_TARGET = "AddNewTarget"
    PRE_RESTORE = "PreRestore"
    SET_FILE_RESTORE_STATUS = "SetFileRestoreStatus"
    ADD_ALTERNATIVE_LOCATION_MAPPING = "AddAlternativeLocationMapping"
    SET_RANGES_FILE_PATH = "SetRangesFilePath"
    POST_RESTORE = "PostRestore"
    RELEASE = "Release"


class Guard(StrEnum):
    """Session facts that a call needs, beyond its position in the sequence."""

    NOTHING_PENDING = "no asynchronous operation is still running"
    CONTEXT_NOT_SET = "SetContext has not been called yet"
    NOTHING_GATHERED = "GatherWriterMetadata has not been called yet"
    METADATA_GATHERED = "GatherWriterMetadata has completed"
    METADATA_AVAILABLE = "writer metadata was gathered and not freed"
    WRITER_CONTEXT = "the context involves writers"
    WRITERS_GATHERED_IF_NEEDED = "GatherWriterMetadata has completed (writer contexts need it)"
    BACKUP_STATE_SET = "SetBackupState has been called"
    STATUS_GATHERED = "GatherWriterStatus has completed"
    PREPARED_IF_REQUIRED = (
        "PrepareForBackup has been called (writer contexts need it when "
        "VssOptions.prepare_before_snapshot is 'required')"
    )


_S = SessionState
_C = Call

# Calls that only read or manage snapshots: legal whenever the object is initialized for backup
# and not released, without moving the session.
_BACKUP_ANYTIME: Final = (
    _C.IS_VOLUME_SUPPORTED,
    _C.GATHER_WRITER_STATUS,
    _C.GET_WRITER_STATUS,
    _C.FREE_WRITER_STATUS,
    _C.GET_WRITER_METADATA,
    _C.FREE_WRITER_METADATA,
    _C.GET_WRITER_COMPONENTS,
    _C.GET_SNAPSHOT_PROPERTIES,
    _C.QUERY,
    _C.DELETE_SNAPSHOTS,
    _C.EXPOSE_SNAPSHOT,
    _C.UNEXPOSE_SNAPSHOT,
    _C.BREAK_SNAPSHOT_SET,
    _C.REVERT_TO_SNAPSHOT,
    _C.QUERY_REVERT_STATUS,
    # Silently ignored after GatherWriterMetadata (reference §2 B4), so legal throughout.
    _C.ENABLE_WRITER_CLASSES,
    _C.DISABLE_WRITER_CLASSES,
    _C.DISABLE_WRITER_INSTANCES,
    # AbortBackup is "ignored if nothing is in progress": legal in every backup state.
    _C.ABORT_BACKUP,
    _C.RELEASE,
)

_RESTORE_ANYTIME: Final = (
    _C.GATHER_WRITER_STATUS,
    _C.GET_WRITER_STATUS,
    _C.FREE_WRITER_STATUS,
    _C.GET_WRITER_METADATA,
    _C.FREE_WRITER_METADATA,
    _C.GET_WRITER_COMPONENTS,
    _C.SAVE_AS_XML,
    _C.ENABLE_WRITER_CLASSES,
    _C.DISABLE_WRITER_CLASSES,
    _C.DISABLE_WRITER_INSTANCES,
    _C.RELEASE,
)


def _table() -> dict[SessionState, dict[Call, SessionState]]:
    t: dict[SessionState, dict[Call, SessionState]] = {s: {} for s in SessionState}

    def stay(state: SessionState, *calls: Call) -> None:
        for call in calls:
            t[state][call] = state

    t[_S.CREATED] = {
        _C.INITIALIZE_FOR_BACKUP: _S.BACKUP_INITIALIZED,
        _C.INITIALIZE_FOR_RESTORE: _S.RESTORE_INITIALIZED,
        _C.RELEASE: _S.RELEASED,
    }
    backup_states = (
        _S.BACKUP_INITIALIZED,
        _S.SNAPSHOT_SET_STARTED,
        _S.BACKUP_PREPARED,
        _S.CREATING_SNAPSHOTS,
        _S.SNAPSHOTS_CREATED,
        _S.SNAPSHOTS_FAILED,
        _S.BACKUP_COMPLETED,
        _S.BACKUP_ABORTED,
    )
    for s in backup_states:
        stay(s, *_BACKUP_ANYTIME)
        t[s][_C.RELEASE] = _S.RELEASED

    # Before StartSnapshotSet: context, writer discovery and component selection.
    stay(_S.BACKUP_INITIALIZED, _C.SET_CONTEXT, _C.SET_BACKUP_STATE, _C.GATHER_WRITER_METADATA,
         _C.ADD_COMPONENT, _C.SET_BACKUP_OPTIONS, _C.SET_PREVIOUS_BACKUP_STAMP,
         _C.IMPORT_SNAPSHOTS)
    t[_S.BACKUP_INITIALIZED][_C.START_SNAPSHOT_SET] = _S.SNAPSHOT_SET_STARTED

    # Between StartSnapshotSet and PrepareForBackup: volumes, backup state and options.
    # (AddComponent is over: it must come before StartSnapshotSet.)  A writerless context may
    # gather metadata late or not at all.
    stay(_S.SNAPSHOT_SET_STARTED, _C.ADD_TO_SNAPSHOT_SET, _C.SET_BACKUP_STATE,
         _C.SET_BACKUP_OPTIONS, _C.SET_PREVIOUS_BACKUP_STAMP, _C.GATHER_WRITER_METADATA)
    t[_S.SNAPSHOT_SET_STARTED][_C.PREPARE_FOR_BACKUP] = _S.BACKUP_PREPARED
    t[_S.SNAPSHOT_SET_STARTED][_C.DO_SNAPSHOT_SET] = _S.CREATING_SNAPSHOTS

    # After PrepareForBackup the set may still grow until DoSnapshotSet fixes it.
    stay(_S.BACKUP_PREPARED, _C.ADD_TO_SNAPSHOT_SET, _C.SAVE_AS_XML)
    t[_S.BACKUP_PREPARED][_C.DO_SNAPSHOT_SET] = _S.CREATING_SNAPSHOTS

    t[_S.CREATING_SNAPSHOTS][_C.SNAPSHOTS_DONE] = _S.SNAPSHOTS_CREATED
    t[_S.CREATING_SNAPSHOTS][_C.SNAPSHOTS_FAILED] = _S.SNAPSHOTS_FAILED
    t[_S.CREATING_SNAPSHOTS][_C.ABORT_BACKUP] = _S.BACKUP_ABORTED

    stay(_S.SNAPSHOTS_CREATED, _C.SET_BACKUP_SUCCEEDED, _C.SAVE_AS_XML)
    t[_S.SNAPSHOTS_CREATED][_C.BACKUP_COMPLETE] = _S.BACKUP_COMPLETED
    stay(_S.SNAPSHOTS_FAILED, _C.SAVE_AS_XML)
    stay(_S.BACKUP_COMPLETED, _C.SAVE_AS_XML)
    stay(_S.BACKUP_ABORTED, _C.SAVE_AS_XML)

    # Aborting moves every in-progress backup to BACKUP_ABORTED; before StartSnapshotSet, and
    # after BackupComplete or an earlier abort, "nothing is in progress" and the call is ignored.
    for s in (_S.SNAPSHOT_SET_STARTED, _S.BACKUP_PREPARED, _S.SNAPSHOTS_CREATED,
              _S.SNAPSHOTS_FAILED):
        t[s][_C.ABORT_BACKUP] = _S.BACKUP_ABORTED

    # Restore: selections and parameters before PreRestore, statuses between Pre and Post.
    restore_states = (_S.RESTORE_INITIALIZED, _S.RESTORE_PREPARED, _S.RESTORE_COMPLETED)
    for s in restore_states:
        stay(s, *_RESTORE_ANYTIME)
        t[s][_C.RELEASE] = _S.RELEASED
    stay(_S.RESTORE_INITIALIZED, _C.GATHER_WRITER_METADATA, _C.SET_SELECTED_FOR_RESTORE,
         _C.ADD_RESTORE_SUBCOMPONENT, _C.SET_RESTORE_OPTIONS, _C.SET_ADDITIONAL_RESTORES,
         _C.SET_AUTHORITATIVE_RESTORE, _C.SET_ROLL_FORWARD, _C.SET_RESTORE_NAME,
         _C.ADD_NEW_TARGET, _C.SET_RESTORE_STATE)
    t[_S.RESTORE_INITIALIZED][_C.PRE_RESTORE] = _S.RESTORE_PREPARED
    stay(_S.RESTORE_PREPARED, _C.SET_FILE_RESTORE_STATUS, _C.ADD_ALTERNATIVE_LOCATION_MAPPING,
         _C.SET_RANGES_FILE_PATH)
    t[_S.RESTORE_PREPARED][_C.POST_RESTORE] = _S.RESTORE_COMPLETED
    return t


#: ``state -> call -> next state``.  A call absent from a state's row is ``VSS_E_BAD_STATE`` there.
SESSION_TRANSITIONS: Final[Mapping[SessionState, Mapping[Call, SessionState]]] = MappingProxyType(
    {s: MappingProxyType(row) for s, row in _table().items()}
)

_G = Guard

#: Session facts each call needs.  Every call also needs :attr:`Guard.NOTHING_PENDING` except the
#: ones in :data:`CALLS_WHILE_PENDING` (the internal completions, abort, release and queries).
CALL_GUARDS: Final[Mapping[Call, tuple[Guard, ...]]] = MappingProxyType({
    _C.SET_CONTEXT: (_G.CONTEXT_NOT_SET, _G.NOTHING_GATHERED),
    _C.GATHER_WRITER_METADATA: (_G.NOTHING_GATHERED,),
    _C.GET_WRITER_METADATA: (_G.METADATA_AVAILABLE,),
    _C.FREE_WRITER_METADATA: (_G.METADATA_AVAILABLE,),
    _C.ADD_COMPONENT: (_G.WRITER_CONTEXT, _G.METADATA_GATHERED),
    _C.PREPARE_FOR_BACKUP: (_G.WRITER_CONTEXT, _G.BACKUP_STATE_SET),
    _C.DO_SNAPSHOT_SET: (_G.WRITERS_GATHERED_IF_NEEDED, _G.PREPARED_IF_REQUIRED),
    _C.BACKUP_COMPLETE: (_G.WRITER_CONTEXT,),
    _C.GET_WRITER_STATUS: (_G.STATUS_GATHERED,),
    _C.FREE_WRITER_STATUS: (_G.STATUS_GATHERED,),
    _C.PRE_RESTORE: (_G.METADATA_GATHERED,),
})

#: Calls legal while an asynchronous operation is still running.
CALLS_WHILE_PENDING: Final = frozenset({
    _C.SNAPSHOTS_DONE, _C.SNAPSHOTS_FAILED, _C.ABORT_BACKUP, _C.RELEASE, _C.QUERY,
    _C.GET_SNAPSHOT_PROPERTIES, _C.IS_VOLUME_SUPPORTED,
})


def _guards_for(call: Call) -> tuple[Guard, ...]:
    extra = () if call in CALLS_WHILE_PENDING else (_G.NOTHING_PENDING,)
    return CALL_GUARDS.get(call, ()) + extra


#: The bit of each guard in a guard mask (:func:`decide_mask`): requesters that ask on every
#: call keep their facts as one int instead of building a set of guards each time.
GUARD_BITS: Final[Mapping[Guard, int]] = MappingProxyType(
    {g: 1 << i for i, g in enumerate(Guard)})


def guard_mask(guards: Iterable[Guard]) -> int:
    """The mask of ``guards`` (see :data:`GUARD_BITS`)."""
    mask = 0
    for g in guards:
        mask |= GUARD_BITS[g]
    return mask


def guards_of(mask: int) -> set[Guard]:
    """The guards set in ``mask``."""
    return {g for g, bit in GUARD_BITS.items() if mask & bit}


# ``state -> call -> (next state, mask of the guards the call needs)``: the session table and
# the guards folded together, so that a legal call is decided with one lookup and one AND.
_ROUTES: Final[dict[SessionState, dict[Call, tuple[SessionState, int]]]] = {
    state: {call: (nxt, guard_mask(_guards_for(call))) for call, nxt in row.items()}
    for state, row in SESSION_TRANSITIONS.items()
}


def decide_mask(state: SessionState, call: Call, held: int) -> SessionState:
    """:func:`decide` with the guards that hold given as a mask (see :data:`GUARD_BITS`)."""
    route = _ROUTES[state].get(call)
    if route is not None and held & route[1] == route[1]:
        return route[0]
    return decide(state, call, guards_of(held))  # raises, naming what is missing


def legal_calls(state: SessionState, holding: Iterable[Guard]) -> list[Call]:
    """Calls that are legal in ``state`` given the guards that currently hold (public ones only)."""
    held = frozenset(holding)
    row = SESSION_TRANSITIONS[state]
    calls = [
        call
        for call in row
        if not call.value.startswith("(") and all(g in held for g in _guards_for(call))
    ]
    # Most useful first: calls that move the session on, then this state's own, then the rest.
    return sorted(calls, key=lambda c: (row[c] == state, c in _BACKUP_ANYTIME or c in
                                         _RESTORE_ANYTIME))


def decide(state: SessionState, call: Call, holding: Iterable[Guard]) -> SessionState:
    """The state after ``call``, or :class:`VssBadStateError` if the call is illegal now.

    ``holding`` is the set of :class:`Guard` conditions that are true for the session.  The
    error names the missing condition when the call's position is right but a fact is missing.
    """
    held = frozenset(holding)
    row = SESSION_TRANSITIONS[state]
    nxt = row.get(call)
    if nxt is not None:
        missing = [g for g in _guards_for(call) if g not in held]
        if not missing:
            return nxt
        reason = f"{call.value} needs: {'; '.join(g.value for g in missing)}"
    else:
        reason = f"{call.value} is not legal in state {state.value}"
    legal = [c.value for c in legal_calls(state, held)]
    if legal:
        now = ", ".join(legal)
    elif state is SessionState.RELEASED:
        now = "none (the object is released: create_backup_components() makes a new one)"
    else:
        now = "none (release the object)"
    raise VssBadStateError(
        f"{reason}; legal now: {now}",
        state=state.value,
        call=call.value,
        legal=legal,
    )


# -------------------------------------------------------------------------------- writers
class WriterEvent(StrEnum):
    """Writer events (and the freeze-window expiry), by their VSS names."""

    IDENTIFY = "Identify"
    PREPARE_FOR_BACKUP = "PrepareForBackup"
    PREPARE_FOR_SNAPSHOT = "PrepareForSnapshot"
    FREEZE = "Freeze"
    THAW = "Thaw"
    POST_SNAPSHOT = "PostSnapshot"
    ABORT = "Abort"
    BACKUP_COMPLETE = "BackupComplete"
    BACKUP_SHUTDOWN = "BackupShutdown"
    PRE_RESTORE = "PreRestore"
    POST_RESTORE = "PostRestore"
    FREEZE_TIMEOUT = "FreezeTimeout"  # not an event sent to the writer: its window expired


class Outcome(StrEnum):
    """How a writer's handler ended, as far as its state is concerned."""

    OK = "ok"  # returned True and did not call SetWriterFailure
    FAILED = "failed"  # returned False, raised, or called SetWriterFailure


ANY: Final = "*"
UNCHANGED: Final = "="

_W = WriterState
_E = WriterEvent

# States a writer is in while a backup is under way (Abort resets these).
_IN_BACKUP: Final = (_W.STABLE, _W.WAITING_FOR_FREEZE, _W.WAITING_FOR_THAW,
                     _W.WAITING_FOR_POST_SNAPSHOT)

WriterKey = WriterState | str  # a state, or ANY / UNCHANGED

#: ``event -> outcome -> from-state (or ANY) -> to-state (or UNCHANGED)`` (reference §4.2).
WRITER_TRANSITIONS: Final[Mapping[WriterEvent, Mapping[Outcome, Mapping[WriterKey, WriterKey]]]] = (
    MappingProxyType({
        # Identify is outside every session: it never changes the state (rule 1); a failure
        # only removes the writer from the requester's lists (rule 2).
        _E.IDENTIFY: {Outcome.OK: {ANY: UNCHANGED}, Outcome.FAILED: {ANY: UNCHANGED}},
        # PrepareForBackup starts a writer's part in a new backup, whatever came before.
        _E.PREPARE_FOR_BACKUP: {
            Outcome.OK: {ANY: _W.STABLE},
            Outcome.FAILED: {ANY: _W.FAILED_AT_PREPARE_BACKUP},
        },
        _E.PREPARE_FOR_SNAPSHOT: {
            Outcome.OK: {_W.STABLE: _W.WAITING_FOR_FREEZE},
            Outcome.FAILED: {_W.STABLE: _W.FAILED_AT_PREPARE_SNAPSHOT},
        },
        _E.FREEZE: {
            Outcome.OK: {_W.WAITING_FOR_FREEZE: _W.WAITING_FOR_THAW},
            Outcome.FAILED: {_W.WAITING_FOR_FREEZE: _W.FAILED_AT_FREEZE},
        },
        # KB 915331: the window expired between Freeze and Thaw (or inside OnFreeze itself).
        _E.FREEZE_TIMEOUT: {
            Outcome.FAILED: {
                _W.WAITING_FOR_FREEZE: _W.FAILED_AT_FREEZE,
                _W.WAITING_FOR_THAW: _W.FAILED_AT_FREEZE,
            },
        },
        _E.THAW: {
            Outcome.OK: {_W.WAITING_FOR_THAW: _W.WAITING_FOR_POST_SNAPSHOT},
            Outcome.FAILED: {_W.WAITING_FOR_THAW: _W.FAILED_AT_THAW},
        },
        _E.POST_SNAPSHOT: {
            Outcome.OK: {_W.WAITING_FOR_POST_SNAPSHOT: _W.WAITING_FOR_BACKUP_COMPLETE},
            Outcome.FAILED: {_W.WAITING_FOR_POST_SNAPSHOT: _W.FAILED_AT_POST_SNAPSHOT},
        },
        _E.BACKUP_COMPLETE: {
            Outcome.OK: {_W.WAITING_FOR_BACKUP_COMPLETE: _W.STABLE},
            Outcome.FAILED: {_W.WAITING_FOR_BACKUP_COMPLETE: _W.FAILED_AT_BACKUP_COMPLETE},
        },
        # Abort reaches writers that have not run PostSnapshot (rule 12), including those whose
        # Freeze failed or timed out (they must resume their application).  The state after it
        # is undocumented: an in-backup writer returns to STABLE, a failure state is kept.
        _E.ABORT: {
            Outcome.OK: {
                **dict.fromkeys(_IN_BACKUP, _W.STABLE),
                _W.FAILED_AT_PREPARE_SNAPSHOT: UNCHANGED,
                _W.FAILED_AT_FREEZE: UNCHANGED,
                _W.FAILED_AT_THAW: UNCHANGED,
            },
            Outcome.FAILED: {
                **dict.fromkeys(_IN_BACKUP, UNCHANGED),
                _W.FAILED_AT_PREPARE_SNAPSHOT: UNCHANGED,
                _W.FAILED_AT_FREEZE: UNCHANGED,
                _W.FAILED_AT_THAW: UNCHANGED,
            },
        },
        _E.BACKUP_SHUTDOWN: {
            Outcome.OK: {ANY: UNCHANGED},
            Outcome.FAILED: {ANY: _W.FAILED_AT_BACKUPSHUTDOWN},
        },
        _E.PRE_RESTORE: {
            Outcome.OK: {ANY: _W.STABLE},
            Outcome.FAILED: {ANY: _W.FAILED_AT_PRE_RESTORE},
        },
        _E.POST_RESTORE: {
            Outcome.OK: {ANY: _W.STABLE},
            Outcome.FAILED: {ANY: _W.FAILED_AT_POST_RESTORE},
        },
    })
)


def _receivers(event: WriterEvent) -> frozenset[WriterState]:
    rows = WRITER_TRANSITIONS[event].values()
    if any(ANY in row for row in rows):
        return frozenset(WriterState)
    return frozenset(k for row in rows for k in row if isinstance(k, WriterState))


def _expanded(event: WriterEvent, outcome: Outcome) -> dict[WriterState, WriterState]:
    row = WRITER_TRANSITIONS[event].get(outcome, {})
    out = {}
    for state in WriterState:
        target = row.get(state, row.get(ANY))
        if target is not None:
            out[state] = target if isinstance(target, WriterState) else state
    return out


#: ``event -> the writer states that are sent it``: :func:`writer_accepts` as one lookup.
WRITER_RECEIVES: Final[Mapping[WriterEvent, frozenset[WriterState]]] = MappingProxyType(
    {event: _receivers(event) for event in WRITER_TRANSITIONS})

#: ``(event, outcome) -> from-state -> to-state``: :data:`WRITER_TRANSITIONS` with ``ANY`` and
#: ``UNCHANGED`` resolved for every state, so :func:`next_writer_state` is one lookup.
WRITER_NEXT: Final[Mapping[tuple[WriterEvent, Outcome], Mapping[WriterState, WriterState]]] = (
    MappingProxyType({(event, outcome): MappingProxyType(_expanded(event, outcome))
                      for event in WriterEvent for outcome in Outcome}))

#: :data:`WRITER_NEXT` as ``VssOptions(abort_resets_state=False)`` reads the docs: Abort leaves
#: every state as it was (the writer table's other reading, reference §12.5).
WRITER_NEXT_ABORT_KEEPS_STATE: Final[
    Mapping[tuple[WriterEvent, Outcome], Mapping[WriterState, WriterState]]] = MappingProxyType({
        key: MappingProxyType({state: state for state in row}) if key[0] is WriterEvent.ABORT
        else row
        for key, row in WRITER_NEXT.items()})


def writer_accepts(state: WriterState, event: WriterEvent) -> bool:
    """True if a writer in ``state`` is sent ``event`` (the table has a row for it)."""
    return state in WRITER_RECEIVES[event]


def next_writer_state(state: WriterState, event: WriterEvent, outcome: Outcome) -> WriterState:
    """The writer state after ``event`` ended with ``outcome``.

    Raises ``KeyError`` if the table has no entry: the coordinator must not have sent the event
    (use :func:`writer_accepts` first).
    """
    return WRITER_NEXT[event, outcome][state]


# ------------------------------------------------------------------------------ diagrams
def session_state_diagram() -> str:
    """Mermaid ``stateDiagram-v2`` of :data:`SESSION_TRANSITIONS` (moving transitions only)."""
    from vsssim.render.mermaid import render_state_diagram

    moves: dict[str, dict[str, str]] = {}
    for state, row in SESSION_TRANSITIONS.items():
        for call, nxt in row.items():
            if nxt != state and nxt != SessionState.RELEASED:
                moves.setdefault(state.value, {})[call.value] = nxt.value
    return render_state_diagram(
        moves,
        initial=SessionState.CREATED.value,
        final=[SessionState.BACKUP_COMPLETED.value, SessionState.BACKUP_ABORTED.value,
               SessionState.RESTORE_COMPLETED.value],
        title="IVssBackupComponents session (Release from any state ends it)",
    )


def writer_state_diagram() -> str:
    """Mermaid ``stateDiagram-v2`` of :data:`WRITER_TRANSITIONS` (state-changing entries only)."""
    from vsssim.render.mermaid import render_state_diagram

    moves: dict[str, dict[str, str]] = {}
    for event, outcomes in WRITER_TRANSITIONS.items():
        for outcome, row in outcomes.items():
            for frm, to in row.items():
                if not isinstance(to, WriterState) or frm == to:
                    continue
                src = frm.name if isinstance(frm, WriterState) else "any state"
                moves.setdefault(src, {})[f"{event.value} {outcome.value}"] = to.name
    return render_state_diagram(
        moves, initial=WriterState.STABLE.name, title="VSS_WRITER_STATE (one writer, one session)"
    )
