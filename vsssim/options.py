"""Fidelity options: every behaviour Microsoft's documentation leaves open is a choice made here.

Each field of :class:`VssOptions` is one point the reference notes mark *undocumented* (or
document inconsistently).  The defaults are what users expect; change them to test a writer or
requester against the other plausible behaviours::

    VssSystem(options=VssOptions(delivery="shuffled", veto_aborts_snapshot=False))

``docs/fidelity.md`` is generated from the field descriptions below (``vsssim fidelity``), and a
test keeps it in sync.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vsssim import hresult as hr

__all__ = ["CopiesAfterRevert", "Costs", "VssOptions", "fidelity_markdown"]

#: What a finished revert does to the volume's shadow copies
#: (:attr:`VssOptions.copies_after_revert`).
CopiesAfterRevert = Literal["keep", "delete_target", "delete_all"]


class Costs(BaseModel):
    """How long simulated work takes, in seconds on the system clock.

    Windows gives no numbers; these defaults only make timelines readable and let a backup
    report a non-zero freeze window and hold time.  Set them all to 0 for a timeless run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    handler: float = Field(0.002, ge=0, description="each writer event handler")
    provider_call: float = Field(0.001, ge=0, description="each provider method call")
    commit: float = Field(0.02, ge=0, description="the system provider's commit, per volume")
    app_step: float = Field(0.0005, ge=0, description="each application step")
    copy_rate: float = Field(200e6, gt=0, description="bytes per second a requester copies")


