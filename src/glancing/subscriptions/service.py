# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The subscription commands as library procedures: subscribe, show, unsubscribe, select,
deselect. The CLI parses, calls one of these, and prints what it returns."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import urlsplit

import requests

from glancing.errors import UsageError
from glancing.fetch.http import HttpSettings
from glancing.subscriptions.db import Database
from glancing.subscriptions.fetch import Credentials, fetch_list
from glancing.subscriptions.store import (NEW_IMAGES, ImageRow, Subscription, current_list,
                                          find_subscription, images)
from glancing.subscriptions.update import (UPDATED, UpdateResult, grid_ca_dir, read_entries, signer_of,
                                           store, stored_content, uri_warning, verify)
from glancing.targets.names import stamp
from glancing.trust.dn import parse_dn
from glancing.trust.policy import TrustPolicy

SHOW_FORMATS = ("lines", "json", "message", "smime")


@dataclass(frozen=True)
class SubscribeOptions:
    """What ``subscribe`` takes besides the URL (see glance_manager subscribe --help)."""

    endorser_dn: Optional[str] = None
    endorser_ca: Optional[str] = None
    auto_endorse: bool = False
    new_images: str = "accept"
    username: Optional[str] = None
    password_file: Optional[str] = None

    def check(self) -> None:
        """Raise UsageError for contradictory or malformed options, before any download."""
        if self.new_images not in NEW_IMAGES:
            raise UsageError(f"--new-images must be one of {', '.join(NEW_IMAGES)}")
        if self.endorser_ca and not self.endorser_dn:
            raise UsageError("--ca pins the CA of an --endorser: give --endorser too")
        if self.auto_endorse and self.endorser_dn:
            raise UsageError("--auto-endorse pins the signer it finds: not with --endorser")
        if bool(self.username) != bool(self.password_file):
            raise UsageError("--user and --password-file go together")
        for name, dn in (("--endorser", self.endorser_dn), ("--ca", self.endorser_ca)):
            if dn:
                try:
                    parse_dn(dn)
                except Exception as exc:  # noqa: BLE001 - any parse failure is this usage error
                    raise UsageError(f"{name} {dn!r}: {exc}") from None
        if self.username and self.password_file:
            Credentials(self.username, self.password_file).pair()


@dataclass(frozen=True)
class Subscribed:
    subscription: Subscription
    result: UpdateResult
    auto_endorsed: Optional[str] = None  # the pinned signer, said loudly by the CLI

    def to_dict(self) -> Dict[str, Any]:
        return {"subscription": self.subscription.to_dict(), "update": self.result.to_dict()}


def _pins(options: SubscribeOptions, policy: Any, data: bytes, url: str) -> tuple:
    if not options.auto_endorse:
        dn = parse_dn(options.endorser_dn).openssl() if options.endorser_dn else None
        ca = parse_dn(options.endorser_ca).openssl() if options.endorser_ca else None
        return dn, ca
    if not isinstance(policy, TrustPolicy):
        raise UsageError("--auto-endorse pins a verified signer: not with --no-signature")
    signer = signer_of(data, url)
    return signer.subject.openssl(), signer.issuer.openssl()


