"""The component model of VSS (reference sections 8.1 to 8.4), as pure functions over a WMD.

**Logical paths.**  A component's *full path* is its logical path and its name joined by a
backslash (just the name at the root, whose logical path is empty).  Component A is an
*ancestor* of B when A's full path is B's logical path or a leading run of its elements,
compared element by element and case-insensitively.  Membership is by path prefix only: the
docs' "Query" component at ``writerData\\QueryLogs`` belongs to writerData's set although no
``QueryLogs`` component exists.

**Selectability for backup** splits components into four kinds (:class:`ComponentKind`):
a non-selectable component with no selectable ancestor is *required*; a selectable one with no
selectable ancestor is *optional*; below a selectable ancestor, a non-selectable component is
only ever included implicitly with that ancestor, and a selectable one is included implicitly
when an ancestor is added and may be added on its own otherwise.  A selectable component with
descendants defines a *component set*; adding it includes every descendant, nested sets too.
Non-selectable components never define sets: the docs' Executables/ConfigFiles example is
contradictory, and the rules (both are required, both added explicitly) win (reference 12).

**Restore.**  A component added explicitly at backup restores its whole set unless restore
subcomponents are named, in which case only those (and their own descendants) are restored.

Components are identified by (logical path, name), case-folded; the functions never rely on
object identity, so components from a reloaded document work as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from vsssim.documents._fields import _FOLDED, fold, full_path, split_logical_path
from vsssim.documents.bcd import RestoreSubcomponent
from vsssim.documents.wmd import WmdComponent, WriterMetadata
from vsssim.errors import VssObjectNotFoundError

__all__ = [
    "ComponentKind",
    "Verdict",
    "can_add_for_backup",
    "can_add_restore_subcomponent",
    "closest_explicit_ancestor",
    "full_path",
    "implicitly_included",
    "is_ancestor",
    "kind_of",
    "required_components",
    "restore_set",
    "set_members",
]


class ComponentKind(Enum):
    """The four kinds of component for backup selection (``Working with Selectability``)."""

    #: Not selectable, no selectable ancestor: must be added whenever the writer takes part.
    REQUIRED = "required"
    #: Selectable, no selectable ancestor: optional, added explicitly.
    SELECTABLE = "selectable"
    #: Not selectable, below a selectable ancestor: only ever included implicitly.
    NONSELECTABLE_SUBCOMPONENT = "nonselectable subcomponent"
    #: Selectable, below a selectable ancestor: implicit with an added ancestor, else optional.
    SELECTABLE_SUBCOMPONENT = "selectable subcomponent"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether something is allowed, and why (true in a boolean context when allowed)."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _elements(path: str) -> list[str]:
    return [_FOLDED[element] for element in split_logical_path(path)]


def is_ancestor(ancestor: WmdComponent, descendant: WmdComponent) -> bool:
    """True if ``ancestor``'s full path is ``descendant``'s logical path or a leading run of
    its elements (element-wise, case-insensitive).  A component is not its own ancestor.
    """
    # As strings: folding maps no character to a backslash, so a run of leading elements is a
    # prefix of the folded path that ends at a backslash or at the end.  (No list is built.)
    path = descendant.logical_path
    prefix = ancestor.full_path
    if not prefix:
        return True  # no elements: a leading run of any path
    if not path:
        return False  # a root component has no ancestor
    folded, prefix = _FOLDED[path], _FOLDED[prefix]
    return folded == prefix or folded.startswith(prefix + "\\")


def _keys(components: Iterable[WmdComponent]) -> set[tuple[str, str]]:
    return {component.key for component in components}


def _selectable_ancestors(wmd: WriterMetadata, component: WmdComponent) -> list[WmdComponent]:
    return [c for c in wmd.components if c.selectable and is_ancestor(c, component)]


def kind_of(wmd: WriterMetadata, component: WmdComponent) -> ComponentKind:
    """The :class:`ComponentKind` of ``component`` within ``wmd``."""
    nested = bool(_selectable_ancestors(wmd, component))
    if component.selectable:
        return ComponentKind.SELECTABLE_SUBCOMPONENT if nested else ComponentKind.SELECTABLE
    return ComponentKind.NONSELECTABLE_SUBCOMPONENT if nested else ComponentKind.REQUIRED


def set_members(wmd: WriterMetadata, defining: WmdComponent) -> list[WmdComponent]:
    """``defining`` and every descendant in ``wmd`` (nested sets included), in document order."""
    return [defining, *(c for c in wmd.components if is_ancestor(defining, c))]


def required_components(wmd: WriterMetadata) -> list[WmdComponent]:
    """The components that must be added whenever any component of the writer is backed up."""
    return [c for c in wmd.components if kind_of(wmd, c) is ComponentKind.REQUIRED]


def can_add_for_backup(
    wmd: WriterMetadata, component: WmdComponent, already_added: Iterable[WmdComponent]
) -> Verdict:
    """Whether a requester may explicitly add ``component`` (``IVssBackupComponents::
    AddComponent``) given the components it ``already_added`` for this writer, and why.

    Refused: a component the writer does not declare; one already added; a non-selectable
    subcomponent (never added); a selectable subcomponent whose selectable ancestor is added
    (it is already included); a selectable component whose set would include a component
    already added on its own (never add Usage together with writerData).
    """
    added = list(already_added)
    added_keys = _keys(added)
    if component.key not in _keys(wmd.components):
        return Verdict(False, f"{component.full_path!r} is not a component of this writer")
    if component.key in added_keys:
        return Verdict(False, f"{component.full_path!r} is already added")
    kind = kind_of(wmd, component)
    ancestors = _selectable_ancestors(wmd, component)
    if kind is ComponentKind.NONSELECTABLE_SUBCOMPONENT:
        definer = max(ancestors, key=lambda c: len(_elements(c.full_path)))
        return Verdict(
            False,
            f"{component.full_path!r} is a non-selectable subcomponent: it is included "
            f"implicitly with {definer.full_path!r} and never added itself",
        )
    for ancestor in ancestors:
        if ancestor.key in added_keys:
            return Verdict(
                False,
                f"{component.full_path!r} is already included implicitly by its selectable "
                f"ancestor {ancestor.full_path!r}",
            )
    for other in added if component.selectable else ():  # only a selectable one has a set
        if is_ancestor(component, other):
            return Verdict(
                False,
                f"adding {component.full_path!r} would implicitly include {other.full_path!r}, "
                "which is already added on its own",
            )
    if kind is ComponentKind.REQUIRED:
        reason = "required: it must be added whenever any component of the writer is backed up"
    elif kind is ComponentKind.SELECTABLE:
        reason = "optional: a selectable component"
    else:
        reason = "optional: a selectable subcomponent whose selectable ancestors are not added"
    return Verdict(True, reason)


def implicitly_included(
    wmd: WriterMetadata, explicit: Iterable[WmdComponent]
) -> list[WmdComponent]:
    """The components included without a BCD entry: not added themselves, but below an
    explicitly added *selectable* component (document order).
    """
    chosen = list(explicit)
    definers = [c for c in chosen if c.selectable]
    explicit_keys = _keys(chosen)
    return [
        c
        for c in wmd.components
        if c.key not in explicit_keys and any(is_ancestor(d, c) for d in definers)
    ]


def closest_explicit_ancestor(
    wmd: WriterMetadata, component: WmdComponent, explicit: Iterable[WmdComponent]
) -> WmdComponent | None:
    """The explicitly added ancestor with the longest full path (the component on which a
    requester calls ``AddRestoreSubcomponent`` for ``component``), or None.
    """
    ancestors = [c for c in explicit if is_ancestor(c, component)]
    if not ancestors:
        return None
    best = max(ancestors, key=lambda c: len(_elements(c.full_path)))
    # Return the WMD's own object where there is one, for callers comparing by identity.
    return next((c for c in wmd.components if c.key == best.key), best)


def can_add_restore_subcomponent(
    wmd: WriterMetadata, defining: WmdComponent, subcomponent: WmdComponent
) -> Verdict:
    """Whether ``subcomponent`` may be named for restore under ``defining``
    (``IVssBackupComponents::AddRestoreSubcomponent``): it must be a member of ``defining``'s
    set and selectable for restore.
    """
    if subcomponent.key not in _keys(wmd.components):
        return Verdict(False, f"{subcomponent.full_path!r} is not a component of this writer")
    if not is_ancestor(defining, subcomponent):
        return Verdict(
            False, f"{subcomponent.full_path!r} is not in the set of {defining.full_path!r}"
        )
    if not subcomponent.selectable_for_restore:
        return Verdict(False, f"{subcomponent.full_path!r} is not selectable for restore")
    return Verdict(True, "a member of the set that is selectable for restore")


def restore_set(
    wmd: WriterMetadata, component: WmdComponent, subcomponents: Sequence[RestoreSubcomponent]
) -> list[WmdComponent]:
    """What restoring the selected ``component`` covers (reference 8.3), in document order.

    Without restore subcomponents: the whole set (the component and all descendants).  With
    some: only the named subcomponents and their own descendants (a selectable-for-restore
    component defines a restore-time set); the defining component's own files are not
    restored.  A named subcomponent that is not in the set raises ``VssObjectNotFoundError``.
    """
    if not subcomponents:
        return set_members(wmd, component)
    chosen: set[tuple[str, str]] = set()
    for sub in subcomponents:
        key = (fold(sub.logical_path), fold(sub.component_name))
        member = next((c for c in wmd.components if c.key == key), None)
        if member is None or not is_ancestor(component, member):
            raise VssObjectNotFoundError(
                f"restore subcomponent {sub.full_path!r} is not a member of the set of "
                f"{component.full_path!r}"
            )
        chosen |= _keys(set_members(wmd, member))
    return [c for c in wmd.components if c.key in chosen]
