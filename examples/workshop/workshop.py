"""The workshop's exercises as data, and a runner that checks their expected outputs.

Each exercise is a list of ``vsssim`` command lines (what the attendees type, without the
``vsssim``); the runner plays them in a fresh directory with a fresh lab machine (seed 42) and
writes or compares ``expected/<exercise>.txt``.  Teachers run it before the workshop to check
an installation::

    python examples/workshop/workshop.py            # compare with expected/ (exit 1 on a diff)
    python examples/workshop/workshop.py --update   # rewrite expected/

``{shadow}`` in a command is the last shadow copy id printed so far (attendees copy it from
their screen).  Live commands (``app run --for``, ``demo --step``) are in README.md only: their
output depends on real time.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner

from vsssim.cli import cli

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"
SCRIPTS = HERE / "scripts"
#: The terminal width of the expected outputs, and what README.md asks attendees for: the lane
#: timeline of exercise 3 (``trace show``, with the F and H columns) needs 133 columns;
#: narrower terminals get the plain event table instead.
COLUMNS = 140
_ID = re.compile(r"Shadow Copy ID: (\{[0-9a-f-]{36}\})|\* Shadow copy ID = (\{[0-9a-f-]{36}\})")


@dataclass(frozen=True)
class Step:
    """One command line, optionally with what the attendee types at its prompt."""

    command: str
    stdin: str | None = None


@dataclass(frozen=True)
class Exercise:
    """A numbered exercise: its slug, title, minutes and commands."""

    slug: str
    title: str
    minutes: int
    steps: list[Step] = field(default_factory=list)


def _s(command: str, stdin: str | None = None) -> Step:
    return Step(command, stdin)


EXERCISES = [
    Exercise("01-lab", "Meet the lab machine", 10, [
        _s("init --seed 42"),
        _s("vssadmin list volumes"),
        _s("vssadmin list providers"),
        _s("vssadmin list writers"),
        _s("app list"),
    ]),
    Exercise("02-first-shadow", "A first shadow copy: a point in time you can read", 10, [
        _s("fs put - 'C:\\report.txt'", "quarterly report, version 1\n"),
        _s("vssadmin create shadow /for=C:"),
        _s("fs put - 'C:\\report.txt'", "quarterly report, version 2 (oops)\n"),
        _s("vssadmin list shadows"),
        _s("fs cat '\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1\\report.txt'"),
        _s("fs cat 'C:\\report.txt'"),
        _s("vssadmin list shadowstorage"),
    ]),
    Exercise("03-writers-at-work", "Writers at work: freeze, hold, thaw", 10, [
        _s("diskshadow -s scripts/01-full-backup.dsh"),
        _s("trace show"),
        _s("trace svg -o full-backup.svg"),
    ]),
    Exercise("04-backup-and-copy", "Microsoft's diskshadow backup sample: expose and copy",
             15, [
        _s("fs put scripts/backupscript.cmd 'C:\\diskshadowdata\\backupscript.cmd'"),
        _s("diskshadow -s scripts/reference-backup-expose.dsh"),
        _s("vssadmin list shadows /for=D:"),
        _s("fs ls 'P:\\'"),
    ]),
    Exercise("05-when-writers-say-no", "When writers say no, or take too long", 15, [
        _s("demo --scenario writer-veto"),
        _s("demo --scenario freeze-timeout --table"),
        _s("demo --scenario hold-timeout"),
    ]),
    Exercise("06-shadow-storage", "Shadow storage: where old blocks go, and when it is full", 10, [
        _s("vssadmin add shadowstorage /for=D: /on=C: /maxsize=50%"),
        _s("diskshadow", "delete shadows volume D:\nexit\n"),
        _s("vssadmin add shadowstorage /for=D: /on=C: /maxsize=50%"),
        _s("vssadmin list shadowstorage /for=D:"),
        _s("demo --scenario storage-full"),
        _s("vssadmin delete shadows /for=C: /oldest", "y\n"),
    ]),
    Exercise("07-crash-consistent", "Crash-consistent or application-consistent", 10, [
        _s("demo --scenario excluded-writer"),
        _s("diskshadow -s scripts/02-exclude-writer.dsh"),
    ]),
    Exercise("08-restore", "Restore: writers decide how", 10, [
        _s("demo --scenario restore-if-can-replace"),
        _s("demo --scenario restore-at-reboot --table"),
        _s("diskshadow -s scripts/03-restore.dsh"),
        _s("fs put - 'C:\\report.txt'", "quarterly report, final\n"),
        _s("vssadmin create shadow /for=C:"),
        _s("fs put - 'C:\\report.txt'", "ruined\n"),
        _s("vssadmin revert shadow /shadow={shadow}"),
        _s("vssadmin revert shadow /shadow={shadow} /forcedismount"),
        _s("fs cat 'C:\\report.txt'"),
    ]),
    Exercise("09-bonus-hardware", "Bonus: a storage array, a hardware provider, two machines",
             0, [
        _s("demo --scenario two-providers --target two-providers-backup"),
        _s("--root prod-lab init --seed 1 --name PROD --san array"),
        _s("--root prod-lab volume create P: --san"),
        _s("--root backup-lab init --seed 2 --name BACKUP --san array"),
        _s("--root prod-lab diskshadow -s scripts/reference-transportable.dsh"),
        _s("--root backup-lab diskshadow -s scripts/reference-import.dsh"),
        _s("--root backup-lab vssadmin list shadows"),
    ]),
]


def play(workdir: Path) -> dict[str, str]:
    """Play every exercise in ``workdir`` (a lab at ``workdir/lab``); returns the transcripts."""
    shutil.copytree(SCRIPTS, workdir / "scripts", dirs_exist_ok=True)
    runner = CliRunner()
    env = {"VSSSIM_ROOT": str(workdir / "lab"), "COLUMNS": str(COLUMNS), "VSSSIM_LOCK_WAIT": "1"}
    transcripts: dict[str, str] = {}
    last_id = ""
    old = os.getcwd()
    os.chdir(workdir)
    try:
        for exercise in EXERCISES:
            parts = [f"# {exercise.title}\n"]
            for step in exercise.steps:
                command = step.command.replace("{shadow}", last_id)
                # Split as bash does: Windows paths are single-quoted in the commands.
                result = runner.invoke(cli, shlex.split(command),
                                       input=step.stdin, env=env, catch_exceptions=False)
                # One typed line is shown after the command; a session shows its own prompts.
                one_line = step.stdin is not None and step.stdin.count("\n") <= 1
                typed = f" (typed: {step.stdin.strip()})" if step.stdin and one_line else ""
                parts.append(f"\n$ vsssim {command}{typed}\n{result.output}")
                if result.exit_code:
                    parts.append(f"[exit code {result.exit_code}]\n")
                ids = [a or b for a, b in _ID.findall(result.output)]
                if ids:
                    last_id = ids[-1]
            transcripts[exercise.slug] = "".join(parts)
    finally:
        os.chdir(old)
    return transcripts


def _clean(text: str, workdir: Path) -> str:
    return text.replace(str(workdir), "<workdir>")


def main(argv: list[str]) -> int:
    """Compare with (or, with ``--update``, rewrite) the expected transcripts."""
    update = "--update" in argv
    with tempfile.TemporaryDirectory(prefix="vsssim-workshop-") as tmp:
        transcripts = play(Path(tmp))
        status = 0
        for slug, text in transcripts.items():
            text = _clean(text, Path(tmp))
            path = EXPECTED / f"{slug}.txt"
            if update:
                EXPECTED.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8")
                continue
            expected = path.read_text(encoding="utf-8") if path.exists() else ""
            if text != expected:
                status = 1
                sys.stdout.writelines(difflib.unified_diff(
                    expected.splitlines(True), text.splitlines(True), f"expected/{slug}.txt",
                    "now"))
    print("expected outputs " + ("written" if update else "match" if not status else
                                 "DIFFER (see above)"))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
