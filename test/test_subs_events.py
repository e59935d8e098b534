# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Events: recorded before they run, run through the shell with vmcatcher's variables, a failing
or overrunning handler kept and replayed (vmcatcher.md section 5). Real shells, a real database."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Dict, List

import pytest

from glancing.subscriptions import events as ev
from glancing.subscriptions.db import Database
from trustkit import NOW, pki  # noqa: F401 (fixture)


@pytest.fixture
def db(tmp_path: Path):
    with Database.open(str(tmp_path / "db" / "glancing.db")) as database:
        yield database


def recorder(tmp_path: Path) -> str:
    """A handler that appends its whole environment, then a separator, to a file."""
    out = tmp_path / "events.env"
    return f"env >> {out}; echo ---- >> {out}"


def recorded(tmp_path: Path) -> List[Dict[str, str]]:
    text = (tmp_path / "events.env").read_text()
    found = []
    for block in text.split("----\n")[:-1]:
        found.append(dict(line.split("=", 1) for line in block.splitlines() if "=" in line))
    return found


ENTRY = {"dc:identifier": "uuid-1", "dc:title": "CentOS 7", "dc:description": "", "hv:uri": "http://h/i.img",
         "hv:size": 1024, "hv:version": "1.2", "hv:format": "qcow2", "sl:arch": "x86_64",
         "sl:checksum:sha512": "ab" * 64, "ad:mpuri": "https://appdb/x"}


def test_events_carry_vmcatcher_variables_in_order(db, tmp_path: Path) -> None:
    log = ev.EventLog(db, recorder(tmp_path), timeout=10, base_env={"PATH": os.environ["PATH"], "SITE": "x"})
    log.emit(ev.PROCESS_PREFIX)
    fields = ev.image_fields(ENTRY, "list-1", "vo.example", "uuid-1")
    log.emit(ev.AVAILABLE_PREFIX, fields)
    log.emit(ev.AVAILABLE_POSTFIX, {**fields, ev.GLANCE_ID: "g-1", ev.STATUS: "imported"})
    log.emit(ev.SUBSCRIPTION_IMAGE_NEW, fields)
    log.emit(ev.PROCESS_POSTFIX)
    seen = recorded(tmp_path)
    assert [e["VMCATCHER_EVENT_TYPE"] for e in seen] == [
        "ProcessPrefix", "AvailablePrefix", "AvailablePostfix", "SubscriptionImageNew", "ProcessPostfix"]
    assert {e["VMCATCHER_EVENT_UUID_SESSION"] for e in seen} == {log.session}
    assert all(e["SITE"] == "x" for e in seen)  # the parent environment is handed on
    process = {k for k in seen[0] if k.startswith("VMCATCHER_EVENT_")}
    assert process == {"VMCATCHER_EVENT_TYPE", "VMCATCHER_EVENT_UUID_SESSION"}
    post = seen[2]
    assert post["VMCATCHER_EVENT_DC_IDENTIFIER"] == "uuid-1"
    assert post["VMCATCHER_EVENT_HV_SIZE"] == "1024"
    assert post["VMCATCHER_EVENT_HV_FORMAT"] == "qcow2"
    assert post["VMCATCHER_EVENT_SL_CHECKSUM_SHA512"] == "ab" * 64
    assert post["VMCATCHER_EVENT_IL_DC_IDENTIFIER"] == "list-1"
    assert post["VMCATCHER_EVENT_VO"] == "vo.example"
    assert post["VMCATCHER_EVENT_FILENAME"] == "uuid-1"
    assert post["GLANCING_EVENT_GLANCE_ID"] == "g-1" and post["GLANCING_EVENT_STATUS"] == "imported"
    assert "VMCATCHER_EVENT_DC_DESCRIPTION" not in post  # empty values are left out, as vmcatcher does
    new = seen[3]
    for absent in ("HV_FORMAT", "AD_MPURI", "VO", "IL_DC_IDENTIFIER", "FILENAME"):
        assert f"VMCATCHER_EVENT_{absent}" not in new
    assert new["VMCATCHER_EVENT_DC_TITLE"] == "CentOS 7"
    assert ev.undone(db) == []


