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
from vsssim.errors import VssBadStateError
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


def test_every_hold_is_released_even_if_one_release_fails() -> None:
    """The coordinator keeps a set's volume holds in a list (not an ExitStack): releasing
    them goes newest first, and one that raises must not leave the others held."""
    from contextlib import AbstractContextManager, contextmanager

    from vsssim.coordinator import _exit_all

    log: list[str] = []

    @contextmanager
    def hold(name: str, fail: bool = False) -> Iterator[None]:
        log.append(f"hold {name}")
        yield
        log.append(f"release {name}")
        if fail:
            raise OSError(f"{name} cannot be released")

    entered: list[AbstractContextManager[object]] = []
    for name, fail in (("C", False), ("D", True), ("E", False)):
        cm = hold(name, fail)
        cm.__enter__()
        entered.append(cm)
    with pytest.raises(OSError, match="D cannot be released"):
        _exit_all(entered)
    assert entered == []
    assert log == ["hold C", "hold D", "hold E", "release E", "release D", "release C"]
