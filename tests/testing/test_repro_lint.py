"""The ready-to-paste test that a conformance failure prints passes ``ruff check`` (ruff's
default rules and its import sorting) where it is pasted: it imports only what it uses, sorted
into sections as ruff sorts them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.testing import check_writer
from vsssim.testing.repro import Reference, reference, render_test
from vsssim.testing.rules import ConformanceError

BUGGY = '''
from vsssim.apps import KvStoreWriter


class ForgetsResumeOnAbort(KvStoreWriter):
    def on_abort(self) -> bool:
        return True  # the application suspended in OnFreeze is never resumed
'''


def _ruff() -> str:
    found = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(found).is_file():
        pytest.skip("ruff is not installed here (pip install ruff): cannot lint the printed test")
    return found


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    # As in a project of the user's with ruff's defaults, plus the import rules (I).
    return subprocess.run([_ruff(), "check", "--isolated", "--no-cache", "--select",
                           "E4,E7,E9,F,I", "--output-format", "concise", "."],
                          capture_output=True, text=True, check=False, cwd=project)


def test_a_rendered_test_imports_only_what_it_uses_sorted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _ruff()  # skip before doing anything without ruff
    monkeypatch.chdir(tmp_path)  # the user's project: my_writers.py is first-party there
    (tmp_path / "my_writers.py").write_text("class MyWriter:\n    pass\n")
    body = [
        "with VssSystem(tmp_path, seed=3) as system:",
        "app = system.add_application(KvStoreApp(system.volume('C:\\\\').fs))",
        "writer = system.add_writer(MyWriter(app))",
        "monitor = WriterMonitor(system, writer, app)",
        # ``hresult`` only as a keyword and as an attribute: the module is not used
        "system.faults = FaultPlan([WriterFault('Freeze', action='fail', hresult=0x80042318), "
        "ProviderFault('CommitSnapshots', hresult=0x80042318), StorageFault('diff-area-full'), "
        "RequesterCrash('DoSnapshotSet'), IdentifyDuring('Freeze')])",
        "result = system.backup(['C:\\\\'], backup_type=BackupType.FULL)",
        "assert result.hresult != 0",
        "monitor.check()",
    ]
    text = render_test("Lint", body, references=[
        reference(KvStoreApp), Reference("MyWriter", "my_writers", "MyWriter")])
    assert "hresult\n" not in text and "hresult," not in text
    (tmp_path / "test_lint.py").write_text(text)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr + text
    compile(text, "test_lint.py", "exec")


def test_the_printed_repro_passes_ruff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _ruff()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "my_buggy_writer.py").write_text(BUGGY)
    from my_buggy_writer import ForgetsResumeOnAbort  # type: ignore[import-not-found]

    assert issubclass(ForgetsResumeOnAbort, KvStoreWriter)
    with pytest.raises(ConformanceError) as failed:
        check_writer(ForgetsResumeOnAbort, application_factory=KvStoreApp, examples=60, seed=1)
    repro = failed.value.repro
    assert "from my_buggy_writer import ForgetsResumeOnAbort" in repro
    (tmp_path / "test_repro.py").write_text(repro)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr + repro
