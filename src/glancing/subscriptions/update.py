# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Updating a subscription: fetch its list, verify it, apply vmcatcher's rules with its holes closed.

A list is refused with a one-line reason, and nothing of the subscription changes, when its
signature, signer, chain or CRL fail, when the signer is not the one pinned for the subscription,
when it was created in the future or has expired, when its version is lower than the stored one
or equal with other content, or when its ``dc:identifier`` changed (``TrustPolicy`` checks all
but the pin and the same-version rule, which are here). An image entry missing a required key
refuses the whole list, naming the image: applying the rest would mark the bad entry's image
as withdrawn, and the previous valid list stays in force instead. The URL stays the one the user
subscribed: a list whose ``hv:uri`` differs only earns a warning.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence

import requests

from glancing import errors
from glancing.errors import GlancingError, RecordError
from glancing.fetch.http import HttpSettings, new_session
from glancing.formats import jsonsafe
from glancing.formats.dates import format_date
from glancing.formats.hepix.read import HepixImage, HepixList, read_image_list
from glancing.subscriptions.db import Database
from glancing.subscriptions.fetch import Fetched, fetch_list
from glancing.subscriptions.store import ListInstance, Subscription, current_list, find_subscription
from glancing.subscriptions.store import subscriptions as all_subscriptions
from glancing.targets.names import stamp
from glancing.trust import smime
from glancing.trust.dn import parse_dn
from glancing.trust.endorsers import Endorser, TrustedEndorsers
from glancing.trust.failures import StaleList, UntrustedEndorser
from glancing.trust.policy import Signer, TrustPolicy, VerifiedList

log = logging.getLogger(__name__)

UNCHANGED, UPDATED, REFUSED, FAILED = "unchanged", "updated", "refused", "failed"


@dataclass
class UpdateResult:
    """What one update did. ``new_images``/``removed_images`` are UUIDs (for the events);
    ``refused_images`` those a ``refuse`` subscription did not take; ``error`` the one-line
    reason of a refused or failed update."""

    subscription_id: str
    status: str
    version: Optional[str] = None
    new_images: List[str] = field(default_factory=list)
    removed_images: List[str] = field(default_factory=list)
    refused_images: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    error: Optional[str] = None
    exit_code: int = errors.OK

    @property
    def ok(self) -> bool:
        return self.status in (UNCHANGED, UPDATED)

    def to_dict(self) -> Mapping[str, Any]:
        return {k: v for k, v in vars(self).items()}

    def describe(self) -> str:
        if self.status == UPDATED:
            return (f"{self.subscription_id}: version {self.version}, {len(self.new_images)} new, "
                    f"{len(self.removed_images)} withdrawn, {len(self.refused_images)} refused image(s)")
        if self.status == UNCHANGED:
            return f"{self.subscription_id}: unchanged"
        return f"{self.subscription_id}: {self.status}: {self.error}"


def exit_code(results: Sequence[UpdateResult]) -> int:
    """The run's status: 5 (record refused) when any list was refused, else 8 (partial) when any
    update failed otherwise (unreachable, authentication), else 0."""
    if any(r.status == REFUSED for r in results):
        return errors.RECORD_REFUSED
    if any(r.status == FAILED for r in results):
        return errors.PARTIAL
    return errors.OK


def content_sha512(document: Mapping[str, Any]) -> str:
    """The digest of a list's JSON content, independent of its signature and whitespace."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha512(canonical.encode("utf-8")).hexdigest()


def stored_content(instance: ListInstance) -> bytes:
    """The JSON bytes of a stored list exactly as signed (verified when it was received)."""
    if smime.looks_signed(instance.data):
        return smime.unverified_content(instance.data, "stored list")
    return instance.data


def stored_document(instance: ListInstance) -> Mapping[str, Any]:
    """The parsed JSON of a stored list (not verified again)."""
    return jsonsafe.load_object(stored_content(instance), "stored list", "HEPiX image list")


def signer_of(data: bytes, what: str) -> Signer:
    """Who signed ``data`` (signature checked, nothing else): for --auto-endorse and messages."""
    return Signer.of(smime.verify_smime(data, what).certificate)


def grid_ca_dir(policy: Any) -> Optional[str]:
    """The grid CA directory of a verifying policy (a second TLS anchor for list hosts)."""
    return str(policy.settings.ca_dir) if isinstance(policy, TrustPolicy) else None


def _policy(policy: Any, sub: Subscription, now: dt.datetime) -> Any:
    """The policy checking this subscription at ``now``: the pin alone names its endorser
    (chain and CRL still required); without a pin, the trust file's endorsers."""
    if not isinstance(policy, TrustPolicy):
        return policy  # --no-signature: no signer to pin
    endorsers = policy.endorsers
    if sub.endorser_dn:
        ca = parse_dn(sub.endorser_ca) if sub.endorser_ca else None
        pin = Endorser(kind="hepix", subject=parse_dn(sub.endorser_dn), issuer=ca,
                       origin=f"the pin of subscription {sub.id or sub.url}")
        endorsers = TrustedEndorsers((pin,), None)
    return TrustPolicy(policy.settings, endorsers, clock=lambda: now)


