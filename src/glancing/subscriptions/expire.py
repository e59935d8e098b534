# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Expiry: an image its list no longer endorses is retired as ``expired``.

No longer endorsed: deselected, gone from the current list, its list expired and not renewed, or
its subscription removed. The image is hidden and tagged ``glancing-expired`` always, then
deactivated (the default), left at that (``hide``) or deleted (``delete``, only when configured;
a refused delete falls back to deactivate): ``[manager] on_expire``. The target does the steps
(``Target.expire``); this module decides which images and keeps the database and the events in
step. ``expire_image`` is the one function the marketplace manager and the vmcatcher-event
handler call too.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Set

from glancing.errors import UsageError
from glancing.subscriptions import events as ev
from glancing.targets import names
from glancing.targets.base import Target

if TYPE_CHECKING:
    from glancing.subscriptions.sync import Row, SubsOutcome, Syncer

log = logging.getLogger(__name__)

MODES = ("hide", "deactivate", "delete")


@dataclass(frozen=True)
class ExpiryOutcome:
    uuid: str
    image_id: Optional[str]
    result: str  # hidden | deactivated | deleted | failed | gone (no longer in the target)
    why: str = ""


def expire_image(target: Target, image: Mapping[str, Any], how: str = "deactivate",
                 when: Optional[_dt.datetime] = None, uuid: str = "") -> ExpiryOutcome:
    """Expire one target image (see the module). Raises UsageError for an unknown ``how`` only."""
    if how not in MODES:
        raise UsageError(f"on_expire must be one of {', '.join(MODES)}, not {how!r}")
    result, why = target.expire(image, how, when)
    if result == "failed":
        log.error("could not expire %s (%s): %s", image.get("id"), image.get("name"), why)
    else:
        log.info("expired %s (%s): %s%s", image.get("id"), image.get("name"), result, f" ({why})" if why else "")
    return ExpiryOutcome(uuid or str(image.get("hepix_image_id") or ""), str(image.get("id")), result, why)


def _entry(row: "Row") -> Dict[str, Any]:
    entry = json.loads(row.entry)
    return entry.get("hv:image", entry) if isinstance(entry, dict) else {}


def expire_due(syncer: "Syncer", rows: Iterable["Row"], listed: Mapping[str, Mapping[str, Any]],
               blocked: Set[str]) -> Iterator["SubsOutcome"]:
    """Expire every row whose image is in the target but no longer endorsed, except for the
    subscriptions in ``blocked`` (their update or an import failed in this run)."""
    from glancing.subscriptions.sync import endorsed

    for row in rows:
        if not row.target_id or row.expired_at or endorsed(row, syncer.now) and not _entry_expired(row, syncer.now):
            continue
        if row.subscription in blocked:
            log.warning("%s: not expired in this run: subscription %s failed", row.uuid, row.subscription)
            continue
        fields = ev.image_fields(_entry(row), row.subscription)  # a subscription's id is its list's
        yield _expire(syncer, row.uuid, row.subscription, row.title, listed.get(row.target_id), fields, row.target_id)


def _entry_expired(row: "Row", now: _dt.datetime) -> bool:
    expires = names.parse_stamp(str(_entry(row).get("dc:date:expires") or "")) if row.entry else None
    return expires is not None and expires <= now


def gone_images(syncer: "Syncer", listed: Mapping[str, Mapping[str, Any]], known: Set[str]) -> Iterator["SubsOutcome"]:
    """Expire the current images of removed subscriptions: still in the target, but no row.
    Only this database's: another glance_manager (another --db) may share the project."""
    for image in listed.values():
        if image.get(names.PROP_DATABASE) != syncer.db.path:
            continue
        tags = image.get("tags") or ()
        uuid = str(image.get("hepix_image_id") or "")
        if (not image.get(names.PROP_SUBSCRIPTION) or not uuid or uuid in known or names.TAG_EXPIRED in tags
                or names.TAG_BACKUP in tags or names.TAG_PENDING in tags):
            continue
        fields = {"DC_IDENTIFIER": uuid, "DC_TITLE": str(image.get("name") or ""),
                  "IL_DC_IDENTIFIER": str(image.get("hepix_list_id") or "")}
        yield _expire(syncer, uuid, str(image[names.PROP_SUBSCRIPTION]), image.get("name"), image, fields, image["id"])


def _expire(syncer: "Syncer", uuid: str, subscription: str, title: Optional[str],
            image: Optional[Mapping[str, Any]], fields: Dict[str, str], image_id: str) -> "SubsOutcome":
    from glancing.subscriptions.sync import SubsOutcome

    if syncer.options.dry_run:
        return SubsOutcome(uuid, subscription, "would-expire", image_id=image_id, title=title)
    cache = syncer.options.cache
    if cache is not None and cache.has(uuid):
        fields["FILENAME"] = uuid
    syncer.events.emit(ev.EXPIRE_PREFIX, fields)
    if image is None:
        outcome = ExpiryOutcome(uuid, image_id, "gone", "no longer in the target")
    else:
        outcome = expire_image(syncer.target, image, syncer.options.on_expire, syncer.now, uuid)
    post = {**fields, ev.GLANCE_ID: image_id, ev.STATUS: outcome.result}
    if cache is not None and cache.has(uuid):
        post["FILENAME"] = cache.expire(uuid)
    syncer.events.emit(ev.EXPIRE_POSTFIX, post)
    if outcome.result == "failed":
        return SubsOutcome(uuid, subscription, "failed", image_id=image_id, title=title, detail=outcome.why)
    syncer.record_expiry(outcome)
    return SubsOutcome(uuid, subscription, "expired", image_id=image_id, title=title, detail=outcome.result)


__all__: List[str] = ["ExpiryOutcome", "MODES", "expire_due", "expire_image", "gone_images"]
