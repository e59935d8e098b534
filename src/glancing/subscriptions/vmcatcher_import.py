# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager import-vmcatcher sqlite:///path/vmcatcher.db``: vmcatcher's subscriptions,
endorser pins and selected images into glancing's database (vmcatcher.md section 1).

- A subscription keeps the URL vmcatcher stored, its user name, and its updateMode as
  ``new_images`` (bit 2: subscribe, else bit 1: accept, else refuse). vmcatcher kept the password
  in its database; it is written to a 0600 file beside glancing's database and the subscription
  names that file.
- The endorser pin follows the foreign keys (``subscriptionAuth.endorser`` ->
  ``endorserPrincible.endorser``), not vmcatcher's ``Endorser.id == EndorserPrincible.id`` join,
  which held only while the ids happened to coincide. One authorised signer becomes the pin;
  several cannot be one pin and are reported (the trust file decides until one is chosen).
- Selected images (``ImageDefinition.cache = 1``) are stored selected, not yet available.

Nothing vmcatcher verified is trusted: no list is copied, the next ``update`` (or ``sync``)
fetches and verifies every list. The vmcatcher database is opened read-only.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from glancing.errors import UsageError
from glancing.targets.names import stamp

_PREFIX = "sqlite:///"


@dataclass
class ImportReport:
    """What the import took and what it could not."""

    subscriptions: List[str] = field(default_factory=list)  # identifiers taken
    pins: Dict[str, str] = field(default_factory=dict)  # subscription -> "DN (CA DN)"
    images: List[str] = field(default_factory=list)  # selected image UUIDs taken
    skipped: List[str] = field(default_factory=list)  # one line each: what and why

    def lines(self) -> List[str]:
        out = [f"took subscription {s}" + (f", endorser pinned: {self.pins[s]}" if s in self.pins else "")
               for s in self.subscriptions]
        out += [f"took selected image {i}" for i in self.images]
        out += [f"could not take: {why}" for why in self.skipped]
        out.append(f"{len(self.subscriptions)} subscriptions and {len(self.images)} selected images taken, "
                   f"{len(self.skipped)} things not taken; run `glance_manager update` to fetch and verify the lists")
        return out

    def to_dict(self) -> Dict[str, Any]:
        return dict(vars(self))


def source_path(url: str) -> str:
    """The file of a ``sqlite:///path`` URL: relative as SQLAlchemy reads it (``sqlite:////abs``
    is absolute), else from ``/`` (as vmcatcher's docs write it). A plain path is accepted too.
    Raises UsageError."""
    if "://" in url and not url.startswith(_PREFIX):
        raise UsageError(f"{url}: only vmcatcher's SQLite databases (sqlite:///PATH) can be imported")
    path = url[len(_PREFIX):] if url.startswith(_PREFIX) else url
    for candidate in (path, "/" + path.lstrip("/")):
        if candidate and os.path.isfile(candidate):
            return candidate
    raise UsageError(f"{url}: no such database file")


def open_vmcatcher(url: str) -> sqlite3.Connection:
    """vmcatcher's database, read-only. Raises UsageError when it is not one."""
    path = source_path(url)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise UsageError(f"{url}: not an SQLite database ({exc})") from exc
    missing = {"subscription", "ImageDefinition"} - tables
    if missing:
        conn.close()
        raise UsageError(f"{url}: not a vmcatcher database (no table {', '.join(sorted(missing))})")
    return conn


def _columns(conn: sqlite3.Connection, table: str) -> set:
    return {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}


def new_images_mode(update_mode: Optional[int]) -> str:
    """vmcatcher's updateMode bitmap as glancing's new_images (None: vmcatcher's default, accept)."""
    if update_mode is None:
        return "accept"
    if update_mode & 2:
        return "subscribe"
    return "accept" if update_mode & 1 else "refuse"


