"""Each deliberately buggy writer of ``examples/conformance/buggy_writers.py`` is caught by
``check_writer``, naming the rule it breaks, with a minimal failing sequence that is a working
pytest test (run here in a nested session: it fails with the same rule).

Example counts are bounded so that the file runs in seconds under the derandomized "ci" profile;
``-m long`` repeats the search with the default profile's random examples.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings

from vsssim import FaultPlan, ProviderFault, VssSystem, hresult
from vsssim.apps import KvStoreApp
from vsssim.testing import (
    WRITER_RULES,
    ConformanceError,
    WriterMonitor,
    check_writer,
    conformance_settings,
)

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 60


def _load(name: str, path: Path) -> ModuleType:
    """Import an example script by file name (examples are scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


buggy: Any = _load("buggy_writers", ROOT / "examples" / "conformance" / "buggy_writers.py")

# The operations of the minimal sequence for each writer (after the machine is built and the
# first Identify checked): what shows the bug, and nothing else.
MINIMAL = {
    "ForgetsResumeOnAbort": ["backup"],          # with a fault that makes VSS send Abort
    "ReturnsNone": ["backup"],
    "BlocksPastFreezeWindow": ["backup"],
    "DuplicateComponents": [],                   # the first Identify already fails
    # One operation for the store to get ahead of its checkpoint, one to be vetoed.
    "VetoesWithoutFailure": ["backup", "backup"],
    "TouchesSnapshotAfterPostSnapshot": ["backup"],
}

_OPERATION = re.compile(r"^\s+\w+ = system\.(backup|restore)\(|^\s+system\.(run_applications|"
                        r"send_identify|reboot)\(|^\s+with system\.create_backup_components")


def _operations(repro: str) -> list[str]:
    out = []
    for line in repro.splitlines():
        m = _OPERATION.match(line)
        if m:
            out.append(m.group(1) or m.group(2) or "abandoned backup")
    return out


@functools.cache
def _caught(writer: type) -> ConformanceError:
    """The error of one search per writer (the tests below look at it from several sides).

    The search is derandomized: these tests check what is caught and its minimal sequence,
    and a bug that needs two rare steps (an Abort, then a write) is missed by 60 random
    examples for about one seed in eight.  The random search has its own test (``long``)."""
    with pytest.raises(ConformanceError) as info:
        check_writer(writer, application_factory=KvStoreApp,
                     settings=settings(conformance_settings(examples=EXAMPLES),
                                       derandomize=True))
    return info.value


def test_every_buggy_writer_has_a_rule() -> None:
    assert set(buggy.BUGGY_WRITERS.values()) <= set(WRITER_RULES)
    assert {w.__name__ for w in buggy.BUGGY_WRITERS} == set(MINIMAL)


@pytest.mark.parametrize("writer", list(buggy.BUGGY_WRITERS), ids=lambda w: w.__name__)
def test_buggy_writer_is_caught_with_a_minimal_sequence(writer: type) -> None:
    error = _caught(writer)
    rule = buggy.BUGGY_WRITERS[writer]
    assert error.rule.id == rule, str(error)
    text = str(error)
    assert f"broke rule {rule!r}" in text
    assert "Trace (last events" in text and ">> " in text
    assert "from buggy_writers import " + writer.__name__ in error.repro
    ops = _operations(error.repro)
    expected = MINIMAL[writer.__name__]
    # Shrinking may trade one equally short sequence for another; never a longer one.
    assert len(ops) <= len(expected), error.repro
    assert "system.restore(" not in error.repro


@pytest.mark.parametrize("writer", list(buggy.BUGGY_WRITERS), ids=lambda w: w.__name__)
def test_repro_fails_the_same_way(writer: type, pytester: pytest.Pytester) -> None:
    error = _caught(writer)
    pytester.makepyfile(test_repro=error.repro)
    pytester.syspathinsert(ROOT / "examples" / "conformance")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*broke rule {buggy.BUGGY_WRITERS[writer]!r}*"])


def test_an_exception_is_named_once_in_the_message() -> None:
    message = _caught(buggy.DuplicateComponents).violations[0].message
    assert message.count("VssObjectAlreadyExistsError") == 1, message
    assert "already exists" in message


def test_forgets_resume_on_abort_needs_an_abort() -> None:
    # The minimal sequence makes VSS send Abort after Freeze: by a fault, a crash or a timeout.
    repro = _caught(buggy.ForgetsResumeOnAbort).repro
    assert "system.faults = FaultPlan(" in repro


def test_a_breach_repeated_by_a_second_abort_is_reported_once(tmp_path: Path) -> None:
    # A provider error after Freeze: VSS sends Abort when the creation fails and again at
    # AbortBackup (rule 12), and both leave the store suspended: one violation, not two.
    with VssSystem(tmp_path / "m", seed=1) as system:
        system.add_volume("C:\\", size=16 << 20)
        app = system.add_application(KvStoreApp(system.volume("C:\\").fs))
        writer = system.add_writer(buggy.ForgetsResumeOnAbort(app))
        monitor = WriterMonitor(system, writer, app)
        monitor.check()
        system.faults = FaultPlan([ProviderFault(
            "CommitSnapshots", hresult=hresult.VSS_E_UNEXPECTED_PROVIDER_ERROR)])
        result = system.backup(["C:\\"], target_dir=tmp_path / "b")
        assert system.trace.writer_events(writer.writer_name).count("Abort") == 2
        with pytest.raises(ConformanceError) as info:
            monitor.check(result)
    assert [v.rule.id for v in info.value.violations] == ["resume-after-thaw-and-abort"]
    assert "Also:" not in str(info.value)


@pytest.mark.long
@pytest.mark.parametrize("writer", list(buggy.BUGGY_WRITERS), ids=lambda w: w.__name__)
def test_buggy_writer_is_caught_by_random_search(writer: type) -> None:
    with pytest.raises(ConformanceError) as info:
        check_writer(writer, application_factory=KvStoreApp,
                     settings=settings(conformance_settings(examples=500), derandomize=False,
                                       database=None))
    assert info.value.rule.id == buggy.BUGGY_WRITERS[writer]
