"""Deliberately buggy requesters: each one gets one thing wrong that real backup tools get wrong.

A requester here is what a backup tool's backup job is: a function ``fn(system)`` that drives
``system.create_backup_components()`` (``IVssBackupComponents``) from ``InitializeForBackup`` to
``Release`` and copies the files of the selected components.  ``correct_requester`` follows the
reference (``vss-requester-writer.md`` §2 B0-B19, §2.A, §5); each buggy one is the same code with
one mistake (marked ``BUG`` below).  The requester conformance run catches each of them, names
the rule it breaks and prints the minimal sequence that shows it
(``tests/testing/test_requester_conformance.py``)::

    from vsssim.testing import check_requester
    check_requester(forgets_abort_on_error)

==============================  ==================================
requester                       rule it breaks
==============================  ==================================
``forgets_abort_on_error``      ends-with-complete-or-abort
``never_checks_writer_status``  checks-writer-status
``gives_up_when_set_in_progress``  retries-snapshot-set-in-progress
``never_retries``               retries-retryable-writer-errors
``leaks_snapshot``              no-leaked-snapshots
``reads_live_volume``           reads-only-the-snapshot
``skips_prepare_for_backup``    follows-the-backup-sequence
==============================  ==================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from vsssim import hresult as hr
from vsssim.constants import BackupType, SnapshotContext, VolumeSnapshotAttributes
from vsssim.errors import VssError, VssSnapshotSetInProgressError

if TYPE_CHECKING:
    from collections.abc import Callable

    from vsssim.documents import WmdComponent, WriterMetadata
    from vsssim.requester import BackupComponents
    from vsssim.system import VssSystem

__all__ = [
    "BUGGY_REQUESTERS",
    "correct_requester",
    "forgets_abort_on_error",
    "gives_up_when_set_in_progress",
    "leaks_snapshot",
    "never_checks_writer_status",
    "never_retries",
    "reads_live_volume",
    "skips_prepare_for_backup",
]

#: Writer failures worth a new attempt, and DoSnapshotSet failures the reference calls
#: transient (§5: wait ten minutes, retry, at most 3 times).
RETRYABLE, TRANSIENT = hr.RETRYABLE_WRITER_ERRORS, hr.TRANSIENT_CREATION_ERRORS
MAX_RETRIES = 3
RETRY_WAIT = 600.0  # seconds on the machine's (virtual) clock
START_ATTEMPTS = 5  # StartSnapshotSet tries while another backup is creating its set


class _Retry(Exception):
    """The attempt failed with a retryable writer error (or a transient ``DoSnapshotSet``
    error): wait and run the backup again."""


def _file_sets(comp: WmdComponent) -> list[tuple[str, str, bool]]:
    """(path, filespec, recursive) of every file set of a component."""
    return [(f.path, f.filespec, f.recursive)
            for f in [*comp.files, *comp.database_files, *comp.database_log_files]]


def _selection(bc: BackupComponents) -> list[tuple[UUID, WriterMetadata, WmdComponent]]:
    """The top-level components of every writer (``AddComponent`` for each, §2 B7)."""
    return [(instance_id, wmd, comp) for instance_id, wmd in bc.writer_metadata
            for comp in wmd.components if not comp.logical_path]


def _start_set(bc: BackupComponents, system: VssSystem, *, retry: bool) -> UUID:
    """``StartSnapshotSet``; on ``VSS_E_SNAPSHOT_SET_IN_PROGRESS`` wait and try again (§2 B9)."""
    for _ in range(START_ATTEMPTS - 1):
        try:
            return bc.start_snapshot_set()
        except VssSnapshotSetInProgressError:
            if not retry:
                raise
            system.clock.sleep(30.0)
    return bc.start_snapshot_set()


def _copy(system: VssSystem, bc: BackupComponents, snapshots: dict[str, UUID],
          selection: list[tuple[UUID, WriterMetadata, WmdComponent]], *, live: bool) -> int:
    """Read every file of the selected components from the shadow copies (§2 B15; ``live``:
    from the live volumes instead).  Returns the bytes read."""
    total = 0
    for _instance, _wmd, comp in selection:
        for path, filespec, recursive in _file_sets(comp):
            volume = system.volume_of_path(path)
            if volume is None or volume.name not in snapshots:
                continue
            if live:
                # BUG (reads_live_volume): the live volume keeps changing under the copy.
                fs = system.volume(volume.name).fs
                root = path.rstrip("\\")
            else:
                snapshot_id = snapshots[volume.name]
                device = bc.get_snapshot_properties(snapshot_id).snapshot_device_object
                fs = system.shadow_fs(snapshot_id)
                root = device + "\\" + path[len(volume.name):].strip("\\")
                root = root.rstrip("\\")
            if not fs.is_dir(root):
                continue
            for name in fs.glob(root, filespec, recursive=recursive):
                total += len(fs.read_file(name))
    return total


def _backup(system: VssSystem, *, abort_on_error: bool = True, check_status: bool = True,
            retry_start: bool = True, persistent: bool = False, live: bool = False,
            prepare: bool = True) -> bool:
    """One attempt of a full backup of every writer's top-level components, the documented
    sequence (§2 B0-B19).  True if it completed; raises :class:`_Retry` when a writer failed
    with a retryable error."""
    bc = system.create_backup_components()
    started = False
    try:
        bc.initialize_for_backup()                                            # B1
        if persistent:
            # BUG (leaks_snapshot): a persistent copy that is never deleted.
            bc.set_context(int(SnapshotContext.BACKUP | VolumeSnapshotAttributes.NO_AUTO_RELEASE))
        bc.gather_writer_metadata().result()                                  # B3-B5
        bc.set_backup_state(True, False, BackupType.FULL)                     # B6
        selection = _selection(bc)
        volumes: set[str] = set()
        for instance_id, wmd, comp in selection:                              # B7
            bc.add_component(instance_id, wmd.identity.writer_id, comp.component_type,
                             comp.logical_path, comp.component_name)
            for path, _spec, _rec in _file_sets(comp):
                volume = system.volume_of_path(path)
                if volume is not None:
                    volumes.add(volume.name)
        _start_set(bc, system, retry=retry_start)                            # B9
        started = True
        snapshots = {name: bc.add_to_snapshot_set(name) for name in sorted(volumes)}  # B10
        if prepare:                     # BUG when off (skips_prepare_for_backup)
            bc.prepare_for_backup().result()                                  # B11
        creation = bc.do_snapshot_set()                                       # B13
        creation.wait()
        failures: list[int] = []
        if check_status:                # BUG when off (never_checks_writer_status), also below
            bc.gather_writer_status().result()
            failures = [s.failure for s in bc.writer_status if s.state.is_failed]
        if not creation.succeeded or failures:
            if abort_on_error:          # BUG when off (forgets_abort_on_error)
                bc.abort_backup()
            if any(code in RETRYABLE for code in failures) \
                    or creation.query_status() in TRANSIENT:
                raise _Retry
            return False
        _copy(system, bc, snapshots, selection, live=live)                    # B15
        for instance_id, wmd, comp in selection:                              # B16
            bc.set_backup_succeeded(instance_id, wmd.identity.writer_id, comp.component_type,
                                    comp.logical_path, comp.component_name, True)
        bc.backup_complete().result()                                         # B17
        if check_status:
            bc.gather_writer_status().result()                                # B18
        return True
    except VssError:
        if started and abort_on_error:
            bc.abort_backup()  # legal at any point after StartSnapshotSet (§2.A)
        raise
    finally:
        bc.release()                                                          # B19


def _with_retries(attempt: Callable[[], bool], system: VssSystem, retries: int) -> bool:
    """Run ``attempt``; after a retryable writer failure wait and run it again, ``retries``
    times at most (§5 failure-code table)."""
    for _ in range(retries):
        try:
            return attempt()
        except _Retry:
            system.clock.sleep(RETRY_WAIT)
    try:
        return attempt()
    except _Retry:
        return False


def correct_requester(system: VssSystem) -> bool:
    """A backup job that follows the rules: the documented sequence, writer status after
    ``DoSnapshotSet`` and ``BackupComplete``, ``AbortBackup`` on every failure, a wait and a
    retry on ``VSS_E_SNAPSHOT_SET_IN_PROGRESS`` and on retryable writer errors, files read from
    the shadow copies, the object always released."""
    return _with_retries(lambda: _backup(system), system, MAX_RETRIES)


def forgets_abort_on_error(system: VssSystem) -> bool:
    """Releases the object after a failed ``DoSnapshotSet`` (or a vetoing writer) without
    ``AbortBackup``: writers never hear that the backup ended."""
    return _with_retries(lambda: _backup(system, abort_on_error=False), system, MAX_RETRIES)


def never_checks_writer_status(system: VssSystem) -> bool:
    """Trusts ``DoSnapshotSet``'s result: never calls ``GatherWriterStatus``, so a writer that
    failed (and the components it left inconsistent) goes unnoticed."""
    return _with_retries(lambda: _backup(system, check_status=False), system, MAX_RETRIES)


def gives_up_when_set_in_progress(system: VssSystem) -> bool:
    """Gives up (aborts, and reports the error) when another backup is creating its set."""
    return _with_retries(lambda: _backup(system, retry_start=False), system, MAX_RETRIES)


def never_retries(system: VssSystem) -> bool:
    """Makes one attempt: a writer failing with ``VSS_E_WRITERERROR_RETRYABLE`` (or a freeze
    window that ran out) ends the job, where a second attempt would very likely succeed."""
    return _with_retries(lambda: _backup(system), system, 0)


def leaks_snapshot(system: VssSystem) -> bool:
    """Creates its shadow copies in a persistent context (``VSS_CTX_BACKUP`` |
    ``NO_AUTO_RELEASE``) and never deletes them: the diff area fills up with old copies."""
    return _with_retries(lambda: _backup(system, persistent=True), system, MAX_RETRIES)


def reads_live_volume(system: VssSystem) -> bool:
    """Makes the shadow copies, then copies the files from the live volume."""
    return _with_retries(lambda: _backup(system, live=True), system, MAX_RETRIES)


def skips_prepare_for_backup(system: VssSystem) -> bool:
    """Goes from AddToSnapshotSet straight to DoSnapshotSet: VSS lets it, but the writers never
    get PrepareForBackup, where they learn what is backed up and how."""
    return _with_retries(lambda: _backup(system, prepare=False), system, MAX_RETRIES)


#: Each buggy requester and the rule it breaks.
BUGGY_REQUESTERS: dict[str, Callable[[VssSystem], bool]] = {
    "ends-with-complete-or-abort": forgets_abort_on_error,
    "checks-writer-status": never_checks_writer_status,
    "retries-snapshot-set-in-progress": gives_up_when_set_in_progress,
    "retries-retryable-writer-errors": never_retries,
    "no-leaked-snapshots": leaks_snapshot,
    "reads-only-the-snapshot": reads_live_volume,
    "follows-the-backup-sequence": skips_prepare_for_backup,
}
