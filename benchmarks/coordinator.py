#!/usr/bin/env python3
"""Coordinator benchmark: full backup cycles per second, and where the time goes.

A cycle is the whole requester sequence with 3 writers (front-end, back-end, system) on one
volume, no file copy: CreateVssBackupComponents, InitializeForBackup, GatherWriterMetadata,
SetBackupState, AddComponent x3, StartSnapshotSet, AddToSnapshotSet, PrepareForBackup,
GatherWriterStatus, DoSnapshotSet (copy-on-write snapshot), GatherWriterStatus,
SetBackupSucceeded x3, SaveAsXML, BackupComplete, GatherWriterStatus, Release (the auto-release
shadow copy is deleted).  Property-based conformance runs need hundreds of these per second.

Usage: python benchmarks/coordinator.py [--cycles N] [--reps R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vsssim import (
    ApplicationLevel,
    BackupType,
    ComponentType,
    RestoreMethod,
    VssSystem,
    Writer,
)
from vsssim.documents import WriterMetadataBuilder


class BenchWriter(Writer):
    """A minimal writer with one file-group component."""

    def __init__(self, name: str, level: ApplicationLevel) -> None:
        self.writer_id = uuid5(NAMESPACE_URL, "bench:" + name)
        self.writer_name = name
        self.level = level

    def on_identify(self, metadata: WriterMetadataBuilder) -> bool:
        metadata.add_component(ComponentType.FILEGROUP, "", "data", selectable=True)
        metadata.add_files_to_file_group("", "data", f"C:\\{self.writer_name}", "*", True)
        metadata.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
        return True

    def on_prepare_snapshot(self) -> bool:
        return True

    def on_freeze(self) -> bool:
        return True

    def on_thaw(self) -> bool:
        return True

    def on_abort(self) -> bool:
        return True


def one_cycle(system: VssSystem, phases: dict[str, float]) -> None:
    t = time.perf_counter

    def lap(name: str, start: float) -> float:
        now = t()
        phases[name] += now - start
        return now

    s = t()
    bc = system.create_backup_components()
    bc.initialize_for_backup()
    bc.gather_writer_metadata().result()
    s = lap("identify (GatherWriterMetadata)", s)
    bc.set_backup_state(True, False, BackupType.FULL)
    chosen = []
    for instance_id, wmd in bc.writer_metadata:
        comp = wmd.components[0]
        bc.add_component(instance_id, wmd.identity.writer_id, comp.component_type,
                         comp.logical_path, comp.component_name)
        chosen.append((instance_id, wmd.identity.writer_id, comp))
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("C:\\")
    s = lap("selection and snapshot set", s)
    bc.prepare_for_backup().result()
    bc.gather_writer_status().result()
    s = lap("PrepareForBackup", s)
    bc.do_snapshot_set().result()
    bc.gather_writer_status().result()
    s = lap("DoSnapshotSet", s)
    for instance_id, writer_id, comp in chosen:
        bc.set_backup_succeeded(instance_id, writer_id, comp.component_type, comp.logical_path,
                                comp.component_name, True)
    bc.save_as_xml()
    s = lap("SetBackupSucceeded + SaveAsXML", s)
    bc.backup_complete().result()
    bc.gather_writer_status().result()
    s = lap("BackupComplete", s)
    bc.release()
    lap("Release (BackupShutdown, auto-release delete)", s)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=300)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    with VssSystem(seed=0) as system:
        volume = system.add_volume("C:\\", size=16 * 2**20)
        for name, level in (("Front", ApplicationLevel.FRONT_END),
                            ("Back", ApplicationLevel.BACK_END),
                            ("Sys", ApplicationLevel.SYSTEM)):
            volume.fs.makedirs(f"C:\\{name}")
            system.add_writer(BenchWriter(name, level))
        warm: dict[str, float] = defaultdict(float)
        for _ in range(20):
            one_cycle(system, warm)
        rates = []
        phases: dict[str, float] = defaultdict(float)
        for _ in range(args.reps):
            start = time.perf_counter()
            for _ in range(args.cycles):
                one_cycle(system, phases)
            rates.append(args.cycles / (time.perf_counter() - start))
        facade = time.perf_counter()
        for _ in range(args.cycles):
            system.backup(["C:\\"], copy_files=False)
        facade_rate = args.cycles / (time.perf_counter() - facade)
    total = sum(phases.values())
    n = args.cycles * args.reps
    print(f"step-by-step cycles/s: min {min(rates):.0f} / median {statistics.median(rates):.0f}"
          f" / max {max(rates):.0f}  ({args.reps} runs of {args.cycles} cycles)")
    print(f"VssSystem.backup(copy_files=False) cycles/s: {facade_rate:.0f}")
    print("\n| phase | ms per cycle | share |\n| --- | --- | --- |")
    for name, secs in phases.items():
        print(f"| {name} | {secs / n * 1e3:.3f} | {secs / total:.0%} |")


if __name__ == "__main__":
    main()
