# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The vmcatcher-event spool (pure bookkeeping): an event whose file is not there yet fails,
stays in the database and is carried out by a later run, once. FakeTarget is the contract-checked
in-memory target (test_target_contract.py); the Glance side is proven in
test_vmcatcher_event_glance.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from faketarget import FakeTarget
from glancing.errors import UsageError
from glancing.subscriptions.db import Database
from glancing.subscriptions.vmcatcher import HandlerEvent, HandlerOptions, process_spool, read_mapping, spool


def event_env(cache: Path, data: bytes) -> dict:
    return {"VMCATCHER_EVENT_TYPE": "AvailablePostfix", "VMCATCHER_CACHE_DIR_CACHE": str(cache),
            "VMCATCHER_EVENT_FILENAME": "img-1", "VMCATCHER_EVENT_DC_IDENTIFIER": "img-1",
            "VMCATCHER_EVENT_DC_TITLE": "Title One", "VMCATCHER_EVENT_HV_SIZE": str(len(data)),
            "VMCATCHER_EVENT_HV_FORMAT": "raw", "PATH": "/not/kept",
            "VMCATCHER_EVENT_SL_CHECKSUM_SHA512": hashlib.sha512(data).hexdigest()}


def test_a_failed_spooled_event_is_kept_and_done_once_later(tmp_path):
    data = b"\0" * 65536
    cache = tmp_path / "cache"
    cache.mkdir()
    db = Database.open(str(tmp_path / "db" / "glancing.db"))
    target = FakeTarget()
    try:
        spool(db, HandlerEvent.from_env(event_env(cache, data)), {"Title One": "Mapped"})
        stored = db.conn.execute("SELECT env FROM vmcatcher_spool").fetchone()[0]
        assert "PATH" not in stored and "Mapped" in stored  # only the event, and the mapped name
        [failed] = process_spool(db, lambda: target, HandlerOptions())
        assert failed.action == "failed" and "img-1" in failed.message  # vmcatcher has not cached it yet
        row = db.conn.execute("SELECT status, attempts FROM vmcatcher_spool").fetchone()
        assert tuple(row) == ("failed", 1)
        (cache / "img-1").write_bytes(data)
        [done] = process_spool(db, lambda: target, HandlerOptions())
        assert done.action == "imported"
        assert [i["name"] for i in target.images.values()] == ["Mapped"]
        assert process_spool(db, lambda: target, HandlerOptions()) == []
    finally:
        db.conn.close()


def test_mapping_lines_are_checked(tmp_path):
    good = tmp_path / "map"
    good.write_text("# comment\nCentOS 7 = centos-7\n\n")
    assert read_mapping(str(good)) == {"CentOS 7": "centos-7"}
    bad = tmp_path / "bad"
    bad.write_text("CentOS 7 centos-7\n")
    with pytest.raises(UsageError, match="bad:1"):
        read_mapping(str(bad))


@pytest.mark.parametrize("key, value, words", [
    ("VMCATCHER_EVENT_HV_SIZE", "12k", "not a size"),
    ("VMCATCHER_EVENT_SL_CHECKSUM_SHA512", "abc", "not a sha512"),
    ("VMCATCHER_EVENT_FILENAME", "../etc/passwd", "not a file name"),
])
def test_malformed_variables_are_named(tmp_path, key, value, words):
    env = {**event_env(tmp_path, b"x"), key: value}
    with pytest.raises(UsageError, match=f"{key}.*{words}|{words}"):
        HandlerEvent.from_env(env)
