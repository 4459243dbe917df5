"""The transition tables of vsssim._state: structure and the documented ordering rules."""

from __future__ import annotations

import pytest

from vsssim._state import (
    ANY,
    GUARD_BITS,
    SESSION_TRANSITIONS,
    WRITER_TRANSITIONS,
    Call,
    Guard,
    Outcome,
    SessionState,
    WriterEvent,
    decide,
    decide_mask,
    guards_of,
    legal_calls,
    next_writer_state,
    writer_accepts,
)
from vsssim.constants import WriterState as W
from vsssim.errors import VssBadStateError

ALL_GUARDS = set(Guard)
S = SessionState
C = Call


def test_every_state_has_a_row_and_only_release_leaves_released() -> None:
    assert set(SESSION_TRANSITIONS) == set(SessionState)
    assert dict(SESSION_TRANSITIONS[S.RELEASED]) == {}
    for state, row in SESSION_TRANSITIONS.items():
        if state != S.RELEASED:
            assert row[C.RELEASE] == S.RELEASED, state


@pytest.mark.parametrize(
    ("state", "call"),
    [
        # Rule 5: AddComponent before StartSnapshotSet; options before PrepareForBackup.
        (S.SNAPSHOT_SET_STARTED, C.ADD_COMPONENT),
        (S.BACKUP_PREPARED, C.SET_BACKUP_OPTIONS),
        (S.BACKUP_PREPARED, C.SET_PREVIOUS_BACKUP_STAMP),
        (S.BACKUP_PREPARED, C.SET_BACKUP_STATE),
        # Rule 16: no BackupComplete / SetBackupSucceeded after a failed DoSnapshotSet.
        (S.SNAPSHOTS_FAILED, C.BACKUP_COMPLETE),
        (S.SNAPSHOTS_FAILED, C.SET_BACKUP_SUCCEEDED),
        # Rule 15: SaveAsXML never before PrepareForBackup.
        (S.BACKUP_INITIALIZED, C.SAVE_AS_XML),
        (S.SNAPSHOT_SET_STARTED, C.SAVE_AS_XML),
        # InitializeForBackup must come first and only once.
        (S.CREATED, C.GATHER_WRITER_METADATA),
        (S.BACKUP_INITIALIZED, C.INITIALIZE_FOR_BACKUP),
        # Backup-only calls on a restore object and vice versa.
        (S.RESTORE_INITIALIZED, C.DO_SNAPSHOT_SET),
        (S.BACKUP_INITIALIZED, C.PRE_RESTORE),
        # Rule 25: SetFileRestoreStatus only between PreRestore and PostRestore.
        (S.RESTORE_INITIALIZED, C.SET_FILE_RESTORE_STATUS),
        (S.RESTORE_COMPLETED, C.SET_FILE_RESTORE_STATUS),
        (S.RESTORE_PREPARED, C.SET_SELECTED_FOR_RESTORE),
        # Restores cannot be aborted (rule 36).
        (S.RESTORE_PREPARED, C.ABORT_BACKUP),
    ],
)
def test_documented_order_violations_are_bad_state(state: SessionState, call: Call) -> None:
    with pytest.raises(VssBadStateError) as info:
        decide(state, call, ALL_GUARDS)
    err = info.value
    assert err.state == state.value and err.call == call.value
    assert set(err.legal) == {c.value for c in legal_calls(state, ALL_GUARDS)}


def test_guards_name_what_is_missing() -> None:
    with pytest.raises(VssBadStateError, match="SetBackupState has been called"):
        decide(S.SNAPSHOT_SET_STARTED, C.PREPARE_FOR_BACKUP, ALL_GUARDS - {Guard.BACKUP_STATE_SET})
    with pytest.raises(VssBadStateError, match="SetContext has not been called"):
        decide(S.BACKUP_INITIALIZED, C.SET_CONTEXT, ALL_GUARDS - {Guard.CONTEXT_NOT_SET})
    with pytest.raises(VssBadStateError, match="no asynchronous operation"):
        decide(S.SNAPSHOT_SET_STARTED, C.DO_SNAPSHOT_SET, ALL_GUARDS - {Guard.NOTHING_PENDING})


def test_abort_and_release_are_legal_while_an_operation_runs() -> None:
    held = ALL_GUARDS - {Guard.NOTHING_PENDING}
    assert decide(S.CREATING_SNAPSHOTS, C.ABORT_BACKUP, held) == S.BACKUP_ABORTED
    assert decide(S.CREATING_SNAPSHOTS, C.RELEASE, held) == S.RELEASED


def test_abort_is_ignored_when_nothing_is_in_progress() -> None:
    # Rule 36: legal everywhere in a backup, but it only moves an in-progress backup.
    for state in (S.BACKUP_INITIALIZED, S.BACKUP_COMPLETED, S.BACKUP_ABORTED):
        assert decide(state, C.ABORT_BACKUP, ALL_GUARDS) == state


def test_internal_completions_are_never_listed_as_legal() -> None:
    for state in SessionState:
        assert all(not c.value.startswith("(") for c in legal_calls(state, ALL_GUARDS))


