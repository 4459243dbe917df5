"""``vsssim diskshadow``: the reference's sample scripts, scripts and the interactive prompt,
every command, the output shapes, and errors with their line number."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cli.conftest import ROOT, Lab, tree_digest

SCRIPTS = ROOT / "examples" / "workshop" / "scripts"
Golden = Callable[[str, str], None]


def _script(lab: Lab, text: str, name: str = "s.dsh") -> str:
    path = lab.cwd / name
    path.write_text(text)
    return str(path)


def test_reference_backup_sample_runs(lab: Lab) -> None:
    """Microsoft's backup sample: persistent nowriters copies of C: and D:, exposed as P: and
    Q:, copied by a command file stored on C:, with the metadata .cab."""
    lab.ok("fs", "put", str(SCRIPTS / "backupscript.cmd"),
           "C:\\diskshadowdata\\backupscript.cmd")
    out = lab.ok("diskshadow", "-s", str(SCRIPTS / "reference-backup-expose.dsh"))
    assert "-> expose %systemvolumeshadow% p:" in out
    assert "-> %systemvolumeshadow% = {" in out
    assert "The shadow copy was successfully exposed as P:\\." in out
    assert "The shadow copy was successfully exposed as Q:\\." in out
    assert "Inserted file BCDocument.xml into .cab file example.cab" in out
    assert "\t\t- Attributes:  No_Auto_Release Persistent No_Writers Differential" in out
    assert "Copied the shadow copies of VSSSIM01 (set {" in out
    backup = lab.cwd / "backup"
    assert (backup / "C" / "KvStore" / "data.kv").is_file()
    assert (backup / "C" / "KvStore" / "log" / "wal.log").is_file()
    assert list((backup / "C" / "Share").iterdir())
    with zipfile.ZipFile(lab.cwd / "example.cab") as cab:
        assert {"Manifest.xml", "BCDocument.xml"} <= set(cab.namelist())
    # Persistent and exposed: the next invocation still sees P: and Q:.
    listing = lab.ok("vssadmin", "list", "shadows")
    assert listing.count("Exposed locally") == 2
    assert lab.ok("fs", "cat", "P:\\KvStore\\data.kv")


def test_reference_transportable_samples_run_on_two_machines(tmp_path: Path, lab: Lab) -> None:
    """The transportable sample: a hardware copy of P: made on PROD (first half), imported
    on BACKUP (second half) from the metadata .cab, then broken into a volume there."""
    array = str(tmp_path / "array")
    prod = Lab(tmp_path / "prod", lab.runner, lab.cwd)
    backup = Lab(tmp_path / "backup", lab.runner, lab.cwd)
    prod.ok("init", "--san", array, "--name", "PROD", "--size", "16")
    prod.ok("volume", "create", "P:", "--san", "--size", "16")
    backup.ok("init", "--san", array, "--name", "BACKUP", "--size", "16", "--seed", "1")
    made = prod.ok("diskshadow", "-s", str(SCRIPTS / "reference-transportable.dsh"))
    assert "Transportable Not_Surfaced Hardware Plex" in made
    shadow = made.split("* Shadow copy ID = ")[1].split()[0]
    imported = backup.ok("diskshadow", "-s", str(SCRIPTS / "reference-import.dsh"))
    assert f"* Shadow copy ID = {shadow}" in imported
    assert "- Originating machine: PROD" in imported
    assert "- Service machine: BACKUP" in imported
    assert "Imported" in imported
    broken = backup.ok("diskshadow", input="load metadata transHWshadow_p.cab\n"
                       "break %VSS_SHADOW_SET%\nexit\n")
    assert "was broken" in broken and "read-only volume \\\\?\\Volume{" in broken
    assert shadow not in backup.ok("vssadmin", "list", "shadows")
    assert "\\\\?\\Volume{" in backup.ok("volume", "list")


def test_reference_file_share_sample_stops_at_add_volume(lab: Lab) -> None:
    result = lab.run("diskshadow", "-s", str(SCRIPTS / "reference-fileshare.dsh"))
    assert result.exit_code == 1
    assert "Error on line 8: The volume \\\\smbsofs\\vm\\vm1 is a file share" in result.output
    assert result.output.rstrip().endswith("DiskShadow is exiting.")


def test_create_output_shape(lab: Lab, golden: Golden) -> None:
    out = lab.ok("diskshadow", "-s", _script(lab, "set context persistent\n"
                                                  "add volume C: alias cdrive\ncreate\n"))
    golden("diskshadow-create.txt", out)
    assert "Alias cdrive for shadow ID {" in out
    assert "Alias VSS_SHADOW_SET for shadow set ID {" in out
    assert "\t\t- Attributes:  No_Auto_Release Persistent Differential\n" in out
    assert "Number of shadow copies listed: 1" in out


def test_volatile_copies_die_at_exit_persistent_ones_stay(lab: Lab) -> None:
    out = lab.ok("diskshadow", "-s", _script(lab, "add volume C:\ncreate\n"
                                                  "list shadows all\n"))
    assert "Number of shadow copies listed: 1" in out
    assert "No items found" in lab.ok("vssadmin", "list", "shadows")
    lab.ok("diskshadow", "-s", _script(lab, "set context persistent\nadd volume C:\ncreate\n"))
    assert "Type: ApplicationRollback" in lab.ok("vssadmin", "list", "shadows")


def test_begin_backup_without_end_backup_warns(lab: Lab) -> None:
    out = lab.ok("diskshadow", "-s", _script(lab, "begin backup\nadd volume C:\ncreate\n"
                                                  "list writers status\n"))
    assert "- Status: 5 (VSS_WS_WAITING_FOR_BACKUP_COMPLETE)" in out
    assert out.rstrip().endswith("Note: END BACKUP was not commanded, writers not notified "
                                 "BackupComplete.\nDiskShadow is exiting.")


def test_full_backup_then_status(lab: Lab) -> None:
    out = lab.ok("diskshadow", "-s", _script(lab, "begin backup\nadd volume C:\ncreate\n"
                                                  "end backup\nlist writers status\n"))
    assert out.count("- Status: 1 (VSS_WS_STABLE)") == 2
    assert "2 writers listed." in out
    runs = lab.ok("trace", "list")
    assert "diskshadow -s s.dsh" in runs


def test_writer_exclude_and_verify(lab: Lab) -> None:
    excluded = lab.ok("diskshadow", "-s", _script(lab, "writer exclude \"KvStore Writer\"\n"
                                                       "begin backup\nadd volume C:\ncreate\n"
                                                       "end backup\n"))
    assert "Number of shadow copies listed: 1" in excluded
    mermaid = lab.ok("trace", "mermaid", "--all-events")
    assert "DisableWriterClasses" in mermaid
    failed = lab.run("diskshadow", "-s", _script(lab, "writer exclude \"KvStore Writer\"\n"
                                                      "writer verify \"KvStore Writer\"\n"
                                                      "add volume C:\ncreate\n"))
    assert failed.exit_code == 1
    assert "Error on line 4: Writer verification failed: 'KvStore Writer'" in failed.output


def test_expose_unexpose_and_delete(lab: Lab) -> None:
    lab.ok("diskshadow", "-s", _script(lab, "set context persistent\n"
                                            "add volume C: alias c\nadd volume D: alias d\n"
                                            "create\nexpose %c% X:\nexpose %d% Y:\n"))
    taken = lab.run("diskshadow", input="expose {00000000-1111-4222-8333-444444444444} X:\n"
                    "list shadows all\nexit\n")
    assert "was not found" in taken.output
    out = lab.ok("diskshadow", input="unexpose X:\ndelete shadows exposed Y:\n"
                 "list shadows all\nexit\n")
    assert "is no longer exposed" in out
    assert "Number of shadow copies deleted: 1" in out
    assert "[Attributes: 0x00120009]" in out  # exposed locally, differential, persistent
    assert "Number of shadow copies listed: 1" in out
    assert "\t\t- Not exposed" in out
    gone = lab.ok("diskshadow", input="delete shadows all\nexit\n")
    assert "Number of shadow copies deleted: 1" in gone


def test_drive_letter_in_use(lab: Lab) -> None:
    result = lab.run("diskshadow", "-s", _script(lab, "set context persistent\n"
                                                      "add volume C: alias c\ncreate\n"
                                                      "expose %c% D:\n"))
    assert result.exit_code == 1
    assert "Error on line 4: The  drive letter is already in use." in result.output


def test_exposing_an_exposed_copy_names_its_exposure_not_the_letter(lab: Lab) -> None:
    result = lab.run("diskshadow", "-s", _script(lab, "set context persistent\n"
                                                      "add volume C: alias c\ncreate\n"
                                                      "expose %c% X:\nexpose %c% Y:\n"))
    assert result.exit_code == 1
    assert "Error on line 5: The shadow copy {" in result.output
    assert "is already exposed as X:\\: UNEXPOSE it first." in result.output
    assert "drive letter is already in use" not in result.output


def test_restore_from_metadata(lab: Lab) -> None:
    lab.ok("diskshadow", "-s", _script(lab, "set metadata full.cab\nbegin backup\n"
                                            "add volume C:\ncreate\nend backup\n"))
    out = lab.ok("diskshadow", "-s", _script(lab, "load metadata full.cab\nbegin restore\n"
                                                  "end restore\n"))
    assert "Alias VSS_SHADOW_SET for value {" in out
    show = lab.ok("trace", "show", "--table")
    for call in ("InitializeForRestore", "PreRestore", "PostRestore"):
        assert call in show


def test_revert_clientaccessible(lab: Lab) -> None:
    lab.ok("fs", "put", "-", "C:\\note.txt", input="before")
    lab.ok("diskshadow", "-s", _script(lab, "set context clientaccessible\n"
                                            "add volume C: alias c\ncreate\n"))
    lab.ok("fs", "put", "-", "C:\\note.txt", input="after")
    shadow = lab.ok("vssadmin", "list", "shadows").split("Shadow Copy ID: ")[1].split()[0]
    out = lab.ok("diskshadow", input=f"revert {shadow}\nexit\n")
    assert "was reverted to shadow copy" in out
    assert lab.ok("fs", "cat", "C:\\note.txt").strip() == "before"


def test_interactive_session_with_log(lab: Lab) -> None:
    log = lab.cwd / "session.log"
    out = lab.ok("diskshadow", "-l", str(log),
                 input="set\nadd alias mine {00000000-1111-4222-8333-444444444444}\nadd\n"
                       "list providers\nhelp\nbogus\nexit\n")
    assert out.startswith("Microsoft DiskShadow version 1.0\n"
                          "Copyright (C) 2013 Microsoft Corporation\nOn computer:  VSSSIM01,  ")
    assert "DISKSHADOW> " in out
    assert "CONTEXT: VOLATILE (0x00000000)" in out
    assert "\tmine\t{00000000-1111-4222-8333-444444444444}" in out
    assert "\t\tType: [1] VSS_PROV_SYSTEM" in out and "1 provider registered." in out
    assert "Error: 'bogus' is not a DiskShadow command" in out
    assert "EXPOSE <shadow id>" in out  # help
    logged = log.read_text()
    assert "CONTEXT: VOLATILE" in logged and "DISKSHADOW> set" in logged


def test_list_writers_metadata(lab: Lab, golden: Golden) -> None:
    out = lab.ok("diskshadow", "-s", _script(lab, "list writers detailed\n"))
    assert '+ Component "KvStore Writer:KvStore"' in out
    assert "- Excluded files: C:\\Share\\*.tmp (recursive)" in out
    assert "\t\t\t- Path = C:\\KvStore\\log, Filespec = *.log" in out


@pytest.mark.parametrize(("text", "line", "message"), [
    ("set context persistant\n", 1, "usage: SET CONTEXT"),
    ("set context persistent\nadd volume\ncreate\n", 2, "usage: ADD VOLUME"),
    ("# comment\n\nset option differential plex\n", 3, "DIFFERENTIAL and PLEX"),
    ("list shadows id not-a-guid\n", 1, "is not a shadow copy id"),
    ("add volume C:\nfrobnicate\n", 2, "'frobnicate' is not a DiskShadow command"),
    ("set verbose maybe\n", 1, "SET VERBOSE"),
    ("expose \"unterminated\n", 1, "unbalanced quotes"),
])
def test_a_script_syntax_error_names_its_line_and_changes_nothing(
        lab: Lab, text: str, line: int, message: str) -> None:
    before = tree_digest(lab.root)
    result = lab.run("diskshadow", "-s", _script(lab, text, "bad.dsh"))
    assert result.exit_code == 1
    assert f"Error on line {line} of bad.dsh: " in result.output
    assert message in result.output
    assert tree_digest(lab.root) == before  # the machine was never opened


@pytest.mark.parametrize(("text", "line", "message"), [
    ("add volume Q:\n", 1, "The volume Q: was not found"),
    ("create\n", 1, "There are no volumes"),
    ("add volume C:\nadd volume c:\\\n", 2, "already in the shadow copy set"),
    ("expose %nothing% P:\n", 1, "The alias %nothing% is not defined"),
    ("load metadata missing.cab\n", 1, "does not exist"),
    ("begin restore\n", 1, "LOAD METADATA first"),
    ("end backup\n", 1, "no shadow copy set was created"),
    ("import\n", 1, "LOAD METADATA first"),
    ("add volume C:\ncreate\ncreate\n", 3, "CREATE was already done"),
    ("set context persistent nowriters\nadd volume C:\ncreate\n"
     "break %VSS_SHADOW_SET%\n", 4, "VSS_E_PROVIDER_VETO"),
    ("set context volatile\nadd volume C: alias c\ncreate\nexpose %c% P:\n", 4,
     "only persistent shadow copies can be exposed locally"),
    ("exec missing.cmd\n", 1, "could not be found"),
])
def test_a_failing_command_stops_the_script_at_its_line(lab: Lab, text: str, line: int,
                                                         message: str) -> None:
    result = lab.run("diskshadow", "-s", _script(lab, text))
    assert result.exit_code == 1, result.output
    assert f"Error on line {line}: " in result.output
    assert message in result.output
    listing = lab.ok("vssadmin", "list", "shadows")
    # What ran before the failing line stays done: only a persistent copy outlives the script.
    assert ("No items found" in listing) == ("persistent" not in text)


def test_exec_reports_cmd_errors(lab: Lab) -> None:
    (lab.cwd / "bad.cmd").write_text("@echo off\nnosuchtool /x\n")
    result = lab.run("diskshadow", "-s", _script(lab, "exec bad.cmd\n"))
    assert result.exit_code == 1
    assert "'nosuchtool' is not recognized as an internal or external command," in result.output
    assert "exited with code 9009" in result.output
    (lab.cwd / "ok.cmd").write_text("echo hello %COMPUTERNAME%\nset X=1\nexit /b 0\n")
    assert "hello VSSSIM01" in lab.ok("diskshadow", "-s", _script(lab, "exec ok.cmd\n"))


def test_exec_copy_makes_no_folders_as_cmd(lab: Lab) -> None:
    lab.ok("fs", "put", "-", "C:\\report.txt", input="q1\n")
    (lab.cwd / "c.cmd").write_text("copy C:\\report.txt out\\missing\\report.txt\n"
                                   "copy C:\\report.txt report.txt\n")
    out = lab.run("diskshadow", "-s", _script(lab, "exec c.cmd\n")).output
    assert "The system cannot find the path specified." in out
    assert "0 file(s) copied." in out and "1 file(s) copied." in out
    assert not (lab.cwd / "out").exists()
    assert (lab.cwd / "report.txt").read_bytes() == b"q1\n"


def test_diskshadow_as_a_process(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    # (cwd is tmp_path, so PYTHONPATH names the checkout whose vsssim runs)
    env = {**os.environ, "VSSSIM_ROOT": str(tmp_path / "lab"), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "vsssim.cli", "init", "--size", "16"],
                   check=True, capture_output=True, env=env, cwd=tmp_path, timeout=120)
    (tmp_path / "s.dsh").write_text("set context persistent\nadd volume C:\ncreate\n")
    proc = subprocess.run([sys.executable, "-m", "vsssim.cli", "diskshadow", "-s",
                           "s.dsh"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Number of shadow copies listed: 1" in proc.stdout


def test_listing_and_deleting_by_set_id_oldest_and_mask(lab: Lab) -> None:
    def session(text: str) -> dict[str, str]:
        out = lab.ok("diskshadow", input=text + "exit\n")
        return {part.splitlines()[0]: part for part in out.split("DISKSHADOW> ")[1:]}

    first = session("set context persistent\nadd volume C: alias a\nadd volume D: alias b\n"
                    "create\nlist shadows set %VSS_SHADOW_SET%\nlist shadows id %a%\n")
    created = first["create"]
    d_copy = created.split("Alias b for shadow ID ")[1].split()[0]
    assert "Number of shadow copies listed: 2" in first["list shadows set %VSS_SHADOW_SET%"]
    assert "Number of shadow copies listed: 1" in first["list shadows id %a%"]
    second = session(f"set context persistent\nadd volume C:\ncreate\n"
                     f"delete shadows oldest C:\ndelete shadows id {d_copy}\n"
                     f"list shadows all\nmask %VSS_SHADOW_SET%\n")
    new_c = second["create"].split("Alias VSS_SHADOW_1 for shadow ID ")[1].split()[0]
    assert "Number of shadow copies deleted: 1" in second["delete shadows oldest C:"]
    assert new_c not in second["delete shadows oldest C:"]
    assert "Number of shadow copies deleted: 1" in second[f"delete shadows id {d_copy}"]
    remaining = second["list shadows all"]
    assert "Number of shadow copies listed: 1" in remaining and new_c in remaining
    assert "No imported shadow copies belong" in second["mask %VSS_SHADOW_SET%"]


@given(st.text(max_size=60))
def test_the_line_parser_only_accepts_or_explains(line: str) -> None:
    from vsssim.cli.diskshadow.parser import DiskshadowSyntaxError, parse_line

    try:
        cmd = parse_line(line, 3)
    except DiskshadowSyntaxError as exc:
        refused = exc.message
    else:
        refused = ""
        assert cmd is None or (cmd.name and cmd.line == 3)
    assert refused or cmd is None or cmd.text == line.strip()
