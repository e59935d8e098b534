# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A marketplace ID taken out of its -l list is expired like an unendorsed subscribed image
(over the shared FakeTarget; the Glance side of Target.expire is in test_subs_sync_glance.py)."""

from __future__ import annotations

import datetime as dt
import os

from faketarget import FakeTarget
from glancing.errors import SourceError
from glancing.manager.lists import parse_lists
from glancing.manager.report import RunReport
from glancing.manager.run import SyncOptions, sync
from glancing.model import ImageSpec, Location, Origin
from glancing.targets import names
from manager_helpers import glance_dict, mpid

LIST = os.path.abspath("sites/a.txt")


def image(image_id: str, name: str, mp: str, listed_in: str = LIST, **extra):
    return glance_dict(image_id, name, mpid=mp, version="1", **{names.PROP_LIST: listed_in}, **extra)


def run(store, text, fetch=None, path="sites/a.txt", **options):
    report = RunReport(started=dt.datetime.now(dt.timezone.utc), dry_run=options.get("dry_run", False))
    fetch = fetch or (lambda m: ImageSpec((Location("http://127.0.0.1:9/x"),), Origin.REMOTE,
                                          name={mpid("a"): "A", mpid("b"): "B"}.get(m, "X"), version="1"))
    return sync(parse_lists([(path, text)]), store, fetch, SyncOptions(**options), report)


def test_an_id_taken_out_of_its_list_is_expired_and_the_others_stay():
    store = FakeTarget(image("ia", "A", mpid("a")), image("ib", "B", mpid("b")),
                       image("other", "C", mpid("c"), listed_in="/elsewhere/b.txt"),
                       glance_dict("old", "D", mpid=mpid("d"), version="1"))
    report = run(store, f"{mpid('a')}\n")
    assert [(p.image_id, p.result) for p in report.expired] == [("ib", "deactivated")]
    b = store.images["ib"]
    assert b["os_hidden"] and names.TAG_EXPIRED in b["tags"] and b["status"] == "deactivated"
    # another list file's image, and one imported before the list was recorded, are left alone
    assert names.TAG_EXPIRED not in store.images["other"]["tags"]
    assert names.TAG_EXPIRED not in store.images["old"]["tags"]
    assert report.exit_code() == 0 and "no longer listed, expired: B (ib: deactivated)" in report.summary()
    assert report.to_dict()["expired"][0]["image_id"] == "ib"
    assert run(store, f"{mpid('a')}\n").expired == []  # an expired image is no appliance any more


def test_an_emptied_list_expires_its_images_with_the_configured_rule():
    store = FakeTarget(image("ia", "A", mpid("a")))
    report = run(store, "# nothing left\n", on_expire="delete")
    assert [(p.image_id, p.result) for p in report.expired] == [("ia", "deleted")] and "ia" not in store.images


def test_no_expiry_in_a_run_where_an_image_failed():
    store = FakeTarget(image("ia", "A", mpid("a")), image("ib", "B", mpid("b")))

    def fetch(m):
        raise SourceError("every location failed")
    report = run(store, f"{mpid('a')}\n", fetch)
    assert report.expired == [] and names.TAG_EXPIRED not in store.images["ib"]["tags"]


def test_a_dry_run_only_plans_the_expiry():
    store = FakeTarget(image("ia", "A", mpid("a")), image("ib", "B", mpid("b")))
    report = run(store, f"{mpid('a')}\n", dry_run=True)
    assert [(p.image_id, p.result) for p in report.expired] == [("ib", "planned")] and store.changes == []


def test_imports_record_the_list_that_brought_them(tmp_path):
    from images import make_raw
    from glancing.model import DigestScope, Expected

    path = make_raw(tmp_path / "a.img", 1)
    spec = ImageSpec((Location(str(path)),), Origin.USER, Expected(size=path.stat().st_size), name="A", version="1")
    store = FakeTarget()
    report = run(store, f"{mpid('a')}\n", lambda m: spec)
    assert report.exit_code() == 0, report.summary()
    [made] = [i for i in store.images.values() if i.get("mpid") == mpid("a")]
    assert made[names.PROP_LIST] == LIST


def test_an_appliance_still_listed_under_another_id_is_not_expired():
    # a rollback made the older ID's image current while the list names the newer ID
    store = FakeTarget(image("ia", "A", mpid("old")))
    report = run(store, f"{mpid('a')}\n", lambda m: ImageSpec((Location("http://127.0.0.1:9/x"),), Origin.REMOTE,
                                                              name="A", version="0"))
    assert report.expired == [] and names.TAG_EXPIRED not in store.images["ia"]["tags"]
