"""``VssSystem.restore``: the keys of ``subcomponents=`` and ``restore_options=`` take the forms
``components=`` takes (a component path, ``"Writer Name:path"``, a writer name), through the
one selector parser; a key that names several components is refused, naming them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests._writers import ReadyWriter
from tests.restore.test_restore_rules import FG, SetWriter
from vsssim.components import WriterComponents
from vsssim.constants import RestoreMethod
from vsssim.documents import WriterMetadataBuilder
from vsssim.errors import VssObjectNotFoundError
from vsssim.system import VssSystem


class ReadingSetWriter(SetWriter):
    """SetWriter (components Config and writerData) recording what PreRestore shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.options: dict[str, str] = {}

    def on_pre_restore(self, components: WriterComponents) -> bool:
        self.options.update({c.component_name: c.get_restore_options() for c in components})
        return super().on_pre_restore(components)


class OtherWriter(ReadyWriter):
    """Another writer with a component of the same path, writerData (C:\\O\\*), only."""

    writer_id = UUID("99999999-2222-3333-4444-555555555555")
    writer_name = "Other Writer"

    def __init__(self) -> None:
        self.options: dict[str, str] = {}

    def on_identify(self, md: WriterMetadataBuilder) -> bool:
        md.add_component(FG, "", "writerData", selectable=True)
        md.add_files_to_file_group("", "writerData", "C:\\O", "*", False)
        md.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True

    def on_pre_restore(self, components: WriterComponents) -> bool:
        self.options.update({c.component_name: c.get_restore_options() for c in components})
        return True


@pytest.fixture
def two_writers(tmp_path: Path) -> Iterator[tuple[VssSystem, Any, ReadingSetWriter,
                                                  OtherWriter]]:
    with VssSystem(tmp_path / "m", seed=2) as system:
        fs = system.add_volume("C:\\", size=8 * 2**20).fs
        for name in ("Set1", "Set2", "Query"):
            fs.write_file(f"C:\\W\\{name}\\{name.lower()}.dat", name.encode(),
                          create_dirs=True)
        fs.write_file("C:\\W\\Config\\app.ini", b"config", create_dirs=True)
        fs.write_file("C:\\O\\other.dat", b"other", create_dirs=True)
        mine, other = system.add_writer(ReadingSetWriter()), system.add_writer(OtherWriter())
        backup = system.backup(["C:\\"], target_dir=tmp_path / "b")
        assert backup.succeeded, backup.summary()
        assert sorted(backup.component_names) == ["Other Writer:writerData", "Set Writer:Config",
                                                  "Set Writer:writerData"]
        yield system, backup, mine, other


def test_restore_options_keyed_by_writer_and_path(two_writers: Any) -> None:
    system, backup, mine, other = two_writers
    restored = system.restore(backup, restore_options={
        "Set Writer:writerData": '"Recovery"="No"',
        "other writer": '"Roll Forward"="None"',   # the writer name: it has one component
    })
    assert restored.succeeded, restored.summary()
    assert mine.options == {"Config": "", "writerData": '"Recovery"="No"'}
    assert other.options == {"writerData": '"Roll Forward"="None"'}


def test_subcomponents_keyed_by_writer_and_path(two_writers: Any) -> None:
    system, backup, mine, _other = two_writers
    restored = system.restore(backup, components=["Set Writer:writerData"],
                              subcomponents={"SET WRITER:WRITERDATA": ["writerData\\Set2"]})
    assert restored.succeeded, restored.summary()
    assert mine.restore_events[0] == ("PreRestore", ["Set2"])
    assert [f.destination for f in restored.files] == ["C:\\W\\Set2\\set2.dat"]


def test_a_path_key_still_works_when_it_names_one_component(two_writers: Any) -> None:
    system, backup, mine, other = two_writers
    restored = system.restore(backup, restore_options={"Config": '"A"="1"'})
    assert restored.succeeded, restored.summary()
    assert (mine.options["Config"], other.options["writerData"]) == ('"A"="1"', "")


@pytest.mark.parametrize(("arg", "key", "value", "names"), [
    ("restore_options", "writerData", '"A"="1"',
     "'Set Writer:writerData', 'Other Writer:writerData'"),
    ("subcomponents", "writerData", ["writerData\\Set2"],
     "'Set Writer:writerData', 'Other Writer:writerData'"),
    ("restore_options", "Set Writer", '"A"="1"', "'Set Writer:Config', 'Set Writer:writerData'"),
])
def test_an_ambiguous_key_is_refused_naming_the_components(
        two_writers: Any, arg: str, key: str, value: Any, names: str) -> None:
    system, backup, _mine, _other = two_writers
    events = len(system.trace)
    with pytest.raises(ValueError, match="is ambiguous") as refused:
        system.restore(backup, **{arg: {key: value}})
    assert str(refused.value) == (
        f"{arg}=: the key {key!r} is ambiguous: it names 2 components of the backup "
        f"({names}); use one of these as the key")
    assert len(system.trace) == events  # refused before any VSS call


def test_two_keys_for_one_component_are_refused(two_writers: Any) -> None:
    system, backup, _mine, _other = two_writers
    with pytest.raises(ValueError, match="the keys 'Config' and 'Set Writer:config' both name "
                       "'Set Writer:Config': give each component once"):
        system.restore(backup, restore_options={"Config": "a", "Set Writer:config": "b"})


def test_unknown_and_mistyped_keys(two_writers: Any) -> None:
    system, backup, _mine, _other = two_writers
    with pytest.raises(VssObjectNotFoundError, match="the backup holds no component named "
                       "'Set Writer:Nope' \\(it holds 'Set Writer:Config', "):
        system.restore(backup, restore_options={"Set Writer:Nope": "x"})
    with pytest.raises(TypeError, match="subcomponents= keys are component names \\(str\\), "
                       "not int"):
        system.restore(backup, subcomponents={1: ["x"]})


@pytest.mark.parametrize("arg", ["restore_options", "subcomponents"])
def test_a_key_for_a_component_components_leaves_out_is_refused(two_writers: Any,
                                                                arg: str) -> None:
    system, backup, _mine, _other = two_writers
    value: Any = '"A"="1"' if arg == "restore_options" else ["writerData\\Set2"]
    events = len(system.trace)
    with pytest.raises(ValueError, match=f"{arg}= names 'Set Writer:writerData', which "
                       "components= does not select: add it to components= or drop the key"):
        system.restore(backup, components=["Other Writer"],
                       **{arg: {"Set Writer:writerData": value}})
    assert len(system.trace) == events  # refused before any VSS call
    doc = " ".join((VssSystem.restore.__doc__ or "").split())
    assert "when ``components`` is given, a key for a component it does not select" in doc
