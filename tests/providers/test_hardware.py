"""The hardware provider, driven directly in the documented order (providers reference §2.2):
full LUN clones at commit, transport by BCD and import on another machine, break, OnLunEmpty,
persistence across a restart, and the array's copy time on the clock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsssim.clock import VirtualClock
from vsssim.constants import (
    ProviderType,
    SnapshotContext,
    SnapshotPropertyId,
    SnapshotState,
    VolumeSnapshotAttributes,
)
from vsssim.documents import LunInfo, SnapshotDescription
from vsssim.errors import (
    VssAccessDeniedError,
    VssError,
    VssInsufficientStorageError,
    VssObjectNotFoundError,
    VssStoreCorruptError,
    VssVolumeNotSupportedByProviderError,
)
from vsssim.providers.base import VolumeInfo
from vsssim.providers.hardware import HARDWARE_PROVIDER_ID, HardwareProvider
from vsssim.storage import simfs
from vsssim.storage.filedevice import FileDevice
from vsssim.storage.san import SimulatedSan, same_lun
from vsssim.storage.volume import Volume
from vsssim.trace import EventKind, Trace, Tracer

_A = VolumeSnapshotAttributes
MiB = 2**20
REPO = Path(__file__).resolve().parents[2]
BACKUP = int(SnapshotContext.BACKUP)
ROLLBACK = int(SnapshotContext.APP_ROLLBACK)
TRANSPORT = int(_A.TRANSPORTABLE)


class FakeHost:
    """A ProviderHost: a virtual clock, a tracer, a machine name, a device counter, a state
    directory, volumes by name; ``hold_limit`` models the kernel's 10 s flush-and-hold."""

    def __init__(self, name: str, state: Path, clock: VirtualClock | None = None) -> None:
        self.clock = clock or VirtualClock()
        self.tracer = Tracer(self.clock)
        self.trace = Trace()
        self.tracer.subscribe(self.trace)
        self.machine_name = name
        self.devices = 0
        self.state = state
        self.volumes: dict[str, VolumeInfo] = {}
        self.hold_started: float | None = None
        self.hold_limit: float | None = None

    def next_shadow_device_name(self) -> str:
        self.devices += 1
        return f"\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{self.devices}"

    def resolve_volume(self, name: str, *, strict: bool = False) -> VolumeInfo:
        for info in self.volumes.values():
            if name.lower() in (info.name.lower(), info.guid_path.lower()):
                return info
        raise VssObjectNotFoundError(f"no volume {name!r}")

    def state_directory(self, provider_id: UUID) -> str:
        path = self.state / str(provider_id)
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def log_event(self, source: str, message: str) -> None:
        self.tracer.emit(source, "event log", EventKind.NOTE, "EventLog", message)

    def hold_expired(self, snapshot_set_id: UUID) -> bool:
        if self.hold_started is None or self.hold_limit is None:
            return False
        return self.clock.now() - self.hold_started >= self.hold_limit

    def names(self) -> list[str]:
        return [e.name for e in self.trace]


