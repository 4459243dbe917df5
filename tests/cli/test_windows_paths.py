"""Windows paths typed in bash or zsh: the shell eats unquoted backslashes, so the docs quote
them and the error says so when it happens."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.cli.conftest import ROOT, Lab

_WINDOWS = re.compile(r"[A-Za-z]:\\|\\\\\?\\")
HINT = "quote Windows paths, 'C:\\report.txt'"


@pytest.mark.parametrize("args", [
    ["fs", "put", "-", "C:report.txt"],  # bash: vsssim fs put - C:\report.txt
    ["fs", "cat", "\\?GLOBALROOTDeviceHarddiskVolumeShadowCopy1report.txt"],
    ["fs", "ls", "C:KvStore"],
    ["fs", "get", "C:KvStoredata.kv", "out.kv"],
])
def test_a_path_whose_backslashes_the_shell_ate_gets_a_hint(lab: Lab, args: list[str]) -> None:
    result = lab.run(*args, input="x")
    assert result.exit_code == 2
    assert "is not a path on the lab machine" in result.output and HINT in result.output


def test_volume_export_hints_too(lab: Lab) -> None:
    lab.ok("vssadmin", "create", "shadow", "/for=C:")
    result = lab.run("volume", "export", "\\?GLOBALROOTDeviceHarddiskVolumeShadowCopy1", "o.img")
    assert result.exit_code == 1 and HINT in result.output


def test_host_paths_get_no_hint(lab: Lab) -> None:
    result = lab.run("fs", "cat", "./notes.txt")
    assert result.exit_code == 2 and "quote" not in result.output


@pytest.mark.parametrize("doc", ["examples/workshop/README.md", "docs/cli.md", "README.md"])
def test_documented_commands_quote_windows_paths(doc: str) -> None:
    """Every `vsssim` command shown with a backslash gives it to vsssim intact in bash."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    commands = re.findall(r"^\s*(vsssim [^\n]*?)(?:\s{2,}\(.*)?$", text, flags=re.MULTILINE)
    commands += re.findall(r"`(vsssim [^`]*)`", text)
    checked = 0
    for command in commands:
        typed = [w for w in command.split("  #")[0].split() if _WINDOWS.search(w)]
        if not typed:
            continue
        assert all(w.startswith(("'", '"')) or "'" in w for w in typed), command
        words = shlex.split(command.split("  #")[0])  # what bash gives vsssim
        assert any(_WINDOWS.search(w) for w in words), command
        checked += 1
    if doc == "examples/workshop/README.md":
        assert checked >= 8
