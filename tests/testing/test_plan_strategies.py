"""The plan strategies (fault, backup, restore and abandoned-backup plans) reach every value of
their space and shrink towards the simple plan: they draw flat integers and build the plans
from them, so nothing in the shape of a hypothesis strategy tree guarantees either."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import pytest
from hypothesis import Phase, find, settings
from hypothesis import strategies as st

import vsssim.strategies as vst
from vsssim.constants import (
    BackupType,
    ComponentType,
    SnapshotContext,
    SourceType,
    UsageType,
    VolumeSnapshotAttributes,
)
from vsssim.documents import WmdComponent, WriterIdentity, WriterMetadata
from vsssim.faults import (
    WRITER_ACTIONS,
    FaultPlan,
    IdentifyDuring,
    ProviderFault,
    RequesterCrash,
    StorageFault,
    WriterFault,
)
from vsssim.testing import AbandonedBackup, BackupPlan, RestorePlan

_T = TypeVar("_T")

# Finding a value only needs drawing; shrinking is checked on its own below.
_SEARCH = settings(database=None, max_examples=5000, phases=[Phase.generate], deadline=None,
                   derandomize=True)
_SHRINK = settings(database=None, deadline=None, derandomize=True)


def _reaches(strategy: st.SearchStrategy[_T], condition: Callable[[_T], Any]) -> None:
    find(strategy, condition, settings=_SEARCH)  # raises NoSuchExample if it never draws one


def _wmd(*components: tuple[str, str, bool]) -> WriterMetadata:
    """A document of FILEGROUP components ``(logical path, name, selectable)``."""
    return WriterMetadata(
        identity=WriterIdentity(writer_id=UUID(int=1), instance_id=UUID(int=2), writer_name="W",
                                usage_type=UsageType.USER_DATA,
                                source_type=SourceType.TRANSACTED_DB),
        components=[WmdComponent(component_type=ComponentType.FILEGROUP, logical_path=path,
                                 component_name=name, selectable=selectable)
                    for path, name, selectable in components])


# Two selectable components and one required: every subset, and the required one alone.
_WMD = _wmd(("", "a", True), ("", "b", True), ("", "r", False))
_FAULTS = vst.fault_plans(writers=[None, "W"], storage_volumes=["C:\\", "D:\\"])


def _has(kind: type, **fields: object) -> Callable[[FaultPlan], bool]:
    return lambda plan: any(isinstance(f, kind) and all(getattr(f, k) == v
                                                        for k, v in fields.items())
                            for f in plan.faults)


_EVERY_FAULT: list[tuple[type, dict[str, Any]]] = [
    *[(WriterFault, {"event": e}) for e in vst.WRITER_EVENTS],
    *[(WriterFault, {"action": a}) for a in WRITER_ACTIONS],
    *[(WriterFault, {"hresult": h}) for h in vst.WRITER_FAILURES],
    *[(WriterFault, {"delay": d}) for d in (0.5, 5.0, 30.0, 70.0)],
    *[(WriterFault, {"occurrence": n}) for n in (1, 2)],
    *[(WriterFault, {"writer": w}) for w in (None, "W")],
    *[(ProviderFault, {"method": m, "raise_exception": False, "hresult": h})
      for m in vst.PROVIDER_METHODS for h in vst.PROVIDER_FAILURES[:1]],
    *[(ProviderFault, {"hresult": h}) for h in vst.PROVIDER_FAILURES],
    *[(ProviderFault, {"method": "CommitSnapshots", "hresult": None, "delay": d})
      for d in (2.0, 12.0)],
    *[(ProviderFault, {"method": m, "raise_exception": True}) for m in vst.PROVIDER_METHODS],
    *[(RequesterCrash, {"after": e}) for e in vst.CREATION_EVENTS],
    *[(IdentifyDuring, {"event": e}) for e in vst.CREATION_EVENTS],
    *[(StorageFault, {"volume": v}) for v in ("C:\\", "D:\\")],
]


@pytest.mark.parametrize(("kind", "fields"), _EVERY_FAULT,
                         ids=[f"{k.__name__}-{'-'.join(map(str, f.values()))}"
                              for k, f in _EVERY_FAULT])
def test_fault_plans_reach_every_fault(kind: type, fields: dict[str, object]) -> None:
    _reaches(_FAULTS, _has(kind, **fields))


# The simplest fault of each kind: every field at the first of its values.
_SIMPLEST = [
    WriterFault(vst.WRITER_EVENTS[0], None, "veto", vst.WRITER_FAILURES[0], delay=0.5),
    ProviderFault(vst.PROVIDER_METHODS[0], hresult=vst.PROVIDER_FAILURES[0]),
    ProviderFault("CommitSnapshots", hresult=None, delay=2.0),
    ProviderFault(vst.PROVIDER_METHODS[0], hresult=None, raise_exception=True),
    RequesterCrash(vst.CREATION_EVENTS[0]),
    IdentifyDuring(vst.CREATION_EVENTS[0]),
    StorageFault("C:\\"),
]


def test_fault_plans_reach_two_faults_and_shrink_to_the_simplest_fault() -> None:
    _reaches(_FAULTS, lambda plan: len(plan.faults) == 2)
    assert find(_FAULTS, lambda _: True, settings=_SHRINK).faults == []
    one = find(_FAULTS, bool, settings=_SHRINK).faults
    assert len(one) == 1 and one[0] in _SIMPLEST, one
    for kind in (WriterFault, RequesterCrash, StorageFault):
        assert find(_FAULTS, _has(kind), settings=_SHRINK).faults \
            == [f for f in _SIMPLEST if isinstance(f, kind)]


_TYPES = (BackupType.FULL, BackupType.COPY, BackupType.INCREMENTAL, BackupType.DIFFERENTIAL,
          BackupType.LOG)
_CONTEXTS = (int(SnapshotContext.BACKUP), int(SnapshotContext.APP_ROLLBACK),
             int(SnapshotContext.BACKUP) | int(VolumeSnapshotAttributes.NO_AUTORECOVERY))
_BACKUPS = vst.backup_plans(_WMD, faults=_FAULTS)
_SELECTIONS = [None, (), ("W:r",), ("W:a", "W:r"), ("W:b", "W:r"), ("W:a", "W:b", "W:r")]


@pytest.mark.parametrize("backup_type", _TYPES)
def test_backup_plans_reach_every_type(backup_type: BackupType) -> None:
    _reaches(_BACKUPS, lambda plan: plan.backup_type is backup_type)


@pytest.mark.parametrize("context", _CONTEXTS)
def test_backup_plans_reach_every_context(context: int) -> None:
    _reaches(_BACKUPS, lambda plan: plan.context == context)


@pytest.mark.parametrize("components", _SELECTIONS, ids=repr)
def test_backup_plans_reach_every_selection(components: tuple[str, ...] | None) -> None:
    _reaches(_BACKUPS, lambda plan: plan.components == components)


def test_backup_plans_shrink_to_a_plain_full_backup_of_everything() -> None:
    assert find(_BACKUPS, lambda _: True, settings=_SHRINK) == BackupPlan()
    # A selection shrinks to adding nothing, then to the required component alone.
    assert find(_BACKUPS, lambda plan: plan.components is not None,
                settings=_SHRINK).components == ()
    assert find(_BACKUPS, lambda plan: bool(plan.components),
                settings=_SHRINK).components == ("W:r",)
    assert find(_BACKUPS, lambda plan: plan.context != _CONTEXTS[0], settings=_SHRINK) \
        == BackupPlan(context=_CONTEXTS[1])
    faults = find(_BACKUPS, lambda plan: bool(plan.faults), settings=_SHRINK).faults
    assert len(faults) == 1 and faults[0] in _SIMPLEST, faults


_RESTORES = vst.restore_plans(3, _WMD)


@pytest.mark.parametrize(("field", "value"), [
    *[("backup", i) for i in range(3)], ("additional_restores", True),
    ("additional_restores", False), *[("components", c) for c in [("W",), *_SELECTIONS]]],
    ids=repr)
def test_restore_plans_reach_every_option(field: str, value: object) -> None:
    _reaches(_RESTORES, lambda plan: getattr(plan, field) == value)


def test_restore_plans_shrink_to_everything_of_the_first_backup() -> None:
    assert find(_RESTORES, lambda _: True, settings=_SHRINK) == RestorePlan()
    assert find(vst.restore_plans(1), lambda _: True, settings=_SHRINK) == RestorePlan()


_ABANDONED = vst.abandoned_backups(_WMD)


@pytest.mark.parametrize(("field", "value"), [
    *[("stop_after", s) for s in AbandonedBackup.STOPS], ("abort", True), ("abort", False),
    *[("backup_type", t) for t in _TYPES],
    *[("components", tuple((ComponentType.FILEGROUP, "", n) for n in names))
      for names in ((), ("r",), ("a", "r"), ("b", "r"), ("a", "b", "r"))]], ids=repr)
def test_abandoned_backups_reach_every_option(field: str, value: object) -> None:
    _reaches(_ABANDONED, lambda plan: getattr(plan, field) == value)


def test_abandoned_backups_shrink_to_the_first_stop_without_components() -> None:
    assert find(_ABANDONED, lambda _: True, settings=_SHRINK) == AbandonedBackup(
        stop_after=AbandonedBackup.STOPS[0], abort=False)


def test_drawn_values_are_shared_only_when_immutable() -> None:
    # Faults and selections are built once per drawn key; each fault plan is a new object
    # (its match counts change as it runs).
    plans = [find(_FAULTS, bool, settings=_SHRINK) for _ in range(2)]
    assert plans[0] is not plans[1] and plans[0].faults is not plans[1].faults
    assert plans[0].faults[0] is plans[1].faults[0]


def test_a_fault_plan_prints_as_its_constructor_with_its_faults() -> None:
    # Hypothesis's "Failing test case" shows a plan through its pretty printer, which lists
    # every dataclass field: the match counts and the lock are no part of what was drawn.
    from hypothesis.vendor.pretty import pretty

    plan = FaultPlan([WriterFault("Freeze", "KvStore Writer", "veto")])
    plan.writer_fault("Freeze", ("KvStore Writer",))  # counted: _counts is no longer empty
    shown = pretty(("plan", plan))
    assert "_counts" not in shown and "_lock" not in shown
    assert "FaultPlan(faults=[WriterFault(event='Freeze'," in shown
    assert pretty(FaultPlan()) == repr(FaultPlan()) == "FaultPlan(faults=[])"
