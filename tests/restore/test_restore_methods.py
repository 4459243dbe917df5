"""Every restore method end to end with the sample applications (reference §8.7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.restore.conftest import Lab
from vsssim import hresult as hr
from vsssim.apps import KvStore
from vsssim.constants import FileRestoreStatus, RestoreMethod
from vsssim.trace import EventKind

M = RestoreMethod
ALL = FileRestoreStatus.ALL
NONE = FileRestoreStatus.NONE


def backup(lab: Lab) -> Any:
    target = lab.tmp / f"backup{len(list(lab.tmp.iterdir()))}"
    result = lab.system.backup(["C:\\"], target_dir=target)
    assert result.succeeded, result.summary()
    lab.system.run_applications(10)  # the applications go on changing things
    return result


def test_restore_gives_the_state_of_the_freeze_instant(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    result = backup(lab)
    frozen = lab.kv_writer.state_at_freeze
    shared = lab.share_writer.files_at_freeze
    lab.quiet()
    restored = lab.system.restore(result)
    assert restored.succeeded, restored.summary()
    store = lab.store_now()
    assert not store.recovery.needed
    assert store.state == frozen
    assert lab.share.files().items() >= (shared or {}).items()
    # The restarted application works from the restored files.
    assert lab.kv.store.state == frozen


def test_restore_if_can_replace_fails_while_files_are_held(
        make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    result = backup(lab)

    def keep_running(components: Any) -> bool:
        return True  # a writer that does not close its files in PreRestore

    lab.kv_writer.on_pre_restore = keep_running  # type: ignore[method-assign]
    lab.kv_writer.on_post_restore = keep_running  # type: ignore[method-assign]
    restored = lab.system.restore(result, components=["KvStore Writer"])
    outcome = restored.component("KvStore")
    assert outcome.status == NONE
    assert "in use" in outcome.message
    assert not restored.succeeded


def test_restore_if_can_replace_uses_the_alternate_location(
        make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(kv_alternate="D:\\KvRestore")
    result = backup(lab)
    lab.kv_writer.on_pre_restore = lambda components: True  # type: ignore[method-assign]
    seen: list[Any] = []

    def post(components: Any) -> bool:
        seen.extend(m for c in components for m in c.get_alternate_location_mappings())
        return True

    lab.kv_writer.on_post_restore = post  # type: ignore[method-assign]
    restored = lab.system.restore(result, components=["KvStore Writer"])
    outcome = restored.component("KvStore")
    assert (outcome.status, outcome.destination) == (ALL, "alternate location")
    d = lab.system.volume("D:\\").fs
    assert d.exists("D:\\KvRestore\\data.kv")
    # The requester told VSS the mapping was used; the writer reads it in PostRestore.
    assert [m.destination for m in seen] == ["D:\\KvRestore", "D:\\KvRestore\\log"]


def test_restore_if_not_there(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(share_method=M.RESTORE_IF_NOT_THERE)
    result = backup(lab)
    lab.quiet()
    restored = lab.system.restore(result, components=["File Share Writer"])
    assert restored.component("Share").status == NONE  # the files are still there
    for path in lab.fs.glob("C:\\Share", "*", recursive=True):
        lab.fs.remove(path)
    restored = lab.system.restore(result, components=["File Share Writer"])
    assert restored.component("Share").status == ALL
    assert set(lab.share.files()) >= set(lab.share_writer.files_at_freeze or {})


def test_restore_if_not_there_goes_to_the_mapping_when_files_exist(
        make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(share_method=M.RESTORE_IF_NOT_THERE, share_alternate="D:\\ShareCopy")
    result = backup(lab)
    restored = lab.system.restore(result, components=["File Share Writer"])
    outcome = restored.component("Share")
    assert (outcome.status, outcome.destination) == (ALL, "alternate location")
    assert lab.system.volume("D:\\").fs.glob("D:\\ShareCopy", "*.txt", recursive=True)
    again = lab.system.restore(result, components=["File Share Writer"])
    assert again.component("Share").status == NONE  # now a version exists there too


def test_stop_restore_start_stops_and_starts_the_service(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(M.STOP_RESTORE_START)
    result = backup(lab)
    frozen = lab.kv_writer.state_at_freeze
    at_post: list[Any] = []
    lab.system.tracer.subscribe(
        lambda e: at_post.append(lab.store_now().state)
        if e.name == "PostRestore" and e.kind == EventKind.CALL else None)
    restored = lab.system.restore(result, components=["KvStore Writer"])
    assert restored.component("KvStore").status == ALL
    names = [e.name for e in restored.trace
             if e.name in ("PreRestore", "ServiceStop", "RestoreFile", "ServiceStart",
                           "PostRestore") and e.kind in (EventKind.CALL, EventKind.APP,
                                                          EventKind.COPY)]
    assert names == ["PreRestore", "ServiceStop", "RestoreFile", "RestoreFile",
                     "ServiceStart", "PostRestore"]
    assert at_post == [frozen]  # the service came back on the restored files
    assert lab.kv.running


def test_restore_stop_start_restarts_after_post_restore(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(M.RESTORE_STOP_START)
    result = backup(lab)
    restored = lab.system.restore(result, components=["KvStore Writer"])
    assert restored.component("KvStore").status == ALL
    names = [e.name for e in restored.trace if e.name in ("PostRestore", "ServiceStop",
                                                          "ServiceStart")
             and e.kind in (EventKind.CALL, EventKind.APP)]
    assert names == ["PostRestore", "ServiceStop", "ServiceStart"]


def test_restore_to_alternate_location(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(M.RESTORE_TO_ALTERNATE_LOCATION, kv_alternate="D:\\Kv")
    result = backup(lab)
    restored = lab.system.restore(result, components=["KvStore Writer"])
    outcome = restored.component("KvStore")
    assert (outcome.status, outcome.destination) == (ALL, "alternate location")
    restored_store = lab.system.volume("D:\\").fs.read_file("D:\\Kv\\data.kv")
    assert restored_store


def test_restore_to_alternate_location_without_mapping_is_a_writer_error(
        make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(M.RESTORE_TO_ALTERNATE_LOCATION)
    result = backup(lab)
    restored = lab.system.restore(result, components=["KvStore Writer"])
    outcome = restored.component("KvStore")
    assert outcome.status == NONE
    assert "no alternate location mapping" in outcome.message


def test_restore_at_reboot_is_pending_until_the_reboot(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(M.RESTORE_AT_REBOOT)
    result = backup(lab)
    frozen = lab.kv_writer.state_at_freeze
    restored = lab.system.restore(result, components=["KvStore Writer"])
    assert restored.component("KvStore").status == ALL
    assert len(restored.pending_reboot) == 2
    lab.quiet()
    assert lab.store_now().state != frozen  # not yet: the files wait for the reboot
    lab.system.reboot()
    assert lab.store_now().state == frozen
    assert lab.system.pending_renames == []
    assert lab.system.trace.first("PendingRename") is not None


def test_restore_at_reboot_with_a_persistent_shadow_copy(make_lab: Callable[..., Lab]) -> None:
    # Found by the writer conformance run: the boot moved the staged files into place before
    # the shadow storage was open again, and the rename was refused (VSS_E_BAD_STATE).
    from vsssim.constants import SnapshotContext

    lab = make_lab(M.RESTORE_AT_REBOOT)
    result = lab.system.backup(["C:\\"], target_dir=lab.tmp / "persistent",
                               context=SnapshotContext.APP_ROLLBACK)
    assert result.succeeded, result.summary()
    frozen = lab.kv_writer.state_at_freeze
    restored = lab.system.restore(result, components=["KvStore Writer"])
    assert len(restored.pending_reboot) == 2
    lab.quiet()
    lab.system.reboot()
    assert lab.store_now().state == frozen
    assert len(lab.system.all_snapshots()) == 1  # the persistent copy survived the boot


def test_restore_at_reboot_if_cannot_replace(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(M.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE)
    result = backup(lab)
    restored = lab.system.restore(result, components=["KvStore Writer"])  # replaceable: now
    assert restored.pending_reboot == []
    lab.kv_writer.on_pre_restore = lambda components: True  # type: ignore[method-assign]
    lab.kv_writer.on_post_restore = lambda components: True  # type: ignore[method-assign]
    held = lab.system.restore(result, components=["KvStore Writer"])  # files held: at reboot
    assert len(held.pending_reboot) == 2
    assert held.component("KvStore").destination == "at reboot"


def test_custom_restore_method_needs_the_writers_procedure(
        make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(M.CUSTOM)
    result = backup(lab)
    restored = lab.system.restore(result, components=["KvStore Writer"])
    assert restored.component("KvStore").status == NONE
    calls: list[int] = []

    def procedure(component: Any, files: list[Any], system: Any) -> bool:
        calls.append(len(files))
        return True

    restored = lab.system.restore(result, components=["KvStore Writer"], custom=procedure)
    assert restored.component("KvStore").status == ALL
    assert calls == [2]


def test_a_restarted_writer_misses_post_restore(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    result = backup(lab)
    events: list[str] = []
    original = lab.kv_writer.on_pre_restore

    def pre(components: Any) -> bool:
        events.append("PreRestore")
        lab.system.restart_writer(lab.kv_writer)  # the writer's process restarts meanwhile
        return original(components)

    lab.kv_writer.on_pre_restore = pre  # type: ignore[method-assign]
    old_instance = lab.kv_writer.instance_id
    restored = lab.system.restore(result, components=["KvStore Writer"])
    assert lab.kv_writer.instance_id != old_instance
    assert lab.system.trace.first("WriterLost") is not None
    status = {s.instance_id: s for s in restored.writer_status}
    assert status[old_instance].failure == hr.VSS_E_WRITER_NOT_RESPONDING
    post = [e for e in restored.trace if e.kind == EventKind.EVENT and e.name == "PostRestore"
            and e.target == "KvStore Writer"]
    assert post == []


def test_restores_cannot_be_aborted(make_lab: Callable[..., Lab]) -> None:
    import pytest

    from vsssim.errors import VssBadStateError

    lab = make_lab()
    result = backup(lab)
    bc = lab.system.create_backup_components()
    bc.initialize_for_restore((result.target_dir / "backup_components.xml").read_text())
    with pytest.raises(VssBadStateError):
        bc.abort_backup()
    bc.release()


def test_kvstore_opens_without_recovery_after_restore(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(seed=7)
    result = backup(lab)
    lab.quiet()
    lab.system.restore(result)
    assert KvStore.open(lab.fs, "C:\\KvStore").recovery.needed is False


def test_a_service_no_application_runs_is_not_stopped_and_the_restore_says_so(
        make_lab: Callable[..., Lab]) -> None:
    for method, when in ((M.STOP_RESTORE_START, "before the copy or started after it"),
                         (M.RESTORE_STOP_START, "or started after PostRestore")):
        lab = make_lab(method)
        result = backup(lab)
        lab.quiet()  # no application on the machine: none runs the writer's service
        restored = lab.system.restore(result, components=["KvStore Writer"])
        outcome = restored.component("KvStore")
        message = (f"{method.name} names service 'KvStoreService', but no application on this "
                   f"machine runs that service: it was not stopped {when}")
        assert (outcome.status, outcome.message) == (ALL, message)
        assert f"KvStore Writer / KvStore: ALL ({method.name}, original location, 2 files) - " \
               f"{message}" in restored.summary()
        notes = [(e.kind, e.target, e.detail) for e in restored.trace
                 if e.name == "ServiceNotFound"]
        assert notes == [(EventKind.NOTE, "KvStoreService", message)]
        assert not [e for e in restored.trace if e.name in ("ServiceStop", "ServiceStart")]


def test_a_service_of_another_name_is_not_stopped_and_its_files_stay_in_use(
        make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(M.STOP_RESTORE_START)
    result = backup(lab)
    lab.kv.service = "KvStore"  # not the service the writer names (a typo, say): not stopped
    restored = lab.system.restore(result, components=["KvStore Writer"])
    outcome = restored.component("KvStore")
    assert outcome.status == NONE
    assert outcome.message.startswith(
        "STOP_RESTORE_START names service 'KvStoreService', but no application on this "
        "machine runs that service: it was not stopped before the copy or started after it; ")
    assert outcome.message.endswith("is in use by a running application")
    assert lab.kv.running
