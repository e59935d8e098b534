# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Rows of the publishing database (glancing.publish.db): lists, their images, signed versions."""

from __future__ import annotations

import json
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from glancing.errors import UsageError
from glancing.subscriptions.db import Database
from glancing.targets.names import stamp


@dataclass(frozen=True)
class ListRow:
    """One image list as the endorser keeps it; ``version`` is the last one uploaded."""

    id: str
    title: str
    description: str
    uri: str
    source: Optional[str]
    vo: Optional[str]
    lifetime: int  # seconds from signing to dc:date:expires
    endorser_dn: Optional[str]
    endorser_ca: Optional[str]
    endorser_email: Optional[str]
    endorser_name: Optional[str]
    version: Optional[str]
    created_at: str
    changed_at: str


@dataclass(frozen=True)
class ImageRow:
    """One ``hv:image`` entry and the local file whose bytes it describes (if known)."""

    uuid: str
    entry: Dict[str, Any]
    file: Optional[str]


@dataclass(frozen=True)
class SignedRow:
    """A signed version of a list; ``uploaded_at`` is None until an upload succeeded."""

    id: int
    list_id: str
    version: str
    data: bytes
    signed_at: str
    uploaded_to: Optional[str]
    uploaded_at: Optional[str]


def _list(row: Any) -> ListRow:
    return ListRow(**{k: row[k] for k in row.keys()})


def create_list(db: Database, *, title: str, uri: str, lifetime: int, identifier: Optional[str] = None,
                description: str = "", source: Optional[str] = None, vo: Optional[str] = None) -> ListRow:
    """Add a list (a new UUID unless ``identifier``). UsageError when the id is taken or no UUID."""
    ident = identifier or str(uuidlib.uuid4())
    try:
        uuidlib.UUID(ident)
    except ValueError:
        raise UsageError(f"list identifier {ident!r} is not a UUID") from None
    now = stamp()
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM lists WHERE id = ?", (ident,)).fetchone():
            raise UsageError(f"list {ident} exists already")
        conn.execute("INSERT INTO lists(id, title, description, uri, source, vo, lifetime, created_at, "
                     "changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (ident, title, description, uri, source, vo, lifetime, now, now))
    return get_list(db, ident)


def get_list(db: Database, ident: str) -> ListRow:
    """The list ``ident`` (a unique prefix will do); UsageError when there is none or several."""
    rows = db.conn.execute("SELECT * FROM lists WHERE id = ? OR id LIKE ? ORDER BY id",
                           (ident, ident.replace("%", "").replace("_", "") + "%")).fetchall()
    exact = [r for r in rows if r["id"] == ident]
    if exact or len(rows) == 1:
        return _list((exact or rows)[0])
    if not rows:
        raise UsageError(f"no list {ident} in this database (see glancing-publish list ls)")
    raise UsageError(f"{ident} names {len(rows)} lists: give more of the identifier")


def all_lists(db: Database) -> List[ListRow]:
    return [_list(r) for r in db.conn.execute("SELECT * FROM lists ORDER BY created_at, id")]


def delete_list(db: Database, ident: str) -> ListRow:
    found = get_list(db, ident)
    with db.transaction() as conn:
        conn.execute("DELETE FROM lists WHERE id = ?", (found.id,))
    return found


def update_list(db: Database, list_id: str, **fields: Any) -> None:
    """Change list columns; every change marks the list changed since its last signature."""
    names = ", ".join(f"{k} = ?" for k in fields)
    with db.transaction() as conn:
        conn.execute(f"UPDATE lists SET {names}, changed_at = ? WHERE id = ?",
                     (*fields.values(), stamp(), list_id))


def images(db: Database, list_id: str) -> List[ImageRow]:
    rows = db.conn.execute("SELECT uuid, entry, file FROM images WHERE list_id = ? ORDER BY position",
                           (list_id,))
    return [ImageRow(r["uuid"], json.loads(r["entry"]), r["file"]) for r in rows]


def get_image(db: Database, list_id: str, ident: str) -> ImageRow:
    """An image of the list by UUID (a unique prefix will do); UsageError otherwise."""
    found = [i for i in images(db, list_id) if i.uuid == ident or i.uuid.startswith(ident.lower())]
    exact = [i for i in found if i.uuid == ident]
    if exact or len(found) == 1:
        return (exact or found)[0]
    if not found:
        raise UsageError(f"list {list_id} has no image {ident} (see glancing-publish list show)")
    raise UsageError(f"{ident} names {len(found)} images of list {list_id}: give more of the UUID")


def put_image(db: Database, list_id: str, image: ImageRow) -> None:
    """Insert or replace an image (a replaced one keeps its place in the list)."""
    with db.transaction() as conn:
        row = conn.execute("SELECT position FROM images WHERE list_id = ? AND uuid = ?",
                           (list_id, image.uuid)).fetchone()
        if row is None:
            last = conn.execute("SELECT MAX(position) FROM images WHERE list_id = ?", (list_id,)).fetchone()[0]
            position = (last or 0) + 1
        else:
            position = row[0]
        conn.execute("INSERT OR REPLACE INTO images(list_id, uuid, position, entry, file) VALUES (?, ?, ?, ?, ?)",
                     (list_id, image.uuid, position, json.dumps(image.entry, sort_keys=True), image.file))
        conn.execute("UPDATE lists SET changed_at = ? WHERE id = ?", (stamp(), list_id))


def remove_image(db: Database, list_id: str, ident: str) -> ImageRow:
    found = get_image(db, list_id, ident)
    with db.transaction() as conn:
        conn.execute("DELETE FROM images WHERE list_id = ? AND uuid = ?", (list_id, found.uuid))
        conn.execute("UPDATE lists SET changed_at = ? WHERE id = ?", (stamp(), list_id))
    return found


def add_signed(db: Database, list_id: str, version: str, data: bytes,
               endorser: Optional[Dict[str, Optional[str]]] = None) -> SignedRow:
    """Keep a signed version; ``endorser`` (first signature) is stored in the same transaction."""
    with db.transaction() as conn:
        if endorser:
            conn.execute("UPDATE lists SET endorser_dn = ?, endorser_ca = ?, endorser_email = ?, "
                         "endorser_name = ? WHERE id = ?",
                         (endorser["dn"], endorser["ca"], endorser["email"], endorser["name"], list_id))
        cur = conn.execute("INSERT INTO signed(list_id, version, data, signed_at) VALUES (?, ?, ?, ?)",
                           (list_id, version, data, stamp()))
        signed_id = cur.lastrowid
    found = latest_signed(db, list_id)
    assert found is not None and found.id == signed_id
    return found


def latest_signed(db: Database, list_id: str) -> Optional[SignedRow]:
    row = db.conn.execute("SELECT * FROM signed WHERE list_id = ? ORDER BY id DESC LIMIT 1",
                          (list_id,)).fetchone()
    return SignedRow(**{k: row[k] for k in row.keys()}) if row else None


def mark_uploaded(db: Database, signed: SignedRow, destination: str) -> None:
    """Record a successful upload: the list's published version becomes the signed one."""
    with db.transaction() as conn:
        conn.execute("UPDATE signed SET uploaded_to = ?, uploaded_at = ? WHERE id = ?",
                     (destination, stamp(), signed.id))
        conn.execute("UPDATE lists SET version = ? WHERE id = ?", (signed.version, signed.list_id))
