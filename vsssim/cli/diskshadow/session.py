"""The diskshadow interpreter: settings, the shadow copy set being built, aliases, and the
``IVssBackupComponents`` objects it holds, command by command.

How diskshadow maps onto the requester API (providers reference §6):

=================  ===========================================================================
``set context``    ``VOLATILE`` = ``VSS_CTX_BACKUP`` (``NOWRITERS``: ``FILE_SHARE_BACKUP``),
                   ``PERSISTENT`` = ``APP_ROLLBACK`` (``NOWRITERS``: ``NAS_ROLLBACK``),
                   ``CLIENTACCESSIBLE``; ``set option`` ORs modifier bits into it
``create``         one requester: InitializeForBackup, SetContext, GatherWriterMetadata,
                   SetBackupState (FULL after ``begin backup``, else COPY), AddComponent for
                   every component with files on the set's volumes (minus ``writer exclude``),
                   StartSnapshotSet, AddToSnapshotSet, PrepareForBackup, DoSnapshotSet
``end backup``     SetBackupSucceeded + BackupComplete on that requester
``exit``/``reset`` release it: BackupShutdown, and volatile copies are deleted (rule 15)
``begin restore``  after ``load metadata``: InitializeForRestore, SetSelectedForRestore of
                   every component of the document whose writer runs, PreRestore
``end restore``    SetFileRestoreStatus(ALL), PostRestore
management         ``expose``, ``unexpose``, ``delete shadows``, ``break``, ``revert`` use a
                   short-lived ``VSS_CTX_ALL`` requester; ``import`` one initialised with the
                   loaded document
=================  ===========================================================================

Choices where diskshadow is undocumented (docs/cli.md): without ``begin backup`` the copy
backup is completed (BackupComplete) at once after ``create``; the metadata file is written only
when ``set metadata`` named one; ``revert`` dismounts the volume if applications use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import click

from vsssim import hresult as hr
from vsssim.cli.diskshadow.cmdfile import run_cmd
from vsssim.cli.diskshadow.metadata import (
    MetadataError,
    MetadataFile,
    read_metadata,
    write_metadata,
)
from vsssim.cli.diskshadow.output import (
    providers_listing,
    shadow_block,
    writer_metadata_listing,
    writer_status_listing,
)
from vsssim.cli.diskshadow.parser import HELP, Command
from vsssim.cli.hostfiles import check_output_file
from vsssim.cli.simpaths import is_windows_path, locate
from vsssim.cli.winfmt import braced, parse_guid
from vsssim.constants import (
    BackupType,
    FileRestoreStatus,
    HardwareOptions,
    ObjectType,
    SnapshotContext,
    VolumeSnapshotAttributes,
)
from vsssim.documents import ComponentKind, SnapshotProperties, WriterMetadata, kind_of, set_members
from vsssim.errors import VssError, VssObjectAlreadyExistsError
from vsssim.providers.base import GUID_NULL, VolumeInfo
from vsssim.requester import BackupComponents
from vsssim.system import VssSystem

__all__ = ["DiskshadowError", "Session"]

_A = VolumeSnapshotAttributes
_CONTEXTS = {
    ("clientaccessible",): int(SnapshotContext.CLIENT_ACCESSIBLE),
    ("persistent",): int(SnapshotContext.APP_ROLLBACK),
    ("persistent", "nowriters"): int(SnapshotContext.NAS_ROLLBACK),
    ("volatile",): int(SnapshotContext.BACKUP),
    ("volatile", "nowriters"): int(SnapshotContext.FILE_SHARE_BACKUP),
}
_OPTION_BITS = {
    "differential": _A.DIFFERENTIAL, "plex": _A.PLEX, "transportable": _A.TRANSPORTABLE,
    "rollbackrecover": _A.ROLLBACK_RECOVERY, "txfrecover": _A.TXF_RECOVERY,
    "noautorecover": _A.NO_AUTORECOVERY,
}


class DiskshadowError(Exception):
    """A command that failed: the message diskshadow prints (the session goes on in
    interactive mode; a script stops)."""


@dataclass
class _Volume:
    info: VolumeInfo
    alias: str | None
    provider: UUID


@dataclass
class _Selected:
    instance_id: UUID
    writer_id: UUID
    label: str
    component: object  # a WmdComponent


@dataclass
class _Creation:
    bc: BackupComponents
    set_id: UUID
    snapshots: list[UUID]
    writers: bool
    selected: list[_Selected] = field(default_factory=list)
    completed: bool = False


def _vss(exc: VssError, call: str) -> DiskshadowError:
    return DiskshadowError(f"{call} failed: {exc.hresult_name} (0x{exc.hresult:08X}): "
                           f"{exc.message}")


class Session:
    """One diskshadow process: run :meth:`execute` per command, then :meth:`close`."""

    def __init__(self, system: VssSystem, out: Callable[[str], None], *,
                 cwd: Path | None = None) -> None:
        self.system = system
        self.out = out
        self.cwd = cwd or Path.cwd()
        self._defaults()

    def _defaults(self) -> None:
        self.context_words: tuple[str, ...] = ("volatile",)
        self.options: tuple[str, ...] = ()
        self.verbose = False
        self.metadata_path: Path | None = None
        self.volumes: list[_Volume] = []
        self.aliases: dict[str, str] = {}
        self.verify: list[str] = []
        self.exclude: list[str] = []
        self.backup = False
        self.creation: _Creation | None = None
        self.loaded: MetadataFile | None = None
        self.restore_bc: BackupComponents | None = None
        self.import_bc: BackupComponents | None = None

    # ------------------------------------------------------------------------- helpers
    @property
    def context(self) -> int:
        """The context ``create`` will use (context plus option bits)."""
        value = _CONTEXTS[self.context_words]
        for word in self.options:
            value |= int(_OPTION_BITS[word])
        return value

    def expand(self, text: str) -> str:
        """Replace ``%alias%`` by its value (an unknown alias is an error)."""
        out = []
        rest = text
        while "%" in rest:
            before, _, after = rest.partition("%")
            name, sep, tail = after.partition("%")
            if not sep:
                break
            value = next((v for k, v in self.aliases.items() if k.lower() == name.lower()),
                         None)
            if value is None:
                raise DiskshadowError(f"The alias %{name}% is not defined (ADD ALIAS, or an "
                                      "alias of ADD VOLUME / CREATE).")
            out.append(before + value)
            rest = tail
        return "".join(out) + rest

    def aliases_in(self, text: str) -> list[tuple[str, str]]:
        """The aliases a line uses, with their values (for the script echo)."""
        found = []
        parts = text.split("%")
        for name in parts[1::2]:
            value = next((v for k, v in self.aliases.items() if k.lower() == name.lower()),
                         None)
            if value is not None:
                found.append((name, value))
        return found

    def _guid(self, text: str, what: str) -> UUID:
        value = parse_guid(self.expand(text))
        if value is None:
            raise DiskshadowError(f"{self.expand(text)!r} is not a {what}.")
        return value

    def _admin(self) -> BackupComponents:
        bc = self.system.create_backup_components()
        bc.initialize_for_backup()
        bc.set_context(SnapshotContext.ALL)
        return bc

    def _snapshot(self, snapshot_id: UUID) -> SnapshotProperties:
        for props in self.system.all_snapshots():
            if props.snapshot_id == snapshot_id:
                return props
        raise DiskshadowError(f"Shadow copy ID {braced(snapshot_id)} was not found.")

    def _set_alias(self, name: str, value: str, what: str) -> None:
        for k in list(self.aliases):
            if k.lower() == name.lower():
                del self.aliases[k]
        self.aliases[name] = value
        self.out(f"Alias {name} for {what} {value} set as environment variable.")

    # ------------------------------------------------------------------------ dispatch
    def execute(self, cmd: Command) -> bool:
        """Run one command; False when it was ``exit``."""
        if cmd.name == "exit":
            return False
        handler = getattr(self, "_do_" + cmd.name.replace(" ", "_"))
        try:
            handler(cmd)
        except VssError as exc:
            raise _vss(exc, cmd.name.upper()) from None
        return True

    def close(self) -> list[str]:
        """End of the process: release every requester object (volatile copies die)."""
        notes = []
        if self.creation is not None and self.backup and not self.creation.completed \
                and self.creation.writers:
            notes = ["Note: END BACKUP was not commanded, writers not notified BackupComplete."]
        self._release_all()
        return notes

    def _release_all(self) -> None:
        for bc in (self.creation.bc if self.creation else None, self.restore_bc,
                   self.import_bc):
            if bc is not None and bc.state.value != "Released":
                bc.release()
        self.creation = None
        self.restore_bc = None
        self.import_bc = None

    # ---------------------------------------------------------------------- settings
    def _do_help(self, cmd: Command) -> None:
        for line in HELP:
            self.out(line)

    def _do_set(self, cmd: Command) -> None:
        ctx = " ".join(self.context_words).upper()
        self.out(f"CONTEXT: {ctx} (0x{self.context:08x})")
        self.out(f"OPTION: {' '.join(self.options).upper() or '(none)'}")
        self.out(f"VERBOSE: {'ON' if self.verbose else 'OFF'}")
        self.out(f"METADATA: {self.metadata_path or '(none)'}")
        backup = "FULL (BEGIN BACKUP)" if self.backup else "COPY"
        self.out(f"BACKUP TYPE: {backup}")

    def _not_after_create(self, what: str) -> None:
        if self.creation is not None:
            raise DiskshadowError(f"{what} must come before CREATE (RESET to start over).")

    def _do_set_context(self, cmd: Command) -> None:
        self._not_after_create("SET CONTEXT")
        self.context_words = tuple(cmd.args)

    def _do_set_option(self, cmd: Command) -> None:
        self._not_after_create("SET OPTION")
        merged = tuple(dict.fromkeys(self.options + tuple(cmd.args)))
        if {"differential", "plex"} <= set(merged):
            raise DiskshadowError("DIFFERENTIAL and PLEX cannot be combined.")
        self.options = merged

    def _do_set_verbose(self, cmd: Command) -> None:
        self.verbose = cmd.args[0] == "on"

    def _host_path(self, text: str) -> Path:
        path = Path(self.expand(text))
        return path if path.is_absolute() else self.cwd / path

    def _do_set_metadata(self, cmd: Command) -> None:
        path = self._host_path(cmd.args[0])
        try:  # the folder must exist (docs/cli.md): refused here, not after CREATE
            check_output_file(path)
        except click.ClickException as exc:
            raise DiskshadowError(exc.message.replace("cannot write ", "cannot write the "
                                                      "metadata file ", 1)) from None
        if path.exists():
            self.out("The existing file will be overwritten.")
        self.metadata_path = path

    def _do_load_metadata(self, cmd: Command) -> None:
        path = self._host_path(cmd.args[0])
        try:
            self.loaded = read_metadata(path)
        except MetadataError as exc:
            raise DiskshadowError(str(exc)) from None
        for name, value in self.loaded.aliases.items():
            self._set_alias(name, value, "value")

    def _do_writer_verify(self, cmd: Command) -> None:
        self.verify.append(self.expand(cmd.args[0]))

    def _do_writer_exclude(self, cmd: Command) -> None:
        self.exclude.append(self.expand(cmd.args[0]))

    def _do_add(self, cmd: Command) -> None:
        if not self.aliases:
            self.out("No aliases are defined.")
        for name, value in self.aliases.items():
            self.out(f"\t{name}\t{value}")

    def _do_add_alias(self, cmd: Command) -> None:
        name, value = cmd.args
        self.aliases[name] = self.expand(value)

    def _do_add_volume(self, cmd: Command) -> None:
        self._not_after_create("ADD VOLUME")
        name = self.expand(cmd.args[0])
        if name.startswith("\\\\") and not name.startswith("\\\\?\\"):
            raise DiskshadowError(f"The volume {name} is a file share: shadow copies of file "
                                  "shares (the File Share Shadow Copy provider) are not "
                                  "simulated.")
        try:
            info = self.system.resolve_volume(name)
        except VssError:
            raise DiskshadowError(f"The volume {name} was not found on this computer.") from None
        provider = GUID_NULL
        if "provider" in cmd.options:
            provider = self._guid(cmd.options["provider"], "provider id")
        if any(v.info.guid_path == info.guid_path for v in self.volumes):
            raise DiskshadowError(f"The volume {info.name} is already in the shadow copy set.")
        try:
            supported = self.system.is_volume_supported(info.name, provider, self.context)
        except VssError as exc:
            raise _vss(exc, "IsVolumeSupported") from None
        if not supported:
            raise DiskshadowError(f"The volume {info.name} cannot be shadow copied in the "
                                  f"current context (0x{self.context:08x})"
                                  + (" by that provider." if provider != GUID_NULL else "."))
        self.volumes.append(_Volume(info, cmd.options.get("alias"), provider))

    # ------------------------------------------------------------------------- backup
    def _do_begin_backup(self, cmd: Command) -> None:
        self._not_after_create("BEGIN BACKUP")
        self.backup = True

    def _excluded(self, wmd: WriterMetadata, comp: object | None = None) -> bool:
        ident = wmd.identity
        names = {ident.writer_name.lower(), str(ident.writer_id).lower(),
                 braced(ident.writer_id).lower()}
        for ex in self.exclude:
            low = ex.lower()
            if comp is None and low in names:
                return True
            if comp is not None and ":" in low:
                writer, _, path = low.partition(":")
                full = getattr(comp, "full_path", "").lower()
                if writer in names and path.lstrip("\\") == full.lstrip("\\"):
                    return True
        return False

    def _select(self, bc: BackupComponents) -> list[_Selected]:
        """Every required and top-level selectable component with files on the set's
        volumes, of every writer not excluded (diskshadow's default selection)."""
        guids = {v.info.guid_path.lower() for v in self.volumes}
        out: list[_Selected] = []
        for instance_id, wmd in bc.writer_metadata:
            if self._excluded(wmd):
                continue
            label = wmd.identity.writer_name
            for comp in wmd.components:
                if kind_of(wmd, comp) not in (ComponentKind.REQUIRED, ComponentKind.SELECTABLE):
                    continue
                if self._excluded(wmd, comp):
                    continue
                paths = [fd.path for member in set_members(wmd, comp) for fd in member.all_files]
                vols = {v.guid_path.lower() for p in paths
                        if (v := self.system.volume_of_path(p)) is not None}
                if vols & guids:
                    out.append(_Selected(instance_id, wmd.identity.writer_id, label, comp))
        return out

    def _check_verify(self, bc: BackupComponents, selected: list[_Selected]) -> None:
        for wanted in self.verify:
            low = wanted.lower()
            ok = False
            for s in selected:
                full = getattr(s.component, "full_path", "").lower()
                names = {s.label.lower(), str(s.writer_id), braced(s.writer_id)}
                if low in names or (":" in low and low.partition(":")[0] in names
                                    and low.partition(":")[2].lstrip("\\") == full.lstrip("\\")):
                    ok = True
            if not ok:
                raise DiskshadowError(f"Writer verification failed: {wanted!r} is not included "
                                      "in the backup (WRITER VERIFY).")

    def _do_create(self, cmd: Command) -> None:
        if self.creation is not None:
            raise DiskshadowError("CREATE was already done in this session; RESET to make "
                                  "another shadow copy set.")
        if not self.volumes:
            raise DiskshadowError("There are no volumes in the shadow copy set: ADD VOLUME "
                                  "first.")
        context = self.context
        writers = not context & _A.NO_WRITERS
        bc = self.system.create_backup_components()
        try:
            creation = self._create(bc, context, writers)
        except BaseException:
            if bc.state.value not in ("Released",):
                if bc.state.value in ("SnapshotSetStarted", "BackupPrepared",
                                      "SnapshotsFailed"):
                    bc.abort_backup()
                bc.release()
            raise
        self.creation = creation
        self._report_creation(creation)
        if writers and not self.backup:
            # A copy backup: nothing to wait for; the writers are told at once.
            creation.bc.backup_complete().wait()
            creation.completed = True

    def _create(self, bc: BackupComponents, context: int, writers: bool) -> _Creation:
        bc.initialize_for_backup()
        if context != SnapshotContext.BACKUP:
            bc.set_context(context)
        selected: list[_Selected] = []
        if writers:
            classes = set()
            for reg in self.system.coordinator.writers:
                ident_names = {n.lower() for n in reg.names} | {braced(reg.writer_id).lower()}
                if any(ex.lower() in ident_names for ex in self.exclude):
                    classes.add(reg.writer_id)
            if classes:
                bc.disable_writer_classes(classes)
            bc.gather_writer_metadata().wait()
            bc.set_backup_state(True, False, BackupType.FULL if self.backup else BackupType.COPY)
            selected = self._select(bc)
            self._check_verify(bc, selected)
            for s in selected:
                comp = s.component
                bc.add_component(s.instance_id, s.writer_id, comp.component_type,  # type: ignore[attr-defined]
                                 comp.logical_path, comp.component_name)  # type: ignore[attr-defined]
        elif self.verify:
            raise DiskshadowError("WRITER VERIFY cannot succeed: the context excludes writers "
                                  "(NOWRITERS).")
        set_id = bc.start_snapshot_set()
        ids = [bc.add_to_snapshot_set(v.info.name, v.provider) for v in self.volumes]
        if writers:
            bc.prepare_for_backup().wait()
        creation = bc.do_snapshot_set()
        creation.wait()
        if not creation.succeeded:
            code = creation.query_status()
            failures = []
            if writers:
                bc.gather_writer_status().wait()
                failures = [f"  writer {st.writer_name}: [{int(st.state)}] "
                            f"VSS_WS_{st.state.name}, {hr.name_of(st.failure)}"
                            for st in bc.writer_status if st.state.is_failed]
            # Like every VSS failure (_vss): the call, the HRESULT and its value (docs/cli.md).
            raise DiskshadowError("\n".join([f"DoSnapshotSet failed: {hr.name_of(code)} "
                                             f"(0x{code:08X}): the shadow copy set could not "
                                             "be created.", *failures]))
        if writers:
            bc.gather_writer_status().wait()
        return _Creation(bc, set_id, ids, writers, selected)

    def _report_creation(self, creation: _Creation) -> None:
        n = 0
        for vol, sid in zip(self.volumes, creation.snapshots, strict=True):
            if vol.alias:
                name = vol.alias
            else:
                n += 1
                name = f"VSS_SHADOW_{n}"
            self._set_alias(name, braced(sid), "shadow ID")
        self._set_alias("VSS_SHADOW_SET", braced(creation.set_id), "shadow set ID")
        if self.metadata_path is not None:
            data = MetadataFile(creation.bc.save_as_xml(),
                                [wmd.save_as_xml() for _, wmd in creation.bc.writer_metadata]
                                if creation.writers else [], dict(self.aliases))
            try:
                members = write_metadata(self.metadata_path, data)
            except MetadataError as exc:
                raise DiskshadowError(str(exc)) from None
            if self.verbose:
                for member in members:
                    self.out(f"Inserted file {member} into .cab file {self.metadata_path.name}")
        self.out("")
        self.out(f"Querying all shadow copies with the shadow copy set ID "
                 f"{braced(creation.set_id)}")
        self.out("")
        count = 0
        for sid in creation.snapshots:
            for line in shadow_block(self.system, self.system.snapshot_properties(sid),
                                     self.aliases):
                self.out(line)
            count += 1
        self.out(f"Number of shadow copies listed: {count}")

    def _do_end_backup(self, cmd: Command) -> None:
        creation = self.creation
        if creation is None:
            raise DiskshadowError("END BACKUP: no shadow copy set was created in this session "
                                  "(BEGIN BACKUP, ADD VOLUME, CREATE first).")
        if creation.completed or not creation.writers:
            creation.completed = True
            return
        bc = creation.bc
        for s in creation.selected:
            comp = s.component
            bc.set_backup_succeeded(s.instance_id, s.writer_id, comp.component_type,  # type: ignore[attr-defined]
                                    comp.logical_path, comp.component_name, True)  # type: ignore[attr-defined]
        bc.backup_complete().wait()
        bc.gather_writer_status().wait()
        creation.completed = True
        failed = [st for st in bc.writer_status if st.state.is_failed]
        for st in failed:
            self.out(f"Writer {st.writer_name} failed: VSS_WS_{st.state.name}, "
                     f"{hr.name_of(st.failure)}")

    def _do_begin_restore(self, cmd: Command) -> None:
        if self.loaded is None:
            raise DiskshadowError("BEGIN RESTORE needs the backup's metadata: LOAD METADATA "
                                  "first.")
        if self.restore_bc is not None:
            raise DiskshadowError("A restore is already in progress (END RESTORE first).")
        bc = self.system.create_backup_components()
        try:
            bc.initialize_for_restore(self.loaded.bcd_xml)
            bc.gather_writer_metadata().wait()
            running = {r.writer_id for r in self.system.coordinator.writers}
            for writer in bc.document.writers:
                if writer.writer_id not in running:
                    self.out(f"Writer {braced(writer.writer_id)} is not running: its "
                             "components are restored without it.")
                    continue
                for comp in writer.components:
                    bc.set_selected_for_restore(writer.writer_id, comp.component_type,
                                                comp.logical_path, comp.component_name, True)
            bc.pre_restore().wait()
        except BaseException:
            bc.release()
            raise
        self.restore_bc = bc

    def _do_end_restore(self, cmd: Command) -> None:
        bc = self.restore_bc
        if bc is None:
            raise DiskshadowError("END RESTORE: no restore is in progress (BEGIN RESTORE "
                                  "first).")
        try:
            for writer in bc.document.writers:
                for comp in writer.components:
                    if comp.selected_for_restore:
                        bc.set_file_restore_status(writer.writer_id, comp.component_type,
                                                   comp.logical_path, comp.component_name,
                                                   FileRestoreStatus.ALL)
            bc.post_restore().wait()
            bc.gather_writer_status().wait()
            for st in bc.writer_status:
                if st.state.is_failed:
                    self.out(f"Writer {st.writer_name} failed: VSS_WS_{st.state.name}, "
                             f"{hr.name_of(st.failure)}")
        finally:
            bc.release()
            self.restore_bc = None

    def _do_reset(self, cmd: Command) -> None:
        self._release_all()
        self._defaults()

    # --------------------------------------------------------------------- listings
    def _do_list_writers(self, cmd: Command) -> None:
        with self.system.create_backup_components() as bc:
            bc.initialize_for_backup()
            bc.gather_writer_metadata().wait()
            bc.gather_writer_status().wait()
            statuses = bc.writer_status
            gathered = bc.writer_metadata
        if cmd.args[0] == "status":
            lines = writer_status_listing(statuses)
        else:
            lines = writer_metadata_listing(
                self.system, gathered, {str(s.instance_id): s for s in statuses},
                detailed=cmd.args[0] == "detailed")
        for line in lines:
            self.out(line)

    def _do_list_providers(self, cmd: Command) -> None:
        for line in providers_listing(p.properties() for p in self.system.providers):
            self.out(line)

    def _do_list_shadows(self, cmd: Command) -> None:
        snaps = sorted(self.system.all_snapshots(), key=lambda p: p.creation_timestamp)
        if cmd.args[0] == "all":
            self.out("Querying all shadow copies on the computer ...")
        elif cmd.args[0] == "set":
            set_id = self._guid(cmd.args[1], "shadow copy set id")
            self.out(f"Querying all shadow copies with the shadow copy set ID {braced(set_id)}")
            snaps = [s for s in snaps if s.snapshot_set_id == set_id]
        else:
            sid = self._guid(cmd.args[1], "shadow copy id")
            self.out(f"Querying shadow copy with ID {braced(sid)}")
            snaps = [s for s in snaps if s.snapshot_id == sid]
        self.out("")
        for props in snaps:
            for line in shadow_block(self.system, props, self.aliases):
                self.out(line)
        self.out(f"Number of shadow copies listed: {len(snaps)}")

    # ------------------------------------------------------------------- management
    def _do_delete_shadows(self, cmd: Command) -> None:
        snaps = sorted(self.system.all_snapshots(), key=lambda p: p.creation_timestamp)
        what = cmd.args[0]
        if what in ("volume", "oldest"):
            name = self.expand(cmd.args[1])
            try:
                vol = self.system.resolve_volume(name)
            except VssError:
                raise DiskshadowError(f"The volume {name} was not found on this computer.") \
                    from None
            snaps = [s for s in snaps if s.original_volume_name.lower() == vol.guid_path.lower()]
            if what == "oldest":
                snaps = snaps[:1]
        elif what == "set":
            set_id = self._guid(cmd.args[1], "shadow copy set id")
            snaps = [s for s in snaps if s.snapshot_set_id == set_id]
        elif what == "id":
            sid = self._guid(cmd.args[1], "shadow copy id")
            snaps = [self._snapshot(sid)]
        elif what == "exposed":
            name = self.expand(cmd.args[1]).rstrip("\\").lower()
            snaps = [s for s in snaps if (s.exposed_name or "").rstrip("\\").lower() == name]
            if not snaps:
                raise DiskshadowError(f"No shadow copy is exposed as {cmd.args[1]}.")
        deleted = 0
        with self._admin() as bc:
            for props in snaps:
                self.out(f"Deleting shadow copy {braced(props.snapshot_id)} on volume "
                         f"{props.original_volume_name} from provider "
                         f"{braced(props.provider_id)} [Attributes: "
                         f"0x{props.snapshot_attributes:08x}]...")
                count, _ = bc.delete_snapshots(props.snapshot_id, ObjectType.SNAPSHOT, True)
                deleted += count
        self.out("")
        self.out(f"Number of shadow copies deleted: {deleted}")

    def _do_expose(self, cmd: Command) -> None:
        sid = self._guid(cmd.args[0], "shadow copy id")
        target = self.expand(cmd.args[1])
        props = self._snapshot(sid)
        if props.exposed_name:
            shown_as = props.exposed_name + "\\" if len(props.exposed_name) == 2 \
                else props.exposed_name
            raise DiskshadowError(f"The shadow copy {braced(sid)} is already exposed as "
                                  f"{shown_as}: UNEXPOSE it first.")
        local = is_windows_path(target) or (len(target) == 2 and target[1] == ":")
        attributes = _A.EXPOSED_LOCALLY if local else _A.EXPOSED_REMOTELY
        with self._admin() as bc:
            try:
                name = bc.expose_snapshot(sid, None, attributes, target)
            except VssObjectAlreadyExistsError as exc:
                if local and len(target.rstrip("\\")) == 2:
                    raise DiskshadowError("The  drive letter is already in use.") from None
                raise _vss(exc, "ExposeSnapshot") from None
        shown = name + "\\" if len(name) == 2 else name
        self.out(f"The shadow copy was successfully exposed as {shown}.")

    def _do_unexpose(self, cmd: Command) -> None:
        what = self.expand(cmd.args[0])
        sid = parse_guid(what)
        if sid is None:
            low = what.rstrip("\\").lower()
            match = next((e for e in self.system.exposures
                          if e.name.rstrip("\\").lower() == low), None)
            if match is None:
                raise DiskshadowError(f"No shadow copy is exposed as {what}.")
            sid = match.snapshot_id
        with self._admin() as bc:
            bc.unexpose_snapshot(sid)
        self.out(f"The shadow copy {braced(sid)} is no longer exposed.")

    def _do_break(self, cmd: Command) -> None:
        set_id = self._guid(cmd.args[0], "shadow copy set id")
        flags = int(HardwareOptions.BREAKEX_FLAG_MAKE_READ_WRITE) if "writable" in cmd.options \
            else 0
        with self._admin() as bc:
            names = bc.break_snapshot_set_ex(set_id, flags)
        mode = "read/write" if flags else "read-only"
        for name in names:
            self.out(f"The shadow copy is now the {mode} volume {name}")
        self.out(f"The shadow copy set {braced(set_id)} was broken.")

    def _do_revert(self, cmd: Command) -> None:
        sid = self._guid(cmd.args[0], "shadow copy id")
        props = self._snapshot(sid)
        if props.snapshot_attributes & int(SnapshotContext.CLIENT_ACCESSIBLE) != \
                int(SnapshotContext.CLIENT_ACCESSIBLE):
            raise DiskshadowError("REVERT works only with CLIENTACCESSIBLE shadow copies.")
        with self._admin() as bc:
            bc.revert_to_snapshot(sid, True)
        self.out(f"The volume {props.original_volume_name} was reverted to shadow copy "
                 f"{braced(sid)}.")

    def _do_import(self, cmd: Command) -> None:
        if self.loaded is None:
            raise DiskshadowError("IMPORT needs the metadata of the transportable shadow copy "
                                  "set: LOAD METADATA first.")
        bc = self.system.create_backup_components()
        try:
            bc.initialize_for_backup(self.loaded.bcd_xml)
            op = bc.import_snapshots()
            op.wait()
            code = op.query_status()
        except VssError:
            bc.release()
            raise
        if code in (hr.VSS_E_NO_SNAPSHOTS_IMPORTED, hr.VSS_E_UNEXPECTED):
            bc.release()
            raise DiskshadowError(f"IMPORT failed: {hr.name_of(code)} (0x{code:08X}).")
        if self.import_bc is not None:
            self.import_bc.release()
        self.import_bc = bc
        set_id = bc.document.snapshot_set_id
        snaps = [s for s in self.system.all_snapshots() if s.snapshot_set_id == set_id]
        if code == hr.VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED:
            self.out("Some shadow copies of the set could not be imported.")
        self.out(f"Querying all shadow copies with the shadow copy set ID {braced(set_id)}"
                 if set_id else "Querying the imported shadow copies")
        self.out("")
        for props in snaps:
            for line in shadow_block(self.system, props, self.aliases):
                self.out(line)
        self.out(f"Number of shadow copies listed: {len(snaps)}")

    def _do_mask(self, cmd: Command) -> None:
        set_id = self._guid(cmd.args[0], "shadow copy set id")
        snaps = [s for s in self.system.all_snapshots() if s.snapshot_set_id == set_id
                 and s.snapshot_attributes & _A.IMPORTED]
        if not snaps:
            raise DiskshadowError(f"No imported shadow copies belong to the set {braced(set_id)}.")
        with self._admin() as bc:
            deleted, _ = bc.delete_snapshots(set_id, ObjectType.SNAPSHOT_SET, True)
        self.out(f"Number of shadow copies masked: {deleted}")

    def _do_exec(self, cmd: Command) -> None:
        name = self.expand(cmd.args[0])
        try:
            if is_windows_path(name):
                fs, path = locate(self.system, name)
                text = fs.read_file(path).decode("utf-8", "replace")
            else:
                text = self._host_path(name).read_text(encoding="utf-8", errors="replace")
        except (VssError, OSError):
            raise DiskshadowError(f"The file {name} could not be found.") from None
        env = dict(self.aliases)
        result = run_cmd(self.system, text, env, self.out)
        if result.exit_code != 0:
            raise DiskshadowError(f"EXEC: {name} exited with code {result.exit_code}; "
                                  "DiskShadow stops.")
