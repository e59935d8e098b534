# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Subscribed images into the real Glance lab: import, new version with a backup, expiry
(deactivated, hidden, tagged), a second sync that changes nothing and GETs no image, events
recorded by an ``env`` handler, and the cache variant."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, List

import pytest

from images import make_qcow2
from labtarget import lab_target, remove
from subs_sync_helpers import listed_events, row, select, served, store_list

from glancing.subscriptions import events as ev
from glancing.subscriptions.cache import Cache, CacheSettings, read_index
from glancing.subscriptions.db import Database
from glancing.subscriptions.sync import SubsSyncOptions, sync_subscriptions
from glancing.targets import names


class Counting:
    """A Target wrapper counting the calls a sync makes (``get`` is an image GET)."""

    def __init__(self, target: Any) -> None:
        self.target, self.calls = target, []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kw)
        return call


@pytest.fixture
def world(tmp_path: Path, http_server, lab):
    www = tmp_path / "www"
    www.mkdir()
    target = lab_target(lab)
    with Database.open(str(tmp_path / "state" / "glancing.db")) as db:
        yield tmp_path, www, http_server(www), target, db
    remove(lab.admin_glance(), target.store.created)


def run(db: Any, target: Any, tmp_path: Path, **kw: Any) -> Any:
    log = ev.EventLog(db, f"env >> {tmp_path / 'ev.env'}; echo ---- >> {tmp_path / 'ev.env'}",
                      base_env={"PATH": os.environ["PATH"]})
    return sync_subscriptions(db, target, SubsSyncOptions(**kw), log, set())


def qcow(seed: str):
    return lambda path: make_qcow2(path, seed=seed.encode(), size_mib=1)


def test_subscribed_images_into_glance_life_cycle(world) -> None:
    tmp, www, server, target, db = world
    tag = uuid.uuid4().hex[:8]
    sub = f"sub-{tag}"
    a = {**served(www, server, f"a{tag}.qcow2", qcow(tag + "a")), "title": f"subs {tag} A"}
    b = {**served(www, server, f"b{tag}.qcow2", qcow(tag + "b")), "title": f"subs {tag} B"}
    store_list(db, sub, f"https://lists.example.org/{tag}", [a, b], selected=[a["id"], b["id"]], version="1")
    glance = target.store

    first = run(db, target, tmp)
    assert sorted(o.action for o in first.outcomes) == ["imported", "imported"]
    ida = row(db, a["id"])["target_id"]
    image = glance.get(ida)
    assert image["name"] == f"subs {tag} A" and image["status"] == "active" and not image["os_hidden"]
    assert image["hepix_image_id"] == a["id"] and image[names.PROP_SUBSCRIPTION] == sub
    assert image["os_hash_value"] == json.loads(row(db, a["id"])["entry"])["sl:checksum:sha512"]

    # A second sync: nothing changes, no image is fetched from Glance, and no image byte is read.
    counting = Counting(target)
    gets_before = len(server.requests)
    second = run(db, counting, tmp)
    assert second.outcomes == [] and second.current == 2
    assert counting.calls == ["managed"] and len(server.requests) == gets_before

    # A new list version with a new image for A: imported; the previous one kept as a backup.
    a2 = {**served(www, server, f"a{tag}-2.qcow2", qcow(tag + "a2")), "id": a["id"], "title": f"subs {tag} A",
          "version": "2"}
    store_list(db, sub, f"https://lists.example.org/{tag}", [a2, b], version="2")
    third = run(db, target, tmp)
    assert [(o.uuid, o.action) for o in third.outcomes] == [(a["id"], "imported")]
    new_a = row(db, a["id"])["target_id"]
    backup = glance.get(ida)
    assert new_a != ida and backup["os_hidden"] and names.TAG_BACKUP in backup["tags"]
    assert backup["status"] == "active" and backup[names.PROP_REPLACED_BY] == new_a

    # B dropped from the list: expired (deactivated, hidden, tagged); A untouched.
    store_list(db, sub, f"https://lists.example.org/{tag}", [a2], version="3")
    fourth = run(db, target, tmp)
    assert [(o.uuid, o.action, o.detail) for o in fourth.outcomes] == [(b["id"], "expired", "deactivated")]
    gone = glance.get(row(db, b["id"])["target_id"])
    assert gone["status"] == "deactivated" and gone["os_hidden"] and names.TAG_EXPIRED in gone["tags"]
    assert glance.get(new_a)["status"] == "active"
    assert run(db, target, tmp).outcomes == []

    seen = [e["VMCATCHER_EVENT_TYPE"] for e in listed_events(tmp / "ev.env")]
    assert seen[:6] == ["ProcessPrefix", "AvailablePrefix", "AvailablePostfix", "AvailablePrefix",
                        "AvailablePostfix", "ProcessPostfix"]
    expire = [e for e in listed_events(tmp / "ev.env") if e["VMCATCHER_EVENT_TYPE"].startswith("Expire")]
    assert [e["VMCATCHER_EVENT_TYPE"] for e in expire] == ["ExpirePrefix", "ExpirePostfix"]
    assert expire[1]["GLANCING_EVENT_GLANCE_ID"] == gone["id"]
    assert expire[1]["GLANCING_EVENT_STATUS"] == "deactivated"
    assert expire[1]["VMCATCHER_EVENT_DC_IDENTIFIER"] == b["id"]