def verify(policy: Any, sub: Subscription, data: bytes, now: dt.datetime,
           current: Optional[ListInstance]) -> VerifiedList:
    """Verify a fetched list for ``sub``. Raises RecordError (SignatureError, StaleList ...)."""
    what = sub.url
    try:
        verified = _policy(policy, sub, now).verify_image_list(
            data, what, current.version if current else None, seen_identifier=sub.id or None)
    except UntrustedEndorser:
        if not sub.endorser_dn:
            raise
        signer = signer_of(data, what)
        raise UntrustedEndorser(f"{what}: signed by {signer.subject.openssl()}, not by "
                                f"{sub.endorser_dn} pinned for this subscription") from None
    if current is not None and verified.claims.version == current.version:
        if content_sha512(verified.document) != content_sha512(stored_document(current)):
            raise StaleList(f"{what}: version {current.version} again, with different content "
                            "(a changed list must carry a new hv:version)")
    return verified


def read_entries(verified: VerifiedList, what: str) -> HepixList:
    """The list's images, or RecordError naming the first entry missing a required key or
    listed twice (both would make the stored images lie about the list)."""
    lst = read_image_list(verified.document, what)
    seen = set()
    for image in lst.images:
        if image.identifier in seen:
            raise RecordError(f"{what}: image {image.identifier} is listed twice")
        seen.add(image.identifier)
    return lst


def _image_values(image: HepixImage) -> tuple:
    return (image.title, image.version, image.checksums["sha512"], image.size, image.uri,
            image.format, json.dumps(dict(image.entry), sort_keys=True))


def _apply_images(conn: sqlite3.Connection, sub: Subscription, lst: HepixList, first: bool,
                  result: UpdateResult) -> None:
    known = {r["uuid"]: r["subscription_id"] for r in conn.execute(
        "SELECT uuid, subscription_id FROM images WHERE uuid IN (%s)" % ",".join("?" * len(lst.images)),
        [i.identifier for i in lst.images])} if lst.images else {}
    listed = set()
    for image in lst.images:
        owner = known.get(image.identifier)
        if owner is not None and owner != sub.id:
            result.warnings.append(f"image {image.identifier} is already listed by subscription "
                                   f"{owner}; ignored in {sub.id}")
            continue
        listed.add(image.identifier)
        if owner is not None:
            conn.execute("UPDATE images SET available = 1, title = ?, version = ?, sha512 = ?, size = ?,"
                         " uri = ?, format = ?, entry = ? WHERE uuid = ?",
                         (*_image_values(image), image.identifier))
        elif sub.new_images == "refuse" and not first:
            result.refused_images.append(image.identifier)
            listed.discard(image.identifier)
        else:
            conn.execute("INSERT INTO images(uuid, subscription_id, selected, available, title, version,"
                         " sha512, size, uri, format, entry) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                         (image.identifier, sub.id, int(sub.new_images == "subscribe"),
                          *_image_values(image)))
            result.new_images.append(image.identifier)
    for row in conn.execute("SELECT uuid FROM images WHERE subscription_id = ? AND available = 1",
                            (sub.id,)).fetchall():
        if row["uuid"] not in listed:
            result.removed_images.append(row["uuid"])
    conn.executemany("UPDATE images SET available = 0 WHERE uuid = ?",
                     [(u,) for u in result.removed_images])


