"""Requester conformance: each deliberately buggy requester is caught, naming the rule it breaks,
with a minimal failing sequence that is a working pytest test; correct requesters pass.

The requesters are those of ``examples/conformance/buggy_requesters.py``, a backup job written
on ``system.backup`` (``examples/first_backup.py``) with the retry loop a backup job adds, and the
QEMU guest agent's requester of ``examples/qga_vss.py``.  Example counts are bounded so that the
file runs in seconds; the long search is behind ``-m long``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from vsssim import BackupType, FaultPlan, VssSystem, WriterFault, hresult
from vsssim.apps import FileShareApp, FileShareWriter, KvStoreApp, KvStoreWriter
from vsssim.faults import Fault
from vsssim.testing import (
    REQUESTER_RULES,
    ConformanceError,
    RequesterConformance,
    RequesterMonitor,
    check_requester,
    conformance_settings,
)
from vsssim.testing.repro import Replay

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    """Import an example script by file name (examples are scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


buggy: Any = _load("buggy_requesters", ROOT / "examples" / "conformance" / "buggy_requesters.py")
qga: Any = _load("qga_vss", ROOT / "examples" / "qga_vss.py")

# Enough examples for every buggy requester to be caught by a derandomized search, few enough
# for the file to stay fast.
EXAMPLES = 40


def _caught(requester: Any, **kwargs: Any) -> ConformanceError:
    """The error of a derandomized search: these tests look at what is caught and its repro,
    and 40 random examples miss a bug that needs a retryable writer error for some seeds
    (208 did)."""
    with pytest.raises(ConformanceError) as info:
        check_requester(requester, settings=settings(
            conformance_settings(examples=EXAMPLES, steps=4), derandomize=True), **kwargs)
    return info.value


# --------------------------------------------------------------------------- buggy requesters
def test_one_buggy_requester_per_requester_rule() -> None:
    assert set(buggy.BUGGY_REQUESTERS) == set(REQUESTER_RULES) - {"calls-in-order"}


@pytest.mark.parametrize("rule", sorted(buggy.BUGGY_REQUESTERS))
def test_buggy_requester_is_caught(rule: str) -> None:
    requester = buggy.BUGGY_REQUESTERS[rule]
    error = _caught(requester)
    assert error.rule.id == rule, str(error)
    text = str(error)
    assert f"broke rule {rule!r}" in text
    assert "Reference: §" in text
    assert ">>" in error.trace_tail  # where the rule broke
    assert f"from buggy_requesters import {requester.__name__}" in error.repro
    assert f"monitor.run({requester.__name__})" in error.repro
    compile(error.repro, "<repro>", "exec")


def test_a_requester_repro_is_minimised_by_running_it(monkeypatch: pytest.MonkeyPatch) -> None:
    minimised: list[ConformanceError] = []
    original = Replay.minimise

    def recording(self: Replay, error: ConformanceError, *, budget: int = 64) -> None:
        minimised.append(error)
        original(self, error, budget=budget)

    monkeypatch.setattr(Replay, "minimise", recording)
    error = _caught(buggy.forgets_abort_on_error)
    assert minimised == [error]
    assert error.replay is None  # used up
    assert not any("did not break the rule again" in note for note in error.notes)


@pytest.mark.parametrize("rule", ["retries-retryable-writer-errors",
                                  "retries-snapshot-set-in-progress"])
def test_minimal_sequence_is_minimal(rule: str) -> None:
    # Shrunk to one run of the requester, with the one circumstance that shows the bug.
    repro = _caught(buggy.BUGGY_REQUESTERS[rule]).repro
    assert repro.count("monitor.run(") == 1
    assert "run_applications" not in repro
    if rule == "retries-snapshot-set-in-progress":
        assert "monitor.hold_creation_lock()" in repro
        assert "system.faults" not in repro
    else:
        assert "monitor.hold_creation_lock()" not in repro
        assert repro.count("WriterFault(") == 1


def test_repro_fails_the_same_way(tmp_path: Path) -> None:
    error = _caught(buggy.never_retries)
    namespace: dict[str, Any] = {}
    exec(compile(error.repro, "<repro>", "exec"), namespace)  # the repro is our own output
    test = next(v for k, v in namespace.items() if k.startswith("test_"))
    with pytest.raises(ConformanceError) as again:
        test(tmp_path)
    assert again.value.rule.id == "retries-retryable-writer-errors"


# -------------------------------------------------------------------------- correct requesters
def test_correct_requester_passes() -> None:
    check_requester(buggy.correct_requester, examples=EXAMPLES)


def first_backup_job(system: VssSystem) -> bool:
    """``examples/first_backup.py``'s one-call backup with the reference's three retries
    (``VSS_E_SNAPSHOT_SET_IN_PROGRESS``, transient ``DoSnapshotSet`` errors and retryable
    writer failures get another attempt)."""
    return system.backup(retries=3).succeeded


def test_first_backup_style_requester_passes() -> None:
    check_requester(first_backup_job, examples=EXAMPLES)


def test_one_call_backup_without_retries_is_caught() -> None:
    error = _caught(lambda system: system.backup().succeeded)
    assert error.rule.id in {"retries-retryable-writer-errors",
                             "retries-snapshot-set-in-progress"}


def _guide_requester(*, retry_start: bool) -> Any:
    """``my_backup`` of docs/testing.md §9 (without its StartSnapshotSet retry, if asked)."""
    guide = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n# my_backup.py\n(.*?)```", guide, re.S)
    assert match, "docs/testing.md no longer has the my_backup.py example"
    source = match.group(1)
    if not retry_start:
        source, count = re.subn(r"while True:\n.*?system\.clock\.sleep\(1\.0\)\n",
                                "bc.start_snapshot_set()\n", source, flags=re.S)
        assert count == 1, "the guide's StartSnapshotSet retry loop changed"
    namespace: dict[str, Any] = {"__name__": "my_backup"}
    exec(compile(source, "docs/testing.md", "exec"), namespace)  # the guide's own example
    return namespace["my_backup"]


def test_the_guides_requester_passes_and_fails_as_the_guide_says() -> None:
    check_requester(_guide_requester(retry_start=True), examples=EXAMPLES)
    error = _caught(_guide_requester(retry_start=False))
    assert error.rule.id == "retries-snapshot-set-in-progress"


class CorrectRequesterConformance(RequesterConformance):
    """The subclassing form, as a user writes it."""

    requester = staticmethod(buggy.correct_requester)


def test_subclass_runs_as_a_test_case() -> None:
    case: Any = CorrectRequesterConformance.TestCase
    case.settings = settings(max_examples=10, stateful_step_count=4, deadline=None,
                             phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    case("runTest").runTest()


def test_requester_must_be_set() -> None:
    class Unset(RequesterConformance):
        pass

    with pytest.raises(TypeError, match="requester is not set"):
        Unset().build_machine(seed=0, share_on_d=False)


# ----------------------------------------------------------------------- the QEMU guest agent
_guests: weakref.WeakKeyDictionary[VssSystem, tuple[Any, Any]] = weakref.WeakKeyDictionary()


def qga_fsfreeze(system: VssSystem) -> object:
    """qemu-ga's ``guest-fsfreeze-freeze``, a one-second disk snapshot on the host, then
    ``guest-fsfreeze-thaw`` (the agent and its provider are installed once per machine)."""
    guest = _guests.get(system)
    if guest is None:
        events = qga.NamedEvents()
        host = qga.Hypervisor(system)
        system.add_provider(qga.QgaProvider(events, host.copy_of))
        guest = _guests[system] = (qga.QgaRequester(system, events), host)
    agent, host = guest
    if agent.freeze().ok:
        host.snapshot_disks(seconds=1.0)
    return agent.thaw()


def test_qga_requester_is_caught_not_checking_writer_status() -> None:
    # qemu-ga gathers writer status before DoSnapshotSet only (requester.cpp): a writer that
    # fails during the freeze goes unnoticed.  Its copies are persistent (APP_ROLLBACK) by design.
    error = _caught(qga_fsfreeze, allow_persistent=True)
    assert error.rule.id == "checks-writer-status"
    assert "after DoSnapshotSet" in str(error)
    assert "monitor = RequesterMonitor(system, allow_persistent=True)" in error.repro
    assert "import qga_fsfreeze" in error.repro


def test_repro_of_an_unimportable_requester_says_what_to_replace() -> None:
    def local_backup(system: VssSystem) -> bool:
        return bool(buggy.never_checks_writer_status(system))

    error = _caught(local_backup)
    assert error.rule.id == "checks-writer-status"
    assert "requester = REPLACE_ME" in error.repro
    assert "monitor.run(requester)" in error.repro
    compile(error.repro, "<repro>", "exec")


# ---------------------------------------------------------------------------- the monitor alone
@pytest.fixture
def machine() -> Any:
    with VssSystem(seed=3) as system:
        system.add_volume("C:\\", size=16 * 2**20)
        kv = KvStoreApp(system.volume("C:\\").fs)
        system.add_application(kv)
        system.add_writer(KvStoreWriter(kv))
        share = FileShareApp(system.volume("C:\\").fs, "C:\\Share")
        system.add_application(share)
        system.add_writer(FileShareWriter(share))
        system.run_applications(5)
        with RequesterMonitor(system) as monitor:
            yield system, monitor


def test_monitor_accepts_the_correct_requester_under_a_retryable_veto(machine: Any) -> None:
    system, monitor = machine
    system.faults = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto",
                                           hresult.VSS_E_WRITERERROR_RETRYABLE)])
    monitor.hold_creation_lock()
    assert monitor.run(buggy.correct_requester) is True
    assert monitor.violations == []