def test_the_parent_environment_is_not_stored(db, tmp_path: Path) -> None:
    log = ev.EventLog(db, "true", base_env={"PATH": os.environ["PATH"], "OS_PASSWORD": "secret"})
    log.emit(ev.PROCESS_PREFIX)
    stored = db.conn.execute("SELECT env FROM events").fetchone()[0]
    assert "secret" not in stored and "VMCATCHER_EVENT_TYPE" in stored


def test_a_failing_handler_is_kept_and_replayed_by_a_later_run(db, tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    command = f"test -e {flag} && {{ {recorder(tmp_path)}; }} || {{ echo handler broke >&2; exit 3; }}"
    first = ev.EventLog(db, command, base_env={"PATH": os.environ["PATH"]})
    event = first.emit(ev.EXPIRE_POSTFIX, {"DC_IDENTIFIER": "uuid-9"})
    assert event is not None and event.status == "failed" and event.attempts == 1
    assert "status 3" in (event.last_error or "") and "handler broke" in (event.last_error or "")
    assert first.failures == 1
    assert [e.id for e in ev.undone(db)] == [event.id]
    flag.touch()
    later = ev.EventLog(db, command, base_env={"PATH": os.environ["PATH"]})
    replayed = later.replay()
    assert [(e.id, e.status, e.attempts) for e in replayed] == [(event.id, "done", 2)]
    seen = recorded(tmp_path)
    assert seen[0]["VMCATCHER_EVENT_TYPE"] == "ExpirePostfix"
    assert seen[0]["VMCATCHER_EVENT_UUID_SESSION"] == first.session  # the event as it was, session included
    assert ev.undone(db) == []
    assert later.replay() == []


def test_an_overrunning_handler_is_killed_with_its_process_group(db, tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    log = ev.EventLog(db, f"sleep 30 & echo $! > {child}; wait", timeout=0.5,
                      base_env={"PATH": os.environ["PATH"]})
    started = time.monotonic()
    event = log.emit(ev.PROCESS_PREFIX)
    assert time.monotonic() - started < 10
    assert event is not None and event.status == "failed" and "longer than 0.5 s" in (event.last_error or "")
    pid = int(child.read_text())
    for _ in range(50):  # the kill is sent; the zombie is reaped by init
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the handler's child survived the timeout")


def test_without_a_command_nothing_is_recorded(db) -> None:
    log = ev.EventLog(db, None)
    assert log.emit(ev.PROCESS_PREFIX) is None
    assert db.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_a_command_that_cannot_start_fails_the_event_not_the_run(db, tmp_path: Path) -> None:
    log = ev.EventLog(db, str(tmp_path / "no-such-handler"), base_env={"PATH": os.environ["PATH"]})
    event = log.emit(ev.PROCESS_PREFIX)
    assert event is not None and event.status == "failed" and "status 127" in (event.last_error or "")


def test_glance_manager_events_lists_and_replays(tmp_path: Path, capsys) -> None:
    import json

    from glancing.cli.manager import main

    path = tmp_path / "db" / "g.db"
    with Database.open(str(path)) as database:
        ev.EventLog(database, "exit 1", base_env={"PATH": os.environ["PATH"]}).emit(
            ev.AVAILABLE_POSTFIX, {"DC_IDENTIFIER": "uuid-7"})
    assert main(["--db", str(path), "events", "--json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert (shown["type"], shown["status"], shown["env"]["VMCATCHER_EVENT_DC_IDENTIFIER"]) == (
        "AvailablePostfix", "failed", "uuid-7")
    assert main(["--db", str(path), "events", "--replay", "--event-cmd", "exit 2"]) == 8
    assert "tries 2" in capsys.readouterr().out
    assert main(["--db", str(path), "events", "--replay", "--event-cmd", "true"]) == 0
    assert main(["--db", str(path), "events"]) == 0
    assert "no pending or failed events" in capsys.readouterr().out


def test_a_sync_fires_subscription_image_new_then_the_cache_events_and_refused_updates_count(pki, tmp_path):
    """run_subscriptions: the update (real signed lists, conditional GETs) then the sync; a list
    bringing a new image fires SubscriptionImageNew with only the raw list keys."""
    from faketarget import FakeTarget
    from subskit import HTTP, image, make_site, uuid

    from glancing.subscriptions import service
    from glancing.subscriptions.runsync import EventSettings, SubsRunRequest, run_subscriptions
    from glancing.subscriptions.service import SubscribeOptions
    from glancing.subscriptions.sync import SubsSyncOptions

    site = make_site(pki, tmp_path)
    try:
        site.publish("1", [image(1)])
        service.subscribe(site.db, site.url, SubscribeOptions(), HTTP, site.policy, NOW)
        site.publish("2", [image(1), image(2, **{"hv:format": "raw"})])
        out = tmp_path / "ev.env"
        request = SubsRunRequest(site.db.path, SubsSyncOptions(),
                                 EventSettings(f"env >> {out}; echo ---- >> {out}", 10, {"PATH": os.environ["PATH"]}),
                                 HTTP, policy=lambda: site.policy)
        result = run_subscriptions(request, FakeTarget, now=lambda: NOW)
        assert result is not None and [u.status for u in result.updates] == ["updated"]
        assert result.exit_code() == 0 and result.report.outcomes == []  # nothing selected
        seen = [dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
                for block in out.read_text().split("----\n")[:-1]]
        assert [e["VMCATCHER_EVENT_TYPE"] for e in seen] == ["SubscriptionImageNew", "ProcessPrefix", "ProcessPostfix"]
        new = seen[0]
        assert new["VMCATCHER_EVENT_DC_IDENTIFIER"] == uuid(2) and "VMCATCHER_EVENT_HV_FORMAT" not in new
        assert "VMCATCHER_EVENT_IL_DC_IDENTIFIER" not in new
        site.publish("1", [image(1)])  # a downgrade: refused, the run's code says so
        refused = run_subscriptions(request, FakeTarget, now=lambda: NOW)
        assert refused is not None and refused.exit_code() == 5 and "refused" in refused.summary()
    finally:
        site.server.stop()
        site.db.close()


def test_the_next_sync_carries_out_spooled_vmcatcher_events(tmp_path: Path) -> None:
    from faketarget import FakeTarget
    from manager_helpers import glance_dict

    from glancing.subscriptions import vmcatcher
    from glancing.subscriptions.runsync import SubsRunRequest, run_subscriptions
    from glancing.subscriptions.sync import SubsSyncOptions
    from glancing.targets import names

    path = tmp_path / "db" / "g.db"
    target = FakeTarget(glance_dict("img-1", "Handled by vmcatcher", tags=["glancing"], hepix_image_id="uuid-5",
                                    vmcatcher_event_dc_identifier="uuid-5"))
    event = vmcatcher.HandlerEvent.from_env({"VMCATCHER_EVENT_TYPE": "ExpirePrefix",
                                             "VMCATCHER_EVENT_DC_IDENTIFIER": "uuid-5"})
    with Database.open(str(path)) as database:
        vmcatcher.spool(database, event, {})
    result = run_subscriptions(SubsRunRequest(str(path), SubsSyncOptions(), update=False), lambda: target)
    assert result is not None and [(r.type, r.action) for r in result.spooled] == [("ExpirePrefix", "expired")]
    assert result.to_dict()["spooled"][0]["type"] == "ExpirePrefix" and result.exit_code() == 0
    image = target.images["img-1"]
    assert image["status"] == "deactivated" and names.TAG_EXPIRED in image["tags"]
    with Database.open(str(path)) as database:
        assert database.conn.execute("SELECT status FROM vmcatcher_spool").fetchone()[0] == "done"
    again = run_subscriptions(SubsRunRequest(str(path), SubsSyncOptions(), update=False), lambda: target)
    assert again is not None and again.spooled == []  # carried out once
