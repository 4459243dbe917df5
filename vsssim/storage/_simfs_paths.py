"""simfs path rules: Windows names, case-insensitive keys, volume roots and VSS file specs.

Models the Win32 naming rules ("Naming Files, Paths, and Namespaces") that matter to backup and
restore code, which relies on them to refuse hostile names:

* a name is 1-255 UTF-16 code units, with no ``<>:"|?*``, no control character, no trailing dot
  or space, and is not a reserved device name (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM0``-
  ``COM9``, ``LPT0``-``LPT9`` and the superscript-digit forms), with or without an extension;
* ``.`` and ``..`` are refused rather than normalised away (Win32 would collapse them; a restore
  must not be steered out of its target directory);
* comparison is case-insensitive the way NTFS compares with its upcase table: a one-to-one
  uppercase mapping per UTF-16 code unit (``"ß"`` stays ``"ß"``, unlike ``str.upper()``), no
  Unicode normalisation.

File specs follow the DOS wildcard rules that VSS writers use in ``AddFilesToFileGroup``.
"""

from __future__ import annotations

import functools
import os
import re

__all__ = [
    "PathParser",
    "compile_filespec",
    "has_wildcards",
    "parser_for",
    "upcase",
    "validate_name",
]

_BAD_CHARS = frozenset('<>:"|?*') | frozenset(chr(c) for c in range(32))
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{dev}{digit}" for dev in ("COM", "LPT") for digit in "0123456789\u00b9\u00b2\u00b3"]
)
MAX_NAME = 255


@functools.lru_cache(maxsize=65536)
def upcase(text: str) -> str:
    """The NTFS-style case-folding key of ``text``: simple one-to-one uppercase per character.

    Characters whose uppercase is not a single BMP character (``"ß"`` -> ``"SS"``) and
    characters outside the BMP (two UTF-16 units, which NTFS's table does not map) stay as they
    are, so the key always has the same length as ``text``.
    """
    if text.isascii():
        return text.upper()
    out = []
    for ch in text:
        up = ch.upper()
        out.append(up if len(up) == 1 and ord(ch) < 0x10000 and ord(up) < 0x10000 else ch)
    return "".join(out)