def test_cache_variant_uploads_from_the_cache_and_writes_vmcatchers_index(world) -> None:
    tmp, www, server, target, db = world
    tag = uuid.uuid4().hex[:8]
    a = {**served(www, server, f"c{tag}.qcow2", qcow(tag + "c")), "title": f"subs {tag} C"}
    store_list(db, f"sub-{tag}", f"https://lists.example.org/{tag}", [a], selected=[a["id"]])
    cache = Cache(CacheSettings(str(tmp / "cache")), now_stamp=lambda: "2026-12-02_12-00-00")
    report = run(db, target, tmp, cache=cache)
    assert [o.action for o in report.outcomes] == ["imported"]
    image = target.store.get(row(db, a["id"])["target_id"])
    cached = tmp / "cache" / a["id"]
    assert image["size"] == cached.stat().st_size and image["source"] == a["uri"]  # not the cache path
    index = read_index(tmp / "cache")[a["id"]]
    assert index["filename"] == a["id"] and index["dc:title"] == f"subs {tag} C"
    assert index["hv:imagelist.dc:identifier"] == f"sub-{tag}"
    post = [e for e in listed_events(tmp / "ev.env") if e["VMCATCHER_EVENT_TYPE"] == "AvailablePostfix"][0]
    assert post["VMCATCHER_EVENT_FILENAME"] == a["id"]


# -- the commands, end to end: subscribe (a list signed by the tests' CA), select, sync ------------

from subskit import hepix_list  # noqa: E402
from trustkit import pki, sign_list  # noqa: E402,F401 (fixture)


