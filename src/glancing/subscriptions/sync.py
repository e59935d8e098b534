# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Subscribed images into the target: import what is selected and not current, expire the rest.

The target is listed once (its managed images); an image whose row says it is current (its
``target_id`` is listed, active, not expired, and was imported with the row's sha512) costs no
request at all, so a sync where nothing changed is one listing. An image to import gets its
ImageSpec from the list instance the update stored and verified (no second download or
verification of the list) and goes through ``pipeline.import_image``, which retires the previous
version as a hidden backup.

Expiry (``expire.py``) never runs for a subscription whose update or any import failed in this
run: a half-seen world is no ground for retiring images people may be running.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Set

from glancing import errors
from glancing.errors import GlancingError
from glancing.model import ImageSpec, Origin
from glancing.pipeline import ImportOptions, import_image
from glancing.quarantine.verdict import rejected_digests
from glancing.retry import RetryPolicy
from glancing.subscriptions import events as ev
from glancing.subscriptions.expire import ExpiryOutcome, expire_due, gone_images
from glancing.targets import names
from glancing.targets.base import Target, UploadInterrupted

log = logging.getLogger(__name__)

PROP_SUBSCRIPTION = names.PROP_SUBSCRIPTION


@dataclass(frozen=True)
class SubsSyncOptions:
    """How a sync treats the subscribed images."""

    on_expire: str = "deactivate"  # [manager] on_expire: hide | deactivate | delete
    keep: int = 1  # [manager] keep: backups kept per image (older ones deleted after an import)
    dry_run: bool = False
    import_options: ImportOptions = field(default_factory=ImportOptions)
    image_retry: RetryPolicy = RetryPolicy(retries=2, backoff=1.0)
    cache: Any = None  # a glancing.subscriptions.cache.Cache, or None: images stream into the target
    now: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.timezone.utc)


@dataclass
class SubsOutcome:
    """What happened to one subscribed image in this run."""

    uuid: str
    subscription: str
    action: str  # imported | expired | failed | would-import | would-expire
    image_id: Optional[str] = None
    title: Optional[str] = None
    detail: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"uuid": self.uuid, "subscription": self.subscription, "action": self.action,
                "image_id": self.image_id, "title": self.title, "detail": self.detail}