@functools.lru_cache(maxsize=65536)
def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid Windows file name, else raise ``ValueError`` saying why."""
    if not name:
        raise ValueError("empty path component (doubled separator?)")
    if name in (".", ".."):
        raise ValueError(f"path component {name!r} is not allowed (no relative components)")
    units = len(name.encode("utf-16-le", "surrogatepass")) // 2
    if units > MAX_NAME:
        raise ValueError(f"name is {units} UTF-16 units long; the limit is {MAX_NAME}")
    bad = sorted({ch for ch in name if ch in _BAD_CHARS})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        raise ValueError(f"name {name!r} contains characters Windows forbids: {shown}")
    if name[-1] in ". ":
        raise ValueError(f"name {name!r} ends with a dot or a space, which Windows strips")
    stem = name.split(".", 1)[0].rstrip(" ")
    if upcase(stem) in _RESERVED:
        raise ValueError(f"name {name!r} is a reserved Windows device name")
    return name


def has_wildcards(text: str) -> bool:
    """True if ``text`` holds a ``*`` or ``?``."""
    return "*" in text or "?" in text


@functools.lru_cache(maxsize=1024)
def compile_filespec(filespec: str) -> re.Pattern[str]:
    """A regular expression, to be matched against :func:`upcase`'d file names, for a VSS/DOS
    file spec.

    ``*`` matches any run of characters including dots, ``?`` exactly one character.  As in
    ``FindFirstFile``, a trailing ``.*`` also matches a name without any dot (so ``*.*``
    matches every file and ``data.*`` matches ``data``), and a trailing ``.`` alone matches
    only names without an extension (``*.`` lists the extension-less files).  Raises
    ``ValueError`` for an empty spec or one holding a separator or another forbidden character.
    """
    if not isinstance(filespec, str):
        raise TypeError(f"filespec must be str, not {type(filespec).__name__}")
    if not filespec:
        raise ValueError("empty file spec (use '*' for every file)")
    if "\\" in filespec or "/" in filespec:
        raise ValueError(f"file spec {filespec!r} must not contain a path separator")
    bad = sorted({ch for ch in filespec if ch in _BAD_CHARS and ch not in "*?"})
    if bad:
        raise ValueError(f"file spec {filespec!r} contains forbidden characters: {bad}")
    spec = upcase(filespec)
    if spec.endswith(".*"):
        return re.compile(_translate(spec[:-2]) + r"(?:\..*)?\Z")
    if spec.endswith("."):
        # "no extension": the whole name must be free of dots.
        return re.compile(r"(?=[^.]*\Z)" + _translate(spec[:-1]) + r"\Z")
    return re.compile(_translate(spec) + r"\Z")


def _translate(spec: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in spec)


class PathParser:
    """Splits paths on one volume into validated components.

    ``roots`` are the prefixes naming the volume root (``C:\\``, ``\\\\?\\Volume{...}\\``, a
    shadow copy's device name), matched case-insensitively; a path may also be volume-relative
    (``\\db\\x`` or ``db\\x``).  ``/`` is accepted as a separator.
    """

    def __init__(self, roots: tuple[str, ...]) -> None:
        normalised: list[str] = []
        for root in roots:
            if not isinstance(root, str) or not root:
                raise ValueError(f"volume root must be a non-empty string, not {root!r}")
            text = root.replace("/", "\\")
            if not text.endswith("\\"):
                text += "\\"
            normalised.append(text)
        self.roots = tuple(normalised)
        # Longest first, so a device name is not shadowed by a shorter root it starts with.
        self._keys = sorted(((upcase(r), r) for r in normalised), key=lambda kr: -len(kr[0]))
        self.display_root = normalised[0] if normalised else "\\"
        # Parsed paths: applications open the same few paths over and over.
        self._cache: dict[str, tuple[str, ...]] = {}

    def split(self, path: object) -> tuple[str, ...]:
        """The validated components of ``path`` below the volume root (``()`` for the root)."""
        text = path if type(path) is str else _as_text(path)
        found = self._cache.get(text)
        if found is None:
            found = self._split(text)
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[text] = found
        return found

    def _split(self, path: str) -> tuple[str, ...]:
        text = path.replace("/", "\\")
        key = upcase(text)
        rest: str | None = None
        for root_key, root in self._keys:
            if key.startswith(root_key):
                rest = text[len(root) :]
                break
            if key == root_key[:-1]:
                rest = ""
                break
        if rest is None:
            if text.startswith("\\\\") or (len(text) >= 2 and text[1] == ":"):
                shown = ", ".join(repr(r) for r in self.roots) or "none: use volume-relative paths"
                raise ValueError(
                    f"path {path!r} names a drive or root that is not this volume "
                    f"(this volume's roots: {shown})"
                )
            rest = text[1:] if text.startswith("\\") else text
        if not rest:
            return ()
        if rest.endswith("\\"):
            rest = rest[:-1]
        return tuple(map(validate_name, rest.split("\\")))

    def join(self, names: tuple[str, ...] | list[str]) -> str:
        """The display path of ``names`` under the first root (``\\`` if the mount has none)."""
        return self.display_root + "\\".join(names)


def _as_text(path: object) -> str:
    if isinstance(path, str):
        return path
    if isinstance(path, os.PathLike):
        text = os.fspath(path)
        if isinstance(text, str):
            return text
    raise TypeError(f"path must be str or a str path-like, not {type(path).__name__}")


@functools.lru_cache(maxsize=64)
def _shared_parser(roots: tuple[str, ...]) -> PathParser:
    return PathParser(roots)


def parser_for(roots: tuple[str, ...]) -> PathParser:
    """The :class:`PathParser` of ``roots``, shared by the mounts with the same roots (a
    parser depends on its roots only, and its cache of parsed paths then serves them all:
    each shadow copy's first mount, each new machine's volume)."""
    try:
        return _shared_parser(roots)
    except TypeError:  # an unhashable root: PathParser says what is wrong with it
        return PathParser(roots)
