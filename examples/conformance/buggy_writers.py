"""Deliberately buggy writers: each one gets one thing wrong that real writers get wrong.

They all wrap the sample key-value store (``vsssim.apps.KvStoreApp``) and start from its correct
writer, ``KvStoreWriter``, changing one handler.  The writer conformance run catches each of
them, names the rule it breaks and prints the minimal sequence that shows it
(``tests/testing/test_buggy_writers.py``)::

    from vsssim.apps import KvStoreApp
    from vsssim.testing import check_writer
    check_writer(ForgetsResumeOnAbort, application_factory=KvStoreApp)

==================================  ================================================
writer                              rule it breaks
==================================  ================================================
``ForgetsResumeOnAbort``            resume-after-thaw-and-abort
``ReturnsNone``                     handler-returns-bool
``BlocksPastFreezeWindow``          freeze-window
``DuplicateComponents``             metadata-valid-and-stable
``VetoesWithoutFailure``            veto-after-set-writer-failure
``TouchesSnapshotAfterPostSnapshot``  snapshot-changed-only-in-post-snapshot
==================================  ================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vsssim.apps import KvStoreWriter
from vsssim.constants import ComponentType

if TYPE_CHECKING:
    from vsssim.components import WriterComponents
    from vsssim.documents import WriterMetadataBuilder

__all__ = [
    "BUGGY_WRITERS",
    "BlocksPastFreezeWindow",
    "DuplicateComponents",
    "ForgetsResumeOnAbort",
    "ReturnsNone",
    "TouchesSnapshotAfterPostSnapshot",
    "VetoesWithoutFailure",
]


class ForgetsResumeOnAbort(KvStoreWriter):
    """Resumes its application in OnThaw only.  When the snapshot fails after OnFreeze (a
    provider error, the hold or freeze window running out, the requester dying) VSS sends Abort
    instead of Thaw, and the store stays frozen for good."""

    def on_abort(self) -> bool:
        return True  # BUG: the application suspended in OnFreeze is never resumed


class ReturnsNone(KvStoreWriter):
    """Forgets the ``return`` at the end of OnThaw (fine in C++ reviews, fatal here: a handler
    that returns nothing is a failed handler, and Thaw failing aborts the snapshot)."""

    def on_thaw(self) -> Any:
        self.app.resume()  # BUG: no "return True"


class BlocksPastFreezeWindow(KvStoreWriter):
    """Does its heavy work (a full verification of the store, 75 s) inside OnFreeze instead of
    OnPrepareSnapshot, so Freeze..Thaw overruns the 60 s freeze window."""

    def on_freeze(self) -> bool:
        ok = super().on_freeze()
        self.clock.sleep(75.0)  # BUG: belongs in on_prepare_snapshot
        return ok


class DuplicateComponents(KvStoreWriter):
    """Describes its log as a second component with the same logical path and name (a
    copy-and-paste slip), which IVssCreateWriterMetadata::AddComponent refuses with
    VSS_E_OBJECT_ALREADY_EXISTS: OnIdentify fails and the writer vanishes from every backup."""

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        super().on_identify(metadata)
        metadata.add_component(ComponentType.DATABASE, "", self.component_name,  # BUG
                               caption="log", selectable=True)
        return True


class VetoesWithoutFailure(KvStoreWriter):
    """Refuses a snapshot while the store has records that are not checkpointed yet, but
    returns False without set_writer_failure: the requester sees an unspecified failure and
    cannot tell that a retry (VSS_E_WRITERERROR_RETRYABLE) would work."""

    def on_prepare_snapshot(self) -> bool:
        store = self.app.store
        # BUG: a veto without self.set_writer_failure(VSS_E_WRITERERROR_RETRYABLE) first
        return not store.lsn > store.checkpoint_lsn + 4


class TouchesSnapshotAfterPostSnapshot(KvStoreWriter):
    """Keeps the shadow copy's file system from OnPostSnapshot (where a writer may look at it)
    and writes a marker into it in OnBackupComplete, when the copy is read-only."""

    def on_post_snapshot(self, components: WriterComponents) -> bool:
        self.shadow = self.shadow_copy_fs("C:\\")
        return super().on_post_snapshot(components)

    def on_backup_complete(self, components: WriterComponents) -> bool:
        ok = super().on_backup_complete(components)
        self.shadow.write_file("\\KvStore\\backup.done", b"done")  # BUG: outside PostSnapshot
        return ok


#: Each buggy writer and the id of the rule the conformance run reports for it.
BUGGY_WRITERS: dict[type[KvStoreWriter], str] = {
    ForgetsResumeOnAbort: "resume-after-thaw-and-abort",
    ReturnsNone: "handler-returns-bool",
    BlocksPastFreezeWindow: "freeze-window",
    DuplicateComponents: "metadata-valid-and-stable",
    VetoesWithoutFailure: "veto-after-set-writer-failure",
    TouchesSnapshotAfterPostSnapshot: "snapshot-changed-only-in-post-snapshot",
}