class Machine:
    """One simulated machine: a host, a provider loaded on it, volumes on the array."""

    def __init__(self, name: str, root: Path, san_dir: Path, **kwargs: object) -> None:
        self.host = FakeHost(name, root / name)
        self.san = SimulatedSan(san_dir)
        self.provider = HardwareProvider(self.san, **kwargs)  # type: ignore[arg-type]
        self.provider.on_load(self.host)
        self._ids = 0

    def uuid(self) -> UUID:
        self._ids += 1
        return uuid5(UUID(int=7), f"{self.host.machine_name}:{self._ids}")

    def add_volume(self, name: str, size: int = 8 * MiB, *, fmt: bool = True) -> VolumeInfo:
        path, lun = self.san.create_volume_image(f"{self.host.machine_name}-{name[0]}", size,
                                                 machine=self.host.machine_name)
        vol = Volume.create(path, size, name=name, clock=self.host.clock)
        if fmt:
            simfs.format(vol, clock=self.host.clock)
        info = VolumeInfo(name=name, guid_path=f"\\\\?\\Volume{{{self.uuid()}}}\\", device=vol,
                          luns=(lun,))
        self.host.volumes[name] = info
        return info

    def create(self, volumes: list[VolumeInfo], context: int = BACKUP,
               stop_after: str | None = None) -> tuple[UUID, list[UUID]]:
        """Drive one creation in the documented order; ``stop_after`` a phase name to stop."""
        p, set_id = self.provider, self.uuid()
        ids = []
        for v in volumes:
            ids.append(self.uuid())
            p.begin_prepare_snapshot(set_id, ids[-1], v, context)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("EndPrepareSnapshots", lambda: p.end_prepare_snapshots(set_id)),
            ("PreCommitSnapshots", lambda: p.pre_commit_snapshots(set_id)),
            ("CommitSnapshots", lambda: self._commit(set_id, volumes)),
            ("PostCommitSnapshots", lambda: p.post_commit_snapshots(set_id, len(ids))),
            ("PreFinalCommitSnapshots", lambda: p.pre_final_commit_snapshots(set_id)),
            ("PostFinalCommitSnapshots", lambda: p.post_final_commit_snapshots(set_id)),
        ]
        for name, step in steps:
            step()
            if name == stop_after:
                return set_id, ids
        for sid in ids:
            p.get_target_luns(sid)
        return set_id, ids

    def _commit(self, set_id: UUID, volumes: list[VolumeInfo]) -> None:
        self.host.hold_started = self.host.clock.now()
        held = [v.device.held() for v in volumes]  # type: ignore[attr-defined]
        for h in held:
            h.__enter__()
        try:
            self.provider.commit_snapshots(set_id)
        finally:
            for h in reversed(held):
                h.__exit__(None, None, None)
            self.host.hold_started = None

    def describe(self, sid: UUID) -> SnapshotDescription:
        """What the requester writes into the BCD for a transportable copy."""
        props = self.provider.get_snapshot_properties(sid)
        rec = next(r for r in self.provider.records() if r.snapshot_id == sid)
        return SnapshotDescription(
            snapshot_id=sid, original_volume=props.original_volume_name,
            provider_id=props.provider_id, attributes=props.snapshot_attributes,
            timestamp=props.creation_timestamp, original_luns=list(rec.volume.luns),
            target_luns=self.provider.get_target_luns(sid))

    def close(self) -> None:
        self.provider.close()
        for v in self.host.volumes.values():
            v.device.close()  # type: ignore[attr-defined]


MakeMachine = Callable[..., Machine]


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[MakeMachine]:
    """Make machines sharing one array under ``tmp_path`` (closed at the end)."""
    made: dict[str, Machine] = {}

    def make(name: str, **kwargs: object) -> Machine:
        made[name] = Machine(name, tmp_path, tmp_path / "san", **kwargs)
        return made[name]

    yield make
    for m in made.values():
        m.close()


def san_images(san: SimulatedSan) -> set[str]:
    return {n for n in os.listdir(os.path.join(san.directory, "luns"))
            if n.endswith(".img")}


# ------------------------------------------------------------------------------- selection
def test_identity_and_selection(machines: MakeMachine, tmp_path: Path) -> None:
    a = machines("A")
    p = a.provider
    assert p.provider_type == ProviderType.HARDWARE
    assert p.provider_id == HARDWARE_PROVIDER_ID
    assert p.properties().provider_name == "vsssim Hardware Provider"
    assert p.mechanism_attributes() == _A.PLEX | _A.HARDWARE_ASSISTED
    c = a.add_volume("C:\\")
    assert p.is_volume_supported(c)
    assert not p.is_volume_supported(VolumeInfo("E:\\", "\\\\?\\Volume{e}\\", c.device))
    # All or nothing: one foreign LUN makes the whole volume unsupported.
    foreign = SimulatedSan(tmp_path / "other").create_volume_image("x", MiB)[1]
    mixed = VolumeInfo("F:\\", "\\\\?\\Volume{f}\\", c.device, luns=(*c.luns, foreign))
    assert not p.is_volume_supported(mixed)
    with pytest.raises(VssVolumeNotSupportedByProviderError):
        p.begin_prepare_snapshot(a.uuid(), a.uuid(), mixed, BACKUP)
    for ctx, ok in ((BACKUP, True), (ROLLBACK, True), (BACKUP | TRANSPORT, True),
                    (BACKUP | int(_A.PLEX), True), (BACKUP | int(_A.DIFFERENTIAL), False),
                    (int(SnapshotContext.CLIENT_ACCESSIBLE), False),
                    (int(SnapshotContext.CLIENT_ACCESSIBLE_WRITERS), False),
                    (int(SnapshotContext.ALL), True)):
        assert p.supports_context(ctx) is ok, hex(ctx)
    assert p.supports(c, BACKUP | TRANSPORT)
    local_only = machines("B", transportable=False)
    assert not local_only.provider.supports_context(ROLLBACK | TRANSPORT)
    assert local_only.provider.supports_context(ROLLBACK)


