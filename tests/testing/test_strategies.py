"""vsssim.strategies: what the strategies draw obeys the rules, st.from_type works, and random
requester call sequences (perform) answer only documented errors."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import vsssim.strategies as vst
from vsssim import hresult as hr
from vsssim._state import Call, SessionState
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.constants import SnapshotContext, VolumeSnapshotAttributes
from vsssim.documents import (
    BackupComponentsDocument,
    ComponentKind,
    FileDescriptor,
    WmdComponent,
    WriterIdentity,
    WriterMetadata,
    WriterStatus,
    kind_of,
)
from vsssim.documents.components import can_add_for_backup, is_ancestor
from vsssim.documents.records import ProviderProperties, SnapshotProperties
from vsssim.faults import (
    FaultPlan,
    IdentifyDuring,
    ProviderFault,
    RequesterCrash,
    StorageFault,
    WriterFault,
)
from vsssim.system import VssSystem
from vsssim.testing import (
    AbandonedBackup,
    BackupPlan,
    RestorePlan,
    VolumeLayout,
    assert_no_live_reads,
    perform,
)
from vsssim.testing.calls import PERFORMABLE, CallOutcome, outcomes_text
from vsssim.testing.plugin import VssFactory

# Example counts come from the profile (tests/conftest.py); drawing metadata can be slow.
SLOW_DRAWS = settings(suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------- from_type
@pytest.mark.parametrize("model", [
    WriterMetadata, WriterIdentity, FileDescriptor, WmdComponent, BackupComponentsDocument,
    WriterStatus, SnapshotProperties, ProviderProperties, FaultPlan, BackupPlan, RestorePlan,
    AbandonedBackup, VolumeLayout,
])
def test_from_type_draws_every_registered_model(model: type) -> None:
    @settings(max_examples=5, database=None)
    @given(st.from_type(model))
    def draw(value: object) -> None:
        assert isinstance(value, model)

    draw()


# ---------------------------------------------------------------------------- documents
@SLOW_DRAWS
@given(vst.writer_metadata())
def test_drawn_metadata_validates(wmd: WriterMetadata) -> None:
    assert WriterMetadata.load_from_xml(wmd.save_as_xml()) == wmd
    keys = [c.key for c in wmd.components]
    assert len(keys) == len(set(keys))


@SLOW_DRAWS
@given(st.data())
def test_component_selections_obey_the_selectability_rules(data: st.DataObject) -> None:
    wmd = data.draw(vst.writer_metadata())
    chosen = data.draw(vst.component_selections(wmd))
    kinds = {c.key: kind_of(wmd, c) for c in wmd.components}
    added: list[WmdComponent] = []
    for c in chosen:  # each one, in order, is what AddComponent accepts
        verdict = can_add_for_backup(wmd, c, added)
        assert verdict, verdict.reason
        added.append(c)
    assert all(kinds[c.key] is not ComponentKind.NONSELECTABLE_SUBCOMPONENT for c in chosen)
    assert not any(a.selectable and is_ancestor(a, c) for a in chosen for c in chosen
                   if a is not c)  # rule 8: a selectable ancestor's set already holds it
    assert not any(is_ancestor(c, a) for i, a in enumerate(chosen) for c in chosen[i + 1:])
    if any(kinds[c.key] is not ComponentKind.REQUIRED for c in chosen):
        required = {c.key for c in wmd.components if kinds[c.key] is ComponentKind.REQUIRED}
        assert required <= {c.key for c in chosen}  # a writer that takes part: all required


def test_required_components_come_ancestors_first() -> None:
    """Found by the property above (long profile): a required component listed after a
    required descendant cannot be added after it (AddComponent: it would include it)."""
    from uuid import UUID

    from hypothesis import find

    from vsssim.constants import ComponentType, SourceType, UsageType

    wmd = WriterMetadata(
        identity=WriterIdentity(writer_id=UUID(int=1), instance_id=UUID(int=2), writer_name="W",
                                usage_type=UsageType.USER_DATA,
                                source_type=SourceType.TRANSACTED_DB),
        components=[WmdComponent(component_type=ComponentType.DATABASE, logical_path=path,
                                 component_name="0", selectable=False)
                    for path in ("0", "")])
    chosen = find(vst.component_selections(wmd), bool, settings=settings(database=None))
    assert [c.full_path for c in chosen] == ["0", "0\\0"]
    assert can_add_for_backup(wmd, chosen[0], [])
    assert can_add_for_backup(wmd, chosen[1], chosen[:1])


def test_component_selections_shrink_to_nothing() -> None:
    from uuid import UUID

    from hypothesis import find

    from vsssim.constants import ComponentType, SourceType, UsageType

    wmd = WriterMetadata(
        identity=WriterIdentity(writer_id=UUID(int=1), instance_id=UUID(int=2), writer_name="W",
                                usage_type=UsageType.USER_DATA,
                                source_type=SourceType.TRANSACTED_DB),
        components=[WmdComponent(component_type=ComponentType.FILEGROUP, logical_path="",
                                 component_name=name, selectable=selectable)
                    for name, selectable in (("a", True), ("b", False))])
    assert find(vst.component_selections(wmd), lambda _: True,
                settings=settings(database=None)) == []
    everything = find(vst.component_selections(wmd), lambda sel: len(sel) == 2,
                      settings=settings(database=None))
    assert [c.component_name for c in everything] == ["a", "b"]  # a selection brings "b"


# ---------------------------------------------------------------------------- plans
@given(vst.fault_plans(writers=["W"], storage_volumes=["C:\\"], max_faults=3))
def test_fault_plans_draw_every_kind_within_bounds(plan: FaultPlan) -> None:
    assert len(plan.faults) <= 3
    for f in plan.faults:
        assert isinstance(f, WriterFault | ProviderFault | RequesterCrash | IdentifyDuring
                          | StorageFault)
        if isinstance(f, WriterFault):
            assert f.writer == "W" and f.event in vst.WRITER_EVENTS
        if isinstance(f, StorageFault):
            assert f.volume == "C:\\"


@given(vst.fault_plans(events=(), provider_methods=(), requester_crashes=False,
                       identify_during=False))
def test_fault_plans_with_every_kind_switched_off_are_empty(plan: FaultPlan) -> None:
    assert plan.faults == []


@SLOW_DRAWS
@given(st.data())
def test_backup_and_restore_plans_name_the_writer_components(data: st.DataObject) -> None:
    wmd = data.draw(vst.writer_metadata())
    plan = data.draw(vst.backup_plans(wmd, writer_name="W", volumes=["D:\\"]))
    assert plan.volumes == ("D:\\",)
    paths = {c.full_path for c in wmd.components}
    for spec in plan.components or ():
        name, _, path = spec.partition(":")
        assert name == "W" and path in paths
    restore = data.draw(vst.restore_plans(3, wmd, writer_name="W"))
    assert 0 <= restore.backup < 3
    for spec in restore.components or ():
        assert spec == "W" or spec.partition(":")[2] in paths


def test_restore_plans_need_a_backup() -> None:
    with pytest.raises(ValueError, match="at least one backup"):
        vst.restore_plans(0)  # at once, not when drawing


@given(vst.volume_layouts(min_volumes=1, max_volumes=3, sizes=(8 * 2**20,)))
def test_volume_layouts(layout: VolumeLayout) -> None:
    assert 1 <= len(layout.names) <= 3
    assert layout.names == ["C:\\", "D:\\", "E:\\"][:len(layout.names)]
    assert {size for _, size in layout.volumes} == {8 * 2**20}


@given(plan=vst.backup_plans(faults=vst.fault_plans(writers=["KvStore Writer"])),
       layout=vst.volume_layouts(max_volumes=1))
def test_drawn_backup_plans_run(vss_factory: VssFactory, plan: BackupPlan,
                                layout: VolumeLayout) -> None:
    with vss_factory(volumes=layout) as system:
        app = KvStoreApp(system.volume("C:\\").fs)
        system.add_application(app)
        system.add_writer(KvStoreWriter(app))
        result = plan.run(system, system.root / "backup")
        assert result.succeeded or result.error  # a failed backup says why
        assert_no_live_reads(result)  # whatever failed, files came from the shadow copy
        assert system.faults.faults == []  # the plan's faults were for its run only


def test_a_plans_faults_stand_in_for_the_machines_for_its_run_only(
        vss_factory: VssFactory) -> None:
    with vss_factory() as system:
        mine = FaultPlan([WriterFault("Thaw", action="veto")])
        system.faults = mine
        plan = BackupPlan(faults=(ProviderFault("CommitSnapshots"),))
        result = plan.run(system, system.root / "b1")
        assert "VSS_E_PROVIDER_VETO" in hr.name_of(result.hresult)  # the plan's, not mine
        assert system.faults is mine  # put back
        BackupPlan().run(system, system.root / "b2")  # no faults: mine stay in force
        assert system.faults is mine


# ---------------------------------------------------------------------------- call sequences
def _system(factory: VssFactory) -> VssSystem:
    system = factory()
    app = KvStoreApp(system.volume("C:\\").fs)
    system.add_application(app)
    system.add_writer(KvStoreWriter(app))
    return system


def test_the_canonical_sequence_succeeds_call_by_call(vss_factory: VssFactory) -> None:
    with _system(vss_factory) as system:
        outcomes = perform(system, vst.CANONICAL_BACKUP)
    assert all(o.legal and o.succeeded for o in outcomes), outcomes_text(outcomes)
    assert outcomes[-1].state_after is SessionState.RELEASED
    assert [o.call for o in outcomes] == list(vst.CANONICAL_BACKUP)


def test_call_sequences_shrink_to_the_canonical_sequence() -> None:
    from hypothesis import find

    assert find(vst.call_sequences(), lambda _: True,
                settings=settings(database=None)) == list(vst.CANONICAL_BACKUP)


def test_perform_takes_names_and_refuses_internal_calls(vss_factory: VssFactory) -> None:
    with _system(vss_factory) as system:
        first, second = perform(system, ["SaveAsXML", "InitializeForBackup"])
        assert str(first) == "SaveAsXML in Created: VSS_E_BAD_STATE  (illegal here)"
        assert str(second) == "InitializeForBackup in Created: S_OK -> BackupInitialized"
        with pytest.raises(ValueError, match="internal to VSS"):
            perform(system, [Call.SNAPSHOTS_DONE])
    assert {c for c in Call if not c.value.startswith("(")} == PERFORMABLE


@given(calls=vst.call_sequences())
def test_random_call_sequences_answer_only_documented_errors(
        vss_factory: VssFactory, calls: list[Call]) -> None:
    with _system(vss_factory) as system:
        outcomes = perform(system, calls)  # anything but a VssError would propagate
        assert system.coordinator.creating is None  # the released object gave the lock back
    assert len(outcomes) == len(calls)
    for o in outcomes:
        assert o.hresult == hr.S_OK or hr.name_of(o.hresult) != f"0x{o.hresult:08X}", (
            f"undocumented HRESULT: {o}")
        if not o.legal:
            assert o.hresult == hr.VSS_E_BAD_STATE, outcomes_text(outcomes)
            assert o.state_after == o.state_before, f"a refused call moved the session: {o}"


def test_perform_lets_anything_but_a_vss_error_through(vss_factory: VssFactory) -> None:
    system = _system(vss_factory)
    bc = system.create_backup_components()

    def broken() -> str:
        raise RuntimeError("a bug")

    bc.save_as_xml = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="a bug"):
        perform(system, ["InitializeForBackup", "SaveAsXML"], bc=bc)
    assert bc.state is SessionState.RELEASED  # released all the same
    kept = system.create_backup_components()
    perform(system, ["InitializeForBackup"], bc=kept, release=False)
    assert kept.state is SessionState.BACKUP_INITIALIZED
    kept.release()


def _every_public_call() -> list[Call]:
    return [c for c in Call if not c.value.startswith("(")]


@given(calls=st.lists(st.sampled_from(_every_public_call()), max_size=25))
def test_any_calls_at_all(vss_factory: VssFactory, calls: list[Call]) -> None:
    """Not only around the backup sequence: restore objects, imports, reverts too."""
    with _system(vss_factory) as system:
        outcomes: list[CallOutcome] = perform(system, calls)
    for o in outcomes:
        if not o.legal:
            assert o.hresult_name == "VSS_E_BAD_STATE", str(o)


def test_strategies_module_has_no_side_effect_but_registration() -> None:
    names: list[Any] = [n for n in vst.__all__ if not hasattr(vst, n)]
    assert names == []


@pytest.mark.parametrize(("make", "message"), [
    (lambda: vst.backup_plans(volumes="C:\\"), "volumes is a list"),
    (lambda: vst.abandoned_backups(volumes="C:\\"), "volumes is a list"),
    (lambda: vst.fault_plans(writers="KvStore Writer"), "writers is a list"),
    (lambda: vst.fault_plans(events="Freeze"), "events is a list"),
    (lambda: vst.fault_plans(storage_volumes="D:\\"), "storage_volumes is a list"),
])
def test_a_bare_string_where_a_list_goes_is_refused(make: Any, message: str) -> None:
    # Otherwise the string is read letter by letter: volumes ('C', ':', '\\').
    with pytest.raises(TypeError, match=message):
        find(make(), lambda _: True)


def _loose(value: object) -> Any:
    """An argument the signature does not allow, typed loosely."""
    return value


def test_strategies_take_any_iterable_and_empty_layouts() -> None:
    # Untyped callers pass what the signatures do not promise; it worked, it still does.
    assert find(vst.volume_layouts(names=_loose(n for n in ["C:\\"]), min_volumes=0),
                lambda layout: True).volumes == ()
    assert find(vst.fault_plans(events=_loose({"Freeze": 1}.keys())),
                lambda plan: bool(plan.faults)).faults


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: vst.call_sequences(max_size=-1), ValueError, "max_size must be at least 1, not -1"),
    (lambda: vst.call_sequences(max_size=_loose("5")), TypeError, "max_size must be an int"),
    (lambda: vst.writer_metadata(max_components=-1), ValueError, "max_components must be at"),
    (lambda: vst.backup_components_documents(max_writers=-1), ValueError, "max_writers must"),
    (lambda: vst.fault_plans(max_faults=-1), ValueError, "max_faults must be at least 0"),
    # A misspelt name would never match: the fault would silently never fire.
    (lambda: vst.fault_plans(events=["freeze"]), ValueError,
     r"each of events must be one of .*, not 'freeze' \(names are case-sensitive: 'Freeze'\)"),
    (lambda: vst.fault_plans(provider_methods=["Nope"]), ValueError,
     "each of provider_methods must be one of .*, not 'Nope'"),
    (lambda: vst.fault_plans(actions=["explode"]), ValueError,
     "each of actions must be one of .*, not 'explode'"),
    (lambda: vst.fault_plans(writers=_loose(None)), TypeError, r"\[None\] means any writer"),
    (lambda: vst.backup_plans(backup_types=[]), ValueError, "backup_types is empty"),
    (lambda: vst.backup_plans(contexts=[]), ValueError, "contexts is empty"),
    (lambda: vst.backup_plans(faults=_loose(vst.fault_plans)), TypeError,
     r"faults is a strategy of fault plans \(fault_plans\(\), with its parentheses\)"),
    (lambda: vst.backup_plans(_loose(vst.writer_metadata())), TypeError,
     r"metadata must be a WriterMetadata document, not .*: draw a document first"),
    (lambda: vst.component_selections(_loose(None)), TypeError,
     "metadata must be a WriterMetadata"),
    (lambda: vst.restore_plans(_loose("2")), TypeError, "backups is the number of completed"),
    (lambda: vst.restore_plans(_loose(vst.writer_metadata())), TypeError,
     r"the metadata goes second"),
    # Checked here, not when plan.run meets them.
    (lambda: vst.backup_plans(backup_types=_loose([7])), ValueError,
     r"each of backup_types must be a BackupType \(VSS_BACKUP_TYPE: .*\), not 7"),
    (lambda: vst.backup_plans(backup_types=_loose([True])), TypeError,
     "each of backup_types must be a BackupType, not True"),
    (lambda: vst.backup_plans(contexts=[12345]), ValueError,
     r"each of contexts must be a context SetContext takes, not 12345: context=0x3039 is not "
     "a VSS_SNAPSHOT_CONTEXT"),
    (lambda: vst.backup_plans(contexts=[int(SnapshotContext.BACKUP)
                                        | int(VolumeSnapshotAttributes.DIFFERENTIAL)
                                        | int(VolumeSnapshotAttributes.PLEX)]), ValueError,
     "DIFFERENTIAL and PLEX exclude each other"),
    (lambda: vst.backup_plans(contexts=_loose(["BACKUP"])), TypeError,
     "each of contexts must be an int"),
    # A writer name names components from the metadata: without it, it would be ignored.
    (lambda: vst.backup_plans(writer_name="KvStore Writer"), ValueError,
     r"backup_plans\(writer_name=...\) needs the writer's metadata too"),
    (lambda: vst.restore_plans(2, writer_name="KvStore Writer"), ValueError,
     r"restore_plans\(writer_name=...\) needs the writer's metadata too"),
    (lambda: vst.abandoned_backups(volumes=[]), ValueError, "volumes is empty"),
    (lambda: vst.volume_layouts(names=_loose("C:\\")), TypeError, "names is a list"),
    (lambda: vst.volume_layouts(names=[]), ValueError, "names is empty"),
    (lambda: vst.volume_layouts(sizes=[]), ValueError, "sizes is empty"),
    (lambda: vst.volume_layouts(sizes=[10]), ValueError, "10 is not a positive multiple"),
    (lambda: vst.volume_layouts(min_volumes=3, max_volumes=1), ValueError,
     "min_volumes=3 is more than max_volumes=1"),
])
def test_strategies_refuse_bad_arguments_when_built(make: Any, error: type[Exception],
                                                    message: str) -> None:
    # Before anything is drawn, naming the argument (not hypothesis's own words).
    with pytest.raises(error, match=message):
        make()


_FROM_TYPE = """
import sys
from hypothesis import given, settings
print("vsssim.strategies" in sys.modules)
@settings(max_examples=20, database=None)
@given(st.from_type(WriterMetadata), st.from_type(BackupPlan), st.from_type(VolumeLayout))
def drawn(document, plan, layout):
    assert isinstance(document, WriterMetadata) and isinstance(plan, BackupPlan)
    assert layout.volumes  # not an empty layout built field by field
