#!/usr/bin/env python3
"""Conformance benchmark: writer conformance examples per second against hypothesis's floor.

The subject is ``check_writer``'s machine on the sample writer (``KvStoreWriter`` of the WAL
key-value store, which keeps writing between and during backups): each example builds a machine
(a 16 MiB volume image, the store, the writer, its WriterMonitor) and runs up to ``--steps``
steps (backups with drawn types, contexts, selections and faults; restores; abandoned backups;
Identify; application writes), the monitor checking every writer rule after each.

The floor is hypothesis itself: a trivial ``RuleBasedStateMachine`` with the same rule names
and draws that do nothing, run with the same settings (same examples, same maximum steps) in
the same process, alternating with the subject.  Both report examples per second, the steps
they actually ran and the rules they ran per second (the build rule counts as one).  Issue 7
compares the two "with the same number of steps" (target >= 0.3): hypothesis decides each
example's length from its draws, and the two machines draw differently, so their examples
differ in length; the ratio of rules per second is the comparison at the same length.  The
ratio of examples per second is printed too.

``--breakdown`` times one subject run by part: the simulator's operations (backup, restore,
...), the WriterMonitor's checks, building and removing the machines, and the rest (hypothesis
and drawing the plans).

Usage: python benchmarks/conformance.py [--examples N] [--steps S] [--reps R] [--profile]
       [--breakdown]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from vsssim.apps import KvStoreApp, KvStoreWriter
from vsssim.system import VssSystem
from vsssim.testing import AbandonedBackup, WriterConformance, WriterMonitor
from vsssim.testing._machine import ConformanceMachine

COUNTS = {"examples": 0, "steps": 0}


class Subject(WriterConformance):
    """The sample writer's conformance machine, counting examples and steps."""

    application_factory = KvStoreApp
    writer_factory = KvStoreWriter

    def __init__(self) -> None:
        super().__init__()
        COUNTS["examples"] += 1

    def _check(self, *args: Any, **kwargs: Any) -> None:
        COUNTS["steps"] += 1  # one check per step, and one after the machine is built
        super()._check(*args, **kwargs)


