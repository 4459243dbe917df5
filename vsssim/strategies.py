"""Hypothesis strategies for vsssim's values (plural nouns, like hypothesis's own).

Every strategy here produces *valid* values only: the documents they draw pass their models'
validators, serialise and load back equal.  Text is drawn from everything XML 1.0 can carry,
with the awkward characters (quotes, ``<>&``, tabs, newlines, carriage returns, leading and
trailing spaces, non-ASCII and astral characters) drawn often, so round-trip properties meet
them.

The second half draws what a test *does* with a simulated machine: component selections that
follow the selectability rules, fault plans, backup and restore plans, volume layouts, and
requester call sequences (legal and illegal).  These are the strategies the conformance machines
of :mod:`vsssim.testing` use; they work as well in a plain ``@given`` test::

    @given(plan=backup_plans(), faults=fault_plans(writers=["KvStore Writer"]))
    def test_my_backup_tool(vss_factory, plan, faults): ...

Importing the module registers the document models (:func:`writer_metadata`,
:func:`backup_components_documents`, the records and smaller models) and the plans
(``FaultPlan``, ``BackupPlan``, ``RestorePlan``, ``VolumeLayout``, each as its strategy without
arguments) with ``st.register_type_strategy``, so ``st.from_type(WriterMetadata)`` works; it
has no other side effect.  When vsssim's types are imported after hypothesis (every pytest
session), ``st.from_type`` imports this module at its first use (see :mod:`vsssim._hypothesis`).

Arguments are checked when a strategy is built (``ValueError``/``TypeError`` naming the
argument), not at its first draw.
"""

from __future__ import annotations

import functools
import math
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from hypothesis import strategies as st

from vsssim import hresult as hr
from vsssim._state import Call
from vsssim.constants import (
    BackupSchema,
    BackupType,
    ComponentFlags,
    ComponentType,
    FileRestoreStatus,
    FileSpecBackupType,
    ProviderType,
    RestoreMethod,
    RestoreTarget,
    RestoreType,
    RollforwardType,
    SnapshotContext,
    SnapshotState,
    SourceType,
    UsageType,
    VolumeSnapshotAttributes,
    WriterRestore,
    WriterState,
)
from vsssim.documents import (
    DEFAULT_BACKUP_TYPE_MASK,
    BackupComponentsDocument,
    BcdComponent,
    ComponentFailure,
    Dependency,
    DifferencedFile,
    DirectedTarget,
    DiskExtent,
    FileDescriptor,
    LocationMapping,
    LunInfo,
    PartialFile,
    RestoreMethodInfo,
    RestoreSubcomponent,
    SnapshotDescription,
    WmdComponent,
    WriterComponents,
    WriterIdentity,
    WriterMetadata,
    kind_of,
)
from vsssim.documents._fields import fold
from vsssim.documents.components import ComponentKind, is_ancestor
from vsssim.documents.records import ProviderProperties, SnapshotProperties, WriterStatus
from vsssim.faults import (
    CREATION_METHODS,
    PROVIDER_FAULT_METHODS,
    WRITER_ACTIONS,
    WRITER_FAULT_EVENTS,
    Fault,
    FaultPlan,
    IdentifyDuring,
    ProviderFault,
    RequesterCrash,
    StorageFault,
    WriterFault,
    check_name,
)
from vsssim.testing.plans import AbandonedBackup, BackupPlan, RestorePlan, VolumeLayout

_T = TypeVar("_T")

__all__ = [
    "CANONICAL_BACKUP",
    "CREATION_EVENTS",
    "PROVIDER_FAILURES",
    "PROVIDER_METHODS",
    "WRITER_ACTIONS",
    "WRITER_EVENTS",
    "WRITER_FAILURES",
    "abandoned_backups",
    "backup_components_documents",
    "backup_plans",
    "call_sequences",
    "component_names",
    "component_selections",
    "fault_plans",
    "file_descriptors",
    "file_paths",
    "filespecs",
    "logical_paths",
    "provider_properties",
    "restore_plans",
    "snapshot_properties",
    "volume_layouts",
    "wmd_components",
    "writer_identities",
    "writer_metadata",
    "writer_statuses",
    "xml_texts",
]

# Characters XML 1.0 cannot carry (the C0 controls but tab, LF and CR; U+FFFE, U+FFFF);
# surrogates are excluded by category.
_XML_ILLEGAL: Final = "".join(chr(c) for c in (*range(0x9), 0xB, 0xC, *range(0xE, 0x20)))
_AWKWARD: Final = [" ", "\t", "\n", "\r", '"', "'", "<", ">", "&", "é", "ß", "\u2028", "😀"]

_xml_chars: Final = st.one_of(
    st.sampled_from(_AWKWARD),
    st.characters(exclude_categories=["Cs"], exclude_characters=_XML_ILLEGAL + "\ufffe\uffff"),
)
# Names and paths refuse every control character (category Cc) and the backslash.
_name_chars: Final = st.one_of(
    st.sampled_from([" ", '"', "<", "&", "é", "ß", "😀", "a", "Z", "."]),
    st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\\\ufffe\uffff"),
)


