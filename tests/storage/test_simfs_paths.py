"""simfs path rules and VSS file-spec (glob) semantics, through the public API."""

from __future__ import annotations

import fnmatch
from pathlib import PureWindowsPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsssim.clock import VirtualClock
from vsssim.errors import VssFileNotFoundError, VssNotADirectoryError
from vsssim.storage.blockdev import MemoryDevice
from vsssim.storage.simfs import SimFS, filespec_matches, format

VOLUME_GUID = "\\\\?\\Volume{6a1b2c3d-0000-0000-0000-100000000000}\\"
SHADOW = "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy7\\"


@pytest.fixture
def fs() -> SimFS:
    device = MemoryDevice(2 * 2**20)
    clock = VirtualClock()
    format(device, clock=clock)
    return SimFS.mount(device, roots=["C:\\", VOLUME_GUID, SHADOW], clock=clock)


# ------------------------------------------------------------------------------ names
@pytest.mark.parametrize(
    "name",
    [
        "data.mdf",
        "x",
        "a" * 255,
        "with space",
        ".hidden",
        "..x",
        "CONSOLE",
        "con1",
        "COM10",
        "LPTX.txt",
        "nul_",
        "ünïcödé",
        "日本語.txt",
        "emoji\U0001f600",
        "a.b.c",
        " leading space",
    ],
)
def test_valid_names_are_accepted(fs: SimFS, name: str) -> None:
    fs.write_file("C:\\" + name, b"ok")
    assert fs.listdir("C:\\") == [name]
    assert fs.read_file("C:\\" + name) == b"ok"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a" * 256, "255"),
        ("\U0001f600" * 128, "255"),  # 256 UTF-16 units, 128 characters
        ("a<b", "forbids"),
        ("a>b", "forbids"),
        ('a"b', "forbids"),
        ("a|b", "forbids"),
        ("a?b", "forbids"),
        ("a*b", "forbids"),
        ("a:b", "forbids"),
        ("a\x00b", "forbids"),
        ("tab\there", "forbids"),
        ("a\x1f", "forbids"),
        ("trailing.", "dot or a space"),
        ("trailing ", "dot or a space"),
        (".", "not allowed"),
        ("..", "not allowed"),
        ("CON", "reserved"),
        ("con", "reserved"),
        ("Prn.txt", "reserved"),
        ("AUX.tar.gz", "reserved"),
        ("NUL", "reserved"),
        ("com1", "reserved"),
        ("COM9.log", "reserved"),
        ("LPT1", "reserved"),
        ("lpt9.x", "reserved"),
        ("CON .txt", "reserved"),
        ("COM\u00b9", "reserved"),
    ],
)
def test_invalid_names_are_refused_and_change_nothing(fs: SimFS, name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        fs.write_file("C:\\" + name, b"x")
    with pytest.raises(ValueError, match=reason):
        fs.makedirs("C:\\dir\\" + name)
    with pytest.raises(ValueError, match=reason):
        fs.rename("C:\\", "C:\\" + name)
    assert fs.listdir("C:\\") == []
    assert fs.check() == []


@pytest.mark.parametrize(
    "path",
    ["C:\\a\\\\b", "C:\\a\\..\\b", "C:\\a\\.\\b", "\\\\", "C:\\\\", "C:\\a\\\\"],
)
def test_empty_and_relative_components_are_refused(fs: SimFS, path: str) -> None:
    fs.makedirs("C:\\a\\b")
    with pytest.raises(ValueError, match=r"component|not this volume"):
        fs.write_file(path, b"x")
    with pytest.raises(ValueError, match=r"component|not this volume"):
        fs.exists(path)


# ------------------------------------------------------------------------------ roots
def test_every_root_and_volume_relative_forms_name_the_same_file(fs: SimFS) -> None:
    fs.write_file("C:\\db\\data.mdf", b"1", create_dirs=True)
    for path in [
        "C:\\db\\data.mdf",
        "c:\\DB\\DATA.MDF",
        "C:/db/data.mdf",
        VOLUME_GUID + "db\\data.mdf",
        VOLUME_GUID.lower() + "db\\data.mdf",
        SHADOW + "db/data.mdf",
        "\\db\\data.mdf",
        "/db/data.mdf",
        "db\\data.mdf",
        PureWindowsPath("C:\\db\\data.mdf"),
    ]:
        assert fs.read_file(path) == b"1", path
        assert fs.stat(path).path == "C:\\db\\data.mdf"
    for root in ["C:\\", "C:", "c:/", "\\", "/", "", VOLUME_GUID, VOLUME_GUID[:-1], SHADOW]:
        assert fs.listdir(root) == ["db"], root


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("D:\\db\\data.mdf", "D:"),
        ("\\\\?\\Volume{00000000-0000-0000-0000-000000000000}\\x", "Volume{0000"),
        ("\\\\server\\share\\x", "server"),
        ("\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy8\\x", "ShadowCopy8"),
    ],
)
def test_a_foreign_drive_or_root_is_a_value_error_naming_it(
    fs: SimFS, path: str, shown: str
) -> None:
    with pytest.raises(ValueError, match="not this volume") as info:
        fs.read_file(path)
    assert shown in str(info.value)


