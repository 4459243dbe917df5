"""What diskshadow's ``exec`` runs: a ``.cmd`` file, through a small subset of ``cmd.exe``.

The simulator has no Windows command interpreter, so ``exec`` runs the few commands a backup
script uses to copy files out of exposed shadow copies:

* ``@echo off|on``, ``echo <text>``, ``echo.``, ``rem ...``, ``:: ...``, blank lines;
* ``set NAME=value`` and ``%NAME%`` expansion (diskshadow's aliases are environment variables,
  ``%VSS_SHADOW_SET%``, ``%COMPUTERNAME%`` too);
* ``copy [/y] <source> <target>`` (one file; no folder is made: a missing one is cmd's "The
  system cannot find the path specified."), ``xcopy <source> <target> [/s] [/e] [/i] [/y]``
  (files or whole directories, folders made as needed), ``md``/``mkdir``, ``type``, ``dir``;
* ``exit [/b] [N]``.

Paths with a drive letter or ``\\\\?\\`` are on the lab machine (a volume, an exposed shadow
copy, a shadow copy device); any other path is on the host, relative to the current directory.
An unknown command gets cmd's own message and errorlevel 9009 and the script goes on, as in
cmd; the script's exit code is the last errorlevel (``exit /b N`` sets it).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from vsssim.cli.diskshadow.parser import split_words
from vsssim.cli.simpaths import copy_file, host_path, is_windows_path, locate
from vsssim.errors import VssError
from vsssim.system import VssSystem

__all__ = ["CmdResult", "run_cmd"]

_VAR = re.compile(r"%([A-Za-z_][\w]*)%")
NOT_RECOGNIZED = 9009


class CmdResult:
    """The exit code of one ``.cmd`` run (the last errorlevel, or ``exit /b N``)."""

    def __init__(self) -> None:
        self.exit_code = 0


def _expand(text: str, env: dict[str, str]) -> str:
    return _VAR.sub(lambda m: env.get(m.group(1).upper(), m.group(0)), text)


class _Cmd:
    def __init__(self, system: VssSystem, env: dict[str, str], out: Callable[[str], None]
                 ) -> None:
        self.system = system
        self.env = {k.upper(): v for k, v in env.items()}
        self.env.setdefault("COMPUTERNAME", system.machine_name)
        self.out = out
        self.echo = True
        self.errorlevel = 0

    # -- file helpers -----------------------------------------------------------------------
    def _is_dir(self, path: str) -> bool:
        if is_windows_path(path):
            fs, p = locate(self.system, path)
            return bool(fs.is_dir(p))
        return host_path(path).is_dir()

    def _listdir(self, path: str) -> tuple[list[str], list[str]]:
        if is_windows_path(path):
            fs, p = locate(self.system, path)
            names = fs.listdir(p)
            base = p.rstrip("\\")
            dirs = [n for n in names if fs.is_dir(f"{base}\\{n}")]
            return dirs, [n for n in names if n not in dirs]
        entries = sorted(host_path(path).iterdir())
        return ([e.name for e in entries if e.is_dir()],
                [e.name for e in entries if not e.is_dir()])

    @staticmethod
    def _join(base: str, name: str) -> str:
        if is_windows_path(base):
            return base.rstrip("\\") + "\\" + name
        return str(host_path(base) / name)

    @staticmethod
    def _parent(path: str) -> str:
        if is_windows_path(path):
            parent = path.rstrip("\\").rsplit("\\", 1)[0]
            return parent + "\\" if len(parent) == 2 else parent  # a drive letter alone: its root
        return str(host_path(path).parent)

    def _mkdir(self, path: str) -> None:
        if is_windows_path(path):
            fs, p = locate(self.system, path)
            fs.makedirs(p, exist_ok=True)
        else:
            host_path(path).mkdir(parents=True, exist_ok=True)

    # -- commands ---------------------------------------------------------------------------
    def copy(self, args: list[str]) -> int:
        """``copy [/y] SOURCE TARGET``: one file (into TARGET if it is a directory)."""
        words = [a for a in args if not a.startswith("/")]
        if len(words) != 2:
            self.out("The syntax of the command is incorrect.")
            return 1
        src, dst = words
        if self._is_dir(dst):
            dst = self._join(dst, re.split(r"[\\/]", src.rstrip("\\/"))[-1])
        elif not self._is_dir(self._parent(dst)):
            # copy makes no folders (xcopy does): cmd's own message and count
            self.out("The system cannot find the path specified.")
            self.out("        0 file(s) copied.")
            return 1
        copy_file(self.system, src, dst)
        self.out("        1 file(s) copied.")
        return 0

    def xcopy(self, args: list[str]) -> int:
        """``xcopy SOURCE TARGET [/s] [/e] [/i] [/y]``: a file, or a directory's files (and
        its subdirectories with ``/s`` or ``/e``)."""
        flags = {a.lower() for a in args if a.startswith("/")}
        words = [a for a in args if not a.startswith("/")]
        if len(words) != 2:
            self.out("Invalid number of parameters")
            return 4
        src, dst = words
        recursive = bool(flags & {"/s", "/e"})
        count = 0
        if self._is_dir(src):
            stack = [(src, dst)]
            while stack:
                s, d = stack.pop()
                self._mkdir(d)
                dirs, files = self._listdir(s)
                for f in files:
                    copy_file(self.system, self._join(s, f), self._join(d, f))
                    self.out(self._join(s, f))
                    count += 1
                if recursive:
                    stack.extend((self._join(s, n), self._join(d, n)) for n in reversed(dirs))
        else:
            copy_file(self.system, src, dst)
            self.out(src)
            count = 1
        self.out(f"{count} File(s) copied")
        return 0

    def type(self, args: list[str]) -> int:
        """``type FILE...``: print files as text."""
        for path in args:
            if is_windows_path(path):
                fs, p = locate(self.system, path)
                data: bytes = fs.read_file(p)
            else:
                data = host_path(path).read_bytes()
            for line in data.decode("utf-8", "replace").splitlines():
                self.out(line)
        return 0

    def dir(self, args: list[str]) -> int:
        """``dir [PATH]``: list a directory."""
        path = args[0] if args else "."
        dirs, files = self._listdir(path)
        self.out(f" Directory of {path}")
        self.out("")
        for d in dirs:
            self.out(f"    <DIR>          {d}")
        for f in files:
            self.out(f"                   {f}")
        self.out(f"               {len(files)} File(s)")
        return 0

    def run_line(self, raw: str) -> int | None:
        """Run one line; returns an exit code when the line ends the script."""
        line = raw.strip()
        quiet = line.startswith("@")
        line = line.lstrip("@").strip()
        if not line or line.startswith("::") or re.match(r"(?i)^rem(\s|$)", line):
            return None
        line = _expand(line, self.env)
        if self.echo and not quiet:
            self.out(f"> {line}")
        head, _, rest = line.partition(" ")
        cmd = head.lower()
        if cmd == "echo" or cmd.startswith("echo."):
            if rest.strip().lower() in ("off", "on") and cmd == "echo":
                self.echo = rest.strip().lower() == "on"
            else:
                self.out(rest if cmd == "echo" else "")
            return None
        if cmd == "set":
            name, eq, value = rest.partition("=")
            if eq and name.strip():
                self.env[name.strip().upper()] = value
                self.errorlevel = 0
            else:
                self.out("The syntax of the command is incorrect.")
                self.errorlevel = 1
            return None
        if cmd == "exit":
            words = rest.split()
            if words and words[0].lower() == "/b":
                words = words[1:]
            return int(words[0]) if words and words[0].lstrip("-").isdigit() else self.errorlevel
        handlers: dict[str, Callable[[list[str]], int]] = {
            "copy": self.copy, "xcopy": self.xcopy, "type": self.type, "dir": self.dir,
            "md": lambda a: self._md(a), "mkdir": lambda a: self._md(a)}
        handler = handlers.get(cmd)
        if handler is None:
            self.out(f"'{head}' is not recognized as an internal or external command,")
            self.out("operable program or batch file.")
            self.errorlevel = NOT_RECOGNIZED
            return None
        try:
            self.errorlevel = handler(split_words(rest))
        except (VssError, OSError) as exc:
            self.out(_error_text(exc))
            self.errorlevel = 1
        return None

    def _md(self, args: list[str]) -> int:
        for path in args:
            self._mkdir(path)
        return 0


def _error_text(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError | LookupError):
        return "The system cannot find the file specified."
    if isinstance(exc, PermissionError):
        return "Access is denied."
    return str(exc)


def run_cmd(system: VssSystem, text: str, env: dict[str, str],
            out: Callable[[str], None]) -> CmdResult:
    """Run the ``.cmd`` file ``text`` on the lab machine with ``env`` as its environment."""
    cmd = _Cmd(system, env, out)
    result = CmdResult()
    for raw in text.splitlines():
        code = cmd.run_line(raw)
        if code is not None:
            result.exit_code = code
            return result
    result.exit_code = cmd.errorlevel
    return result
