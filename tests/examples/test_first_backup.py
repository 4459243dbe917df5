"""examples/first_backup.py runs and leaves nothing behind in the temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_first_backup_runs_and_cleans_up(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "first_backup.py")],
                         capture_output=True, text=True, check=False, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "backup succeeded" in out.stdout
    assert list(tmp_path.iterdir()) == []  # the backup directory and the machine are gone
