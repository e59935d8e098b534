# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The subscriptions database: file modes, migrations, refusal of a newer schema."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from glancing import errors
from glancing.subscriptions.db import MIGRATIONS, Database, schema_version

TABLES = {"subscriptions", "list_instances", "images", "events", "verified_records"}


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_0600_in_a_new_0700_directory(tmp_path):
    path = tmp_path / "new" / "deeper" / "glancing.db"
    with Database.open(str(path)) as db:
        names = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert TABLES <= names
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


def test_migrations_applied_once_and_recorded(tmp_path):
    path = tmp_path / "g.db"
    with Database.open(str(path)) as db:
        rows = db.conn.execute("SELECT version FROM schema_version").fetchall()
        assert [r[0] for r in rows] == list(range(1, len(MIGRATIONS) + 1))
        db.conn.execute("INSERT INTO subscriptions(id, url, created_at) VALUES ('a', 'u', 't')")
        db.conn.commit()
    with Database.open(str(path)) as db:
        rows = db.conn.execute("SELECT version FROM schema_version").fetchall()
        assert len(rows) == len(MIGRATIONS)
        assert db.conn.execute("SELECT url FROM subscriptions").fetchone()[0] == "u"


def test_appended_migration_applies_on_reopen(tmp_path):
    path = str(tmp_path / "g.db")
    Database.open(path).close()
    more = list(MIGRATIONS) + [["CREATE TABLE extra(x INTEGER)"]]
    with Database.open(path, migrations=more) as db:
        assert schema_version(db.conn) == len(MIGRATIONS) + 1
        db.conn.execute("SELECT x FROM extra").fetchall()


def test_failing_migration_leaves_the_previous_version(tmp_path):
    path = str(tmp_path / "g.db")
    Database.open(path).close()
    broken = list(MIGRATIONS) + [["CREATE TABLE extra(x INTEGER)", "NOT SQL"]]
    with pytest.raises(errors.EnvironmentProblem):
        Database.open(path, migrations=broken)
    with Database.open(path) as db:
        assert schema_version(db.conn) == len(MIGRATIONS)
        names = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master")}
        assert "extra" not in names


def test_newer_schema_is_refused_with_exit_7(tmp_path):
    path = str(tmp_path / "g.db")
    with Database.open(path) as db:
        db.conn.execute("INSERT INTO schema_version VALUES (99, 'x')")
        db.conn.commit()
    with pytest.raises(errors.EnvironmentProblem) as caught:
        Database.open(path)
    assert errors.exit_code(caught.value) == errors.ENVIRONMENT
    assert "99" in str(caught.value) and "\n" not in str(caught.value)


def test_not_a_database_is_an_environment_problem(tmp_path):
    path = tmp_path / "g.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(errors.EnvironmentProblem):
        Database.open(str(path))


def test_foreign_keys_cascade_and_wal(tmp_path):
    with Database.open(str(tmp_path / "g.db")) as db:
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with db.transaction() as conn:
            conn.execute("INSERT INTO subscriptions(id, url, created_at) VALUES ('s', 'u', 't')")
            conn.execute("INSERT INTO images(uuid, subscription_id, entry) VALUES ('i', 's', '{}')")
        with pytest.raises(sqlite3.IntegrityError):
            with db.transaction() as conn:
                conn.execute("INSERT INTO images(uuid, subscription_id, entry) "
                             "VALUES ('j', 'nobody', '{}')")
        with db.transaction() as conn:
            conn.execute("DELETE FROM subscriptions WHERE id='s'")
        assert db.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0


def test_transaction_rolls_back_on_error(tmp_path):
    with Database.open(str(tmp_path / "g.db")) as db:
        with pytest.raises(RuntimeError):
            with db.transaction() as conn:
                conn.execute("INSERT INTO subscriptions(id, url, created_at) VALUES ('s', 'u', 't')")
                raise RuntimeError("boom")
        assert db.conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0] == 0
