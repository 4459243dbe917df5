"""How the plan strategies and the writer conformance machine draw: few integer choices (the
small choices of a plan packed into one), plans drawn as the machine's rule arguments, and the
repro's lines written out only when a repro needs them, the same as written at once."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import pytest
from hypothesis import Phase, find, settings
from hypothesis import strategies as st

import vsssim.strategies as vst
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.constants import BackupType, ComponentType, SnapshotContext, SourceType, UsageType
from vsssim.documents import WmdComponent, WriterIdentity, WriterMetadata
from vsssim.faults import FaultPlan, IdentifyDuring, ProviderFault, RequesterCrash, WriterFault
from vsssim.testing import AbandonedBackup, BackupPlan, RestorePlan, WriterConformance
from vsssim.testing.plans import faults_code

_T = TypeVar("_T")

_SEARCH = settings(database=None, max_examples=3000, phases=[Phase.generate], deadline=None,
                   derandomize=True)
_SHRINK = settings(database=None, deadline=None, derandomize=True)


class _Draws:
    """A stand-in for hypothesis's draw function: answers each integer draw with the next of
    ``values`` (0 when they run out) and counts the draws."""

    def __init__(self, *values: int) -> None:
        self.values = list(values)
        self.count = 0

    def __call__(self, strategy: st.SearchStrategy[Any]) -> Any:
        self.count += 1
        return self.values.pop(0) if self.values else 0


def _drawn(drawer: Callable[[Any], _T], *values: int) -> tuple[_T, int]:
    draws = _Draws(*values)
    return drawer(draws), draws.count


def test_digits_pack_small_choices_into_one_integer_first_digit_most_significant() -> None:
    digits = vst._Digits([3, 5, 3, 3])  # 135 values: one integer choice
    seen = []
    for value in range(135):
        got, count = _drawn(digits.draw, value)
        assert count == 1
        seen.append(tuple(got))
    # Every combination once, in the order of the integer: the last digit varies fastest.
    assert seen == list(itertools.product(range(3), range(5), range(3), range(3)))


def test_digits_split_wide_choices_and_skip_fixed_ones() -> None:
    # A writer fault's fields: 9 * 1 * 6 = 54 values, then 5 * 4 * 2 = 40 (54 * 5 > 256).
    fields = vst._Digits([9, 1, 6, 5, 4, 2])
    assert _drawn(fields.draw, 53, 39) == ([8, 0, 5, 4, 3, 1], 2)
    assert _drawn(fields.draw, 6 + 1, 8 + 2 + 1) == ([1, 0, 1, 1, 1, 1], 2)
    # A radix too wide to share is an integer of its own; radix 1 is never drawn.
    assert _drawn(vst._Digits([300, 2, 2]).draw, 299, 3) == ([299, 1, 1], 2)
    assert _drawn(vst._Digits([1, 1]).draw) == ([0, 0], 0)
    assert _drawn(vst._Digits([]).draw) == ([], 0)


def _wmd(*components: tuple[str, bool]) -> WriterMetadata:
    """A document of FILEGROUP components ``(name, selectable)`` at the root."""
    return WriterMetadata(
        identity=WriterIdentity(writer_id=UUID(int=1), instance_id=UUID(int=2),
                                writer_name="W", usage_type=UsageType.USER_DATA,
                                source_type=SourceType.TRANSACTED_DB),
        components=[WmdComponent(component_type=ComponentType.FILEGROUP, logical_path="",
                                 component_name=n, selectable=s) for n, s in components])


# Two selectable components and one required: five selections.
_WMD = _wmd(("a", True), ("b", True), ("r", False))


def test_a_backup_plan_without_faults_is_one_choice_and_its_faults_follow() -> None:
    drawer = vst._backup_drawer(_WMD, faults=vst.fault_plans())
    # The canonical selection and five others, 5 types, 3 contexts, 0-2 faults: 270 values,
    # more than one choice holds: the first three are one choice, the count another.
    assert _drawn(drawer.draw) == (BackupPlan(), 2)
    plan, count = _drawn(drawer.draw, 0, 2, 0, 0, 0, 0)  # two faults, both the simplest
    assert count == 2 + 2 * 3 and len(plan.faults) == 2
    assert plan.faults[0] is plan.faults[1]  # built once per drawn choices
    # The machine's own backups (one selectable component): one choice without faults.
    small = vst._backup_drawer(_wmd(("a", True)), faults=vst.fault_plans())
    assert _drawn(small.draw)[1] == 1


def test_backup_plans_still_draw_faults_from_any_strategy() -> None:
    crash = FaultPlan([RequesterCrash(after="Freeze")])
    plans = vst.backup_plans(faults=st.just(crash))
    assert find(plans, lambda _: True, settings=_SHRINK).faults == (RequesterCrash("Freeze"),)
    with pytest.raises(TypeError, match="fault_plans"):
        vst.backup_plans(faults=vst.fault_plans)  # type: ignore[arg-type]


def _restores() -> st.SearchStrategy[tuple[RestorePlan, FaultPlan]]:
    drawer = vst._restore_drawer(2, _WMD, faults=vst._fault_drawer(
        events=("PreRestore", "PostRestore")))

    @st.composite
    def plans(draw: st.DrawFn) -> tuple[RestorePlan, FaultPlan]:
        return drawer.draw_with_faults(draw)

    return plans()


@pytest.mark.parametrize("condition", [
    lambda p, f: len(f.faults) == 2,
    lambda p, f: any(isinstance(x, WriterFault) and x.event == "PostRestore" for x in f.faults),
    lambda p, f: any(isinstance(x, ProviderFault) for x in f.faults),
    lambda p, f: any(isinstance(x, IdentifyDuring) for x in f.faults),
    lambda p, f: p.backup == 1 and p.components == ("W:a", "W:b", "W:r") and f.faults,
], ids=["two faults", "PostRestore", "provider", "identify", "components and faults"])
def test_a_restore_and_its_faults_reach_every_option(condition: Callable[..., Any]) -> None:
    find(_restores(), lambda drawn: condition(*drawn), settings=_SEARCH)


def test_a_restore_and_its_faults_shrink_to_everything_without_faults() -> None:
    plan, faults = find(_restores(), lambda _: True, settings=_SHRINK)
    assert plan == RestorePlan() and faults.faults == []
    plan, faults = find(_restores(), lambda drawn: bool(drawn[1]), settings=_SHRINK)
    assert plan == RestorePlan() and len(faults.faults) == 1
    assert faults.faults[0] == WriterFault("PreRestore", None, "veto", vst.WRITER_FAILURES[0],
                                           delay=0.5)


class _Machine(WriterConformance):
    application_factory = KvStoreApp
    writer_factory = KvStoreWriter


def test_the_machine_writes_out_its_steps_only_for_a_repro_and_the_same_lines() -> None:
    machine = _Machine()
    try:
        machine.build_machine(setup=2 * 7 + 1, data=None)
        assert machine.setup == []  # written out for a repro only
        assert machine.replay(None).setup[0] == (
            'with VssSystem(tmp_path / "machine", seed=7, '
            'options=VssOptions(delivery="shuffled")) as system:')
        backup = BackupPlan(backup_type=BackupType.COPY, context=int(SnapshotContext.BACKUP),
                            faults=(WriterFault("Freeze", action="fail"),))
        machine.backup(backup)
        abandoned = AbandonedBackup(stop_after="DoSnapshotSet")
        machine.stop_backup_midway(abandoned)
        machine.backup(BackupPlan())
        restore = (RestorePlan(backup=0), FaultPlan([WriterFault("PreRestore", action="fail")]))
        restored = machine.backups[0][0]
        machine.restore(restore)
        machine.send_identify(2)
        replay = machine.replay(None)
        steps = replay.steps
        # The setup is written out once: a second replay has the same lines and references.
        again = machine.replay(None)
        assert again.setup == replay.setup and again.references == replay.references
        assert [r.expression for r in replay.references] == ["KvStoreApp", "KvStoreWriter"]
        lines = [
            [*backup.code("backup1", "tmp_path / 'backup1'"), "monitor.check(backup1)"],
            [*abandoned.code(), "monitor.check()"],
            [*BackupPlan().code("backup2", "tmp_path / 'backup2'"), "monitor.check(backup2)"],
            [f"system.faults = {faults_code(restore[1].faults)}",
             f"restore1 = system.restore({restored})", "system.faults = None"],
        ]
        assert steps[:3] == lines[:3]
        # The restore's first lines (a reboot may follow, then the check), then Identify.
        assert steps[3][:3] == lines[3]
        assert steps[3][-1] == f"monitor.check(restore1, {restored})"
        assert steps[4] == ["system.send_identify()"] * 2 + ["monitor.check()"]
    finally:
        machine.teardown()


def test_the_machine_looks_its_hooks_up_again_when_they_change() -> None:
    def check(frozen: object, fs: object) -> None: ...

    def other(frozen: object, fs: object) -> None: ...

    class Machine(_Machine):
        consistency_check = check  # a plain function: never bound to the machine

    assert Machine._hook("consistency_check") is check
    assert Machine._hook("consistency_check") is check  # from the cache
    Machine.consistency_check = staticmethod(other)
    assert Machine._hook("consistency_check") is other
    Machine.writer_factory = KvStoreApp  # type: ignore[assignment]
    assert Machine._hook("writer_factory") is KvStoreApp
    assert _Machine._hook("writer_factory") is KvStoreWriter  # the base keeps its own
    assert Machine._hook("freeze_state") is None
