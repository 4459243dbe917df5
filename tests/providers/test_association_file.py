"""The system provider's ``associations.json``: the text ``json.dump(..., indent=1)`` writes,
through every change, and read back at the next boot.  A volume's default diff area, when it is
the only association, is not written: the boot makes it again from the diff area's directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vsssim.constants import SnapshotContext
from vsssim.providers.system import SYSTEM_PROVIDER_ID
from vsssim.system import VssSystem

MiB = 1 << 20


def _expected(system: VssSystem) -> str:
    items = [{"for_volume": a.for_volume, "for_guid": a.for_guid, "on_volume": a.on_volume,
              "max_size": a.max_size, "explicit": a.explicit}
             for a in system.system_provider._associations.values()]
    return json.dumps(items, indent=1)


def test_the_association_file_is_json_dump_with_indent_1(tmp_path: Path) -> None:
    system = VssSystem(tmp_path / "m")
    provider = system.system_provider
    path = os.path.join(system.state_directory(provider.provider_id), "associations.json")
    system.add_volume("C:\\", size=8 * MiB)
    c = system.resolve_volume("C:\\")
    system.add_volume("D:\\Mount \"é\"", size=8 * MiB)
    d = system.resolve_volume("D:\\Mount \"é\"\\")
    texts = []
    for change in (lambda: provider.set_association(c, "D:\\", 4 * MiB),
                   lambda: provider.set_association(d, d.name, None, explicit=False),
                   lambda: provider.set_association(c, "C:\\", 2**40),
                   lambda: provider.remove_association(c),
                   lambda: provider.remove_association(d)):
        change()
        text = Path(path).read_text(encoding="utf-8")
        assert text == _expected(system)
        texts.append(text)
    assert texts[-1] == "[]" and '"max_size": null' in texts[1] and "\\u00e9" in texts[1]
    provider.set_association(d, "C:\\", 3 * MiB)
    system.close()
    with VssSystem(tmp_path / "m") as again:  # read back at the next boot
        (assoc,) = again.system_provider._associations.values()
        assert (assoc.for_volume, assoc.on_volume, assoc.max_size, assoc.explicit) == (
            "D:\\Mount \"é\"\\", "C:\\", 3 * MiB, True)


def _persistent_copy(system: VssSystem, volume: str) -> None:
    result = system.backup([volume], context=SnapshotContext.APP_ROLLBACK, copy_files=False)
    assert result.succeeded


def _listed(system: VssSystem) -> list[tuple[str, str, int | None]]:
    return [(s.for_volume, s.on_volume, s.max_size) for s in system.shadow_storage()]


def test_a_volumes_default_diff_area_alone_comes_back_at_boot_without_a_file(
        tmp_path: Path) -> None:
    system = VssSystem(tmp_path / "m")
    system.add_volume("C:\\", size=8 * MiB)
    _persistent_copy(system, "C:\\")
    path = os.path.join(system.state_directory(SYSTEM_PROVIDER_ID), "associations.json")
    assert not os.path.exists(path)  # nothing but the default association: nothing to keep
    assert _listed(system) == [("C:\\", "C:\\", None)]
    system.close()
    with VssSystem(tmp_path / "m") as again:
        assert _listed(again) == [("C:\\", "C:\\", None)]
        assert len(again.system_provider.records()) == 1
        _persistent_copy(again, "C:\\")  # the diff area is the one found at boot
        assert len(again.system_provider.records()) == 2


@pytest.mark.parametrize("first", ["C:\\", "D:\\"])
def test_default_diff_areas_of_several_volumes_keep_their_order_at_boot(
        tmp_path: Path, first: str) -> None:
    system = VssSystem(tmp_path / "m")
    system.add_volume("C:\\", size=8 * MiB)
    system.add_volume("D:\\", size=8 * MiB)
    second = "C:\\" if first == "D:\\" else "D:\\"
    _persistent_copy(system, first)
    _persistent_copy(system, second)
    expected = [(first, first, None), (second, second, None)]
    assert _listed(system) == expected
    path = os.path.join(system.state_directory(SYSTEM_PROVIDER_ID), "associations.json")
    assert Path(path).read_text(encoding="utf-8") == _expected(system)
    system.close()
    with VssSystem(tmp_path / "m") as again:
        assert _listed(again) == expected
