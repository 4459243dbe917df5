"""The copy-on-write engine against a full-copy model (hypothesis state machine).

The model keeps the volume as a ``bytearray`` and every live snapshot as its own full copy of
the volume at creation time (plus the recovery-window writes made to it).  It also tracks, per
snapshot, the *set* of blocks its diff area holds, with the volsnap rules written the simplest
way (sets, unions), so it can predict ``used`` and which snapshots a full diff area purges.

Random writes (1 byte to several blocks, unaligned), ``write_many``, ``write_batch``, snapshot
creation (persistent or not, at the count limit), deletion at any position, reverts, resizes,
recovery-window writes and close + reopen run against both.  After every step each live
snapshot must read exactly the model's bytes, the volume too, ``used`` must equal the preserved
blocks times the block size, and the store must pass its own consistency check.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from vsssim.errors import (
    VssInsufficientStorageError,
    VssMaximumNumberOfSnapshotsReachedError,
    VssUnsupportedContextError,
)
from vsssim.storage.shadowstorage import ShadowStorage
from vsssim.storage.snapshot import SnapshotDevice
from vsssim.storage.volume import Volume

B = 4096
MAX_SNAPSHOTS = 6


def pattern(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


@dataclass
class ModelSnap:
    id: uuid.UUID
    persistent: bool
    content: bytearray
    da: set[int] = field(default_factory=set)
    ov: set[int] = field(default_factory=set)


class Model:
    """volsnap semantics with sets: what the engine must be equivalent to."""

    def __init__(self, nblocks: int, max_blocks: int | None) -> None:
        self.vol = bytearray(nblocks * B)
        self.snaps: list[ModelSnap] = []
        self.max_blocks = max_blocks

    @property
    def used(self) -> int:
        return sum(len(s.da) + len(s.ov) for s in self.snaps)

    def purge_oldest(self) -> None:
        del self.snaps[0]

    def preserve(self, blocks: set[int]) -> None:
        if not self.snaps:
            return
        need = blocks - self.snaps[-1].da
        if not need:
            return
        while (
            self.snaps and self.max_blocks is not None and self.used + len(need) > self.max_blocks
        ):
            self.purge_oldest()
        if self.snaps:
            self.snaps[-1].da |= need

    def write(self, items: list[tuple[int, bytes]]) -> None:
        blocks: set[int] = set()
        for off, data in items:
            if data:
                blocks |= set(range(off // B, (off + len(data) - 1) // B + 1))
        self.preserve(blocks)
        for off, data in items:
            self.vol[off : off + len(data)] = data

    def delete(self, k: int) -> None:
        snap = self.snaps[k]
        if k > 0:
            self.snaps[k - 1].da |= snap.da
        del self.snaps[k]

    def revert_blocks(self, k: int) -> set[int]:
        blocks = set(self.snaps[k].ov)
        for s in self.snaps[k:]:
            blocks |= s.da
        return blocks

    def reopen(self) -> None:
        for snap in [s for s in self.snaps if not s.persistent]:
            self.delete(self.snaps.index(snap))


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="vsssim-model-"))
        self.vol: Volume | None = None
        self.store: ShadowStorage | None = None
        self.devices: dict[uuid.UUID, SnapshotDevice] = {}

    @initialize(
        nblocks=st.integers(8, 32),
        max_blocks=st.one_of(st.none(), st.integers(1, 48)),
    )
    def setup(self, nblocks: int, max_blocks: int | None) -> None:
        self.nblocks = nblocks
        self.vol = Volume.create(self.tmp / "vol.img", nblocks * B, B)
        self.store = ShadowStorage.create(
            self.vol,
            self.tmp / "diff",
            None if max_blocks is None else max_blocks * B,
            max_snapshots=MAX_SNAPSHOTS,
        )
        self.model = Model(nblocks, max_blocks)
        self.vol.write(0, pattern(-1, nblocks * B))
        self.model.vol[:] = pattern(-1, nblocks * B)

    def teardown(self) -> None:
        if self.vol is not None:
            self.vol.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.nblocks * B

    def span(self, data: st.DataObject, max_len: int) -> tuple[int, int]:
        length = data.draw(st.integers(1, min(max_len, self.size)), label="length")
        offset = data.draw(st.integers(0, self.size - length), label="offset")
        return offset, length

    def device(self, k: int) -> SnapshotDevice:
        assert self.store is not None
        return self.store.get(self.model.snaps[k].id)

    # -- rules -----------------------------------------------------------------------------
    @rule(data=st.data(), seed=st.integers(0, 2**16))
    def write(self, data: st.DataObject, seed: int) -> None:
        offset, length = self.span(data, 3 * B + 100)
        payload = pattern(seed, length)
        assert self.vol is not None
        self.vol.write(offset, payload)
        self.model.write([(offset, payload)])

    @rule(data=st.data(), seed=st.integers(0, 2**16), count=st.integers(1, 8))
    def write_many(self, data: st.DataObject, seed: int, count: int) -> None:
        length = data.draw(st.integers(1, 2 * B), label="length")
        offsets = [
            data.draw(st.integers(0, self.size - length), label="offset") for _ in range(count)
        ]
        payload = pattern(seed, length)
        assert self.vol is not None
        self.vol.write_many(offsets, length, payload)
        self.model.write([(o, payload) for o in offsets])

    @rule(data=st.data(), seed=st.integers(0, 2**16), count=st.integers(1, 6))
    def write_batch(self, data: st.DataObject, seed: int, count: int) -> None:
        items = []
        for i in range(count):
            offset, length = self.span(data, 2 * B + 7)
            items.append((offset, pattern(seed + i, length)))
        assert self.vol is not None
        self.vol.write_batch(items)
        self.model.write(items)

    @rule(persistent=st.booleans(), purge_at_limit=st.booleans())
    def create(self, persistent: bool, purge_at_limit: bool) -> None:
        assert self.store is not None
        if len(self.model.snaps) >= MAX_SNAPSHOTS and not purge_at_limit:
            with pytest.raises(VssMaximumNumberOfSnapshotsReachedError):
                self.store.create_snapshot(persistent=persistent)
            return
        snap = self.store.create_snapshot(
            persistent=persistent,
            metadata={"n": str(len(self.model.snaps))},
            purge_oldest_at_limit=purge_at_limit,
        )
        while len(self.model.snaps) >= MAX_SNAPSHOTS:
            self.model.purge_oldest()
        self.model.snaps.append(ModelSnap(snap.id, persistent, bytearray(self.model.vol)))

    @precondition(lambda self: self.model.snaps)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        k = data.draw(st.integers(0, len(self.model.snaps) - 1), label="k")
        assert self.store is not None
        self.store.delete(self.device(k))
        self.model.delete(k)

    @precondition(lambda self: self.model.snaps)
    @rule(data=st.data())
    def revert(self, data: st.DataObject) -> None:
        k = data.draw(st.integers(0, len(self.model.snaps) - 1), label="k")
        assert self.store is not None
        target = self.model.snaps[k]
        if not target.persistent:
            with pytest.raises(VssUnsupportedContextError):
                self.store.revert(self.device(k))
            return
        blocks = self.model.revert_blocks(k)
        need = blocks - self.model.snaps[-1].da
        limit = self.model.max_blocks
        if limit is not None and self.model.used + len(need) > limit:
            with pytest.raises(VssInsufficientStorageError):
                self.store.revert(self.device(k))
            return
        self.store.revert(self.device(k))
        self.model.snaps[-1].da |= need
        self.model.vol[:] = target.content

    @rule(max_blocks=st.one_of(st.none(), st.integers(1, 48)))
    def resize(self, max_blocks: int | None) -> None:
        assert self.store is not None
        self.store.resize(None if max_blocks is None else max_blocks * B)
        self.model.max_blocks = max_blocks
        while max_blocks is not None and self.model.snaps and self.model.used > max_blocks:
            self.model.purge_oldest()

    @precondition(lambda self: self.model.snaps)
    @rule(data=st.data(), seed=st.integers(0, 2**16))
    def recovery_write(self, data: st.DataObject, seed: int) -> None:
        k = data.draw(st.integers(0, len(self.model.snaps) - 1), label="k")
        offset, length = self.span(data, 2 * B + 3)
        payload = pattern(seed, length)
        snap = self.model.snaps[k]
        new = set(range(offset // B, (offset + length - 1) // B + 1)) - snap.ov
        limit = self.model.max_blocks
        device = self.device(k)
        if limit is not None and self.model.used + len(new) > limit:
            freeable = 0
            for s in self.model.snaps[:k]:
                if self.model.used - freeable + len(new) <= limit:
                    break
                freeable += len(s.da) + len(s.ov)
            if self.model.used - freeable + len(new) > limit:
                with device.recovery_window(), pytest.raises(VssInsufficientStorageError):
                    device.write(offset, payload)
                return
            while self.model.used + len(new) > limit:
                self.model.purge_oldest()
        with device.recovery_window():
            device.write(offset, payload)
        snap.ov |= new
        snap.content[offset : offset + length] = payload

    @rule()
    def reopen(self) -> None:
        assert self.vol is not None and self.store is not None
        self.vol.close()
        self.vol = Volume.open(self.tmp / "vol.img")
        self.store = ShadowStorage.open(self.vol, self.tmp / "diff")
        self.model.reopen()

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def snapshots_are_exact(self) -> None:
        if self.store is None or self.vol is None:
            return
        assert self.vol.read(0, self.size) == bytes(self.model.vol)
        assert [s.id for s in self.store.snapshots] == [s.id for s in self.model.snaps]
        for snap in self.model.snaps:
            assert self.store.get(snap.id).read(0, self.size) == bytes(snap.content)
        assert self.store.used == self.model.used * B
        self.store.verify()

    @invariant()
    def unaligned_reads_match(self) -> None:
        if self.store is None or not self.model.snaps:
            return
        rng = random.Random(len(self.model.snaps) * 7919 + self.model.used)
        snap = self.model.snaps[rng.randrange(len(self.model.snaps))]
        offset = rng.randrange(self.size)
        length = rng.randrange(self.size - offset + 1)
        got = self.store.get(snap.id).read(offset, length)
        assert got == bytes(snap.content[offset : offset + length])


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = settings(stateful_step_count=60)