def test_bad_construction(tmp_path: Path) -> None:
    san = SimulatedSan(tmp_path / "san")
    with pytest.raises(TypeError):
        HardwareProvider(str(tmp_path))  # type: ignore[arg-type]
    for rate in (0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="copy_rate"):
            HardwareProvider(san, copy_rate=rate)
    with pytest.raises(ValueError, match="name"):
        HardwareProvider(san, name="")
    with pytest.raises(TypeError):
        HardwareProvider(san, provider_id="x")  # type: ignore[arg-type]


# -------------------------------------------------------------------------- full copies
def test_full_copy_at_commit(machines: MakeMachine) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    c.device.fs.write_file("C:\\db\\data.mdf", b"version 1", create_dirs=True)  # type: ignore
    before = c.device.read(0, c.device.size)
    _, (sid,) = a.create([c])
    c.device.fs.write_file("C:\\db\\data.mdf", b"version 2")  # type: ignore[attr-defined]
    c.device.fs.write_file("C:\\db\\new.log", b"later")  # type: ignore[attr-defined]
    dev = a.provider.get_snapshot_device(sid)
    assert isinstance(dev, FileDevice) and dev.readonly
    assert dev.read(0, dev.size) == before  # byte for byte the volume at commit
    props = a.provider.get_snapshot_properties(sid)
    root = props.snapshot_device_object + "\\"
    assert dev.fs.read_file(root + "db\\data.mdf") == b"version 1"
    assert not dev.fs.exists(root + "db\\new.log")
    with pytest.raises(VssAccessDeniedError):
        dev.write(0, b"x")
    assert props.snapshot_attributes & (_A.PLEX | _A.HARDWARE_ASSISTED) == \
        _A.PLEX | _A.HARDWARE_ASSISTED
    assert not props.snapshot_attributes & _A.NOT_SURFACED
    assert (props.originating_machine, props.service_machine) == ("A", "A")
    assert props.original_volume_name == c.guid_path
    (target,) = a.provider.get_target_luns(sid)
    entry = a.san.lun(target)
    assert entry is not None and entry.path == dev.path
    assert entry.shadow_of == c.luns[0].page83_id
    assert entry.presented_to == ("A",)  # auto-import: unmasked to the machine
    assert a.san.find(target) == dev.path
    assert "CloneLun" in a.host.names() and "GetTargetLuns" in a.host.names()


_WRITES = st.lists(st.tuples(st.integers(0, MiB - 1), st.binary(min_size=1, max_size=3000)),
                   max_size=6)


@given(st.lists(_WRITES, min_size=1, max_size=4))
def test_every_copy_equals_the_volume_at_its_commit(tmp_path_factory: pytest.TempPathFactory,
                                                    rounds: list[list[tuple[int, bytes]]]
                                                    ) -> None:
    """Differential: a full-copy model (bytes of the volume at each commit) against the clones,
    whatever is written before and after each copy."""
    root = tmp_path_factory.mktemp("hw")
    m = Machine("A", root, root / "san")
    try:
        vol = m.add_volume("C:\\", MiB, fmt=False)
        model = bytearray(MiB)
        expected: dict[UUID, bytes] = {}
        for writes in rounds:
            for offset, data in writes:
                data = data[: MiB - offset]
                vol.device.write(offset, data)
                model[offset : offset + len(data)] = data
            _, (sid,) = m.create([vol], ROLLBACK)
            expected[sid] = bytes(model)
        for sid, data in expected.items():
            assert m.provider.get_snapshot_device(sid).read(0, MiB) == data
        assert len(m.san.luns()) == 1 + len(expected)
    finally:
        m.close()


