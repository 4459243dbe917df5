"""``vsssim vssadmin``: golden listings, every command, the errors vssadmin prints with the exit
codes, and bad input that leaves the lab machine as it was."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cli.conftest import ROOT, Lab, tree_digest

Golden = Callable[[str, str], None]
BANNER = ("vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\n"
          "(C) Copyright 2001-2013 Microsoft Corp.\n\n")


def _create(lab: Lab, volume: str = "C:") -> str:
    out = lab.ok("vssadmin", "create", "shadow", f"/for={volume}")
    return out.split("Shadow Copy ID: ")[1].split()[0]


def test_golden_listings(lab: Lab, golden: Golden) -> None:
    """One fixed sequence on a seeded lab: every listing is compared with its golden file."""
    golden("vssadmin-list-writers.txt", lab.ok("vssadmin", "list", "writers"))
    golden("vssadmin-list-providers.txt", lab.ok("vssadmin", "list", "providers"))
    golden("vssadmin-list-volumes.txt", lab.ok("vssadmin", "list", "volumes"))
    golden("vssadmin-list-shadows-empty.txt", lab.ok("vssadmin", "list", "shadows"))
    golden("vssadmin-add-shadowstorage.txt",
           lab.ok("vssadmin", "add", "shadowstorage", "/for=D:", "/on=C:", "/maxsize=40MB"))
    golden("vssadmin-create-shadow.txt", lab.ok("vssadmin", "create", "shadow", "/for=C:"))
    lab.ok("vssadmin", "create", "shadow", "/for=d:\\")
    golden("vssadmin-list-shadows.txt", lab.ok("vssadmin", "list", "shadows"))
    golden("vssadmin-list-shadowstorage.txt", lab.ok("vssadmin", "list", "shadowstorage"))
    golden("vssadmin-help.txt", lab.ok("vssadmin", "/?"))
    golden("vssadmin-list-shadows-help.txt", lab.ok("vssadmin", "list", "shadows", "/?"))


def test_every_output_starts_with_the_banner(lab: Lab) -> None:
    for args in (["list", "shadows"], ["foo"], ["list", "writers"], ["/?"]):
        assert lab.run("vssadmin", *args).output.startswith(BANNER)


def test_writer_states_as_vssadmin_prints_them(lab: Lab) -> None:
    out = lab.ok("vssadmin", "list", "writers")
    assert out.startswith(BANNER + "Waiting for responses.\n")
    block = out.split("Writer name: 'KvStore Writer'\n")[1].split("\n\n")[0]
    lines = block.splitlines()
    assert lines[0] == "   Writer Id: {0b5c1b1e-6f58-4d9e-9a41-7c3a5f6d2e10}"
    assert lines[1].startswith("   Writer Instance Id: {")
    assert lines[2:] == ["   State: [1] Stable", "   Last error: No error"]


def test_list_shadows_filters(lab: Lab) -> None:
    c = _create(lab, "C:")
    d = _create(lab, "D:")
    by_volume = lab.ok("vssadmin", "list", "shadows", "/for=C:")
    assert c in by_volume and d not in by_volume
    one = lab.ok("vssadmin", "list", "shadows", f"/shadow={d}")
    assert d in one and c not in one
    set_id = one.split("Contents of shadow copy set ID: ")[1].split()[0]
    assert d in lab.ok("vssadmin", "list", "shadows", f"/set={set_id}")
    bare = d.strip("{}")  # ids are accepted without braces too
    assert d in lab.ok("vssadmin", "list", "shadows", f"/Shadow={bare}")
    unknown = "{00000000-1111-4222-8333-444444444444}"
    assert lab.ok("vssadmin", "list", "shadows", f"/shadow={unknown}").endswith(
        "No items found that satisfy the query.\n")


def test_delete_asks_and_honours_the_answer(lab: Lab) -> None:
    c1 = _create(lab)
    c2 = _create(lab)
    refused = lab.run("vssadmin", "delete", "shadows", "/for=C:", "/oldest", input="n\n")
    assert refused.exit_code == 0
    assert "Do you really want to delete 1 shadow copies (Y/N): [N]? " in refused.output
    assert "Successfully" not in refused.output
    assert c1 in lab.ok("vssadmin", "list", "shadows")
    done = lab.ok("vssadmin", "delete", "shadows", "/for=C:", "/oldest", input="y\n")
    assert done.endswith("\nSuccessfully deleted the 1 specified shadow copies.\n")
    listing = lab.ok("vssadmin", "list", "shadows")
    assert c1 not in listing and c2 in listing


def test_delete_quiet_all_and_by_id(lab: Lab) -> None:
    c1 = _create(lab)
    _create(lab, "D:")
    quiet = lab.ok("vssadmin", "delete", "shadows", f"/shadow={c1}", "/quiet")
    assert quiet == BANNER
    assert c1 not in lab.ok("vssadmin", "list", "shadows")
    lab.ok("vssadmin", "delete", "shadows", "/all", "/quiet")
    assert "No items found" in lab.ok("vssadmin", "list", "shadows")


def test_only_client_accessible_copies_are_deleted(lab: Lab) -> None:
    """diskshadow's persistent copies are ApplicationRollback: vssadmin refuses them."""
    script = lab.cwd / "p.dsh"
    script.write_text("set context persistent\nadd volume C:\ncreate\n")
    lab.ok("diskshadow", "-s", str(script))
    listing = lab.ok("vssadmin", "list", "shadows")
    assert "Type: ApplicationRollback" in listing
    result = lab.run("vssadmin", "delete", "shadows", "/all", "/quiet")
    assert result.exit_code == 1
    assert "outside of your allowed context" in result.output
    assert lab.ok("vssadmin", "list", "shadows") == listing


