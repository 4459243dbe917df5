"""The pytest plugin, run in nested pytest sessions (``pytester``): fixtures, marker, options."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Nested in-process sessions drop the modules they imported when they end, and numpy cannot be
# imported twice in one process: import the simulator here, before any nested session.
import vsssim.apps
import vsssim.system
import vsssim.testing.plans
import vsssim.testing.writer_conformance  # noqa: F401
from vsssim.testing import _session

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested sessions in a subprocess import this checkout's vsssim (first on PYTHONPATH), not
    the one the environment has installed (another checkout, if the venv is shared)."""
    import os

    root = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        root, os.environ.get("PYTHONPATH", "")])))


def _run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_it=source)
    return pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", *args)


def test_plugin_import_is_cheap() -> None:
    code = ("import sys, vsssim.testing.plugin\n"
            "heavy = [m for m in ('numpy', 'pydantic', 'vsssim.system', 'hypothesis') "
            "if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_options_are_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--vss-seed=N*", "*--vss-conformance-examples=N*"])


def test_vss_fixture_is_a_fresh_machine_per_test(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        from vsssim import BackupType
        from vsssim.apps import KvStoreApp, KvStoreWriter
        from vsssim.system import VssSystem

        seen = []

        def test_first(vss, tmp_path):
            assert isinstance(vss, VssSystem)
            assert vss.root == tmp_path / "vss"
            assert vss.volume_names() == ["C:\\\\"]
            assert vss.volume("C:\\\\").size == 16 * 2**20
            assert vss.seed == 0
            app = vss.add_application(KvStoreApp(vss.volume("C:\\\\").fs))
            vss.add_writer(KvStoreWriter(app))
            assert vss.backup(["C:\\\\"], backup_type=BackupType.FULL).succeeded
            seen.append(vss)

        def test_second(vss):
            assert seen[0]._closed            # the first test's machine was closed
            assert vss is not seen[0]
            assert vss.writers == []          # nothing carried over
    """)
    result.assert_outcomes(passed=2)


def test_marker_configures_the_machine(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        import pytest
        from vsssim.options import VssOptions
        from vsssim.testing.plans import VolumeLayout

        @pytest.mark.vss(seed=7, volumes=["C:\\\\", ("D:\\\\", 8 * 2**20)], delivery="shuffled")
        def test_marked(vss):
            assert vss.seed == 7
            assert vss.volume_names() == ["C:\\\\", "D:\\\\"]
            assert vss.volume("D:\\\\").size == 8 * 2**20
            assert vss.options.delivery == "shuffled"

        @pytest.mark.vss(volumes={"E:\\\\": 8 * 2**20}, os_version="2019",
                         options=VssOptions(thaw_order="same"), delivery="shuffled")
        def test_mapping_and_system_keywords(vss):
            assert vss.volume_names() == ["E:\\\\"]
            assert vss.os_version == "2019"
            assert vss.options.thaw_order == "same"      # options kept, delivery added
            assert vss.options.delivery == "shuffled"

        @pytest.mark.vss(volumes=VolumeLayout((("C:\\\\", 8 * 2**20),)))
        def test_layout(vss):
            assert vss.volume("C:\\\\").size == 8 * 2**20

        @pytest.mark.vss(volumes=())
        def test_no_volumes(vss):
            assert vss.volume_names() == []

        @pytest.mark.vss(seed=1)
        class TestOnAClass:
            def test_inherits(self, vss):
                assert vss.seed == 1
    """)
    result.assert_outcomes(passed=5)


def test_marker_misuse_says_what_to_write(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        import pytest

        @pytest.mark.vss(sed=3)
        def test_typo(vss):
            pass

        @pytest.mark.vss(3)
        def test_positional(vss):
            pass

        @pytest.mark.vss(volumes=42)
        def test_volumes(vss):
            pass

        @pytest.mark.vss(delivery="random")
        def test_delivery(vss):
            pass
    """)
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines([
        "*unknown keyword(s) sed; use seed, volumes, delivery*",
        "*vss marker takes keywords only*",
        "*volumes=42 is not a list of volume names*",
        "*delivery='random': 'registration' or 'shuffled'*",
    ])


def test_vss_seed_option(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        import pytest
        from vsssim.testing import _session

        def test_unmarked(vss, vss_factory):
            assert vss.seed == 42
            with vss_factory() as other:
                assert other.seed == 42
            assert _session.seed == 42

        @pytest.mark.vss(seed=5)
        def test_marked_keeps_its_seed(vss):
            assert vss.seed == 5
    """, "--vss-seed", "42")
    result.assert_outcomes(passed=2)


