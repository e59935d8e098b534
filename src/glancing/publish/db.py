# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glancing-publish's SQLite database: the endorser's lists, their images and signed versions.

Opened through glancing.subscriptions.db.Database, so it shares the migration machinery
(``schema_version``, all-or-nothing, a newer schema refused). A released migration is never
edited: append one. ``lists.version`` is the ``hv:version`` last UPLOADED: a list is signed
into ``signed`` with the next version, and only a successful upload moves ``lists.version``
(vmcaster 0.0.22 bumped it on a failed upload too).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

from glancing.subscriptions.db import Database, Migration

DEFAULT_DATABASE = str(Path("~/.local/share/glancing/publish.db").expanduser())

_MIGRATION_1 = (
    """CREATE TABLE lists(
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        uri TEXT NOT NULL,
        source TEXT,
        vo TEXT,
        lifetime INTEGER NOT NULL,
        endorser_dn TEXT,
        endorser_ca TEXT,
        endorser_email TEXT,
        endorser_name TEXT,
        version TEXT,
        created_at TEXT NOT NULL,
        changed_at TEXT NOT NULL)""",
    """CREATE TABLE images(
        list_id TEXT NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
        uuid TEXT NOT NULL,
        position INTEGER NOT NULL,
        entry TEXT NOT NULL,
        file TEXT,
        PRIMARY KEY (list_id, uuid))""",
    """CREATE TABLE signed(
        id INTEGER PRIMARY KEY,
        list_id TEXT NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
        version TEXT NOT NULL,
        data BLOB NOT NULL,
        signed_at TEXT NOT NULL,
        uploaded_to TEXT,
        uploaded_at TEXT)""",
    "CREATE INDEX signed_list ON signed(list_id, id)",
)

# Append only. Index 0 is migration 1.
MIGRATIONS: List[Migration] = [_MIGRATION_1]


def open_db(path: str) -> Database:
    """Open (creating it 0600, with its directory) and migrate the publishing database.

    Raises EnvironmentProblem when it cannot be created or carries a newer schema.
    """
    return Database.open(path, migrations=MIGRATIONS)
