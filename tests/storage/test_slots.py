"""SlotAllocator: freed slots come back as runs, lowest first, then fresh ones."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vsssim.storage._slots import SlotAllocator


@pytest.mark.parametrize("seed", range(20))
def test_freed_slots_are_handed_out_again_lowest_run_first(seed: int) -> None:
    rng = random.Random(seed)
    alloc = SlotAllocator()
    taken = alloc.take(rng.randrange(1, 200)).tolist()
    assert taken == list(range(len(taken)))
    freed = rng.sample(taken, rng.randrange(1, len(taken) + 1))
    rng.shuffle(freed)
    alloc.free(np.array(freed, dtype=np.int64))
    assert alloc.nfree == len(freed)
    assert sorted(alloc.free_slots().tolist()) == sorted(freed)
    # One chunk: its runs are taken lowest first, each run in order, then fresh slots.
    again = [alloc.take_one() for _ in range(len(freed) + 3)]
    high = len(taken)
    assert again == [*sorted(freed), high, high + 1, high + 2]
    assert alloc.nfree == 0


def test_take_run_uses_a_free_run_only_when_it_is_long_enough() -> None:
    alloc = SlotAllocator()
    alloc.take(10)
    alloc.free(np.array([7, 2, 3, 4, 8], dtype=np.int64))  # runs [2, 5) and [7, 9)
    assert alloc.take_run(3) == 2
    assert alloc.take_run(3) is None  # the next run holds two slots
    assert alloc.take(2).tolist() == [7, 8]
    assert alloc.take_run(3) == 10  # nothing free: fresh slots at the end
