"""``vsssim demo``: a backup with two writers and their applications, timeline and summary."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from rich.console import Console

from vsssim import hresult as hr
from vsssim.apps import FileShareApp, FileShareWriter, KvStoreApp, KvStoreWriter
from vsssim.cli.timeline import print_timeline
from vsssim.faults import FaultPlan, WriterFault
from vsssim.system import VssSystem
from vsssim.trace import EventKind

__all__ = ["demo", "parse_fail"]

_WRITER_ALIASES = {"kvstore": "KvStore Writer", "fileshare": "File Share Writer",
                   "share": "File Share Writer"}


def parse_fail(spec: str) -> WriterFault:
    """``WRITER:EVENT[:retryable]`` -> a veto fault (writer by name or short alias)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise click.BadParameter(f"{spec!r}: use WRITER:EVENT[:retryable], e.g. kvstore:Freeze")
    writer = _WRITER_ALIASES.get(parts[0].lower(), parts[0])
    retryable = len(parts) == 3 and parts[2].lower() == "retryable"
    if len(parts) == 3 and not retryable:
        raise click.BadParameter(f"{spec!r}: the third part can only be 'retryable'")
    events = {"identify": "Identify", "prepareforbackup": "PrepareForBackup",
              "prepareforsnapshot": "PrepareForSnapshot", "freeze": "Freeze", "thaw": "Thaw",
              "postsnapshot": "PostSnapshot", "backupcomplete": "BackupComplete",
              "backupshutdown": "BackupShutdown"}
    event = events.get(parts[1].lower())
    if event is None:
        names = ", ".join(events.values())
        raise click.BadParameter(f"{parts[1]!r} is not a writer event ({names})")
    code = hr.VSS_E_WRITERERROR_RETRYABLE if retryable else hr.VSS_E_WRITERERROR_NONRETRYABLE
    return WriterFault(event, writer=writer, action="veto", hresult=code)


@click.command()
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run.")
@click.option("--fail", "fails", multiple=True, metavar="WRITER:EVENT[:retryable]",
              help="Make a writer veto an event (writers: kvstore, fileshare).")
@click.option("--mermaid", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write the run as a Mermaid sequence diagram to this file.")
@click.option("--target", type=click.Path(file_okay=False), default=None,
              help="Backup directory (default: a temporary one).")
@click.option("--all-events", is_flag=True, help="Also show state changes and file copies.")
def demo(seed: int, fails: tuple[str, ...], mermaid: str | None, target: str | None,
         all_events: bool) -> None:
    """Back up a volume with a key-value store and a file share, both writing all the time."""
    console = Console()
    plan = FaultPlan([parse_fail(f) for f in fails])
    with VssSystem(seed=seed, faults=plan) as system:
        vol = system.add_volume("C:\\", size=32 * 2**20)
        kv = system.add_application(KvStoreApp(vol.fs))
        share = system.add_application(FileShareApp(vol.fs))
        assert isinstance(kv, KvStoreApp)
        assert isinstance(share, FileShareApp)
        kv_writer = KvStoreWriter(kv)
        system.add_writer(kv_writer)
        system.add_writer(FileShareWriter(share))
        system.run_applications(20)
        out = Path(target) if target else Path(tempfile.mkdtemp(prefix="vsssim-demo-"))
        result = system.backup(["C:\\"], target_dir=out)
        skip = () if all_events else (EventKind.STATE, EventKind.COPY, EventKind.APP)
        console.rule("[bold]VSS backup timeline")
        print_timeline(result.trace, console, skip=skip)
        console.rule("[bold]Summary")
        console.print(result.summary())
        if mermaid:
            Path(mermaid).write_text(result.trace.to_mermaid(), encoding="utf-8")
            console.print(f"Mermaid sequence diagram written to {mermaid}")
        if not result.succeeded:
            raise SystemExit(1)