def test_happy_backup_path() -> None:
    state = S.CREATED
    for call in (C.INITIALIZE_FOR_BACKUP, C.SET_CONTEXT, C.GATHER_WRITER_METADATA,
                 C.SET_BACKUP_STATE, C.ADD_COMPONENT, C.START_SNAPSHOT_SET,
                 C.ADD_TO_SNAPSHOT_SET, C.PREPARE_FOR_BACKUP, C.DO_SNAPSHOT_SET,
                 C.SNAPSHOTS_DONE, C.GATHER_WRITER_STATUS, C.SET_BACKUP_SUCCEEDED,
                 C.SAVE_AS_XML, C.BACKUP_COMPLETE, C.RELEASE):
        state = decide(state, call, ALL_GUARDS)
    assert state == S.RELEASED


# ------------------------------------------------------------------------- writer table
def test_documented_writer_path() -> None:
    s = W.STABLE
    for event in (WriterEvent.PREPARE_FOR_BACKUP, WriterEvent.PREPARE_FOR_SNAPSHOT,
                  WriterEvent.FREEZE, WriterEvent.THAW, WriterEvent.POST_SNAPSHOT):
        s = next_writer_state(s, event, Outcome.OK)
    assert s == W.WAITING_FOR_BACKUP_COMPLETE
    assert next_writer_state(s, WriterEvent.BACKUP_COMPLETE, Outcome.OK) == W.STABLE


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (W.STABLE, WriterEvent.PREPARE_FOR_BACKUP, W.FAILED_AT_PREPARE_BACKUP),
        (W.STABLE, WriterEvent.PREPARE_FOR_SNAPSHOT, W.FAILED_AT_PREPARE_SNAPSHOT),
        (W.WAITING_FOR_FREEZE, WriterEvent.FREEZE, W.FAILED_AT_FREEZE),
        (W.WAITING_FOR_THAW, WriterEvent.FREEZE_TIMEOUT, W.FAILED_AT_FREEZE),
        (W.WAITING_FOR_THAW, WriterEvent.THAW, W.FAILED_AT_THAW),
        (W.WAITING_FOR_POST_SNAPSHOT, WriterEvent.POST_SNAPSHOT, W.FAILED_AT_POST_SNAPSHOT),
        (W.WAITING_FOR_BACKUP_COMPLETE, WriterEvent.BACKUP_COMPLETE,
         W.FAILED_AT_BACKUP_COMPLETE),
        (W.STABLE, WriterEvent.BACKUP_SHUTDOWN, W.FAILED_AT_BACKUPSHUTDOWN),
        (W.STABLE, WriterEvent.PRE_RESTORE, W.FAILED_AT_PRE_RESTORE),
        (W.STABLE, WriterEvent.POST_RESTORE, W.FAILED_AT_POST_RESTORE),
    ],
)
def test_each_failure_state_is_reached_by_its_event(state: W, event: WriterEvent,
                                                     expected: W) -> None:
    assert next_writer_state(state, event, Outcome.FAILED) == expected


def test_identify_never_changes_state() -> None:
    for s in W:
        for outcome in Outcome:
            assert next_writer_state(s, WriterEvent.IDENTIFY, outcome) == s


def test_abort_never_reaches_a_writer_after_post_snapshot() -> None:
    # Rule 12.
    assert not writer_accepts(W.WAITING_FOR_BACKUP_COMPLETE, WriterEvent.ABORT)
    assert writer_accepts(W.WAITING_FOR_THAW, WriterEvent.ABORT)
    assert writer_accepts(W.FAILED_AT_FREEZE, WriterEvent.ABORT)
    kept = next_writer_state(W.FAILED_AT_FREEZE, WriterEvent.ABORT, Outcome.OK)
    assert kept == W.FAILED_AT_FREEZE
    assert next_writer_state(W.WAITING_FOR_THAW, WriterEvent.ABORT, Outcome.OK) == W.STABLE


def test_a_writer_that_failed_prepare_snapshot_drops_out_of_freeze_and_thaw() -> None:
    assert not writer_accepts(W.FAILED_AT_PREPARE_SNAPSHOT, WriterEvent.FREEZE)
    assert not writer_accepts(W.FAILED_AT_PREPARE_SNAPSHOT, WriterEvent.THAW)


def test_every_target_state_is_a_writer_state() -> None:
    for outcomes in WRITER_TRANSITIONS.values():
        for row in outcomes.values():
            for frm, to in row.items():
                assert frm == ANY or isinstance(frm, W)
                assert isinstance(to, W) or to == "="


def test_table_miss_raises() -> None:
    with pytest.raises(KeyError):
        next_writer_state(W.STABLE, WriterEvent.THAW, Outcome.OK)


def test_the_mask_decides_every_call_as_the_tables_do() -> None:
    """A requester decides with the guards as a mask (``decide_mask``): for every state, call
    and set of guards, it must allow exactly what ``decide`` allows, and lead where it does."""
    import itertools

    bits = sorted(GUARD_BITS.values())
    every = sum(bits)
    # No guard, every guard, each guard alone and each guard missing.
    masks = {0, every} | set(bits) | {every & ~b for b in bits}
    for state, call in itertools.product(SessionState, Call):
        for held in masks:
            try:
                nxt = decide(state, call, guards_of(held))
            except VssBadStateError:
                with pytest.raises(VssBadStateError):
                    decide_mask(state, call, held)
            else:
                assert decide_mask(state, call, held) is nxt, (state, call, guards_of(held))
