# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""One sync run against the shared FakeTarget (Glance itself: integration tests)."""

from __future__ import annotations

import copy
import datetime as dt
import os
import socket
import subprocess

import pytest

from faketarget import FakeTarget
from glancing.errors import PARTIAL, SourceError
from glancing.manager import service
from glancing.manager.lists import parse_lists
from glancing.manager.report import RunReport, Status
from glancing.manager.run import SyncOptions, sync
from glancing.model import DigestScope, Expected, ImageSpec, Location, Origin
from glancing.retry import RetryPolicy
from images import digest, make_raw
from manager_helpers import glance_dict, mpid

MD5, SHA512 = "a" * 32, "b" * 128


TITLE = "Alpine"


def spec_for(version: str, **props: str) -> ImageSpec:
    return ImageSpec(locations=(Location("http://127.0.0.1:9/x.img"),), origin=Origin.REMOTE,
                     expected=Expected(size=1024, digests={"md5": MD5, "sha512": SHA512},
                                       scope=DigestScope.UNCOMPRESSED),
                     name=TITLE, version=version, properties=props)


def run(store, text, fetch, **options):
    report = RunReport(started=dt.datetime.now(dt.timezone.utc), dry_run=options.get("dry_run", False))
    return sync(parse_lists([("l.txt", text)]), store, fetch, SyncOptions(**options), report)


def current(mp, **extra):
    return glance_dict("cur", TITLE, mpid=mp, version="1", checksum=MD5, os_hash_value=SHA512, **extra)


def test_no_op_run_makes_one_listing_and_nothing_else():
    ids = [mpid(str(n)) for n in range(200)]
    images = [glance_dict(f"i{n}", f"app{n}", mpid=m, version="1") for n, m in enumerate(ids)]
    store = FakeTarget(*images)
    before = copy.deepcopy(store.images)
    specs = {m: spec_for("1") for m in ids}

    def fetch(m):
        return ImageSpec(locations=specs[m].locations, origin=Origin.REMOTE, name=f"app{ids.index(m)}",
                         version="1")
    report = run(store, "\n".join(ids), fetch)
    assert report.exit_code() == 0 and report.counts()["unchanged"] == 200
    assert store.changes == [] and store.images == before


def test_bad_record_fails_its_id_only_and_holds_back_pruning():
    good, bad = mpid("good"), mpid("bad")
    backups = [glance_dict(f"b{d}", f"{TITLE} (0.{d})", tags=["glancing", "glancing-backup"], os_hidden=True,
                           created_at=f"2024-01-0{d}T00:00:00Z") for d in (1, 2, 3)]
    store = FakeTarget(current(good), *backups)

    def fetch(m):
        if m == bad:
            raise SourceError("every location failed")
        return spec_for("1")
    report = run(store, f"{bad}\n{good}\n", fetch)
    assert [o.status for o in report.outcomes] == [Status.FAILED, Status.OK]
    assert report.outcomes[0].where == "l.txt:1" and report.exit_code() == PARTIAL
    assert not [c for c in store.changes if c[0] == "delete"] and report.pruning_skipped
    clean = run(store, f"{good}\n", fetch, keep=1)
    assert [p.image_id for p in clean.pruned] == ["b1", "b2"] and set(store.images) == {"cur", "b3"}


def test_prune_deactivates_when_delete_is_refused():
    store = FakeTarget(current(mpid("x")), glance_dict("b1", f"{TITLE} (0)", tags=["glancing", "glancing-backup"]))
    store.refuse_delete = True
    report = run(store, mpid("x"), lambda m: spec_for("1"), keep=0)
    assert [p.result for p in report.pruned] == ["deactivated"]
    assert store.images["b1"]["status"] == "deactivated" and report.exit_code() == 0


def test_adoption_and_downgrade():
    new, old = mpid("new"), mpid("old")
    hand = glance_dict("hand", "my alpine", tags=[], checksum=MD5, os_hash_value=SHA512)
    store = FakeTarget(glance_dict("cur", TITLE, mpid=old, version="1", checksum="c" * 32), hand)
    report = run(store, f"{new}\n", lambda m: spec_for("2"))
    assert report.outcomes[0].action == "adopt" and report.exit_code() == 0
    assert store.images["hand"]["name"] == TITLE and "glancing" in store.images["hand"]["tags"]
    assert store.images["hand"]["mpid"] == new
    assert store.images["cur"]["name"] == f"{TITLE} (1)" and store.images["cur"]["os_hidden"] is True
    again = run(store, f"{old}\n", lambda m: spec_for("1"))
    assert again.outcomes[0].status is Status.REFUSED and again.exit_code() == PARTIAL


def test_dry_run_changes_nothing():
    store = FakeTarget(glance_dict("p", "x [glancing upload 1]", tags=["glancing", "glancing-pending"]),
                      current(mpid("old")))
    before = copy.deepcopy(store.images)
    report = run(store, mpid("new"), lambda m: spec_for("2"), dry_run=True)
    assert report.outcomes[0].action == "upgrade" and store.images == before
    assert store.changes == []


def pending(image_id, owner, created_at="2024-01-01T00:00:00Z", **marker):
    return glance_dict(image_id, f"{TITLE} [glancing upload {image_id}]", tags=["glancing", "glancing-pending"],
                       os_hidden=True, glancing_pending_name=TITLE, glancing_pending_owner=owner,
                       created_at=created_at, **marker)


def dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_pending_uploads_of_dead_runs_are_removed_live_and_others_left_alone():
    fresh = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    here = {"glancing_pending_host": socket.gethostname(), "glancing_pending_started": fresh}
    store = FakeTarget(pending("old", "glance_manager"), pending("busy", "glancing", fresh),
                       pending("dead", "glance_manager", fresh, glancing_pending_pid=str(dead_pid()), **here),
                       pending("live", "glance_manager", fresh, glancing_pending_pid=str(os.getppid()), **here),
                       pending("away", "glance_manager", fresh, glancing_pending_host="elsewhere",
                               glancing_pending_pid="1", glancing_pending_started=fresh),
                       pending("stale", "glancing"), current(mpid("a")))
    report = run(store, mpid("a"), lambda m: spec_for("1"))
    assert set(store.images) == {"busy", "live", "away", "stale", "cur"} and report.exit_code() == 0
    assert report.outcomes[0].action == "nothing"  # unpublished uploads are no appliance's images
    assert len(report.warnings) == 1 and "stale" in report.warnings[0]


def test_listings_are_kept_to_the_owner_project():
    store = FakeTarget(dict(current(mpid("a")), owner="me"),
                      glance_dict("theirs", TITLE, mpid=mpid("b"), version="9", owner="them",
                                  checksum=MD5, os_hash_value=SHA512, tags=[]))
    store.project = "me"
    report = run(store, mpid("b"), lambda m: spec_for("2"), dry_run=True)
    # Their image has the record's digest but is never adopted: the plan is an upload.
    assert report.outcomes[0].action == "upgrade" and report.outcomes[0].retired_id == "cur"


def test_rollback_steps(tmp_path):
    store = FakeTarget(glance_dict("v2", TITLE, mpid=mpid("2"), version="2", created_at="2024-01-05T00:00:00Z"),
                      glance_dict("v1", f"{TITLE} (1)", mpid=mpid("1"), version="1", os_hidden=True,
                                  tags=["glancing", "glancing-backup"], glancing_replaced_by="v2"))
    lock = str(tmp_path / "lock")
    planned = service.rollback(lambda: store, TITLE, lock, dry_run=True)
    assert planned.describe().startswith("would make v1") and store.changes == []
    assert "v1 is current again" in service.rollback(lambda: store, TITLE, lock).describe()
    v1, v2 = store.images["v1"], store.images["v2"]
    assert (v1["name"], v1["os_hidden"], v1["tags"]) == (TITLE, False, ["glancing"])
    assert "glancing_replaced_by" not in v1
    assert v2["name"] == f"{TITLE} (2)" and "glancing-backup" in v2["tags"] and v2["glancing_rolled_back"]
    # The next sync does not reinstate the rolled-back version.
    report = run(store, mpid("2"), lambda m: spec_for("2"))
    assert report.outcomes[0].status is Status.REFUSED and "rolled back" in report.outcomes[0].message


@pytest.mark.parametrize("jobs", [1, 4])
def test_jobs_keep_report_order(jobs):
    ids = [mpid(f"j{n}") for n in range(8)]
    store = FakeTarget(*[glance_dict(f"i{n}", f"app{n}", mpid=m) for n, m in enumerate(ids)])

    def fetch(m):
        return ImageSpec(locations=(), origin=Origin.REMOTE, name=f"app{ids.index(m)}")
    report = run(store, "\n".join(ids), fetch, jobs=jobs)
    assert [o.mpid for o in report.outcomes] == ids and report.exit_code() == 0


def test_an_interrupted_upload_is_sent_again_under_the_injected_policy(tmp_path):
    raw = make_raw(tmp_path / "a.img", size_mib=1)
    spec = ImageSpec(locations=(Location(str(raw)),), origin=Origin.USER, name=TITLE, version="2",
                     expected=Expected(digests={"sha256": digest(raw)}))
    store = FakeTarget(current(mpid("old")))
    store.interrupt_uploads = 1
    pauses = []
    report = run(store, mpid("new"), lambda m: spec, image_retry=RetryPolicy(retries=2, sleep=pauses.append))
    assert report.exit_code() == 0 and len(pauses) == 1, report.summary()
    [new] = store.current(TITLE)
    assert new["os_hash_value"] == digest(raw, "sha512") and new["mpid"] == mpid("new")
    assert [i["id"] for i in store.images.values() if "glancing-pending" in i["tags"]] == []
    assert store.images["cur"]["name"] == f"{TITLE} (1)" and store.images["cur"]["os_hidden"] is True


def test_a_verification_failure_is_not_sent_again(tmp_path):
    raw = make_raw(tmp_path / "a.img", size_mib=1)
    spec = ImageSpec(locations=(Location(str(raw)),), origin=Origin.USER, name=TITLE, version="2",
                     expected=Expected(digests={"sha256": "0" * 64}))
    store = FakeTarget(current(mpid("old")))
    pauses = []
    report = run(store, mpid("new"), lambda m: spec, image_retry=RetryPolicy(retries=2, sleep=pauses.append))
    assert report.exit_code() == PARTIAL and pauses == [] and "digest mismatch" in report.outcomes[0].message
    assert set(store.images) == {"cur"}
