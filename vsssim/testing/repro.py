"""Turn the steps a conformance run took into a ready-to-paste pytest test.

The conformance machines record every step as the plain source lines of the calls they made
(``system.backup(...)``, ``system.faults = FaultPlan([...])``, ``monitor.check(...)``);
:func:`render_test` wraps them in a test function with the imports it needs.  Objects of the
user's code (writer and application factories, hooks, requester functions) are imported from
their modules when they can be; otherwise the test says what to replace.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Reference", "reference", "render_test"]

# Names the generated code may use, and where they come from.
_VSSSIM_NAMES = ("VssSystem", "VssOptions", "BackupType", "ComponentType", "RestoreMethod",
                 "SnapshotContext", "VolumeSnapshotAttributes", "FaultPlan", "WriterFault",
                 "ProviderFault", "RequesterCrash", "IdentifyDuring", "StorageFault", "hresult")
_TESTING_NAMES = ("WriterMonitor", "RequesterMonitor")


@dataclass(frozen=True)
class Reference:
    """How generated code names one object of the user's: an import and an expression."""

    expression: str
    module: str | None = None
    name: str | None = None

    @property
    def importable(self) -> bool:
        """True if the object can be imported by name."""
        return self.module is not None


def reference(obj: object, *, fallback: str | None = None) -> Reference:
    """A :class:`Reference` to ``obj``: ``from module import Top`` + ``Top.Inner`` when ``obj``
    is a module-level class or function (or nested in one), else ``fallback`` (an expression
    that reaches it another way), else a placeholder the reader must replace."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname \
            and module != "__main__" and _resolves(module, qualname, obj):
        top = qualname.split(".")[0]
        return Reference(qualname, module, top)
    if fallback is not None:
        return Reference(fallback)
    return Reference(f"REPLACE_ME  # {obj!r} cannot be imported by name")


def _resolves(module: str, qualname: str, obj: object) -> bool:
    """True if ``module.qualname`` is ``obj`` (it can be imported by that name)."""
    found: object = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is obj


def _snake(name: str) -> str:
    name = re.sub(r"[^0-9A-Za-z]+", "_", name)
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"_+", "_", name).strip("_").lower() or "conformance"


def render_test(name: str, body: Sequence[str], *, references: Sequence[Reference] = (),
                header: Sequence[str] = ()) -> str:
    """A complete test module: a comment ``header``, the imports the ``body`` lines use, and
    ``def test_<name>(tmp_path)`` running them inside ``with VssSystem(...) as system:`` (the
    body's first line opens that block; later lines are indented under it)."""
    text = "\n".join(body)
    used = [n for n in _VSSSIM_NAMES if re.search(rf"\b{n}\b", text)]
    testing = [n for n in _TESTING_NAMES if re.search(rf"\b{n}\b", text)]
    imports = ["from pathlib import Path", ""]
    if used:
        imports.append(f"from vsssim import {', '.join(used)}")
    if testing:
        imports.append(f"from vsssim.testing import {', '.join(testing)}")
    seen: set[tuple[str, str]] = set()
    for ref in references:
        if ref.module is not None and ref.name is not None and (ref.module, ref.name) not in seen:
            seen.add((ref.module, ref.name))
            imports.append(f"from {ref.module} import {ref.name}")
    lines = [f"# {h}" if h else "#" for h in header]
    if lines:
        lines.append("")
    lines += [*imports, "", "", f"def test_{_snake(name)}(tmp_path: Path) -> None:"]
    indent = "    "
    for i, line in enumerate(body):
        lines.append(indent + line if i == 0 else indent * 2 + line if line else "")
    return "\n".join(lines) + "\n"
