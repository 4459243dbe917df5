"""What diskshadow prints: banner, shadow copy listings, writer and provider listings
(providers reference §6.4).  The property lines use tabs, as diskshadow's raw output does.

diskshadow names states and types by their enum names (``5 (VSS_WS_WAITING_FOR_BACKUP_COMPLETE)``,
``[1] VSS_PROV_SYSTEM``), unlike vssadmin (rule 27).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from vsssim import hresult as hr
from vsssim.cli.winfmt import braced, from_filetime, windows_datetime
from vsssim.constants import VolumeSnapshotAttributes
from vsssim.documents import (
    ComponentKind,
    ProviderProperties,
    SnapshotProperties,
    WriterMetadata,
    WriterStatus,
    kind_of,
)
from vsssim.system import VssSystem

__all__ = ["attribute_tokens", "banner", "providers_listing", "shadow_block",
           "writer_metadata_listing", "writer_status_listing"]

_A = VolumeSnapshotAttributes
# diskshadow's attribute tokens in print order; observed: No_Auto_Release Persistent
# No_Writers Differential FileShare (the others: simulator wording).
_TOKENS = (
    (_A.NO_AUTO_RELEASE, "No_Auto_Release"),
    (_A.PERSISTENT, "Persistent"),
    (_A.CLIENT_ACCESSIBLE, "Client_Accessible"),
    (_A.NO_WRITERS, "No_Writers"),
    (_A.TRANSPORTABLE, "Transportable"),
    (_A.NOT_SURFACED, "Not_Surfaced"),
    (_A.HARDWARE_ASSISTED, "Hardware"),
    (_A.DIFFERENTIAL, "Differential"),
    (_A.PLEX, "Plex"),
    (_A.IMPORTED, "Imported"),
    (_A.EXPOSED_LOCALLY, "Exposed_Locally"),
    (_A.EXPOSED_REMOTELY, "Exposed_Remotely"),
    (_A.AUTORECOVER, "Auto_Recovered"),
    (_A.FILE_SHARE, "FileShare"),
)


def banner(machine: str, moment: datetime) -> list[str]:
    """The three banner lines and a blank line."""
    return ["Microsoft DiskShadow version 1.0",
            "Copyright (C) 2013 Microsoft Corporation",
            f"On computer:  {machine},  {windows_datetime(moment)}", ""]


def attribute_tokens(attributes: int) -> str:
    """``No_Auto_Release Persistent Differential`` for an attribute mask."""
    return " ".join(word for bit, word in _TOKENS if attributes & bit)


def _volume_text(system: VssSystem, guid_path: str) -> str:
    try:
        info = system.resolve_volume(guid_path)
    except LookupError:
        return f"{guid_path} [volume not on this machine]"
    if info.name.startswith("\\\\?\\"):
        return info.guid_path
    return f"{info.guid_path} [{info.name}]"


def shadow_block(system: VssSystem, props: SnapshotProperties,
                 aliases: dict[str, str]) -> list[str]:
    """One shadow copy, as ``create`` and ``list shadows`` print it; an alias whose value is
    the copy's (or its set's) id is shown after it."""
    by_value = {v.lower(): k for k, v in aliases.items()}
    sid, setid = braced(props.snapshot_id), braced(props.snapshot_set_id)
    alias = by_value.get(sid.lower())
    set_alias = by_value.get(setid.lower())
    if props.exposed_name:
        how = "remotely" if props.snapshot_attributes & _A.EXPOSED_REMOTELY else "locally"
        name = props.exposed_name
        name = name + "\\" if len(name) == 2 and name.endswith(":") else name
        exposed = f"\t\t- Exposed {how} as: {name}"
    else:
        exposed = "\t\t- Not exposed"
    return [
        f"\t* Shadow copy ID = {sid}" + (f"\t\t%{alias}%" if alias else ""),
        f"\t\t- Shadow copy set: {setid}" + (f"\t%{set_alias}%" if set_alias else ""),
        f"\t\t- Original count of shadow copies = {props.snapshots_count}",
        f"\t\t- Original volume name: {_volume_text(system, props.original_volume_name)}",
        f"\t\t- Creation time: {windows_datetime(from_filetime(props.creation_timestamp))}",
        f"\t\t- Shadow copy device name: {props.snapshot_device_object}",
        f"\t\t- Originating machine: {props.originating_machine}",
        f"\t\t- Service machine: {props.service_machine}",
        exposed,
        f"\t\t- Provider ID: {braced(props.provider_id)}",
        f"\t\t- Attributes:  {attribute_tokens(props.snapshot_attributes)}",
        "",
    ]


def writer_status_listing(statuses: Iterable[WriterStatus]) -> list[str]:
    """``list writers status``."""
    lines = ["Listing writer status ...", ""]
    count = 0
    for st in statuses:
        count += 1
        name = st.writer_name + (f" ({st.instance_name})" if st.instance_name else "")
        lines += [f'* WRITER "{name}"',
                  f"\t- Status: {int(st.state)} (VSS_WS_{st.state.name})",
                  f"\t- Writer Failure code: 0x{st.failure:08x} ({hr.name_of(st.failure)})",
                  f"\t- Writer ID: {braced(st.writer_id)}",
                  f"\t- Instance ID: {braced(st.instance_id)}",
                  ""]
    lines.append(f"{count} writers listed.")
    return lines


def writer_metadata_listing(system: VssSystem, gathered: Iterable[tuple[object, WriterMetadata]],
                            statuses: dict[str, WriterStatus], *, detailed: bool) -> list[str]:
    """``list writers [metadata | detailed]``: identity, restore method, components with their
    paths and volumes (``detailed`` adds the file sets)."""
    lines = ["Listing writer metadata and status ...", ""]
    count = 0
    for _instance, wmd in gathered:
        count += 1
        ident = wmd.identity
        name = ident.writer_name + (f" ({ident.instance_name})" if ident.instance_name else "")
        st = statuses.get(str(ident.instance_id))
        lines += [f'* WRITER "{name}"',
                  f"\t- WRITER ID: {braced(ident.writer_id)}",
                  f"\t- WRITER INSTANCE ID: {braced(ident.instance_id)}"]
        if st is not None:
            lines.append(f"\t- Status: {int(st.state)} (VSS_WS_{st.state.name})")
        rm = wmd.restore_method
        if rm is not None:
            lines += [f"\t- Restore method: VSS_RME_{rm.method.name}",
                      f"\t- Writer restore conditions: VSS_WRE_{rm.writer_restore.name}",
                      f"\t- Requires reboot after restore: {str(rm.reboot_required).upper()}"]
        for ex in wmd.exclude_files:
            lines.append(f"\t- Excluded files: {ex.path}\\{ex.filespec}"
                         + (" (recursive)" if ex.recursive else ""))
        for comp in wmd.components:
            kind = kind_of(wmd, comp)
            lines += [f'\t+ Component "{name}:{comp.full_path}"',
                      f"\t\t- Name: {comp.component_name}",
                      f"\t\t- Logical path: {comp.logical_path}",
                      f"\t\t- Full path: {comp.full_path}",
                      f"\t\t- Caption: {comp.caption}",
                      f"\t\t- Type: VSS_CT_{comp.component_type.name} "
                      f"[{int(comp.component_type)}]",
                      f"\t\t- Is selectable: {str(comp.selectable).upper()}",
                      f"\t\t- Is top level: "
                      f"{str(kind in (ComponentKind.REQUIRED, ComponentKind.SELECTABLE)).upper()}",
                      "\t\t- Paths affected by this component:"]
            paths = sorted({fd.path for fd in comp.all_files})
            lines += [f"\t\t\t- {p}" for p in paths]
            lines.append("\t\t- Volumes affected by this component:")
            vols = sorted({v.guid_path + f" [{v.name}]" for p in paths
                           if (v := system.volume_of_path(p)) is not None})
            lines += [f"\t\t\t- {v}" for v in vols]
            if detailed:
                lines.append("\t\t- File List:")
                lines += [f"\t\t\t- Path = {fd.path}, Filespec = {fd.filespec}"
                          + (", Recursive" if fd.recursive else "") for fd in comp.all_files]
        lines.append("")
    lines.append(f"{count} writers listed.")
    return lines


def providers_listing(providers: Iterable[ProviderProperties]) -> list[str]:
    """``list providers``."""
    lines = []
    count = 0
    for p in providers:
        count += 1
        lines += [f"\t* ProviderID: {braced(p.provider_id)}",
                  f"\t\tType: [{int(p.provider_type)}] VSS_PROV_{p.provider_type.name}",
                  f"\t\tName: {p.provider_name}",
                  f"\t\tVersion: {p.provider_version}",
                  f"\t\tCLSID: {braced(p.class_id)}", ""]
    lines.append(f"{count} provider{'s' if count != 1 else ''} registered.")
    return lines
