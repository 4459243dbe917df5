"""vsssim.hresult against the reference table of vsserror.h (values and completeness)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._reference import hresult_table
from vsssim import hresult
from vsssim.hresult import HResult


def test_every_reference_code_has_its_exact_value() -> None:
    table = hresult_table()
    assert len(table) == 81  # vsserror.h defines 81 VSS_E_* / VSS_S_* codes
    for name, value in table.items():
        assert getattr(hresult, name) == value, name
        assert HResult[name] == value


def test_vss_codes_are_exactly_the_header_codes() -> None:
    assert set(hresult.VSS_CODES) == set(hresult_table())
    assert all(n.startswith(("VSS_E_", "VSS_S_")) for n in hresult.VSS_CODES)


def test_issue_example_and_unsigned_values() -> None:
    assert hresult.VSS_E_BAD_STATE == 0x80042301
    assert all(0 <= int(m) < 2**32 for m in HResult)


@pytest.mark.parametrize("name", sorted(hresult.MEANINGS))
def test_every_code_has_a_meaning(name: str) -> None:
    assert hresult.MEANINGS[name].strip()
    assert hresult.lookup(HResult[name]).meaning == hresult.MEANINGS[name]


def test_lookup_by_signed_and_unsigned_value() -> None:
    # Two values cross-checked against windows-sys (signed 32-bit) in the reference.
    assert hresult.lookup(-2147212524).name == "VSS_E_HOLD_WRITES_TIMEOUT"
    assert hresult.lookup(-2147212302).name == "VSS_E_WRITERERROR_TIMEOUT"
    info = hresult.lookup(0x80042308)
    assert (info.name, info.value) == ("VSS_E_OBJECT_NOT_FOUND", 0x80042308)
    assert "VSS_E_OBJECT_NOT_FOUND (0x80042308)" in str(info)


def test_success_and_error_forms_are_distinct() -> None:
    assert hresult.VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED == 0x00042321
    assert hresult.VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED == 0x80042321
    assert hresult.is_success(hresult.VSS_S_ASYNC_FINISHED)
    assert hresult.is_error(hresult.VSS_E_BAD_STATE)


def test_signed_unsigned_conversion_round_trips() -> None:
    for member in HResult:
        assert hresult.to_unsigned(hresult.to_signed(member)) == member
    with pytest.raises(ValueError, match="32-bit"):
        hresult.to_unsigned(1 << 40)


def test_unknown_values() -> None:
    with pytest.raises(LookupError):
        hresult.lookup(0x80049999)
    assert hresult.name_of(0x80049999) == "0x80049999"
    assert hresult.describe(0x80049999) == "0x80049999"


def test_sdk_tables_match_the_reference() -> None:
    """The copy of the reference's tables in tests/data is current (where the reference is)."""
    import json

    from tests._reference import REFERENCE, TABLES, parse_reference

    path = REFERENCE / "vss-requester-writer.md"
    if not path.exists():
        pytest.skip("nothing to compare with: the maintainers' VSS reference document that the "
                    "SDK tables were copied from is not on this machine (the other tests use "
                    f"the copy, tests/data/{TABLES.name})")
    assert json.loads(TABLES.read_text(encoding="utf-8")) == parse_reference(
        path.read_text(encoding="utf-8")), "regenerate with: python -m tests._reference"


def test_without_the_reference_the_skip_says_what_is_missing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tests._reference

    monkeypatch.setattr(tests._reference, "REFERENCE", tmp_path / "nowhere")
    with pytest.raises(pytest.skip.Exception) as skipped:
        test_sdk_tables_match_the_reference()
    message = str(skipped.value)
    assert "reference document" in message and "tests/data/sdk_tables.json" in message
    assert str(tmp_path) not in message  # no path of the maintainers' machines


@pytest.mark.parametrize("value", ["0x80042301", 2.5, None, True])
def test_an_hresult_is_an_int(value: object) -> None:
    with pytest.raises(TypeError, match="an HRESULT is an int"):
        hresult.to_unsigned(value)  # type: ignore[arg-type]


def test_as_hresult_names_known_codes_and_keeps_others() -> None:
    assert hresult.as_hresult(-2147212543) is HResult.VSS_E_BAD_STATE  # signed, as COM gives it
    assert hresult.as_hresult(0x80042301) is HResult.VSS_E_BAD_STATE
    unknown = hresult.as_hresult(0x8004FFFF)
    assert type(unknown) is int and unknown == 0x8004FFFF



def test_name_of_names_a_code_however_it_comes_and_refuses_what_is_not_one() -> None:
    """``name_of`` looks a plain int or a member up first (a fast path): signed values, members,
    int subclasses and unknown codes must still be named as ``to_unsigned`` reads them, and a
    bool (whose hash is that of 0 or 1) must still be refused."""

    class Code(int):
        pass

    assert hresult.name_of(hresult.VSS_E_BAD_STATE) == "VSS_E_BAD_STATE"
    assert hresult.name_of(int(hresult.VSS_E_BAD_STATE)) == "VSS_E_BAD_STATE"
    assert hresult.name_of(hresult.to_signed(hresult.VSS_E_BAD_STATE)) == "VSS_E_BAD_STATE"
    assert hresult.name_of(Code(hresult.VSS_E_BAD_STATE)) == "VSS_E_BAD_STATE"
    assert hresult.name_of(0) == "S_OK"
    assert hresult.name_of(0x80049999) == "0x80049999"
    for flag in (True, False):
        with pytest.raises(TypeError):
            hresult.name_of(flag)
    with pytest.raises(ValueError, match="not a 32-bit HRESULT"):
        hresult.name_of(1 << 40)