class Floor(RuleBasedStateMachine):
    """The same rules and draws as the subject, doing nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.backups = 0
        COUNTS["examples"] += 1

    @initialize(seed=st.integers(0, 2**16 - 1), shuffled=st.booleans(), data=st.data())
    def build_machine(self, seed: int, shuffled: bool, data: st.DataObject) -> None:
        COUNTS["steps"] += 1

    @rule(data=st.data())
    def backup(self, data: st.DataObject) -> None:
        self.backups += 1
        COUNTS["steps"] += 1

    @precondition(lambda self: self.backups > 0)
    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        COUNTS["steps"] += 1

    @rule(times=st.integers(1, 2))
    def send_identify(self, times: int) -> None:
        COUNTS["steps"] += 1

    @rule(steps=st.integers(1, 12))
    def run_applications(self, steps: int) -> None:
        COUNTS["steps"] += 1

    @rule(data=st.data())
    def stop_backup_midway(self, data: st.DataObject) -> None:
        COUNTS["steps"] += 1


def run(machine: type[RuleBasedStateMachine], examples: int, steps: int) -> tuple[float, int,
                                                                                  int]:
    """Seconds, examples and steps of one run of ``machine``."""
    config = settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                      database=None, derandomize=True, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
    COUNTS["examples"] = COUNTS["steps"] = 0
    start = time.perf_counter()
    run_state_machine_as_test(machine, settings=config)
    return time.perf_counter() - start, COUNTS["examples"], COUNTS["steps"]


# What --breakdown times (nested parts are not counted twice: the outermost call wins).
_PARTS = [
    ("simulator: VssSystem.backup", VssSystem, "backup"),
    ("simulator: VssSystem.restore", VssSystem, "restore"),
    ("simulator: abandoned backups (AbandonedBackup.run)", AbandonedBackup, "run"),
    ("simulator: send_identify, run_applications, reboot", VssSystem, "send_identify"),
    ("simulator: send_identify, run_applications, reboot", VssSystem, "run_applications"),
    ("simulator: send_identify, run_applications, reboot", VssSystem, "reboot"),
    ("monitor: WriterMonitor.check (an Identify when the step sent none)", WriterMonitor, "check"),
    ("machine: build (machine, volume, application, writer)", VssSystem, "__init__"),
    ("machine: build (machine, volume, application, writer)", VssSystem, "add_volume"),
    ("machine: build (machine, volume, application, writer)", KvStoreApp, "__init__"),
    ("machine: build (machine, volume, application, writer)", VssSystem, "add_writer"),
    ("machine: teardown (close, remove the directory)", ConformanceMachine, "teardown"),
]


def breakdown(examples: int, steps: int) -> None:
    """Time one subject run by part (see _PARTS)."""
    spent: collections.defaultdict[str, float] = collections.defaultdict(float)
    depth = [0]
    saved = []
    for label, owner, name in _PARTS:
        orig = owner.__dict__[name]
        saved.append((owner, name, orig))


        def timed(*a: Any, __orig: Any = orig, __label: str = label, **k: Any) -> Any:
            if depth[0]:
                return __orig(*a, **k)
            depth[0] += 1
            start = time.perf_counter()
            try:
                return __orig(*a, **k)
            finally:
                spent[__label] += time.perf_counter() - start
                depth[0] -= 1

        setattr(owner, name, timed)
    try:
        run(Subject, 10, steps)
        spent.clear()
        secs, count, rules = run(Subject, examples, steps)
    finally:
        for owner, name, orig in saved:
            setattr(owner, name, orig)
    fsecs, fcount, frules = run(Floor, examples, steps)
    total = secs / count * 1e3
    print(f"{count} examples, {total:.2f} ms each; the floor {fsecs / fcount * 1e3:.2f} ms")
    print("| part | ms per example | share |\n| --- | --- | --- |")
    rest = secs
    for label, value in sorted(spent.items(), key=lambda kv: -kv[1]):
        rest -= value
        print(f"| {label} | {value / count * 1e3:.2f} | {value / secs:.0%} |")
    print(f"| hypothesis and the plans' draws (the rest) | {rest / count * 1e3:.2f} | "
          f"{rest / secs:.0%} |")
    # What the target leaves for the simulator: at 0.3 x the floor's rules per second, an
    # example of this run's length may take this long, hypothesis's part included.
    allowed = fsecs / frules / 0.3 * (rules / count)
    backups = spent["simulator: VssSystem.backup"] / count
    print(f"At 0.3 x the floor an example of {rules / count:.2f} rules may take "
          f"{allowed * 1e3:.2f} ms; after hypothesis and the draws ({rest / count * 1e3:.2f} ms) "
          f"that leaves {(allowed - rest / count) * 1e3:.2f} ms for the simulator's parts, "
          f"whose backups alone take {backups * 1e3:.2f} ms.")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--examples", type=int, default=200, help="examples per run (200)")
    ap.add_argument("--steps", type=int, default=8, help="maximum steps per example (8)")
    ap.add_argument("--reps", type=int, default=3, help="alternating runs of each (3)")
    ap.add_argument("--profile", action="store_true",
                    help="profile one subject run instead and print the top functions")
    ap.add_argument("--breakdown", action="store_true",
                    help="time one subject run by part instead")
    args = ap.parse_args(argv)
    if args.breakdown:
        breakdown(args.examples, args.steps)
        return
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(Subject, args.examples, args.steps)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    run(Floor, 10, args.steps)  # warm-up: imports, strategy caches
    run(Subject, 10, args.steps)
    rates: dict[str, list[float]] = {"subject": [], "floor": []}
    step_rates: dict[str, list[float]] = {"subject": [], "floor": []}
    spe: dict[str, list[float]] = {"subject": [], "floor": []}
    for _ in range(args.reps):
        for name, machine in (("floor", Floor), ("subject", Subject)):
            secs, examples, steps = run(machine, args.examples, args.steps)
            rates[name].append(examples / secs)
            step_rates[name].append(steps / secs)  # rules run, the build rule included
            spe[name].append((steps - examples) / examples)  # without the build step
    print(f"{args.examples} examples of at most {args.steps} steps, {args.reps} runs each "
          f"(median, min-max)")
    for name in ("floor", "subject"):
        r = rates[name]
        print(f"  {name:8} {statistics.median(r):9.1f} examples/s ({min(r):.1f}-{max(r):.1f}); "
              f"{statistics.mean(spe[name]):.2f} steps per example; "
              f"{statistics.median(step_rates[name]):.0f} rules/s")
    # Each run of the subject against the floor run just before it: the host's speed drifts
    # less within a pair than across the whole measurement.
    ratios = [s / f for s, f in zip(rates["subject"], rates["floor"], strict=True)]
    print(f"  ratio subject/floor per example: {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f} over the {len(ratios)} pairs)")
    # Hypothesis decides each example's length, and the two machines' draws differ, so their
    # examples differ in length; at the same number of steps the ratio is that of the rules
    # (steps, the build included) each runs per second.
    same = [s / f for s, f in zip(step_rates["subject"], step_rates["floor"], strict=True)]
    print(f"  ratio at the same number of steps (rules/s): {statistics.median(same):.2f} "
          f"({min(same):.2f}-{max(same):.2f}; target >= 0.30)")


if __name__ == "__main__":
    main()
