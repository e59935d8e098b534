# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Subscriptions as an update leaves them in the database (a stored list instance and its image
rows), written here directly so the sync can be tested on its own; the lab tests go through the
real subscribe and update."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from marketplace import image_list

from glancing.targets.names import stamp


@dataclass(frozen=True)
class Signer:
    """Who a list names as its endorser (the sync reads stored lists without checking them)."""

    subject_openssl: str = "/C=XX/O=Glancing tests/CN=Endorser"
    issuer_openssl: str = "/C=XX/O=Glancing tests/CN=Test CA"


def store_list(db: Any, sub_id: str, url: str, images: Sequence[Dict[str, object]], *, version: str = "1",
               selected: Sequence[str] = (), expires: Any = None, data: Optional[bytes] = None) -> bytes:
    """Store ``images`` (marketplace.image_list dicts) as the current list of subscription
    ``sub_id`` (created when missing); the rows of images no longer listed become unavailable,
    as an update makes them. Returns the list's bytes."""
    document = data or image_list(Signer(), images, version=version, identifier=sub_id, expires=expires)
    parsed = json.loads(document)["hv:imagelist"]
    now = stamp()
    with db.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO subscriptions(id, url, created_at) VALUES (?, ?, ?)", (sub_id, url, now))
        conn.execute("UPDATE list_instances SET current = 0 WHERE subscription_id = ?", (sub_id,))
        conn.execute("INSERT INTO list_instances(subscription_id, version, data_sha512, created, expires, data, "
                     "signer_dn, signer_ca, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (sub_id, version, hashlib.sha512(document).hexdigest(), parsed["dc:date:created"],
                      parsed["dc:date:expires"], document, Signer.subject_openssl, Signer.issuer_openssl, now))
        conn.execute("UPDATE images SET available = 0 WHERE subscription_id = ?", (sub_id,))
        for wrapper in parsed["hv:images"]:
            e = wrapper["hv:image"]
            conn.execute(
                "INSERT INTO images(uuid, subscription_id, available, title, version, sha512, size, uri, format, "
                "entry) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(uuid) DO UPDATE SET available = 1, "
                "title = excluded.title, version = excluded.version, sha512 = excluded.sha512, size = excluded.size, "
                "uri = excluded.uri, format = excluded.format, entry = excluded.entry",
                (e["dc:identifier"], sub_id, e["dc:title"], e["hv:version"], e["sl:checksum:sha512"],
                 int(e["hv:size"]), e["hv:uri"], e["hv:format"], json.dumps(e)))
        for uuid in selected:
            conn.execute("UPDATE images SET selected = 1 WHERE uuid = ?", (uuid,))
    return document


def select(db: Any, uuid: str, selected: bool = True) -> None:
    with db.transaction() as conn:
        conn.execute("UPDATE images SET selected = ? WHERE uuid = ?", (int(selected), uuid))


def unsubscribe(db: Any, sub_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))


def row(db: Any, uuid: str) -> Dict[str, Any]:
    found = db.conn.execute("SELECT * FROM images WHERE uuid = ?", (uuid,)).fetchone()
    return dict(found) if found else {}


def served(www: Path, server: Any, name: str, make: Any) -> Dict[str, object]:
    """An image file made under ``www`` by ``make(path)``, as an image_list dict (id = its name)."""
    path = make(www / name)
    return {"path": path, "uri": server.url(path.name), "id": name.split(".")[0], "title": name.split(".")[0]}


def listed_events(path: Path) -> List[Dict[str, str]]:
    """The environments an ``env >> FILE; echo ---- >> FILE`` handler recorded, in order."""
    if not path.exists():
        return []
    return [dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            for block in path.read_text().split("----\n")[:-1]]
