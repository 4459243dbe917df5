"""What each vssadmin command does on the lab machine, through the public API, and what it prints.

Every command that needs VSS goes through an ``IVssBackupComponents`` object, as vssadmin does,
so its run shows the real calls: ``list writers`` gathers metadata and status; ``create shadow``
makes a ``VSS_CTX_CLIENT_ACCESSIBLE`` copy with the system provider; ``delete shadows`` and
``revert shadow`` use a ``VSS_CTX_ALL`` object.  Shadow storage commands map onto
``IVssDifferentialSoftwareSnapshotMgmt`` (``VssSystem.add_shadow_storage`` ...).

vssadmin manages only the system provider's copies and deletes only ClientAccessible ones
(rule 26): a delete that matches only other copies prints the "outside of your allowed
context" message.  :func:`execute` returns the lines to print and the exit code; failures
raise :class:`VssadminFailure` with the line vssadmin would print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from vsssim import hresult as hr
from vsssim.cli.vssadmin.messages import (
    NO_ITEMS,
    OUTSIDE_CONTEXT,
    VOLUME_NOT_FOUND,
    error_text,
    last_error_text,
    writer_state_text,
)
from vsssim.cli.vssadmin.syntax import Invocation, VssadminSyntaxError, parse_max_size
from vsssim.cli.winfmt import (
    braced,
    context_bits,
    context_name,
    format_size,
    from_filetime,
    parse_guid,
    windows_datetime,
)
from vsssim.constants import ObjectType, ProviderType, SnapshotContext, VolumeSnapshotAttributes
from vsssim.documents import SnapshotProperties
from vsssim.errors import (
    VssError,
    VssInvalidArgumentError,
    VssObjectAlreadyExistsError,
    VssObjectNotFoundError,
    VssSnapshotSetInProgressError,
    VssVolumeInUseError,
)
from vsssim.providers.base import VolumeInfo
from vsssim.providers.system import SYSTEM_PROVIDER_ID
from vsssim.system import VssSystem

__all__ = ["Outcome", "VssadminFailure", "attribute_words", "execute", "volume_label"]

_A = VolumeSnapshotAttributes
_CLIENT_ACCESSIBLE = int(SnapshotContext.CLIENT_ACCESSIBLE)
# vssadmin's attribute words in print order; observed: Persistent, Client-accessible,
# No auto release, No writers, Differential, Auto recovered (the others: simulator wording).
_WORDS = (
    (_A.PERSISTENT, "Persistent"),
    (_A.CLIENT_ACCESSIBLE, "Client-accessible"),
    (_A.NO_AUTO_RELEASE, "No auto release"),
    (_A.NO_WRITERS, "No writers"),
    (_A.TRANSPORTABLE, "Transportable"),
    (_A.NOT_SURFACED, "Not surfaced"),
    (_A.HARDWARE_ASSISTED, "Hardware assisted"),
    (_A.DIFFERENTIAL, "Differential"),
    (_A.PLEX, "Plex"),
    (_A.IMPORTED, "Imported"),
    (_A.EXPOSED_LOCALLY, "Exposed locally"),
    (_A.EXPOSED_REMOTELY, "Exposed remotely"),
    (_A.AUTORECOVER, "Auto recovered"),
    (_A.FILE_SHARE, "File share"),
)
_PROVIDER_TYPES = {ProviderType.SYSTEM: "System", ProviderType.SOFTWARE: "Software",
                   ProviderType.HARDWARE: "Hardware", ProviderType.FILESHARE: "FileShare"}


class VssadminFailure(Exception):
    """A command that failed after the machine was opened: the line(s) to print, exit code."""

    def __init__(self, *lines: str, exit_code: int = 1) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = list(lines)
        self.exit_code = exit_code


@dataclass
class Outcome:
    """Lines to print after the banner, the exit code, and whether VSS was driven (a run)."""

    lines: list[str] = field(default_factory=list)
    exit_code: int = 0
    drove_vss: bool = True


Ask = Callable[[str], str]


def attribute_words(attributes: int) -> str:
    """``Persistent, Client-accessible, ...`` for an attribute mask."""
    return ", ".join(word for bit, word in _WORDS if attributes & bit)


def volume_label(system: VssSystem, name_or_guid: str) -> str:
    """``(C:)\\\\?\\Volume{...}\\``: the mount name in parentheses, then the GUID path."""
    try:
        info = system.resolve_volume(name_or_guid)
    except VssError:
        return name_or_guid
    if info.name.startswith("\\\\?\\"):
        return info.guid_path
    return f"({info.name.rstrip(chr(92))}){info.guid_path}"


def _volume(system: VssSystem, spec: str) -> VolumeInfo:
    try:
        return system.resolve_volume(spec)
    except VssError:
        raise VssadminFailure(VOLUME_NOT_FOUND) from None


def _guid(inv: Invocation, name: str) -> UUID | None:
    text = inv.value(name)
    if text is None:
        return None
    value = parse_guid(text)
    if value is None:
        raise VssadminSyntaxError("Error: Invalid option value.", inv.spec)
    return value


def check_values(inv: Invocation) -> None:
    """Checks of switch values that need no machine (ids, sizes, numbers): syntax errors."""
    for name in ("Shadow", "Set"):
        _guid(inv, name)
    if inv.value("MaxSize") is not None:
        try:
            parse_max_size(str(inv.value("MaxSize")))
        except ValueError:
            raise VssadminSyntaxError("Error: Invalid option value.", inv.spec) from None
    retry = inv.value("AutoRetry")
    if retry is not None and not retry.isdigit():
        raise VssadminSyntaxError("Error: Invalid option value.", inv.spec)


def execute(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    """Run a parsed command on the lab machine."""
    if inv.spec is None:
        raise ValueError("execute needs a command, not the help")
    handler = _HANDLERS[inv.spec.key]
    return handler(system, inv, ask)


# ------------------------------------------------------------------------------- listings
def _list_writers(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.gather_writer_metadata().wait()
        bc.gather_writer_status().wait()
        status = bc.writer_status
    lines = ["Waiting for responses.", "These may be delayed if a shadow copy is being prepared.",
             ""]
    for st in status:
        name = st.writer_name + (f" ({st.instance_name})" if st.instance_name else "")
        lines += [f"Writer name: '{name}'",
                  f"   Writer Id: {braced(st.writer_id)}",
                  f"   Writer Instance Id: {braced(st.instance_id)}",
                  f"   State: {writer_state_text(st.state)}",
                  f"   Last error: {last_error_text(st.failure)}",
                  ""]
    if not status:
        lines.append(NO_ITEMS)
    return Outcome(lines)


def _list_providers(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    lines: list[str] = []
    for p in system.providers:
        props = p.properties()
        lines += [f"Provider name: '{props.provider_name}'",
                  f"   Provider type: {_PROVIDER_TYPES.get(props.provider_type, 'Unknown')}",
                  f"   Provider Id: {braced(props.provider_id)}",
                  f"   Version: {props.provider_version}",
                  ""]
    return Outcome(lines, drove_vss=False)


def sets_of(snapshots: list[SnapshotProperties]) -> list[list[SnapshotProperties]]:
    """Shadow copies grouped by set, sets in creation order (the first member's time)."""
    groups: dict[UUID, list[SnapshotProperties]] = {}
    for props in sorted(snapshots, key=lambda p: (p.creation_timestamp, str(p.snapshot_id))):
        groups.setdefault(props.snapshot_set_id, []).append(props)
    return list(groups.values())


def _list_shadows(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    snaps = system.all_snapshots()
    if inv.value("For") is not None:
        vol = _volume(system, str(inv.value("For")))
        snaps = [s for s in snaps if s.original_volume_name.lower() == vol.guid_path.lower()]
    shadow, set_id = _guid(inv, "Shadow"), _guid(inv, "Set")
    if shadow is not None:
        snaps = [s for s in snaps if s.snapshot_id == shadow]
    if set_id is not None:
        snaps = [s for s in snaps if s.snapshot_set_id == set_id]
    if not snaps:
        return Outcome([NO_ITEMS], drove_vss=False)
    names = {p.provider_id: p.provider_name for p in system.providers}
    lines: list[str] = []
    for group in sets_of(snaps):
        first = group[0]
        when = windows_datetime(from_filetime(first.creation_timestamp))
        lines += [f"Contents of shadow copy set ID: {braced(first.snapshot_set_id)}",
                  f"   Contained {first.snapshots_count} shadow copies at creation time: {when}"]
        for props in group:
            lines += [
                f"      Shadow Copy ID: {braced(props.snapshot_id)}",
                f"         Original Volume: {volume_label(system, props.original_volume_name)}",
                f"         Shadow Copy Volume: {props.snapshot_device_object}",
                f"         Originating Machine: {props.originating_machine}",
                f"         Service Machine: {props.service_machine}",
                f"         Provider: '{names.get(props.provider_id, braced(props.provider_id))}'",
                f"         Type: {context_name(props.snapshot_attributes)}",
                f"         Attributes: {attribute_words(props.snapshot_attributes)}",
                ""]
    return Outcome(lines, drove_vss=False)


def _percent(part: int, whole: int) -> int:
    return part * 100 // whole if whole else 0


def _list_shadowstorage(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    for_name = inv.value("For")
    on_name = inv.value("On")
    if for_name is not None:
        for_name = _volume(system, for_name).name
    if on_name is not None:
        on_name = _volume(system, on_name).name
    infos = system.shadow_storage(for_volume=for_name, on_volume=on_name)
    if not infos:
        return Outcome([NO_ITEMS], drove_vss=False)
    lines: list[str] = []
    for a in infos:
        size = system.resolve_volume(a.on_volume).device.size
        maximum = ("UNBOUNDED (100%)" if a.max_size is None
                   else f"{format_size(a.max_size)} ({_percent(a.max_size, size)}%)")
        lines += ["Shadow Copy Storage association",
                  f"   For volume: {volume_label(system, a.for_volume)}",
                  f"   Shadow Copy Storage volume: {volume_label(system, a.on_volume)}",
                  f"   Used Shadow Copy Storage space: {format_size(a.used)} "
                  f"({_percent(a.used, size)}%)",
                  f"   Allocated Shadow Copy Storage space: {format_size(a.allocated)} "
                  f"({_percent(a.allocated, size)}%)",
                  f"   Maximum Shadow Copy Storage space: {maximum}",
                  ""]
    return Outcome(lines, drove_vss=False)


def _list_volumes(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    lines: list[str] = []
    for name in system.volume_names():
        info = system.resolve_volume(name)
        if not system.system_provider.supports_volume(info):
            continue  # a broken hardware copy mounted as a plain device: not eligible
        path = info.guid_path if info.name.startswith("\\\\?\\") else info.name
        lines += [f"Volume path: {path}", f"    Volume name: {info.guid_path}"]
    return Outcome(lines or [NO_ITEMS], drove_vss=False)


# ------------------------------------------------------------------------------ changes
def _create_shadow(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    """``/AutoRetry=N``: while another creation holds the machine's creation lock
    (``VSS_E_SNAPSHOT_SET_IN_PROGRESS``), wait a lab-clock second and try again, for N
    minutes; then give up with vssadmin's message."""
    vol = _volume(system, str(inv.value("For")))
    budget = 60.0 * int(inv.value("AutoRetry") or 0)
    deadline = system.clock.now() + budget
    while True:
        try:
            snapshot_id, device = _create_once(system, vol)
            break
        except VssSnapshotSetInProgressError:
            if system.clock.now() >= deadline:
                raise VssadminFailure(error_text(hr.VSS_E_SNAPSHOT_SET_IN_PROGRESS)) from None
            system.clock.sleep(1.0)
    return Outcome([f"Successfully created shadow copy for '{vol.name}'",
                    f"    Shadow Copy ID: {braced(snapshot_id)}",
                    f"    Shadow Copy Volume Name: {device}"])


def _create_once(system: VssSystem, vol: VolumeInfo) -> tuple[UUID, str]:
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(_CLIENT_ACCESSIBLE)
        try:
            bc.start_snapshot_set()
            snapshot_id = bc.add_to_snapshot_set(vol.name, SYSTEM_PROVIDER_ID)
        except VssSnapshotSetInProgressError:
            raise
        except VssError as exc:
            raise VssadminFailure(error_text(exc.hresult, exc.message)) from None
        creation = bc.do_snapshot_set()
        creation.wait()
        if not creation.succeeded:
            raise VssadminFailure(error_text(creation.query_status()))
        return snapshot_id, system.snapshot_properties(snapshot_id).snapshot_device_object


def _delete_shadows(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    snaps = sorted(system.all_snapshots(), key=lambda p: p.creation_timestamp)
    shadow = _guid(inv, "Shadow")
    if inv.value("For") is not None:
        vol = _volume(system, str(inv.value("For")))
        snaps = [s for s in snaps if s.original_volume_name.lower() == vol.guid_path.lower()]
    if shadow is not None:
        snaps = [s for s in snaps if s.snapshot_id == shadow]
        if not snaps:
            raise VssadminFailure(f"Error: Shadow copy ID {braced(shadow)} was not found.")
    deletable = [s for s in snaps if context_bits(s.snapshot_attributes) == _CLIENT_ACCESSIBLE]
    if inv.has("Oldest"):
        deletable = deletable[:1]
    if not deletable:
        if snaps:
            raise VssadminFailure(OUTSIDE_CONTEXT)
        return Outcome([NO_ITEMS], drove_vss=False)
    quiet = inv.has("Quiet")
    if not quiet:
        answer = ask(f"Do you really want to delete {len(deletable)} shadow copies (Y/N): [N]? ")
        if answer.strip().lower() not in ("y", "yes"):
            return Outcome([], drove_vss=False)
    deleted = 0
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(SnapshotContext.ALL)
        for props in deletable:
            try:
                count, _ = bc.delete_snapshots(props.snapshot_id, ObjectType.SNAPSHOT, True)
            except VssObjectNotFoundError:
                continue  # purged meanwhile (another copy's deletion does not cascade)
            except VssError as exc:
                raise VssadminFailure(error_text(exc.hresult, exc.message)) from None
            deleted += count
    lines = [] if quiet else ["", f"Successfully deleted the {deleted} specified shadow copies."]
    return Outcome(lines)


def _max_size(system: VssSystem, inv: Invocation, on: VolumeInfo) -> int | None:
    text = inv.value("MaxSize")
    if text is None:
        return None
    kind, value = parse_max_size(text)
    if kind == "unbounded" or value is None:
        return None
    if kind == "percent":
        return int(on.device.size * value / 100)
    return int(value)


def _storage_error(exc: VssError, system: VssSystem, vol: VolumeInfo) -> VssadminFailure:
    if isinstance(exc, VssObjectAlreadyExistsError):
        return VssadminFailure("Error: The specified shadow copy storage association already "
                               "exists.")
    if isinstance(exc, VssObjectNotFoundError):
        return VssadminFailure("Error: The specified shadow copy storage association was not "
                               "found.")
    if isinstance(exc, VssVolumeInUseError):
        return VssadminFailure("Error: The shadow copy storage association is in use: the "
                               "volume has shadow copies. Delete them first.")
    if isinstance(exc, VssInvalidArgumentError):
        minimum = system.min_shadow_storage(vol.name)
        return VssadminFailure(f"Error: The maximum shadow copy storage space must be at least "
                               f"{minimum // 1_000_000} MB, or UNBOUNDED.")
    return VssadminFailure(error_text(exc.hresult, exc.message))


def _add_shadowstorage(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    vol = _volume(system, str(inv.value("For")))
    on = _volume(system, str(inv.value("On")))
    try:
        system.add_shadow_storage(vol.name, on.name, _max_size(system, inv, on))
    except VssError as exc:
        raise _storage_error(exc, system, vol) from None
    return Outcome(["Successfully added the shadow copy storage association"])


def _resize_shadowstorage(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    vol = _volume(system, str(inv.value("For")))
    on = _volume(system, str(inv.value("On")))
    try:
        system.resize_shadow_storage(vol.name, on.name, _max_size(system, inv, on))
    except VssError as exc:
        raise _storage_error(exc, system, vol) from None
    return Outcome(["Successfully resized the shadow copy storage association"])


def _delete_shadowstorage(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    vol = _volume(system, str(inv.value("For")))
    on = inv.value("On")
    on_name = _volume(system, on).name if on is not None else None
    try:
        system.delete_shadow_storage(vol.name, on_name)
    except VssError as exc:
        raise _storage_error(exc, system, vol) from None
    lines = [] if inv.has("Quiet") else ["Successfully deleted the shadow copy storage "
                                         "association"]
    return Outcome(lines)


def _revert_shadow(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    shadow = _guid(inv, "Shadow")
    if shadow is None or not any(s.snapshot_id == shadow for s in system.all_snapshots()):
        raise VssadminFailure(f"Error: Shadow copy ID {braced(shadow) if shadow else ''} was not "
                              "found.")
    props = system.snapshot_properties(shadow)
    with system.create_backup_components() as bc:
        bc.initialize_for_backup()
        bc.set_context(SnapshotContext.ALL)
        try:
            bc.revert_to_snapshot(shadow, inv.has("ForceDismount"))
        except VssVolumeInUseError:
            raise VssadminFailure("Error: The volume is in use and cannot be locked: stop the "
                                  "applications that use it, or add /ForceDismount.") from None
        except VssError as exc:
            raise VssadminFailure(error_text(exc.hresult, exc.message)) from None
    return Outcome([f"Successfully reverted volume "
                    f"{volume_label(system, props.original_volume_name)} to shadow copy "
                    f"{braced(shadow)}."])


def _query_reverts(system: VssSystem, inv: Invocation, ask: Ask) -> Outcome:
    volumes = [system.resolve_volume(n) for n in system.volume_names()]
    if inv.value("For") is not None:
        volumes = [_volume(system, str(inv.value("For")))]
    lines: list[str] = []
    for vol in volumes:
        for provider in system.providers:
            target = provider.revert_in_progress(vol)
            if target is None:
                continue
            progress = getattr(provider, "revert_progress", lambda v: None)(vol)
            done = f"{_percent(progress[0], progress[1])}%" if progress else "unknown"
            lines += [f"Revert in progress on volume {volume_label(system, vol.name)}",
                      f"   Reverting to shadow copy: {braced(target)}",
                      f"   Progress: {done}", ""]
    return Outcome(lines or [NO_ITEMS], drove_vss=False)


_HANDLERS: dict[str, Callable[[VssSystem, Invocation, Ask], Outcome]] = {
    "list writers": _list_writers,
    "list providers": _list_providers,
    "list shadows": _list_shadows,
    "list shadowstorage": _list_shadowstorage,
    "list volumes": _list_volumes,
    "create shadow": _create_shadow,
    "delete shadows": _delete_shadows,
    "add shadowstorage": _add_shadowstorage,
    "resize shadowstorage": _resize_shadowstorage,
    "delete shadowstorage": _delete_shadowstorage,
    "revert shadow": _revert_shadow,
    "query reverts": _query_reverts,
}