def test_monitor_flags_a_call_out_of_order(machine: Any) -> None:
    system, monitor = machine

    def complete_after_failure(system: VssSystem) -> None:
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.gather_writer_metadata().result()
            bc.start_snapshot_set()
            bc.add_to_snapshot_set("C:\\")
            bc.prepare_for_backup().result()
            bc.do_snapshot_set().wait()
            bc.gather_writer_status().result()
            bc.backup_complete()  # after a failed DoSnapshotSet: VSS_E_BAD_STATE (rule 16)

    system.faults = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto")])
    with pytest.raises(ConformanceError) as info:
        monitor.run(complete_after_failure)
    rules = {v.rule.id for v in info.value.violations}
    assert "calls-in-order" in rules
    assert "ends-with-complete-or-abort" in rules
    assert "VssBadStateError" in str(info.value)


def test_monitor_flags_an_object_never_released(machine: Any) -> None:
    _system, monitor = machine
    kept: list[Any] = []

    def forgets_release(system: VssSystem) -> None:
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        kept.append(bc)

    with pytest.raises(ConformanceError) as info:
        monitor.run(forgets_release)
    assert info.value.rule.id == "no-leaked-snapshots"
    assert "never released" in str(info.value)
    kept[0].release()


def test_live_reads_name_the_volume(machine: Any) -> None:
    _system, monitor = machine
    with pytest.raises(ConformanceError) as info:
        monitor.run(buggy.reads_live_volume)
    assert info.value.rule.id == "reads-only-the-snapshot"
    assert re.search(r"\d+ read\(s\) of the live volumes \(\d+ of C:\\\) between "
                     "DoSnapshotSet and BackupComplete", str(info.value)), str(info.value)


