"""The SDK tables of the team's VSS reference, for differential tests.

The tables (every ``vsserror.h`` code and every enumeration of the SDK headers, with their
values) were extracted from ``../shared/reference/vss-requester-writer.md`` into
``tests/data/sdk_tables.json`` so that the tests run on any checkout.  When the reference is
next to the checkout, ``test_sdk_tables_match_the_reference`` checks the copy still agrees with
it; regenerate with ``python -m tests._reference``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
TABLES = Path(__file__).resolve().parent / "data" / "sdk_tables.json"
SOURCE = ("../shared/reference/vss-requester-writer.md (section 9.1: vsserror.h; 9.2, 4.1 and "
          "the smaller enumerations: vss.h, vswriter.h, vsbackup.h, vsprov.h, vsmgmt.h)")


@cache
def _tables() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(TABLES.read_text(encoding="utf-8"))
    return data


def hresult_table() -> dict[str, int]:
    """Every vsserror.h code with its value."""
    return {name: int(str(v)) for name, v in _tables()["hresults"].items()}


def enum_tables() -> dict[str, dict[str, int]]:
    """Every enumeration of the SDK headers: SDK type name -> {member: value}."""
    enums = _tables()["enums"]
    return {t: {n: int(v) for n, v in members.items()}  # type: ignore[attr-defined]
            for t, members in enums.items()}


def parse_reference(text: str) -> dict[str, object]:
    """The tables of ``vss-requester-writer.md`` (its text), as stored in ``sdk_tables.json``."""
    section = text[text.index("### 9.1") : text.index("### 9.2")]
    rows = re.findall(r"^\| `(VSS_[A-Z0-9_]+)` \| `(0x[0-9A-Fa-f]+)` \|", section, re.M)
    hresults = {name: int(value, 16) for name, value in rows}
    tables: dict[str, dict[str, int]] = {}
    # Bold-headed tables of section 9.2, e.g. **`VSS_BACKUP_TYPE`** (`vss.h`) then | Name | Value |.
    for m in re.finditer(r"\*\*`(VSS_[A-Z_]+)`\*\*[^\n]*\n\n((?:\|[^\n]*\n)+)", text):
        found = re.findall(r"^\| `(VSS_[A-Z0-9_]+)` \| `(-?(?:0x)?[0-9A-Fa-f]+)`", m.group(2), re.M)
        tables[m.group(1)] = {n: int(v, 0) for n, v in found}
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
    return {"source": SOURCE, "hresults": hresults, "enums": tables}


if __name__ == "__main__":
    reference = (REFERENCE / "vss-requester-writer.md").read_text(encoding="utf-8")
    TABLES.write_text(json.dumps(parse_reference(reference), indent=1, sort_keys=True) + "\n",
                      encoding="utf-8")
    print(f"wrote {TABLES}")
