"""Restore-options strings (reference 8.8, ``Setting VSS Restore Options``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vsssim.strategies as vst
from vsssim.documents import (
    RestoreOption,
    format_restore_options,
    options_for,
    parse_restore_options,
)

DOC_EXAMPLE = (
    '"Child1":"Option1"="Value1","Option2"="Value2","Child2\\Grandchild3":"Option3"="Value3"'
)


def test_documented_example() -> None:
    options = parse_restore_options(DOC_EXAMPLE)
    assert options == [
        RestoreOption("Child1", "Option1", "Value1"),
        RestoreOption(None, "Option2", "Value2"),  # a prefix applies to its own pair only
        RestoreOption("Child2\\Grandchild3", "Option3", "Value3"),
    ]
    assert format_restore_options(options) == DOC_EXAMPLE


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("", ["Option2"]),
        ("Child1", ["Option1", "Option2"]),
        ("CHILD1\\leaf", ["Option1", "Option2"]),
        ("Child10", ["Option2"]),  # element-wise, not a string prefix
        ("Child2", ["Option2"]),
        ("Child2\\Grandchild3", ["Option2", "Option3"]),
        ("child2\\grandchild3\\x\\y", ["Option2", "Option3"]),
    ],
)
def test_options_apply_to_the_subcomponent_and_its_descendants(path: str, names: list[str]) -> None:
    options = parse_restore_options(DOC_EXAMPLE)
    assert [o.name for o in options_for(options, path)] == names


def test_names_are_case_insensitive_values_are_not() -> None:
    options = parse_restore_options(
        '"Roll Forward"="Partial:42","AUTHORITATIVE"="Item:A","authoritative"="Item:b"'
    )
    assert [o.value for o in options_for(options, "", name="authoritative")] == ["Item:A", "Item:b"]
    assert options_for(options, "x", name="roll forward")[0].value == "Partial:42"
    assert options[0].has_name("ROLL FORWARD")
    assert not options[0].has_name("RollForward")


def test_white_space_between_tokens_and_inside_quotes() -> None:
    options = parse_restore_options(' "A" : "B" = " c d " ,\n\t"E"="" ')
    assert options == [RestoreOption("A", "B", " c d "), RestoreOption(None, "E", "")]


def test_empty_string_is_no_options() -> None:
    assert parse_restore_options("") == []
    assert parse_restore_options("  \n") == []
    assert format_restore_options([]) == ""


def test_doubled_quotes_stand_for_a_quote() -> None:
    options = [RestoreOption(None, 'say "hi"', 'a "quoted", value')]
    text = format_restore_options(options)
    assert text == '"say ""hi"""="a ""quoted"", value"'
    assert parse_restore_options(text) == options


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('"A"', 3),  # no '='
        ('"A"=', 4),  # no value
        ('"A"="B",', 8),  # trailing comma
        ('"A"="B" "C"="D"', 8),  # missing comma
        ('"A"="B', 5),  # unterminated
        ("A=B", 0),  # unquoted
        ('""="x"', 0),  # empty name
        ('"":"A"="x"', 0),  # empty subcomponent
        ('"\\bad":"A"="x"', 0),  # invalid subcomponent path
        ('"A":"B":"C"="D"', 7),
    ],
)
def test_syntax_errors_say_where(text: str, position: int) -> None:
    with pytest.raises(ValueError, match=f"at position {position} ") as info:
        parse_restore_options(text)
    assert "restore options" in str(info.value)


def test_restore_option_validation() -> None:
    with pytest.raises(ValueError, match="name"):
        RestoreOption(None, "", "x")
    with pytest.raises(ValueError, match="subcomponent"):
        RestoreOption("", "A", "x")
    with pytest.raises(ValueError, match="backslash"):
        RestoreOption("a\\", "A", "x")
    with pytest.raises(ValueError, match="XML"):
        RestoreOption(None, "A", "\x00")
    with pytest.raises(TypeError):
        RestoreOption(None, "A", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_restore_options(None)  # type: ignore[arg-type]


restore_options = st.builds(
    RestoreOption,
    st.none() | vst.logical_paths(max_depth=2).filter(bool),
    vst.xml_texts(min_size=1),
    vst.xml_texts(),
)


@given(st.lists(restore_options, max_size=5))
def test_format_then_parse_round_trips(options: list[RestoreOption]) -> None:
    text = format_restore_options(options)
    assert parse_restore_options(text) == options
    assert format_restore_options(parse_restore_options(text)) == text