def xml_texts(*, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    """Any text XML 1.0 can carry, awkward characters drawn often."""
    return st.text(_xml_chars, min_size=min_size, max_size=max_size)


def component_names() -> st.SearchStrategy[str]:
    """Valid component names: non-empty, no backslash, no control characters."""
    return st.text(_name_chars, min_size=1, max_size=8)


def logical_paths(*, max_depth: int = 3) -> st.SearchStrategy[str]:
    """Valid logical paths, ``""`` (the root) included."""
    return st.lists(component_names(), max_size=max_depth).map("\\".join)


def file_paths() -> st.SearchStrategy[str]:
    """Valid, normalised file-set paths (no wildcards, no trailing backslash)."""
    element = st.text(
        st.one_of(st.sampled_from(["a", "D", " ", "é", "%", "$", "."]), _name_chars).filter(
            lambda c: c not in "*?"
        ),
        min_size=1,
        max_size=6,
    )
    root = st.sampled_from(["C:", "D:", "%SystemRoot%", "\\\\server\\share", "\\\\?\\Volume{1}"])
    return st.builds(lambda r, parts: "\\".join([r, *parts]), root, st.lists(element, max_size=3))


def filespecs() -> st.SearchStrategy[str]:
    """Valid file specs: non-empty, no backslash, wildcards allowed."""
    return st.text(
        st.one_of(st.sampled_from(["*", "?", ".", "x"]), _name_chars), min_size=1, max_size=6
    )


_BOOLEANS: Final = st.booleans()


def _count(value: object, name: str, minimum: int = 0) -> int:
    """A strategy's size argument, checked when the strategy is built."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _flags(bits: int) -> st.SearchStrategy[int]:
    return st.integers(0, bits).map(lambda v: v & bits)


_MASK_BITS: Final = 0x10F0F
_SCHEMA_BITS: Final = 0xF7FF


def file_descriptors(
    *, recursive: bool | None = None, alternate: bool = True, mask: bool = True
) -> st.SearchStrategy[FileDescriptor]:
    """Valid file sets.  ``recursive=False`` and ``alternate=False`` give database file sets;
    ``mask=False`` keeps the default mask (include and exclude lists have none of their own).
    """
    return st.builds(
        FileDescriptor,
        path=file_paths(),
        filespec=filespecs(),
        recursive=st.booleans() if recursive is None else st.just(recursive),
        alternate_location=st.one_of(st.just(""), file_paths()) if alternate else st.just(""),
        backup_type_mask=(
            _flags(_MASK_BITS).map(FileSpecBackupType)
            if mask
            else st.just(DEFAULT_BACKUP_TYPE_MASK)
        ),
    )


def writer_identities() -> st.SearchStrategy[WriterIdentity]:
    """Writer identities with random ids, names, usage and source types and versions."""
    return st.builds(
        WriterIdentity,
        writer_id=st.uuids(),
        instance_id=st.uuids(),
        writer_name=xml_texts(min_size=1),
        instance_name=xml_texts(),
        usage_type=st.sampled_from(UsageType),
        source_type=st.sampled_from(SourceType),
        version_major=st.integers(0, 0xFFFF_FFFF),
        version_minor=st.integers(0, 0xFFFF_FFFF),
    )


def _unique_name(name: str, taken: set[tuple[str, str]], logical_path: str) -> str:
    suffix = 0
    candidate = name
    while (fold(logical_path), fold(candidate)) in taken:
        suffix += 1
        candidate = f"{name}~{suffix}"
    return candidate


# The parts of a writer metadata document, built once: hypothesis validates a strategy and
# computes its properties the first time it is drawn from, which costs more than the draw, so a
# strategy built inside a draw pays that at every example.  (The dependencies need the drawn
# writer id, and the parents and mappings the drawn components: those are built per document.)
_UUIDS: Final = st.uuids()
_WHERE: Final = st.sampled_from(["local", "remote path", "remote name"])
_SHORT_PATHS: Final = logical_paths(max_depth=2)
_NAMES: Final = component_names()
_HOW: Final = st.sampled_from(["root", "free", "child", "phantom"])
_COMPONENT_TYPES: Final = st.sampled_from([ComponentType.DATABASE, ComponentType.FILEGROUP])
_DATABASE_SETS: Final = st.lists(file_descriptors(recursive=False, alternate=False), max_size=2)
_FILE_SETS: Final = st.lists(file_descriptors(), max_size=3)
_TEXTS: Final = xml_texts()
_ICONS: Final = st.binary(max_size=8)
_COMPONENT_FLAGS: Final = _flags(0x7)
_RESTORE_METHODS: Final = st.sampled_from(RestoreMethod)
_WRITER_RESTORES: Final = st.sampled_from(WriterRestore)
_FILE_PATHS: Final = file_paths()
_SCHEMAS: Final = _flags(_SCHEMA_BITS)
_IDENTITIES: Final = writer_identities()


def _unique_sets(alternate: bool) -> st.SearchStrategy[list[FileDescriptor]]:
    return st.lists(file_descriptors(alternate=alternate, mask=False), max_size=2,
                    unique_by=lambda d: d.key)


_INCLUDE_SETS: Final = _unique_sets(True)
_EXCLUDE_SETS: Final = _unique_sets(False)


@st.composite
def _dependencies(draw: st.DrawFn, writer_id: uuid.UUID) -> Dependency:
    where = draw(_WHERE)
    path = draw(_SHORT_PATHS)
    name = draw(_NAMES)
    if where == "local":
        other = draw(_UUIDS)
        target = other if other != writer_id else uuid.UUID(int=(other.int + 1) % 2**128)
        return Dependency(writer_id=target, logical_path=path, component_name=name)
    computer = draw(_NAMES)
    # A remote target may belong to the same writer class (the same writer on another node).
    target = writer_id if draw(_BOOLEANS) else draw(_UUIDS)
    if where == "remote path":
        return Dependency(
            writer_id=target, logical_path=f"\\\\{computer}\\{path}", component_name=name
        )
    return Dependency(writer_id=target, logical_path=path, component_name=f"\\\\{computer}\\{name}")


def writer_metadata(*, max_components: int = 6) -> st.SearchStrategy[WriterMetadata]:
    """Valid writer metadata documents: unique component keys in real selectability trees
    (components below other components, below paths with no component of their own, nested
    selectable sets), one declaration per file set, mappings that match file sets,
    dependencies on other writers (or remote ones), any restore method and schema.
    """
    count = st.integers(0, _count(max_components, "max_components"))
    return _writer_metadata(count)


@st.composite
def _writer_metadata(draw: st.DrawFn, count: st.SearchStrategy[int]) -> WriterMetadata:
    identity = draw(_IDENTITIES)
    components: list[WmdComponent] = []
    keys: set[tuple[str, str]] = set()
    file_sets: list[FileDescriptor] = []
    file_keys: set[tuple[str, str, bool]] = set()
    dependencies = st.lists(_dependencies(identity.writer_id), max_size=2)

    def fresh(descs: list[FileDescriptor]) -> list[FileDescriptor]:
        kept = []
        for desc in descs:
            if desc.key not in file_keys:
                file_keys.add(desc.key)
                file_sets.append(desc)
                kept.append(desc)
        return kept

    for _ in range(draw(count)):
        how = draw(_HOW) if components else "root"
        if how == "root":
            logical_path = ""
        elif how == "free":
            logical_path = draw(_SHORT_PATHS)
        else:
            parent = draw(st.sampled_from(components))
            logical_path = parent.full_path
            if draw(_BOOLEANS):  # Windows compares case-insensitively
                logical_path = logical_path.swapcase() if logical_path.isascii() else logical_path
            if how == "phantom":  # like the docs' writerData\QueryLogs
                logical_path += "\\" + draw(_NAMES)
        name = _unique_name(draw(_NAMES), keys, logical_path)
        keys.add((fold(logical_path), fold(name)))
        ctype = draw(_COMPONENT_TYPES)
        database = ctype is ComponentType.DATABASE
        deps = draw(dependencies)
        unique_deps = list({d.key: d for d in deps}.values())
        components.append(
            WmdComponent(
                component_type=ctype,
                logical_path=logical_path,
                component_name=name,
                caption=draw(_TEXTS),
                icon=draw(_ICONS),
                selectable=draw(_BOOLEANS),
                selectable_for_restore=draw(_BOOLEANS),
                component_flags=ComponentFlags(draw(_COMPONENT_FLAGS)),
                files=[] if database else fresh(draw(_FILE_SETS)),
                database_files=fresh(draw(_DATABASE_SETS)) if database else [],
                database_log_files=fresh(draw(_DATABASE_SETS)) if database else [],
                dependencies=unique_deps,
            )
        )

    restore_method = None
    if draw(_BOOLEANS):
        method = draw(_RESTORE_METHODS)
        stops_service = method in (
            RestoreMethod.STOP_RESTORE_START,
            RestoreMethod.RESTORE_STOP_START,
        )
        restore_method = RestoreMethodInfo(
            method=method,
            service=draw(_TEXTS) if stops_service else "",
            user_procedure=draw(_TEXTS),
            writer_restore=draw(_WRITER_RESTORES),
            reboot_required=draw(_BOOLEANS),
        )
    mappings: list[FileDescriptor] = []
    if restore_method is not None and file_sets:
        for source in draw(
            st.lists(st.sampled_from(file_sets), max_size=3, unique_by=lambda d: d.key)
        ):
            mappings.append(
                FileDescriptor(
                    path=source.path,
                    filespec=source.filespec,
                    recursive=source.recursive,
                    alternate_location=draw(_FILE_PATHS),
                )
            )

    return WriterMetadata(
        identity=identity,
        restore_method=restore_method,
        backup_schema=BackupSchema(draw(_SCHEMAS)),
        components=components,
        include_files=draw(_INCLUDE_SETS),
        exclude_files=draw(_EXCLUDE_SETS),
        exclude_files_from_snapshot=draw(_EXCLUDE_SETS),
        alternate_location_mappings=mappings,
    )


def _location_mappings() -> st.SearchStrategy[LocationMapping]:
    return st.builds(
        LocationMapping,
        path=file_paths(),
        filespec=filespecs(),
        recursive=st.booleans(),
        destination=file_paths(),
    )


_file_names: Final = filespecs().filter(lambda s: "*" not in s and "?" not in s)
_int64: Final = st.integers(-(2**63), 2**63 - 1)
_hresults: Final = st.integers(0, 0xFFFF_FFFF)


_PARTIAL_FILES: Final = st.lists(st.builds(
    PartialFile, path=_FILE_PATHS, filename=_file_names, ranges=_TEXTS, metadata=_TEXTS,
    ranges_file_restore_path=_TEXTS), max_size=2)
_DIFFERENCED_FILES: Final = st.lists(st.builds(
    DifferencedFile, path=_FILE_PATHS, filespec=filespecs(), recursive=_BOOLEANS,
    last_modify_time=_int64, lsn=_TEXTS), max_size=2)
_RESTORE_SUBCOMPONENTS: Final = st.lists(st.builds(
    RestoreSubcomponent, logical_path=logical_paths(), component_name=_NAMES,
    repair=_BOOLEANS), max_size=2)
_DIRECTED_TARGETS: Final = st.lists(st.builds(
    DirectedTarget, source_path=_FILE_PATHS, source_filename=_file_names, source_ranges=_TEXTS,
    destination_path=_FILE_PATHS, destination_filename=_file_names,
    destination_ranges=_TEXTS), max_size=2)
_MAPPINGS: Final = st.lists(_location_mappings(), max_size=2)
_FAILURES: Final = st.none() | st.builds(
    ComponentFailure, hresult=_hresults, application_hresult=_hresults, message=_TEXTS)
_RESTORE_TARGETS: Final = st.sampled_from(RestoreTarget)
_FILE_RESTORE_STATUSES: Final = st.sampled_from(FileRestoreStatus)
_ROLL_FORWARD_TYPES: Final = st.sampled_from(RollforwardType)


def _draw_bcd_component(draw: st.DrawFn, logical_path: str, name: str) -> BcdComponent:
    """One component entry of a backup components document, every field drawn."""
    text = _TEXTS
    return BcdComponent(
        component_type=draw(_COMPONENT_TYPES),
        logical_path=logical_path,
        component_name=name,
        backup_succeeded=draw(_BOOLEANS),
        backup_options=draw(text),
        restore_options=draw(text),
        backup_metadata=draw(text),
        restore_metadata=draw(text),
        backup_stamp=draw(text),
        previous_backup_stamp=draw(text),
        partial_files=draw(_PARTIAL_FILES),
        differenced_files=draw(_DIFFERENCED_FILES),
        selected_for_restore=draw(_BOOLEANS),
        restore_subcomponents=draw(_RESTORE_SUBCOMPONENTS),
        additional_restores=draw(_BOOLEANS),
        restore_target=draw(_RESTORE_TARGETS),
        directed_targets=draw(_DIRECTED_TARGETS),
        new_targets=draw(_MAPPINGS),
        alternate_location_mappings=draw(_MAPPINGS),
        file_restore_status=draw(_FILE_RESTORE_STATUSES),
        prepare_for_backup_failure_msg=draw(text),
        post_snapshot_failure_msg=draw(text),
        pre_restore_failure_msg=draw(text),
        post_restore_failure_msg=draw(text),
        authoritative_restore=draw(_BOOLEANS),
        roll_forward_type=draw(_ROLL_FORWARD_TYPES),
        roll_forward_point=draw(text),
        restore_name=draw(text),
        failure=draw(_FAILURES),
    )


def _luns() -> st.SearchStrategy[LunInfo]:
    return st.builds(
        LunInfo,
        device_type=st.integers(0, 0xFFFF_FFFF),
        bus_type=st.integers(0, 0xFFFF_FFFF),
        vendor_id=xml_texts(),
        product_id=xml_texts(),
        product_revision=xml_texts(),
        serial_number=xml_texts(),
        page83_id=xml_texts(),
    )


_VOLUME_NAMES: Final = xml_texts(min_size=1)
_ATTRIBUTES: Final = st.integers(0, 0xFFFF_FFFF)
_LUN_LISTS: Final = st.lists(_luns(), max_size=2)
_EXTENTS: Final = st.lists(st.builds(
    DiskExtent, offset=st.integers(0, 2**63 - 1), length=st.integers(0, 2**63 - 1)), max_size=2)


def _draw_snapshot(draw: st.DrawFn, snapshot_id: uuid.UUID) -> SnapshotDescription:
    """One snapshot of a backup components document, every field drawn."""
    return SnapshotDescription(
        snapshot_id=snapshot_id,
        original_volume=draw(_VOLUME_NAMES),
        provider_id=draw(_UUIDS),
        attributes=draw(_ATTRIBUTES),
        timestamp=draw(_int64),
        original_luns=draw(_LUN_LISTS),
        target_luns=draw(_LUN_LISTS),
        extents=draw(_EXTENTS),
    )


_CLASSES: Final = st.lists(_UUIDS, min_size=1, max_size=2, unique=True)
_SNAPSHOT_IDS: Final = st.lists(_UUIDS, max_size=2, unique=True)
_UP_TO_THREE: Final = st.integers(0, 3)
_BACKUP_TYPES_ALL: Final = st.sampled_from(BackupType)
_RESTORE_TYPES: Final = st.sampled_from(RestoreType)
_CONTEXT_BITS: Final = st.integers(0, 0xFFFF_FFFF)
_SET_IDS: Final = st.none() | _UUIDS


def backup_components_documents(*, max_writers: int = 3
                                ) -> st.SearchStrategy[BackupComponentsDocument]:
    """Valid backup components documents: unique writer instances (some sharing a writer
    class), component keys unique per writer class, unique snapshot ids, every field drawn.
    """
    instances = st.lists(_UUIDS, max_size=_count(max_writers, "max_writers"), unique=True)
    return _backup_components_documents(instances)


@st.composite
def _backup_components_documents(draw: st.DrawFn, instances: st.SearchStrategy[list[uuid.UUID]]
                                 ) -> BackupComponentsDocument:
    classes = draw(_CLASSES)
    writer_ids = st.sampled_from(classes)
    taken: dict[uuid.UUID, set[tuple[str, str]]] = {}
    writers = []
    for instance_id in draw(instances):
        writer_id = draw(writer_ids)
        keys = taken.setdefault(writer_id, set())
        components = []
        for _ in range(draw(_UP_TO_THREE)):
            logical_path = draw(_SHORT_PATHS)
            name = _unique_name(draw(_NAMES), keys, logical_path)
            keys.add((fold(logical_path), fold(name)))
            components.append(_draw_bcd_component(draw, logical_path, name))
        writers.append(
            WriterComponents(
                instance_id=instance_id,
                writer_id=writer_id,
                instance_name=draw(_TEXTS),
                components=components,
            )
        )
    snapshot_ids = draw(_SNAPSHOT_IDS)
    return BackupComponentsDocument(
        select_components=draw(_BOOLEANS),
        bootable_system_state=draw(_BOOLEANS),
        backup_type=draw(_BACKUP_TYPES_ALL),
        partial_file_support=draw(_BOOLEANS),
        restore_type=draw(_RESTORE_TYPES),
        context=draw(_CONTEXT_BITS),
        snapshot_set_id=draw(_SET_IDS),
        snapshots=[_draw_snapshot(draw, i) for i in snapshot_ids],
        writers=writers,
        originating_machine=draw(_TEXTS),
        os_version=draw(_TEXTS),
    )


# ------------------------------------------------------------------------------ records
def writer_statuses() -> st.SearchStrategy[WriterStatus]:
    """``GetWriterStatus`` entries: any state, any failure codes."""
    return st.builds(
        WriterStatus,
        instance_id=st.uuids(),
        writer_id=st.uuids(),
        writer_name=xml_texts(min_size=1),
        instance_name=xml_texts(),
        state=st.sampled_from(WriterState),
        failure=_hresults,
        application_failure=_hresults,
        application_message=xml_texts(),
    )


def snapshot_properties() -> st.SearchStrategy[SnapshotProperties]:
    """``VSS_SNAPSHOT_PROP`` records with any attributes and state."""
    return st.builds(
        SnapshotProperties,
        snapshot_id=st.uuids(),
        snapshot_set_id=st.uuids(),
        snapshots_count=st.integers(0, 0xFFFF_FFFF),
        snapshot_device_object=xml_texts(),
        original_volume_name=xml_texts(),
        originating_machine=xml_texts(),
        service_machine=xml_texts(),
        exposed_name=st.none() | xml_texts(),
        exposed_path=st.none() | xml_texts(),
        provider_id=st.uuids(),
        snapshot_attributes=st.integers(0, 0xFFFF_FFFF),
        creation_timestamp=_int64,
        status=st.sampled_from(SnapshotState),
    )


def provider_properties() -> st.SearchStrategy[ProviderProperties]:
    """``VSS_PROVIDER_PROP`` records."""
    return st.builds(
        ProviderProperties,
        provider_id=st.uuids(),
        provider_name=xml_texts(min_size=1),
        provider_type=st.sampled_from(ProviderType),
        provider_version=xml_texts(),
        provider_version_id=st.uuids(),
        class_id=st.uuids(),
    )


def wmd_components() -> st.SearchStrategy[WmdComponent]:
    """Single writer-metadata components (drawn from valid documents)."""
    return writer_metadata(max_components=4).filter(lambda w: bool(w.components)).flatmap(
        lambda w: st.sampled_from(w.components))


# ------------------------------------------------------------- what a test does with a machine
#: Writer events by their VSS names (``WriterFault.event``; the faults' own list).
WRITER_EVENTS: Final = WRITER_FAULT_EVENTS
#: Events of a backup's snapshot creation (where Identify from another program and requester
#: crashes are most interesting).
CREATION_EVENTS: Final = ("PrepareForBackup", "PrepareForSnapshot", "Freeze", "Thaw",
                          "PostSnapshot")
#: Provider methods VSS calls while creating a set (``ProviderFault.method``).
PROVIDER_METHODS: Final = CREATION_METHODS
#: The codes ``SetWriterFailure`` accepts (reference §5).
WRITER_FAILURES: Final = (hr.VSS_E_WRITERERROR_RETRYABLE, hr.VSS_E_WRITERERROR_NONRETRYABLE,
                          hr.VSS_E_WRITERERROR_OUTOFRESOURCES, hr.VSS_E_WRITERERROR_TIMEOUT,
                          hr.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT)
#: Provider failures (one outside the allowed list, E_FAIL, is translated by VSS).
PROVIDER_FAILURES: Final = (hr.VSS_E_PROVIDER_VETO, hr.VSS_E_UNEXPECTED_PROVIDER_ERROR,
                            hr.E_OUTOFMEMORY, hr.VSS_E_INSUFFICIENT_STORAGE, hr.E_FAIL)
#: What a ``WriterFault`` makes the handler do (``WriterFault.action``).
_DELAYS: Final = (0.5, 5.0, 30.0, 70.0)  # 70 s overruns the default 60 s freeze window


def _listed(value: Sequence[_T], what: str) -> tuple[_T, ...]:
    """``value`` as a tuple, refusing a bare string (which would be read letter by letter)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} is a list of names ([{value!r}]), not one string")
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{what} is a list, not {type(value).__name__}") from None