def test_mounts_with_the_same_roots_share_one_parser_and_bad_roots_still_say_why() -> None:
    device = MemoryDevice(2**20)
    format(device)
    first = SimFS.mount(device, roots=["C:\\", SHADOW])
    second = SimFS.mount(device, roots=("C:\\", SHADOW))
    other = SimFS.mount(device, roots=["D:\\"])
    assert first._parser is second._parser is not other._parser
    assert second.roots == ("C:\\", SHADOW) and other.roots == ("D:\\",)
    with pytest.raises(ValueError, match="non-empty string"):
        SimFS.mount(device, roots=[["C:\\"]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="non-empty string"):
        SimFS.mount(device, roots=[""])


def test_mount_without_roots_accepts_only_volume_relative_paths() -> None:
    device = MemoryDevice(2**20)
    format(device)
    fs = SimFS.mount(device)
    fs.write_file("\\a\\b.txt", b"x", create_dirs=True)
    assert fs.glob("\\a") == ["\\a\\b.txt"]
    assert list(fs.walk()) == [("\\", ["a"], []), ("\\a", [], ["b.txt"])]
    with pytest.raises(ValueError, match="not this volume"):
        fs.read_file("C:\\a\\b.txt")


def test_a_file_used_as_a_directory_is_not_a_directory(fs: SimFS) -> None:
    fs.write_file("C:\\f", b"x")
    with pytest.raises(VssNotADirectoryError):
        fs.write_file("C:\\f\\g", b"y")
    with pytest.raises(VssNotADirectoryError):
        fs.listdir("C:\\f")
    assert not fs.exists("C:\\f\\g")
    with pytest.raises(VssFileNotFoundError):
        fs.read_file("C:\\missing\\g")


def test_case_insensitive_uses_simple_one_to_one_upcasing(fs: SimFS) -> None:
    fs.write_file("C:\\Straße", b"1")
    fs.write_file("C:\\STRASSE", b"2")  # full case mapping would collide with Straße
    fs.write_file("C:\\ÉCOLE", b"3")
    assert fs.read_file("C:\\straße") == b"1"
    assert fs.read_file("C:\\STRAßE") == b"1"
    assert fs.read_file("C:\\école") == b"3"
    # Sorted by the upcased key, code unit by code unit: "STRASSE" < "STRAßE" < "ÉCOLE".
    assert fs.listdir() == ["STRASSE", "Straße", "ÉCOLE"]


def test_listdir_is_sorted_case_insensitively_in_stored_case(fs: SimFS) -> None:
    for name in ["b.txt", "A.txt", "c", "B2", "a1"]:
        fs.write_file("C:\\" + name, b"")
    assert fs.listdir() == ["A.txt", "a1", "b.txt", "B2", "c"]


# ------------------------------------------------------------------------------- glob
@pytest.fixture
def tree(fs: SimFS) -> SimFS:
    for path in [
        "db\\data.mdf",
        "db\\Data.LDF",
        "db\\README",
        "db\\x.mdf.bak",
        "db\\a.b.c",
        "db\\sub\\more.mdf",
        "db\\sub\\deep\\deepest.mdf",
        "db\\sub\\deep\\notes",
        "other\\x.mdf",
    ]:
        fs.write_file("C:\\" + path, b"x", create_dirs=True)
    fs.makedirs("C:\\db\\dir.mdf")  # a directory that matches: glob lists files only
    return fs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("*", ["a.b.c", "Data.LDF", "data.mdf", "README", "x.mdf.bak"]),
        ("*.*", ["a.b.c", "Data.LDF", "data.mdf", "README", "x.mdf.bak"]),
        ("*.mdf", ["data.mdf"]),
        ("*.MDF", ["data.mdf"]),
        ("*.?df", ["Data.LDF", "data.mdf"]),
        ("data.*", ["Data.LDF", "data.mdf"]),
        ("readme.*", ["README"]),
        ("*.", ["README"]),
        ("????", []),
        ("??????", ["README"]),
        ("*mdf*", ["data.mdf", "x.mdf.bak"]),
        ("a.*.c", ["a.b.c"]),
        ("*.b*", ["a.b.c", "x.mdf.bak"]),
        ("data.mdf", ["data.mdf"]),
        ("DATA.MDF", ["data.mdf"]),
        ("dir.mdf", []),  # a literal name (looked up, not listed) of a directory
        ("missing.mdf", []),
        ("readme", ["README"]),
        ("nothing*", []),
        ("x?mdf.bak", ["x.mdf.bak"]),
    ],
)
def test_glob_follows_dos_wildcard_rules(tree: SimFS, spec: str, expected: list[str]) -> None:
    assert tree.glob("C:\\db", spec) == ["C:\\db\\" + name for name in expected]
    if "*" in spec or "?" in spec:
        # The single-argument form with the wildcards in the last component.
        assert tree.glob("C:\\db\\" + spec) == ["C:\\db\\" + name for name in expected]


