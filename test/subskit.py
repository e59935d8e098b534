# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Subscriptions test kit: HEPiX lists of several images, signed by the tests' own CA, published
on a loopback HTTP server (ETag/Last-Modified, 304, basic auth), and a database to follow them."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from glancing.fetch.http import HttpSettings
from glancing.subscriptions.db import Database
from glancing.trust import TrustPolicy
from httpserver import FaultyHTTPServer
from trustkit import DAY, NOW, Identity, Pki, sign_list

LIST_ID = "7c6b9b2e-5a41-4a8e-9a3c-1d2e3f405162"
HTTP = HttpSettings(retries=0, connect_timeout=5, read_timeout=5)


def image(n: int, version: str = "1", **extra: Any) -> Dict[str, Any]:
    """The ``hv:image`` of test image ``n`` (its bytes are not served: updates never read them)."""
    digest = hashlib.sha512(f"image {n} version {version}".encode()).hexdigest()
    entry = {"dc:identifier": f"00000000-0000-4000-8000-{n:012d}", "dc:title": f"Image {n}",
             "hv:uri": f"https://images.example.org/{n}.qcow2", "hv:size": 1000 + n,
             "sl:checksum:sha512": digest, "hv:version": version, "hv:format": "qcow2",
             "sl:os": "Linux", "sl:arch": "x86_64"}
    entry.update(extra)
    return {"hv:image": {k: v for k, v in entry.items() if v is not None}}


def uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def hepix_list(signer: Identity, version: str, images: Sequence[Dict[str, Any]], *,
               identifier: str = LIST_ID, created: Optional[dt.datetime] = None,
               expires: Optional[dt.datetime] = None, uri: Optional[str] = None,
               title: str = "Subscribed test list", endorsers: Sequence[Identity] = ()) -> bytes:
    document = {"hv:imagelist": {
        "dc:date:created": (created or NOW - DAY).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dc:date:expires": (expires or NOW + 30 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dc:identifier": identifier, "dc:title": title, "dc:description": "test",
        "dc:source": "example.org", "hv:version": version,
        "hv:endorser": {"hv:x509": {"dc:creator": "Test", "hv:email": "endorser@example.org",
                                    "hv:dn": signer.subject_openssl, "hv:ca": signer.issuer_openssl}},
        "hv:images": list(images)}}
    if endorsers:  # vmcaster's array form, for a list with two endorsers
        document["hv:imagelist"]["hv:endorser"] = [
            {"hv:x509": {"dc:creator": "Test", "hv:email": "endorser@example.org",
                         "hv:dn": e.subject_openssl, "hv:ca": e.issuer_openssl}} for e in endorsers]
    if uri is not None:
        document["hv:imagelist"]["hv:uri"] = uri
    return json.dumps(document, indent=2).encode() + b"\n"


@dataclass
class Site:
    """A published list, the server, a database and the policy that trusts ``pki.good``."""

    pki: Pki
    root: Path
    server: FaultyHTTPServer
    db: Database
    policy: TrustPolicy
    tmp: Path
    published: int = 0

    @property
    def url(self) -> str:
        return self.server.url("lists/image.list")

    def publish(self, version: str, images: Sequence[Dict[str, Any]], signer: Optional[Identity] = None,
                name: str = "image.list", tamper: Optional[bytes] = None, **kw: Any) -> bytes:
        signer = signer or self.pki.good
        data = sign_list(hepix_list(signer, version, images, **kw), signer, self.tmp)
        if tamper is not None:
            data = data.replace(b"Subscribed test list", tamper)
        path = self.root / "lists" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        # A later mtime every time: the ETag and Last-Modified must change with the content.
        self.published += 1
        when = 1_700_000_000 + 10 * self.published
        os.utime(path, (when, when))
        return data

    def gets(self, path: str = "/lists/image.list") -> List[Any]:
        return [r for r in self.server.requests if r[0] == "GET" and r[1] == path]


def make_site(pki: Pki, tmp: Path, trust: str = "", tls: Optional[ssl.SSLContext] = None) -> Site:
    root = tmp / "www"
    root.mkdir()
    server = FaultyHTTPServer(root, tls=tls).start()
    trust_file = tmp / "trusted-endorsers"
    trust_file.write_text(trust or f'hepix dn="{pki.good.subject_openssl}" ca="{pki.good.issuer_openssl}"\n'
                                    f'hepix dn="{pki.mail.subject_openssl}" ca="{pki.mail.issuer_openssl}"\n'
                                    f'hepix dn="{pki.revoked.subject_openssl}" ca="{pki.revoked.issuer_openssl}"\n')
    policy = TrustPolicy.from_options(ca_dir=str(pki.ca_dirs["valid"]), trust_file=str(trust_file),
                                      env={}, files=[])
    work = tmp / "sign"
    work.mkdir()
    return Site(pki, root, server, Database.open(str(tmp / "db" / "glancing.db")), policy, work)


@contextlib.contextmanager
def running_site(pki: Pki, tmp: Path, trust: str = "", tls: Optional[ssl.SSLContext] = None) -> Iterator[Site]:
    """``make_site``, with its server stopped and its database closed afterwards."""
    site = make_site(pki, tmp, trust, tls)
    try:
        yield site
    finally:
        site.server.stop()
        site.db.close()


def dump(db: Database) -> Dict[str, List[tuple]]:
    """Every row of the subscription tables, to assert that a refused update changed nothing."""
    tables = ("subscriptions", "list_instances", "images")
    out = {}
    for table in tables:
        rows = db.conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        out[table] = [tuple(r) for r in rows]
    return out


def without_last_error(snapshot: Dict[str, List[tuple]], db: Database) -> Dict[str, List[tuple]]:
    index = [d[1] for d in db.conn.execute("PRAGMA table_info(subscriptions)")].index("last_error")
    copy = dict(snapshot)
    copy["subscriptions"] = [r[:index] + r[index + 1:] for r in snapshot["subscriptions"]]
    return copy


def row(db: Database, table: str, **where: Any) -> Optional[sqlite3.Row]:
    clause = " AND ".join(f"{k} = ?" for k in where)
    return db.conn.execute(f"SELECT * FROM {table} WHERE {clause}", tuple(where.values())).fetchone()