@dataclass
class SubsReport:
    """A sync's outcomes; ``current`` counts the images that needed nothing."""

    outcomes: List[SubsOutcome] = field(default_factory=list)
    current: int = 0
    failed_subscriptions: Set[str] = field(default_factory=set)
    pruned: List[Dict[str, str]] = field(default_factory=list)  # backups beyond [manager] keep
    event_failures: int = 0

    def add(self, outcome: SubsOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.action == "failed":
            self.failed_subscriptions.add(outcome.subscription)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def exit_code(self) -> int:
        return errors.PARTIAL if self.count("failed") else errors.OK

    def summary(self) -> str:
        parts = [f"{self.count('imported')} imported", f"{self.current} current", f"{self.count('expired')} expired",
                 f"{self.count('failed')} failed"]
        if self.event_failures:
            parts.append(f"{self.event_failures} event handler failures kept for the next run")
        return "subscriptions: " + ", ".join(parts)

    def to_dict(self) -> Dict[str, Any]:
        return {"current": self.current, "outcomes": [o.to_dict() for o in self.outcomes], "pruned": self.pruned,
                "failed_subscriptions": sorted(self.failed_subscriptions), "event_failures": self.event_failures}


@dataclass(frozen=True)
class Row:
    """An ``images`` row joined with its subscription and its current list instance."""

    uuid: str
    subscription: str
    url: str
    selected: bool
    available: bool
    sha512: Optional[str]
    size: Optional[int]
    title: Optional[str]
    target_id: Optional[str]
    imported_sha512: Optional[str]
    expired_at: Optional[str]
    list_id: Optional[int]
    list_expires: Optional[str]
    entry: str


_ROWS = """SELECT i.uuid, i.subscription_id, s.url, i.selected, i.available, i.sha512, i.size, i.title, i.target_id,
                  i.imported_sha512, i.expired_at, l.id AS list_id, l.expires AS list_expires, i.entry
           FROM images i JOIN subscriptions s ON s.id = i.subscription_id
           LEFT JOIN list_instances l ON l.subscription_id = i.subscription_id AND l.current = 1
           ORDER BY i.subscription_id, i.uuid"""


def load_rows(db: Any) -> List[Row]:
    return [Row(r[0], r[1], r[2], bool(r[3]), bool(r[4]), *r[5:]) for r in db.conn.execute(_ROWS).fetchall()]


def endorsed(row: Row, now: _dt.datetime) -> bool:
    """True when the row's image should be in the target: selected, in the current list, and that
    list (and the entry itself) not expired."""
    if not (row.selected and row.available and row.list_id is not None):
        return False
    expires = names.parse_stamp(row.list_expires)
    return expires is None or expires > now


def is_current(row: Row, listed: Mapping[str, Mapping[str, Any]]) -> bool:
    image = listed.get(row.target_id or "")
    if image is None or row.imported_sha512 != row.sha512 or not row.sha512:
        return False
    tags = image.get("tags") or ()
    return (image.get("status") == "active" and names.TAG_EXPIRED not in tags and names.TAG_BACKUP not in tags
            and not image.get("os_hidden"))


class ListCache:
    """The stored list instances, parsed once each, only when an image of them is imported."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._parsed: Dict[int, Any] = {}

    def get(self, list_id: int) -> Any:
        from glancing.sources.hepix import parse_image_list

        if list_id not in self._parsed:
            # Verified by the update that stored it; read without checking the signature again.
            self._parsed[list_id] = parse_image_list(self.data(list_id), f"stored image list #{list_id}")
        return self._parsed[list_id]

    def raw_entry(self, list_id: int, uuid: str) -> Optional[Dict[str, Any]]:
        """The list entry exactly as the list writes it (values untouched), for cache.index."""
        import json

        from glancing.formats.detect import Kind, detect
        from glancing.trust import smime

        data = self.data(list_id)
        if detect(data).kind is Kind.MIME:
            data = smime.unverified_content(data, f"stored image list #{list_id}")
        for wrapper in json.loads(data).get("hv:imagelist", {}).get("hv:images", []):
            entry = wrapper.get("hv:image") if isinstance(wrapper, dict) else None
            if isinstance(entry, dict) and str(entry.get("dc:identifier", "")).lower() == uuid.lower():
                return entry
        return None

    def data(self, list_id: int) -> bytes:
        """The list as received (the signed message)."""
        row = self.db.conn.execute("SELECT data FROM list_instances WHERE id = ?", (list_id,)).fetchone()
        return bytes(row[0])

    def signer(self, list_id: int) -> str:
        row = self.db.conn.execute("SELECT signer_dn, signer_ca FROM list_instances WHERE id = ?",
                                   (list_id,)).fetchone()
        if row is None or not row[0]:
            return "verified when the list was updated"
        return f"signed by {row[0]} (CA {row[1] or '?'}), verified when the list was updated"


def spec_for(row: Row, lists: ListCache) -> ImageSpec:
    """The ImageSpec of a row, from its stored verified list (the same builder as ``glancing -c``)."""
    from glancing.sources import hepix, with_signature_property

    assert row.list_id is not None
    lst = lists.get(row.list_id)
    image = hepix.find_image(lst, row.uuid)
    spec = hepix.image_to_spec(image, lst, Origin.REMOTE, row.url)
    spec = with_signature_property(spec, lists.signer(row.list_id))
    return replace(spec, properties={**spec.properties, PROP_SUBSCRIPTION: row.subscription,
                                     names.PROP_DATABASE: lists.db.path})


class Syncer:
    """One sync of the subscribed images against ``target``."""

    def __init__(self, db: Any, target: Target, options: SubsSyncOptions, events: ev.EventLog,
                 failed_updates: Set[str], report: SubsReport) -> None:
        self.db, self.target, self.options, self.events = db, target, options, events
        self.failed_updates, self.report = set(failed_updates), report
        self.lists = ListCache(db)
        self.now = options.now()

    def run(self) -> SubsReport:
        rows = load_rows(self.db)
        listed = {i["id"]: i for i in self.target.managed()}
        rejected = rejected_digests(listed.values())
        self.events.emit(ev.PROCESS_PREFIX)
        for row in rows:
            if row.sha512 and row.sha512 in rejected and endorsed(row, self.now):
                self.report.add(SubsOutcome(row.uuid, row.subscription, "failed", title=row.title, detail=(
                    f"image {rejected[row.sha512]} failed quarantine: not retried until the list changes it, or a "
                    f"person runs glance_manager release {rejected[row.sha512]} --force, or reject")))
            elif endorsed(row, self.now) and row.subscription not in self.failed_updates:
                current = is_current(row, listed)
                cache = self.options.cache
                if current and (cache is None or cache.check(row.uuid, row.size, row.sha512)):
                    self.report.current += 1
                else:
                    self.import_one(row, listed, upload=not current)
        blocked = self.failed_updates | self.report.failed_subscriptions
        for outcome in expire_due(self, rows, listed, blocked):
            self.report.add(outcome)
        for outcome in gone_images(self, listed, {r.uuid for r in rows}):
            self.report.add(outcome)
        self.prune_backups()
        self.events.emit(ev.PROCESS_POSTFIX)
        self.report.event_failures = self.events.failures
        return self.report

    def prune_backups(self) -> None:
        """After a run that imported and failed nowhere: the backups of the images it replaced
        beyond ``keep`` are deleted (deactivated when Glance refuses), as the marketplace does."""
        from glancing.manager.images import from_glance
        from glancing.manager.retention import plan_retention

        names_ = {o.title for o in self.report.outcomes if o.action == "imported" and o.title}
        if not names_ or self.report.count("failed") or self.options.dry_run:
            return
        backups = [from_glance(i) for i in self.target.managed()
                   if names.TAG_BACKUP in (i.get("tags") or ()) and i.get(PROP_SUBSCRIPTION)]
        for name in sorted(names_):
            _, doomed = plan_retention([b for b in backups if b.appliance == name], self.options.keep, False)
            for image in doomed:
                result, why = self.target.prune(image.id)
                self.report.pruned.append({"image_id": image.id, "name": name, "result": result, "why": why})

    def import_one(self, row: Row, listed: Mapping[str, Mapping[str, Any]], upload: bool = True) -> None:
        """Import one image (with a cache: download it there first); ``upload`` False: only
        bring it back into the cache (the target has it)."""
        try:
            spec = spec_for(row, self.lists)
            if spec.expires is not None and spec.expires <= self.now:
                return  # an expired entry is not endorsed: expire_due retires it
        except GlancingError as e:
            self.report.add(SubsOutcome(row.uuid, row.subscription, "failed", title=row.title, detail=str(e)))
            return
        if self.options.dry_run:
            self.report.add(SubsOutcome(row.uuid, row.subscription, "would-import" if upload else "would-cache",
                                        title=spec.name))
            return
        fields = self.fields(row, spec)
        self.events.emit(ev.AVAILABLE_PREFIX, fields)
        try:
            image_id = self._import(row, spec, listed) if upload else self._cache_only(row, spec)
        except Exception as e:  # noqa: BLE001 - one image's failure must not end the run
            log.error("%s (%s): import failed: %s", row.uuid, spec.name, e, exc_info=log.isEnabledFor(logging.DEBUG))
            self.events.emit(ev.AVAILABLE_POSTFIX, {**fields, ev.STATUS: "failed"})
            self.report.add(SubsOutcome(row.uuid, row.subscription, "failed", title=spec.name, detail=str(e)))
            return
        action = "imported" if upload else "cached"
        self.events.emit(ev.AVAILABLE_POSTFIX, {**fields, ev.GLANCE_ID: image_id, ev.STATUS: action})
        self.report.add(SubsOutcome(row.uuid, row.subscription, action, image_id=image_id, title=spec.name))

    def _cache_only(self, row: Row, spec: ImageSpec) -> str:
        self.options.cache.provide(row.uuid, spec, self.index_record(row, spec))
        return row.target_id or ""

    def index_record(self, row: Row, spec: ImageSpec) -> Dict[str, Any]:
        """The image's ``cache.index`` entry (vmcatcher's keys), from the stored list."""
        import json

        from glancing.subscriptions.cache import index_entry

        assert row.list_id is not None
        lst = self.lists.get(row.list_id)
        entry = self.lists.raw_entry(row.list_id, row.uuid) or json.loads(row.entry)
        return index_entry(entry, lst.identifier, lst.vo, self.lists.data(row.list_id), row.uuid)

    def fields(self, row: Row, spec: ImageSpec, filename: Optional[str] = None) -> Dict[str, str]:
        import json

        entry = json.loads(row.entry)
        entry = entry.get("hv:image", entry) if isinstance(entry, dict) else {}
        props = spec.properties
        cached = filename or (self.options.cache.filename(row.uuid) if self.options.cache is not None else None)
        fields = ev.image_fields(entry, props.get("hepix_list_id"), props.get("vmcatcher_event_vo"), cached)
        if self.options.cache is None:
            fields["HV_URI"] = spec.source  # without a cache the handler reads the image from its source
        return fields

    def _import(self, row: Row, spec: ImageSpec, listed: Mapping[str, Mapping[str, Any]]) -> str:
        previous = listed.get(row.target_id or "")
        replaced = [dict(previous)] if previous is not None and not previous.get("os_hidden") else []
        if self.options.cache is not None:
            spec = self.options.cache.provide(row.uuid, spec, self.index_record(row, spec))
        opts = replace(self.options.import_options, name=spec.name, dry_run=False,
                       pending_owner=names.OWNER_MANAGER, clean_leftovers=False)
        result = self.options.image_retry.call(
            lambda: import_image(spec, opts, self.target, replace=replaced), lambda e: isinstance(e, UploadInterrupted),
            row.uuid, on_retry=lambda e, pause: log.warning("%s: %s; sending it again in %.1f s", row.uuid, e, pause))
        with self.db.transaction() as conn:
            conn.execute("UPDATE images SET target_id = ?, imported_sha512 = ?, expired_at = NULL WHERE uuid = ?",
                         (result.image_id, row.sha512, row.uuid))
        log.info("%s: imported %s as %s", row.uuid, spec.name, result.image_id)
        assert result.image_id is not None
        return result.image_id

    def record_expiry(self, outcome: ExpiryOutcome) -> None:
        """Remember in the database that a row's image was expired."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE images SET expired_at = ?, target_id = CASE WHEN ? THEN NULL ELSE target_id END "
                         "WHERE uuid = ?", (names.stamp(self.now), outcome.result == "deleted", outcome.uuid))


def sync_subscriptions(db: Any, target: Target, options: SubsSyncOptions, events: ev.EventLog,
                       failed_updates: Set[str] = frozenset()) -> SubsReport:  # type: ignore[assignment]
    """Import and expire the subscribed images once. Raises GlanceError only when the initial
    listing fails (nothing was done then)."""
    return Syncer(db, target, options, events, set(failed_updates), SubsReport()).run()


__all__ = ["Row", "SubsOutcome", "SubsReport", "SubsSyncOptions", "Syncer", "endorsed", "is_current", "load_rows",
           "spec_for", "sync_subscriptions"]