def store(conn: sqlite3.Connection, sub: Subscription, verified: VerifiedList, fetched: Fetched,
          now: dt.datetime, first: bool, result: UpdateResult) -> None:
    """Record an accepted list: a new current instance, the images, the validators."""
    lst = read_entries(verified, sub.url)
    claims, signer = verified.claims, verified.signer
    conn.execute("UPDATE list_instances SET current = 0 WHERE subscription_id = ?", (sub.id,))
    data = fetched.data or b""
    conn.execute(
        "INSERT INTO list_instances(subscription_id, version, data_sha512, created, expires, data,"
        " signer_dn, signer_ca, received_at, current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        (sub.id, claims.version, hashlib.sha512(data).hexdigest(), format_date(claims.created),
         format_date(claims.expires), data, signer.subject.openssl() if signer else None,
         signer.issuer.openssl() if signer else None, stamp(now)))
    _apply_images(conn, sub, lst, first, result)
    conn.execute("UPDATE subscriptions SET etag = ?, last_modified = ?, updated_at = ?, last_error = NULL"
                 " WHERE id = ?", (fetched.etag, fetched.last_modified, stamp(now), sub.id))
    result.version = claims.version


def uri_warning(sub: Subscription, verified: VerifiedList) -> Optional[str]:
    uri = verified.claims.uri
    if uri and uri != sub.url:
        return (f"{sub.id}: the list names its hv:uri {uri}; the subscription keeps the URL "
                f"it was given, {sub.url}")
    return None


def _refresh(db: Database, sub: Subscription, http: HttpSettings, policy: Any, now: dt.datetime,
             session: Optional[requests.Session], result: UpdateResult) -> None:
    current = current_list(db, sub.id)
    fetched = fetch_list(sub.url, http, etag=sub.etag if current else None,
                         last_modified=sub.last_modified if current else None,
                         credentials=sub.credentials, session=session, grid_ca_dir=grid_ca_dir(policy))
    if fetched.unchanged:
        result.version = current.version if current else None
        return  # 304: no verification, no write
    verified = verify(policy, sub, fetched.data or b"", now, current)
    read_entries(verified, sub.url)  # a malformed entry refuses before any write
    warning = uri_warning(sub, verified)
    if warning:
        result.warnings.append(warning)
    with db.transaction() as conn:
        if current is not None and verified.claims.version == current.version:
            # Same content re-sent (or re-signed): only the validators move.
            conn.execute("UPDATE subscriptions SET etag = ?, last_modified = ?, updated_at = ?, "
                         "last_error = NULL WHERE id = ?",
                         (fetched.etag, fetched.last_modified, stamp(now), sub.id))
            result.version = current.version
            return
        store(conn, sub, verified, fetched, now, current is None, result)
        result.status = UPDATED


def update_subscription(db: Database, sub_id: str, http: HttpSettings, policy: Any,
                        now: dt.datetime, session: Optional[requests.Session] = None) -> UpdateResult:
    """Refresh one subscription (see the module's rules). Never raises a GlancingError: a refused
    or failed update is the result's ``status``/``error``, recorded as the subscription's
    ``last_error``; nothing else of it changes."""
    sub = find_subscription(db, sub_id)
    result = UpdateResult(sub.id, UNCHANGED)
    try:
        _refresh(db, sub, http, policy, now, session, result)
    except GlancingError as exc:
        result.status = REFUSED if isinstance(exc, RecordError) else FAILED
        result.error, result.exit_code = str(exc), errors.exit_code(exc)
        result.new_images, result.removed_images, result.refused_images = [], [], []
        with db.transaction() as conn:
            conn.execute("UPDATE subscriptions SET last_error = ? WHERE id = ?", (str(exc), sub.id))
    for warning in result.warnings:
        log.warning("%s", warning)
    return result


def emit_new_images(db: Database, events: Any, results: Sequence[UpdateResult]) -> None:
    """``SubscriptionImageNew`` for every image the updates brought, as vmcatcher_subscribe
    fires it (the raw list keys only). ``events`` is a subscriptions.events.EventLog."""
    from glancing.subscriptions import events as ev

    for result in results:
        for uuid in result.new_images:
            row = db.conn.execute("SELECT entry FROM images WHERE uuid = ?", (uuid,)).fetchone()
            entry = json.loads(row["entry"]) if row else {"dc:identifier": uuid}
            events.emit(ev.SUBSCRIPTION_IMAGE_NEW, ev.image_fields(entry))


def update_all(db: Database, http: HttpSettings, policy: Any, now: dt.datetime,
               session: Optional[requests.Session] = None) -> List[UpdateResult]:
    """Refresh every subscription; one's refusal or failure does not stop the others."""
    results = []
    session = session or new_session(http)  # one connection pool: lists often share a host
    for sub in all_subscriptions(db):
        result = update_subscription(db, sub.id, http, policy, now, session)
        if result.ok:
            log.info("%s", result.describe())
        else:
            log.error("%s", result.describe())
        results.append(result)
    return results
