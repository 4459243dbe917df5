"""Plans: one backup, one restore, one abandoned backup, one machine's volumes, as values.

A plan is what a strategy draws (:func:`vsssim.strategies.backup_plans` ...) and what a
conformance machine runs.  Each plan runs itself on a :class:`~vsssim.system.VssSystem` with the
plain public calls (``system.backup(...)``, ``system.restore(...)``, a ``BackupComponents``
session) and writes the same calls out as Python source (:meth:`BackupPlan.code`), which is how a
failing run becomes a ready-to-paste pytest test.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from vsssim import hresult as hr
from vsssim.constants import BackupType, ComponentType, SnapshotContext, VolumeSnapshotAttributes
from vsssim.faults import Fault, FaultPlan

if TYPE_CHECKING:
    from vsssim.backup import BackupResult
    from vsssim.restore import RestoreResult
    from vsssim.system import VssSystem

__all__ = [
    "AbandonedBackup",
    "BackupPlan",
    "RestorePlan",
    "VolumeLayout",
    "context_code",
    "fault_code",
    "faults_code",
]

MiB = 1 << 20
_A = VolumeSnapshotAttributes


def _hresult_code(value: int) -> str:
    name = hr.name_of(hr.to_unsigned(value))
    return f"hresult.{name}" if hasattr(hr, name) else f"0x{hr.to_unsigned(value):08X}"


def fault_code(fault: Fault) -> str:
    """A fault as the Python expression that builds it (only the fields that differ from the
    defaults, HRESULTs by name)."""
    parts: list[str] = []
    for f in fields(fault):
        value = getattr(fault, f.name)
        required = f.default is MISSING
        if not required and value == f.default and type(value) is type(f.default) \
                and f.name != "action":  # the action of a WriterFault is always worth reading
            continue
        if f.name in ("hresult", "application_hresult") and isinstance(value, int):
            text = _hresult_code(value)
        else:
            text = repr(value)
        parts.append(text if required else f"{f.name}={text}")
    return f"{type(fault).__name__}({', '.join(parts)})"


def faults_code(faults: Sequence[Fault]) -> str:
    """``FaultPlan([...])`` for a list of faults."""
    return f"FaultPlan([{', '.join(fault_code(f) for f in faults)}])"


_CONTEXT_NAMES = {int(c): f"SnapshotContext.{c.name}" for c in SnapshotContext}
_SINGLE_BITS = [a for a in _A if a.value and a.value.bit_count() == 1]


def context_code(context: int) -> str:
    """A snapshot context as source: ``SnapshotContext.X``, plus modifier bits by name."""
    if context in _CONTEXT_NAMES:
        return _CONTEXT_NAMES[context]
    # The largest base context inside it, the rest as single attribute bits.
    bases = sorted((b for b in _CONTEXT_NAMES if b and context & b == b),
                   key=lambda b: b.bit_count(), reverse=True)
    base = bases[0] if bases else 0
    extra = context & ~base
    mods = [a for a in _SINGLE_BITS if extra & a.value]
    if sum(a.value for a in mods) != extra:
        return f"0x{context:08x}"
    return " | ".join([_CONTEXT_NAMES[base], *(f"VolumeSnapshotAttributes.{a.name}"
                                               for a in mods)])


@dataclass(frozen=True)
class VolumeLayout:
    """The volumes of a machine: ``(name, size in bytes)`` pairs, the first one the system
    volume."""

    volumes: tuple[tuple[str, int], ...] = (("C:\\", 16 * MiB),)

    @property
    def names(self) -> list[str]:
        """The volume names."""
        return [name for name, _ in self.volumes]

    def apply(self, system: VssSystem) -> None:
        """``system.add_volume`` for each volume."""
        for name, size in self.volumes:
            system.add_volume(name, size=size)

    def code(self) -> list[str]:
        """The same calls as source lines."""
        return [f"system.add_volume({name!r}, size={size})" for name, size in self.volumes]


@dataclass(frozen=True)
class BackupPlan:
    """One ``VssSystem.backup`` call and the faults injected while it runs.

    ``components``: ``"Writer Name:logical\\\\path\\\\name"`` filters (None: the canonical
    selection); ``faults``: installed as ``system.faults`` for the call, in place of the
    machine's own plan, which is put back after it (a plan without faults leaves the machine's
    plan in force).
    """

    volumes: tuple[str, ...] | None = ("C:\\",)
    backup_type: BackupType = BackupType.FULL
    context: int = int(SnapshotContext.BACKUP)
    components: tuple[str, ...] | None = None
    faults: tuple[Fault, ...] = ()

    def run(self, system: VssSystem, target_dir: str | os.PathLike[str]) -> BackupResult:
        """Run the backup (faults installed for its duration)."""
        previous = system.faults
        if self.faults:
            system.faults = FaultPlan(list(self.faults))
        try:
            return system.backup(
                list(self.volumes) if self.volumes is not None else None,
                backup_type=self.backup_type, context=self.context,
                components=list(self.components) if self.components is not None else None,
                target_dir=target_dir)
        finally:
            if self.faults:
                system.faults = previous

    def code(self, var: str, target: str) -> list[str]:
        """Source lines for :meth:`run`, assigning the result to ``var``; ``target`` is the
        expression of the backup directory.  They clear the fault plan after the backup
        (``system.faults = None``): the same as :meth:`run` on a machine without a plan of its
        own, like the conformance machines that print them."""
        args = [repr(list(self.volumes)) if self.volumes is not None else "None",
                f"backup_type=BackupType.{BackupType(self.backup_type).name}"]
        if self.context != SnapshotContext.BACKUP:
            args.append(f"context={context_code(self.context)}")
        if self.components is not None:
            args.append(f"components={list(self.components)!r}")
        args.append(f"target_dir={target}")
        lines = []
        if self.faults:
            lines.append(f"system.faults = {faults_code(self.faults)}")
        lines.append(f"{var} = system.backup({', '.join(args)})")
        if self.faults:
            lines.append("system.faults = None")
        return lines


@dataclass(frozen=True)
class RestorePlan:
    """One ``VssSystem.restore`` of an earlier completed backup (``backup``: its index among
    the completed ones, oldest first).  A restore that stages files for the next reboot is
    followed by ``system.reboot()`` (``reboot``)."""

    backup: int = 0
    components: tuple[str, ...] | None = None
    additional_restores: bool = False
    reboot: bool = True

    def within(self, held: Sequence[str]) -> RestorePlan:
        """The plan without the ``components`` entries that pick none of ``held`` (the
        backup's components, ``BackupResult.component_names``): a plan
        drawn from the writer's metadata may name components this backup does not hold, and
        restore refuses those."""
        if not self.components:
            return self
        from vsssim.restore import selectors

        accepted = selectors(held)
        kept = tuple(c for c in self.components if c.lower() in accepted)
        return self if kept == self.components else replace(self, components=kept)

    def run(self, system: VssSystem, backups: Sequence[BackupResult]) -> RestoreResult:
        """Restore ``backups[self.backup]`` (and reboot if files wait for it).

        ``backups`` is the list of completed backups, oldest first, even for one backup:
        ``plan.run(system, [result])``.  Anything else (a single ``BackupResult``, a backup
        directory) is a ``TypeError``, and an index past the end an ``IndexError``, each saying
        what was passed."""
        from vsssim.backup import BackupResult

        if isinstance(backups, (str, bytes)) or not isinstance(backups, Sequence):
            hint = " (pass [result])" if isinstance(backups, BackupResult) else ""
            raise TypeError(f"RestorePlan.run(system, backups): backups is a sequence of "
                            f"BackupResult, oldest first; got {type(backups).__name__}{hint}")
        if not -len(backups) <= self.backup < len(backups):
            raise IndexError(f"RestorePlan(backup={self.backup}) restores backups"
                             f"[{self.backup}], but {len(backups)} backup(s) were passed")
        result = system.restore(backups[self.backup],
                                components=list(self.components)
                                if self.components is not None else None,
                                additional_restores=self.additional_restores)
        if self.reboot and result.pending_reboot:
            system.reboot()
        return result

    def code(self, var: str, backup_var: str, *, rebooted: bool) -> list[str]:
        """Source lines for :meth:`run` (``rebooted``: the run needed the reboot)."""
        args = [backup_var]
        if self.components is not None:
            args.append(f"components={list(self.components)!r}")
        if self.additional_restores:
            args.append("additional_restores=True")
        lines = [f"{var} = system.restore({', '.join(args)})"]
        if rebooted:
            lines.append("system.reboot()  # the restore staged files for the next boot")
        return lines


@dataclass(frozen=True)
class AbandonedBackup:
    """A requester that stops part-way: it creates the object, selects ``components``
    (``(type, logical path, name)`` of one writer), starts the set with ``volumes``, runs up to
    and including ``stop_after`` (``"StartSnapshotSet"``, ``"PrepareForBackup"`` or
    ``"DoSnapshotSet"``), calls ``AbortBackup`` if ``abort``, and releases the object (which
    sends BackupShutdown).  Used with the writer under test (``writer``)."""

    stop_after: str = "PrepareForBackup"
    abort: bool = True
    backup_type: BackupType = BackupType.FULL
    volumes: tuple[str, ...] = ("C:\\",)
    components: tuple[tuple[ComponentType, str, str], ...] = ()

    STOPS = ("StartSnapshotSet", "PrepareForBackup", "DoSnapshotSet")

    def __post_init__(self) -> None:
        if self.stop_after not in self.STOPS:
            raise ValueError(f"stop_after={self.stop_after!r}: one of {', '.join(self.STOPS)}")

    def run(self, system: VssSystem, writer: Any) -> None:
        """Run the abandoned sequence with the writer's identity."""
        with system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.gather_writer_metadata().wait()
            bc.set_backup_state(True, False, self.backup_type)
            for ctype, path, name in self.components:
                bc.add_component(writer.instance_id, writer.writer_id, ctype, path, name)
            bc.start_snapshot_set()
            for volume in self.volumes:
                bc.add_to_snapshot_set(volume)
            if self.stop_after != "StartSnapshotSet":
                bc.prepare_for_backup().wait()
            if self.stop_after == "DoSnapshotSet":
                bc.do_snapshot_set().wait()
            if self.abort:
                bc.abort_backup()

    def code(self) -> list[str]:
        """The same calls as source lines (``writer`` is the writer under test)."""
        lines = ["with system.create_backup_components() as bc:",
                 "    bc.initialize_for_backup()",
                 "    bc.gather_writer_metadata().wait()",
                 f"    bc.set_backup_state(True, False, BackupType.{self.backup_type.name})"]
        lines += [f"    bc.add_component(writer.instance_id, writer.writer_id, "
                  f"ComponentType.{ComponentType(t).name}, {p!r}, {n!r})"
                  for t, p, n in self.components]
        lines.append("    bc.start_snapshot_set()")
        lines += [f"    bc.add_to_snapshot_set({v!r})" for v in self.volumes]
        if self.stop_after != "StartSnapshotSet":
            lines.append("    bc.prepare_for_backup().wait()")
        if self.stop_after == "DoSnapshotSet":
            lines.append("    bc.do_snapshot_set().wait()")
        if self.abort:
            lines.append("    bc.abort_backup()")
        lines.append("# leaving the block released the object (BackupShutdown)")
        return lines


# With hypothesis in use, st.from_type(BackupPlan) should draw valid plans.
from vsssim._hypothesis import register_if_testing  # noqa: E402

register_if_testing(BackupPlan, RestorePlan, AbandonedBackup, VolumeLayout)