def test_vss_seed_option_reaches_conformance_runs_that_name_no_seed(
        pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        from vsssim.apps import KvStoreApp, KvStoreWriter
        from vsssim.testing import WriterConformance

        SEEN = {}

        class Sample(WriterConformance):
            application_factory = KvStoreApp
            writer_factory = KvStoreWriter
            max_examples = 2
            step_count = 1

            def teardown(self):
                SEEN.setdefault(type(self).__name__, set()).add(self.system.seed)
                super().teardown()

        class Named(Sample):
            seed = 5

        TestSample = Sample.TestCase
        TestNamed = Named.TestCase

        def test_seeds():
            assert SEEN == {"Sample": {42}, "Named": {5}}
    """, "--vss-seed", "42")
    result.assert_outcomes(passed=3)


def test_conformance_examples_option_reaches_conformance_runs(pytester: pytest.Pytester
                                                               ) -> None:
    result = _run(pytester, """
        from vsssim.testing import _session
        from vsssim.testing.writer_conformance import conformance_settings

        def test_it():
            assert _session.conformance_examples == 3
            assert conformance_settings().max_examples == 3
    """, "--vss-conformance-examples", "3")
    result.assert_outcomes(passed=1)
    # The nested session put the outer values back when it ended.
    assert _session.conformance_examples is None
    assert _session.seed is None


def test_conformance_examples_must_be_positive(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "def test_x(): pass\n", "--vss-conformance-examples", "0")
    result.stderr.fnmatch_lines(["*--vss-conformance-examples must be at least 1*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_vss_factory_inside_given(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        import os
        import pytest
        from hypothesis import given, settings, strategies as st

        made = []

        @pytest.mark.vss(volumes=["C:\\\\", "D:\\\\"])
        @settings(max_examples=5, database=None)
        @given(n=st.integers(0, 3))
        def test_given(vss_factory, n):
            with vss_factory(seed=n) as system:
                assert system.seed == n
                assert system.volume_names() == ["C:\\\\", "D:\\\\"]   # from the marker
                assert system.writers == []
                made.append(system)
            kept = vss_factory(volumes=())                          # left open on purpose
            assert kept.volume_names() == []
            made.append(kept)

        def test_cleaned_up(vss_factory):
            assert made and all(s._closed for s in made)
            assert not any(os.path.exists(s.root) for s in made)
            assert vss_factory.made == 0
            assert vss_factory().seed == 0                         # no marker here
    """)
    result.assert_outcomes(passed=2)


def test_vss_factory_machines_of_wider_fixtures_outlive_the_test(pytester: pytest.Pytester
                                                                 ) -> None:
    result = _run(pytester, """
        import pytest

        @pytest.fixture(scope="module")
        def shared(vss_factory):
            with vss_factory(seed=4) as system:
                yield system

        def test_one(shared, vss_factory):
            mine = vss_factory()
            assert not shared._closed and vss_factory.made == 1
            test_one.mine = mine

        def test_two(shared):
            assert not shared._closed            # the module's machine lives on
            assert test_one.mine._closed          # the test's own was closed with test_one
    """)
    result.assert_outcomes(passed=2)


def test_vss_fixture_in_given_gets_hypothesis_health_check(pytester: pytest.Pytester) -> None:
    """The reason vss_factory exists: ``vss`` is not reset between examples."""
    result = _run(pytester, """
        from hypothesis import given, strategies as st

        @given(st.integers())
        def test_given(vss, n):
            pass
    """)
    result.assert_outcomes(failed=1)
    # ("uses a function-scoped fixture 'vss'"; before hypothesis 6.139: "Function-scoped fixture
    # 'vss' used by")
    result.stdout.re_match_lines([r".*[Ff]unction-scoped fixture 'vss'"])