def test_a_lun_shared_by_two_volumes_is_cloned_once(machines: MakeMachine) -> None:
    """Rule 29: the same LUN can come back for another volume of the set; one clone, released
    only when no copy uses it."""
    a = machines("A")
    c = a.add_volume("C:\\")
    twin = VolumeInfo("M:\\", "\\\\?\\Volume{twin}\\", c.device, luns=c.luns)
    _, (s1, s2) = a.create([c, twin], ROLLBACK)
    (t1,), (t2,) = a.provider.get_target_luns(s1), a.provider.get_target_luns(s2)
    assert t1 == t2
    assert len(a.san.luns()) == 2
    a.provider.delete_snapshot(s1, False)
    assert a.san.find(t2) is not None
    assert a.provider.get_snapshot_device(s2).read(0, 16) == c.device.read(0, 16)
    a.provider.delete_snapshot(s2, False)
    assert a.san.find(t2) is None and len(a.san.luns()) == 1


# ----------------------------------------------------------------------------------- abort
@pytest.mark.parametrize("stop", ["EndPrepareSnapshots", "PreCommitSnapshots",
                                  "CommitSnapshots", "PostCommitSnapshots",
                                  "PreFinalCommitSnapshots"])
def test_abort_leaves_no_lun_behind(machines: MakeMachine, stop: str) -> None:
    a = machines("A")
    c, d = a.add_volume("C:\\"), a.add_volume("D:\\")
    originals = san_images(a.san)
    set_id, ids = a.create([c, d], ROLLBACK, stop_after=stop)
    a.provider.abort_snapshots(set_id)
    assert san_images(a.san) == originals
    assert len(a.san.luns()) == 2
    assert a.provider.query() == []
    for sid in ids:
        with pytest.raises(VssObjectNotFoundError):
            a.provider.get_target_luns(sid)


def test_a_silent_abort_is_cleaned_up_by_the_next_set(machines: MakeMachine) -> None:
    """§2.4: no AbortSnapshots before DoSnapshotSet; a BeginPrepareSnapshot with a new set
    restarts the sequence and drops the old one, clones included."""
    a = machines("A")
    c = a.add_volume("C:\\")
    a.create([c], ROLLBACK, stop_after="CommitSnapshots")
    assert len(a.san.luns()) == 2
    _, (sid,) = a.create([c], ROLLBACK)
    assert len(a.san.luns()) == 2
    assert [r.snapshot_id for r in a.provider.records()] == [sid]