def test_glob_recursive_applies_the_spec_in_every_subdirectory(tree: SimFS) -> None:
    assert tree.glob("c:\\DB", "*.mdf", recursive=True) == [
        "C:\\db\\data.mdf",
        "C:\\db\\sub\\more.mdf",
        "C:\\db\\sub\\deep\\deepest.mdf",
    ]
    assert tree.glob("C:\\", "*.mdf", recursive=True) == [
        "C:\\db\\data.mdf",
        "C:\\db\\sub\\more.mdf",
        "C:\\db\\sub\\deep\\deepest.mdf",
        "C:\\other\\x.mdf",
    ]
    assert tree.glob("C:\\db\\sub", recursive=True) == [
        "C:\\db\\sub\\more.mdf",
        "C:\\db\\sub\\deep\\deepest.mdf",
        "C:\\db\\sub\\deep\\notes",
    ]
    assert tree.glob("C:\\db\\sub\\*", recursive=True) == tree.glob(
        "C:\\db\\sub", "*", recursive=True
    )


def test_glob_of_a_missing_directory_matches_nothing(tree: SimFS) -> None:
    assert tree.glob("C:\\nope", "*") == []
    assert tree.glob("C:\\nope\\*.mdf", recursive=True) == []


@pytest.mark.parametrize("spec", ["", "a\\b", "a/b", "a<b", "a|b", 'a"b'])
def test_bad_filespecs_are_value_errors(tree: SimFS, spec: str) -> None:
    with pytest.raises(ValueError, match="spec"):
        tree.glob("C:\\db", spec)


def test_wildcards_in_path_and_filespec_together_are_refused(tree: SimFS) -> None:
    with pytest.raises(ValueError, match="not both"):
        tree.glob("C:\\db\\*.mdf", "*.ldf")


_NAME = st.text(alphabet="abAB.x_", min_size=1, max_size=8).filter(
    lambda n: n[-1] != "." and n not in (".", "..")
)
_SPEC = st.text(alphabet="abAB.x_*?", min_size=1, max_size=6)


@given(name=_NAME, spec=_SPEC)
def test_glob_agrees_with_a_reference_matcher(name: str, spec: str) -> None:
    """Reference: fnmatch on upper-cased names (``*`` spans dots, ``?`` one character), plus the
    two DOS end rules (a trailing ``.*`` may match nothing; a trailing lone ``.`` means "no
    extension")."""
    device = MemoryDevice(2**20)
    format(device)
    fs = SimFS.mount(device, roots=["C:\\"])
    fs.write_file("C:\\" + name, b"")
    up_name, up_spec = name.upper(), spec.upper()
    plain = up_spec
    expected = fnmatch.fnmatchcase(up_name, plain)
    if up_spec.endswith(".*"):
        expected = expected or fnmatch.fnmatchcase(up_name, plain[:-2])
    elif up_spec.endswith("."):
        expected = "." not in up_name and fnmatch.fnmatchcase(up_name, plain[:-1])
    assert fs.glob("C:\\", spec) == (["C:\\" + name] if expected else [])
    assert filespec_matches(name, spec) == expected
