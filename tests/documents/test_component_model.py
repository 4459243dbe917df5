"""The component model on the documentation's worked example (reference 8.2, ``MyWriter``),
plus properties against a deliberately naive string-prefix model on random documents.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vsssim.strategies as vst
from vsssim.constants import ComponentType
from vsssim.documents import (
    ComponentKind,
    RestoreSubcomponent,
    WmdComponent,
    WriterIdentity,
    WriterMetadata,
    WriterMetadataBuilder,
    can_add_for_backup,
    can_add_restore_subcomponent,
    closest_explicit_ancestor,
    full_path,
    implicitly_included,
    is_ancestor,
    kind_of,
    required_components,
    restore_set,
    set_members,
)
from vsssim.documents._fields import fold, split_logical_path
from vsssim.errors import VssObjectNotFoundError

# Name, logical path, selectable for backup, selectable for restore: the table of reference 8.2.
MY_WRITER = [
    ("Executables", "", False, False),
    ("ConfigFiles", "Executables", False, False),
    ("LicenseInfo", "", True, False),
    ("Security", "", True, False),
    ("UserInfo", "Security", False, False),
    ("Certificates", "Security", False, False),
    ("writerData", "", True, True),
    ("Set1", "writerData", False, True),
    ("Jan", "writerData\\Set1", False, False),
    ("Dec", "writerData\\Set1", False, False),
    ("Set2", "writerData", False, True),
    ("Jan", "writerData\\Set2", False, False),
    ("Dec", "writerData\\Set2", False, False),
    ("Query", "writerData\\QueryLogs", False, False),
    ("Usage", "writerData", True, True),
    ("Jan", "writerData\\Usage", False, False),
    ("Dec", "writerData\\Usage", False, False),
]


@pytest.fixture
def wmd(identity: WriterIdentity) -> WriterMetadata:
    builder = WriterMetadataBuilder(identity)
    for name, path, selectable, restorable in MY_WRITER:
        builder.add_component(
            ComponentType.FILEGROUP,
            path,
            name,
            selectable=selectable,
            selectable_for_restore=restorable,
        )
    return builder.get_document()


def paths(components: list[WmdComponent]) -> list[str]:
    return [c.full_path for c in components]


def get(wmd: WriterMetadata, path: str) -> WmdComponent:
    logical, _, name = path.rpartition("\\")
    return wmd.component(logical, name)


def test_full_path() -> None:
    assert full_path("", "writerData") == "writerData"
    assert full_path(None, "writerData") == "writerData"
    assert full_path("writerData\\Set1", "Jan") == "writerData\\Set1\\Jan"


def test_kinds_of_the_example(wmd: WriterMetadata) -> None:
    kinds = {c.full_path: kind_of(wmd, c) for c in wmd.components}
    r, s, n, ss = (
        ComponentKind.REQUIRED,
        ComponentKind.SELECTABLE,
        ComponentKind.NONSELECTABLE_SUBCOMPONENT,
        ComponentKind.SELECTABLE_SUBCOMPONENT,
    )
    assert kinds == {
        "Executables": r,
        "Executables\\ConfigFiles": r,
        "LicenseInfo": s,
        "Security": s,
        "Security\\UserInfo": n,
        "Security\\Certificates": n,
        "writerData": s,
        "writerData\\Set1": n,
        "writerData\\Set1\\Jan": n,
        "writerData\\Set1\\Dec": n,
        "writerData\\Set2": n,
        "writerData\\Set2\\Jan": n,
        "writerData\\Set2\\Dec": n,
        "writerData\\QueryLogs\\Query": n,
        "writerData\\Usage": ss,
        "writerData\\Usage\\Jan": n,
        "writerData\\Usage\\Dec": n,
    }


def test_executables_and_config_files_are_both_required(wmd: WriterMetadata) -> None:
    assert paths(required_components(wmd)) == ["Executables", "Executables\\ConfigFiles"]
    # ConfigFiles sits below Executables, but neither is selectable: no set, both added.
    executables, config = get(wmd, "Executables"), get(wmd, "Executables\\ConfigFiles")
    assert is_ancestor(executables, config)
    assert implicitly_included(wmd, [executables]) == []
    assert can_add_for_backup(wmd, config, [executables])
    # ... and in either order: Executables defines no set, so it includes nothing.
    assert can_add_for_backup(wmd, executables, [config])
    assert "required" in can_add_for_backup(wmd, executables, []).reason


def test_license_info_is_optional_and_alone(wmd: WriterMetadata) -> None:
    license_info = get(wmd, "LicenseInfo")
    assert can_add_for_backup(wmd, license_info, []).reason.startswith("optional")
    assert paths(set_members(wmd, license_info)) == ["LicenseInfo"]
    assert implicitly_included(wmd, [license_info]) == []


def test_security_defines_a_set(wmd: WriterMetadata) -> None:
    security = get(wmd, "Security")
    assert paths(set_members(wmd, security)) == [
        "Security",
        "Security\\UserInfo",
        "Security\\Certificates",
    ]
    assert paths(implicitly_included(wmd, [security])) == [
        "Security\\UserInfo",
        "Security\\Certificates",
    ]
    verdict = can_add_for_backup(wmd, get(wmd, "Security\\UserInfo"), [])
    assert not verdict
    assert "non-selectable subcomponent" in verdict.reason
    assert "'Security'" in verdict.reason


def test_writer_data_set_holds_everything_below_it(wmd: WriterMetadata) -> None:
    writer_data = get(wmd, "writerData")
    below = [c.full_path for c in wmd.components if c.full_path.startswith("writerData\\")]
    assert paths(set_members(wmd, writer_data)) == ["writerData", *below]
    assert paths(implicitly_included(wmd, [writer_data])) == below
    assert len(below) == 10


def test_query_belongs_to_writer_data_by_path_prefix(wmd: WriterMetadata) -> None:
    query = get(wmd, "writerData\\QueryLogs\\Query")
    assert not any(c.component_name == "QueryLogs" for c in wmd.components)
    assert is_ancestor(get(wmd, "writerData"), query)
    assert query in implicitly_included(wmd, [get(wmd, "writerData")])
    assert not can_add_for_backup(wmd, query, [])


def test_usage_is_a_nested_set(wmd: WriterMetadata) -> None:
    writer_data, usage = get(wmd, "writerData"), get(wmd, "writerData\\Usage")
    # Never add Usage when writerData is added, in either order.
    assert not can_add_for_backup(wmd, usage, [writer_data])
    assert "already included implicitly" in can_add_for_backup(wmd, usage, [writer_data]).reason
    assert not can_add_for_backup(wmd, writer_data, [usage])
    assert "would implicitly include" in can_add_for_backup(wmd, writer_data, [usage]).reason
    # Without writerData, Usage may be added on its own and brings its Jan and Dec.
    verdict = can_add_for_backup(wmd, usage, [])
    assert verdict
    assert "subcomponent" in verdict.reason
    assert paths(implicitly_included(wmd, [usage])) == [
        "writerData\\Usage\\Jan",
        "writerData\\Usage\\Dec",
    ]


def test_cannot_add_twice_or_foreign_components(wmd: WriterMetadata) -> None:
    license_info = get(wmd, "LicenseInfo")
    assert "already added" in can_add_for_backup(wmd, license_info, [license_info]).reason
    stranger = WmdComponent(
        component_type=ComponentType.DATABASE, component_name="x", selectable=True
    )
    assert "not a component" in can_add_for_backup(wmd, stranger, []).reason


def test_closest_explicit_ancestor(wmd: WriterMetadata) -> None:
    writer_data, usage = get(wmd, "writerData"), get(wmd, "writerData\\Usage")
    jan1 = get(wmd, "writerData\\Set1\\Jan")
    assert closest_explicit_ancestor(wmd, jan1, [writer_data]) is writer_data
    assert closest_explicit_ancestor(wmd, get(wmd, "writerData\\Usage\\Jan"), [usage]) is usage
    assert closest_explicit_ancestor(wmd, jan1, [get(wmd, "Security")]) is None


def test_restore_covers_the_whole_set_or_only_the_named_subcomponents(wmd: WriterMetadata) -> None:
    writer_data = get(wmd, "writerData")
    assert restore_set(wmd, writer_data, []) == set_members(wmd, writer_data)
    only_set1 = restore_set(
        wmd, writer_data, [RestoreSubcomponent(logical_path="writerData", component_name="set1")]
    )
    assert paths(only_set1) == [
        "writerData\\Set1",
        "writerData\\Set1\\Jan",
        "writerData\\Set1\\Dec",
    ]
    both = restore_set(
        wmd,
        writer_data,
        [
            RestoreSubcomponent(logical_path="writerData", component_name="Usage"),
            RestoreSubcomponent(logical_path="writerData", component_name="Set2"),
        ],
    )
    assert paths(both) == [
        "writerData\\Set2",
        "writerData\\Set2\\Jan",
        "writerData\\Set2\\Dec",
        "writerData\\Usage",
        "writerData\\Usage\\Jan",
        "writerData\\Usage\\Dec",
    ]
    with pytest.raises(VssObjectNotFoundError):
        restore_set(
            wmd,
            writer_data,
            [RestoreSubcomponent(logical_path="Security", component_name="UserInfo")],
        )
    with pytest.raises(VssObjectNotFoundError):
        restore_set(
            wmd,
            writer_data,
            [RestoreSubcomponent(logical_path="writerData", component_name="QueryLogs")],
        )


def test_restore_subcomponents_must_be_selectable_for_restore(wmd: WriterMetadata) -> None:
    writer_data = get(wmd, "writerData")
    assert can_add_restore_subcomponent(wmd, writer_data, get(wmd, "writerData\\Set1"))
    assert can_add_restore_subcomponent(wmd, writer_data, get(wmd, "writerData\\Usage"))
    assert not can_add_restore_subcomponent(wmd, writer_data, get(wmd, "writerData\\Set1\\Jan"))
    assert not can_add_restore_subcomponent(
        wmd, writer_data, get(wmd, "writerData\\QueryLogs\\Query")
    )
    assert not can_add_restore_subcomponent(wmd, get(wmd, "Security"), get(wmd, "writerData\\Set1"))
    stranger = WmdComponent(
        component_type=ComponentType.DATABASE, component_name="x", selectable=True
    )
    assert not can_add_restore_subcomponent(wmd, writer_data, stranger)


def test_membership_is_case_insensitive(identity: WriterIdentity) -> None:
    builder = WriterMetadataBuilder(identity)
    builder.add_component(ComponentType.FILEGROUP, "", "Data", selectable=True)
    builder.add_component(ComponentType.FILEGROUP, "DATA\\sub", "x", selectable=False)
    builder.add_component(ComponentType.FILEGROUP, "DataX", "y", selectable=False)
    doc = builder.get_document()
    data, x, y = doc.components
    assert is_ancestor(data, x)
    assert not is_ancestor(data, y)  # element-wise, not a string prefix
    assert not is_ancestor(data, data)
    assert kind_of(doc, x) is ComponentKind.NONSELECTABLE_SUBCOMPONENT
    assert kind_of(doc, y) is ComponentKind.REQUIRED


# ------------------------------------------------------------------------------ properties


def naive_is_ancestor(a: WmdComponent, b: WmdComponent) -> bool:
    # Independent formulation: string prefix on the folded paths, with a trailing separator.
    return fold(b.logical_path + "\\").startswith(fold(a.full_path + "\\"))


@given(vst.writer_metadata(max_components=8))
def test_is_ancestor_matches_a_naive_model(doc: WriterMetadata) -> None:
    for a in doc.components:
        for b in doc.components:
            assert is_ancestor(a, b) == naive_is_ancestor(a, b)


@given(vst.writer_metadata(max_components=8), st.randoms(use_true_random=False))
def test_greedy_selection_never_conflicts(doc: WriterMetadata, rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    order = list(doc.components)
    rnd.shuffle(order)
    added: list[WmdComponent] = []
    for comp in order:
        if rnd.random() < 0.6 and can_add_for_backup(doc, comp, added):
            added.append(comp)
    implicit = implicitly_included(doc, added)
    added_keys = {c.key for c in added}
    # No explicit component is also implicitly included, and nothing added is a
    # non-selectable subcomponent.
    assert not added_keys & {c.key for c in implicit}
    assert all(kind_of(doc, c) is not ComponentKind.NONSELECTABLE_SUBCOMPONENT for c in added)
    # Every implicitly included component has an added selectable ancestor, and each member
    # of an added set is either that definer or implicit.
    for comp in implicit:
        assert any(d.selectable and naive_is_ancestor(d, comp) for d in added)
    for definer in added:
        if definer.selectable:
            for member in set_members(doc, definer)[1:]:
                assert member.key in {c.key for c in implicit}
        ancestor = closest_explicit_ancestor(doc, definer, [a for a in added if a is not definer])
        assert ancestor is None or not ancestor.selectable


def _elementwise_is_ancestor(a: WmdComponent, b: WmdComponent) -> bool:
    # The definition, element by element (what is_ancestor computed before it used strings).
    prefix = [fold(e) for e in split_logical_path(a.full_path)]
    path = [fold(e) for e in split_logical_path(b.logical_path)]
    return len(prefix) <= len(path) and path[: len(prefix)] == prefix


_RAW_PATHS = st.text(alphabet="aAßﬁé\\x", max_size=6)


@given(_RAW_PATHS, _RAW_PATHS, _RAW_PATHS, _RAW_PATHS)
def test_is_ancestor_is_elementwise_whatever_the_strings(
        a_path: str, a_name: str, b_path: str, b_name: str) -> None:
    # Unvalidated strings too (empty names, empty elements, trailing backslashes).
    kind = ComponentType.FILEGROUP
    a = WmdComponent.model_construct(logical_path=a_path, component_name=a_name,
                                     component_type=kind, selectable=True)
    b = WmdComponent.model_construct(logical_path=b_path, component_name=b_name,
                                     component_type=kind, selectable=True)
    assert is_ancestor(a, b) == _elementwise_is_ancestor(a, b)