def test_shadow_storage_add_resize_delete(lab: Lab) -> None:
    lab.ok("volume", "create", "E:", "--size", "400")
    out = lab.ok("vssadmin", "add", "shadowstorage", "/for=D:", "/on=E:", "/maxsize=10%")
    assert out.endswith("Successfully added the shadow copy storage association\n")
    listing = lab.ok("vssadmin", "list", "shadowstorage", "/for=D:")
    assert "Maximum Shadow Copy Storage space: 40.0 MB (10%)" in listing
    assert "For volume: (D:)" in listing and "Shadow Copy Storage volume: (E:)" in listing
    again = lab.run("vssadmin", "add", "shadowstorage", "/for=D:", "/on=E:")
    assert again.exit_code == 1 and "already exists" in again.output
    lab.ok("vssadmin", "resize", "shadowstorage", "/for=D:", "/on=E:", "/maxsize=UNBOUNDED")
    assert "UNBOUNDED (100%)" in lab.ok("vssadmin", "list", "shadowstorage", "/on=E:")
    _create(lab, "D:")
    busy = lab.run("vssadmin", "delete", "shadowstorage", "/for=D:")
    assert busy.exit_code == 1 and "in use" in busy.output
    lab.ok("vssadmin", "delete", "shadows", "/for=D:", "/quiet")
    assert lab.ok("vssadmin", "delete", "shadowstorage", "/for=D:").endswith(
        "Successfully deleted the shadow copy storage association\n")
    assert "No items found" in lab.ok("vssadmin", "list", "shadowstorage", "/for=D:")


