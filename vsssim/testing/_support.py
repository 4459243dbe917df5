"""Small helpers shared by the monitors and the conformance machines (private)."""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vsssim.system import VssSystem
    from vsssim.testing.rules import Violation
    from vsssim.trace import TraceEvent
    from vsssim.writer import Writer

# A tmpfs, when the machine has one: a conformance run creates and deletes a machine (volume
# images, diff areas, backup directories) per example, and on a disk the directory operations
# alone cost more than the simulation.
_FAST_TMP = "/dev/shm"


def fast_temp_dir(prefix: str) -> Path:
    """A new temporary directory, on a tmpfs if there is one."""
    base = _FAST_TMP if os.path.isdir(_FAST_TMP) and os.access(_FAST_TMP, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def nothing() -> None:
    """A callable that does nothing (what a closed monitor has left to unsubscribe)."""


def remove_tree(path: Path) -> None:
    """Remove a temporary directory, ignoring what is already gone.

    A run removes one machine directory per example: a plain walk (one ``is_dir`` and one
    ``unlink`` per file, no ``stat``) does it in a fraction of ``shutil.rmtree``'s calls;
    ``rmtree`` cleans up whatever that walk could not remove."""
    try:
        _remove(os.fspath(path))
    except OSError:  # (rmtree also ignores a directory already gone)
        shutil.rmtree(path, ignore_errors=True)


def _remove(path: str) -> None:
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _remove(entry.path)
            else:
                os.unlink(entry.path)
    os.rmdir(path)


def static_attr(owner: type, name: str) -> Any:
    """A class attribute as written in the class body, never bound to an instance.

    Conformance classes take callables as attributes (``writer_factory = MyWriter``,
    ``consistency_check = check_store``); a plain function stored on a class would become a
    method, so look it up statically and unwrap ``staticmethod``.
    """
    value = inspect.getattr_static(owner, name, None)
    if isinstance(value, staticmethod | classmethod):
        return value.__get__(None, owner)
    return value


def setting_name(cls: type, attr: str) -> str:
    """How an error names a conformance setting: ``attr=`` for a class that ``check_writer``
    or ``check_requester`` made from their arguments, else ``Class.attr``."""
    return f"{attr}=" if cls.__dict__.get("_vsssim_from_function") else f"{cls.__name__}.{attr}"


def check_call(cls: type, attr: str, fn: Callable[..., object], args: tuple[object, ...],
               kwargs: Mapping[str, object], call: str, hint: str = "") -> None:
    """Raise ``TypeError`` if ``fn`` (setting ``attr`` of ``cls``) cannot be called with
    ``args`` and ``kwargs``, which is how the run calls it (``call``, as the message shows it);
    ``hint`` is added when an argument is missing."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # no signature to read (a builtin): the call itself will tell
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        name = getattr(fn, "__qualname__", None) or repr(fn)
        extra = f"; {hint}" if hint and "missing" in str(exc) else ""
        raise TypeError(f"{setting_name(cls, attr)}: {name} cannot be called as the run calls "
                        f"it, {call} ({exc}){extra}") from None


def volume_pairs(value: object, label: str, default_size: int) -> tuple[tuple[str, int], ...]:
    """``volumes`` as ``(name, size)`` pairs, from what the ``vss`` marker accepts: a list of
    volume names (``default_size`` each) or ``(name, size)`` pairs, a ``{name: size}``
    mapping, a :class:`~vsssim.testing.plans.VolumeLayout`, or None (no volume).  Raises
    ``TypeError`` for anything else, the message starting with ``label`` (how the caller names
    the setting, e.g. ``"volumes="``)."""
    if value is None:
        return ()
    pairs = getattr(value, "volumes", None)  # a VolumeLayout
    if pairs is not None:
        value = pairs
    if isinstance(value, Mapping):
        value = list(value.items())
    if isinstance(value, str):
        value = [value]
    out: list[tuple[str, int]] = []
    try:
        for entry in value:  # type: ignore[attr-defined]
            if isinstance(entry, str):
                out.append((entry, default_size))
            else:
                name, size = entry
                out.append((str(name), int(size)))
    except (TypeError, ValueError):
        one = isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) \
            and isinstance(value[1], int)
        raise TypeError(
            f"{label}{value!r} is not a list of volume names or (name, size) "
            "pairs, a {name: size} mapping or a VolumeLayout"
            + (" (one volume is still a pair in a list)" if one else "") + "; write e.g. "
            "volumes=['C:\\\\', ('D:\\\\', 32 * 2**20)]") from None
    return tuple(out)


def writer_label(writer: Writer) -> str:
    """How the trace names a writer instance (the writer name, plus its instance name)."""
    inst = getattr(writer, "instance_name", "") or ""
    return f"{writer.writer_name} ({inst})" if inst else writer.writer_name


def trace_tail(events: Iterable[TraceEvent], *, mark: int = 0, count: int = 24,
               after: int = 3) -> str:
    """The last ``count`` events up to ``mark`` (a sequence number, 0: the end) and ``after``
    more, one per line, the event at ``mark`` flagged with ``>>``."""
    evs = list(events)
    if not evs:
        return "   (no events)"
    if mark:
        end = next((i for i, e in enumerate(evs) if e.seq > mark), len(evs))
        end = min(len(evs), end + after)
    else:
        end = len(evs)
    start = max(0, end - count)
    lines = [f"{'>>' if e.seq == mark else '  '} {e}" for e in evs[start:end]]
    if start:
        lines.insert(0, f"   ... {start} earlier events")
    return "\n".join(lines)


def live_reads(system: VssSystem) -> dict[str, int]:
    """Reads of each live volume so far, by volume name (shadow copy reads are not counted;
    the mechanism of ``BackupResult.live_reads``)."""
    out: dict[str, int] = {}
    for name, vol in system.volumes.items():
        stats = getattr(vol, "stats", None)
        out[name] = int(getattr(stats, "reads", 0) or 0)
    return out


def reads_since(system: VssSystem, before: dict[str, int]) -> dict[str, int]:
    """The live volumes read since ``before`` (a :func:`live_reads`), with their read counts."""
    after = live_reads(system)
    return {n: after[n] - before.get(n, 0) for n in after if after[n] > before.get(n, 0)}


def record(pending: list[Violation], found: Violation) -> None:
    """Add ``found`` to ``pending`` unless the same rule already broke with the same message:
    a breach seen again (Abort may come twice, rule 12) is reported once."""
    if not any(v.rule is found.rule and v.message == found.message for v in pending):
        pending.append(found)
