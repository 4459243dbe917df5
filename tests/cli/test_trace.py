"""Saved runs and their renderings: the JSON round trip, lanes and windows, the rich timeline,
Mermaid, and the SVG (parsed, lanes and windows checked)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cli.conftest import Lab
from vsssim.cli import runs as runs_module
from vsssim.cli.runs import (
    RunError,
    event_from_json,
    event_to_json,
    list_runs,
    load_run,
    save_run,
)
from vsssim.cli.scenarios import SCENARIOS, ScenarioContext, running
from vsssim.render.lanes import layout
from vsssim.render.svg import render_svg
from vsssim.trace import EventKind, Trace, TraceEvent

SVG = "{http://www.w3.org/2000/svg}"
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
                    st.floats(allow_nan=False), st.text(max_size=20))
events = st.builds(
    TraceEvent, seq=st.integers(0, 10**9), time=st.floats(0, 1e9, allow_nan=False),
    source=st.text(max_size=30), target=st.text(max_size=30),
    kind=st.sampled_from(list(EventKind)), name=st.text(max_size=30),
    detail=st.text(max_size=60),
    data=st.lists(st.tuples(st.text(max_size=10), scalars), max_size=4).map(tuple))


@given(events)
def test_trace_events_round_trip_through_json(event: TraceEvent) -> None:
    import json

    assert event_from_json(json.loads(json.dumps(event_to_json(event)))) == event


@pytest.mark.parametrize("bad", [[], {"seq": "1"}, {"seq": 1, "time": 0.0, "source": "a"},
                                 {"seq": 1, "time": 0.0, "source": "a", "target": "b",
                                  "kind": "nonsense", "name": "x"}])
def test_malformed_events_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every message is its own
        event_from_json(bad)


def _story(name: str) -> Trace:
    with running(ScenarioContext(seed=1)) as ctx:
        return SCENARIOS[name].run(ctx).trace


def test_lanes_put_the_windows_where_the_trace_says() -> None:
    trace = _story("basic")
    lay = layout(trace)
    freezes = [w for w in lay.windows if w.kind == "freeze"]
    holds = [w for w in lay.windows if w.kind == "hold"]
    assert {w.actor for w in freezes} == {"KvStore Writer", "File Share Writer"}
    assert len(holds) == 1 and holds[0].closed
    events = list(trace)
    for w in freezes:
        assert events[w.first].name == "Freeze" and events[w.first].target == w.actor
        assert events[w.last].name == "Thaw" and events[w.last].target == w.actor
    hold = holds[0]
    assert events[hold.first].kind == EventKind.HOLD
    assert events[hold.last].kind == EventKind.RELEASE
    commit = next(i for i, e in enumerate(events) if e.name == "CommitSnapshots")
    assert hold.first < commit < hold.last
    assert all(lay.rows[i].hold == (hold.first <= i <= hold.last) for i in range(len(events)))
    assert hold.duration == pytest.approx(events[hold.last].time - events[hold.first].time)


def test_a_hold_timeout_closes_the_hold_window_at_the_timeout() -> None:
    trace = _story("hold-timeout")
    lay = layout(trace)
    hold = next(w for w in lay.windows if w.kind == "hold")
    assert list(trace)[hold.last].name == "HoldWritesTimeout"
    assert hold.duration == pytest.approx(10.0, abs=0.01)


def test_a_freeze_timeout_closes_the_freeze_window_at_the_timeout() -> None:
    lay = layout(_story("freeze-timeout"))
    window = next(w for w in lay.windows if w.actor == "KvStore Writer")
    assert window.duration == pytest.approx(60.0, abs=0.01)


def test_svg_is_well_formed_with_one_lane_per_actor_and_the_windows() -> None:
    trace = _story("basic")
    tree = ET.fromstring(render_svg(trace, title="basic <demo> & more"))
    assert tree.tag == f"{SVG}svg"
    lanes = [g.get("data-actor") for g in tree.iter(f"{SVG}g") if g.get("class") == "lane"]
    assert lanes == layout(trace).actors
    assert lanes[:2] == ["requester", "VSS"]
    assert {"KvStore Writer", "File Share Writer", "kernel"} <= set(lanes)
    events = [g for g in tree.iter(f"{SVG}g") if g.get("class") == "event"]
    assert len(events) == len(trace)
    assert [g.get("data-name") for g in events] == trace.names()
    windows = [g for g in tree.iter(f"{SVG}g") if (g.get("class") or "").startswith("window")]
    assert sorted(g.get("class", "") for g in windows) == ["window freeze-window"] * 2 + [
        "window hold-window"]
    assert not list(tree.iter(f"{SVG}script"))  # self-contained, nothing to run
    assert tree.find(f"{SVG}title").text == "basic <demo> & more"  # type: ignore[union-attr]


def test_runs_are_saved_and_loaded(tmp_path: Path) -> None:
    trace = _story("writer-veto")
    n1 = save_run(tmp_path, trace, command="demo")
    n2 = save_run(tmp_path, trace[:3], command="second", title="two")
    assert (n1, n2) == (1, 2)
    assert load_run(tmp_path).trace == trace[:3]
    assert load_run(tmp_path, 1).trace == trace
    with pytest.raises(RunError, match="there is no run 9"):
        load_run(tmp_path, 9)
    path = tmp_path / "runs" / "1.jsonl"
    lines = path.read_text().splitlines()
    lines[4] = "{broken"
    path.write_text("\n".join(lines))
    with pytest.raises(RunError, match="line 5 is damaged"):
        load_run(tmp_path, 1)


def test_only_the_latest_runs_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_module, "KEEP_RUNS", 3)
    trace = _story("basic")[:2]
    numbers = [save_run(tmp_path, trace, command=f"c{i}") for i in range(5)]
    assert numbers == [1, 2, 3, 4, 5]  # numbers are never reused
    assert list_runs(tmp_path) == [3, 4, 5]
    with pytest.raises(RunError, match=r"there is no run 1; saved runs: 3-5$"):
        load_run(tmp_path, 1)


def test_trace_commands_render_the_last_run(lab: Lab, tmp_path: Path) -> None:
    assert lab.run("trace", "show").exit_code == 1  # nothing saved yet
    lab.ok("vssadmin", "create", "shadow", "/for=C:")
    shown = lab.ok("trace", "show")
    assert "run 1: vssadmin create shadow /for=C:" in shown
    assert "FlushAndHoldWrites" in shown and "H  hold window" in shown
    assert "requester" in shown and "System" in shown
    table = lab.ok("trace", "show", "1", "--table", "--all-events")
    assert "CommitSnapshots" in table
    mermaid = lab.ok("trace", "mermaid")
    assert mermaid.startswith("sequenceDiagram\n")
    assert "DoSnapshotSet" in mermaid
    out = tmp_path / "run.svg"
    lab.ok("trace", "svg", "-o", str(out))
    tree = ET.parse(out).getroot()
    lanes = {g.get("data-actor") for g in tree.iter(f"{SVG}g") if g.get("class") == "lane"}
    assert {"requester", "VSS", "kernel"} <= lanes
    assert "vssadmin create shadow" in lab.ok("trace", "list")
    missing = lab.run("trace", "svg", "7")
    assert missing.exit_code == 1 and "there is no run 7" in missing.output


def test_mermaid_marks_the_windows_as_nested_rect_blocks() -> None:
    from vsssim.render.mermaid import render_sequence

    text = render_sequence(_story("basic"), windows=True)
    lines = [line.strip() for line in text.splitlines()]
    rects = [i for i, line in enumerate(lines) if line.startswith("rect ")]
    ends = [i for i, line in enumerate(lines) if line == "end"]
    assert len(rects) == len(ends) == 2
    freeze, hold = rects
    assert "77, 171, 247" in lines[freeze] and "255, 135, 135" in lines[hold]
    assert freeze < hold < ends[0] < ends[1]  # the hold block sits inside the freeze block
    assert "Freeze" in lines[freeze + 1]
    assert "FlushAndHoldWrites" in lines[hold + 1]
    assert render_sequence(_story("basic")).count("rect ") == 0  # off by default


def test_trace_list_survives_a_damaged_run(lab: Lab) -> None:
    lab.ok("vssadmin", "list", "writers")
    lab.ok("vssadmin", "create", "shadow", "/for=C:")
    lab.ok("vssadmin", "list", "writers")
    (lab.root / "runs" / "2.jsonl").write_text('{"run": 2}\nnot json\n')
    result = lab.run("trace", "list")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].endswith("vssadmin list writers") and lines[0].startswith("   1")
    assert lines[1].startswith("   2       damaged  ") and "line 2 is damaged" in lines[1]
    assert lines[2].startswith("   3") and lines[2].endswith("vssadmin list writers")
    assert lines[3] == "Error: 1 of 3 saved runs are damaged (delete their files to get rid " \
                       "of them)"
    assert "Identify" in lab.ok("trace", "show", "3", "--table")


def test_trace_show_before_init_says_to_init(empty_lab: Lab) -> None:
    result = empty_lab.run("trace", "show")
    assert result.exit_code == 1
    assert "there is no lab machine at" in result.output and "init" in result.output
    assert "or a demo, first" not in result.output
    assert empty_lab.run("demo").exit_code == 0  # a demo without a lab...
    assert "no saved runs" in empty_lab.run("trace", "show").output  # ...saves nothing