def signers(conn: sqlite3.Connection, subscription_key: int) -> List[Tuple[str, str]]:
    """The (DN, CA) of every principal of every endorser authorised on this subscription, by the
    foreign keys."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"subscriptionAuth", "endorserPrincible"} <= tables:
        return []
    rows = conn.execute(
        'SELECT DISTINCT p.hv_dn, p.hv_ca FROM "subscriptionAuth" a JOIN "endorserPrincible" p '
        "ON p.endorser = a.endorser WHERE a.subscription = ? AND a.authorised ORDER BY p.hv_dn",
        (subscription_key,)).fetchall()
    return [(r["hv_dn"], r["hv_ca"]) for r in rows if r["hv_dn"]]


def _password_file(directory: Path, sub_id: str, password: str) -> str:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{sub_id}.password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return str(path)


def _subscription(db: Any, source: sqlite3.Connection, row: sqlite3.Row, cols: set, report: ImportReport,
                  secrets: Path, now: _dt.datetime) -> Optional[str]:
    sub_id, url = row["identifier"], row["uri"]
    if db.conn.execute("SELECT 1 FROM subscriptions WHERE id = ? OR url = ?", (sub_id, url)).fetchone():
        report.skipped.append(f"subscription {sub_id} ({url}): already in glancing's database")
        return None
    username = row["userName"] if "userName" in cols else None
    password = row["password"] if "password" in cols else None
    password_file = _password_file(secrets, sub_id, password) if username and password else None
    if password and not username:
        report.skipped.append(f"subscription {sub_id}: a password without a user name")
    mode = new_images_mode(row["updateMode"] if "updateMode" in cols else None)
    found = signers(source, row["id"])
    dn, ca = found[0] if len(found) == 1 else (None, None)
    if len(found) > 1:
        report.skipped.append(f"subscription {sub_id}: {len(found)} authorised signers cannot be one pin "
                              "(the trust file decides; subscribe again with --endorser to pin one)")
    if "trustAnchor" in cols and row["trustAnchor"] == 0:
        report.skipped.append(f"subscription {sub_id}: trustAnchor none (TLS not verified); glancing verifies "
                              "the list host's TLS (--ca-dir for IGTF hosts)")
    db.conn.execute(
        "INSERT INTO subscriptions(id, url, username, password_file, new_images, endorser_dn, endorser_ca,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (sub_id, url, username if password_file else None, password_file, mode, dn, ca, stamp(now)))
    report.subscriptions.append(sub_id)
    if dn:
        report.pins[sub_id] = f"{dn} (CA {ca})"
    return sub_id


def _selected_images(db: Any, source: sqlite3.Connection, keys: Dict[int, str], report: ImportReport) -> None:
    has_instances = "ImageInstance" in {r[0] for r in source.execute("SELECT name FROM sqlite_master")}
    for row in source.execute('SELECT id, identifier, subscription, latest FROM "ImageDefinition" WHERE cache = 1'):
        sub_id = keys.get(row["subscription"])
        if sub_id is None:
            report.skipped.append(f"selected image {row['identifier']}: its subscription was not taken")
            continue
        latest = source.execute('SELECT * FROM "ImageInstance" WHERE id = ?', (row["latest"],)).fetchone() \
            if has_instances and row["latest"] else None
        entry = {"dc:identifier": row["identifier"]}
        values: Tuple[Any, ...] = (None, None, None, None, None)
        if latest is not None:
            entry.update({"dc:title": latest["title"], "hv:version": latest["version"],
                          "sl:checksum:sha512": latest["sha512"], "hv:size": latest["size"], "hv:uri": latest["uri"]})
            values = (latest["title"], latest["version"], latest["sha512"], latest["size"], latest["uri"])
        if db.conn.execute("SELECT 1 FROM images WHERE uuid = ?", (row["identifier"],)).fetchone():
            report.skipped.append(f"selected image {row['identifier']}: already in glancing's database")
            continue
        db.conn.execute("INSERT INTO images(uuid, subscription_id, selected, available, title, version, sha512,"
                        " size, uri, entry) VALUES (?, ?, 1, 0, ?, ?, ?, ?, ?, ?)",
                        (row["identifier"], sub_id, *values, json.dumps({"hv:image": entry}, sort_keys=True)))
        report.images.append(row["identifier"])


def import_vmcatcher(db: Any, url: str, now: Optional[_dt.datetime] = None) -> ImportReport:
    """Take vmcatcher's subscriptions, pins and selected images into ``db`` (one transaction).
    Raises UsageError when ``url`` is not a vmcatcher database."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    source = open_vmcatcher(url)
    report = ImportReport()
    secrets = Path(db.path).parent / "passwords"
    try:
        cols = _columns(source, "subscription")
        keys: Dict[int, str] = {}
        with db.transaction():
            for row in source.execute('SELECT * FROM "subscription" ORDER BY id'):
                taken = _subscription(db, source, row, cols, report, secrets, now)
                if taken:
                    keys[row["id"]] = taken
            _selected_images(db, source, keys, report)
    finally:
        source.close()
    return report


__all__ = ["ImportReport", "import_vmcatcher", "new_images_mode", "open_vmcatcher", "signers", "source_path"]