def _some(value: Sequence[_T], what: str) -> tuple[_T, ...]:
    """:func:`_listed`, refusing an empty list (there would be nothing to draw from)."""
    items = _listed(value, what)
    if not items:
        raise ValueError(f"{what} is empty: there is nothing to draw from")
    return items


def _known(names: tuple[str, ...], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Refuse a name that is not one of ``allowed`` (a misspelt one would never match)."""
    for name in names:
        check_name(f"each of {what}", name, allowed)
    return names


def _check_backup_types(values: Sequence[object], what: str = "backup_types") -> None:
    """Raise ``ValueError`` (``TypeError`` for a non-int) unless each of ``values`` is a
    ``VSS_BACKUP_TYPE`` (a :class:`~vsssim.constants.BackupType`, or its int value)."""
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"each of {what} must be a BackupType, not {value!r}")
        if value not in _ALL_BACKUP_TYPES:
            raise ValueError(f"each of {what} must be a BackupType (VSS_BACKUP_TYPE: "
                             f"{', '.join(t.name for t in BackupType)}), not {value!r}")


def _check_contexts(values: Sequence[object], what: str = "contexts") -> None:
    """Raise ``ValueError`` (``TypeError`` for a non-int) unless each of ``values`` is a
    context ``SetContext`` takes (:func:`vsssim.requester.check_context_bits`; whether the
    machine's Windows edition supports it is for the machine to say)."""
    from vsssim.requester import check_context_bits

    for value in values:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"each of {what} must be an int (a SnapshotContext, perhaps with "
                            f"VolumeSnapshotAttributes bits), not {value!r}")
        try:
            check_context_bits(value)
        except ValueError as exc:
            raise ValueError(f"each of {what} must be a context SetContext takes, not "
                             f"{value!r}: {exc}") from None


_ALL_BACKUP_TYPES: Final = frozenset(int(t) for t in BackupType)


def _document(metadata: object, what: str = "metadata") -> WriterMetadata:
    """A writer metadata document argument (a value, not the strategy that draws one)."""
    if isinstance(metadata, WriterMetadata):
        return metadata
    hint = (": draw a document first (data.draw(writer_metadata()), or @given(...) with a "
            "strategy built from the drawn value)" if isinstance(metadata, st.SearchStrategy)
            else "")
    raise TypeError(f"{what} must be a WriterMetadata document, not "
                    f"{type(metadata).__name__}{hint}")


@functools.lru_cache(maxsize=256)
def _choices(items: tuple[_T, ...]) -> st.SearchStrategy[_T]:
    """``sampled_from(items)``, built once per tuple (see :func:`_indices`)."""
    return st.sampled_from(items)


# How the plan strategies below draw: each plan is one @st.composite whose draws are plain
# integer choices, as few as it can, and whose values are looked up or built from them in
# Python.  Every draw from a strategy costs a span and hypothesis's bookkeeping of a choice,
# which outweigh the choice itself (a nested composite, builds(), map() or lists() costs more
# still), so the small choices of a plan share integers (see _Digits).  An index into a tuple
# shrinks like sampled_from (towards the first item); a choice of one item is not drawn.
@functools.lru_cache(maxsize=256)
def _indices(count: int) -> st.SearchStrategy[int]:
    """An index below ``count``, built once per count: hypothesis validates a new strategy and
    computes its properties on first use, which costs more than the draw itself.

    ``sampled_from(range(count))`` rather than ``integers(0, count - 1)``: the same one
    integer choice, but all ``integers()`` share a label, and hypothesis's generator copies
    values between draws of one label (a rule's small ``integers(1, 12)`` into a plan's
    choice of 135 values, where it would pick the first type and context over and over);
    and above 128 values ``integers()`` also weights the ends (and costs more)."""
    return st.sampled_from(range(count))


#: The most values one integer choice holding several digits may take: hypothesis draws up to
#: 256 values uniformly; its distribution of a wider range favours the small values.
_PACKED: Final = 256


class _Digits:
    """Several choices of a plan, each an index ("digit") below its radix, drawn as few integer
    choices as possible: consecutive digits share one integer (mixed radix, the first digit
    the most significant) while it takes at most :data:`_PACKED` values.  Drawn uniformly, its
    digits are as uniform and independent as separate draws (but where hypothesis sets a choice
    to its simplest value, they are all 0 together: the first digits are 0 more often than
    separate draws would be); it shrinks towards 0, each digit towards its first value, an
    earlier one before a later one.  A radix above the limit gets an integer of its own;
    digits of radix 1 are not drawn."""

    __slots__ = ("_groups",)

    def __init__(self, radices: Sequence[int]) -> None:
        groups: list[tuple[st.SearchStrategy[int] | None, tuple[tuple[int, int], ...]]] = []
        run: list[int] = []
        size = 1
        for radix in (*radices, _PACKED + 1):  # the last one closes the last group
            if run and size * radix > _PACKED:
                place, places = size, []
                for r in run:
                    place //= r
                    places.append((place, r))
                groups.append((_indices(size) if size > 1 else None, tuple(places)))
                run, size = [], 1
            run.append(radix)
            size *= radix
        self._groups = tuple(groups)

    def draw(self, draw: st.DrawFn) -> list[int]:
        """The digits, in the order of the radices."""
        digits: list[int] = []
        for values, places in self._groups:
            value = draw(values) if values is not None else 0
            digits += [value // place % radix for place, radix in places]
        return digits


_CACHED: Final = 4096  # the most values a plan strategy keeps per drawn key


class _Selector:
    """The draw of :func:`component_selections` for one document, which the plan strategies
    call inline (one span less than drawing the composite) or pack with their other choices,
    and whose selections, and the plans' values made from them, are computed once per key.

    The draw: one integer (shrinks towards adding nothing), a bitmask over the selectable
    components, with one more value for the required components alone."""

    def __init__(self, metadata: WriterMetadata) -> None:
        comps = _document(metadata).components
        kinds = [kind_of(metadata, c) for c in comps]
        self._comps = comps
        self._optional = [i for i, k in enumerate(kinds)
                          if k in (ComponentKind.SELECTABLE,
                                   ComponentKind.SELECTABLE_SUBCOMPONENT)]
        self._required = [i for i, k in enumerate(kinds) if k is ComponentKind.REQUIRED]
        # One integer per selection, in the order it shrinks: nothing, the required components
        # alone (if any), then each non-empty bitmask over the selectable ones.
        self._alone = 1 if self._required else 0
        #: How many selections there are (the values :meth:`key` takes).
        self.choices = (1 << len(self._optional)) + self._alone
        self._keys = _indices(self.choices) if self.choices > 1 else None
        self._selections: dict[tuple[int, bool], tuple[WmdComponent, ...]] = {}

    def draw_key(self, draw: st.DrawFn) -> tuple[int, bool]:
        """Draw a selection: the key (mask, required alone) :meth:`select` turns into
        components."""
        return self.key(draw(self._keys) if self._keys is not None else 0)

    def key(self, value: int) -> tuple[int, bool]:
        """The key of selection ``value`` (``0 <= value < choices``; 0 adds nothing)."""
        if value <= self._alone:
            return 0, value == 1
        return value - self._alone, False

    def select(self, key: tuple[int, bool]) -> tuple[WmdComponent, ...]:
        """The components of a drawn key (see :func:`component_selections`)."""
        found = self._selections.get(key)
        if found is None:
            found = self._select(*key)
            if len(self._selections) < _CACHED:
                self._selections[key] = found
        return found

    def _select(self, mask: int, with_required: bool) -> tuple[WmdComponent, ...]:
        comps = self._comps
        chosen = [comps[i] for n, i in enumerate(self._optional) if mask >> n & 1]
        chosen_ids = {id(c) for c in chosen
                      if not any(a is not c and is_ancestor(a, c) for a in chosen)}
        if chosen_ids or with_required:
            chosen_ids |= {id(comps[i]) for i in self._required}
        # Stable sort: metadata order within a depth.
        return tuple(sorted((c for c in comps if id(c) in chosen_ids),
                            key=lambda c: c.full_path.count("\\")))


class _Memo(dict[object, _T]):
    """Values built from drawn keys, kept up to :data:`_CACHED` of them."""

    def get_or_make(self, key: object, make: Callable[[], _T]) -> _T:
        found = self.get(key)
        if found is None:
            found = make()
            if len(self) < _CACHED:
                self[key] = found
        return found


def component_selections(metadata: WriterMetadata) -> st.SearchStrategy[list[WmdComponent]]:
    """The components a requester may add for one writer (``AddComponent``, reference §8.2):
    a subset of its selectable components, never one whose selectable ancestor is added too
    (rule 8), never a non-selectable subcomponent, and, whenever anything is added, every
    required component.  May be empty (the writer then takes no part).  Ancestors come before
    their descendants, otherwise metadata order; added in this order, every ``AddComponent``
    is accepted.  Shrinks towards adding nothing."""
    selector = _Selector(metadata)

    @st.composite
    def selections(draw: st.DrawFn) -> list[WmdComponent]:
        return list(selector.select(selector.draw_key(draw)))

    return selections()


def _names_need_metadata(metadata: object, writer_name: object, function: str) -> None:
    """Refuse ``writer_name`` without ``metadata``: a plan names components only from the
    metadata, and would silently ignore the name."""
    if metadata is None and writer_name is not None:
        raise ValueError(f"{function}(writer_name=...) needs the writer's metadata too (the "
                         "components come from it, their names start with writer_name): "
                         f"{function}(metadata, writer_name={writer_name!r})")


def _plan_names(metadata: WriterMetadata | None, writer_name: str | None
                ) -> tuple[_Selector | None, str]:
    """A plan's component selector (None without metadata) and the writer name its
    ``"writer:full path"`` names start with."""
    if metadata is None:
        return None, ""
    if writer_name is not None and not isinstance(writer_name, str):
        raise TypeError(f"writer_name must be a str, not {type(writer_name).__name__}")
    return _Selector(metadata), writer_name or metadata.identity.writer_name


# A fault kind's draw: the values of its fields, one digit each, and how to build the fault
# from them.
_FaultKind = tuple[tuple[tuple[object, ...], ...], Callable[..., Fault]]


def _writer_faults(writers: Sequence[str | None], events: Sequence[str],
                   actions: Sequence[str]) -> list[_FaultKind]:
    return [((tuple(events), tuple(writers), tuple(actions), WRITER_FAILURES, _DELAYS, (1, 2)),
             lambda event, writer, action, hresult, delay, occurrence: WriterFault(
                 event, writer, action, hresult, delay=delay, occurrence=occurrence))]


def _provider_faults(methods: Sequence[str]) -> list[_FaultKind]:
    listed = tuple(methods)
    return [
        ((listed, PROVIDER_FAILURES),
         lambda method, hresult: ProviderFault(method, hresult=hresult)),
        # 12 s overruns the 10 s hold
        (((2.0, 12.0),),
         lambda delay: ProviderFault("CommitSnapshots", hresult=None, delay=delay)),
        ((listed,), lambda method: ProviderFault(method, hresult=None, raise_exception=True)),
    ]


class _FaultDrawer:
    """The draw of :func:`fault_plans`, which :func:`backup_plans` and the writer conformance
    machine also call inline (a nested strategy costs a span more).

    A plan: how many faults (one integer, towards none; :func:`backup_plans` packs it with its
    own choices), then each fault: its kind, then its fields as digits (a writer fault's six
    fields are two integers).  The kind is one choice from a table in which each group of
    kinds (writer, provider, requester crash, Identify, storage) has the same share and each of
    the three provider kinds a third of its group's: it shrinks towards the writer fault.  The
    same choices give the same (immutable, checked once) fault."""

    def __init__(self, groups: Sequence[Sequence[_FaultKind]], max_faults: int) -> None:
        share = math.lcm(*(len(group) for group in groups))
        self._table = tuple((g, k) for g, group in enumerate(groups)
                            for k in range(len(group)) for _ in range(share // len(group)))
        self._kinds = _indices(len(self._table)) if len(self._table) > 1 else None
        self._fields = tuple(tuple((_Digits([len(choices) for choices in fields]), fields, make)
                                   for fields, make in group) for group in groups)
        #: The most faults of a plan (the radix of its count is one more).
        self.max_faults = max_faults
        self._counts = _indices(max_faults + 1) if max_faults else None
        self._memo: _Memo[Fault] = _Memo()

    def fault(self, draw: st.DrawFn) -> Fault:
        """Draw one fault."""
        group, kind = self._table[draw(self._kinds)] if self._kinds is not None else (0, 0)
        digits, fields, make = self._fields[group][kind]
        picks = digits.draw(draw)
        return self._memo.get_or_make((group, kind, *picks), lambda: make(
            *(choices[i] for choices, i in zip(fields, picks, strict=True))))

    def faults(self, draw: st.DrawFn, count: int) -> list[Fault]:
        """Draw ``count`` faults."""
        return [self.fault(draw) for _ in range(count)]

    def plan(self, draw: st.DrawFn) -> FaultPlan:
        """Draw a plan: its count, then its faults."""
        return FaultPlan(self.faults(draw, draw(self._counts) if self._counts is not None
                                     else 0))


# The drawer of each strategy fault_plans() made, for backup_plans(faults=...) to draw inline
# (weak keys: an entry lives as long as its strategy).
_FAULT_DRAWERS: Final[weakref.WeakKeyDictionary[st.SearchStrategy[FaultPlan], _FaultDrawer]] \
    = weakref.WeakKeyDictionary()


def _fault_drawer(
    *,
    writers: Sequence[str | None] = (None,),
    events: Sequence[str] = WRITER_EVENTS,
    actions: Sequence[str] = WRITER_ACTIONS,
    provider_methods: Sequence[str] = PROVIDER_METHODS,
    requester_crashes: bool = True,
    identify_during: bool = True,
    storage_volumes: Sequence[str] = (),
    max_faults: int = 2,
) -> _FaultDrawer | None:
    """The drawer of :func:`fault_plans` (None when every kind is switched off)."""
    if writers is None:
        raise TypeError("writers is a list of writer names; [None] means any writer")
    writers = _listed(writers, "writers")
    events = _known(_listed(events, "events"), WRITER_FAULT_EVENTS, "events")
    actions = _known(_listed(actions, "actions"), WRITER_ACTIONS, "actions")
    provider_methods = _known(_listed(provider_methods, "provider_methods"),
                              PROVIDER_FAULT_METHODS, "provider_methods")
    storage_volumes = _listed(storage_volumes, "storage_volumes")
    _count(max_faults, "max_faults")
    kinds: list[list[_FaultKind]] = []
    if writers and events and actions:
        kinds.append(_writer_faults(writers, events, actions))
    if provider_methods:
        kinds.append(_provider_faults(provider_methods))
    if requester_crashes:
        kinds.append([((CREATION_EVENTS,), lambda after: RequesterCrash(after=after))])
    if identify_during:
        kinds.append([((CREATION_EVENTS,), lambda event: IdentifyDuring(event=event))])
    if storage_volumes:
        kinds.append([((storage_volumes,), lambda volume: StorageFault(volume=volume))])
    return _FaultDrawer(kinds, max_faults) if kinds else None


def fault_plans(
    *,
    writers: Sequence[str | None] = (None,),
    events: Sequence[str] = WRITER_EVENTS,
    actions: Sequence[str] = WRITER_ACTIONS,
    provider_methods: Sequence[str] = PROVIDER_METHODS,
    requester_crashes: bool = True,
    identify_during: bool = True,
    storage_volumes: Sequence[str] = (),
    max_faults: int = 2,
) -> st.SearchStrategy[FaultPlan]:
    """Fault plans (:class:`~vsssim.faults.FaultPlan`) of every kind: writer faults (veto, fail,
    raise, delay, return None, hang; at ``events``, for one of ``writers``, ``None`` = any),
    provider faults (errors, a commit slower than the hold, exceptions), requester crashes after
    a creation event, Identify from another program before one, and a full diff area on one of
    ``storage_volumes``.  Empty lists switch a kind off; shrinks towards no fault."""
    drawer = _fault_drawer(writers=writers, events=events, actions=actions,
                           provider_methods=provider_methods,
                           requester_crashes=requester_crashes,
                           identify_during=identify_during, storage_volumes=storage_volumes,
                           max_faults=max_faults)
    if drawer is None:
        return st.just(FaultPlan())

    @st.composite
    def plans(draw: st.DrawFn) -> FaultPlan:
        return drawer.plan(draw)

    strategy = plans()
    _FAULT_DRAWERS[strategy] = drawer
    return strategy


_BACKUP_TYPES: Final = (BackupType.FULL, BackupType.COPY, BackupType.INCREMENTAL,
                        BackupType.DIFFERENTIAL, BackupType.LOG)
_CONTEXTS: Final = (int(SnapshotContext.BACKUP), int(SnapshotContext.APP_ROLLBACK),
                    int(SnapshotContext.BACKUP) | int(VolumeSnapshotAttributes.NO_AUTORECOVERY))


class _BackupDrawer:
    """The draw of :func:`backup_plans`: one integer for the selection (0: the canonical one;
    then each of the selector's), the type, the context and, with faults of
    :func:`fault_plans`, how many faults (packed as :class:`_Digits`), then the faults."""

    def __init__(self, selector: _Selector | None, name: str, volumes: tuple[str, ...],
                 types: tuple[BackupType, ...], contexts: tuple[int, ...],
                 faults: _FaultDrawer | st.SearchStrategy[FaultPlan] | None) -> None:
        self._selector, self._name, self._volumes = selector, name, volumes
        self._types, self._contexts, self._faults = types, contexts, faults
        inline = faults.max_faults + 1 if isinstance(faults, _FaultDrawer) else 1
        self._digits = _Digits([selector.choices + 1 if selector is not None else 1,
                                len(types), len(contexts), inline])
        self._names: _Memo[tuple[str, ...]] = _Memo()

    def draw(self, draw: st.DrawFn) -> BackupPlan:
        """Draw a plan."""
        selection, type_, context, count = self._digits.draw(draw)
        components: tuple[str, ...] | None = None
        selector = self._selector
        if selector is not None and selection:
            key = selector.key(selection - 1)
            components = self._names.get_or_make(key, lambda: tuple(
                f"{self._name}:{c.full_path}" for c in selector.select(key)))
        faults = self._faults
        drawn: tuple[Fault, ...] = ()
        if isinstance(faults, _FaultDrawer):
            drawn = tuple(faults.faults(draw, count))
        elif faults is not None:
            drawn = tuple(draw(faults).faults)
        return BackupPlan(volumes=self._volumes, backup_type=self._types[type_],
                          context=self._contexts[context], components=components,
                          faults=drawn)


def _backup_drawer(
    metadata: WriterMetadata | None = None,
    *,
    writer_name: str | None = None,
    volumes: Sequence[str] = ("C:\\",),
    backup_types: Sequence[BackupType] = _BACKUP_TYPES,
    contexts: Sequence[int] = _CONTEXTS,
    faults: _FaultDrawer | st.SearchStrategy[FaultPlan] | None = None,
) -> _BackupDrawer:
    """The drawer of :func:`backup_plans` (``faults`` may be a fault drawer itself)."""
    # The parts are built here, once: a strategy built inside the draw would be validated
    # again at every draw, which costs more than drawing from it.
    targets = _listed(volumes, "volumes")
    types = _some(backup_types, "backup_types")
    _check_backup_types(types)
    kinds = _some(contexts, "contexts")
    _check_contexts(kinds)
    selector, name = _plan_names(metadata, writer_name)
    if faults is not None and not isinstance(faults, st.SearchStrategy | _FaultDrawer):
        raise TypeError(f"faults is a strategy of fault plans (fault_plans(), with its "
                        f"parentheses), not {type(faults).__name__}")
    if isinstance(faults, st.SearchStrategy):
        faults = _FAULT_DRAWERS.get(faults, faults)
    return _BackupDrawer(selector, name, targets, types, kinds, faults)


def backup_plans(
    metadata: WriterMetadata | None = None,
    *,
    writer_name: str | None = None,
    volumes: Sequence[str] = ("C:\\",),
    backup_types: Sequence[BackupType] = _BACKUP_TYPES,
    contexts: Sequence[int] = _CONTEXTS,
    faults: st.SearchStrategy[FaultPlan] | None = None,
) -> st.SearchStrategy[BackupPlan]:
    """One ``VssSystem.backup``: type, context (plain backup, application rollback, no
    auto-recovery), the components of one writer (from its ``metadata``, following the
    selection rules) or the canonical selection, and the faults drawn from ``faults``.
    Shrinks towards a plain full backup of everything without faults.

    ``writer_name`` (it needs ``metadata``) is the writer name the components' names start
    with, when it differs from the metadata's.  ``backup_types`` are
    :class:`~vsssim.constants.BackupType` values, ``contexts`` contexts ``SetContext`` takes:
    both are checked here."""
    _names_need_metadata(metadata, writer_name, "backup_plans")
    drawer = _backup_drawer(metadata, writer_name=writer_name, volumes=volumes,
                            backup_types=backup_types, contexts=contexts, faults=faults)

    @st.composite
    def plans(draw: st.DrawFn) -> BackupPlan:
        return drawer.draw(draw)

    return plans()


_RESTORE_WHAT: Final = ("all", "writer", "components")


class _RestoreDrawer:
    """The draw of :func:`restore_plans`: one integer for the backup, what to restore, whether
    additional restores follow and, with a fault drawer (the writer conformance machine's
    PreRestore / PostRestore faults), how many faults; then the selection, if it restores
    components, and the faults."""

    def __init__(self, backups: int, selector: _Selector | None, name: str,
                 faults: _FaultDrawer | None = None) -> None:
        self._selector, self._name, self._faults = selector, name, faults
        self._digits = _Digits([backups, len(_RESTORE_WHAT), 2,
                                faults.max_faults + 1 if faults is not None else 1])
        self._names: _Memo[tuple[str, ...]] = _Memo()

    def draw(self, draw: st.DrawFn) -> RestorePlan:
        """Draw a plan."""
        return self.draw_with_faults(draw)[0]

    def draw_with_faults(self, draw: st.DrawFn) -> tuple[RestorePlan, FaultPlan]:
        """Draw a plan and its faults (an empty plan without a fault drawer)."""
        chosen, what, additional, count = self._digits.draw(draw)
        components: tuple[str, ...] | None = None
        selector = self._selector
        if selector is not None and what:
            if what == 1:
                components = (self._name,)
            else:
                key = selector.draw_key(draw)
                components = self._names.get_or_make(key, lambda: tuple(
                    f"{self._name}:{c.full_path}" for c in selector.select(key)))
        faults = self._faults.faults(draw, count) if self._faults is not None else []
        return (RestorePlan(backup=chosen, components=components,
                            additional_restores=bool(additional)), FaultPlan(faults))


def _restore_drawer(backups: int = 1, metadata: WriterMetadata | None = None, *,
                    writer_name: str | None = None,
                    faults: _FaultDrawer | None = None) -> _RestoreDrawer:
    """The drawer of :func:`restore_plans`, with ``faults`` drawn along (see there)."""
    if not isinstance(backups, int) or isinstance(backups, bool):
        hint = ("; the metadata goes second (restore_plans(count, metadata))"
                if isinstance(backups, WriterMetadata | st.SearchStrategy) else "")
        raise TypeError(f"backups is the number of completed backups (an int), not "
                        f"{type(backups).__name__}{hint}")
    if backups < 1:
        raise ValueError("restore_plans needs at least one backup to restore")
    selector, name = _plan_names(metadata, writer_name)
    return _RestoreDrawer(backups, selector, name, faults)


def restore_plans(
    backups: int = 1,
    metadata: WriterMetadata | None = None,
    *,
    writer_name: str | None = None,
) -> st.SearchStrategy[RestorePlan]:
    """One ``VssSystem.restore`` of one of ``backups`` completed backups: everything, the
    writer alone, or some of its components (from ``metadata``), with or without additional
    restores to follow.  Shrinks towards restoring everything of the first backup.  The
    components come from the metadata, not from the backup: for a backup of some components,
    run ``plan.within(backup.component_names)``.  ``writer_name`` (it needs ``metadata``) is
    the writer name the components' names start with, when it differs from the metadata's."""
    _names_need_metadata(metadata, writer_name, "restore_plans")
    drawer = _restore_drawer(backups, metadata, writer_name=writer_name)

    @st.composite
    def plans(draw: st.DrawFn) -> RestorePlan:
        return drawer.draw(draw)

    return plans()


class _AbandonedDrawer:
    """The draw of :func:`abandoned_backups`: one integer for the selection, where the
    requester stops, whether it aborts and the backup type."""

    def __init__(self, selector: _Selector | None, volumes: tuple[str, ...]) -> None:
        self._selector, self._volumes = selector, volumes
        self._digits = _Digits([selector.choices if selector is not None else 1,
                                len(AbandonedBackup.STOPS), 2, len(_BACKUP_TYPES)])
        self._memo: _Memo[AbandonedBackup] = _Memo()

    def draw(self, draw: st.DrawFn) -> AbandonedBackup:
        """Draw a plan."""
        digits = self._digits.draw(draw)
        return self._memo.get_or_make(tuple(digits), lambda: self._make(*digits))

    def _make(self, selection: int, stop: int, abort: int, type_: int) -> AbandonedBackup:
        selector = self._selector
        chosen = selector.select(selector.key(selection)) if selector is not None else ()
        return AbandonedBackup(
            stop_after=AbandonedBackup.STOPS[stop], abort=bool(abort),
            backup_type=_BACKUP_TYPES[type_], volumes=self._volumes,
            components=tuple((c.component_type, c.logical_path, c.component_name)
                             for c in chosen))


def _abandoned_drawer(metadata: WriterMetadata | None = None, *,
                      volumes: Sequence[str] = ("C:\\",)) -> _AbandonedDrawer:
    """The drawer of :func:`abandoned_backups`."""
    return _AbandonedDrawer(_Selector(metadata) if metadata is not None else None,
                            _some(volumes, "volumes"))


def abandoned_backups(
    metadata: WriterMetadata | None = None,
    *,
    volumes: Sequence[str] = ("C:\\",),
) -> st.SearchStrategy[AbandonedBackup]:
    """A requester that stops part-way through a backup (after StartSnapshotSet,
    PrepareForBackup or DoSnapshotSet), with or without AbortBackup, selecting components of
    the writer described by ``metadata``, on ``volumes`` (at least one)."""
    drawer = _abandoned_drawer(metadata, volumes=volumes)

    @st.composite
    def plans(draw: st.DrawFn) -> AbandonedBackup:
        return drawer.draw(draw)

    return plans()


_MiB: Final = 1 << 20
_BLOCK: Final = 16 * 1024  # a volume's default block size (VssSystem.add_volume)


def volume_layouts(
    *,
    names: Sequence[str] = ("C:\\", "D:\\", "E:\\"),
    min_volumes: int = 1,
    max_volumes: int = 2,
    sizes: Sequence[int] = (8 * _MiB, 16 * _MiB, 32 * _MiB),
) -> st.SearchStrategy[VolumeLayout]:
    """The volumes of a machine: the first ``n`` of ``names`` with sizes from ``sizes``
    (positive multiples of the 16 KiB block; ``min_volumes <= n <= max_volumes``)."""
    labels = _some(names, "names")
    if not all(isinstance(n, str) for n in labels):
        raise TypeError(f"names are volume names (str), not {labels!r}")
    low = _count(min_volumes, "min_volumes")
    high = min(_count(max_volumes, "max_volumes"), len(labels))
    if low > high:
        raise ValueError(f"min_volumes={low} is more than max_volumes={max_volumes} or the "
                         f"{len(labels)} names")
    chosen = _some(sizes, "sizes")
    for size in chosen:
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0 \
                or size % _BLOCK:
            raise ValueError(f"sizes: {size!r} is not a positive multiple of the "
                             f"{_BLOCK // 1024} KiB block")
    counts, drawn = st.integers(low, high), _choices(chosen)

    @st.composite
    def layouts(draw: st.DrawFn) -> VolumeLayout:
        n = draw(counts)
        return VolumeLayout(tuple((labels[i], draw(drawn)) for i in range(n)))

    return layouts()


#: The documented backup sequence (reference B1..B19), as ``IVssBackupComponents`` calls.
CANONICAL_BACKUP: Final = (
    Call.INITIALIZE_FOR_BACKUP, Call.GATHER_WRITER_METADATA, Call.SET_BACKUP_STATE,
    Call.ADD_COMPONENT, Call.START_SNAPSHOT_SET, Call.ADD_TO_SNAPSHOT_SET,
    Call.PREPARE_FOR_BACKUP, Call.GATHER_WRITER_STATUS, Call.DO_SNAPSHOT_SET,
    Call.GATHER_WRITER_STATUS, Call.SET_BACKUP_SUCCEEDED, Call.SAVE_AS_XML, Call.BACKUP_COMPLETE,
    Call.GATHER_WRITER_STATUS, Call.RELEASE,
)
_PUBLIC_CALLS: Final = tuple(c for c in Call if not c.value.startswith("("))


_OPS: Final = st.sampled_from(["keep", "drop", "twice", "insert"])
_ANY_CALL: Final = st.sampled_from(_PUBLIC_CALLS)


def call_sequences(*, max_size: int = 30) -> st.SearchStrategy[list[Call]]:
    """Requester call sequences, legal and illegal: the documented backup sequence with calls
    dropped, repeated, swapped and inserted (any ``IVssBackupComponents`` call, restore calls
    included), cut to its first ``max_size`` calls (the legal sequence has
    ``len(CANONICAL_BACKUP)`` = 15).  Shrinks towards the legal sequence itself; run them with
    :func:`vsssim.testing.calls.perform`."""
    size = _count(max_size, "max_size", 1)

    @st.composite
    def sequences(draw: st.DrawFn) -> list[Call]:
        out: list[Call] = []
        for call in CANONICAL_BACKUP:
            op = draw(_OPS)
            if op == "insert":
                out.append(draw(_ANY_CALL))
            if op != "drop":
                out.append(call)
            if op == "twice":
                out.append(call)
        if len(out) > 1 and draw(_BOOLEANS):
            i = draw(st.integers(0, len(out) - 2))
            out[i], out[i + 1] = out[i + 1], out[i]
        return out[:size]

    return sequences()


st.register_type_strategy(WriterIdentity, writer_identities())
st.register_type_strategy(FileDescriptor, file_descriptors())
st.register_type_strategy(WriterMetadata, writer_metadata())
st.register_type_strategy(WmdComponent, wmd_components())
st.register_type_strategy(BackupComponentsDocument, backup_components_documents())
st.register_type_strategy(WriterStatus, writer_statuses())
st.register_type_strategy(SnapshotProperties, snapshot_properties())
st.register_type_strategy(ProviderProperties, provider_properties())
st.register_type_strategy(FaultPlan, fault_plans())
st.register_type_strategy(BackupPlan, backup_plans())
st.register_type_strategy(RestorePlan, restore_plans())
st.register_type_strategy(AbandonedBackup, abandoned_backups())
st.register_type_strategy(VolumeLayout, volume_layouts())
