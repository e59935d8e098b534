# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The publishing database: created 0600 and migrated on open, a newer schema refused, rows
kept in list order, a list's images and signed versions deleted with it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from glancing.errors import EnvironmentProblem, UsageError
from glancing.publish import store
from glancing.publish.db import MIGRATIONS, open_db
from glancing.settings import parse_duration
from glancing.subscriptions.db import schema_version


def test_new_database_is_private_and_at_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "publish.db"
    with open_db(str(path)) as db:
        assert schema_version(db.conn) == len(MIGRATIONS)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    with open_db(str(path)) as db:  # opening again applies nothing twice
        assert db.conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "publish.db"
    open_db(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version(version, applied_at) VALUES (99, 'x')")
    with pytest.raises(EnvironmentProblem, match="schema version 99"):
        open_db(str(path))


def test_lists_images_and_signed_versions(tmp_path: Path) -> None:
    with open_db(str(tmp_path / "p.db")) as db:
        a = store.create_list(db, title="A", uri="https://x/a.list", lifetime=60)
        b = store.create_list(db, identifier="6b1e5f0e-2c1a-5d8e-9f00-0123456789ab", title="B",
                              uri="https://x/b.list", lifetime=60)
        with pytest.raises(UsageError, match="exists already"):
            store.create_list(db, identifier=b.id, title="B", uri="u", lifetime=1)
        with pytest.raises(UsageError, match="not a UUID"):
            store.create_list(db, identifier="nope", title="B", uri="u", lifetime=1)
        assert store.get_list(db, "6b1e5f0e").id == b.id
        for n in (3, 1, 2):
            store.put_image(db, a.id, store.ImageRow(f"img-{n}", {"dc:title": str(n)}, None))
        store.put_image(db, a.id, store.ImageRow("img-3", {"dc:title": "three"}, None))  # keeps its place
        assert [(i.uuid, i.entry["dc:title"]) for i in store.images(db, a.id)] == \
            [("img-3", "three"), ("img-1", "1"), ("img-2", "2")]
        signed = store.add_signed(db, a.id, "0.0.1", b"data")
        assert store.latest_signed(db, a.id) == signed and signed.uploaded_at is None
        store.delete_list(db, a.id)
        assert db.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
        assert db.conn.execute("SELECT COUNT(*) FROM signed").fetchone()[0] == 0
        with pytest.raises(UsageError, match="no list"):
            store.get_list(db, a.id)


@pytest.mark.parametrize("text,seconds", [("28d", 28 * 86400), ("12h", 43200), ("90m", 5400), ("3600", 3600),
                                          ("2w", 1209600), (" 7D ", 604800)])
def test_lifetime_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "3x", "-1d", "1.5d"])
def test_bad_lifetimes(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
