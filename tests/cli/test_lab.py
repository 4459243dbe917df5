"""The persistent lab machine: init, state across invocations (in-process and as real
processes), user writers from lab.json, a damaged or busy root (clear error, nothing changed)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, Lab, tree_digest

VETO_WRITER = '''
from uuid import UUID
from vsssim import hresult
from vsssim.constants import ComponentType, RestoreMethod
from vsssim.writer import Writer


class VetoWriter(Writer):
    """A user writer that vetoes Freeze (retryable)."""

    writer_id = UUID("5f0c9a52-6c3e-4b9e-8d7f-1a2b3c4d5e6f")
    writer_name = "Veto Writer"

    def on_identify(self, metadata):
        metadata.add_component(ComponentType.FILEGROUP, "", "Everything", selectable=True)
        metadata.add_files_to_file_group("", "Everything", "C:\\\\Share", "*", True)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True

    def on_prepare_snapshot(self):
        return True

    def on_freeze(self):
        self.set_writer_failure(hresult.VSS_E_WRITERERROR_RETRYABLE)
        return False

    def on_thaw(self):
        return True

    def on_abort(self):
        return True
'''


def test_init_creates_the_lab_machine(lab: Lab) -> None:
    config = json.loads((lab.root / "lab.json").read_text())
    assert config["seed"] == 7
    assert [a["name"] for a in config["applications"]] == ["KvStore", "FileShare"]
    volumes = lab.ok("vssadmin", "list", "volumes")
    assert "Volume path: C:\\" in volumes and "Volume path: D:\\" in volumes
    assert "KvStore Writer" in lab.ok("vssadmin", "list", "writers")


def test_init_refuses_an_existing_lab(lab: Lab) -> None:
    result = lab.run("init")
    assert result.exit_code == 1
    assert "already holds a lab machine" in result.output


def test_commands_without_a_lab_say_how_to_make_one(empty_lab: Lab) -> None:
    result = empty_lab.run("vssadmin", "list", "shadows")
    assert result.exit_code == 1
    assert "vsssim --root" in result.output and "init" in result.output
    assert not empty_lab.root.exists()  # nothing was created


def test_state_persists_between_invocations(lab: Lab) -> None:
    created = lab.ok("vssadmin", "create", "shadow", "/for=C:")
    shadow_id = created.split("Shadow Copy ID: ")[1].split()[0]
    lab.ok("fs", "put", "-", "C:\\report.txt", input="version 2")
    listing = lab.ok("vssadmin", "list", "shadows")
    assert shadow_id in listing and "Type: ClientAccessible" in listing
    # The shadow copy still shows the volume before report.txt was written.
    device = listing.split("Shadow Copy Volume: ")[1].split()[0]
    result = lab.run("fs", "cat", device + "\\report.txt")
    assert result.exit_code == 1 and "no such file" in result.output.lower()
    assert lab.ok("fs", "cat", "C:\\report.txt").strip() == "version 2"


def test_state_persists_between_real_processes(tmp_path: Path) -> None:
    env = {**os.environ, "VSSSIM_ROOT": str(tmp_path / "lab"), "COLUMNS": "120"}

    def vsssim(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "vsssim.cli", *args],
                              capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    vsssim("init", "--seed", "3")
    created = vsssim("vssadmin", "create", "shadow", "/for=C:")
    shadow_id = created.split("Shadow Copy ID: ")[1].split()[0]
    assert shadow_id in vsssim("vssadmin", "list", "shadows")
    assert "Microsoft Software Shadow Copy provider 1.0" in vsssim("vssadmin", "list",
                                                                   "providers")


def test_a_user_writer_named_in_lab_json_is_attached(lab: Lab) -> None:
    (lab.root / "vetowriter.py").write_text(VETO_WRITER)
    config = json.loads((lab.root / "lab.json").read_text())
    config["writers"].append({"class": "vetowriter:VetoWriter"})
    (lab.root / "lab.json").write_text(json.dumps(config))
    assert "Writer name: 'Veto Writer'" in lab.ok("vssadmin", "list", "writers")


def test_a_writer_failure_shows_in_a_later_invocation(lab: Lab) -> None:
    """vssadmin shows a writer that failed in the previous command as [9] Failed, as Windows
    does until the writer's next backup (the lab keeps the writers' last state)."""
    (lab.root / "vetowriter.py").write_text(VETO_WRITER)
    config = json.loads((lab.root / "lab.json").read_text())
    config["writers"].append({"class": "vetowriter:VetoWriter"})
    (lab.root / "lab.json").write_text(json.dumps(config))
    script = lab.cwd / "backup.dsh"
    script.write_text("begin backup\nadd volume C:\ncreate\nend backup\n")
    result = lab.run("diskshadow", "-s", str(script))
    assert result.exit_code == 1
    assert "Error on line 3" in result.output
    # A VSS failure names the call, the HRESULT and its value (docs/cli.md section 4).
    assert ("Error on line 3: DoSnapshotSet failed: VSS_E_UNEXPECTED_WRITER_ERROR "
            "(0x80042315): the shadow copy set could not be created.") in result.output
    assert "writer Veto Writer: [9] VSS_WS_FAILED_AT_FREEZE" in result.output
    writers = lab.ok("vssadmin", "list", "writers")
    block = writers.split("Writer name: 'Veto Writer'")[1].split("\n\n")[0]
    assert "State: [9] Failed" in block
    assert "Last error: Retryable error" in block
    assert "No items found" in lab.ok("vssadmin", "list", "shadows")  # nothing was left


@pytest.mark.parametrize(("spec", "message"), [
    ("no_such_module:Writer", "cannot import 'no_such_module'"),
    ("vetowriter:NoSuchWriter", "module 'vetowriter' has no class 'NoSuchWriter'"),
    ("vetowriter:UUID", "'UUID' is not a vsssim.Writer subclass"),  # a class, not a Writer
])
def test_a_bad_writer_class_is_reported(lab: Lab, spec: str, message: str) -> None:
    (lab.root / "vetowriter.py").write_text(VETO_WRITER)
    config = json.loads((lab.root / "lab.json").read_text())
    config["writers"].append({"class": spec})
    (lab.root / "lab.json").write_text(json.dumps(config))
    result = lab.run("vssadmin", "list", "writers")
    assert result.exit_code == 1
    assert message in result.output
    assert ("subclass" in result.output) == spec.endswith(":UUID")


def _damage_json(root: Path) -> None:
    (root / "lab.json").write_text("{not json")


def _damage_config(root: Path) -> None:
    config = json.loads((root / "lab.json").read_text())
    config["edition"] = "datacenter"
    (root / "lab.json").write_text(json.dumps(config))


def _damage_machine(root: Path) -> None:
    (root / "machine.json").write_text('{"format": 99}')


def _lose_image(root: Path) -> None:
    (root / "volumes" / "D.img").unlink()


def _lose_sidecar(root: Path) -> None:
    (root / "volumes" / "C.img.vsvol.json").unlink()


@pytest.mark.parametrize(("damage", "message"), [
    (_damage_json, "lab.json is damaged"),
    (_damage_config, "invalid at edition"),
    (_damage_machine, "not a vsssim machine file"),
    (_lose_image, "D.img is missing"),
    (_lose_sidecar, "geometry file"),
])
@pytest.mark.parametrize("command", [
    ("vssadmin", "list", "shadows"),
    ("vssadmin", "create", "shadow", "/for=C:"),
    ("diskshadow",),
    ("fs", "ls", "C:\\"),
])
def test_a_damaged_root_gives_a_clear_error_and_changes_nothing(
        lab: Lab, damage: object, message: str, command: tuple[str, ...]) -> None:
    damage(lab.root)  # type: ignore[operator]
    before = tree_digest(lab.root)
    result = lab.run(*command, input="list shadows all\nexit\n")
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert tree_digest(lab.root) == before


def test_a_busy_root_is_refused(lab: Lab) -> None:
    with open(lab.root / "lab.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result = lab.run("vssadmin", "create", "shadow", "/for=C:")
    assert result.exit_code == 1
    assert "in use by another vsssim process" in result.output
    assert "No items found" in lab.ok("vssadmin", "list", "shadows")


def test_every_command_is_documented() -> None:
    from vsssim.cli import cli

    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f"vsssim {name}" in docs, name
        for sub in getattr(command, "commands", {}):
            assert f"{name} {sub}" in docs or f"`{sub}" in docs, (name, sub)


def test_the_console_script_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "vsssim"
    if not script.exists():
        pytest.skip("the vsssim console script is not installed next to this Python")
    env = {**os.environ, "VSSSIM_ROOT": str(tmp_path / "lab")}
    proc = subprocess.run([str(script), "vssadmin", "/?"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "---- Commands Supported ----" in proc.stdout
