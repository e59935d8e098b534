# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""ManagedImage from Glance image dicts, grouping by appliance, and the status table."""

from __future__ import annotations

import datetime as dt

from glancing.manager.images import Snapshot, from_glance, parse_timestamp
from glancing.manager.status import format_status, human_age, status_rows
from manager_helpers import backup, glance_dict, image, when

T = "CentOS-7 (x86_64)"  # a title with parentheses of its own


def test_from_glance_splits_core_fields_and_properties():
    raw = glance_dict("id1", T, mpid="M", version="7.9", checksum="ab", os_hash_value="cd",
                      os_hidden="True", tags=["glancing", "glancing-backup"], size="42",
                      created_at="2024-01-02T03:04:05Z", source="http://x", min_ram=0, kernel_id=None)
    img = from_glance(raw)
    assert (img.id, img.name, img.mpid, img.version) == ("id1", T, "M", "7.9")
    assert (img.checksum, img.os_hash_algo, img.os_hash_value, img.size) == ("ab", "sha512", "cd", 42)
    assert img.hidden and img.is_backup and img.managed
    assert img.created_at == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert img.properties == {"mpid": "M", "version": "7.9", "source": "http://x"}


def test_from_glance_tolerates_missing_fields():
    img = from_glance({"id": "x"})
    assert (img.name, img.mpid, img.status, img.hidden, img.tags, img.created_at) == ("", None, "", False, (), None)


def test_parse_timestamp():
    assert parse_timestamp("2016-05-17T06:39:18Z") == dt.datetime(2016, 5, 17, 6, 39, 18, tzinfo=dt.timezone.utc)
    assert parse_timestamp("2016-05-17T06:39:18") .tzinfo is dt.timezone.utc
    assert parse_timestamp("yesterday") is None and parse_timestamp(None) is None


def test_snapshot_groups_current_and_backups_by_appliance():
    images = [
        image("cur", T, mpid="m3", version="3", created_at="2024-01-09T00:00:00Z"),
        backup("b2", T, "2", day=5, mpid="m2"),
        backup("b1", T, "1", day=1, mpid="m1"),
        backup("x1", "Other", "1", day=1, glancing_appliance=T),  # explicit appliance wins
        image("alien", "Debian", tags=["someone-else"]),           # not managed: ignored
    ]
    snap = Snapshot(images)
    group = snap.appliance(T)
    assert [i.id for i in group.current] == ["cur"]
    assert [i.id for i in group.backups] == ["b1", "x1", "b2"]  # oldest first
    assert [a.name for a in snap.appliances()] == [T]
    assert [i.id for i in snap.with_mpid("m2")] == ["b2"]
    assert snap.appliance("none").current == ()


def test_status_table():
    snap = Snapshot([
        image("cur", T, mpid="m3", version="3", created_at="2024-01-09T00:00:00Z"),
        backup("b1", T, "1", day=1, mpid="m1", status="deactivated"),
        backup("b2", T, "2", day=5, mpid="m2", glancing_rolled_back="2024-01-06T00:00:00Z"),
    ])
    rows = status_rows(snap, now=when(10, 6))
    assert [(r.image_id, r.state, r.age) for r in rows] == [
        ("cur", "current", "1d"), ("b2", "rolled-back", "5d"), ("b1", "backup (deactivated)", "9d")]
    text = format_status(rows)
    assert text.splitlines()[0].split() == ["APPLIANCE", "VERSION", "MPID", "STATE", "AGE", "IMAGE", "ID"]
    assert "m2" in text.splitlines()[2]
    assert format_status([]).startswith("no image managed")
    assert rows[0].to_dict()["appliance"] == T


def test_human_age():
    assert [human_age(when(1) - dt.timedelta(seconds=s), when(1)) for s in (5, 120, 7200)] == ["5s", "2m", "2h"]
    assert human_age(None, when(1)) == "?"
