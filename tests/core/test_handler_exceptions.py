"""A writer handler that raises: VSS records a writer failure, and the traceback is not lost.

It is logged on the ``vsssim`` logger, the trace's ``HandlerRaised`` note says where the
handler raised, and ``BackupResult.handler_exceptions`` holds the exception itself."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from tests._writers import FileGroupWriter
from vsssim import (
    FaultPlan,
    VssSystem,
    WriterFault,
    WriterMetadataBuilder,
    WriterState,
    hresult,
)
from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.components import WriterComponents


def _freeze_line() -> int:
    return BuggyWriter.on_freeze.__code__.co_firstlineno + 1


class BuggyWriter(FileGroupWriter):
    """A writer whose Freeze handler has a bug (the line after ``def on_freeze``)."""

    writer_id = UUID("9c6b1a2e-5d0f-4f43-8a51-2d1b7e0c3a11")
    writer_name = "Buggy Writer"
    files_root = "C:\\buggy"

    def on_freeze(self) -> bool:
        return bool(1 / 0)


class IdentifyMisuseWriter(BuggyWriter):
    """Calls SetWriterFailure in OnIdentify, which vsssim's helper refuses (raises)."""

    writer_id = UUID("9c6b1a2e-5d0f-4f43-8a51-2d1b7e0c3a12")
    writer_name = "Misuse Writer"

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        self.set_writer_failure(hresult.VSS_E_WRITERERROR_RETRYABLE)
        return True

    def on_freeze(self) -> bool:
        return True


@pytest.fixture
def system(tmp_path: Path) -> Iterator[VssSystem]:
    with VssSystem(tmp_path / "machine", seed=3) as s:
        vol = s.add_volume("C:\\", size=16 * 2**20)
        app = s.add_application(KvStoreApp(vol.fs))
        s.add_writer(KvStoreWriter(app))
        s.add_writer(BuggyWriter())
        yield s


def _handler_frames(exc: BaseException) -> list[tuple[str, int, str]]:
    return [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(exc.__traceback__)]


def test_a_raising_handler_is_logged_with_its_traceback(
        system: VssSystem, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="vsssim"):
        result = system.backup(["C:\\"], copy_files=False)
    assert not result.succeeded
    records = [r for r in caplog.records if r.name.startswith("vsssim")]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR
    assert "Buggy Writer" in record.getMessage()
    assert "OnFreeze raised ZeroDivisionError" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ZeroDivisionError)
    # The traceback starts at the handler: its frame, file and line are there.
    frames = _handler_frames(record.exc_info[1])
    assert frames[0] == (__file__, _freeze_line(), "on_freeze")
    assert f'{__file__}", line {_freeze_line()}, in on_freeze' in caplog.text


def test_the_trace_note_and_the_summary_say_where_the_handler_raised(
        system: VssSystem) -> None:
    result = system.backup(["C:\\"], copy_files=False)
    raised = result.trace.filter(name="HandlerRaised")
    assert len(raised) == 1
    where = f"(at {Path(__file__).name}:{_freeze_line()}, in BuggyWriter.on_freeze)"
    assert raised[0].detail == f"OnFreeze raised ZeroDivisionError: division by zero {where}"
    assert raised[0].get("file") == __file__
    assert raised[0].get("line") == _freeze_line()
    assert raised[0].get("function") == "BuggyWriter.on_freeze"
    assert f"writer Buggy Writer: OnFreeze raised ZeroDivisionError: division by zero {where}" \
        in result.summary().splitlines()
    status = {st.writer_name: st for st in result.writer_status}
    assert status["Buggy Writer"].state == WriterState.FAILED_AT_FREEZE


def test_the_result_keeps_the_exception_with_the_handlers_frames(system: VssSystem) -> None:
    result = system.backup(["C:\\"], copy_files=False)
    [exc] = result.handler_exceptions
    assert isinstance(exc, ZeroDivisionError)
    assert _handler_frames(exc) == [(__file__, _freeze_line(), "on_freeze")]
    assert any("OnFreeze handler of writer 'Buggy Writer'" in note
               for note in getattr(exc, "__notes__", []))
    with pytest.raises(ZeroDivisionError):  # what a test of the writer can do with it
        raise result.handler_exceptions[0]


def test_a_vsssim_helper_refusing_a_call_is_located_in_the_handler_that_made_it(
        tmp_path: Path) -> None:
    with VssSystem(tmp_path / "machine", seed=3) as system:
        system.add_volume("C:\\", size=16 * 2**20)
        system.add_writer(IdentifyMisuseWriter())
        bc = system.create_backup_components()
        bc.initialize_for_backup()
        bc.gather_writer_metadata().result()
        bc.release()
        [raised] = system.trace.filter(name="HandlerRaised")
        line = IdentifyMisuseWriter.on_identify.__code__.co_firstlineno + 1
        assert raised.get("file") == __file__  # not the vsssim module that raised
        assert raised.get("line") == line
        assert raised.get("function") == "IdentifyMisuseWriter.on_identify"


def test_an_injected_raise_fault_has_no_writer_frame_and_is_not_logged_as_an_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plan = FaultPlan([WriterFault("Freeze", writer="KvStore Writer", action="raise")])
    with VssSystem(tmp_path / "machine", seed=3, faults=plan) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        system.add_writer(KvStoreWriter(system.add_application(KvStoreApp(vol.fs))))
        with caplog.at_level(logging.ERROR, logger="vsssim"):
            result = system.backup(["C:\\"], copy_files=False)
    [raised] = result.trace.filter(name="HandlerRaised")
    assert raised.detail == "OnFreeze raised InjectedFault: injected fault in OnFreeze"
    assert raised.data == (("exception", "InjectedFault"),)
    assert not [r for r in caplog.records if r.name.startswith("vsssim")]


class PreRestoreBugWriter(BuggyWriter):
    """Backs up fine; its PreRestore handler has a bug (the line after ``def on_pre_restore``)."""

    def on_freeze(self) -> bool:
        return True

    def on_pre_restore(self, components: WriterComponents) -> bool:
        raise RuntimeError("no restore today")


def test_a_restore_keeps_the_exception_of_a_raising_restore_handler(tmp_path: Path) -> None:
    with VssSystem(tmp_path / "machine", seed=3) as system:
        vol = system.add_volume("C:\\", size=16 * 2**20)
        vol.fs.makedirs("C:\\buggy", exist_ok=True)
        vol.fs.write_file("C:\\buggy\\file.dat", b"data")
        system.add_writer(PreRestoreBugWriter())
        backup = system.backup(["C:\\"], target_dir=tmp_path / "b")
        assert backup.succeeded and backup.handler_exceptions == []
        result = system.restore(tmp_path / "b")
    [exc] = result.handler_exceptions
    assert isinstance(exc, RuntimeError)
    line = PreRestoreBugWriter.on_pre_restore.__code__.co_firstlineno + 1
    assert _handler_frames(exc) == [(__file__, line, "on_pre_restore")]
    where = f"(at {Path(__file__).name}:{line}, in PreRestoreBugWriter.on_pre_restore)"
    assert (f"writer Buggy Writer: OnPreRestore raised RuntimeError: no restore today {where}"
            in result.summary().splitlines())
