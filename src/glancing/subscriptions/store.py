# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Rows of the subscriptions database as dataclasses, and the queries the commands share."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from glancing.errors import UsageError
from glancing.subscriptions.db import Database
from glancing.subscriptions.fetch import Credentials

NEW_IMAGES = ("accept", "subscribe", "refuse")


@dataclass(frozen=True)
class Subscription:
    """One ``subscriptions`` row."""

    id: str
    url: str
    username: Optional[str] = None
    password_file: Optional[str] = None
    new_images: str = "accept"
    endorser_dn: Optional[str] = None
    endorser_ca: Optional[str] = None
    auto_endorsed: bool = False
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    created_at: str = ""
    updated_at: Optional[str] = None
    last_error: Optional[str] = None

    @classmethod
    def of(cls, row: sqlite3.Row) -> "Subscription":
        values = dict(row)
        values["auto_endorsed"] = bool(values["auto_endorsed"])
        return cls(**values)

    @property
    def credentials(self) -> Optional[Credentials]:
        if self.username and self.password_file:
            return Credentials(self.username, self.password_file)
        return None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ListInstance:
    """The current (or an older) stored list of a subscription; ``data`` as received."""

    id: int
    subscription_id: str
    version: str
    data_sha512: str
    created: Optional[str]
    expires: Optional[str]
    data: bytes
    signer_dn: Optional[str]
    signer_ca: Optional[str]
    received_at: str
    current: bool

    @classmethod
    def of(cls, row: sqlite3.Row) -> "ListInstance":
        values = dict(row)
        values["current"] = bool(values["current"])
        values["data"] = bytes(values["data"])
        return cls(**values)


@dataclass(frozen=True)
class ImageRow:
    """One ``images`` row; ``state`` is vmcatcher's: 1 selected, 2 available, 3 both."""

    uuid: str
    subscription_id: str
    selected: bool
    available: bool
    title: Optional[str]
    version: Optional[str]
    sha512: Optional[str]
    size: Optional[int]
    uri: Optional[str]
    format: Optional[str]
    entry: str
    target_id: Optional[str]
    imported_sha512: Optional[str]
    expired_at: Optional[str]

    @classmethod
    def of(cls, row: sqlite3.Row) -> "ImageRow":
        values = dict(row)
        values["selected"], values["available"] = bool(values["selected"]), bool(values["available"])
        return cls(**values)

    @property
    def state(self) -> int:
        return (1 if self.selected else 0) + (2 if self.available else 0)

    def to_dict(self) -> Dict[str, Any]:
        values = asdict(self)
        values["state"] = self.state
        del values["entry"]
        return values


def subscriptions(db: Database) -> List[Subscription]:
    rows = db.conn.execute("SELECT * FROM subscriptions ORDER BY id").fetchall()
    return [Subscription.of(r) for r in rows]


def find_subscription(db: Database, id_or_url: str) -> Subscription:
    """The subscription with this identifier or URL. Raises UsageError naming the known ones."""
    row = db.conn.execute("SELECT * FROM subscriptions WHERE id = ? OR url = ?",
                          (id_or_url, id_or_url)).fetchone()
    if row is None:
        known = ", ".join(s.id for s in subscriptions(db)) or "none"
        raise UsageError(f"no subscription {id_or_url!r} (subscribed: {known})")
    return Subscription.of(row)


def current_list(db: Database, subscription_id: str) -> Optional[ListInstance]:
    """The list instance the subscription's images come from (None before the first)."""
    row = db.conn.execute("SELECT * FROM list_instances WHERE subscription_id = ? AND current = 1 "
                          "ORDER BY id DESC LIMIT 1", (subscription_id,)).fetchone()
    return ListInstance.of(row) if row is not None else None


def images(db: Database, subscription_id: Optional[str] = None) -> List[ImageRow]:
    if subscription_id is None:
        rows = db.conn.execute("SELECT * FROM images ORDER BY subscription_id, title, uuid")
    else:
        rows = db.conn.execute("SELECT * FROM images WHERE subscription_id = ? ORDER BY title, uuid",
                               (subscription_id,))
    return [ImageRow.of(r) for r in rows.fetchall()]
