"""A scripted simfs + KvStore workload that records the volume image after every operation.

Used by ``test_simfs_images.py``: the digests it produces were recorded from the code before the
storage performance work (``python tests/storage/_image_workload.py`` prints them), so any
fast path that changes a byte the image holds after an operation, a write counter or the
copy-on-write order shows up as the first differing step.
"""

from __future__ import annotations

import hashlib
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from vsssim.apps.kvstore import KvStoreApp
from vsssim.clock import VirtualClock
from vsssim.storage.shadowstorage import ShadowStorage
from vsssim.storage.simfs import format
from vsssim.storage.volume import Volume

MiB = 1 << 20


def run(root: Path) -> list[str]:
    """One digest per step: ``sha256(image)[:16]`` plus the volume's write and copy-on-write
    counters, and at the end the contents of every snapshot."""
    clock = VirtualClock()
    vol = Volume.create(root / "c.img", 8 * MiB, name="C:\\", clock=clock)
    store = ShadowStorage.create(vol, root / "diff")
    format(vol, label="C", clock=clock)
    fs = vol.fs
    out: list[str] = []
    rng = random.Random(7)

    def record(what: str) -> None:
        with open(vol.path, "rb") as handle:
            image = hashlib.sha256(handle.read()).hexdigest()[:16]
        st = vol.stats
        out.append(f"{what}: {image} w={st.writes} b={st.bytes_written} cow={st.cow_blocks}")

    def step(what: str, action: Callable[..., object]) -> None:
        clock.advance(0.25)
        try:
            action()
        except Exception as exc:  # the refusals belong to the record too
            what += f" !{type(exc).__name__}"
        record(what)

    step("makedirs", lambda: fs.makedirs("C:\\a\\b\\c"))
    step("mkdir", lambda: fs.mkdir("C:\\d"))
    for i in range(40):  # enough names to grow the directory past one block
        step(f"write {i}", lambda i=i: fs.write_file(f"C:\\a\\f{i:03d}.bin", rng.randbytes(i * 97)))
    step("snapshot 1", lambda: store.create_snapshot())
    for i in range(30):  # appends within a block and across blocks, with copy-on-write
        step(f"append {i}", lambda i=i: fs.append_file("C:\\d\\log", rng.randbytes(150 + 61 * i)))
    for i in range(0, 40, 3):
        step(f"remove {i}", lambda i=i: fs.remove(f"C:\\a\\f{i:03d}.bin"))
    step("snapshot 2", lambda: store.create_snapshot())
    for i in range(1, 40, 4):
        step(f"rename {i}", lambda i=i: fs.rename(f"C:\\a\\f{i:03d}.bin", f"C:\\d\\G{i}.BIN"))
    step("rename replace", lambda: fs.rename("C:\\d\\G1.BIN", "C:\\d\\G5.BIN", replace=True))
    step("rename case", lambda: fs.rename("C:\\d\\G17.BIN", "C:\\d\\g17.bin"))
    step("rename exists", lambda: fs.rename("C:\\d\\G13.BIN", "C:\\d\\G25.BIN"))
    # Fragment a file past its 24 inline extents (an extent chain), then shrink it.
    def fragment(i: int) -> None:
        fs.append_file("C:\\frag", b"x" * 4096)
        fs.write_file(f"C:\\d\\pad{i}", b"p")

    for i in range(60):
        step(f"frag {i}", lambda i=i: fragment(i))
    for i in range(0, 60, 2):
        step(f"unpad {i}", lambda i=i: fs.remove(f"C:\\d\\pad{i}"))
    step("truncate frag", lambda: fs.truncate("C:\\frag", 5000))
    step("truncate grow", lambda: fs.truncate("C:\\frag", 300_000))
    with fs.open("C:\\d\\handle", "w+b") as handle:
        step("handle write", lambda: handle.write(b"h" * 10_000))
        step("handle seek write", lambda: (handle.seek(20_000), handle.write(b"k" * 7000)))
        step("handle truncate", lambda: handle.truncate(9000))
    step("rmdir full", lambda: fs.rmdir("C:\\a"))
    step("rmdir", lambda: fs.rmdir("C:\\a\\b\\c"))
    step("full", lambda: fs.write_file("C:\\big", bytes(16 * MiB)))
    step("snapshot 3", lambda: store.create_snapshot())
    app = KvStoreApp(fs, "C:\\KvStore")
    record("kvstore created")
    for i in range(120):
        step(f"kv {i}", lambda: app.run(rng))
    step("kv quiesce", app.quiesce)
    step("snapshot 4", lambda: store.create_snapshot())
    step("kv stop", app.stop)
    step("kv start", app.start)
    for i in range(20):
        step(f"kv again {i}", lambda: app.run(rng))
    for n, snap in enumerate(store.snapshots):
        data = snap.read(0, snap.size)
        out.append(f"snapshot {n}: {hashlib.sha256(data).hexdigest()[:16]}")
        problems = snap.fs.check()
        out.append(f"snapshot {n} check: {problems}")
    out.append(f"check: {fs.check()}")
    vol.close()
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        lines = run(Path(tmp))
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    print(len(lines), digest, file=sys.stderr if "-v" in sys.argv else sys.stdout)
    if "-v" in sys.argv:
        print("\n".join(lines))
