# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""One glance_manager run: list Glance once, check every listed record, decide, act, prune.

Records are fetched and checked first (in parallel with --jobs); the IDs are then grouped by
appliance: the IDs of one appliance are handled one after another in list order, different
appliances in parallel. Every ID is isolated: its failure becomes its outcome, never the run's.
"""

from __future__ import annotations

import datetime as _dt
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from glancing.errors import GlanceError
from glancing.manager import actions
from glancing.manager.images import (PROP_PENDING_OWNER, TAG_MANAGED, TAG_PENDING, ManagedImage, Snapshot,
                                     from_glance)
from glancing.manager.lists import ImageList, ListEntry
from glancing.manager.plan import Action, Candidate, Decision, plan_image
from glancing.manager.report import ImageOutcome, PruneOutcome, RunReport
from glancing.manager.retry import is_transient
from glancing.manager.retention import plan_retention
from glancing.model import ImageSpec
from glancing.pipeline import ImportOptions, import_image
from glancing.publish.glance import GlanceStore

log = logging.getLogger(__name__)

# ImportOptions.pending_owner of the manager's uploads: the lock holder may delete these.
PENDING_OWNER = "glance_manager"
# Imports of one image per run when Glance fails transiently (e.g. a database deadlock).
IMAGE_ATTEMPTS = 3
# A foreign unfinished upload older than this is reported: its command probably died.
_STALE_FOREIGN = _dt.timedelta(days=1)

FetchSpec = Callable[[str], ImageSpec]  # marketplace ID -> the fetched and checked record


@dataclass(frozen=True)
class SyncOptions:
    """The run's flags as data."""

    dry_run: bool = False
    keep: int = 1
    jobs: int = 1
    import_options: ImportOptions = field(default_factory=ImportOptions)
    # The project (Keystone project id) whose images are managed; None: every image listed.
    owner: Optional[str] = None


def owner_filter(owner: Optional[str]) -> Dict[str, Any]:
    """The server-side filter keeping a listing to ``owner``'s images (empty when unknown).

    Without it a listing also returns other projects' public, shared and community images, and
    every project's for an admin: the manager must never retire, prune or adopt those.
    """
    return {"owner": owner} if owner else {}