def test_a_failing_clone_leaves_nothing(machines: MakeMachine,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    a = machines("A")
    c, d = a.add_volume("C:\\"), a.add_volume("D:\\")
    real = a.san.clone
    calls = []

    def flaky(lun: LunInfo, *, machine: str = "") -> tuple[LunInfo, str]:
        calls.append(lun)
        if len(calls) == 2:
            raise VssInsufficientStorageError("the array is full")
        return real(lun, machine=machine)

    monkeypatch.setattr(a.san, "clone", flaky)
    with pytest.raises(VssInsufficientStorageError):
        a.create([c, d], ROLLBACK)
    a.provider.abort_snapshots(a.provider._current_set)  # type: ignore[arg-type]
    assert len(a.san.luns()) == 2
    assert a.provider.query() == []


def test_end_prepare_checks_the_array(machines: MakeMachine,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    c.device.write(0, b"x" * MiB)

    class Tiny:
        free = 1000

    monkeypatch.setattr(shutil, "disk_usage", lambda _: Tiny)
    with pytest.raises(VssInsufficientStorageError):
        a.create([c], ROLLBACK)
    monkeypatch.undo()
    ghost = VolumeInfo("G:\\", "\\\\?\\Volume{g}\\", c.device,
                       luns=(a.san.create_volume_image("ghost", MiB)[1],))
    set_id = a.uuid()
    a.provider.begin_prepare_snapshot(set_id, a.uuid(), ghost, ROLLBACK)  # image never made
    with pytest.raises(VssObjectNotFoundError):
        a.provider.end_prepare_snapshots(set_id)


# ------------------------------------------------------------------------- auto-recovery
def test_auto_recovery_window(machines: MakeMachine) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    c.device.fs.write_file("C:\\db.log", b"torn", create_dirs=True)  # type: ignore
    set_id, (sid,) = a.create([c], ROLLBACK, stop_after="PreFinalCommitSnapshots")
    dev = a.provider.get_snapshot_device(sid)
    root = a.provider.device_object(sid) + "\\"
    writable_in_window = not dev.readonly  # writers may fix up the copy (PostSnapshot)
    dev.fs.write_file(root + "db.log", b"recovered")  # type: ignore[attr-defined]
    a.provider.post_final_commit_snapshots(set_id)
    assert writable_in_window
    assert a.provider.get_snapshot_device(sid).readonly
    assert dev.fs.read_file(root + "db.log") == b"recovered"  # type: ignore[attr-defined]
    assert c.device.fs.read_file("C:\\db.log") == b"torn"  # type: ignore[attr-defined]
    flags = [e.get("flags") for e in a.host.trace if e.name == "OnLunStateChange"]
    assert flags == [0x200, 0x400]
    # NO_AUTORECOVERY: read-only all along.
    set_id, (sid,) = a.create([c], ROLLBACK | int(_A.NO_AUTORECOVERY),
                              stop_after="PreFinalCommitSnapshots")
    assert a.provider.get_snapshot_device(sid).readonly


# ----------------------------------------------------------------------- transport, import
def test_transportable_copy_is_not_surfaced(machines: MakeMachine) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    _, (sid,) = a.create([c], ROLLBACK | TRANSPORT)
    props = a.provider.get_snapshot_properties(sid)
    assert props.snapshot_attributes & _A.NOT_SURFACED
    assert props.snapshot_attributes & _A.TRANSPORTABLE
    with pytest.raises(VssObjectNotFoundError, match="import"):
        a.provider.get_snapshot_device(sid)
    with pytest.raises(VssObjectNotFoundError, match="import"):
        a.provider.break_snapshot(sid, True)
    (target,) = a.provider.get_target_luns(sid)
    assert a.san.lun(target).presented_to == ()  # type: ignore[union-attr]  # still masked


def transport(a: Machine) -> tuple[VolumeInfo, UUID, UUID, SnapshotDescription]:
    c = a.add_volume("C:\\")
    c.device.fs.write_file("C:\\data\\report.txt", b"at backup", create_dirs=True)  # type: ignore
    set_id, (sid,) = a.create([c], ROLLBACK | TRANSPORT)
    c.device.fs.write_file("C:\\data\\report.txt", b"afterwards")  # type: ignore[attr-defined]
    # The BCD goes through XML on its way to the other machine.
    desc = SnapshotDescription.model_validate_json(a.describe(sid).model_dump_json())
    return c, set_id, sid, desc


def test_import_on_another_machine(machines: MakeMachine) -> None:
    a, b = machines("A"), machines("B")
    c, set_id, sid, desc = transport(a)
    assert b.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT)
    props = b.provider.get_snapshot_properties(sid)
    assert props.snapshot_attributes & _A.IMPORTED
    assert not props.snapshot_attributes & _A.NOT_SURFACED
    assert (props.originating_machine, props.service_machine) == ("A", "B")
    assert props.snapshot_device_object.endswith("ShadowCopy1")  # B's own device counter
    assert props.original_volume_name == c.guid_path
    assert props.snapshot_set_id == set_id and props.snapshots_count == 1
    dev = b.provider.get_snapshot_device(sid)
    assert dev.readonly
    root = props.snapshot_device_object + "\\"
    assert dev.fs.read_file(root + "data\\report.txt") == b"at backup"  # type: ignore
    (target,) = desc.target_luns
    assert b.san.lun(target).presented_to == ("B",)  # type: ignore[union-attr]
    assert b.provider.get_target_luns(sid) == [target]
    # Imported once here; a second import of the same copy imports nothing.
    assert not b.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT)
    # The exporting machine can be named by the coordinator.
    c2 = machines("C")
    assert c2.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT,
                                       originating_machine="A.example")
    assert c2.provider.get_snapshot_properties(sid).originating_machine == "A.example"


