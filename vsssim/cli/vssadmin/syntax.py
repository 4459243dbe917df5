"""``vssadmin`` command syntax: the command table, the switch parser and the help texts.

Parsing happens before the lab machine is opened, so a command with a syntax error changes
nothing at all.  Verbs, objects and switch names are case-insensitive (``/For=C:`` and
``/for=c:`` both appear in Microsoft's examples); a switch is ``/Name=value`` or ``/Name``.
Shadow and set ids are accepted with or without braces (the help text shows braces, the web
page omits them).  Client editions of Windows have only the seven commands their help lists
(providers reference §5.1): the others are "Error: Invalid command." there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["COMMANDS", "CommandSpec", "Invocation", "VssadminSyntaxError", "command_list",
           "parse", "parse_max_size"]


@dataclass(frozen=True)
class CommandSpec:
    """One vssadmin command: its words, switches (with a value / flags), rules and help."""

    verb: str
    obj: str
    summary: str
    usage: str
    explanation: str
    values: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    exclusive: tuple[tuple[str, str], ...] = ()
    server_only: bool = False

    @property
    def key(self) -> str:
        """``"list shadows"``: how the implementation looks the command up."""
        return f"{self.verb} {self.obj}".lower()

    @property
    def title(self) -> str:
        """``"List Shadows"`` as the help prints it."""
        return f"{self.verb} {self.obj}"

    def help_lines(self) -> list[str]:
        """The ``vssadmin <command> /?`` text."""
        return [self.usage, *self.explanation.splitlines()]


_ID_NOTE = ("    - A shadow copy ID looks like {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}, where\n"
            "    the X's are hexadecimal digits; `vssadmin list shadows` shows them.")
_SIZE_NOTE = ("    - MaxSizeSpec is a number of bytes, optionally with a suffix KB, MB, GB,\n"
              "    TB, PB or EB (or B, K, M, G, T, P, E), a percentage of the storage\n"
              "    volume (e.g. 20%), or UNBOUNDED.")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("Add", "ShadowStorage", "Add a new volume shadow copy storage association",
                "Add ShadowStorage /For=ForVolumeSpec /On=OnVolumeSpec [/MaxSize=MaxSizeSpec]",
                "    - Puts the shadow copy storage (diff area) of the /For volume on the /On\n"
                "    volume, at most MaxSizeSpec bytes (no /MaxSize: no limit). The volume\n"
                "    must not have shadow copies yet.\n" + _SIZE_NOTE,
                values=("For", "On", "MaxSize"), required=("For", "On"), server_only=True),
    CommandSpec("Create", "Shadow", "Create a new volume shadow copy",
                "Create Shadow /For=ForVolumeSpec [/AutoRetry=MaxRetryMinutes]",
                "    - Creates a shadow copy of the /For volume (type ClientAccessible: no\n"
                "    writers take part). /AutoRetry keeps retrying for that many minutes\n"
                "    while another shadow copy is being created.",
                values=("For", "AutoRetry"), required=("For",), server_only=True),
    CommandSpec("Delete", "Shadows", "Delete volume shadow copies",
                "Delete Shadows /For=ForVolumeSpec [/Oldest | /All | /Shadow=ShadowId] [/Quiet]"
                "\n    Delete Shadows /Shadow=ShadowId [/Quiet]\n    Delete Shadows /All [/Quiet]",
                "    - Deletes the shadow copies of the /For volume (all of them, or the\n"
                "    oldest), one shadow copy (/Shadow), or every shadow copy (/All).\n"
                "    Only shadow copies of type ClientAccessible can be deleted here.\n"
                "    /Quiet: do not ask, print nothing.\n" + _ID_NOTE,
                values=("For", "Shadow"), flags=("Oldest", "All", "Quiet"),
                exclusive=(("Oldest", "All"), ("Oldest", "Shadow"), ("All", "Shadow"))),
    CommandSpec("Delete", "ShadowStorage", "Delete volume shadow copy storage associations",
                "Delete ShadowStorage /For=ForVolumeSpec [/On=OnVolumeSpec] [/Quiet]",
                "    - Deletes the shadow copy storage association of the /For volume.\n"
                "    It must not hold shadow copies.",
                values=("For", "On"), flags=("Quiet",), required=("For",), server_only=True),
    CommandSpec("List", "Providers", "List registered volume shadow copy providers",
                "List Providers", "    - Lists the registered shadow copy providers."),
    CommandSpec("List", "Shadows", "List existing volume shadow copies",
                "List Shadows [/For=ForVolumeSpec] [/Shadow=ShadowId|/Set=ShadowSetId]",
                "    - Lists the shadow copies, grouped by shadow copy set. The options\n"
                "    narrow the list to one volume, one shadow copy or one set.\n" + _ID_NOTE,
                values=("For", "Shadow", "Set"), exclusive=(("Shadow", "Set"),)),
    CommandSpec("List", "ShadowStorage", "List volume shadow copy storage associations",
                "List ShadowStorage [/For=ForVolumeSpec|/On=OnVolumeSpec]",
                "    - Lists the shadow copy storage associations for a volume (/For), on a\n"
                "    storage volume (/On), or all of them.",
                values=("For", "On"), exclusive=(("For", "On"),)),
    CommandSpec("List", "Volumes", "List volumes eligible for shadow copies",
                "List Volumes", "    - Lists the volumes that can have shadow copies."),
    CommandSpec("List", "Writers", "List subscribed volume shadow copy writers",
                "List Writers",
                "    - Asks every subscribed writer to identify itself and shows its state\n"
                "    and last error."),
    CommandSpec("Resize", "ShadowStorage", "Resize a volume shadow copy storage association",
                "Resize ShadowStorage /For=ForVolumeSpec /On=OnVolumeSpec "
                "/MaxSize=MaxSizeSpec",
                "    - Changes the maximum size of a shadow copy storage association;\n"
                "    shrinking it may delete the oldest shadow copies.\n" + _SIZE_NOTE,
                values=("For", "On", "MaxSize"), required=("For", "On", "MaxSize")),
    CommandSpec("Revert", "Shadow", "Revert a volume to a shadow copy",
                "Revert Shadow /Shadow=ShadowId [/ForceDismount]",
                "    - Makes the shadow copy's volume equal to the shadow copy again. The\n"
                "    volume must not be in use, unless /ForceDismount dismounts it.\n"
                + _ID_NOTE,
                values=("Shadow",), flags=("ForceDismount",), required=("Shadow",),
                server_only=True),
    CommandSpec("Query", "Reverts", "Query the progress of in-progress revert operations.",
                "Query Reverts [/For=ForVolumeSpec]",
                "    - Shows the reverts in progress (of one volume with /For).",
                values=("For",), server_only=True),
)


class VssadminSyntaxError(Exception):
    """A command vssadmin would refuse before doing anything: its message (printed after the
    banner) and the command whose help follows it (None: the list of commands)."""

    def __init__(self, message: str, spec: CommandSpec | None) -> None:
        super().__init__(message)
        self.message = message
        self.spec = spec


@dataclass
class Invocation:
    """A parsed command: the command and its switches (canonical names; flags map to None)."""

    spec: CommandSpec | None  # None: print the list of commands (``vssadmin /?``)
    switches: dict[str, str | None] = field(default_factory=dict)
    help: bool = False

    def value(self, name: str) -> str | None:
        """The value of a switch, or None if it was not given."""
        return self.switches.get(name)

    def has(self, name: str) -> bool:
        """Whether a switch was given."""
        return name in self.switches


def available(edition: str) -> list[CommandSpec]:
    """The commands of this edition, in the order the help lists them."""
    return [c for c in COMMANDS if edition == "server" or not c.server_only]


def command_list(edition: str) -> list[str]:
    """The ``---- Commands Supported ----`` block."""
    lines = ["---- Commands Supported ----", ""]
    lines += [f"{c.title:<22}- {c.summary}" for c in available(edition)]
    return lines


def parse(argv: list[str], edition: str) -> Invocation:
    """Parse ``vssadmin`` arguments (raises :class:`VssadminSyntaxError`)."""
    words = list(argv)
    if not words or words[0] in ("/?", "-?", "/help"):
        return Invocation(None, help=True)
    if len(words) < 2 or words[1].startswith("/"):
        raise VssadminSyntaxError("Error: Invalid command.", None)
    key = f"{words[0]} {words[1]}".lower()
    spec = next((c for c in available(edition) if c.key == key), None)
    if spec is None:
        raise VssadminSyntaxError("Error: Invalid command.", None)
    switches: dict[str, str | None] = {}
    for token in words[2:]:
        if token in ("/?", "-?"):
            return Invocation(spec, help=True)
        if not token.startswith("/") or len(token) < 2:
            raise VssadminSyntaxError(f"Error: Unexpected option: {token}", spec)
        name, eq, value = token[1:].partition("=")
        canonical = next((n for n in spec.values + spec.flags if n.lower() == name.lower()),
                         None)
        if canonical is None:
            raise VssadminSyntaxError(f"Error: Unexpected option: /{name}", spec)
        if canonical in switches:
            raise VssadminSyntaxError(f"Error: The option /{canonical} was given twice.", spec)
        if canonical in spec.values:
            if not eq or not value.strip().strip('"'):
                raise VssadminSyntaxError("Error: Invalid option value.", spec)
            switches[canonical] = value.strip().strip('"')
        else:
            if eq:
                raise VssadminSyntaxError("Error: Invalid option value.", spec)
            switches[canonical] = None
    for name in spec.required:
        if name not in switches:
            raise VssadminSyntaxError(f"Error: Missing option /{name}.", spec)
    for a, b in spec.exclusive:
        if a in switches and b in switches:
            raise VssadminSyntaxError(f"Error: /{a} and /{b} cannot be used together.", spec)
    if spec.key == "delete shadows" and "Oldest" in switches and "For" not in switches:
        raise VssadminSyntaxError("Error: /Oldest needs /For.", spec)
    if spec.key == "delete shadows" and not switches.keys() & {"For", "Shadow", "All"}:
        raise VssadminSyntaxError("Error: Missing option /For, /Shadow or /All.", spec)
    return Invocation(spec, switches)


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|K|KB|M|MB|G|GB|T|TB|P|PB|E|EB)?$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40,
          "P": 1 << 50, "E": 1 << 60}


def parse_max_size(text: str) -> tuple[str, float | None]:
    """``MaxSizeSpec``: ("bytes", n), ("percent", p) or ("unbounded", None); ValueError if it
    is none of them."""
    text = text.strip()
    if text.upper() == "UNBOUNDED":
        return "unbounded", None
    if text.endswith("%"):
        number = text[:-1].strip()
        if not re.fullmatch(r"\d+(\.\d+)?", number) or not 0 < float(number) <= 100:
            raise ValueError(text)
        return "percent", float(number)
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(text)
    unit = (m.group(2) or "").upper().rstrip("B") if (m.group(2) or "").upper() != "B" else "B"
    return "bytes", float(m.group(1)) * _UNITS[unit]
