"""The persistent lab machine behind ``vsssim --root DIR``: its config, its lock, its boot.

A lab machine is a :class:`~vsssim.system.VssSystem` rooted at a directory.  ``VssSystem``
already brings back volumes, shadow storage and persistent shadow copies from its root; what it
cannot bring back are live objects (applications, writers, extra providers).  So the root also
holds:

``lab.json``
    the configuration (a :class:`LabConfig`, validated with pydantic): seed, machine name,
    Windows edition, the sample applications and where their files are, the writers (a sample
    application's writer, or ``module:Class`` for a user writer) and the extra providers (a
    hardware provider on a simulated storage array).  Every invocation re-attaches them.
``lab-state.json``
    what must survive between invocations although it lives in objects: the writers' last
    state and failure (``vssadmin list writers`` shows a writer that failed in the previous
    command as ``[9] Failed``, as Windows shows it until the writer's next backup).
``lab.lock``
    an exclusive ``flock``: two processes never drive the same images at once.
``runs/``
    one trace per command that drove VSS (:mod:`vsssim.cli.runs`).

Each invocation is one *boot* of the lab machine (that is what reopening ``VssSystem(root)``
models): non-persistent shadow copies do not survive it, writers get new instance ids, and the
lab clock moves on by :data:`BOOT_MINUTES` so that listings show times that move forward.

A damaged root (unreadable JSON, a missing volume image, a config that does not validate) is
reported with a :class:`LabError` *before* anything is opened, so nothing is changed.
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vsssim.apps import FileShareApp, FileShareWriter, KvStoreApp, KvStoreWriter
from vsssim.apps.base import Application
from vsssim.clock import VirtualClock
from vsssim.constants import WriterState
from vsssim.errors import VssError
from vsssim.system import OS_VERSIONS, VssSystem
from vsssim.writer import Writer, WriterFailure

__all__ = [
    "BOOT_MINUTES",
    "DEFAULT_ROOT",
    "AppSpec",
    "LabConfig",
    "LabError",
    "LabMachine",
    "ProviderSpec",
    "WriterSpec",
    "create_lab",
]

#: Where the lab machine lives when neither ``--root`` nor ``VSSSIM_ROOT`` says.
DEFAULT_ROOT = ".vsssim"
CONFIG_FILE = "lab.json"
STATE_FILE = "lab-state.json"
LOCK_FILE = "lab.lock"
#: Lab minutes that pass at each boot (each command), so that creation times move forward.
BOOT_MINUTES = 1
#: Seconds to wait for another process to let go of the root (env ``VSSSIM_LOCK_WAIT``).
LOCK_WAIT = 10.0
MiB = 1 << 20


class LabError(click.ClickException):
    """The lab machine cannot be used: no machine at the root, a damaged root, a root in use,
    a writer module that cannot be imported.  Printed as ``Error: ...`` with exit code 1;
    raised before anything in the root is changed."""

    exit_code = 1


class AppSpec(BaseModel):
    """One sample application: ``kvstore`` (a WAL key-value store, ``path`` its directory) or
    ``fileshare`` (users saving documents, ``path`` the share's root)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["kvstore", "fileshare"]
    name: str = Field(min_length=1, max_length=64)
    path: str = Field(pattern=r"^[A-Za-z]:\\")


class WriterSpec(BaseModel):
    """A writer to subscribe at every boot: the writer of a sample application (``application``)
    or a user writer class (``cls`` = ``"module:Class"``, built with no arguments)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    application: str | None = None
    cls: str | None = Field(None, alias="class", pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

    @model_validator(mode="after")
    def _one_of(self) -> WriterSpec:
        if (self.application is None) == (self.cls is None):
            raise ValueError("a writer names either 'application' or 'class'")
        return self


class ProviderSpec(BaseModel):
    """An extra provider: a hardware provider on the simulated storage array in ``san`` (a
    directory, relative to the root unless absolute), shared with other lab machines."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["hardware"] = "hardware"
    san: str = Field(min_length=1)
    name: str = "vsssim Hardware Provider"
    transportable: bool = True


class LabConfig(BaseModel):
    """``lab.json``: everything needed to rebuild the live part of the lab machine."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["vsssim-lab"] = "vsssim-lab"
    version: Literal[1] = 1
    seed: int = 0
    machine_name: str = Field("VSSSIM01", pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
    os_version: str = "2022"
    edition: Literal["server", "client"] = "server"
    applications: list[AppSpec] = Field(default_factory=list)
    writers: list[WriterSpec] = Field(default_factory=list)
    providers: list[ProviderSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> LabConfig:
        if self.os_version not in OS_VERSIONS:
            raise ValueError(f"os_version {self.os_version!r} is not one of {OS_VERSIONS}")
        names = [a.name.lower() for a in self.applications]
        if len(set(names)) != len(names):
            raise ValueError("application names must be unique")
        for w in self.writers:
            if w.application is not None and w.application.lower() not in names:
                raise ValueError(f"writer of unknown application {w.application!r}")
        return self


class _SavedStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: int = Field(ge=0, le=15)
    failure: int = 0
    application_failure: int = 0
    message: str = ""


class LabState(BaseModel):
    """``lab-state.json``: the writers' last state and failure, by writer label."""

    model_config = ConfigDict(extra="forbid")

    writers: dict[str, _SavedStatus] = Field(default_factory=dict)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabError(f"{what} {path} is missing: the lab machine is damaged") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LabError(f"{what} {path} is damaged ({exc}); the lab machine was not opened, "
                       "nothing was changed") from None


def _check_root(root: Path) -> tuple[LabConfig, LabState, dict[str, Any]]:
    """Validate everything in ``root`` that opening needs, without changing anything."""
    if not (root / CONFIG_FILE).exists():
        if not root.exists():
            raise LabError(f"there is no lab machine at {root}: create one with "
                           f"`vsssim --root {root} init`")
        raise LabError(f"{root} is not a lab machine ({CONFIG_FILE} is missing): create one "
                       f"with `vsssim --root {root} init`")
    try:
        config = LabConfig.model_validate(_read_json(root / CONFIG_FILE, "the lab config"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise LabError(f"the lab config {root / CONFIG_FILE} is invalid at {where}: "
                       f"{first['msg']}; nothing was changed") from None
    state = LabState()
    if (root / STATE_FILE).exists():
        try:
            state = LabState.model_validate(_read_json(root / STATE_FILE, "the lab state"))
        except ValidationError as exc:
            raise LabError(f"the lab state {root / STATE_FILE} is invalid "
                           f"({exc.errors()[0]['msg']}); nothing was changed") from None
    machine = _read_json(root / "machine.json", "the machine file")
    if not isinstance(machine, dict) or machine.get("format") != 1 or \
            not isinstance(machine.get("volumes"), list):
        raise LabError(f"the machine file {root / 'machine.json'} is not a vsssim machine "
                       "file; nothing was changed")
    for entry in machine["volumes"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            raise LabError(f"the machine file {root / 'machine.json'} has a bad volume entry")
        image = root / entry["image"]
        if not image.is_file():
            raise LabError(f"volume {entry.get('name', '?')} is damaged: its image {image} is "
                           "missing; nothing was changed")
        if entry.get("kind", "volume") == "volume" and \
                not Path(str(image) + ".vsvol.json").is_file():
            raise LabError(f"volume {entry.get('name', '?')} is damaged: the geometry file "
                           f"{image}.vsvol.json is missing; nothing was changed")
    for spec in config.providers:
        san = _san_dir(root, spec)
        if not (san / "san.json").is_file():
            raise LabError(f"the storage array {san} of the hardware provider is missing")
    return config, state, machine


def _san_dir(root: Path, spec: ProviderSpec) -> Path:
    path = Path(spec.san)
    return path if path.is_absolute() else root / path


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """An exclusive lock on the root for the life of one invocation."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            wait = float(os.environ.get("VSSSIM_LOCK_WAIT", LOCK_WAIT))
        except ValueError:
            wait = LOCK_WAIT
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise LabError(f"the lab machine at {root} is in use by another vsssim "
                                   "process (for example `vsssim app run`); try again when it "
                                   "has finished") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _load_class(spec: str, root: Path) -> type[Writer]:
    module_name, _, class_name = spec.partition(":")
    added = [p for p in (str(root), os.getcwd()) if p not in sys.path]
    sys.path[:0] = added
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure of user code is a config problem
        raise LabError(f"writer {spec}: cannot import {module_name!r} ({exc})") from None
    finally:
        for p in added:
            sys.path.remove(p)
    if not hasattr(module, class_name):
        raise LabError(f"writer {spec}: module {module_name!r} has no class {class_name!r}")
    cls = getattr(module, class_name)
    if not isinstance(cls, type) or not issubclass(cls, Writer):
        raise LabError(f"writer {spec}: {class_name!r} is not a vsssim.Writer subclass")
    return cls


class LabMachine:
    """The lab machine of one invocation: ``with LabMachine(root).open() as system: ...``.

    Opening checks the root (:class:`LabError` if it is damaged), takes the root's lock, boots
    the ``VssSystem`` and attaches the configured providers, applications and writers, with the
    writers' last state from the previous invocation.  Closing saves the writers' state, stops
    the applications cleanly (a service stop: the store finishes its record in flight) and
    shuts the machine down.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.config: LabConfig | None = None
        self.system: VssSystem | None = None
        self.apps: dict[str, Application] = {}

    def check(self) -> LabConfig:
        """Validate the root without opening anything (what ``open`` does first)."""
        return _check_root(self.root)[0]

    @contextmanager
    def open(self, *, faults: Any = None, options: Any = None) -> Iterator[VssSystem]:
        """Boot the lab machine for one command (see the class docstring)."""
        config, state, machine = _check_root(self.root)
        with _locked(self.root):
            clock = VirtualClock(float(machine.get("clock", 0.0)) + 60.0 * BOOT_MINUTES)
            try:
                system = VssSystem(self.root, seed=config.seed, clock=clock,
                                   machine_name=config.machine_name,
                                   os_version=config.os_version, edition=config.edition,
                                   faults=faults, options=options)
            except VssError as exc:
                raise LabError(f"the lab machine at {self.root} cannot boot: {exc}") from None
            self.config, self.system = config, system
            try:
                self._attach(system, config, state)
                yield system
            finally:
                try:
                    self._save_state(system)
                    for app in system.applications:
                        if app.running:
                            app.stop()
                finally:
                    system.close()
                    self.system = None

    def _attach(self, system: VssSystem, config: LabConfig, state: LabState) -> None:
        from vsssim.providers.hardware import HardwareProvider
        from vsssim.storage.san import SimulatedSan

        try:
            for spec in config.providers:
                system.add_provider(HardwareProvider(
                    SimulatedSan(_san_dir(self.root, spec)), name=spec.name,
                    transportable=spec.transportable))
            for app_spec in config.applications:
                fs = system.volume(app_spec.path[:3]).fs
                app: Application
                if app_spec.kind == "kvstore":
                    app = KvStoreApp(fs, app_spec.path, name=app_spec.name, create=False)
                else:
                    app = FileShareApp(fs, app_spec.path, name=app_spec.name)
                self.apps[app_spec.name.lower()] = system.add_application(app)
        except VssError as exc:
            raise LabError(f"the lab machine at {self.root} cannot start its applications: "
                           f"{exc}") from None
        except ValueError as exc:  # a damaged store file
            raise LabError(f"an application's files on the lab machine are damaged: "
                           f"{exc}") from None
        for wspec in config.writers:
            writer: Writer
            if wspec.application is not None:
                app = self.apps[wspec.application.lower()]
                writer = (KvStoreWriter(app) if isinstance(app, KvStoreApp)
                          else FileShareWriter(app))  # type: ignore[arg-type]
            else:
                cls = _load_class(str(wspec.cls), self.root)
                try:
                    writer = cls()
                except Exception as exc:  # user code: any failure is a config problem
                    raise LabError(f"writer {wspec.cls}: cannot create it with no arguments "
                                   f"({exc})") from None
            system.add_writer(writer)
        for reg in system.coordinator.writers:
            saved = state.writers.get(reg.label)
            if saved is not None:
                reg.last_state = WriterState(saved.state)
                reg.last_failure = (WriterFailure(saved.failure, saved.application_failure,
                                                  saved.message) if saved.failure else None)

    def _save_state(self, system: VssSystem) -> None:
        state = LabState()
        for reg in system.coordinator.writers:
            f = reg.last_failure
            state.writers[reg.label] = _SavedStatus(
                state=int(reg.last_state), failure=f.hresult if f else 0,
                application_failure=f.application_hresult if f else 0,
                message=f.application_message if f else "")
        tmp = self.root / (STATE_FILE + ".tmp")
        tmp.write_text(state.model_dump_json(indent=2), encoding="utf-8")
        os.replace(tmp, self.root / STATE_FILE)


def create_lab(root: str | os.PathLike[str], *, seed: int = 0, machine_name: str = "VSSSIM01",
               edition: Literal["server", "client"] = "server", os_version: str = "2022",
               size: int = 64 * MiB, san: str | None = None, warmup: int = 20) -> LabConfig:
    """``vsssim init``: a new lab machine with volumes C: and D: (and E: on a storage array
    with a hardware provider when ``san`` is given), the sample applications on C: and their
    writers.  Refuses a root that already holds a lab machine or other files."""
    from vsssim.providers.hardware import HardwareProvider
    from vsssim.storage.san import SimulatedSan, seeded_array

    path = Path(root)
    if path.exists() and any(path.iterdir()):
        what = "a lab machine" if (path / CONFIG_FILE).exists() else "files"
        raise LabError(f"{path} already holds {what}; choose another --root or remove it")
    # The array is shared with other lab machines: keep where the user meant it (relative to
    # the current directory, not to the root).
    providers = [ProviderSpec(san=os.path.abspath(san))] if san else []
    config = LabConfig(
        seed=seed, machine_name=machine_name, os_version=os_version, edition=edition,
        applications=[AppSpec(kind="kvstore", name="KvStore", path="C:\\KvStore"),
                      AppSpec(kind="fileshare", name="FileShare", path="C:\\Share")],
        writers=[WriterSpec(application="KvStore"), WriterSpec(application="FileShare")],
        providers=providers)
    path.mkdir(parents=True, exist_ok=True)
    try:
        with VssSystem(path, seed=seed, machine_name=machine_name, os_version=os_version,
                       edition=edition) as system:
            c = system.add_volume("C:\\", size=size)
            system.add_volume("D:\\", size=size)
            if san:
                array = SimulatedSan(_san_dir(path, providers[0]), array=seeded_array(seed))
                system.add_provider(HardwareProvider(array, name=providers[0].name))
                system.add_volume("E:\\", size=size, san=array)
            kv = system.add_application(KvStoreApp(c.fs, "C:\\KvStore"))
            share = system.add_application(FileShareApp(c.fs, "C:\\Share"))
            system.run_applications(warmup)
            kv.stop()
            share.stop()
    except VssError as exc:
        raise LabError(f"cannot create the lab machine at {path}: {exc}") from None
    (path / CONFIG_FILE).write_text(config.model_dump_json(indent=2, by_alias=True,
                                                           exclude_none=True), encoding="utf-8")
    return config
