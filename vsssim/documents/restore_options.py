"""The restore-options string of ``IVssBackupComponents::SetRestoreOptions`` (reference 8.8).

Documented format (``Setting VSS Restore Options``): one or more comma-separated
``"Name"="Value"`` pairs, each *optionally* prefixed by the subcomponent it applies to::

    "Child1":"Option1"="Value1","Option2"="Value2","Child2\\Grandchild3":"Option3"="Value3"

A prefix belongs to its own pair only: above, Option1 applies to Child1 and its descendants,
Option2 to every component, Option3 to ``Child2\\Grandchild3`` and its descendants.  Subcomponent
paths are relative to the component the options are set on.  Subcomponent and option names
compare case-insensitively; the case of values is the writer's business.  The same name may
appear several times (``"Authoritative"="Item:..."`` may be repeated).

Grammar accepted here (white space is allowed around the punctuation)::

    options := [pair ("," pair)*]
    pair    := [quoted ":"] quoted "=" quoted
    quoted  := '"' (any character but '"' | '""')* '"'

Fidelity: the docs do not say how a value holds a double quote; vsssim doubles it (``""``), as
CSV does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from vsssim.documents._fields import check_logical_path, check_xml_text, fold, split_logical_path

__all__ = ["RestoreOption", "format_restore_options", "options_for", "parse_restore_options"]

_SPACE: Final = " \t\r\n"


@dataclass(frozen=True, slots=True)
class RestoreOption:
    """One ``"Name"="Value"`` pair; ``subcomponent`` is the relative logical path of the
    ``"Sub\\Path":`` prefix, or None when the option applies to every component.
    """

    subcomponent: str | None
    name: str
    value: str

    def __post_init__(self) -> None:
        for what, text in (("name", self.name), ("value", self.value)):
            if not isinstance(text, str):
                raise TypeError(f"restore option {what} must be a str, not {type(text).__name__}")
            check_xml_text(text)
        if not self.name:
            raise ValueError("a restore option needs a name")
        if self.subcomponent is not None:
            if not isinstance(self.subcomponent, str):
                raise TypeError("a restore option's subcomponent must be a str or None")
            if not self.subcomponent:
                raise ValueError("a restore option's subcomponent prefix must not be empty")
            check_logical_path(self.subcomponent)

    def has_name(self, name: str) -> bool:
        """True if the option is called ``name`` (case-insensitive)."""
        return fold(self.name) == fold(name)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> ValueError:
        return ValueError(f"restore options: {message} at position {self.pos} of {self.text!r}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "the end"
            raise self.fail(f"expected {char!r}, found {found}")
        self.pos += 1

    def quoted(self) -> str:
        self.expect('"')
        parts = []
        while True:
            end = self.text.find('"', self.pos)
            if end < 0:
                raise self.fail("unterminated quoted string")
            parts.append(self.text[self.pos : end])
            self.pos = end + 1
            if self.text.startswith('"', self.pos):  # a doubled quote stands for one quote
                parts.append('"')
                self.pos += 1
                continue
            return "".join(parts)

    def pair(self) -> RestoreOption:
        start = self.pos
        first = self.quoted()
        subcomponent = None
        if self.peek() == ":":
            self.pos += 1
            subcomponent = first
            name = self.quoted()
        else:
            name = first
        self.expect("=")
        value = self.quoted()
        try:
            return RestoreOption(subcomponent, name, value)
        except ValueError as exc:
            self.pos = start
            raise self.fail(str(exc)) from None


def parse_restore_options(text: str) -> list[RestoreOption]:
    """Parse a restore-options string; ``""`` (or white space) is no options.

    Raises ``ValueError`` saying what was expected and at which position.
    """
    if not isinstance(text, str):
        raise TypeError(f"restore options must be a str, not {type(text).__name__}")
    parser = _Parser(text)
    options: list[RestoreOption] = []
    if parser.peek() == "":
        return options
    while True:
        options.append(parser.pair())
        if parser.peek() == "":
            return options
        parser.expect(",")


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def format_restore_options(options: Iterable[RestoreOption]) -> str:
    """The restore-options string of ``options`` (the inverse of :func:`parse_restore_options`)."""
    return ",".join(
        (f"{_quote(o.subcomponent)}:" if o.subcomponent is not None else "")
        + f"{_quote(o.name)}={_quote(o.value)}"
        for o in options
    )


def options_for(
    options: Iterable[RestoreOption], component_path: str, name: str | None = None
) -> list[RestoreOption]:
    """The options that apply to the subcomponent at ``component_path`` (relative to the
    component the options were set on; ``""`` is that component itself): those without a
    prefix and those whose prefix is ``component_path`` or one of its ancestors (element-wise,
    case-insensitive).  With ``name``, only options of that name (case-insensitive).
    """
    target = [fold(e) for e in split_logical_path(component_path)]
    found = []
    for option in options:
        if name is not None and not option.has_name(name):
            continue
        if option.subcomponent is not None:
            prefix = [fold(e) for e in split_logical_path(option.subcomponent)]
            if target[: len(prefix)] != prefix:
                continue
        found.append(option)
    return found