def test_glance_manager_subscribe_select_sync_end_to_end(lab, tmp_path: Path, http_server, pki, run_cli) -> None:
    tag = uuid.uuid4().hex[:8]
    www = tmp_path / "www"
    (www / "lists").mkdir(parents=True)
    server = http_server(www)
    entries, ids = [], []
    for n in range(2):
        path = make_qcow2(www / f"e{tag}{n}.qcow2", seed=f"{tag}{n}".encode(), size_mib=1)
        ident = f"{tag}-0000-4000-8000-{n:012d}"
        ids.append(ident)
        entries.append({"hv:image": {"dc:identifier": ident, "dc:title": f"e2e {tag} {n}",
                                     "hv:uri": server.url(path.name), "hv:size": path.stat().st_size,
                                     "sl:checksum:sha512": __import__("hashlib").sha512(path.read_bytes()).hexdigest(),
                                     "hv:version": "1", "hv:format": "qcow2", "sl:os": "Linux", "sl:arch": "x86_64"}})
    list_id = f"{tag}-list"
    (tmp_path / "sign").mkdir()
    (www / "lists" / "l.list").write_bytes(
        sign_list(hepix_list(pki.good, "1", entries, identifier=list_id), pki.good, tmp_path / "sign"))
    trust = tmp_path / "trusted-endorsers"
    trust.write_text(f'hepix dn="{pki.good.subject_openssl}" ca="{pki.good.issuer_openssl}"\n')
    events = tmp_path / "events.env"
    common = ["--db", str(tmp_path / "db" / "g.db"), "--ca-dir", str(pki.ca_dirs["valid"]), "--trust", str(trust),
              "--lock", str(tmp_path / "gm.lock")]
    glance = lab.admin_glance()
    made: List[str] = []
    try:
        res = run_cli("glance_manager", *common, "subscribe", server.url("lists/l.list"))
        assert res.returncode == 0, res.stderr
        assert run_cli("glance_manager", *common, "select", *ids).returncode == 0
        res = run_cli("glance_manager", *common, "--json", "sync", "--event-cmd",
                      f"env >> {events}; echo ---- >> {events}", timeout=300)
        assert res.returncode == 0, res.stderr + res.stdout
        subs = json.loads(res.stdout)["subscriptions"]
        made = [o["image_id"] for o in subs["outcomes"]]
        assert sorted(o["action"] for o in subs["outcomes"]) == ["imported", "imported"]
        for image_id in made:
            image = glance.images.get(image_id)
            assert image["status"] == "active" and image["glancing_subscription"] == list_id
        assert [e["VMCATCHER_EVENT_TYPE"] for e in listed_events(events)] == [
            "ProcessPrefix", "AvailablePrefix", "AvailablePostfix", "AvailablePrefix", "AvailablePostfix",
            "ProcessPostfix"]

        image_gets = len(server.requests)
        res = run_cli("glance_manager", *common, "--json", "sync", timeout=300)
        assert res.returncode == 0, res.stderr
        again = json.loads(res.stdout)["subscriptions"]
        assert again["outcomes"] == [] and again["current"] == 2
        assert [r[1] for r in server.requests[image_gets:]] == ["/lists/l.list"]  # one conditional GET

        # A new list version: a new image for the first entry, the second one dropped.
        path = make_qcow2(www / f"e{tag}0-2.qcow2", seed=f"{tag}0-2".encode(), size_mib=1)
        entries = [{"hv:image": {**entries[0]["hv:image"], "hv:uri": server.url(path.name), "hv:version": "2",
                                 "hv:size": path.stat().st_size,
                                 "sl:checksum:sha512": __import__("hashlib").sha512(path.read_bytes()).hexdigest()}}]
        (www / "lists" / "l.list").write_bytes(
            sign_list(hepix_list(pki.good, "2", entries, identifier=list_id), pki.good, tmp_path / "sign"))
        os.utime(www / "lists" / "l.list", (1_800_000_000, 1_800_000_000))  # a new ETag
        res = run_cli("glance_manager", *common, "--json", "sync", timeout=300)
        assert res.returncode == 0, res.stderr + res.stdout
        outcomes = {o["uuid"]: o for o in json.loads(res.stdout)["subscriptions"]["outcomes"]}
        assert (outcomes[ids[0]]["action"], outcomes[ids[1]]["action"]) == ("imported", "expired")
        made.append(outcomes[ids[0]]["image_id"])
        first = {o["uuid"]: o["image_id"] for o in subs["outcomes"]}
        backup = glance.images.get(first[ids[0]])
        assert backup["os_hidden"] and "glancing-backup" in backup["tags"] and backup["status"] == "active"
        assert glance.images.get(outcomes[ids[0]]["image_id"])["status"] == "active"
        gone = glance.images.get(first[ids[1]])
        assert gone["status"] == "deactivated" and gone["os_hidden"] and "glancing-expired" in gone["tags"]
    finally:
        remove(glance, made)
