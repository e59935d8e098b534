# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager's one SQLite database, with versioned migrations applied at open.

vmcatcher's users had to run SQL by hand after each upgrade; here every migration is a list of
statements in ``MIGRATIONS`` applied in order, recorded in ``schema_version``. A released
migration is never edited: append a new one. A database written by a newer glancing (a version
this code does not know) is refused rather than guessed at.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Callable, Iterator, List, Optional, Sequence, Type, Union

from glancing.errors import EnvironmentProblem
from glancing.targets.names import stamp

DEFAULT_DATABASE = "/var/lib/glancing/glancing.db"

Migration = Union[Sequence[str], Callable[[sqlite3.Connection], None]]

_MIGRATION_1 = (
    """CREATE TABLE subscriptions(
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        username TEXT,
        password_file TEXT,
        new_images TEXT NOT NULL DEFAULT 'accept'
            CHECK (new_images IN ('accept', 'subscribe', 'refuse')),
        endorser_dn TEXT,
        endorser_ca TEXT,
        auto_endorsed INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT,
        last_error TEXT)""",
    """CREATE TABLE list_instances(
        id INTEGER PRIMARY KEY,
        subscription_id TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
        version TEXT NOT NULL,
        data_sha512 TEXT NOT NULL,
        created TEXT,
        expires TEXT,
        data BLOB NOT NULL,
        signer_dn TEXT,
        signer_ca TEXT,
        received_at TEXT NOT NULL,
        current INTEGER NOT NULL DEFAULT 1)""",
    "CREATE INDEX list_instances_subscription ON list_instances(subscription_id, current)",
    """CREATE TABLE images(
        uuid TEXT PRIMARY KEY,
        subscription_id TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
        selected INTEGER NOT NULL DEFAULT 0,
        available INTEGER NOT NULL DEFAULT 0,
        title TEXT,
        version TEXT,
        sha512 TEXT,
        size INTEGER,
        uri TEXT,
        format TEXT,
        entry TEXT NOT NULL,
        target_id TEXT,
        imported_sha512 TEXT,
        expired_at TEXT)""",
    "CREATE INDEX images_subscription ON images(subscription_id)",
    "CREATE INDEX images_sha512 ON images(sha512)",
    """CREATE TABLE events(
        id INTEGER PRIMARY KEY,
        session TEXT NOT NULL,
        type TEXT NOT NULL,
        env TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        done_at TEXT)""",
    "CREATE INDEX events_status ON events(status)",
    """CREATE TABLE verified_records(
        mpid TEXT PRIMARY KEY,
        url TEXT,
        etag TEXT,
        last_modified TEXT,
        data_sha512 TEXT NOT NULL,
        record TEXT NOT NULL,
        summary TEXT,
        signer_not_after TEXT,
        crl_fingerprint TEXT,
        verified_at TEXT NOT NULL)""",
)

# vmcatcher events that ``glance_manager vmcatcher-event --spool`` recorded for the next sync
# (glancing.subscriptions.vmcatcher); ``env`` holds only the event's VMCATCHER_* variables.
_MIGRATION_2 = (
    """CREATE TABLE vmcatcher_spool(
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        env TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        done_at TEXT)""",
)

# Append only. Index 0 is migration 1.
MIGRATIONS: List[Migration] = [_MIGRATION_1, _MIGRATION_2]


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration recorded in ``conn`` (0 for a new database)."""
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _prepare_file(path: Path) -> None:
    """Create the directory 0700 and the file 0600 before sqlite does (it would honour umask)."""
    if not path.parent.exists():
        try:
            path.parent.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise EnvironmentProblem(
                f"cannot create the database directory {path.parent}: {exc.strerror}") from exc
    if not path.exists():
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        except OSError as exc:
            raise EnvironmentProblem(f"cannot create the database {path}: {exc.strerror}") from exc
        os.close(fd)


def _migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version("
                 "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    conn.commit()
    # The write lock first, then the version: two runs opening a new database migrate once.
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        if current > len(migrations):
            raise EnvironmentProblem(
                f"the database {path} has schema version {current}, newer than this glancing "
                f"knows ({len(migrations)}): upgrade glancing or use another --db")
        for number in range(current + 1, len(migrations) + 1):
            step = migrations[number - 1]
            if callable(step):
                step(conn)
            else:
                for statement in step:
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version(version, applied_at) VALUES (?, ?)",
                         (number, stamp()))
    except BaseException:
        conn.rollback()
        raise
    # SQLite's DDL is transactional: every pending migration lands, or none.
    conn.commit()


class Database:
    """An open database; ``conn`` is the sqlite3 connection (rows as ``sqlite3.Row``)."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str = DEFAULT_DATABASE,
             migrations: Optional[Sequence[Migration]] = None) -> "Database":
        """Open (creating file and directory when missing) and bring the schema up to date.

        Raises EnvironmentProblem when the file cannot be created or opened, is not a database,
        or carries a newer schema than this code knows.
        """
        target = Path(path)
        _prepare_file(target)
        try:
            # Autocommit mode: ``transaction()`` and ``with conn`` decide where writes group.
            conn = sqlite3.connect(str(target), timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise EnvironmentProblem(f"cannot open the database {path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.isolation_level = "DEFERRED"
            _migrate(conn, target, MIGRATIONS if migrations is None else migrations)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise EnvironmentProblem(f"the database {path} is unusable: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, str(target))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Group writes: committed when the block ends, rolled back when it raises.

        IMMEDIATE takes the write lock at once, so two runs never interleave one update.
        """
        conn = self.conn
        if conn.in_transaction:
            # Nested use joins the outer transaction.
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()
