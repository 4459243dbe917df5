"""A simulated storage array (SAN) in a host directory, shared by several simulated machines.

The array holds LUNs as raw image files under ``luns/`` and a registry, ``san.json``, that
records for each LUN its identity (a ``VDS_LUN_INFORMATION``-like :class:`LunInfo` with a unique
page-83 identifier), which machines it is presented (unmasked) to, which machine made it, and,
for a shadow copy LUN, the page-83 id of the LUN it copies.  Several :class:`~vsssim.VssSystem`
objects, even in different processes, may use one array: every change of the registry is a
read-modify-write under an exclusive ``flock`` on ``san.lock``, and the file is replaced
atomically (temporary file + ``rename``), so a killed process leaves the old or the new registry,
never half of one.

What the array offers maps onto the hardware provider interface (providers reference §2.6):
:meth:`SimulatedSan.clone` is the split-mirror / clone made at commit, :meth:`find` is the
identity check of ``LocateLuns`` / ``FillInLunInfo``, :meth:`present` and :meth:`mask` are
(un)masking, :meth:`release` is ``OnLunEmpty`` (the only time a shadow LUN may be reclaimed),
:meth:`break_shadow` is what ``BreakSnapshotSet`` leaves behind: an ordinary LUN.

Fidelity notes: the array never runs out of space of its own (the host file system's free space
is the limit); LUN sizes are fixed; page-80 serial numbers and page-83 NAA identifiers are
derived from a per-array number (given, else a hash of the directory where the array was
created) and a counter, so the same steps give the same identities; holes in an image stay
holes in its clone.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from vsssim.documents import LunInfo
from vsssim.errors import VssError, VssObjectNotFoundError, VssStoreCorruptError
from vsssim.storage._fileio import atomic_write, data_extents, open_fd, os_error, pwrite_all

__all__ = ["BUS_TYPE_FIBRE", "VENDOR_ID", "SanLun", "SimulatedSan", "same_lun"]

VENDOR_ID = "VSSSIM"
PRODUCT_ID = "Simulated LUN"
PRODUCT_REVISION = "1.0"
#: ``VDS_STORAGE_BUS_TYPE`` ``VDSBusTypeFibre``: the array is reached over Fibre Channel.
BUS_TYPE_FIBRE = 6
#: SCSI peripheral device type 0: a direct-access block device (a disk).
DEVICE_TYPE_DISK = 0
# NAA type 6 (IEEE Registered Extended) identifiers start with "6" and a 24-bit company id;
# "565353" is "VSS" in ASCII, not a real OUI.
_NAA_PREFIX = "6565353"

_REGISTRY = "san.json"
_LOCK = "san.lock"
_LUN_DIR = "luns"
_FORMAT, _VERSION = "vsssim-san", 1
_ARRAY = re.compile(r"[0-9a-f]{9}")  # an array number
# Volume images carry a JSON sidecar (vsssim.storage.volume); it goes with its LUN.
_SIDECAR_SUFFIX = ".vsvol.json"
_COPY_CHUNK = 8 << 20


def same_lun(a: LunInfo, b: LunInfo) -> bool:
    """Whether two LUN descriptions name the same LUN, as VSS compares the ``GetTargetLuns``
    data with what ``FillInLunInfo`` reports: every field but the bus type (and the disk
    signature, which this model does not carry) must match; identifiers compare without regard
    to case or surrounding blanks."""
    return (a.page83_id.strip().lower() == b.page83_id.strip().lower()
            and a.serial_number.strip() == b.serial_number.strip()
            and a.vendor_id.strip() == b.vendor_id.strip()
            and a.product_id.strip() == b.product_id.strip()
            and a.product_revision.strip() == b.product_revision.strip()
            and a.device_type == b.device_type)


@dataclass(frozen=True)
class SanLun:
    """One LUN of the array as the registry records it.

    ``path`` is its image file; ``presented_to`` the machines it is unmasked to;
    ``created_by`` the machine that asked for it; ``shadow_of`` the page-83 id of the LUN it is
    a shadow copy of (None for an ordinary LUN, including a broken shadow copy).
    """

    info: LunInfo
    name: str
    path: str
    size: int
    created_by: str
    presented_to: tuple[str, ...]
    shadow_of: str | None

    @property
    def is_shadow_copy(self) -> bool:
        """True while the LUN holds a shadow copy (until ``BreakSnapshotSet``)."""
        return self.shadow_of is not None


def seeded_array(seed: int) -> str:
    """An array number for ``SimulatedSan(array=...)`` made from a machine's seed: the same
    seed gives the same LUN identities on every host (the CLI's lab and demos use it)."""
    return f"{seed % 16**9:09x}"


class SimulatedSan:
    """A storage array in ``directory`` (created if missing; reopened if it holds one).

    ``array`` is a new array's number (9 lowercase hex digits), from which its LUN
    identities are derived; by default a hash of ``directory``.  Give one where the same steps
    must show the same identities wherever they run (a demo, a workshop).  An array that is
    reopened keeps the number it was created with (machines that share it may pass their own).

    Raises ``VssStoreCorruptError`` if the directory's registry is not a vsssim array's.
    """

    def __init__(self, directory: str | os.PathLike[str], *, array: str | None = None) -> None:
        if array is not None and not (isinstance(array, str) and _ARRAY.fullmatch(array)):
            raise ValueError(f"array={array!r}: the array number is 9 lowercase hex digits")
        self._dir = os.path.abspath(os.fspath(directory))
        try:
            os.makedirs(os.path.join(self._dir, _LUN_DIR), exist_ok=True)
        except OSError as exc:
            raise os_error(exc, f"cannot create the array directory {self._dir!r}") from None
        with self._locked(exclusive=True):
            if not os.path.exists(self._registry_path):
                # The array number: a hash of where the array was made, so that two arrays
                # never hand out the same identities and one array always hands out the same.
                number = array or hashlib.sha256(self._dir.encode()).hexdigest()[:9]
                self._write({"format": _FORMAT, "version": _VERSION, "array": number,
                             "next": 1, "luns": []})
            self._array = str(self._read()["array"])

    def __repr__(self) -> str:
        return f"<SimulatedSan {self._dir!r} array {self._array}>"

    # -------------------------------------------------------------------- registry I/O
    @property
    def directory(self) -> str:
        """The host directory of the array."""
        return self._dir

    @property
    def _registry_path(self) -> str:
        return os.path.join(self._dir, _REGISTRY)

    @contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        # flock locks belong to the open file description: separate opens exclude each other
        # across processes and across threads of one process alike.
        fd = os.open(os.path.join(self._dir, _LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> dict[str, Any]:
        path = self._registry_path
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read())
        except OSError as exc:
            raise os_error(exc, f"cannot read the array registry {path!r}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VssStoreCorruptError(f"array registry {path!r} is not JSON: {exc}") from None
        if (not isinstance(data, dict) or data.get("format") != _FORMAT
                or data.get("version") != _VERSION or not isinstance(data.get("luns"), list)
                or not isinstance(data.get("next"), int)):
            raise VssStoreCorruptError(f"{path!r} is not a vsssim array registry")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        try:
            atomic_write(self._registry_path, json.dumps(data, indent=1).encode(),
                         durable=False)
        except OSError as exc:
            raise os_error(exc, f"cannot write the array registry in {self._dir!r}") from None

    def _entry(self, raw: dict[str, Any]) -> SanLun:
        try:
            return SanLun(
                info=LunInfo.model_validate(raw["info"]), name=str(raw["name"]),
                path=os.path.join(self._dir, str(raw["image"])), size=int(raw["size"]),
                created_by=str(raw.get("created_by", "")),
                presented_to=tuple(str(m) for m in raw.get("presented_to", [])),
                shadow_of=None if raw.get("shadow_of") is None else str(raw["shadow_of"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise VssStoreCorruptError(
                f"array registry {self._registry_path!r} has a bad LUN entry: {exc}") from None

    @staticmethod
    def _index(data: dict[str, Any], lun: LunInfo) -> int | None:
        for i, raw in enumerate(data["luns"]):
            try:
                info = LunInfo.model_validate(raw["info"])
            except (KeyError, ValueError) as exc:
                raise VssStoreCorruptError(f"array registry has a bad LUN entry: {exc}") from None
            if same_lun(info, lun):
                return i
        return None

    def _new_identity(self, data: dict[str, Any]) -> tuple[int, LunInfo]:
        number = int(data["next"])
        data["next"] = number + 1
        return number, LunInfo(
            device_type=DEVICE_TYPE_DISK, bus_type=BUS_TYPE_FIBRE, vendor_id=VENDOR_ID,
            product_id=PRODUCT_ID, product_revision=PRODUCT_REVISION,
            serial_number=f"VSSSIM{self._array[:6].upper()}{number:08d}",
            page83_id=f"{_NAA_PREFIX}{self._array}{number:016x}")

    # ------------------------------------------------------------------------- queries
    def luns(self) -> list[SanLun]:
        """Every LUN of the array, in creation order."""
        with self._locked(exclusive=False):
            return [self._entry(raw) for raw in self._read()["luns"]]

    def lun(self, lun: LunInfo) -> SanLun | None:
        """The registry entry of the LUN with that identity (see :func:`same_lun`), or None."""
        _check_lun(lun)
        with self._locked(exclusive=False):
            data = self._read()
            index = self._index(data, lun)
            return None if index is None else self._entry(data["luns"][index])

    def owns(self, lun: LunInfo) -> bool:
        """Whether this array holds a LUN with exactly that identity (``AreLunsSupported``)."""
        return self.lun(lun) is not None

    def find(self, lun: LunInfo) -> str | None:
        """The image path of the LUN with that identity, or None if the array has no such LUN
        or its image is gone (``LocateLuns`` / ``FillInLunInfo``: a LUN whose page-83 id,
        serial number or product data differ from the recorded ones is not found)."""
        entry = self.lun(lun)
        if entry is None or not os.path.exists(entry.path):
            return None
        return entry.path

    def lun_for_image(self, path: str | os.PathLike[str]) -> LunInfo | None:
        """The identity of the LUN whose image is ``path`` (a machine reopening its volumes)."""
        target = os.path.realpath(os.fspath(path))
        for entry in self.luns():
            if os.path.realpath(entry.path) == target:
                return entry.info
        return None

    # ------------------------------------------------------------------------ creation
    def create_volume_image(self, name: str, size: int, *, machine: str = ""
                            ) -> tuple[str, LunInfo]:
        """A new LUN of ``size`` bytes for a machine's volume.

        Returns the path where the caller creates the volume image (``Volume.create``; the file
        does not exist yet) and the LUN's identity.  ``machine``, if given, is the machine the
        LUN is presented to.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"LUN name must be a non-empty str, not {name!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ValueError(f"LUN size must be a positive int, not {size!r}")
        if not isinstance(machine, str):
            raise TypeError(f"machine must be str, not {type(machine).__name__}")
        with self._locked(exclusive=True):
            data = self._read()
            number, info = self._new_identity(data)
            image = self._image_name(number, name)
            data["luns"].append({
                "info": info.model_dump(mode="json"), "name": name, "image": image,
                "size": size, "created_by": machine,
                "presented_to": [machine] if machine else [], "shadow_of": None})
            self._write(data)
        return os.path.join(self._dir, image), info

    @staticmethod
    def _image_name(number: int, name: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:64] or "lun"
        return f"{_LUN_DIR}/{number:06d}-{stem}.img"

    def clone(self, lun: LunInfo, *, machine: str = "") -> tuple[LunInfo, str]:
        """A full copy of a LUN with a new identity (the split mirror or clone a hardware
        provider makes in ``CommitSnapshots``); returns the new LUN and its image path.

        The copy is a shadow copy of ``lun``, presented to nobody yet (``present`` unmasks
        it).  Only the data extents of the image are copied (``copy_file_range`` where the
        kernel has it), so a sparse image stays sparse.  ``machine`` is recorded as its maker.
        A missing LUN raises ``VssObjectNotFoundError``; a full host disk
        ``VssInsufficientStorageError``; either way nothing is left behind.
        """
        _check_lun(lun)
        if not isinstance(machine, str):
            raise TypeError(f"machine must be str, not {type(machine).__name__}")
        source = self.lun(lun)
        if source is None or not os.path.exists(source.path):
            raise VssObjectNotFoundError(f"the array has no LUN {lun.page83_id!r}")
        temp = os.path.join(self._dir, _LUN_DIR, f".clone-{uuid.uuid4().hex}.tmp")
        try:
            _copy_sparse(source.path, temp)
            with self._locked(exclusive=True):
                data = self._read()
                if self._index(data, lun) is None:
                    raise VssObjectNotFoundError(
                        f"LUN {lun.page83_id!r} was deleted while it was being copied")
                number, info = self._new_identity(data)
                image = self._image_name(number, f"{source.name}-clone")
                os.rename(temp, os.path.join(self._dir, image))
                data["luns"].append({
                    "info": info.model_dump(mode="json"), "name": f"{source.name}-clone",
                    "image": image, "size": os.path.getsize(os.path.join(self._dir, image)),
                    "created_by": machine, "presented_to": [],
                    "shadow_of": source.info.page83_id})
                self._write(data)
        except VssError:
            _unlink(temp)
            raise
        except OSError as exc:
            _unlink(temp)
            raise os_error(exc, f"cannot copy LUN {lun.page83_id!r}") from None
        except BaseException:
            _unlink(temp)
            raise
        return info, os.path.join(self._dir, image)

    # --------------------------------------------------------------------- (un)masking
    def _update(self, lun: LunInfo, change: str, machine: str) -> SanLun:
        _check_lun(lun)
        if not isinstance(machine, str) or not machine:
            raise ValueError(f"machine must be a non-empty str, not {machine!r}")
        with self._locked(exclusive=True):
            data = self._read()
            index = self._index(data, lun)
            if index is None:
                raise VssObjectNotFoundError(f"the array has no LUN {lun.page83_id!r}")
            raw = data["luns"][index]
            presented = [m for m in raw.get("presented_to", []) if m != machine]
            if change in ("present", "break"):
                presented.append(machine)
            raw["presented_to"] = presented
            if change == "break":
                raw["shadow_of"] = None
            self._write(data)
            return self._entry(raw)

    def present(self, lun: LunInfo, machine: str) -> SanLun:
        """Unmask the LUN to ``machine`` (``LocateLuns``: no rescan, just visibility)."""
        return self._update(lun, "present", machine)

    def mask(self, lun: LunInfo, machine: str) -> SanLun:
        """Hide the LUN from ``machine`` (``VSS_ONLUNSTATECHANGE_DO_MASK_LUNS``)."""
        return self._update(lun, "mask", machine)

    def break_shadow(self, lun: LunInfo, machine: str) -> SanLun:
        """The LUN stops being a shadow copy and becomes an ordinary LUN of ``machine``
        (what ``BreakSnapshotSet`` leaves on the array)."""
        return self._update(lun, "break", machine)

    # ------------------------------------------------------------------------ deletion
    def release(self, lun: LunInfo, machine: str) -> bool:
        """``OnLunEmpty`` from ``machine``: its shadow copy on the LUN is gone.

        The LUN is masked from ``machine`` and reclaimed if no other machine still has it
        presented (another machine that imported the copy keeps it).  Returns True if the LUN
        was deleted.  An unknown LUN is not an error (``OnLunEmpty`` is best-effort).
        """
        _check_lun(lun)
        with self._locked(exclusive=True):
            data = self._read()
            index = self._index(data, lun)
            if index is None:
                return False
            raw = data["luns"][index]
            raw["presented_to"] = [m for m in raw.get("presented_to", []) if m != machine]
            if raw["presented_to"]:
                self._write(data)
                return False
            entry = self._entry(raw)
            del data["luns"][index]
            self._write(data)
        _remove_image(entry.path)
        return True

    def delete(self, lun: LunInfo) -> bool:
        """Reclaim the LUN and its image, whoever has it (a storage administrator's delete;
        providers call :meth:`release` for ``OnLunEmpty``).  Returns False if there was none."""
        _check_lun(lun)
        with self._locked(exclusive=True):
            data = self._read()
            index = self._index(data, lun)
            if index is None:
                return False
            entry = self._entry(data["luns"][index])
            del data["luns"][index]
            self._write(data)
        _remove_image(entry.path)
        return True


# ------------------------------------------------------------------------------- helpers
def _check_lun(lun: object) -> None:
    if not isinstance(lun, LunInfo):
        raise TypeError(f"expected a LunInfo, not {type(lun).__name__}")


def _unlink(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _remove_image(path: str) -> None:
    # A machine may still have the image open: on POSIX its descriptor keeps the data alive
    # until it closes, as a disk that vanished from the bus keeps failing I/O elsewhere.
    _unlink(path)
    _unlink(path + _SIDECAR_SUFFIX)


def _copy_sparse(src: str, dst: str) -> None:
    """Copy ``src`` to the new file ``dst``, data extents only (holes stay holes)."""
    with open_fd(src, os.O_RDONLY) as fin, \
            open_fd(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fout:
        size = os.fstat(fin).st_size
        os.ftruncate(fout, size)
        for start, end in data_extents(fin, size):
            _copy_range(fin, fout, start, end)


def _copy_range(fin: int, fout: int, start: int, end: int) -> None:
    pos = start
    fast = hasattr(os, "copy_file_range")
    while pos < end:
        n = min(_COPY_CHUNK, end - pos)
        if fast:
            try:
                done = os.copy_file_range(fin, fout, n, pos, pos)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP,
                                     errno.EPERM):
                    raise
                fast = False  # this pair of file systems cannot: copy through user space
                continue
            if done > 0:
                pos += done
                continue
            fast = False  # no progress (the source shrank?): the slow path reports it
            continue
        chunk = os.pread(fin, n, pos)
        if not chunk:
            raise VssStoreCorruptError(f"LUN image shrank while being copied (at {pos})")
        pwrite_all(fout, chunk, pos)
        pos += len(chunk)
