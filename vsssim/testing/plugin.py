"""The vsssim pytest plugin (entry point ``pytest11``), loaded by pytest once vsssim is installed.

It gives a test a simulated Windows machine the way pyfakefs gives it a file system:

* ``vss``: a fresh :class:`~vsssim.system.VssSystem` per test, with its root in the test's
  ``tmp_path`` and a 16 MiB ``C:\\`` volume (configure it with the marker below);
* ``vss_factory``: a callable that makes fresh machines, for ``@given`` tests (hypothesis runs
  every example inside one call of the test function, so function-scoped fixtures such as
  ``vss`` are *not* reset between examples: make a machine per example instead, ideally in a
  ``with`` block).  It is session-scoped like ``tmp_path_factory``, so hypothesis's
  ``function_scoped_fixture`` health check does not fire; machines a test function leaves
  open are closed, and their directories removed, when that test ends;
* the marker ``@pytest.mark.vss(seed=..., volumes=..., delivery=...)`` configures both: ``seed``
  drives every id and scheduling choice, ``volumes`` is the machine's volumes (names, ``(name,
  size)`` pairs, a ``{name: size}`` mapping or a :class:`~vsssim.testing.plans.VolumeLayout`;
  ``()`` for none), ``delivery`` is :attr:`VssOptions.delivery <vsssim.options.VssOptions>`
  (``"registration"`` or ``"shuffled"``); any other keyword goes to ``VssSystem`` as is
  (``options``, ``os_version``, ``edition``, ``async_mode``, ``faults``, ...);
* ``--vss-seed N``: the seed of every machine whose test does not name one, and of every
  conformance run whose class (or ``check_writer``/``check_requester`` call) names none;
* ``--vss-conformance-examples N``: examples per conformance run (default: the active
  hypothesis profile's ``max_examples``).

Importing this module imports neither the simulator nor numpy: pytest loads it in every run of
every project that has vsssim installed, so the simulator is imported inside the fixtures.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from vsssim.system import VssSystem

__all__ = ["VssFactory", "system_options"]

MiB = 1 << 20
#: The volumes of a machine made by the fixtures when the marker names none (VolumeLayout's).
DEFAULT_VOLUMES: tuple[tuple[str, int], ...] = (("C:\\", 16 * MiB),)
_MARKER_HELP = (
    "vss(seed=0, volumes=[('C:\\\\', 16 * 2**20)], delivery='registration', **VssSystem_kwargs): "
    "configure the machine of the vss fixture and of vss_factory (vsssim)"
)
_CURRENT: pytest.StashKey[pytest.Item | None] = pytest.StashKey()
_IN_CALL: pytest.StashKey[bool] = pytest.StashKey()
_FACTORY: pytest.StashKey[VssFactory] = pytest.StashKey()
_SAVED_SESSION: pytest.StashKey[tuple[int | None, int | None]] = pytest.StashKey()


# ------------------------------------------------------------------------------ options
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vsssim", "vsssim (simulated Windows VSS)")
    group.addoption(
        "--vss-seed", type=int, default=None, metavar="N",
        help="seed of every simulated machine whose test names none (vss, vss_factory) and of "
             "every conformance run")
    group.addoption(
        "--vss-conformance-examples", type=int, default=None, metavar="N",
        help="examples per writer/requester conformance run (default: the hypothesis "
             "profile's max_examples)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_HELP)
    from vsssim.testing import _session  # a module of two variables: cheap

    # Saved and put back at unconfigure: pytester runs nested sessions in this process.
    config.stash[_SAVED_SESSION] = (_session.seed, _session.conformance_examples)
    examples = config.getoption("vss_conformance_examples", None)
    if examples is not None and examples < 1:
        raise pytest.UsageError("--vss-conformance-examples must be at least 1")
    _session.seed = config.getoption("vss_seed", None)
    _session.conformance_examples = examples


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = config.stash.get(_SAVED_SESSION, None)
    if saved is not None:
        from vsssim.testing import _session

        _session.seed, _session.conformance_examples = saved


# ------------------------------------------------------------- the test that is running
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    item.config.stash[_CURRENT] = item  # vss_factory reads the running test's marker
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # Machines made while the test function runs are the test's own: closed when it ends.
    # Those made by fixtures (perhaps module- or session-scoped ones) are left to their owner.
    item.config.stash[_IN_CALL] = True
    try:
        return (yield)
    finally:
        item.config.stash[_IN_CALL] = False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        factory = item.config.stash.get(_FACTORY, None)
        if factory is not None:
            factory.close_test_machines()
        item.config.stash[_CURRENT] = None


# ------------------------------------------------------------------------ configuration
def _volumes(value: object, source: str = "vss marker") -> tuple[tuple[str, int], ...]:
    """The marker's (or ``vss_factory``'s) ``volumes`` as ``(name, size)`` pairs."""
    from vsssim.testing._support import volume_pairs

    return volume_pairs(value, f"{source}: volumes=", DEFAULT_VOLUMES[0][1])


def system_options(marker: pytest.Mark | None, cli_seed: int | None = None,
                   **overrides: Any) -> dict[str, Any]:
    """The machine the marker (and ``--vss-seed``, and ``overrides``) describe, as keyword
    arguments: ``seed``, ``volumes`` (``(name, size)`` pairs) and what goes to ``VssSystem``.

    The seed is the first of: ``overrides``, the marker, ``--vss-seed``, 0.  A test that names
    its seed keeps it whatever the command line says (its expectations may depend on it)."""
    import inspect

    from vsssim.system import VssSystem

    if marker is not None and marker.args:
        raise TypeError(f"vss marker takes keywords only (seed=..., volumes=..., "
                        f"delivery=...), not {marker.args!r}")
    config: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    config.update(overrides)

    def source(key: str) -> str:  # where a value came from, for the error
        return "vss_factory" if key in overrides else "vss marker"

    allowed = set(inspect.signature(VssSystem.__init__).parameters) - {"self", "root"}
    unknown = sorted(set(config) - allowed - {"volumes", "delivery"})
    if unknown:
        raise TypeError(f"vss marker / vss_factory: unknown keyword(s) {', '.join(unknown)}; "
                        f"use seed, volumes, delivery or a VssSystem keyword "
                        f"({', '.join(sorted(allowed))})")
    seed = config.pop("seed", None)
    if seed is None:
        seed = cli_seed if cli_seed is not None else 0
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"{source('seed')}: seed={seed!r} must be an int")
    volumes = _volumes(config.pop("volumes", DEFAULT_VOLUMES), source("volumes"))
    delivery = config.pop("delivery", None)
    if delivery is not None:
        from vsssim.options import VssOptions

        base = config.get("options") or VssOptions()
        if delivery not in ("registration", "shuffled"):
            raise ValueError(f"{source('delivery')}: delivery={delivery!r}: 'registration' or "
                             "'shuffled'")
        config["options"] = base.model_copy(update={"delivery": delivery})
    return {"seed": seed, "volumes": volumes, **config}


def _make_system(root: Path, options: dict[str, Any]) -> VssSystem:
    from vsssim.system import VssSystem

    opts = dict(options)
    volumes = opts.pop("volumes")
    system = VssSystem(root, **opts)
    try:
        for name, size in volumes:
            try:
                system.add_volume(name, size=size)
            except Exception as exc:
                exc.add_note(f"(adding the volume {name!r} of size {size} that the vss marker "
                             "or vss_factory asked for)")
                raise
    except BaseException:
        system.close()
        raise
    return system


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture
def vss(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VssSystem]:
    """A fresh simulated machine for this test (root: ``tmp_path / "vss"``), with a 16 MiB
    ``C:\\`` volume unless ``@pytest.mark.vss(volumes=...)`` says otherwise.  Closed after the
    test.  Not for ``@given`` tests: use ``vss_factory`` there."""
    options = system_options(request.node.get_closest_marker("vss"),
                             request.config.getoption("vss_seed", None))
    system = _make_system(tmp_path / "vss", options)
    try:
        yield system
    finally:
        system.close()


class VssFactory:
    """Makes fresh :class:`~vsssim.system.VssSystem` machines: what ``vss_factory`` returns.

    ``vss_factory(**kwargs)`` builds a machine as the running test's ``vss`` marker describes,
    with ``kwargs`` (the marker's keywords) taking precedence, in a new directory of the
    session's temporary directory.  Use one per hypothesis example::

        @given(plan=backup_plans())
        def test_backups(vss_factory, plan):
            with vss_factory(seed=1) as system:
                ...

    Machines the test function made are closed when the test ends, and their directories
    removed; machines made by your fixtures (a module-scoped machine, say) live until the end of
    the session, unless you close them (use ``with``, or close them in the fixture).
    """

    def __init__(self, base: Callable[[str], Path], config: pytest.Config) -> None:
        self._mktemp = base
        self._config = config
        self._made: list[tuple[VssSystem, Path]] = []  # by the running test function
        self._kept: list[tuple[VssSystem, Path]] = []  # by fixtures: closed at session end

    def __call__(self, **overrides: Any) -> VssSystem:
        item = self._config.stash.get(_CURRENT, None)
        marker = item.get_closest_marker("vss") if item is not None else None
        options = system_options(marker, self._config.getoption("vss_seed", None), **overrides)
        stem = re.sub(r"[^A-Za-z0-9_]+", "_", item.name if item is not None else "vss")[:40]
        root = self._mktemp(f"vss-{stem}-")
        system = _make_system(root, options)
        in_test = self._config.stash.get(_IN_CALL, False)
        (self._made if in_test else self._kept).append((system, root))
        return system

    @property
    def made(self) -> int:
        """How many machines the running test made (they are closed when it ends)."""
        return len(self._made)

    def close_test_machines(self) -> None:
        """Close the machines the test function made and remove their directories."""
        made, self._made = self._made, []
        self._close(made)

    def close_all(self) -> None:
        """Close every machine made so far (fixtures' too) and remove its directory."""
        made, self._made, self._kept = self._made + self._kept, [], []
        self._close(made)

    @staticmethod
    def _close(made: list[tuple[VssSystem, Path]]) -> None:
        errors: list[BaseException] = []
        for system, root in made:
            try:
                system.close()
            except Exception as exc:  # close the others anyway
                errors.append(exc)
            shutil.rmtree(root, ignore_errors=True)
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def vss_factory(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[VssFactory]:
    """A callable making fresh simulated machines (``vss_factory(seed=..., volumes=...)``),
    for ``@given`` tests; see :class:`VssFactory`."""
    factory = VssFactory(lambda prefix: tmp_path_factory.mktemp(prefix, numbered=True),
                         request.config)
    request.config.stash[_FACTORY] = factory
    try:
        yield factory
    finally:
        factory.close_all()
        del request.config.stash[_FACTORY]
