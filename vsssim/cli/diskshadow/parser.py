"""diskshadow's command language: one command per line, parsed into a :class:`Command`.

Words are case-insensitive; ``#`` starts a comment line; ``%name%`` is an alias (an environment
variable diskshadow set, or one given to ``add volume ... alias``), expanded when the command
runs, so a line can use an alias an earlier line defines.  A whole script is parsed before
anything runs (:func:`parse_script`): a syntax error on line N is reported with N and the lab
machine is never touched.  Values that need the machine (does the volume exist, is the id a
shadow copy) are checked when the command runs.

The grammar follows the per-command pages (providers reference §6.2).  One deliberate
leniency: ``set context transportable`` is taken as ``set option transportable`` because
Microsoft's own transportable sample script is written that way.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

__all__ = [
    "HELP",
    "Command",
    "DiskshadowSyntaxError",
    "parse_line",
    "parse_script",
    "split_words",
]

_GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                   r"[0-9A-Fa-f]{12}\}?$")
_ALIAS = re.compile(r"^%[A-Za-z_][\w]*%$")
_NAME = re.compile(r"^[A-Za-z_][\w]*$")

#: ``help``: the commands and their syntax.
HELP = (
    "SET CONTEXT {CLIENTACCESSIBLE | PERSISTENT [NOWRITERS] | VOLATILE [NOWRITERS]}",
    "SET OPTION {[DIFFERENTIAL | PLEX] [TRANSPORTABLE] [[ROLLBACKRECOVER] [TXFRECOVER] | "
    "[NOAUTORECOVER]]}",
    "SET VERBOSE {ON | OFF}",
    "SET METADATA <file.cab>          SET          (show the settings)",
    "LOAD METADATA <file.cab>",
    "WRITER {VERIFY | EXCLUDE} {<writer id> | <writer name> | <writer name>:<component path>}",
    "ADD VOLUME <volume> [ALIAS <name>] [PROVIDER <provider id>]",
    "ADD ALIAS <name> <value>         ADD          (list the aliases)",
    "CREATE",
    "EXEC <file.cmd>",
    "BEGIN {BACKUP | RESTORE}         END {BACKUP | RESTORE}",
    "LIST WRITERS [METADATA | DETAILED | STATUS]",
    "LIST SHADOWS {ALL | SET <set id> | ID <shadow id>}",
    "LIST PROVIDERS",
    "DELETE SHADOWS {ALL | VOLUME <volume> | OLDEST <volume> | SET <set id> | ID <shadow id> |"
    " EXPOSED <drive or folder>}",
    "IMPORT                           MASK <set id>",
    "EXPOSE <shadow id> {<drive:> | <share> | <mount folder>}",
    "UNEXPOSE {<shadow id> | <drive:> | <share> | <mount folder>}",
    "BREAK [WRITABLE] <set id>",
    "REVERT <shadow id>",
    "RESET                            EXIT",
)


class DiskshadowSyntaxError(ValueError):
    """A line diskshadow cannot parse (its message says what was expected); ``line`` and
    ``text`` locate it in a script (0 and "" for a typed line)."""

    def __init__(self, message: str, line: int = 0, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.text = text


@dataclass(frozen=True)
class Command:
    """One parsed line: ``name`` (``"set context"``, ``"create"``...), its arguments, where it
    came from."""

    name: str
    args: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0
    text: str = ""


def split_words(line: str) -> list[str]:
    """Words of a line; double quotes group words with spaces (Windows paths)."""
    try:
        lexer = shlex.shlex(line, posix=True)
        lexer.whitespace_split = True
        lexer.escape = ""  # backslashes are path separators, not escapes
        lexer.quotes = '"'
        return list(lexer)
    except ValueError as exc:
        raise DiskshadowSyntaxError(f"unbalanced quotes ({exc})") from None


def _id(word: str, what: str) -> str:
    if _GUID.match(word) or _ALIAS.match(word):
        return word
    raise DiskshadowSyntaxError(f"{word!r} is not a {what} (a GUID such as "
                                "{{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}} or an %alias%)")


def _expect(words: list[str], count: int, usage: str) -> None:
    if len(words) != count:
        raise DiskshadowSyntaxError(f"usage: {usage}")


_OPTIONS = ("differential", "plex", "transportable", "rollbackrecover", "txfrecover",
            "noautorecover")


def _parse_set(words: list[str], low: list[str]) -> tuple[str, tuple[str, ...]]:
    if len(words) == 1:
        return "set", ()
    what = low[1]
    rest = low[2:]
    if what == "context":
        if rest == ["transportable"]:
            return "set option", ("transportable",)
        if rest in (["clientaccessible"], ["persistent"], ["volatile"],
                    ["persistent", "nowriters"], ["volatile", "nowriters"]):
            return "set context", tuple(rest)
        raise DiskshadowSyntaxError("usage: SET CONTEXT {CLIENTACCESSIBLE | PERSISTENT "
                                    "[NOWRITERS] | VOLATILE [NOWRITERS]}")
    if what == "option":
        if not rest or any(w not in _OPTIONS for w in rest) or len(set(rest)) != len(rest):
            raise DiskshadowSyntaxError("usage: SET OPTION {[DIFFERENTIAL | PLEX] "
                                        "[TRANSPORTABLE] [[ROLLBACKRECOVER] [TXFRECOVER] | "
                                        "[NOAUTORECOVER]]}")
        if {"differential", "plex"} <= set(rest):
            raise DiskshadowSyntaxError("DIFFERENTIAL and PLEX cannot be combined")
        if "noautorecover" in rest and {"txfrecover", "rollbackrecover"} & set(rest):
            raise DiskshadowSyntaxError("NOAUTORECOVER cannot be combined with TXFRECOVER or "
                                        "ROLLBACKRECOVER")
        return "set option", tuple(rest)
    if what == "verbose":
        if rest not in (["on"], ["off"]):
            raise DiskshadowSyntaxError("usage: SET VERBOSE {ON | OFF}")
        return "set verbose", tuple(rest)
    if what == "metadata":
        _expect(words, 3, "SET METADATA [<drive>:][<path>]<file.cab>")
        return "set metadata", (words[2],)
    raise DiskshadowSyntaxError(f"SET {words[1].upper()} is not a setting (CONTEXT, OPTION, "
                                "VERBOSE, METADATA)")


def _parse_add(words: list[str], low: list[str]) -> Command:
    if len(words) == 1:
        return Command("add")
    if low[1] == "alias":
        _expect(words, 4, "ADD ALIAS <name> <value>")
        if not _NAME.match(words[2]):
            raise DiskshadowSyntaxError(f"{words[2]!r} is not an alias name")
        return Command("add alias", (words[2], words[3]))
    if low[1] != "volume":
        raise DiskshadowSyntaxError("usage: ADD VOLUME <volume> [ALIAS <name>] [PROVIDER <id>]"
                                    " or ADD ALIAS <name> <value>")
    if len(words) < 3:
        raise DiskshadowSyntaxError("usage: ADD VOLUME <volume> [ALIAS <name>] [PROVIDER <id>]")
    options: dict[str, str] = {}
    rest = words[3:]
    while rest:
        key = rest[0].lower()
        if key not in ("alias", "provider") or len(rest) < 2 or key in options:
            raise DiskshadowSyntaxError("usage: ADD VOLUME <volume> [ALIAS <name>] "
                                        "[PROVIDER <provider id>]")
        value = rest[1]
        if key == "alias" and not _NAME.match(value):
            raise DiskshadowSyntaxError(f"{value!r} is not an alias name")
        if key == "provider":
            _id(value, "provider id")
        options[key] = value
        rest = rest[2:]
    return Command("add volume", (words[2],), options)


def _parse_list(words: list[str], low: list[str]) -> Command:
    if len(words) < 2:
        raise DiskshadowSyntaxError("usage: LIST {WRITERS | SHADOWS | PROVIDERS}")
    if low[1] == "writers":
        mode = low[2] if len(low) > 2 else "metadata"
        if len(low) > 3 or mode not in ("metadata", "detailed", "status"):
            raise DiskshadowSyntaxError("usage: LIST WRITERS [METADATA | DETAILED | STATUS]")
        return Command("list writers", (mode,))
    if low[1] == "providers":
        _expect(words, 2, "LIST PROVIDERS")
        return Command("list providers")
    if low[1] == "shadows":
        if low[2:] == ["all"]:
            return Command("list shadows", ("all",))
        if len(low) == 4 and low[2] in ("set", "id"):
            return Command("list shadows", (low[2], _id(words[3], f"shadow copy {low[2]}")))
        raise DiskshadowSyntaxError("usage: LIST SHADOWS {ALL | SET <set id> | ID <shadow id>}")
    raise DiskshadowSyntaxError(f"LIST {words[1].upper()}: list WRITERS, SHADOWS or PROVIDERS")


def _parse_delete(words: list[str], low: list[str]) -> Command:
    usage = ("usage: DELETE SHADOWS {ALL | VOLUME <volume> | OLDEST <volume> | SET <set id> | "
             "ID <shadow id> | EXPOSED <drive or folder>}")
    if len(low) < 3 or low[1] != "shadows":
        raise DiskshadowSyntaxError(usage)
    what = low[2]
    if what == "all" and len(low) == 3:
        return Command("delete shadows", ("all",))
    if len(low) != 4:
        raise DiskshadowSyntaxError(usage)
    if what in ("set", "id"):
        return Command("delete shadows", (what, _id(words[3], f"shadow copy {what}")))
    if what in ("volume", "oldest", "exposed"):
        return Command("delete shadows", (what, words[3]))
    raise DiskshadowSyntaxError(usage)


def parse_line(text: str, line: int = 0) -> Command | None:
    """Parse one line (None for a blank line or a ``#`` comment)."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    words = split_words(stripped)
    low = [w.lower() for w in words]
    head = low[0]
    cmd: Command
    if head == "set":
        name, args = _parse_set(words, low)
        cmd = Command(name, args)
    elif head == "load":
        if len(words) != 3 or low[1] != "metadata":
            raise DiskshadowSyntaxError("usage: LOAD METADATA [<drive>:][<path>]<file.cab>")
        cmd = Command("load metadata", (words[2],))
    elif head == "writer":
        if len(words) != 3 or low[1] not in ("verify", "exclude"):
            raise DiskshadowSyntaxError("usage: WRITER {VERIFY | EXCLUDE} {<writer id> | "
                                        "<writer name> | <component>}")
        cmd = Command(f"writer {low[1]}", (words[2],))
    elif head == "add":
        cmd = _parse_add(words, low)
    elif head in ("create", "import", "reset", "exit", "help", "?"):
        if len(words) != 1:
            raise DiskshadowSyntaxError(f"{head.upper()} takes no parameters")
        cmd = Command("help" if head == "?" else head)
    elif head == "exec":
        _expect(words, 2, "EXEC <file.cmd>")
        cmd = Command("exec", (words[1],))
    elif head in ("begin", "end"):
        if len(words) != 2 or low[1] not in ("backup", "restore"):
            raise DiskshadowSyntaxError(f"usage: {head.upper()} {{BACKUP | RESTORE}}")
        cmd = Command(f"{head} {low[1]}")
    elif head == "list":
        cmd = _parse_list(words, low)
    elif head == "delete":
        cmd = _parse_delete(words, low)
    elif head == "mask":
        _expect(words, 2, "MASK <shadow copy set id>")
        cmd = Command("mask", (_id(words[1], "shadow copy set id"),))
    elif head == "expose":
        _expect(words, 3, "EXPOSE <shadow id> {<drive:> | <share> | <mount folder>}")
        cmd = Command("expose", (_id(words[1], "shadow copy id"), words[2]))
    elif head == "unexpose":
        _expect(words, 2, "UNEXPOSE {<shadow id> | <drive:> | <share> | <mount folder>}")
        cmd = Command("unexpose", (words[1],))
    elif head == "break":
        if len(low) == 3 and low[1] == "writable":
            cmd = Command("break", (_id(words[2], "shadow copy set id"),), {"writable": "1"})
        elif len(low) == 2:
            cmd = Command("break", (_id(words[1], "shadow copy set id"),))
        else:
            raise DiskshadowSyntaxError("usage: BREAK [WRITABLE] <shadow copy set id>")
    elif head == "revert":
        _expect(words, 2, "REVERT <shadow copy id>")
        cmd = Command("revert", (_id(words[1], "shadow copy id"),))
    else:
        raise DiskshadowSyntaxError(f"{words[0]!r} is not a DiskShadow command (type HELP for "
                                    "the list)")
    return Command(cmd.name, cmd.args, cmd.options, line, stripped)


def parse_script(text: str) -> list[Command]:
    """Parse a whole script; a :class:`DiskshadowSyntaxError` says which line is wrong."""
    commands = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            cmd = parse_line(line, number)
        except DiskshadowSyntaxError as exc:
            raise DiskshadowSyntaxError(exc.message, number, line.strip()) from None
        if cmd is not None:
            commands.append(cmd)
    return commands
