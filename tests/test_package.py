"""The public facade: every exported name resolves, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import vsssim
import vsssim.storage


@pytest.mark.parametrize("module", [vsssim, vsssim.storage], ids=lambda m: m.__name__)
def test_every_exported_name_resolves(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute"):
        _ = module.NoSuchThing  # type: ignore[attr-defined]


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    # pytest imports the vsssim plugin in every session of every project that has vsssim
    # installed: the facade loads the simulator (numpy, pydantic) only on first use.
    code = ("import sys, vsssim, vsssim.storage, vsssim.testing.plugin; "
            "print(sorted(m for m in ('numpy', 'pydantic', 'rich', 'click', 'vsssim.system') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_linux_only_calls_go_through_their_fallbacks() -> None:
    """macOS has no ``os.fdatasync``: the package calls ``_fileio.fdatasync`` (``fsync``
    there), so that durable mode and ``Volume.flush`` work on both systems of its users."""
    root = Path(vsssim.__file__).parent
    direct = [str(p.relative_to(root)) for p in root.rglob("*.py")
              if "os.fdatasync(" in p.read_text(encoding="utf-8")]
    assert direct == []