def test_a_leaked_copy_is_told_what_frees_it(machine: Any) -> None:
    _system, monitor = machine
    with pytest.raises(ConformanceError) as info:
        monitor.run(buggy.leaks_snapshot)  # persistent copies, never deleted
    text = str(info.value)
    assert "made in a context without auto-release: delete it (DeleteSnapshots)" in text
    assert "allow_persistent=True" in text
    kept: list[Any] = []

    def forgets_release(system: VssSystem) -> None:
        bc = system.create_backup_components()
        kept.append(bc)
        _whole_backup(bc, ["C:\\"], components=False)

    with pytest.raises(ConformanceError) as info:
        monitor.run(forgets_release)  # VSS_CTX_BACKUP: auto-release, but never released
    messages = [v.message for v in info.value.violations]
    assert "The requester raised" not in str(info.value), str(info.value)
    assert any("never released" in m for m in messages)
    assert any("an auto-release copy lives as long as its requester object" in m
               for m in messages), messages
    assert not any("DeleteSnapshots" in m for m in messages)
    kept[0].release()


def _whole_backup(bc: Any, volumes: list[str], *, components: bool) -> None:
    """A backup from InitializeForBackup to the status after BackupComplete, with every
    component added (component mode) or none, and ``volumes`` in the set."""
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    bc.set_backup_state(components, False, BackupType.FULL)
    if components:
        for instance_id, wmd in bc.writer_metadata:
            for comp in wmd.components:
                bc.add_component(instance_id, wmd.identity.writer_id, comp.component_type,
                                 comp.logical_path, comp.component_name)
    bc.start_snapshot_set()
    for volume in volumes:
        bc.add_to_snapshot_set(volume)
    bc.prepare_for_backup().result()
    bc.do_snapshot_set().result()
    bc.gather_writer_status().result()
    bc.backup_complete().result()
    bc.gather_writer_status().result()


