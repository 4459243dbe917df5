"""Flush-and-hold and file-system operations with real threads.

``held()`` is the kernel's hold during ``CommitSnapshots``: writes from other threads wait,
resume at release in the order they arrived, none is lost, and none reaches the snapshot
created during the hold.  No timing is asserted: threads signal where they are with events,
and "blocked" is observed as "has not finished while the hold is in place".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vsssim.errors import VssHoldWritesTimeoutError
from vsssim.storage.shadowstorage import ShadowStorage
from vsssim.storage.volume import Volume

B = 4096


@pytest.fixture
def vol(tmp_path: Path) -> Iterator[Volume]:
    v = Volume.create(tmp_path / "v.img", 16 * B, B)
    yield v
    v.close()


def _wait_until(predicate: object, what: str) -> None:
    deadline = time.monotonic() + 20
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def test_held_writes_wait_then_run_in_arrival_order(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    vol.write(0, b"before")
    done: list[int] = []
    threads = []
    with vol.held():
        assert vol.is_held
        for i in range(6):
            # every writer writes the same 4 bytes: the survivor tells who ran last
            def write(i: int = i) -> None:
                vol.write(0, bytes([65 + i]) * 4)
                done.append(i)

            t = threading.Thread(target=write)
            t.start()
            threads.append(t)
            _wait_until(lambda n=i + 1: vol._lock.waiting == n, f"writer {i} to queue")
        snap = store.create_snapshot()  # the provider commits inside the hold
        assert done == []  # nobody got through the hold
        assert vol.read(0, 6) == b"before"
    for t in threads:
        t.join()
    assert not vol.is_held
    assert done == list(range(6))  # released in arrival order
    assert vol.read(0, 6) == b"FFFFre"  # the last arrival wrote last; nothing lost
    assert snap.read(0, 6) == b"before"  # nothing written during the hold is in the snapshot
    assert vol.stats.writes == 7


def test_a_write_from_the_holding_thread_is_a_hold_timeout(vol: Volume) -> None:
    with vol.held():
        with pytest.raises(VssHoldWritesTimeoutError):
            vol.write(0, b"x")
        with pytest.raises(VssHoldWritesTimeoutError):
            vol.write_batch([(0, b"x")])
    vol.write(0, b"x")  # after the release it works
    assert vol.read(0, 1) == b"x"


def test_hold_waits_for_a_running_operation(tmp_path: Path, vol: Volume) -> None:
    store = ShadowStorage.create(vol, tmp_path / "diff")
    in_op = threading.Event()
    finish_op = threading.Event()
    held = threading.Event()
    snaps = []

    def file_system_operation() -> None:
        with vol.operation():
            vol.write(0, b"half")
            in_op.set()
            finish_op.wait()
            vol.write(4, b"done")

    def provider() -> None:
        with vol.held():
            held.set()
            snaps.append(store.create_snapshot())

    op = threading.Thread(target=file_system_operation)
    op.start()
    in_op.wait()
    prov = threading.Thread(target=provider)
    prov.start()
    _wait_until(lambda: vol._lock.waiting == 1, "the hold to queue behind the operation")
    assert not held.is_set()  # the hold cannot start in the middle of the operation
    finish_op.set()
    op.join()
    prov.join()
    assert snaps[0].read(0, 8) == b"halfdone"  # the snapshot has the whole operation


def test_operation_is_reentrant_and_excludes_other_writers(vol: Volume) -> None:
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def other() -> None:
        inside.wait()
        vol.write(0, b"other")
        order.append("other")

    t = threading.Thread(target=other)
    t.start()
    with vol.operation():
        with vol.operation():
            vol.write(0, b"mine!")
        inside.set()
        _wait_until(lambda: vol._lock.waiting == 1, "the other writer to queue")
        order.append("op")
        release.set()
    t.join()
    assert order == ["op", "other"]
    assert vol.read(0, 5) == b"other"


def test_holds_nest_in_one_thread(vol: Volume) -> None:
    with vol.held(), vol.held():
        assert vol.is_held
    assert not vol.is_held
    vol.write(0, b"ok")
