"""Turn the steps a conformance run took into a ready-to-paste pytest test.

The conformance machines record every step as the plain source lines of the calls they made
(``system.backup(...)``, ``system.faults = FaultPlan([...])``, ``monitor.check(...)``);
:func:`render_test` wraps them in a test function with the imports it needs.  Objects of the
user's code (writer and application factories, hooks, requester functions) are imported from
their modules when they can be; otherwise the test says what to replace.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vsssim.testing._support import fast_temp_dir, remove_tree

if TYPE_CHECKING:
    from vsssim.testing.rules import ConformanceError

__all__ = ["PLACEHOLDER", "Reference", "Replay", "reference", "render_test", "run_test_source"]

#: What generated code says in place of an object it cannot import by name.
PLACEHOLDER = "REPLACE_ME"
_PLACEHOLDER_NOTE = (f"{PLACEHOLDER}: an object of yours that cannot be imported by name "
                     "(a lambda, a local class or function, or one defined in __main__); put "
                     "it there.")

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
    that reaches it another way), else :data:`PLACEHOLDER`, which the reader must replace (the
    rendered test says so in its header)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname \
            and module != "__main__" and _resolves(module, qualname, obj):
        top = qualname.split(".")[0]
        return Reference(qualname, module, top)
    if fallback is not None:
        return Reference(fallback)
    return Reference(PLACEHOLDER)


def _resolves(module: str, qualname: str, obj: object) -> bool:
    """True if ``module.qualname`` is ``obj`` (it can be imported by that name)."""
    found: object = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is obj


_FAULTS_LINE = re.compile(r"^system\.faults = (FaultPlan\(\[.*\]\))$")
_NO_FAULTS = "system.faults = None"


def _without_one_fault(steps: Sequence[Sequence[str]]) -> Iterator[list[list[str]]]:
    """``steps`` with one fault left out of one ``system.faults = FaultPlan([...])`` line, for
    each fault of each such line (a plan left empty loses its line)."""
    for i, step in enumerate(steps):
        for j, line in enumerate(step):
            found = _FAULTS_LINE.match(line)
            if found is None:
                continue
            text = found[1]
            plan = ast.parse(text, mode="eval").body
            if not (isinstance(plan, ast.Call) and len(plan.args) == 1
                    and isinstance(plan.args[0], ast.List)):
                continue
            faults = [ast.get_source_segment(text, f) or "" for f in plan.args[0].elts]
            after = list(step[j + 1:])
            if len(faults) == 1 and _NO_FAULTS in after:
                after.remove(_NO_FAULTS)  # no plan left to clear
            for k in range(len(faults)):
                rest = faults[:k] + faults[k + 1:]
                lines = [f"system.faults = FaultPlan([{', '.join(rest)}])"] if rest else []
                yield [list(s) for s in steps[:i]] + \
                    [[*step[:j], *lines, *(step[j + 1:] if rest else after)]] + \
                    [list(s) for s in steps[i + 1:]]


def _snake(name: str) -> str:
    name = re.sub(r"[^0-9A-Za-z]+", "_", name)
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"_+", "_", name).strip("_").lower() or "conformance"


def render_test(name: str, body: Sequence[str], *, references: Sequence[Reference] = (),
                header: Sequence[str] = ()) -> str:
    """A complete test module: a comment ``header``, the imports the ``body`` lines use, and
    ``def test_<name>(tmp_path)`` running them inside ``with VssSystem(...) as system:`` (the
    body's first line opens that block; later lines are indented under it).

    The imports are the ones the code uses, in the order and the sections that ruff's (and
    isort's) defaults ask for, so the pasted test passes ``ruff check``."""
    text = "\n".join(body)
    lines = [f"# {h}" if h else "#" for h in header]
    if re.search(rf"\b{PLACEHOLDER}\b", text):
        lines.append(f"# {_PLACEHOLDER_NOTE}")
    if lines:
        lines.append("")
    function = [f"def test_{_snake(name)}(tmp_path: Path) -> None:"]
    indent = "    "
    for i, line in enumerate(body):
        function.append(indent + line if i == 0 else indent * 2 + line if line else "")
    used = _names_used("\n".join(function))
    imported: dict[str, set[str]] = {
        "vsssim": {n for n in _VSSSIM_NAMES if n in used},
        "vsssim.testing": {n for n in _TESTING_NAMES if n in used}}
    for ref in references:
        if ref.module is not None and ref.name is not None:
            imported.setdefault(ref.module, set()).add(ref.name)
    lines += [*_import_block(imported), "", "", *function]
    return "\n".join(lines) + "\n"


def _names_used(source: str) -> set[str]:
    """The bare names ``source`` reads (not attributes, not keyword arguments)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # not Python after all: every word counts
        return set(re.findall(r"\b\w+\b", source))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _import_block(imported: dict[str, set[str]]) -> list[str]:
    """``from module import names`` lines for ``imported`` (module -> names), sorted as ruff's
    isort rules sort them by default: the standard library (``pathlib``), then third-party
    modules, then first-party ones (a package or module in the current directory or its
    ``src``, where ruff run from the project root finds them), each section by module name, one
    line per module with its names constants first, then classes, then the rest."""
    sections: tuple[list[str], list[str]] = ([], [])
    for module in sorted((m for m, names in imported.items() if names), key=str.lower):
        top = module.split(".")[0]
        first_party = any((base / top).is_dir() or (base / f"{top}.py").is_file()
                          for base in (Path.cwd(), Path.cwd() / "src"))
        sections[first_party].extend(_from_import(module, imported[module]))
    block = ["from pathlib import Path"]
    for section in sections:
        if section:
            block += ["", *section]
    return block


def _from_import(module: str, names: set[str]) -> list[str]:
    """One ``from module import ...`` statement, wrapped as ruff wraps a line too long for its
    default line length (88)."""
    ordered = sorted(names, key=lambda n: (
        0 if n.isupper() and len(n) > 1 else 1 if n[:1].isupper() else 2, n.lower(), n))
    line = f"from {module} import {', '.join(ordered)}"
    if len(line) <= 88:
        return [line]
    return [f"from {module} import (", *(f"    {n}," for n in ordered), ")"]


def run_test_source(source: str) -> BaseException | None:
    """Run a test module made by :func:`render_test` in this process, as pytest would run its
    one test (with a fresh ``tmp_path``); the exception it raised, or None if it passed."""
    namespace: dict[str, object] = {"__name__": "vsssim_repro"}
    try:
        exec(compile(source, "<vsssim repro>", "exec"), namespace)
    except Exception as exc:  # an import that fails: the test cannot run here
        return exc
    tests = [v for k, v in namespace.items() if k.startswith("test_") and callable(v)]
    if len(tests) != 1:
        raise ValueError(f"the module has {len(tests)} test functions; render_test makes one")
    tmp = fast_temp_dir("vsssim-repro-")
    try:
        tests[0](Path(tmp))
    except Exception as exc:
        return exc
    finally:
        remove_tree(tmp)
    return None


@dataclass
class Replay:
    """The steps of a failing conformance example, for :meth:`minimise`: the setup lines, the
    lines of each step (a rule of the machine), and how to render them."""

    name: str
    header: list[str]
    setup: list[str]
    steps: list[list[str]]
    references: list[Reference] = field(default_factory=list)

    def render(self, steps: Sequence[Sequence[str]] | None = None) -> str:
        """The test of ``setup`` and ``steps`` (default: all of them)."""
        chosen = self.steps if steps is None else steps
        return render_test(self.name, self.setup + [line for s in chosen for line in s],
                           references=self.references, header=self.header)

    def minimise(self, error: ConformanceError, *, budget: int = 64) -> None:
        """Make ``error.repro`` the shortest test that still fails with the same rule.

        Hypothesis shrinks the drawn steps, but a step that draws a different number of
        choices than its neighbours (a backup with faults next to a restore) is often out of
        its reach.  Here each step is left out in turn and the rendered test run again (in
        this process): a step goes if the test still breaks the same rule without it.  The
        error then carries the minimal test, and the trace of running it.  If the full test
        does not fail the same way when run again, the error says so.
        """
        from vsssim.testing.rules import ConformanceError

        def same(exc: BaseException | None) -> ConformanceError | None:
            if isinstance(exc, ConformanceError) and exc.rule.id == error.rule.id:
                return exc
            return None

        if PLACEHOLDER in self.render():
            error.notes.append(f"The test below names objects as {PLACEHOLDER}: put yours in "
                               "their place (vsssim could not run it to check it).")
            return
        found = same(run_test_source(self.render()))
        if found is None:
            error.notes.append(
                "Warning: the test below did not break the rule again when vsssim ran it "
                "(the writer may depend on state outside the machine, or on timing); it shows "
                "the steps that failed during the search.")
            return
        steps = list(self.steps)
        runs = 1
        changed = True
        while changed and runs < budget:
            changed = False
            for i in reversed(range(len(steps) - 1)):  # the last step is where it broke
                if runs >= budget:
                    break
                candidate = steps[:i] + steps[i + 1:]
                runs += 1
                again = same(run_test_source(self.render(candidate)))
                if again is not None:
                    steps, found, changed = candidate, again, True
        # Then each injected fault in turn: hypothesis does not shrink again a failing
        # example that it replays from its database, though it may fail for another reason
        # now (a second bug, after the first was fixed) that needs none of its faults.
        faults = 0
        changed = True
        while changed and runs < budget:
            changed = False
            for candidate in _without_one_fault(steps):
                if runs >= budget:
                    break
                runs += 1
                again = same(run_test_source(self.render(candidate)))
                if again is not None:
                    steps, found, changed = candidate, again, True
                    faults += 1
                    break
        removed = len(self.steps) - len(steps)
        error.repro = self.render(steps)
        error.trace_tail = found.trace_tail
        error.violations = found.violations
        if removed:
            error.notes.append(
                f"{removed} of the {len(self.steps)} steps hypothesis reported do not matter: "
                "the test below leaves them out (each removal checked by running it).")
        if faults:
            error.notes.append(
                f"{faults} injected fault(s) of the sequence do not matter: the test below "
                "leaves them out (each removal checked by running it).")