def test_import_on_the_machine_that_made_it(machines: MakeMachine) -> None:
    a = machines("A")
    _, set_id, sid, desc = transport(a)
    assert a.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT)
    props = a.provider.get_snapshot_properties(sid)
    assert props.snapshot_attributes & _A.IMPORTED
    assert not props.snapshot_attributes & _A.NOT_SURFACED
    dev = a.provider.get_snapshot_device(sid)
    root = props.snapshot_device_object + "\\"
    assert dev.fs.read_file(root + "data\\report.txt") == b"at backup"  # type: ignore
    assert not a.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT)


@pytest.mark.parametrize("luns", ["leave", "mask"])
@pytest.mark.parametrize("tamper", ["page83", "serial", "original", "no-targets", "deleted",
                                    "broken"])
def test_a_tampered_or_stale_document_imports_nothing(machines: MakeMachine, tamper: str,
                                                      luns: str) -> None:
    """Nothing is imported.  A LUN that LocateLuns found and unmasked before FillInLunInfo
    rejected it stays presented to the importing machine (rule 31: a failed import leaves LUNs
    behind for the requester to clean up) unless the provider masks it again."""
    a, b = machines("A"), machines("B", failed_import_luns=luns)
    _, set_id, _sid, desc = transport(a)
    (target,) = desc.target_luns
    if tamper == "page83":
        bad = target.model_copy(update={"page83_id": target.page83_id[:-1] + (
            "0" if target.page83_id[-1] != "0" else "1")})
        desc = desc.model_copy(update={"target_luns": [bad]})
    elif tamper == "serial":
        desc = desc.model_copy(update={"target_luns": [
            target.model_copy(update={"serial_number": "FORGED"})]})
    elif tamper == "original":
        other = a.add_volume("D:\\")
        desc = desc.model_copy(update={"original_luns": list(other.luns)})
    elif tamper == "no-targets":
        desc = desc.model_copy(update={"target_luns": []})
    elif tamper == "deleted":
        a.san.delete(target)
    else:
        a.san.break_shadow(target, "Z")
    before = [(e.info, e.presented_to) for e in b.san.luns()]
    assert b.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT) is False
    assert b.provider.query() == []
    after = [(e.info, e.presented_to) for e in b.san.luns()]
    if luns == "leave" and tamper in ("original", "broken"):
        # Found on the array, so unmasked; then refused: left for the requester.
        expected = [(info, (*shown, "B") if same_lun(info, target) else shown)
                    for info, shown in before]
        assert after == expected
    else:
        assert after == before
    assert "LocateLuns" in b.host.names()


CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from uuid import UUID
    from vsssim.documents import SnapshotDescription
    from tests.providers.test_hardware import Machine
    root, san_dir, set_id, desc = sys.argv[1], sys.argv[2], UUID(sys.argv[3]), sys.argv[4]
    b = Machine("B", Path(root), Path(san_dir))
    d = SnapshotDescription.model_validate_json(desc)
    ok = b.provider.import_snapshot(d, set_id, 1, int(sys.argv[5]))
    props = b.provider.get_snapshot_properties(d.snapshot_id)
    dev = b.provider.get_snapshot_device(d.snapshot_id)
    text = dev.fs.read_file(props.snapshot_device_object + "\\\\data\\\\report.txt")
    print(json.dumps({"ok": ok, "text": text.decode(), "attrs": props.snapshot_attributes,
                      "origin": props.originating_machine}))
