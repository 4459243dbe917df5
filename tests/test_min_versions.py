"""The lower bounds in pyproject.toml are the pins of .ci/constraints-min.txt (the versions a test
run at the lower bounds installs), so neither changes without the other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_declared_lower_bounds_are_the_pinned_minimum_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {}
    for spec in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", spec)
        assert match, f"{spec!r}: a dependency is declared with a lower bound only"
        declared[match[1].lower()] = match[2]
    pinned = {}
    for line in (ROOT / ".ci" / "constraints-min.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pinned[name.lower()] = version
    assert pinned.keys() == declared.keys()
    for name, bound in declared.items():
        # ">=2.10" allows 2.10.0 first: a bound names the release its pin installs.
        assert _release(pinned[name]) == _release(bound), name


def _release(version: str) -> tuple[int, ...]:
    """``version``'s numbers without the trailing zeros ("2.10.0" and "2.10": (2, 10))."""
    numbers = [int(part) for part in version.split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)
