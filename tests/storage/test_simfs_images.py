"""The volume image after every simfs operation is byte-identical to a reference run.

``simfs_images.ref.txt`` was recorded by ``_image_workload.run`` on the code before the storage
performance work; the fast paths since (pieces written in one call, bitmap images kept
up to date in place, ...) must leave every image, write counter and copy-on-write count as it
was.  Regenerate only for an intended on-disk change, from the repository root:
``PYTHONPATH=. python tests/storage/_image_workload.py -v > tests/storage/simfs_images.ref.txt``.
"""

from __future__ import annotations

from pathlib import Path

from tests.storage._image_workload import run

REFERENCE = Path(__file__).with_name("simfs_images.ref.txt")


def test_images_match_the_reference_run(tmp_path: Path) -> None:
    expected = REFERENCE.read_text().splitlines()
    got = run(tmp_path)
    for i, (want, have) in enumerate(zip(expected, got, strict=False)):
        assert have == want, f"step {i} differs from the reference run"
    assert len(got) == len(expected)
