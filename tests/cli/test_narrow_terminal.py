"""Timelines in a terminal too narrow for lanes: the plain event table, every time readable."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from vsssim.cli import cli


@pytest.mark.parametrize("columns", [60, 80])
def test_demo_falls_back_to_the_event_table_when_lanes_do_not_fit(columns: int) -> None:
    result = CliRunner().invoke(cli, ["demo", "--seed", "3"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"this one has {columns})" in out
    assert "●" not in out  # no squeezed lanes
    # Every event row starts with its full time, not a time cut to "0…".
    times = re.findall(r"^\s*(\d+\.\d{3})s ", out, flags=re.MULTILINE)
    assert len(times) > 40
    assert "DoSnapsh" in out and "writes held" in out
    assert max(len(line) for line in out.splitlines()) <= columns
    # Details are not folded a few characters per line: whole, beside or under the event.
    assert "VSS_S_ASYNC_FINISHED" in out
    assert re.search(r"Identify  ok\s*$", out, flags=re.MULTILINE)


def test_wide_terminal_gets_lanes() -> None:
    result = CliRunner().invoke(cli, ["demo", "--seed", "3"], env={"COLUMNS": "140"})
    assert result.exit_code == 0, result.output
    assert "●" in result.output and "lane timeline needs" not in result.output


@pytest.mark.parametrize("scenario", ["basic", "two-providers", "writer-veto"])
@pytest.mark.parametrize("columns", [80, 96, 100, 110, 120, 131, 140, 151, 200])
def test_lanes_fit_whole_or_give_way_to_the_table(scenario: str, columns: int) -> None:
    """The fit check and the layout use the same widths: at every width the lanes either
    show every actor, time and event name whole (only a long detail ends in "…"), or the
    plain table is printed with the width the lanes need."""
    result = CliRunner().invoke(cli, ["demo", "--scenario", scenario],
                                env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= columns
    needs = re.search(r"a lane timeline needs (\d+) columns; this one has (\d+)\)",
                      result.output)
    if needs:
        assert int(needs.group(1)) > columns and "●" not in result.output
        return
    header = next(i for i, line in enumerate(lines) if re.search(r"\btime\s+FH\b", line))
    detail = lines[header].index("detail")
    start = max(i for i in range(header) if "────" in lines[i]) + 1  # below the title rule
    assert not any("…" in line for line in lines[start:header + 1]), lines[start:header + 1]
    for word in ("requester", "VSS", "KvStore", "Writer", "kernel", "volsnap"):
        if scenario == "writer-veto" and word in ("kernel", "volsnap"):
            continue
        assert word in "\n".join(lines[start:header + 1])
    rows = [line for line in lines[header + 1:] if re.match(r"^\s*\d+\.\d{3}s ", line)]
    assert len(rows) > 20
    for line in rows:
        assert "…" not in line[:detail], line  # time, F/H, lanes and event are whole
    assert any(line.split("s", 1)[1].startswith("  F") for line in rows)  # the F column
    if scenario != "writer-veto":
        assert any(line.split("s", 1)[1].startswith("  FH") for line in rows)  # and H


@pytest.mark.parametrize("columns", [120, 160])
def test_the_event_table_shows_the_longest_event_names_whole(columns: int) -> None:
    from rich.console import Console

    from vsssim.cli.timeline import print_timeline
    from vsssim.trace import EventKind, TraceEvent

    name = "AddAlternativeLocationMapping"  # the longest requester call (29 characters)
    event = TraceEvent(seq=1, time=0.5, source="requester", target="VSS", kind=EventKind.CALL,
                       name=name, detail="C:\\data -> D:\\alt")
    console = Console(width=columns, record=True, color_system=None)
    print_timeline([event], console)
    assert name in console.export_text()
