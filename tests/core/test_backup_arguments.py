"""Mistakes in the arguments of ``VssSystem`` itself, ``backup``, ``restore`` and
``add_writer``: each is refused with a clear error before it can back up (or restore) the wrong
thing, and leaves no shadow copy (or machine directory) behind."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vsssim import VssSystem, hresult
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.constants import BackupType
from vsssim.errors import (
    VssBadStateError,
    VssInvalidArgumentError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
)
from vsssim.medium import BackupMedium
from vsssim.providers import SystemProvider


@pytest.fixture
def system(tmp_path: Path) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "machine", seed=3) as s:
        vol = s.add_volume("C:\\", size=16 * 2**20)
        app = s.add_application(KvStoreApp(vol.fs))
        s.add_writer(KvStoreWriter(app))
        yield s


@pytest.mark.parametrize(("volumes", "says"), [
    ("C:\\", "to back up that volume pass backup(['C:\\\\']); the backup's directory is "
             "the separate target_dir= keyword"),
    (Path("backup-dir"), "to put the backup in that directory pass "
                         "backup(target_dir='backup-dir'); volumes=[...] chooses the volumes"),
])
def test_one_volume_or_a_directory_in_place_of_the_volume_list_is_refused(
        system: VssSystem, volumes: object, says: str) -> None:
    """``backup("C:\\\\")`` would iterate the name's characters and ``backup(path)`` the
    path: both are mistakes for ``backup(["C:\\\\"])`` and ``backup(target_dir=path)``, and
    the message says which, in full."""
    mark = system.trace[-1].seq
    with pytest.raises(TypeError) as info:
        system.backup(volumes)  # type: ignore[arg-type]
    assert str(info.value) == (f"volumes must be a list of volume names, not a "
                               f"{type(volumes).__name__} ({volumes!r}): {says}")
    assert system.trace[-1].seq == mark


def test_a_writer_name_that_no_writer_has_is_refused_before_anything_runs(
        system: VssSystem) -> None:
    mark = system.trace[-1].seq
    with pytest.raises(VssObjectNotFoundError, match="'KvStore Writer'") as info:
        system.backup(components=["KvStore Writr"])
    assert "no subscribed writer is named 'KvStore Writr'" in str(info.value)
    assert system.trace[-1].seq == mark


def test_a_component_its_writer_does_not_declare_is_refused_and_nothing_is_left(
        system: VssSystem, tmp_path: Path) -> None:
    with pytest.raises(VssObjectNotFoundError, match="declares no component 'Kv'") as info:
        system.backup(components=["KvStore Writer:Kv"], target_dir=tmp_path / "b")
    assert "'KvStore'" in str(info.value)  # the components it does declare
    assert system.all_snapshots() == []
    assert not (tmp_path / "b").exists()
    assert system.backup(components=["kvstore writer:KVSTORE"]).succeeded  # case-insensitive


def test_a_second_nameless_instance_of_a_writer_class_is_refused(system: VssSystem) -> None:
    app = system.applications[0]
    assert isinstance(app, KvStoreApp)
    with pytest.raises(VssObjectAlreadyExistsError, match="unique instance_name"):
        system.add_writer(KvStoreWriter(app))
    assert len(system.writers) == 1
    assert system.backup().succeeded


def test_instances_of_one_class_with_distinct_names_are_accepted(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "machine", seed=3) as s:
        vol = s.add_volume("C:\\", size=16 * 2**20)
        app = s.add_application(KvStoreApp(vol.fs))
        first, second = KvStoreWriter(app), KvStoreWriter(app)
        first.instance_name, second.instance_name = "one", "two"
        s.add_writer(first)
        s.add_writer(second)
        twin = KvStoreWriter(app)
        twin.instance_name = "one"
        with pytest.raises(VssObjectAlreadyExistsError):
            s.add_writer(twin)
        assert [w.instance_name for w in s.writers] == ["one", "two"]


def test_duplicate_instances_allowed_by_option_clash_at_add_component(tmp_path: Path) -> None:
    from vsssim.options import VssOptions

    options = VssOptions(duplicate_instance="allow")
    with VssSystem(tmp_path / "machine", seed=3, options=options) as s:
        vol = s.add_volume("C:\\", size=16 * 2**20)
        app = s.add_application(KvStoreApp(vol.fs))
        s.add_writer(KvStoreWriter(app))
        s.add_writer(KvStoreWriter(app))
        result = s.backup()
        assert not result.succeeded
        assert result.hresult == hresult.VSS_E_OBJECT_ALREADY_EXISTS
        assert s.all_snapshots() == []


def test_restore_refuses_names_the_backup_does_not_hold(system: VssSystem,
                                                         tmp_path: Path) -> None:
    backup = system.backup(target_dir=tmp_path / "b")
    assert backup.succeeded
    held = ["KvStore Writer:KvStore"]
    assert backup.component_names == BackupMedium(tmp_path / "b").component_names() == held
    mark = system.trace[-1].seq
    for wrong in (["Nope"], ["KvStore Writer:Kv"], ["KvStore", "Nope"]):
        with pytest.raises(VssObjectNotFoundError, match="'KvStore Writer:KvStore'"):
            system.restore(backup, components=wrong)
    with pytest.raises(TypeError, match="list of names"):
        system.restore(backup, components="KvStore Writer")
    assert system.trace[-1].seq == mark  # refused before anything ran
    for right in (["kvstore writer"], ["KvStore"], ["KvStore Writer:KvStore"]):
        assert system.restore(backup, components=right).succeeded, right


def test_a_restore_plan_keeps_only_what_the_backup_holds() -> None:
    from vsssim.testing import RestorePlan

    held = ["KvStore Writer:KvStore"]
    plan = RestorePlan(components=("KvStore Writer:Gone", "kvstore"))
    assert plan.within(held).components == ("kvstore",)
    assert RestorePlan(components=("Other Writer",)).within(held).components == ()
    everything = RestorePlan()
    assert everything.within(held) is everything


def test_a_backup_directory_is_never_written_twice_or_over_a_file(system: VssSystem,
                                                                   tmp_path: Path) -> None:
    first = system.backup(target_dir=tmp_path / "b")
    assert first.succeeded
    manifest = (tmp_path / "b" / "manifest.json").read_bytes()
    (tmp_path / "file").write_text("not a directory")
    mark = system.trace[-1].seq
    with pytest.raises(VssObjectAlreadyExistsError, match="already holds a backup"):
        system.backup(target_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="not a directory"):
        system.backup(target_dir=tmp_path / "file")
    assert system.trace[-1].seq == mark
    assert (tmp_path / "b" / "manifest.json").read_bytes() == manifest
    (tmp_path / "empty").mkdir()
    assert system.backup(target_dir=tmp_path / "empty").succeeded  # an empty one is fine


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"seed": "1"}, TypeError, "seed must be an int"),
    ({"seed": True}, TypeError, "seed must be an int"),
    ({"options": "fast"}, TypeError, "options must be a VssOptions"),
    ({"clock": 0.0}, TypeError, "clock must be a Clock"),
    ({"faults": []}, TypeError, "faults must be a FaultPlan"),
    ({"machine_name": 5}, TypeError, "machine_name must be a str"),
    ({"machine_name": " "}, ValueError, "machine_name must not be empty"),
    ({"async_mode": "later"}, ValueError, "async_mode='later'"),
    ({"os_version": "95"}, VssInvalidArgumentError, "os_version='95'"),
])
def test_a_machine_with_bad_arguments_is_refused_before_its_directory_exists(
        tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        VssSystem(tmp_path / "machine", **kwargs)
    assert not (tmp_path / "machine").exists()


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"size": 1000}, VssInvalidArgumentError),                      # refused before the image
    ({"size": 16 << 20, "block_size": 3}, VssInvalidArgumentError),
    ({"size": 16384}, ValueError),                                 # made, then too small to format
])
def test_a_volume_that_cannot_be_made_leaves_nothing(tmp_path: Path, kwargs: dict[str, Any],
                                                     error: type[Exception]) -> None:
    with VssSystem(tmp_path / "machine") as system:
        before = sorted(p.name for p in (tmp_path / "machine").iterdir())
        with pytest.raises(error):
            system.add_volume("C:\\", **kwargs)
        assert sorted(p.name for p in (tmp_path / "machine").iterdir()) == before
        assert system.volume_names() == []
        system.add_volume("C:\\", size=16 << 20)  # the name and its image are still free
        with pytest.raises(ValueError, match="too small for simfs"):
            system.add_volume("D:\\", size=16384)
        assert sorted(p.name for p in (tmp_path / "machine" / "volumes").iterdir()) == [
            "C.img", "C.img.vsvol.json"]


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda s, tmp: s.backup(context="x", target_dir=tmp / "b"), TypeError,
     "context must be an int"),
    (lambda s, tmp: s.backup(copy_files="no", target_dir=tmp / "b"), TypeError,
     "copy_files must be a bool"),
    (lambda s, tmp: s.restore(None), TypeError, "a BackupResult or a backup directory"),
    (lambda s, tmp: s.restore(42), TypeError, "a BackupResult or a backup directory"),
    (lambda s, tmp: s.run_applications(-1), ValueError, "non-negative int"),
    (lambda s, tmp: s.run_applications(2.5), ValueError, "non-negative int"),
    # A class where its instance belongs: the message shows the call with the ().
    (lambda s, tmp: s.add_writer(KvStoreWriter), TypeError,
     r"add_writer\(\) takes an instance of Writer, not the class KvStoreWriter: "
     r"add_writer\(KvStoreWriter\(...\)\)"),
    (lambda s, tmp: s.add_application(KvStoreApp), TypeError,
     r"add_application\(KvStoreApp\(...\)\)"),
    (lambda s, tmp: s.add_provider(SystemProvider), TypeError,
     r"add_provider\(SystemProvider\(...\)\)"),
    (lambda s, tmp: s.add_writer("KvStoreWriter"), TypeError, "is not a vsssim Writer"),
])
def test_mistyped_arguments_are_refused_before_anything_runs(
        system: VssSystem, tmp_path: Path, call: Callable[[VssSystem, Path], object],
        error: type[Exception], message: str) -> None:
    events = len(system.trace)
    with pytest.raises(error, match=message):
        call(system, tmp_path)
    assert len(system.trace) == events  # nothing ran
    assert not (tmp_path / "b").exists()
    assert system.all_snapshots() == []


def test_a_shadow_copy_id_given_as_text_is_refused_with_the_way_out(system: VssSystem) -> None:
    # A GUID string never equals a uuid.UUID: it used to be reported as "not found".
    text = "{9a1f7b1e-0000-4000-8000-000000000001}"
    with pytest.raises(TypeError, match=r"uuid\.UUID\(text\)"):
        system.snapshot_properties(text)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"a shadow copy id is a uuid\.UUID"):
        system.delete_snapshot("9a1f7b1e-0000-4000-8000-000000000001")  # type: ignore[arg-type]


def test_a_rename_at_reboot_needs_two_paths(system: VssSystem) -> None:
    with pytest.raises(TypeError, match="staged and destination are paths"):
        system.schedule_rename_at_reboot(1, 2)  # type: ignore[arg-type]
    assert system.pending_renames == []


def test_requester_calls_check_their_arguments(system: VssSystem) -> None:
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    with pytest.raises(TypeError, match="context must be an int"):
        bc.set_context("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="select_components must be a bool"):
        bc.set_backup_state("yes", False, BackupType.FULL)  # type: ignore[arg-type]
    before = len(system.trace)
    with pytest.raises(VssInvalidArgumentError, match="not a VSS_BACKUP_TYPE") as info:
        bc.set_backup_state(True, False, 99)  # type: ignore[arg-type]
    assert info.value.hresult == hresult.E_INVALIDARG
    assert system.trace[before:].names() == ["SetBackupState", "SetBackupState"]  # refused
    bc.set_backup_state(True, False, BackupType.FULL)  # the refusal changed nothing
    bc.abort_backup()
    bc.release()


@pytest.mark.parametrize(("value", "suggested"), [
    ("full", "BackupType.FULL"), ("FULL", "BackupType.FULL"),
    ("incremental", "BackupType.INCREMENTAL"), (99, "BackupType.FULL"), (True, "BackupType.FULL"),
])
def test_a_backup_type_that_is_not_a_backup_type_says_what_to_pass(
        system: VssSystem, value: object, suggested: str) -> None:
    """``backup(backup_type=...)`` (Python's ValueError) and ``SetBackupState`` (the COM
    call's E_INVALIDARG) refuse alike, naming the argument and a BackupType to pass."""
    message = (f"backup_type={value!r} is not a VSS_BACKUP_TYPE value: pass a BackupType, "
               f"e.g. {suggested}")
    mark = system.trace[-1].seq
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        system.backup(backup_type=value)  # type: ignore[arg-type]
    assert type(info.value) is ValueError
    assert str(info.value) == message
    assert system.trace[-1].seq == mark  # refused before anything ran
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    with pytest.raises(VssInvalidArgumentError) as refused:
        bc.set_backup_state(False, False, value)  # type: ignore[arg-type]
    assert refused.value.hresult == hresult.E_INVALIDARG
    assert refused.value.message == message
    bc.set_backup_state(False, False, BackupType.FULL)  # the refusal changed nothing
    bc.abort_backup()
    bc.release()


def test_component_calls_refuse_mistyped_arguments_before_the_call(system: VssSystem) -> None:
    # What a backup tool passes by mistake: GUID strings, None names, ints for flags.
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    bc.set_backup_state(True, False, BackupType.FULL)
    instance, wmd = bc.writer_metadata[0]
    writer_id, comp = wmd.identity.writer_id, wmd.components[0]
    kind, path, name = comp.component_type, comp.logical_path, comp.component_name
    loose: Any = bc  # the calls below pass what the signatures do not allow
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: loose.add_component(str(instance), writer_id, kind, path, name),
         r"instance_id must be a uuid.UUID, not str \(use uuid.UUID\(text\)"),
        (lambda: loose.add_component(instance, str(writer_id), kind, path, name),
         "writer_id must be a uuid.UUID, not str"),
        (lambda: loose.add_component(instance, writer_id, kind, 123, name),
         "logical_path must be a str, not int"),
        (lambda: loose.add_component(instance, writer_id, kind, path, None),
         "component_name must be a str, not NoneType"),
        (lambda: loose.set_backup_options(writer_id, kind, path, name, 5),
         "options must be a str"),
        (lambda: loose.set_previous_backup_stamp(writer_id, kind, path, name, None),
         "previous_backup_stamp must be a str"),
        (lambda: loose.add_to_snapshot_set(123), "volume_name must be a str, not int"),
        (lambda: loose.add_to_snapshot_set("C:\\", "abc"), "provider_id must be a uuid.UUID"),
        (lambda: loose.is_volume_supported("C:\\", 1), "provider_id must be a uuid.UUID"),
        (lambda: loose.get_writer_metadata("a"), "index must be an int, not str"),
        (lambda: loose.get_writer_status(1.0), "index must be an int, not float"),
        (lambda: loose.set_backup_succeeded(instance, writer_id, kind, path, name, "yes"),
         "succeeded must be a bool, not str"),
    ]
    state = bc.state
    for call, message in calls:
        before = len(system.trace)
        with pytest.raises(TypeError, match=message):
            call()
        assert len(system.trace) == before, message  # refused before the call was made
    assert bc.state == state
    bc.add_component(instance, writer_id, kind, path, name)  # the right arguments still work
    bc.release()
    with pytest.raises(ValueError, match="async_mode='bogus' must be 'immediate'"):
        system.create_backup_components(async_mode="bogus")  # type: ignore[arg-type]
    with pytest.raises(VssBadStateError, match=r"legal now: none \(the object is released: "
                       r"create_backup_components\(\) makes a new one\)"):
        bc.release()


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"new_targets": ["C:\\elsewhere"]}, TypeError, "new_targets maps file set paths"),
    ({"new_targets": {"C:\\Nope": "C:\\elsewhere"}}, VssObjectNotFoundError,
     "no file set path 'C:\\\\\\\\Nope'"),
    ({"new_targets": {"C:\\KvStore": 5}}, TypeError, "must be a str"),
    ({"subcomponents": "KvStore"}, TypeError, "subcomponents maps component names"),
    ({"subcomponents": {"Nope": ["Nope\\x"]}}, VssObjectNotFoundError,
     "holds no component named 'Nope'"),
    ({"subcomponents": {"KvStore": "KvStore\\x"}}, TypeError, "a list of member paths"),
    ({"subcomponents": {"KvStore": 5}}, TypeError, "a list of member paths"),
    ({"restore_options": ["fast"]}, TypeError, "restore_options maps component names"),
    ({"additional_restores": "yes"}, TypeError, "additional_restores must be a bool"),
    ({"custom": 5}, TypeError, "custom must be a function"),
])
def test_restore_options_must_name_what_the_backup_holds(
        system: VssSystem, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception],
        message: str) -> None:
    backup = system.backup(target_dir=tmp_path / "b")
    assert backup.succeeded
    events = len(system.trace)
    with pytest.raises(error, match=message):
        system.restore(backup, **kwargs)
    assert len(system.trace) == events  # refused before any VSS call
