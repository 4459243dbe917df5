"""One-line explanations of trace events, for ``vsssim demo --step``.

Each explanation says what the event means in VSS terms, as a teacher would say it while
pointing at the timeline.  Events are matched by name (and kind where a name has two
meanings: ``Freeze`` sent to a writer, ``Freeze`` answered by it), with a fallback per kind.
"""

from __future__ import annotations

from vsssim.trace import EventKind, TraceEvent

__all__ = ["explain", "is_specific"]

_K = EventKind

# (kind, name) -> explanation; {source}, {target}, {detail} are filled in.
_BY_NAME: dict[tuple[EventKind, str], str] = {
    (_K.CALL, "CreateVssBackupComponents"): "The backup program (the requester) gets an "
    "IVssBackupComponents object: one object for one backup.",
    (_K.CALL, "InitializeForBackup"): "The requester says this object is for a backup "
    "(InitializeForBackup must come first).",
    (_K.CALL, "SetContext"): "The requester picks the kind of shadow copy: {detail} "
    "(persistent or not, with or without writers).",
    (_K.CALL, "GatherWriterMetadata"): "The requester asks VSS to collect every writer's "
    "metadata: which components and files each application wants backed up.",
    (_K.EVENT, "Identify"): "VSS asks {target} to describe itself: its components, files, "
    "and how it wants to be restored.",
    (_K.REPLY, "Identify"): "{source} answered with its Writer Metadata Document.",
    (_K.CALL, "SetBackupState"): "The requester declares the backup type ({detail}) and that "
    "it selects components.",
    (_K.CALL, "AddComponent"): "The requester selects component {detail} for this backup.",
    (_K.CALL, "StartSnapshotSet"): "A new shadow copy set starts: all its volumes will be "
    "copied at the same instant.",
    (_K.RESULT, "StartSnapshotSet"): "VSS returned the id of the new shadow copy set.",
    (_K.CALL, "AddToSnapshotSet"): "The requester adds volume {detail} to the set.",
    (_K.RESULT, "AddToSnapshotSet"): "VSS chose the provider for the volume: {detail} "
    "(hardware first, then software, then the system provider).",
    (_K.CALL, "PrepareForBackup"): "The requester asks the writers to get ready.",
    (_K.EVENT, "PrepareForBackup"): "{target} learns which of its components are selected.",
    (_K.CALL, "GatherWriterStatus"): "The requester checks every writer's state and last "
    "error.",
    (_K.CALL, "DoSnapshotSet"): "The requester asks VSS to create the shadow copies now. "
    "Everything until the result happens inside this one call.",
    (_K.EVENT, "PrepareForSnapshot"): "{target} prepares for the freeze (for example it "
    "flushes caches).",
    (_K.PROVIDER, "BeginPrepareSnapshot"): "VSS asks {target} to prepare a shadow copy of "
    "{detail}.",
    (_K.PROVIDER, "EndPrepareSnapshots"): "{target} finishes preparing; from now on the "
    "timing matters.",
    (_K.EVENT, "Freeze"): "VSS freezes {target}: its application must stop writing and leave "
    "its files consistent. The freeze window starts (60 s at most).",
    (_K.REPLY, "Freeze"): "{source} is frozen; its application waits for Thaw.",
    (_K.PROVIDER, "PreCommitSnapshots"): "{target} gets ready to commit; the writers are "
    "frozen.",
    (_K.HOLD, "FlushAndHoldWrites"): "The kernel flushes and holds every write to {detail}: "
    "nothing may change while the copy is made (10 s at most).",
    (_K.PROVIDER, "CommitSnapshots"): "{target} makes the point-in-time copy, inside the "
    "hold. For the system provider this takes almost no time: copy-on-write starts now.",
    (_K.RELEASE, "ReleaseWrites"): "The kernel lets the held writes through ({detail}).",
    (_K.PROVIDER, "PostCommitSnapshots"): "{target} learns the commit is over.",
    (_K.EVENT, "Thaw"): "VSS thaws {target}: its application may write again. The freeze "
    "window ends.",
    (_K.REPLY, "Thaw"): "{source} thawed; its application writes again.",
    (_K.PROVIDER, "PreFinalCommitSnapshots"): "The copies are briefly writable so writers "
    "can fix them up (auto-recovery).",
    (_K.EVENT, "PostSnapshot"): "{target} may adjust its files on the shadow copy and "
    "record what it needs for the next backup.",
    (_K.PROVIDER, "PostFinalCommitSnapshots"): "The shadow copies become read-only for good.",
    (_K.CALL, "BackupComplete"): "The requester copied the files: it tells VSS the backup "
    "is complete.",
    (_K.EVENT, "BackupComplete"): "{target} hears that its components were backed up (a "
    "database may truncate its logs now).",
    (_K.CALL, "Release"): "The requester releases its object.",
    (_K.EVENT, "BackupShutdown"): "{target} hears the backup program is gone.",
    (_K.EVENT, "Abort"): "VSS aborts: {target} must undo what the freeze did and resume.",
    (_K.CALL, "AbortBackup"): "The requester gives up this backup.",
    (_K.CALL, "SetBackupSucceeded"): "The requester records that component {detail} was "
    "backed up.",
    (_K.CALL, "SaveAsXML"): "The requester saves the Backup Components Document with the "
    "backup: it is needed to restore.",
    (_K.CALL, "InitializeForRestore"): "A restore starts from the saved Backup Components "
    "Document.",
    (_K.CALL, "SetSelectedForRestore"): "The requester selects component {detail} for "
    "restore.",
    (_K.CALL, "PreRestore"): "The requester tells the writers a restore is about to start.",
    (_K.EVENT, "PreRestore"): "{target} prepares for its files to be replaced (it may close "
    "them).",
    (_K.CALL, "PostRestore"): "The files are back: the requester tells the writers.",
    (_K.EVENT, "PostRestore"): "{target} checks the restored files and starts using them.",
    (_K.CALL, "SetFileRestoreStatus"): "The requester reports how the files of a component "
    "were restored: {detail}.",
    (_K.CALL, "ImportSnapshots"): "Another machine imports the transportable shadow copies "
    "described by the Backup Components Document.",
    (_K.CALL, "BreakSnapshotSet"): "VSS forgets the shadow copies: their LUNs become ordinary "
    "volumes.",
    (_K.SNAPSHOT, "CreateSnapshot"): "{source} created the shadow copy of {target}: {detail}.",
    (_K.SNAPSHOT, "DeleteSnapshot"): "{source} deleted a shadow copy of {target}.",
    (_K.SNAPSHOT, "AutoReleaseDeleted"): "The shadow copy dies with the requester object "
    "(it was not persistent).",
    (_K.SNAPSHOT, "SnapshotSetCreated"): "VSS tells the requester the set is created: "
    "{detail}.",
    (_K.TIMEOUT, "FreezeWindowExpired"): "{target} stayed frozen too long: VSS gives up on "
    "it and aborts (VSS_E_WRITERERROR_TIMEOUT).",
    (_K.TIMEOUT, "HoldWritesTimeout"): "The kernel cannot hold writes longer than 10 s: the "
    "commit took too long and the shadow copy set fails (VSS_E_HOLD_WRITES_TIMEOUT).",
    (_K.PURGE, "ShadowCopyPurged"): "The shadow storage is full: the system provider "
    "silently deletes the oldest shadow copy ({detail}).",
    (_K.PROVIDER, "AbortSnapshots"): "VSS tells {target} to throw the set away: no partial "
    "commit, every provider of the set aborts.",
    (_K.NOTE, "CreationFailed"): "The shadow copy set cannot be created: {detail}.",
    (_K.NOTE, "Abort"): "VSS decides to abort: {detail}.",
    (_K.RESULT, "DoSnapshotSet"): "DoSnapshotSet finished: {detail} (VSS_S_ASYNC_FINISHED "
    "means the shadow copies exist).",
    (_K.APP, "WriteWaits"): "{source} tries to write, but the kernel holds writes: the write "
    "waits for the release ({detail}).",
    (_K.APP, "WriteResumes"): "The held writes of {source} go through now ({detail}).",
    (_K.APP, "ServiceStop"): "{detail}: the service stops so its files can be replaced.",
    (_K.APP, "ServiceStart"): "{detail}: the service starts again on the restored files.",
    (_K.COPY, "RestoreFile"): "The requester writes a file back from the backup: {detail}.",
    (_K.COPY, "StageForReboot"): "The file is in use: it is staged and will replace the "
    "original at the next reboot ({detail}).",
    (_K.NOTE, "PendingRename"): "At boot, before any application starts, a staged file "
    "takes its place: {detail}.",
    (_K.NOTE, "Reboot"): "The machine restarts: every process ends, non-persistent shadow "
    "copies are gone.",
    (_K.NOTE, "Boot"): "The machine boots: {detail}.",
    (_K.CALL, "DisableWriterClasses"): "The requester excludes a writer class: that "
    "application will not be frozen, its data is only crash-consistent.",
    (_K.CALL, "AddAlternativeLocationMapping"): "The requester records that a file set went "
    "to its alternate location: {detail}.",
    (_K.SNAPSHOT, "CloneLun"): "The storage array clones the LUN behind the volume (a split "
    "mirror): {detail}.",
    (_K.SNAPSHOT, "ArrayCopy"): "The array's copy takes time inside the hold: {detail}.",
    (_K.SNAPSHOT, "GetTargetLuns"): "The hardware provider names the LUNs of the copy, for "
    "the Backup Components Document: {detail}.",
    (_K.PROVIDER, "GetTargetLuns"): "VSS asks {target} which LUNs hold the copy.",
    (_K.SNAPSHOT, "ImportSnapshot"): "The importing machine finds the copy's LUN on the "
    "array: {detail}.",
    (_K.SNAPSHOT, "FillInLunInfo"): "The provider checks that the LUN really is the one the "
    "document describes: {detail}.",
    (_K.SNAPSHOT, "BreakSnapshotSet"): "VSS forgets the copy: {detail}.",
    (_K.SNAPSHOT, "OnLunEmpty"): "No copy uses the LUN any more: the provider may reclaim it "
    "({detail}).",
    (_K.SNAPSHOT, "OnLunStateChange"): "VSS tells the provider the LUN changed state "
    "({detail}).",
    (_K.NOTE, "Subscribe"): "{source} starts and subscribes to VSS events ({detail}).",
    (_K.NOTE, "Unsubscribe"): "{source} stops: it gets no more VSS events.",
    (_K.NOTE, "MountVolume"): "The LUN is mounted as an ordinary volume of this machine "
    "({detail}).",
    (_K.CALL, "GetWriterComponents"): "The requester reads the components back: writers may "
    "have changed them (restore targets, directed targets).",
    (_K.NOTE, "AutoImport"): "A non-transportable hardware copy is imported at once on the "
    "machine that made it: {detail}.",
    (_K.PURGE, "PurgeSnapshot"): "The diff area drops the oldest shadow copy to make room: "
    "{detail}.",
    (_K.COPY, "CopyFile"): "The requester copies a file from the shadow copy (never from the "
    "live volume): {detail}.",
    (_K.NOTE, "DependencyNotSelected"): "A selected component depends on one that is not "
    "in the backup; VSS does not enforce dependencies, the requester must: {detail}.",
    (_K.NOTE, "ServiceNotFound"): "The writer's restore method stops and starts a service, "
    "but there is none to stop here: {detail}.",
    (_K.NOTE, "RestoreTargetIgnored"): "No VSS runs at reboot, so a writer's restore target "
    "cannot send a RESTORE_AT_REBOOT restore elsewhere: {detail}.",
}

