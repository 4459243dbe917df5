"""The system provider's ``associations.json``: the text ``json.dump(..., indent=1)`` writes,
through every change, and read back at the next boot."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
