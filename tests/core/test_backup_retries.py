"""``VssSystem.backup(retries=...)``: what backup tools do after a retryable failure (§5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vsssim import FaultPlan, VssSystem, WriterFault, hresult
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.constants import WriterState
from vsssim.faults import ProviderFault, RequesterCrash


@pytest.fixture
def system(tmp_path: Path) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "m", seed=5) as system:
        system.add_volume("C:\\", size=16 * 2**20)
        kv = KvStoreApp(system.volume("C:\\").fs)
        system.add_application(kv)
        system.add_writer(KvStoreWriter(kv))
        system.run_applications(3)
        yield system


def _count(system: VssSystem, name: str, since: int) -> int:
    return sum(1 for e in system.trace if e.seq > since and e.name == name
               and e.kind.value == "call")


def test_a_retryable_veto_is_retried_after_the_wait(system: VssSystem) -> None:
    system.faults = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto",
                                           hresult.VSS_E_WRITERERROR_RETRYABLE)])
    start, mark = system.clock.now(), system.trace[-1].seq
    result = system.backup(retries=3, retry_wait=600.0)
    assert result.succeeded, result.summary()
    assert result.attempts == 2
    assert "after 2 attempts" in result.summary()
    assert system.clock.now() - start >= 600.0
    # The failed attempt was aborted and released before the second one started.
    assert _count(system, "AbortBackup", mark) == 1
    assert _count(system, "StartSnapshotSet", mark) == 2
    assert _count(system, "BackupComplete", mark) == 1
    assert result.files and not system.all_snapshots()  # auto-release copies are gone


def test_without_retries_the_veto_shows_as_it_is(system: VssSystem) -> None:
    system.faults = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto",
                                           hresult.VSS_E_WRITERERROR_RETRYABLE)])
    result = system.backup()
    assert not result.succeeded
    assert result.attempts == 1
    [status] = result.writer_status
    assert status.state is WriterState.FAILED_AT_FREEZE
    assert status.failure == hresult.VSS_E_WRITERERROR_RETRYABLE


def test_retries_stop_at_the_limit_and_the_last_attempt_keeps_what_it_can(
        system: VssSystem) -> None:
    system.faults = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto",
                                           hresult.VSS_E_WRITERERROR_RETRYABLE, every=True)])
    mark = system.trace[-1].seq
    result = system.backup(retries=2, retry_wait=1.0)
    assert result.attempts == 3
    assert not result.succeeded
    assert _count(system, "StartSnapshotSet", mark) == 3
    assert result.trace[0].seq > mark and len(result.trace) == len(system.trace.since(mark))
    assert not system.all_snapshots()


def test_a_non_retryable_failure_is_not_retried(system: VssSystem) -> None:
    system.faults = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto",
                                           hresult.VSS_E_WRITERERROR_NONRETRYABLE)])
    result = system.backup(retries=3)
    assert result.attempts == 1
    assert not result.succeeded


def test_a_transient_provider_error_is_retried(system: VssSystem) -> None:
    system.faults = FaultPlan([ProviderFault("CommitSnapshots",
                                             hresult=hresult.VSS_E_UNEXPECTED_PROVIDER_ERROR)])
    result = system.backup(retries=1, retry_wait=5.0)
    assert result.attempts == 2
    assert result.succeeded, result.summary()


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"retries": -1}, "retries"), ({"retries": 1.5}, "retries"), ({"retries": True}, "retries"),
    ({"retry_wait": -1.0}, "retry_wait"), ({"retry_wait": float("nan")}, "retry_wait"),
])
def test_bad_retry_arguments_are_refused_before_anything_happens(
        system: VssSystem, kwargs: dict[str, object], word: str) -> None:
    mark = system.trace[-1].seq
    with pytest.raises(ValueError, match=word):
        system.backup(**kwargs)  # type: ignore[arg-type]
    assert system.trace[-1].seq == mark



@pytest.mark.parametrize("after", ["PrepareForBackup", "Freeze", "Thaw", "PostSnapshot",
                                   "BackupComplete"])
def test_a_crashed_requester_ends_the_backup_with_that_reason(system: VssSystem,
                                                              after: str) -> None:
    # The calls the facade made after the crash met a released object: the result says the
    # requester crashed, not that a later call was illegal in state Released.
    system.faults = FaultPlan([RequesterCrash(after)])
    result = system.backup(retries=3)
    assert not result.succeeded
    assert result.attempts == 1  # a dead requester does not try again
    assert result.hresult == hresult.E_UNEXPECTED
    assert result.error.startswith(f"the requester crashed after {after}"), result.error
    assert "not legal" not in result.error
    assert not system.all_snapshots()  # VSS released its object: nothing leaked