def test_a_selected_components_volume_left_out_of_the_set_is_flagged() -> None:
    def only_c(system: VssSystem) -> None:
        with system.create_backup_components() as bc:
            _whole_backup(bc, ["C:\\"], components=True)  # BUG: the share's files are on D:

    with VssSystem(seed=3) as system:
        system.add_volume("C:\\", size=16 * 2**20)
        system.add_volume("D:\\", size=16 * 2**20)
        kv = system.add_application(KvStoreApp(system.volume("C:\\").fs))
        system.add_writer(KvStoreWriter(kv))
        share = system.add_application(FileShareApp(system.volume("D:\\").fs, "D:\\Share"))
        system.add_writer(FileShareWriter(share))
        with RequesterMonitor(system) as monitor, pytest.raises(ConformanceError) as info:
            monitor.run(only_c)
    assert [v.rule.id for v in info.value.violations] == ["follows-the-backup-sequence"]
    assert re.search(r"DoSnapshotSet without D:\\ in the snapshot set, where files of the "
                     r"selected File Share Writer:\S+ are", str(info.value)), str(info.value)


def test_monitor_flags_more_than_three_retries(machine: Any) -> None:
    system, monitor = machine
    system.faults = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto",
                                           hresult.VSS_E_WRITERERROR_RETRYABLE, every=True)])

    def five_attempts(system: VssSystem) -> None:
        for _ in range(5):
            buggy.never_retries(system)

    with pytest.raises(ConformanceError) as info:
        monitor.run(five_attempts)
    assert info.value.rule.id == "retries-retryable-writer-errors"
    assert "retry at most 3 times" in str(info.value)


@pytest.mark.parametrize("other", [hresult.VSS_E_WRITERERROR_NONRETRYABLE,
                                   hresult.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT, None])
def test_monitor_excuses_giving_up_when_another_writer_failed_for_good(
        machine: Any, other: int | None) -> None:
    # Found by the dev profile: the guide's requester stops when any failure is not retryable
    # (reference §5: NONRETRYABLE "do not retry with VSS"), which the monitor used to flag.
    system, monitor = machine
    faults: list[Fault] = [WriterFault("PrepareForBackup", "KvStore Writer", "veto",
                                       hresult.VSS_E_WRITERERROR_RETRYABLE)]
    if other is not None:
        faults.append(WriterFault("PrepareForBackup", "File Share Writer", "veto", other))
    system.faults = FaultPlan(faults)
    if other is None:  # the retryable failure alone still needs its retry
        with pytest.raises(ConformanceError) as info:
            monitor.run(buggy.never_retries)
        assert info.value.rule.id == "retries-retryable-writer-errors"
    else:
        monitor.run(buggy.never_retries)
        assert monitor.violations == []


def test_monitor_accepts_three_failed_retries(machine: Any) -> None:
    system, monitor = machine
    system.faults = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto",
                                           hresult.VSS_E_WRITERERROR_RETRYABLE, every=True)])
    assert monitor.run(buggy.correct_requester) is False
    assert monitor.violations == []


def test_monitor_lets_a_reported_failure_through_and_raises_other_errors(machine: Any) -> None:
    _system, monitor = machine

    def reports_failure(system: VssSystem) -> None:
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.set_context(0x12345)  # not a context: E_INVALIDARG, raised at the tool

    assert monitor.run(reports_failure) is None  # a VssError is how a tool reports failure

    def crashes(system: VssSystem) -> None:
        buggy.correct_requester(system)
        raise RuntimeError("the tool's own bug")

    with pytest.raises(RuntimeError, match="own bug"):
        monitor.run(crashes)


def test_monitor_allows_persistent_copies_when_told(machine: Any) -> None:
    system, _monitor = machine
    with RequesterMonitor(system, allow_persistent=True) as lenient:
        assert lenient.run(buggy.leaks_snapshot) is True


# ------------------------------------------------------------------------------ long searches
@pytest.mark.long
@pytest.mark.parametrize("requester", [buggy.correct_requester, first_backup_job],
                         ids=["correct", "first_backup"])
def test_correct_requesters_pass_a_long_search(requester: Any) -> None:
    check_requester(requester, examples=1000, steps=6)