def test_runs_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_it="""
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_par(vss, vss_factory, i):
            assert vss.seed == 9
            with vss_factory() as system:
                assert system.seed == 9
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers",
                                           "-n", "2", "--vss-seed", "9")
    result.assert_outcomes(passed=4)


# ------------------------------------------------------------------------------- the guide
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _guide_files() -> dict[str, str]:
    text = GUIDE.read_text(encoding="utf-8")
    files: dict[str, str] = {}
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        first = block.splitlines()[0]
        assert re.fullmatch(r"# \w+\.py", first), f"a guide block must name its file: {first!r}"
        files[first[2:-3]] = block
    return files


def test_the_guide_runs_as_written(pytester: pytest.Pytester) -> None:
    """docs/testing.md: every Python block is a file of one project; the "every push" command
    of its CI section runs them (pytest-xdist, two workers)."""
    pytest.importorskip("xdist")
    files = _guide_files()
    assert {"my_writer", "test_three_lines", "test_conformance", "my_backup"} <= set(files)
    pytester.makepyfile(**files)
    text = GUIDE.read_text(encoding="utf-8")
    command = "pytest --vss-conformance-examples 3 -n 2"
    assert command in text
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *command.split()[1:])
    tests = sum(len(re.findall(r"^def test_|^Test\w+ = ", source, re.M))
                for name, source in files.items() if name.startswith("test_"))
    result.assert_outcomes(passed=tests)


def test_the_guide_shows_real_failure_messages() -> None:
    from vsssim.system import VssSystem as System
    from vsssim.testing import assert_event_order, assert_writer_states

    files = _guide_files()
    namespace: dict[str, object] = {}
    exec(compile(files["my_writer"], "my_writer.py", "exec"), namespace)
    text = GUIDE.read_text(encoding="utf-8")
    with System(seed=0) as system:
        system.add_volume("C:\\", size=16 * 2**20).fs.makedirs("C:\\Notes")
        system.add_writer(namespace["NotesWriter"]())  # type: ignore[operator]
        result = system.backup(["C:\\"])
        with pytest.raises(AssertionError) as order:
            assert_event_order(result, ["PrepareForBackup", "Thaw", "Freeze"],
                               writer="Notes Writer")
        with pytest.raises(AssertionError) as states:
            assert_writer_states(result, {
                "Notes Writer": ("FAILED_AT_FREEZE", "VSS_E_WRITERERROR_RETRYABLE"),
                "Other Writer": "STABLE"})
    for message in (str(order.value), str(states.value)):
        assert message in text, f"update the guide's sample output:\n{message}"


def _readme_python_blocks() -> list[str]:
    readme = (GUIDE.parents[1] / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", readme, re.S)


def test_the_readme_fixture_test_runs(pytester: pytest.Pytester) -> None:
    blocks = [b for b in _readme_python_blocks() if "def test_" in b and "(vss)" in b]
    assert len(blocks) == 1
    result = _run(pytester, blocks[0])
    result.assert_outcomes(passed=1)


def test_the_testing_facade() -> None:
    """Every name of vsssim.testing resolves (lazily) and the callables say what they do."""
    import vsssim.strategies
    import vsssim.testing

    for module in (vsssim.testing, vsssim.strategies):
        names = module.__all__
        assert len(names) == len(set(names))
        for name in names:
            value = getattr(module, name)
            if isinstance(value, type) or (callable(value) and hasattr(value, "__code__")):
                assert value.__doc__, f"{module.__name__}.{name} has no docstring"
    assert sorted(vsssim.testing.__all__) == sorted(vsssim.testing._LAZY)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = vsssim.testing.nothing


def test_a_failure_shows_the_callers_line_not_vsssims_internals(
        pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
from vsssim.testing import assert_event_order, check_requester

def forgets_to_finish(system):
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().wait()
    bc.set_backup_state(False, False, 1)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\\\")
    bc.prepare_for_backup().wait()
    bc.do_snapshot_set().wait()
    bc.release()  # BUG: neither BackupComplete nor AbortBackup

def test_requester():
    check_requester(forgets_to_finish, examples=5)

def test_order(vss):
    assert_event_order(vss.backup(["C:\\\\"]), ["Thaw", "Freeze"])
""")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    # pytest leaves out the frames vsssim marks with __tracebackhide__: the monitor's and the
    # assertion's code is not printed, the test's own line is.
    for internal in ("def check(self)", "requester_monitor.py:", "assertions.py:",
                     "_machine.py:", "writer_conformance.py:"):
        assert internal not in text, internal
    assert "check_requester(forgets_to_finish, examples=5)" in text
    assert 'assert_event_order(vss.backup(["C:\\\\"]), ["Thaw", "Freeze"])' in text
    assert "broke rule 'ends-with-complete-or-abort'" in text


def test_errors_name_where_the_bad_setting_came_from(vss_factory: Any) -> None:
    from vsssim.errors import VssInvalidArgumentError
    from vsssim.testing.plugin import system_options

    marker = pytest.mark.vss(seed="1").mark
    with pytest.raises(TypeError, match=r"^vss marker: seed='1' must be an int"):
        system_options(marker)
    with pytest.raises(TypeError, match=r"^vss_factory: seed='1' must be an int"):
        system_options(None, seed="1")
    with pytest.raises(ValueError, match=r"^vss_factory: delivery='random'"):
        system_options(marker, seed=1, delivery="random")
    with pytest.raises(VssInvalidArgumentError) as info:
        vss_factory(volumes=[("D:\\", 1000)])
    assert any("adding the volume 'D:\\\\' of size 1000" in note
               for note in info.value.__notes__)


def test_the_readme_requester_conforms() -> None:
    """The README's step-by-step backup is what a correct requester does: copied as it is, it
    passes check_requester (writer status after DoSnapshotSet and BackupComplete, retries,
    BackupComplete or AbortBackup)."""
    from vsssim.testing import check_requester

    blocks = [b for b in _readme_python_blocks() if "create_backup_components" in b]
    assert len(blocks) == 1
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert callable(namespace.get("backup")), "the README's block defines backup(system)"
    check_requester(namespace["backup"], seed=0)