class GlanceState:
    """The managed images, listed once, then kept current by re-reading only what a run changed."""

    def __init__(self, store: GlanceStore, owner: Optional[str] = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        query = {"tag": [TAG_MANAGED], **owner_filter(owner)}
        self._raw: Dict[str, Dict[str, Any]] = {i["id"]: i for i in store.list(query, hidden=None)}

    def snapshot(self) -> Snapshot:
        """The managed images as they are now (unpublished uploads left out)."""
        with self._lock:
            return Snapshot(from_glance(i) for i in self._raw.values())

    def pending(self) -> List[ManagedImage]:
        """The unpublished uploads (tag glancing-pending), whoever made them."""
        with self._lock:
            images = [from_glance(i) for i in self._raw.values()]
        return [i for i in images if i.unpublished]

    def raw(self, image_id: str) -> Dict[str, Any]:
        """The Glance dict of a managed (or just adopted) image."""
        with self._lock:
            return dict(self._raw[image_id])

    def refresh(self, ids: Iterable[Optional[str]]) -> None:
        """Re-read the images a step changed (one request each)."""
        for image_id in {i for i in ids if i}:
            image = self._store.get(image_id)
            with self._lock:
                self._raw[image_id] = image

    def forget(self, image_id: str) -> None:
        """Drop a deleted image."""
        with self._lock:
            self._raw.pop(image_id, None)

    def remember(self, image: Mapping[str, Any]) -> None:
        """Track an image found outside the managed listing (an adoption candidate)."""
        with self._lock:
            self._raw.setdefault(image["id"], dict(image))


def clean_pending(store: GlanceStore, state: GlanceState, report: RunReport,
                  now: Optional[_dt.datetime] = None) -> None:
    """Delete the unpublished uploads a killed glance_manager run left behind.

    Only uploads owned by glance_manager: this run holds the lock, so none of them is in
    progress. Another owner's (a `glancing` command's) may be uploading right now: it is left
    alone, and reported once it is over a day old.
    """
    when = now or _dt.datetime.now(_dt.timezone.utc)
    for image in state.pending():
        owner = image.properties.get(PROP_PENDING_OWNER)
        if owner != PENDING_OWNER:
            if image.created_at is not None and when - image.created_at > _STALE_FOREIGN:
                report.warn(f"unfinished upload {image.id} of {owner or 'an unknown command'} since "
                            f"{image.created_at:%Y-%m-%d}: delete it by hand if that command died")
            continue
        try:
            store.delete(image.id)
            state.forget(image.id)
            log.info("removed %s, an unfinished upload left by an interrupted run", image.id)
        except GlanceError as e:
            report.warn(f"could not remove the unfinished upload {image.id}: {e}")


def _check(entry: ListEntry, fetch: FetchSpec) -> Tuple[ImageSpec, Candidate]:
    spec = fetch(entry.mpid)
    return spec, Candidate.from_spec(spec, entry.mpid)


def _unmanaged(store: GlanceStore, candidate: Candidate, owner: Optional[str]) -> List[Dict[str, Any]]:
    """This project's images with the record's sha512 that glancing does not manage (one listing,
    imports only): another project's image is never adopted, even when visible to us."""
    digest = candidate.digests.get("sha512")
    if not digest:
        return []
    try:
        found = store.list({"os_hash_value": digest, **owner_filter(owner)}, hidden=None)
    except GlanceError as e:
        log.warning("cannot look for an unmanaged copy of %s: %s", candidate.mpid, e)
        return []
    return [i for i in found if TAG_MANAGED not in (i.get("tags") or ())
            and TAG_PENDING not in (i.get("tags") or ())]


class Runner:
    """Carries one run out against ``store``; ``fetch`` gets and checks a record by ID."""

    def __init__(self, store: GlanceStore, fetch: FetchSpec, options: SyncOptions, report: RunReport) -> None:
        self.store, self.fetch, self.options, self.report = store, fetch, options, report
        self.state = GlanceState(store, options.owner)

    def decide(self, candidate: Candidate) -> Decision:
        """The plan for one candidate against the current state (adoption looked up if it would upload)."""
        decision = plan_image(candidate, self.state.snapshot())
        if not decision.uploads:
            return decision
        unmanaged = _unmanaged(self.store, candidate, self.options.owner)
        if not unmanaged:
            return decision
        for image in unmanaged:
            self.state.remember(image)
        return plan_image(candidate, self.state.snapshot(), [from_glance(i) for i in unmanaged])

    def act(self, decision: Decision, spec: ImageSpec, entry: ListEntry) -> ImageOutcome:
        """Carry ``decision`` out (not in a dry run) and return its outcome. Raises GlancingError."""
        if self.options.dry_run or decision.action is Action.REFUSE:
            return ImageOutcome.from_decision(decision, entry.where)
        if decision.uploads:
            return self._upload(decision, spec, entry)
        c, target, old = decision.candidate, decision.target, decision.retire
        assert target is not None
        if decision.action is Action.ADOPT:
            actions.adopt(self.store, self.state.raw(target.id), c)
        elif decision.action is Action.RESTORE:
            actions.promote(self.store, self.state.raw(target.id), c.appliance)
        if old is not None:
            actions.retire_as_backup(self.store, self.state.raw(old.id), target.id, c.appliance)
        if decision.action is not Action.NOTHING or old is not None:
            self.state.refresh([target.id, old.id if old else None])
        return ImageOutcome.from_decision(decision, entry.where)

    def _upload(self, decision: Decision, spec: ImageSpec, entry: ListEntry) -> ImageOutcome:
        c, old = decision.candidate, decision.retire
        opts = replace(self.options.import_options, name=c.appliance, dry_run=False,
                       pending_owner=PENDING_OWNER)
        replaced = [self.state.raw(old.id)] if old else []
        # import_image retires ``old`` itself; retire() records its appliance (glancing_appliance).
        for attempt in range(1, IMAGE_ATTEMPTS + 1):
            try:
                result = import_image(spec, opts, self.store, replace=replaced,
                                      extra_properties=actions.record_properties(c))
                break
            except GlanceError as e:
                # Only a transient failure of a Glance request itself: the failed upload was
                # discarded and the old image is untouched, so the whole image can go again.
                if attempt == IMAGE_ATTEMPTS or not is_transient(e):
                    raise
                pause = attempt * random.uniform(0.5, 1.5)
                log.warning("%s: %s; trying this image again in %.1f s", c.label, e, pause)
                time.sleep(pause)
        self.state.refresh([result.image_id, old.id if old else None])
        return ImageOutcome.from_decision(decision, entry.where, image_id=result.image_id,
                                          bytes_uploaded=result.size)

    def one(self, entry: ListEntry, checked: Tuple[ImageSpec, Candidate]) -> ImageOutcome:
        """Plan and act for one ID; any error becomes a failed outcome. Raises nothing but interrupts."""
        spec, candidate = checked
        decision: Optional[Decision] = None
        try:
            decision = self.decide(candidate)
            _log_decision(decision, self.options.dry_run)
            return self.act(decision, spec, entry)
        except Exception as e:  # noqa: BLE001 - one image's failure must not end the run
            log.error("%s: failed: %s", candidate.label, e, exc_info=log.isEnabledFor(logging.DEBUG))
            return ImageOutcome.from_error(entry.mpid, e, entry.where, decision)

    def prune(self, appliances: Iterable[str]) -> None:
        """Delete backups beyond --keep of the listed appliances; none after a failure."""
        failed = self.report.had_failures
        snapshot = self.state.snapshot()
        for name in sorted(set(appliances)):
            kept, doomed = plan_retention(snapshot.appliance(name).backups, self.options.keep, failed)
            if failed and len(kept) > self.options.keep:
                self.report.pruning_skipped = ("an image failed in this run: no backup is deleted "
                                               "until a clean run")
            for image in doomed:
                if self.options.dry_run:
                    self.report.add_prune(PruneOutcome(image.id, name, "planned"))
                    log.info("would delete backup %s (%s) of %s", image.id, image.name, name)
                    continue
                outcome = actions.prune(self.store, image.id, name)
                self.report.add_prune(outcome)
                if outcome.result == "deleted":
                    self.state.forget(image.id)
                log.info("backup %s (%s) of %s: %s", image.id, image.name, name, outcome.result)


def _log_decision(decision: Decision, dry_run: bool) -> None:
    prefix = "would " if dry_run and decision.action is not Action.REFUSE else ""
    if decision.action is Action.REFUSE:
        log.error("%s", decision.describe())
    else:
        log.info("%s%s", prefix, decision.describe())


def _map(jobs: int, func: Callable[[Any], Any], items: List[Any]) -> List[Any]:
    if jobs <= 1 or len(items) <= 1:
        return [func(i) for i in items]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="glance_manager") as pool:
        return list(pool.map(func, items))


