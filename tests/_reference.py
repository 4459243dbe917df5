"""Read the tables of ../shared/reference/*.md (the team's VSS reference) for differential tests."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def reference_text(name: str) -> str:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference file {path} is not available (../shared is missing)")
    return path.read_text(encoding="utf-8")


@cache
def hresult_table() -> dict[str, int]:
    """Section 9.1 of vss-requester-writer.md: every vsserror.h code with its value."""
    text = reference_text("vss-requester-writer.md")
    section = text[text.index("### 9.1") : text.index("### 9.2")]
    rows = re.findall(r"^\| `(VSS_[A-Z0-9_]+)` \| `(0x[0-9A-Fa-f]+)` \|", section, re.M)
    return {name: int(value, 16) for name, value in rows}


@cache
def enum_tables() -> dict[str, dict[str, int]]:
    """Every enumeration listed in the reference notes: SDK type name -> {member: value}."""
    tables: dict[str, dict[str, int]] = {}
    text = reference_text("vss-requester-writer.md")
    # Bold-headed tables of section 9.2, e.g. **`VSS_BACKUP_TYPE`** (`vss.h`) then | Name | Value |.
    for m in re.finditer(r"\*\*`(VSS_[A-Z_]+)`\*\*[^\n]*\n\n((?:\|[^\n]*\n)+)", text):
        rows = re.findall(r"^\| `(VSS_[A-Z0-9_]+)` \| `(-?(?:0x)?[0-9A-Fa-f]+)`", m.group(2), re.M)
        tables[m.group(1)] = {n: int(v, 0) for n, v in rows}
    # Section 4.1: the writer-state table.
    sec = text[text.index("### 4.1") : text.index("### 4.2")]
    tables["VSS_WRITER_STATE"] = {
        n: int(v) for v, n in re.findall(r"^\| (\d+) \| `(VSS_WS_[A-Z_]+)` \|", sec, re.M)
    }
    # "Smaller or provider-side enumerations": `TYPE` (`hdr`): `NAME` = `0x1`, ...
    for m in re.finditer(r"^- `(VSS_[A-Z_]+)` \(`[a-z]+\.h`\): (.*)$", text, re.M):
        tables[m.group(1)] = {
            n: int(v, 0) for n, v in re.findall(r"`(VSS_[A-Z0-9_]+)` = `(-?(?:0x)?[0-9A-Fa-f]+)`",
                                                 m.group(2))
        }
    return tables
