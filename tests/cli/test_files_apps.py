"""``vsssim fs``, ``vsssim volume`` and ``vsssim app``: files between host and lab machine,
volumes and shadow copy images, applications that keep writing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, Lab, tree_digest
from vsssim.cli.simpaths import PROGRESS_MIN


def test_fs_put_get_cat_ls(lab: Lab, tmp_path: Path) -> None:
    data = os.urandom(PROGRESS_MIN + 12345)  # big enough for a progress bar on a terminal
    host = tmp_path / "big.bin"
    host.write_bytes(data)
    assert "(4206649 bytes)" in lab.ok("fs", "put", str(host), "D:\\data\\big.bin")
    back = tmp_path / "back.bin"
    lab.ok("fs", "get", "D:\\data\\big.bin", str(back))
    assert back.read_bytes() == data
    lab.ok("fs", "put", "-", "C:\\notes\\todo.txt", input="buy milk\n")
    assert lab.ok("fs", "cat", "c:\\NOTES\\todo.txt") == "buy milk\n"
    listing = lab.ok("fs", "ls", "D:\\")
    assert "data\\" in listing and "<DIR>" in listing
    assert "D:\\data\\big.bin" in lab.ok("fs", "ls", "-r", "D:\\")


def test_fs_reads_shadow_copies_by_device_and_exposure(lab: Lab) -> None:
    lab.ok("fs", "put", "-", "C:\\report.txt", input="v1")
    script = lab.cwd / "x.dsh"
    script.write_text("set context persistent\nadd volume C: alias c\ncreate\nexpose %c% X:\n")
    out = lab.ok("diskshadow", "-s", str(script))
    device = out.split("- Shadow copy device name: ")[1].split()[0]
    lab.ok("fs", "put", "-", "C:\\report.txt", input="v2")
    assert lab.ok("fs", "cat", "X:\\report.txt") == "v1\n"
    assert lab.ok("fs", "cat", device + "\\report.txt") == "v1\n"
    assert lab.ok("fs", "cat", "C:\\report.txt") == "v2\n"
    refused = lab.run("fs", "put", "-", "X:\\report.txt", input="v3")
    assert refused.exit_code == 1 and "read-only" in refused.output.lower()


def test_fs_rejects_host_paths_and_missing_files(lab: Lab) -> None:
    assert lab.run("fs", "cat", "/etc/passwd").exit_code == 2
    missing = lab.run("fs", "cat", "C:\\nope.txt")
    assert missing.exit_code == 1 and "no such file" in missing.output.lower()
    nowhere = lab.run("fs", "ls", "Q:\\")
    assert nowhere.exit_code == 1 and "no volume" in nowhere.output


def test_volume_create_list_export(lab: Lab, tmp_path: Path) -> None:
    assert "Volume E:\\ created: 16 MiB, NTFS" in lab.ok("volume", "create", "E:", "--size",
                                                          "16")
    assert lab.run("volume", "create", "E:").exit_code == 1  # exists already
    lab.ok("fs", "put", "-", "E:\\a.txt", input="before")
    created = lab.ok("vssadmin", "create", "shadow", "/for=E:")
    shadow = created.split("Shadow Copy ID: ")[1].split()[0]
    lab.ok("fs", "put", "-", "E:\\a.txt", input="after!")
    listing = lab.ok("volume", "list")
    assert "E:\\" in listing and "16 MiB" in listing
    image = tmp_path / "e.img"
    assert "written to" in lab.ok("volume", "export", shadow, str(image))
    assert image.stat().st_size == 16 * 2**20
    from vsssim.storage.filedevice import FileDevice
    from vsssim.storage.simfs import SimFS

    device = FileDevice(image, readonly=True)
    try:
        assert SimFS.mount(device, roots=["E:\\"]).read_file("E:\\a.txt") == b"before"
    finally:
        device.close()
    # An existing image is replaced, as cp does (docs/cli.md, "Files on the host").
    assert "written to" in lab.ok("volume", "export", shadow, str(image))
    assert image.stat().st_size == 16 * 2**20


def test_app_run_steps_is_deterministic(tmp_path: Path, lab: Lab) -> None:
    other = Lab(tmp_path / "other", lab.runner, lab.cwd)
    other.ok("init", "--seed", "7", "--size", "16")
    for machine in (lab, other):
        out = machine.ok("app", "run", "--steps", "40")
        assert "After 40 scheduling points (a random burst of steps each)" in out
    assert lab.ok("fs", "cat", "C:\\KvStore\\data.kv") == other.ok("fs", "cat",
                                                                  "C:\\KvStore\\data.kv")
    assert "KvStore Writer" in lab.ok("app", "list")


def test_app_run_steps_says_what_n_is(lab: Lab) -> None:
    """N is scheduling points, each a random burst of 0 to 2 steps per application: the help
    and the table say so, and the steps the table counts are 0..2N, not N."""
    helptext = " ".join(lab.ok("app", "run", "--help").split())
    assert "Run N scheduling points (default 50): at each, every application does a random " \
           "burst of 0 to 2 steps" in helptext
    out = lab.ok("app", "run", "--steps", "1")
    assert "After 1 scheduling point (a random burst of steps each)" in out
    counts = [int(n) for n in re.findall(r"(?:KvStore|FileShare)\s*│\s*(\d+)", out)]
    assert len(counts) == 2 and all(0 <= n <= 2 for n in counts)


def test_app_run_live_with_commands(lab: Lab) -> None:
    out = lab.ok("app", "run", "--for", "1", "--run", "vssadmin create shadow /for=C:")
    assert "Successfully created shadow copy for 'C:\\'" in out
    assert "After 1 s on threads" in out
    assert "Type: ClientAccessible" in lab.ok("vssadmin", "list", "shadows")
    assert "app run --for 1" in lab.ok("trace", "list")


def test_app_run_usage_errors(lab: Lab) -> None:
    assert lab.run("app", "run", "--steps", "3", "--for", "1").exit_code == 2
    assert lab.run("app", "run", "--run", "vssadmin list shadows").exit_code == 2



@pytest.mark.parametrize(("args", "message"), [
    (["--run", "rm -rf /"], "--run takes `vssadmin ...` or `diskshadow -s SCRIPT`, not 'rm -rf /'"),
    (["--run", "notacommand"], "--run takes"),
    (["--run", "vssadmin lizt shadows"], "vssadmin would refuse it: Invalid command."),
    (["--run", "diskshadow -s missing.dsh"], "cannot read the script missing.dsh"),
    (["--run", "vssadmin 'list"], "No closing quotation"),
    (["--every", "1"], "--every needs --run"),
])
def test_app_run_refuses_bad_commands_before_the_applications_start(
        lab: Lab, args: list[str], message: str) -> None:
    before = tree_digest(lab.root)
    started = time.monotonic()
    bad = lab.run("app", "run", "--for", "30", *args)
    assert bad.exit_code == 2 and message in bad.output, bad.output
    assert time.monotonic() - started < 10  # refused at once, not after the 30 s
    assert "Applications writing" not in bad.output and "After" not in bad.output
    assert tree_digest(lab.root) == before  # not booted: no run saved


def test_a_running_app_session_locks_the_root(lab: Lab) -> None:
    """While `app run --for` writes, another process waits for the lock, then refuses.

    No race with the clock: the session says it holds the root (the echo of its --run
    command, printed after it took the lock) before the other process tries, and it is
    paused (SIGSTOP) while the other one waits, so it cannot let go early however slow the
    machine is."""
    env = {**os.environ, "VSSSIM_ROOT": str(lab.root), "VSSSIM_LOCK_WAIT": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "vsssim.cli", "app", "run", "--for", "4",
                             "--run", "vssadmin list shadows"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    try:
        ready = proc.stdout.readline()  # the session has the lock and runs its command
        assert ready == "> vssadmin list shadows\n", ready + proc.stdout.read()
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            refused = lab.run("vssadmin", "list", "shadows")  # VSSSIM_LOCK_WAIT=0.3
            waited = time.monotonic() - started
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert refused.exit_code == 1 and "in use by another vsssim process" in refused.output
        assert waited >= 0.3  # it waited for the lock before refusing
    finally:
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "After 4 s on threads" in out
    assert lab.ok("vssadmin", "list", "shadows")


def test_app_run_live_with_a_diskshadow_script(lab: Lab) -> None:
    script = lab.cwd / "live.dsh"
    script.write_text("set context persistent\nbegin backup\nadd volume C:\ncreate\n"
                      "end backup\n")
    out = lab.ok("app", "run", "--for", "0.5", "--run", f"diskshadow -s {script}")
    assert "-> create" in out and "Number of shadow copies listed: 1" in out
    assert "Type: ApplicationRollback" in lab.ok("vssadmin", "list", "shadows")


def test_progress_bars_show_on_a_terminal_only(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from vsssim.cli.simpaths import copy_file

    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(PROGRESS_MIN + 1))
    terminal = io.StringIO()
    copy_file(None, str(source), str(tmp_path / "a.bin"),
              console=Console(file=terminal, force_terminal=True, width=100))
    assert "copy big.bin" in terminal.getvalue()
    piped = io.StringIO()
    copy_file(None, str(source), str(tmp_path / "b.bin"),
              console=Console(file=piped, force_terminal=False, width=100))
    assert piped.getvalue() == ""
    assert (tmp_path / "b.bin").read_bytes() == source.read_bytes()
