# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager's subcommand table: options before or after the command, no command is sync."""

from __future__ import annotations

import json

import pytest

from glancing import errors
from glancing.cli.manager import COMMANDS, build_parser, main
from glancing.subscriptions.db import Database
from subskit import LIST_ID, dump, hepix_list, image, row, running_site, uuid
from trustkit import pki  # noqa: F401


@pytest.fixture(scope="module")
def parser():
    return build_parser([])


@pytest.mark.parametrize("argv", [["--json", "--keep", "3", "status"], ["status", "--json", "--keep", "3"],
                                  ["--json", "status", "--keep", "3"]])
def test_shared_options_before_or_after_the_command(parser, argv):
    args = parser.parse_args(argv)
    assert (args.command, args.json, args.keep) == ("status", True, 3)


def test_no_command_is_sync_and_keeps_the_old_options(parser):
    args = parser.parse_args(["-l", "a.txt", "-l", "b.txt", "--keep", "2", "--dry-run"])
    assert (args.command, args.list, args.keep, args.dry_run) == ("sync", ["a.txt", "b.txt"], 2, True)
    assert parser.parse_args(["sync", "-l", "a.txt"]).list == ["a.txt"]


def test_rollback_takes_its_appliance(parser):
    args = parser.parse_args(["--dry-run", "rollback", "CentOS 7"])
    assert (args.command, args.appliance, args.dry_run) == ("rollback", "CentOS 7", True)


def test_every_command_is_in_the_table(parser):
    for name in ("sync", "status", "rollback"):
        assert name in COMMANDS
        assert parser.parse_args([name]).command == name


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "frobnicate" in capsys.readouterr().err


# --- the subscription commands, end to end through main() ------------------------------------

@pytest.fixture
def site(pki, tmp_path):  # noqa: F811
    with running_site(pki, tmp_path) as s:
        yield s


def _gm(site, *argv):
    trust = str(site.tmp.parent / "trusted-endorsers")
    return main(["--db", site.db.path, "--ca-dir", str(site.pki.ca_dirs["valid"]), "--trust", trust,
                 "--lock", str(site.tmp / "gm.lock"), *argv])


def test_subscribe_list_show_images_select_update_unsubscribe(site, capsys):
    data = site.publish("1", [image(1), image(2)])
    assert _gm(site, "subscribe", site.url, "--new-images", "accept") == 0
    assert LIST_ID in capsys.readouterr().out
    assert _gm(site, "subscriptions", "--json") == 0
    [info] = json.loads(capsys.readouterr().out)
    assert (info["id"], info["url"], info["version"], info["images"]) == (LIST_ID, site.url, "1", 2)
    assert _gm(site, "subscriptions", "show", site.url, "--format", "smime") == 0
    assert capsys.readouterr().out.encode() == data
    assert _gm(site, "subscriptions", "show", LIST_ID, "--format", "message") == 0
    message = capsys.readouterr().out.encode()
    assert json.loads(message)["hv:imagelist"]["dc:identifier"] == LIST_ID
    assert message.replace(b"\r\n", b"\n") == hepix_list(site.pki.good, "1", [image(1), image(2)]).replace(b"\r\n", b"\n")
    assert _gm(site, "subscriptions", "show", LIST_ID) == 0
    assert f"id: {LIST_ID}\n" in capsys.readouterr().out
    sha = row(site.db, "images", uuid=uuid(2))["sha512"]
    assert _gm(site, "select", uuid(1), sha) == 0
    capsys.readouterr()
    assert _gm(site, "images", "--json") == 0
    assert {r["uuid"]: r["state"] for r in json.loads(capsys.readouterr().out)} == {uuid(1): 3, uuid(2): 3}
    assert _gm(site, "deselect", uuid(2)) == 0
    assert _gm(site, "images", "--subscription", LIST_ID) == 0
    out = capsys.readouterr().out
    assert f"{uuid(1)}  3  Image 1" in out and f"{uuid(2)}  2  Image 2" in out
    assert _gm(site, "update") == 0
    assert "unchanged" in capsys.readouterr().out
    assert _gm(site, "unsubscribe", LIST_ID) == 0
    assert "stay in Glance until the next sync expires them" in capsys.readouterr().out
    assert dump(site.db)["images"] == []


def test_update_exit_code_is_5_when_a_list_is_refused(site, capsys):
    site.publish("2", [image(1)])
    assert _gm(site, "subscribe", site.url) == 0
    site.publish("1", [image(1)])
    assert _gm(site, "update") == errors.RECORD_REFUSED
    assert "refused" in capsys.readouterr().out


def test_auto_endorse_says_so_loudly(site, capsys):
    site.publish("1", [image(1)])
    assert _gm(site, "-q", "subscribe", "--auto-endorse", site.url) == 0
    err = capsys.readouterr().err
    assert "--auto-endorse" in err and site.pki.good.subject_openssl in err


def test_subscription_errors_are_one_line(site, capsys):
    assert _gm(site, "select", "no-such-image") == errors.USAGE
    assert _gm(site, "unsubscribe", "nope") == errors.USAGE
    assert _gm(site, "subscriptions", "frob") == errors.USAGE
    site.publish("1", [image(1)], signer=site.pki.stranger)
    assert _gm(site, "subscribe", site.url) == errors.RECORD_REFUSED
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(line.startswith("glance_manager: ") for line in err.splitlines())


def test_newer_database_is_exit_7(tmp_path, capsys):
    path = tmp_path / "g.db"
    with Database.open(str(path)) as db:
        db.conn.execute("INSERT INTO schema_version VALUES (1000, 'x')")
        db.conn.commit()
    assert main(["--db", str(path), "subscriptions"]) == errors.ENVIRONMENT
    assert "schema version 1000" in capsys.readouterr().err


def test_subscribe_and_update_fire_subscription_image_new(site, tmp_path, capsys):
    out = tmp_path / "events.txt"
    handler = f"env | grep ^VMCATCHER_EVENT_ | sort >> {out}; echo --- >> {out}"
    site.publish("1", [image(1)])
    assert _gm(site, "subscribe", site.url, "--event-cmd", handler) == 0
    site.publish("2", [image(1), image(2)])
    assert _gm(site, "--event-cmd", handler, "update") == 0
    assert _gm(site, "update", "--event-cmd", handler) == 0  # unchanged: no event
    blocks = [b.strip().splitlines() for b in out.read_text().split("---") if b.strip()]
    assert len(blocks) == 2
    for block, n in zip(blocks, (1, 2)):
        env = dict(line.split("=", 1) for line in block)
        assert env["VMCATCHER_EVENT_TYPE"] == "SubscriptionImageNew"
        assert env["VMCATCHER_EVENT_DC_IDENTIFIER"] == uuid(n)
        assert env["VMCATCHER_EVENT_DC_TITLE"] == f"Image {n}"
        assert "VMCATCHER_EVENT_HV_FORMAT" not in env and "VMCATCHER_EVENT_FILENAME" not in env
    assert [r[0] for r in site.db.conn.execute("SELECT status FROM events")] == ["done", "done"]
