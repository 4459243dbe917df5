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