def test_revert_needs_the_volume_free_or_forcedismount(lab: Lab) -> None:
    lab.ok("fs", "put", "-", "C:\\report.txt", input="version 1")
    shadow = _create(lab)
    lab.ok("fs", "put", "-", "C:\\report.txt", input="version 2 (oops)")
    busy = lab.run("vssadmin", "revert", "shadow", f"/shadow={shadow}")
    assert busy.exit_code == 1
    assert "in use" in busy.output and "/ForceDismount" in busy.output
    assert lab.ok("fs", "cat", "C:\\report.txt").strip() == "version 2 (oops)"
    done = lab.ok("vssadmin", "revert", "shadow", f"/shadow={shadow}", "/forcedismount")
    assert "Successfully reverted volume (C:)" in done
    assert lab.ok("fs", "cat", "C:\\report.txt").strip() == "version 1"
    assert "No items found" in lab.ok("vssadmin", "query", "reverts")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["foo"], 2, "Error: Invalid command."),
    (["list"], 2, "Error: Invalid command."),
    (["list", "snapshots"], 2, "Error: Invalid command."),
    (["list", "shadows", "/bar"], 2, "Error: Unexpected option: /bar"),
    (["list", "shadows", "/for"], 2, "Error: Invalid option value."),
    (["list", "shadows", "/shadow=xyz"], 2, "Error: Invalid option value."),
    (["list", "shadows", "/shadow={00000000-1111-4222-8333-444444444444}", "/set=x"], 2,
     "cannot be used together"),
    (["list", "shadows", "/for=C:", "/for=D:"], 2, "was given twice"),
    (["create", "shadow"], 2, "Error: Missing option /For."),
    (["create", "shadow", "/for=C:", "/autoretry=soon"], 2, "Error: Invalid option value."),
    (["delete", "shadows", "/oldest"], 2, "/Oldest needs /For."),
    (["delete", "shadows", "/quiet=yes", "/all"], 2, "Error: Invalid option value."),
    (["add", "shadowstorage", "/for=C:", "/on=D:", "/maxsize=lots"], 2,
     "Error: Invalid option value."),
    (["create", "shadow", "/for=Q:"], 1, "Error: Either the specified volume was not found"),
    (["list", "shadowstorage", "/on=Z:"], 1, "Error: Either the specified volume was not found"),
    (["delete", "shadows", "/shadow={00000000-1111-4222-8333-444444444444}"], 1,
     "was not found"),
    (["revert", "shadow", "/shadow={00000000-1111-4222-8333-444444444444}"], 1,
     "was not found"),
    (["add", "shadowstorage", "/for=C:", "/on=D:", "/maxsize=1MB"], 1, "at least 32 MB"),
    (["resize", "shadowstorage", "/for=C:", "/on=C:"], 2, "Error: Missing option /MaxSize."),
])
def test_bad_input_is_refused_and_changes_nothing(lab: Lab, args: list[str], code: int,
                                                  message: str) -> None:
    shadow = _create(lab)
    before_listing = lab.ok("vssadmin", "list", "shadows")
    before_storage = lab.ok("vssadmin", "list", "shadowstorage")
    before_bytes = tree_digest(lab.root)
    result = lab.run("vssadmin", *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    if code == 2:
        # A refused command line never opens the lab machine: not a byte changed.
        assert tree_digest(lab.root) == before_bytes
    assert lab.ok("vssadmin", "list", "shadows") == before_listing
    assert lab.ok("vssadmin", "list", "shadowstorage") == before_storage
    assert shadow in before_listing


def test_syntax_errors_show_the_command_help(lab: Lab) -> None:
    out = lab.run("vssadmin", "delete", "shadows", "/bogus").output
    assert "Delete Shadows /For=ForVolumeSpec" in out
    listing = lab.run("vssadmin", "frobnicate", "shadows").output
    assert "---- Commands Supported ----" in listing
    assert "Revert Shadow         - Revert a volume to a shadow copy" in listing


def test_client_editions_lack_the_server_commands(empty_lab: Lab) -> None:
    empty_lab.ok("init", "--edition", "client", "--size", "16")
    result = empty_lab.run("vssadmin", "create", "shadow", "/for=C:")
    assert result.exit_code == 2 and "Error: Invalid command." in result.output
    commands = empty_lab.ok("vssadmin", "/?")
    assert "Create Shadow" not in commands and "Resize ShadowStorage" in commands
    assert json.loads((empty_lab.root / "lab.json").read_text())["edition"] == "client"


def test_list_writers_and_create_are_saved_as_runs_listings_are_not(lab: Lab) -> None:
    lab.ok("vssadmin", "list", "shadows")
    assert "No runs saved yet" in lab.ok("trace", "list")
    lab.ok("vssadmin", "create", "shadow", "/for=C:")
    lab.ok("vssadmin", "list", "writers")
    runs = lab.ok("trace", "list")
    assert "vssadmin create shadow /for=C:" in runs and "vssadmin list writers" in runs


def _no(prompt: str) -> str:
    return "n"


def test_autoretry_waits_for_another_creation_then_gives_up_or_succeeds() -> None:
    from vsssim.cli.vssadmin.commands import VssadminFailure, execute
    from vsssim.cli.vssadmin.syntax import parse
    from vsssim.system import VssSystem

    with VssSystem(seed=1) as system:
        system.add_volume("C:\\", size=8 * 2**20)
        holder = system.create_backup_components()
        holder.initialize_for_backup()
        holder.start_snapshot_set()  # holds the machine's creation lock
        start = system.clock.now()
        with pytest.raises(VssadminFailure, match="Another shadow copy creation"):
            execute(system, parse(["create", "shadow", "/for=C:"], "server"), _no)
        assert system.clock.now() == pytest.approx(start, abs=1.0)  # no retry asked
        with pytest.raises(VssadminFailure, match="Another shadow copy creation"):
            execute(system, parse(["create", "shadow", "/for=C:", "/autoretry=2"], "server"),
                    _no)
        assert system.clock.now() - start >= 120.0  # kept trying for two (lab) minutes
        system.clock.call_later(5.0, holder.release)  # the other requester finishes soon
        out = execute(system, parse(["create", "shadow", "/for=C:", "/autoretry=1"], "server"),
                      _no)
        assert out.lines[0] == "Successfully created shadow copy for 'C:\\'"


@given(st.lists(st.one_of(
    st.sampled_from(["list", "create", "delete", "add", "resize", "revert", "query", "shadows",
                     "shadow", "writers", "shadowstorage", "/for=C:", "/on=D:", "/all",
                     "/oldest", "/quiet", "/?", "/shadow={00000000-1111-4222-8333-44444444444"
                     "4}", "/maxsize=10%", "/set=x", "/autoretry=3"]),
    st.text(max_size=12)), max_size=6), st.sampled_from(["server", "client"]))
def test_the_parser_only_accepts_or_explains(args: list[str], edition: str) -> None:
    """Any command line parses to a command of this edition with its required switches,
    or is refused with a message; nothing else escapes."""
    from vsssim.cli.vssadmin.commands import check_values
    from vsssim.cli.vssadmin.syntax import VssadminSyntaxError, parse

    try:
        inv = parse(args, edition)
        if inv.spec is not None and not inv.help:
            check_values(inv)
    except VssadminSyntaxError as exc:
        refusal = exc.message
    else:
        refusal = ""
    if refusal:
        assert refusal.startswith("Error: ")
        return
    if inv.spec is not None:
        assert edition == "server" or not inv.spec.server_only
        if not inv.help:
            assert set(inv.spec.required) <= set(inv.switches)


def test_list_writers_saves_a_run_the_other_listings_do_not(lab: Lab) -> None:
    """docs/cli.md says which vssadmin commands save a run: the ones that drive VSS."""
    doc = " ".join((ROOT / "docs" / "cli.md").read_text(encoding="utf-8").split())
    assert "`list writers` does (a requester gathers the writers' metadata and status" in doc
    assert "Listings do not save a run" not in doc
    for listing in ("shadows", "providers", "volumes", "shadowstorage"):
        lab.ok("vssadmin", "list", listing)
    assert lab.ok("trace", "list") == "No runs saved yet.\n"
    lab.ok("vssadmin", "list", "writers")
    runs = lab.ok("trace", "list").splitlines()
    assert len(runs) == 1 and runs[0].endswith("vssadmin list writers")
    assert "Identify" in lab.ok("trace", "show", "--table")


def test_the_documented_max_size_example_works_on_a_default_lab(empty_lab: Lab) -> None:
    doc = " ".join((ROOT / "docs" / "cli.md").read_text(encoding="utf-8").split())
    assert "(`/MaxSize=50%`, as in the workshop)" in doc and "(`20%`) is refused" in doc
    empty_lab.ok("init")  # the default 64 MiB volumes
    small = empty_lab.run("vssadmin", "add", "shadowstorage", "/for=D:", "/on=C:",
                          "/MaxSize=20%")
    assert small.exit_code == 1 and "must be at least 32 MB" in small.output
    assert empty_lab.ok("vssadmin", "add", "shadowstorage", "/for=D:", "/on=C:",
                        "/MaxSize=50%").endswith(
        "Successfully added the shadow copy storage association\n")