class VssOptions(BaseModel):
    """Choices for the behaviours the VSS documentation leaves open (all have defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery: Literal["registration", "shuffled"] = Field(
        "registration",
        description=(
            "Order in which one event reaches several writers. Undocumented beyond the Freeze "
            "order by application level (reference §2.B, §12.1). 'registration': the order the "
            "writers were added, deterministic. 'shuffled': a permutation per event drawn from "
            "the system seed, to expose order dependence. Freeze always goes front-end, then "
            "back-end, then system writers; within a level this option decides. Either way "
            "vsssim delivers an event to one writer at a time: the next writer gets it only "
            "when the previous handler has returned, so a slow handler delays the others by "
            "its whole duration on the system clock (a 70 s Freeze handler: the next writer's "
            "Freeze, and the start of its freeze window, come 70 s later; see `vsssim demo "
            "--scenario freeze-timeout --table`). The docs do not say whether Windows waits so "
            "(reference §2.B, Parallelism); Windows is understood to send an event to the "
            "writers in parallel (Freeze: in parallel within one application level), where "
            "one writer's slow handler does not delay the others' events."
        ),
    )
    thaw_order: Literal["reverse", "same"] = Field(
        "reverse",
        description=(
            "Level order of Thaw. Undocumented. 'reverse': system, back-end, then front-end "
            "writers (a front-end resumes after what it depends on); 'same': the Freeze order."
        ),
    )
    system_rm_writers: Literal["after_system", "with_system", "refuse"] = Field(
        "after_system",
        description=(
            "Writers initialized with VSS_APP_SYSTEM_RM (4). The VSS_APPLICATION_LEVEL page "
            "lists the value without a word on it (reference §9.2: undocumented, unlike AUTO, "
            "which is reserved); the Freeze order it defines covers front-end, back-end and "
            "system writers only. 'after_system': accepted as a level of its own, frozen after "
            "the system writers (and thawed before them with the default reverse thaw_order); "
            "'with_system': accepted as a system-level writer, frozen among the system writers "
            "in the order `delivery` gives; 'refuse': add_writer refuses it with E_INVALIDARG, "
            "as it refuses the reserved UNKNOWN and AUTO."
        ),
    )
    non_component_mode_recipients: Literal["all", "affected"] = Field(
        "all",
        description=(
            "Which writers get PrepareForBackup and later events when the requester did not "
            "select components (SetBackupState(select_components=False)). Undocumented "
            "(reference §12.2). 'all': every writer that answered Identify; 'affected': only "
            "writers with a file set on a volume of the snapshot set."
        ),
    )
    veto_aborts_snapshot: bool = Field(
        True,
        description=(
            "Whether a writer that fails Freeze or Thaw makes DoSnapshotSet fail. The docs say "
            "such a failure raises an Abort event (rule 11) but not what DoSnapshotSet then "
            "returns (§12.3). True: creation is abandoned and DoSnapshotSet fails with "
            "veto_result; False: the other writers and the snapshot go on and only the vetoing "
            "writer's status shows the failure."
        ),
    )
    veto_result: int = Field(
        hr.VSS_E_UNEXPECTED_WRITER_ERROR,
        description=(
            "HRESULT of DoSnapshotSet's async operation when a writer veto abandons the "
            "snapshot (§12.3). Default VSS_E_UNEXPECTED_WRITER_ERROR."
        ),
    )
    abort_after_abandon: Literal["again", "once"] = Field(
        "again",
        description=(
            "Whether AbortBackup sends Abort again to writers that VSS already aborted. When a "
            "writer vetoes Freeze or Thaw, overruns its freeze window, or a provider fails "
            "during creation, VSS abandons the snapshot set and sends Abort; the requester "
            "must still call AbortBackup afterwards (it cannot tell whether an Abort went out, "
            "reference §2.A). What that second call sends is undocumented; the reference says "
            "`OnAbort` must be idempotent and a writer can receive several Abort events (§2.A, "
            "rule 12). 'again': the writers that have not run PostSnapshot get Abort a second "
            "time, so a writer's tests meet it; 'once': only writers that have not had Abort "
            "in this session get it."
        ),
    )
    failed_writers_get_freeze: bool = Field(
        False,
        description=(
            "Whether a writer that failed PrepareForSnapshot still gets Freeze and Thaw "
            "(undocumented, §2 B13). Default: no, it has dropped out of this snapshot; it still "
            "gets Abort and BackupShutdown."
        ),
    )
    default_failure: int = Field(
        hr.VSS_E_WRITERERROR_NONRETRYABLE,
        description=(
            "Failure HRESULT recorded when a handler returns False (or raises) without calling "
            "SetWriterFailure (§12.4)."
        ),
    )
    none_return: Literal["fail", "ok"] = Field(
        "fail",
        description=(
            "What a Python handler returning None means (C++ handlers must return a bool). "
            "'fail': a failure with default_failure, and a trace note saying what to return; "
            "'ok': treated as True, with the same note."
        ),
    )
    abort_resets_state: bool = Field(
        True,
        description=(
            "Writer state after Abort (§12.5): True returns an in-backup writer to STABLE while a "
            "FAILED_AT_* state is kept; False keeps every state as it was."
        ),
    )
    backup_shutdown_recipients: Literal["prepared", "identified"] = Field(
        "prepared",
        description=(
            "Which writers get BackupShutdown when the requester object is released (§12.7). "
            "'prepared': every writer that received PrepareForBackup in that session; "
            "'identified': every writer whose metadata the session gathered."
        ),
    )
    handler_timeouts: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Time limits (seconds on the system clock) for handlers other than the Freeze..Thaw "
            "window, keyed by event name ('PrepareForSnapshot', 'PostSnapshot', ...). Not "
            "published (§10, §12.6); default: none. An overrun is reported as "
            "VSS_E_WRITER_NOT_RESPONDING."
        ),
    )
    hold_timeout: float = Field(
        10.0,
        description=(
            "Flush-and-hold limit in seconds: the kernel cancels a hold not released in time "
            "and creation fails with VSS_E_HOLD_WRITES_TIMEOUT (the pairing of the 10-second "
            "limit with that code is inferred, providers reference §2.3)."
        ),
    )
    begin_prepare_at: Literal["do_snapshot_set", "add_to_snapshot_set"] = Field(
        "do_snapshot_set",
        description=(
            "When providers get BeginPrepareSnapshot (providers reference §2.2, undocumented): at "
            "the start of DoSnapshotSet after PrepareForSnapshot (default), or already inside "
            "AddToSnapshotSet."
        ),
    )
    prepare_before_snapshot: Literal["optional", "required"] = Field(
        "optional",
        description=(
            "Whether DoSnapshotSet in a writer context needs PrepareForBackup first. The "
            "reference's preconditions for DoSnapshotSet (§2 B13) are InitializeForBackup, "
            "StartSnapshotSet and, with writers, GatherWriterMetadata, refused otherwise with "
            "`VSS_E_BAD_STATE`; PrepareForBackup \"should\" come first but the docs do not "
            "require it. 'optional': the call is accepted (the writers then get "
            "PrepareForSnapshot without PrepareForBackup), and `vsssim.testing.check_requester` "
            "reports it as a violation of `follows-the-backup-sequence`; 'required': it is "
            "refused with `VSS_E_BAD_STATE`, which names the missing PrepareForBackup, and "
            "nothing changes. Writerless contexts (where PrepareForBackup is not legal) never "
            "need it."
        ),
    )
    hardware_tiebreak: Literal["registration", "name"] = Field(
        "registration",
        description=(
            "Which of several hardware providers supporting a volume is chosen (order "
            "'not guaranteed', providers reference §1.2): the first registered, or by name."
        ),
    )
    add_component_error: int = Field(
        hr.VSS_E_OBJECT_NOT_FOUND,
        description=(
            "HRESULT of AddComponent for a component the writer's metadata does not declare "
            "(the docs say 'error' without a code, reference §2 B7)."
        ),
    )
    client_accessible_limit: int = Field(
        64,
        ge=1,
        le=512,
        description=(
            "MaxShadowCopies: client-accessible shadow copies kept per volume before the oldest "
            "is purged (registry default 64, range 1..512)."
        ),
    )
    max_snapshots_per_volume: int = Field(
        512,
        ge=1,
        description="Shadow copies per volume for the system provider (any context).",
    )
    writer_status_after_session: Literal["sticky", "reset"] = Field(
        "sticky",
        description=(
            "Writer status outside a session (§12.5, rule 20): 'sticky' shows the last state "
            "and failure of the writer's previous session until its next PrepareForBackup or "
            "PreRestore; 'reset' shows STABLE."
        ),
    )
    min_shadow_storage: int | None = Field(
        None,
        ge=0,
        description=(
            "Smallest maximum size (bytes) a shadow storage association accepts (AddDiffArea, "
            "vssadmin add/resize shadowstorage). None: the MinDiffAreaFileSize rule of current "
            "Windows, 32 MB for volumes under 500 MB and 320 MB for larger ones (the pages "
            "disagree: 1 MB, 300 MB and 320 MB all appear, providers reference §4.1)."
        ),
    )
    concurrent_import: Literal["refuse", "wait"] = Field(
        "refuse",
        description=(
            "An ImportSnapshots started while another import runs on the same machine. Imports "
            "are one at a time and the requester serializes them (providers reference rule 31); "
            "what VSS does with a second one is undocumented. 'refuse': it fails with "
            "VSS_E_SNAPSHOT_SET_IN_PROGRESS and nothing changes; 'wait': it stays "
            "VSS_S_ASYNC_PENDING until the first import ends, then runs."
        ),
    )
    exposed_delete: Literal["force", "always"] = Field(
        "force",
        description=(
            "Deleting an exposed shadow copy (what bForceDelete's 'extra effort' means is "
            "undocumented, §3.7). 'force': without force it is refused with VSS_E_VOLUME_IN_USE, "
            "with force the copy is unexposed, then deleted; 'always': it is unexposed and "
            "deleted either way. A second ExposeSnapshot of an exposed "
            "copy is refused with VSS_E_OBJECT_ALREADY_EXISTS (one exposure per copy, since "
            "UnexposeSnapshot takes only the id)."
        ),
    )
    duplicate_instance: Literal["refuse", "allow"] = Field(
        "refuse",
        description=(
            "Subscribing a second instance of a writer class with the same instance name (or "
            "none). Instance names must be unique among the instances of a class, and "
            "(logical path, name) among their components (reference §1); what Subscribe does "
            "otherwise is undocumented. 'refuse': add_writer raises "
            "VSS_E_OBJECT_ALREADY_EXISTS; 'allow': it is subscribed, and AddComponent of a "
            "component the twin already added fails with VSS_E_OBJECT_ALREADY_EXISTS."
        ),
    )
    copies_after_revert: CopiesAfterRevert = Field(
        "keep",
        description=(
            "What becomes of the volume's shadow copies when a RevertToSnapshot finishes "
            "(undocumented, providers reference §3.11: the pages say only that a revert cannot "
            "be cancelled or undone and continues after a reboot). 'keep': every copy stays, "
            "the one reverted to included, each still showing the volume as it was when it "
            "was made (the revert rewrites the volume through copy-on-write); 'delete_target': "
            "the copy reverted to is deleted, the others stay; 'delete_all': every shadow copy "
            "of the volume is deleted. Either deletion happens when the revert ends, also when "
            "it ends at boot after a restart; an exposed copy is unexposed."
        ),
    )
    costs: Costs = Field(
        default_factory=Costs,
        description=(
            "Simulated durations (not a fidelity choice: Windows publishes none): writer handler, "
            "provider call, commit per volume, application step, copy rate. They make the "
            "timeline, the freeze windows and the hold time readable."
        ),
    )
    honor_if_replace_fails: bool = Field(
        False,
        description=(
            "VSS_WRE_IF_REPLACE_FAILS (§12.8): False treats it as informational (PostRestore is "
            "sent as for ALWAYS); True sends PostRestore only if a restore-if-not-there / "
            "restore-if-can-replace restore of the writer failed."
        ),
    )


def fidelity_markdown() -> str:
    """The fidelity page: every option with its default and description (docs/fidelity.md)."""
    lines = [
        "# Fidelity notes: choices vsssim makes where VSS is undocumented",
        "",
        "Generated from `vsssim.options.VssOptions`; pass `VssSystem(options=VssOptions(...))` "
        "to change any of them. Regenerate with `vsssim fidelity > docs/fidelity.md`.",
        "",
        "| option | default | what it decides |",
        "| --- | --- | --- |",
    ]
    defaults = VssOptions()
    for name, field in VssOptions.model_fields.items():
        default = getattr(defaults, name)
        if isinstance(default, int) and not isinstance(default, bool) and default > 0xFFFF:
            shown = f"`{hr.name_of(default)}`"
        elif isinstance(default, BaseModel):
            shown = ", ".join(f"{k}={v!r}" for k, v in default.model_dump().items())
        else:
            shown = f"`{default!r}`"
        lines.append(f"| `{name}` | {shown} | {field.description} |")
    lines += ["", "## Behaviours that are not options", ""]
    lines += [f"- {note}" for note in FIXED_BEHAVIOURS]
    lines += ["", "## Not simulated", ""]
    lines += [f"- {note}" for note in NOT_SIMULATED]
    return "\n".join(lines) + "\n"


#: Where vsssim follows one reading of the reference without an option: part of the fidelity
#: page (:func:`fidelity_markdown`).
FIXED_BEHAVIOURS: tuple[str, ...] = (
    "**Events reach writers one at a time** (see `delivery`): the next writer gets an event "
    "when the previous handler has returned, so a slow handler delays the others on the "
    "system clock, where Windows is understood to send events in parallel. Not an option: "
    "running handlers side by side on the virtual clock would need threads (or handlers "
    "written as coroutines) inside the coordinator, which the deterministic core avoids, and "
    "writers' handlers are plain methods as in the Windows API.",
    "**PostSnapshot runs inside the auto-recovery window.** After Thaw, DoSnapshotSet calls "
    "PreFinalCommitSnapshots, sends PostSnapshot, then calls PostFinalCommitSnapshots; a "
    "hardware provider's `OnLunStateChange` pre- and post-recovery notices come inside those "
    "two calls, and `GetTargetLuns` comes after PostFinalCommitSnapshots, in the step order of "
    "the creation-process page. The exact interleaving is undocumented (reference §12 item 10, "
    "providers reference §2.2). Not an option: the provider pages define the window by its "
    "purpose (PreFinalCommit lets writers auto-recover, PostFinalCommit comes once their "
    "auto-recovery is over) and writers auto-recover in OnPostSnapshot, so any other order "
    "would hand them a read-only copy to repair; where `GetTargetLuns` falls is seen only by "
    "a hardware provider.",
    "**Providers are called one after another, in the order they joined the set.** Each "
    "creation phase (EndPrepareSnapshots, PreCommit, Commit, PostCommit, PreFinalCommit, "
    "PostFinalCommit; AbortSnapshots) goes to every provider of the set, in the order of "
    "their first volume's AddToSnapshotSet, before the next phase starts: the default the "
    "providers reference suggests where the docs are silent (§1.3). Not an option: as with "
    "writer events, the deterministic core runs no two calls side by side, and a provider "
    "does not see another provider's calls, so another order would only reorder the trace.",
    "**SetContext refuses bad modifier bits with E_INVALIDARG**: DIFFERENTIAL with PLEX, a "
    "modifier on VSS_CTX_CLIENT_ACCESSIBLE, or a bit outside the documented contexts and "
    "modifiers (the exact code is undocumented, providers reference §3.1). Not an option: "
    "E_INVALIDARG is the code SetContext's page gives for a parameter that is not valid, and a "
    "requester cannot recover from a refused context by reading the code.",
    "**AddComponent refuses a non-selectable subcomponent** with E_INVALIDARG, as it refuses a "
    "selectable subcomponent whose selectable ancestor is added; the document is unchanged "
    "(the docs say adding one gives \"undefined results\", reference §2 B7, rule 8). Not an "
    "option: nothing a requester could rely on is defined, and refusing shows the mistake at "
    "the call that makes it.",
    "**Shadow copy device numbers are never reused.** The N of "
    "`\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopyN` counts up for the machine's "
    "whole life and a persistent copy keeps its device name across a reboot (whether Windows "
    "restarts the count at boot is undocumented, providers reference §5.2). Not an option: "
    "renumbering would rename, at boot, the copies in each provider's catalog and every "
    "exposure that points at them, for a rule nobody has observed; a requester should read "
    "the name from GetSnapshotProperties after a restart rather than keep it.",
    "**WMD and BCD XML are vsssim's own format.** `save_as_xml` writes elements and "
    "attributes shaped like the fragments the docs show, with a format version, and "
    "`load_from_xml` accepts only such documents (the schemas are private to Windows, "
    "reference §7 and §12 item 9). A document saved on Windows does not load, and a requester "
    "must keep the XML as an opaque string, as it must on Windows. Not an option: there is no "
    "published second format to offer.",
    "**Writers have no limit on session slots.** `GetWriterStatus` never reports "
    "VSS_E_WRITER_STATUS_NOT_AVAILABLE, however many requester objects a program leaves "
    "unreleased, and GatherWriterStatus after BackupComplete is not needed to free a slot "
    "(reference §10: the slots are limited but their count is not published; §2 B18). Not an "
    "option: the docs give neither the count nor what a writer without a slot does with the "
    "session's events, so a limit would be invented twice; a requester's retry path for that "
    "code is not exercised by vsssim.",
)


#: What the reference describes and vsssim does not model: part of the fidelity page.  Calling
#: one of these APIs is an ``AttributeError`` (the method does not exist), never a silent no-op.
NOT_SIMULATED: tuple[str, ...] = (
    "**Restoring a component to another writer instance**: "
    "`IVssBackupComponentsEx::SetSelectedForRestoreEx` and "
    "`VSS_BS_WRITER_SUPPORTS_RESTORE_WITH_MOVE` (reference R4). A restore goes to the "
    "instance that made the backup.",
    "**Fast recovery and recovery sets**: `IVssBackupComponentsEx2::PreFastRecovery` and "
    "`FastRecovery`, `IVssBackupComponentsEx3::AddSnapshotToRecoverySet` and `RecoverSet` "
    "(LUN resynchronization of hardware copies); `RevertToSnapshot` covers reverting a volume "
    "to a copy of the system provider.",
    "**`IVssBackupComponentsEx4::GetRootAndLogicalPrefixPaths`**, and the remote and cluster "
    "variants of the calls (UNC paths, cluster shared volumes): a machine has local volumes "
    "only.",
    "**A requester's own records of earlier backups** (reference §8.6: a differenced file "
    "spec with a zero time, or one given by LSN with `AddDifferencedFilesByLastModifyLSN`, "
    "leaves it to the requester to know what changed). `VssSystem.backup` keeps no catalogue, "
    "so it copies every file such a spec covers; with a non-zero time it copies only the files "
    "modified at or after it. (Partial files, their ranges files and directed targets' ranges "
    "are simulated end to end: see `VssSystem.backup(partial_file_support=True)`.)",
    "**Automated System Recovery** (the ASR writer and its BCD fragments, reference §7), "
    "**file-share shadow copies** (`\\\\server\\share` volumes; `diskshadow add volume` says so) "
    "and the **VSS_E_WRITER_STATUS_NOT_AVAILABLE** session-slot limit (see above).",
    "**`IVssSnapshotMgmt`'s `AbortAllSnapshotsInProgress`**, and the system provider's on-disk "
    "diff-area format (its overlay blocks, reference providers §4.2): vsssim's store keeps "
    "its own journal and index.",
    "**A diff area that cannot grow in time** (event 25: Windows drops every copy of the "
    "volume); a full diff area purges the oldest copies, as documented.",
)