def sync(image_list: ImageList, store: GlanceStore, fetch: FetchSpec, options: SyncOptions,
         report: RunReport) -> RunReport:
    """Run glance_manager once over ``image_list``; fills and returns ``report`` (finished).

    Raises GlanceError only when the initial listing fails (nothing was done then); every other
    error is one ID's failed outcome.
    """
    runner = Runner(store, fetch, options, report)
    if not options.dry_run:
        clean_pending(store, runner.state, report)
    entries = list(image_list.entries)

    def check(entry: ListEntry) -> Any:
        try:
            return _check(entry, fetch)
        except Exception as e:  # noqa: BLE001 - a bad record fails its ID only
            log.error("%s: %s", entry.mpid, e, exc_info=log.isEnabledFor(logging.DEBUG))
            return e

    checked = _map(options.jobs, check, entries)
    outcomes: Dict[int, ImageOutcome] = {}
    groups: Dict[str, List[int]] = {}
    for index, (entry, result) in enumerate(zip(entries, checked)):
        if isinstance(result, BaseException):
            outcomes[index] = ImageOutcome.from_error(entry.mpid, result, entry.where)
        else:
            groups.setdefault(result[1].appliance, []).append(index)

    def run_group(indexes: List[int]) -> None:
        for index in indexes:  # one appliance: strictly in list order
            outcomes[index] = runner.one(entries[index], checked[index])

    _map(options.jobs, run_group, list(groups.values()))
    for index in range(len(entries)):
        report.add(outcomes[index])
    runner.prune(groups)
    report.finish()
    return report