drawn()
print("vsssim.strategies" in sys.modules)
from hypothesis import find
import vsssim.documents as d, vsssim.faults as f, vsssim.testing.plans as p
for kind in (d.WriterIdentity, d.FileDescriptor, d.WmdComponent, d.BackupComponentsDocument,
             d.WriterStatus, d.SnapshotProperties, d.ProviderProperties, f.FaultPlan,
             p.RestorePlan, p.AbandonedBackup):  # every type with a resolver
    assert isinstance(find(st.from_type(kind), lambda x: True), kind)
"""


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a program run as with vsssim installed from this checkout: its
    source first on the path, and a distribution beside it that declares pyproject.toml's
    hypothesis entry point (the environment's own vsssim may have been installed before the
    entry point was added, or from another checkout)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    hooks = project["project"].get("entry-points", {}).get("hypothesis", {})
    assert hooks, "pyproject.toml declares no hypothesis entry point"
    site = tmp_path_factory.mktemp("site")
    info = site / "vsssim_entry_point_probe-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vsssim-entry-point-probe\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[hypothesis]\n" + "".join(f"{name} = {value}\n" for name, value in hooks.items()))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, env=env, cwd=ROOT)


@pytest.mark.parametrize("imports", [
    # As in a pytest session: hypothesis first, then vsssim's types.
    ("import hypothesis.strategies as st\n"
     "from vsssim.documents import WriterMetadata\n"
     "from vsssim.testing.plans import BackupPlan, VolumeLayout\n"),
    # As in a plain script: vsssim's types first (registered by hypothesis's entry point).
    ("from vsssim.documents import WriterMetadata\n"
     "from vsssim.testing.plans import BackupPlan, VolumeLayout\n"
     "import hypothesis.strategies as st\n"),
], ids=["hypothesis-first", "vsssim-first"])
def test_from_type_draws_valid_values_without_importing_the_strategies(
        imports: str, installed: dict[str, str]) -> None:
    # Without the registrations hypothesis would build the models field by field, and draw
    # names with control characters that the validators refuse.
    out = _python(imports + _FROM_TYPE, installed)
    assert out.returncode == 0, out.stderr
    # Registered without importing the strategies; imported at the first draw.
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize(("code", "absent"), [
    # hypothesis's entry point imports the vsssim package and vsssim._hypothesis, no more.
    ("import hypothesis", ["vsssim.documents", "vsssim.strategies", "pydantic", "numpy"]),
    ("import vsssim.documents, vsssim.testing.plans", ["vsssim.strategies", "hypothesis"]),
    # Any first import of vsssim after hypothesis, without a cycle.
    ("import hypothesis\nimport vsssim.testing.plans", ["vsssim.strategies"]),
    ("import hypothesis\nimport vsssim.faults", ["vsssim.strategies"]),
    ("import hypothesis\nimport vsssim.system", ["vsssim.strategies"]),
])
def test_importing_one_side_loads_nothing_of_the_other(code: str, absent: list[str],
                                                      installed: dict[str, str]) -> None:
    check = f"{code}\nimport sys\nprint([m for m in {absent!r} if m in sys.modules])"
    out = _python(check, installed)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