""")


def test_import_in_another_process(machines: MakeMachine, tmp_path: Path) -> None:
    a = machines("A")
    _, set_id, sid, desc = transport(a)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "child"), str(tmp_path / "san"),
         str(set_id), desc.model_dump_json(), str(ROLLBACK | TRANSPORT)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] and out["text"] == "at backup" and out["origin"] == "A"
    assert out["attrs"] & _A.IMPORTED
    (target,) = desc.target_luns
    assert a.san.lun(target).presented_to == ("B",)  # type: ignore[union-attr]
    # The exporter deleting its record does not reclaim a LUN another machine imported.
    a.provider.delete_snapshot(sid, False)
    assert a.san.find(target) is not None


# ---------------------------------------------------------------------------------- break
@pytest.mark.parametrize("writable", [True, False])
def test_break_gives_an_ordinary_lun(machines: MakeMachine, writable: bool) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    c.device.fs.write_file("C:\\f.txt", b"old", create_dirs=True)  # type: ignore
    _, (sid,) = a.create([c], ROLLBACK)
    (target,) = a.provider.get_target_luns(sid)
    dev = a.provider.break_snapshot(sid, writable)
    assert isinstance(dev, FileDevice)
    assert dev.readonly is not writable
    assert a.provider.query() == []
    with pytest.raises(VssObjectNotFoundError):
        a.provider.get_target_luns(sid)
    entry = a.san.lun(target)
    assert entry is not None and not entry.is_shadow_copy and entry.presented_to == ("A",)
    dev.roots = ["Y:\\"]
    assert dev.fs.read_file("Y:\\f.txt") == b"old"
    if writable:
        dev.fs.write_file("Y:\\f.txt", b"mine now")
        assert dev.fs.read_file("Y:\\f.txt") == b"mine now"
    else:
        with pytest.raises(VssAccessDeniedError):
            dev.write(0, b"x")
    # VSS forgot the copy: a restart does not bring it back, and the LUN stays on the array.
    a.provider.on_load(a.host)
    assert a.provider.query() == []
    assert a.san.find(target) == dev.path
    dev.close()


def test_break_of_an_imported_copy(machines: MakeMachine) -> None:
    a, b = machines("A"), machines("B")
    _, set_id, sid, desc = transport(a)
    assert b.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT)
    dev = b.provider.break_snapshot(sid, True)
    assert not dev.readonly
    (target,) = desc.target_luns
    assert b.san.lun(target).shadow_of is None  # type: ignore[union-attr]
    # The exporter's record is stale now; after its restart it is gone.
    a.provider.on_load(a.host)
    assert a.provider.query() == []
    dev.close()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------- delete
def test_delete_reclaims_the_lun(machines: MakeMachine) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    _, (sid,) = a.create([c], ROLLBACK)
    (target,) = a.provider.get_target_luns(sid)
    path = a.san.find(target)
    assert path is not None and os.path.exists(path)
    dev = a.provider.get_snapshot_device(sid)
    a.provider.delete_snapshot(sid, False)
    assert not os.path.exists(path)
    assert not a.san.owns(target)
    assert dev.closed  # type: ignore[attr-defined]
    with pytest.raises(VssObjectNotFoundError):
        a.provider.get_snapshot_properties(sid)
    assert "OnLunEmpty" in a.host.names()


def test_imported_copy_deleted_by_both_machines(machines: MakeMachine) -> None:
    a, b = machines("A"), machines("B")
    _, set_id, sid, desc = transport(a)
    (target,) = desc.target_luns
    assert b.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT)
    b.provider.delete_snapshot(sid, False)  # nobody else has it presented: reclaimed
    assert a.san.find(target) is None
    a.provider.delete_snapshot(sid, False)  # best-effort OnLunEmpty of a vanished LUN
    assert len(a.san.luns()) == 1


# ---------------------------------------------------------------------------- persistence
def test_persistent_copies_survive_a_restart(machines: MakeMachine) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    c.device.fs.write_file("C:\\keep.txt", b"kept", create_dirs=True)  # type: ignore
    _, (keep,) = a.create([c], ROLLBACK)
    _, (temp,) = a.create([c], BACKUP)
    _, (moving,) = a.create([c], ROLLBACK | TRANSPORT)
    _, (moving_tmp,) = a.create([c], BACKUP | TRANSPORT)
    _, (gone,) = a.create([c], ROLLBACK)
    a.provider.set_snapshot_property(keep, SnapshotPropertyId.EXPOSED_NAME,
                                     "X:\\")
    before = a.provider.get_snapshot_properties(keep)
    (temp_lun,) = a.provider.get_target_luns(temp)
    (moving_tmp_lun,) = a.provider.get_target_luns(moving_tmp)
    (gone_lun,) = a.provider.get_target_luns(gone)
    a.san.delete(gone_lun)  # a storage administrator removed it behind VSS's back
    # A new provider instance on the same machine state and array: a restart.
    fresh = HardwareProvider(SimulatedSan(a.san.directory))
    fresh.on_load(a.host)
    assert sorted(r.snapshot_id for r in fresh.records()) == sorted([keep, moving])
    assert fresh.get_snapshot_properties(keep) == before
    rec = next(r for r in fresh.records() if r.snapshot_id == keep)
    assert rec.volume is a.host.volumes["C:\\"]  # the live volume again
    root = before.snapshot_device_object + "\\"
    dev = fresh.get_snapshot_device(keep)
    assert dev.fs.read_file(root + "keep.txt") == b"kept"  # type: ignore[attr-defined]
    assert fresh.get_snapshot_properties(moving).snapshot_attributes & _A.NOT_SURFACED
    with pytest.raises(VssObjectNotFoundError):
        fresh.get_snapshot_device(moving)
    assert a.san.find(temp_lun) is None  # non-persistent: reclaimed at reboot
    assert a.san.find(moving_tmp_lun) is not None  # never surfaced here: left for an import
    # The catalog was rewritten: a second restart finds the same.
    again = HardwareProvider(SimulatedSan(a.san.directory))
    again.on_load(a.host)
    assert sorted(r.snapshot_id for r in again.records()) == sorted([keep, moving])
    fresh.delete_snapshot(keep, False)
    final = HardwareProvider(a.san)
    final.on_load(a.host)
    assert [r.snapshot_id for r in final.records()] == [moving]
    for p in (fresh, again, final):
        p.close()


def test_imported_copies_survive_a_restart(machines: MakeMachine) -> None:
    a, b = machines("A"), machines("B")
    _, set_id, sid, desc = transport(a)
    assert b.provider.import_snapshot(desc, set_id, 1, ROLLBACK | TRANSPORT)
    props = b.provider.get_snapshot_properties(sid)
    b.provider.close()
    b.provider.on_load(b.host)
    assert b.provider.get_snapshot_properties(sid) == props
    dev = b.provider.get_snapshot_device(sid)
    assert dev.fs.read_file(  # type: ignore[attr-defined]
        props.snapshot_device_object + "\\data\\report.txt") == b"at backup"


def test_a_damaged_catalog_is_reported(machines: MakeMachine) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    a.create([c], ROLLBACK)
    catalog = Path(a.host.state_directory(HARDWARE_PROVIDER_ID)) / "hardware-catalog.json"
    catalog.write_text(json.dumps({"format": "vsssim-hardware-catalog", "copies": [{}]}))
    with pytest.raises(VssStoreCorruptError):
        HardwareProvider(a.san).on_load(a.host)
    catalog.write_text("[]")
    with pytest.raises(VssStoreCorruptError):
        HardwareProvider(a.san).on_load(a.host)


# ------------------------------------------------------------------------------ copy time
def test_copy_time_is_spent_on_the_clock(machines: MakeMachine) -> None:
    a = machines("A", copy_rate=4 * MiB)
    c = a.add_volume("C:\\", 64 * MiB)
    set_id, _ = a.create([c], ROLLBACK, stop_after="PreCommitSnapshots")
    start = a.host.clock.now()
    a._commit(set_id, [c])
    assert a.host.clock.now() - start == pytest.approx(16.0)  # 64 MiB at 4 MiB/s
    assert "ArrayCopy" in a.host.names()


def test_a_copy_that_overruns_the_hold_stops_when_the_hold_expires(machines: MakeMachine) -> None:
    a = machines("A", copy_rate=2 * MiB)
    c = a.add_volume("C:\\", 64 * MiB)  # 32 s of copy
    a.host.hold_limit = 10.0
    set_id, (_sid,) = a.create([c], ROLLBACK, stop_after="PreCommitSnapshots")
    start = a.host.clock.now()
    a._commit(set_id, [c])
    assert a.host.clock.now() - start == pytest.approx(10.0)
    assert "ArrayCopyAbandoned" in a.host.names()
    a.provider.abort_snapshots(set_id)  # VSS fails the set with VSS_E_HOLD_WRITES_TIMEOUT
    assert len(a.san.luns()) == 1


def test_state_machine_order_is_enforced(machines: MakeMachine) -> None:
    a = machines("A")
    c = a.add_volume("C:\\")
    set_id, (_sid,) = a.create([c], ROLLBACK, stop_after="EndPrepareSnapshots")
    with pytest.raises(VssError):
        a.provider.commit_snapshots(set_id)  # PreCommit was skipped: PROVIDER_VETO
    assert len(a.san.luns()) == 1
    assert next(iter(a.provider._records.values())).state == SnapshotState.PREPARED