def subscribe(db: Database, url: str, options: SubscribeOptions, http: HttpSettings, policy: Any,
              now: dt.datetime, session: Optional[requests.Session] = None) -> Subscribed:
    """Fetch and verify the list at ``url`` now and store it keyed by its dc:identifier.

    Raises UsageError (bad options, already subscribed), SourceError, RecordError (refused).
    """
    options.check()
    if urlsplit(url).password is not None:
        # The URL is stored and printed as given: a password in it would end up everywhere.
        raise UsageError(f"{urlsplit(url).hostname}: put the password in --password-file, not in the URL")
    existing = db.conn.execute("SELECT id FROM subscriptions WHERE url = ?", (url,)).fetchone()
    if existing is not None:
        raise UsageError(f"{url} is already subscribed as {existing['id']}")
    fetched = fetch_list(url, http, credentials=(Credentials(options.username, options.password_file)
                                                  if options.username and options.password_file else None),
                         session=session, grid_ca_dir=grid_ca_dir(policy))
    data = fetched.data or b""
    dn, ca = _pins(options, policy, data, url)
    password_file = os.path.abspath(options.password_file) if options.password_file else None
    draft = Subscription(id="", url=url, username=options.username, password_file=password_file,
                         new_images=options.new_images, endorser_dn=dn, endorser_ca=ca,
                         auto_endorsed=options.auto_endorse, created_at=stamp(now))
    verified = verify(policy, draft, data, now, None)
    read_entries(verified, url)
    sub_id = verified.claims.identifier
    other = db.conn.execute("SELECT url FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
    if other is not None:
        raise UsageError(f"list {sub_id} is already subscribed from {other['url']}")
    sub = Subscription(**{**draft.to_dict(), "id": sub_id})
    result = UpdateResult(sub_id, UPDATED)
    warning = uri_warning(sub, verified)
    if warning:
        result.warnings.append(warning)
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO subscriptions(id, url, username, password_file, new_images, endorser_dn,"
            " endorser_ca, auto_endorsed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sub.id, sub.url, sub.username, sub.password_file, sub.new_images, sub.endorser_dn,
             sub.endorser_ca, int(sub.auto_endorsed), sub.created_at))
        store(conn, sub, verified, fetched, now, True, result)
    stored = find_subscription(db, sub_id)
    return Subscribed(stored, result, f"{dn} (CA {ca})" if options.auto_endorse else None)


def show(db: Database, id_or_url: str, fmt: str = "lines") -> bytes:
    """One subscription: ``lines`` (key: value), ``json``, ``message`` (the list's JSON as
    signed) or ``smime`` (the list exactly as received)."""
    if fmt not in SHOW_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(SHOW_FORMATS)}")
    sub = find_subscription(db, id_or_url)
    current = current_list(db, sub.id)
    if fmt in ("message", "smime"):
        if current is None:
            raise UsageError(f"subscription {sub.id} has no stored list")
        if fmt == "smime":
            return current.data
        return stored_content(current)
    info = summary(db, sub)
    if fmt == "json":
        return json.dumps(info, indent=2, sort_keys=True).encode() + b"\n"
    return "".join(f"{key}: {'' if value is None else value}\n" for key, value in info.items()).encode()


def summary(db: Database, sub: Subscription) -> Dict[str, Any]:
    """What ``subscriptions`` lists for one subscription."""
    current = current_list(db, sub.id)
    rows = images(db, sub.id)
    info = {k: v for k, v in sub.to_dict().items() if k not in ("etag", "last_modified")}
    info.update({
        "version": current.version if current else None,
        "created": current.created if current else None,
        "expires": current.expires if current else None,
        "signer_dn": current.signer_dn if current else None,
        "signer_ca": current.signer_ca if current else None,
        "images": len(rows), "selected": sum(r.selected for r in rows),
        "available": sum(r.available for r in rows)})
    return info


def unsubscribe(db: Database, id_or_url: str) -> tuple:
    """Forget a subscription and its images' rows; returns (subscription, number of images).
    Its images stay in the target until the next sync expires them."""
    sub = find_subscription(db, id_or_url)
    count = len(images(db, sub.id))
    with db.transaction() as conn:
        conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub.id,))
    return sub, count


def _match(rows: Sequence[ImageRow], key: str) -> List[ImageRow]:
    wanted = key.strip().lower()
    return [r for r in rows if r.uuid.lower() == wanted or (r.sha512 or "").lower() == wanted]


def set_selected(db: Database, keys: Sequence[str], selected: bool) -> List[ImageRow]:
    """Select (or deselect) the images named by UUID or full SHA-512; all or nothing.
    Raises UsageError naming every key that matches no image."""
    if not keys:
        raise UsageError("name at least one image (UUID or SHA-512; see glance_manager images)")
    rows = images(db)
    matched: Dict[str, ImageRow] = {}
    unknown = []
    for key in keys:
        found = _match(rows, key)
        if not found:
            unknown.append(key)
        matched.update({r.uuid: r for r in found})
    if unknown:
        raise UsageError(f"no image {', '.join(unknown)} in any subscription (nothing changed)")
    with db.transaction() as conn:
        conn.executemany("UPDATE images SET selected = ? WHERE uuid = ?",
                         [(int(selected), uuid) for uuid in matched])
    return [r for r in images(db) if r.uuid in matched]