_BY_KIND: dict[EventKind, str] = {
    _K.CALL: "The requester calls {name} on VSS.",
    _K.RESULT: "{name} returned: {detail}.",
    _K.EVENT: "VSS sends {name} to {target}.",
    _K.REPLY: "{source} answered {name}: {detail}.",
    _K.STATE: "{source} is now in state {detail}.",
    _K.PROVIDER: "VSS calls {name} on {target}.",
    _K.HOLD: "Writes are held: {detail}.",
    _K.RELEASE: "Writes are released: {detail}.",
    _K.SNAPSHOT: "Shadow copy change: {name} {detail}.",
    _K.PURGE: "A shadow copy was purged: {detail}.",
    _K.FAULT: "An injected fault fires here: {detail}.",
    _K.TIMEOUT: "A time limit expired: {detail}.",
    _K.APP: "{source}: {detail}.",
    _K.COPY: "Files are copied: {detail}.",
    _K.NOTE: "{name}: {detail}.",
}


def is_specific(event: TraceEvent) -> bool:
    """Whether ``event`` has its own explanation (not only the one of its kind)."""
    return (event.kind, event.name) in _BY_NAME or (
        event.kind == EventKind.REPLY and event.detail not in ("", "ok"))


def explain(event: TraceEvent) -> str:
    """One sentence about ``event`` for a student."""
    if event.kind == EventKind.REPLY and event.detail not in ("", "ok"):
        template = ("{source} answered {name} with a failure ({detail}): a veto, the "
                    "requester will see it in the writer status.")
    else:
        template = _BY_NAME.get((event.kind, event.name)) or _BY_KIND.get(
            event.kind, "{name}: {detail}")
    text = template.format(source=event.source, target=event.target, name=event.name,
                           detail=event.detail or "-")
    return text.replace(" (-)", "").replace(": -.", ".")
