"""The rules conformance checks enforce, each tied to the reference it comes from.

A :class:`Rule` names one thing the VSS documentation requires of a writer or a requester; the
monitors (:mod:`vsssim.testing.monitor`, :mod:`vsssim.testing.requester_monitor`) report a broken
rule as a :class:`Violation`, and raise :class:`ConformanceError`, whose message says which rule,
where the reference states it (``§`` numbers of ``vss-requester-writer.md``, the "rules a naive
simulator would get wrong" of its §11, Microsoft's page names), what the writer or requester did,
the tail of the trace, and, from a conformance run, the minimal failing sequence as a pytest test.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "REQUESTER_RULES",
    "RULES",
    "WRITER_RULES",
    "ConformanceError",
    "Rule",
    "Violation",
]


@dataclass(frozen=True)
class Rule:
    """One documented requirement: a short id, what it says, and where it is written."""

    id: str
    summary: str
    reference: str

    def __str__(self) -> str:
        return self.id


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


#: What a writer must do (reference §2, §2.A, §3, §4, §5, §11).
WRITER_RULES: dict[str, Rule] = _rules(
    Rule("handler-returns-bool",
         "Every handler returns a bool and never raises: True to go on, or "
         "set_writer_failure(...) then False to veto.",
         "§5 handler guidance (\"return true unless fatal ... never throw\"); §6.3; "
         "CVssWriter::On* pages"),
    Rule("veto-after-set-writer-failure",
         "A handler that returns False (a veto) has called set_writer_failure first, so that the "
         "requester learns why and whether to retry.",
         "§5 (\"on a fatal error call SetWriterFailure then return false\"); §4.2 (a bare false "
         "leaves the failure code unspecified); §11 rule 13; Writer Errors and Vetoes"),
    Rule("freeze-window",
         "No handler overruns its window: Freeze to Thaw fits in the writer's freeze_timeout "
         "(dwTimeoutFreeze, 60 s by default).",
         "§10 (freeze window), §11 rule 10, §4.2 (FAILED_AT_FREEZE + VSS_E_WRITERERROR_TIMEOUT); "
         "CVssWriter::Initialize, CVssWriter::OnFreeze, KB 915331"),
    Rule("resume-after-thaw-and-abort",
         "The application is resumed after Thaw and after every Abort (Abort may come more than "
         "once, and after a failed or timed-out Freeze).",
         "§2 B13 step 4 (Thaw: writers resume I/O), §2.A (OnAbort undoes what Freeze and Thaw "
         "would have undone, idempotent), §11 rules 11 and 12; CVssWriter::OnAbort"),
    Rule("metadata-valid-and-stable",
         "Identify succeeds with valid metadata (a restore method, at least one component, "
         "unique components, valid logical paths, file specs that match files that exist) and "
         "gives the same document every time (it can arrive at any moment).",
         "§2 B5, §6.4, §7.1, §8.1, §11 rules 1, 2 and 28; CVssWriter::OnIdentify, Writer "
         "Metadata Document Contents"),
    Rule("snapshot-changed-only-in-post-snapshot",
         "A writer changes a shadow copy only during PostSnapshot (the auto-recovery window: "
         "to fix up components flagged BACKUP_RECOVERY, which VSS marks "
         "VSS_VOLSNAP_ATTR_AUTORECOVER, or to delete the files it excludes), never a copy made "
         "with VSS_VOLSNAP_ATTR_NO_AUTORECOVERY, and it reaches the copy only inside "
         "PostSnapshot.",
         "§2 B13 step 5 (auto-recovery work in PostSnapshot), §6.4 "
         "(AddExcludeFilesFromSnapshot), §9.2 VSS_COMPONENT_FLAGS, §11 rule 18; providers "
         "reference §3.12; Excluding Files from Shadow Copies"),
    Rule("consistent-restore",
         "A completed backup holds the application's state at the freeze instant, and restoring "
         "it gives that state back.",
         "§2 B13 (Freeze: the writer's data is consistent until Thaw), §3 R7-R8, §8.7; Overview "
         "of Processing a Backup Under VSS"),
)

#: What a requester (backup program) must do (reference §2, §2.A, §5, §6).
REQUESTER_RULES: dict[str, Rule] = _rules(
    Rule("ends-with-complete-or-abort",
         "Every backup that started a snapshot set ends with BackupComplete (after a successful "
         "DoSnapshotSet) or AbortBackup (otherwise), before the object is released.",
         "§2.A (AbortBackup after StartSnapshotSet / PrepareForBackup), §2 B17, §11 rule 16; "
         "IVssBackupComponents::AbortBackup, Aborting VSS Operations"),
    Rule("checks-writer-status",
         "The requester gathers writer status after DoSnapshotSet (whatever its result) and "
         "after BackupComplete.",
         "§2 B12, B13 (\"it must check writer status after DoSnapshotSet in all cases\"), B18; "
         "Determining Writer Status"),
    Rule("retries-snapshot-set-in-progress",
         "VSS_E_SNAPSHOT_SET_IN_PROGRESS from StartSnapshotSet means another backup is creating "
         "its set: wait and retry.",
         "§2 B9, §11 rule 21; State Transitions in Shadow Copy Providers"),
    Rule("retries-retryable-writer-errors",
         "A writer failing with a retryable error (VSS_E_WRITERERROR_RETRYABLE, "
         "..._OUTOFRESOURCES, ..._TIMEOUT) gets the backup retried, at most three times "
         "(unless another writer failed the same attempt with NONRETRYABLE or "
         "INCONSISTENTSNAPSHOT, which a plain retry cannot fix).",
         "§5 failure-code table; IVssBackupComponents::GetWriterStatus"),
    Rule("no-leaked-snapshots",
         "The requester releases every IVssBackupComponents object and leaves no shadow copy or "
         "snapshot-set creation behind.",
         "§1 lifetimes, §2 B19; IVssBackupComponents, Backup Components Document Life Cycle"),
    Rule("reads-only-the-snapshot",
         "Files are copied from the shadow copies, never from the live volumes.",
         "§2 B15 (\"build the real file list only now, from the snapshot devices\"), §8.6 "
         "(snapshot-required file sets); Generating a Backup Set"),
    Rule("follows-the-backup-sequence",
         "A backup with writers calls PrepareForBackup before DoSnapshotSet, and in component "
         "mode its snapshot set holds every volume that the selected components' files (or "
         "their alternate locations) are on.",
         "§2 B10 (\"the requester must add every volume touched by the selected components' "
         "file sets\"), B11, B13 (\"PrepareForBackup is expected\"); Overview of Pre-Backup "
         "Tasks"),
    Rule("calls-in-order",
         "Every call is legal where it is made (no VSS_E_BAD_STATE).",
         "§6.1, §6.2, §11 rule 5"),
)

#: Every rule, writer and requester, by id.
RULES: dict[str, Rule] = {**WRITER_RULES, **REQUESTER_RULES}


@dataclass(frozen=True)
class Violation:
    """One broken rule: which, by whom, what happened, and where in the trace (``seq``)."""

    rule: Rule
    actor: str
    message: str
    seq: int = 0

    def __str__(self) -> str:
        return f"[{self.rule.id}] {self.actor}: {self.message}"


class ConformanceError(AssertionError):
    """A writer or requester broke a documented rule.

    The message names the rule and its reference, says what happened, shows the tail of the
    trace and, when a conformance run found it, the minimal failing sequence as a ready-to-paste
    pytest test (``repro``).  Fix the writer (or requester) as the rule says; paste the test to
    keep the bug from coming back.
    """

    def __init__(self, violations: list[Violation], trace_tail: str = "", repro: str = "",
                 notes: list[str] | None = None) -> None:
        if not violations:
            raise ValueError("a ConformanceError needs at least one violation")
        super().__init__(violations[0].message)
        self.violations = list(violations)
        self.trace_tail = trace_tail
        self.repro = repro
        self.notes = list(notes or [])
        #: The failing example's steps (a :class:`vsssim.testing.repro.Replay`), set by a
        #: conformance machine so that the run can minimise the repro once hypothesis is done.
        self.replay: object = None

    @property
    def rule(self) -> Rule:
        """The first broken rule."""
        return self.violations[0].rule

    def __str__(self) -> str:
        first = self.violations[0]
        lines = [f"{first.actor} broke rule {first.rule.id!r}: {first.rule.summary}",
                 f"  {first.message}",
                 f"  Reference: {first.rule.reference}"]
        for other in self.violations[1:]:
            lines.append(f"  Also: {other}")
        lines.extend(f"  {note}" for note in self.notes)
        if self.trace_tail:
            marked = any(line.startswith(">>") for line in self.trace_tail.splitlines())
            lines += ["", "Trace (last events; '>>' marks where the rule broke):" if marked
                      else "Trace (last events):", self.trace_tail]
        if self.repro:
            lines += ["", "Minimal failing sequence as a pytest test (paste it into a test file):",
                      "", self.repro]
        return "\n".join(lines)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.violations, self.trace_tail, self.repro, self.notes))
