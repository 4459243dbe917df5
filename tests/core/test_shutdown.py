"""Closing a machine: the writers' subscriptions end and nothing is left to the cycle collector.

A conformance run builds and closes a machine per example; a closed machine that only the
cycle collector can free costs every example a share of the collector's full passes.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.constants import SnapshotContext
from vsssim.errors import VssBadStateError, VssUnexpectedError
from vsssim.system import VssSystem


def _used_machine(root: Path) -> tuple[VssSystem, KvStoreWriter]:
    """A machine with an application and its writer, after a backup and a restore."""
    system = VssSystem(root, seed=3)
    system.add_volume("C:\\", size=16 << 20)
    app = system.add_application(KvStoreApp(system.volume("C:\\").fs))
    writer = system.add_writer(KvStoreWriter(app))
    system.run_applications(5)
    backup = system.backup(target_dir=root.parent / "backup")
    assert backup.succeeded
    system.restore(backup, components=[writer.writer_name])
    system.identify()
    return system, writer


def test_a_closed_machine_is_freed_without_the_cycle_collector(tmp_path: Path) -> None:
    system, writer = _used_machine(tmp_path / "m")
    refs: list[weakref.ref[Any]] = [weakref.ref(system), weakref.ref(system.coordinator),
            weakref.ref(system.volume("C:\\")), weakref.ref(system.system_provider),
            weakref.ref(writer), weakref.ref(writer.app)]
    gc.collect()
    gc.disable()
    try:
        system.close()
        assert not writer.subscribed
        del system, writer
        assert [r() is None for r in refs] == [True] * len(refs)
    finally:
        gc.enable()


def test_what_a_backup_leaves_behind_does_not_tie_the_machine_to_the_cycle_collector(
        tmp_path: Path) -> None:
    # The cycle collector stays off from the start: a backup, a restore or an Identify that
    # left a reference cycle holding the coordinator (a session and its participants) would
    # keep the closed machine alive until the collector's next pass.
    gc.collect()
    gc.disable()
    try:
        system, writer = _used_machine(tmp_path / "m")
        refs: list[weakref.ref[Any]] = [weakref.ref(system), weakref.ref(system.coordinator),
                weakref.ref(system.tracer), weakref.ref(writer)]
        system.close()
        del system, writer
        assert [r() is None for r in refs] == [True] * len(refs)
    finally:
        gc.enable()


def test_a_writer_of_a_closed_machine_can_join_another(tmp_path: Path) -> None:
    first, writer = _used_machine(tmp_path / "m")
    first_id = writer.instance_id
    first.close()
    assert not writer.subscribed
    assert first.writers == []
    with VssSystem(tmp_path / "other", seed=4) as second:
        second.add_volume("C:\\", size=16 << 20)
        second.add_writer(writer)  # before, VSS_E_WRITER_ALREADY_SUBSCRIBED
        assert writer.subscribed and writer.instance_id != first_id


_AFTER_CLOSE: dict[str, Callable[[VssSystem, KvStoreWriter, Path], object]] = {
    "backup": lambda s, w, tmp: s.backup(target_dir=tmp / "late"),
    "restore": lambda s, w, tmp: s.restore(tmp / "backup"),
    "identify": lambda s, w, tmp: s.identify(),
    "send_identify": lambda s, w, tmp: s.send_identify(),
    "run_applications": lambda s, w, tmp: s.run_applications(1),
    "start_applications": lambda s, w, tmp: s.start_applications(),
    "reboot": lambda s, w, tmp: s.reboot(),
    "add_volume": lambda s, w, tmp: s.add_volume("D:\\", size=8 << 20),
    "add_writer": lambda s, w, tmp: s.add_writer(KvStoreWriter(w.app)),
    "remove_writer": lambda s, w, tmp: s.remove_writer(w),
    "restart_writer": lambda s, w, tmp: s.restart_writer(w),
    "add_application": lambda s, w, tmp: s.add_application(w.app),
    "create_backup_components": lambda s, w, tmp: s.create_backup_components(),
    "add_shadow_storage": lambda s, w, tmp: s.add_shadow_storage("C:\\", "C:\\", None),
}


@pytest.mark.parametrize("call", sorted(_AFTER_CLOSE))
def test_a_closed_machine_refuses_work_and_writes_nothing(tmp_path: Path, call: str) -> None:
    system, writer = _used_machine(tmp_path / "m")
    system.close()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(VssBadStateError, match="shut down"):
        _AFTER_CLOSE[call](system, writer, tmp_path)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_closed_machines_coordinator_refuses_the_machine_calls(tmp_path: Path) -> None:
    system, _writer = _used_machine(tmp_path / "m")
    coordinator = system.coordinator
    system.close()
    with pytest.raises(VssBadStateError, match="closed"):
        coordinator.machine.activity("late")
    assert not hasattr(coordinator.machine, "__deepcopy__")  # probes get AttributeError


def test_every_hold_is_released_even_if_one_release_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot set's volume holds are released together: one whose release raises must
    not leave the others held."""
    from contextlib import contextmanager

    with VssSystem(tmp_path / "m") as system:
        c = system.add_volume("C:\\", size=8 << 20)
        d = system.add_volume("D:\\", size=8 << 20)
        log: list[str] = []
        for vol in (c, d):
            original = vol.held

            @contextmanager
            def failing(vol: Any = vol, original: Any = original) -> Iterator[None]:
                with original():
                    log.append(f"hold {vol.name}")
                    try:
                        yield
                    finally:  # (an exit may carry the error of a later hold's release)
                        log.append(f"release {vol.name}")
                if vol is d:
                    raise OSError("D cannot be released")

            monkeypatch.setattr(vol, "held", failing)
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.set_context(SnapshotContext.NAS_ROLLBACK)  # no writers: straight to the hold
            bc.start_snapshot_set()
            bc.add_to_snapshot_set("C:\\")
            bc.add_to_snapshot_set("D:\\")
            with pytest.raises(VssUnexpectedError, match="DoSnapshotSet failed"):
                bc.do_snapshot_set().result()
            bc.abort_backup()
        assert sorted(log) == ["hold C:\\", "hold D:\\", "release C:\\", "release D:\\"]
        assert not c._lock.owned() and not d._lock.owned()
        c.write(0, b"x")  # nothing holds C's writes
