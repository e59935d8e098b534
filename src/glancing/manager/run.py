# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""One glance_manager run: list Glance once, check every listed record, decide, act, prune.

Records are fetched and checked first (in parallel with --jobs); the IDs are then grouped by
appliance: the IDs of one appliance are handled one after another in list order, different
appliances in parallel. Every ID is isolated: its failure becomes its outcome, never the run's.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from glancing.errors import GlanceError
from glancing.manager import actions
from glancing.manager.images import Snapshot, from_glance
from glancing.manager.lists import ImageList, ListEntry
from glancing.manager.plan import Action, Candidate, Decision, plan_image
from glancing.manager.report import ImageOutcome, PruneOutcome, RunReport
from glancing.manager.retention import plan_retention
from glancing.model import ImageSpec
from glancing.pipeline import ImportOptions, import_image
from glancing.retry import RetryPolicy
from glancing.targets import names
from glancing.targets.base import LeftoverPolicy, Target, UploadInterrupted

log = logging.getLogger(__name__)

FetchSpec = Callable[[str], ImageSpec]  # marketplace ID -> the fetched and checked record


@dataclass(frozen=True)
class SyncOptions:
    """The run's flags as data.

    Retries, one layer each: the target retries its own idempotent requests; ``image_retry``
    sends a whole image again only when its upload was interrupted (UploadInterrupted: the
    stream is consumed, the staged copy discarded, the old image untouched).
    """

    dry_run: bool = False
    keep: int = 1
    jobs: int = 1
    import_options: ImportOptions = field(default_factory=ImportOptions)
    image_retry: RetryPolicy = RetryPolicy(retries=2, backoff=1.0)  # [manager] image_retries/image_backoff
    on_expire: str = "deactivate"  # [manager] on_expire: an ID no longer in its list's image


class ManagedState:
    """The managed images, listed once, then kept current by re-reading only what a run changed."""

    def __init__(self, target: Target, images: Iterable[Mapping[str, Any]]) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._raw: Dict[str, Dict[str, Any]] = {i["id"]: dict(i) for i in images}
        # Built once per change, not once per listed ID: rebuilding it for each of 800 IDs cost
        # 800 x 800 image conversions, most of a no-op run.
        self._snapshot: Optional[Snapshot] = None

    @classmethod
    def listed(cls, target: Target) -> "ManagedState":
        """The state as the target lists it now (one listing)."""
        return cls(target, target.managed())

    def snapshot(self) -> Snapshot:
        """The managed images as they are now (unpublished uploads left out)."""
        with self._lock:
            if self._snapshot is None:
                self._snapshot = Snapshot(from_glance(i) for i in self._raw.values())
            return self._snapshot

    def pending(self) -> List[Dict[str, Any]]:
        """The staged, unreleased uploads (tag glancing-pending), whoever made them."""
        with self._lock:
            images = list(self._raw.values())
        return [dict(i) for i in images if from_glance(i).unpublished]

    def raw(self, image_id: str) -> Dict[str, Any]:
        """The image dict of a managed (or just adopted) image."""
        with self._lock:
            return dict(self._raw[image_id])

    def refresh(self, ids: Iterable[Optional[str]]) -> None:
        """Re-read the images a step changed (one request each)."""
        for image_id in {i for i in ids if i}:
            image = self._target.get(image_id)
            with self._lock:
                self._raw[image_id] = image
                self._snapshot = None

    def forget(self, image_id: str) -> None:
        """Drop a deleted image."""
        with self._lock:
            self._raw.pop(image_id, None)
            self._snapshot = None

    def remember(self, image: Mapping[str, Any]) -> None:
        """Track an image found outside the managed listing (an adoption candidate)."""
        with self._lock:
            if image["id"] not in self._raw:
                self._raw[image["id"]] = dict(image)
                self._snapshot = None


def clean_pending(target: Target, state: ManagedState, report: RunReport, stale_after: _dt.timedelta,
                  now: Optional[_dt.datetime] = None) -> None:
    """Remove the staged uploads dead glance_manager runs left behind (never a live run's: see
    targets.base.judge_leftover). Another command's old leftover is reported, not touched."""
    policy = LeftoverPolicy(names.OWNER_MANAGER, stale_after)
    for image, verdict in target.clean_leftovers(policy, state.pending(), now):
        if verdict == "removed":
            state.forget(image["id"])
        elif verdict.startswith("failed"):
            report.warn(f"could not remove the unfinished upload {image['id']}: {verdict[len('failed: '):]}")
        elif verdict == "stale-other":
            owner = image.get(names.PROP_PENDING_OWNER) or "an unknown command"
            since = str(image.get(names.PROP_PENDING_STARTED) or image.get("created_at") or "?")[:10]
            report.warn(f"unfinished upload {image['id']} of {owner} since {since}: "
                        "delete it by hand if that command died")


def _check(entry: ListEntry, fetch: FetchSpec) -> Tuple[ImageSpec, Candidate]:
    spec = fetch(entry.mpid)
    return spec, Candidate.from_spec(spec, entry.mpid)


def _unmanaged(target: Target, candidate: Candidate) -> List[Dict[str, Any]]:
    """This project's images with the record's sha512 that glancing does not manage (one listing,
    imports only): another project's image is never adopted, even when visible to us."""
    digest = candidate.digests.get("sha512")
    if not digest:
        return []
    try:
        found = target.with_digest("sha512", digest)
    except GlanceError as e:
        log.warning("cannot look for an unmanaged copy of %s: %s", candidate.mpid, e)
        return []
    return [i for i in found if names.TAG_MANAGED not in (i.get("tags") or ())
            and names.TAG_PENDING not in (i.get("tags") or ())]


class Runner:
    """Carries one run out against ``target``; ``fetch`` gets and checks a record by ID."""

    def __init__(self, target: Target, fetch: FetchSpec, options: SyncOptions, report: RunReport,
                 state: ManagedState) -> None:
        self.target, self.fetch, self.options, self.report, self.state = target, fetch, options, report, state

    def decide(self, candidate: Candidate) -> Decision:
        """The plan for one candidate against the current state (adoption looked up if it would upload)."""
        decision = plan_image(candidate, self.state.snapshot())
        if not decision.uploads:
            return decision
        unmanaged = _unmanaged(self.target, candidate)
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
        c, current, old = decision.candidate, decision.target, decision.retire
        assert current is not None
        if decision.action is Action.ADOPT:
            self.target.adopt(self.state.raw(current.id), c.appliance,
                              {**actions.record_properties(c), **_listed_in(entry)})
        elif decision.action is Action.RESTORE:
            actions.promote(self.target, self.state.raw(current.id), c.appliance)
        if old is not None:
            actions.retire_as_backup(self.target, self.state.raw(old.id), current.id, c.appliance)
        if decision.action is not Action.NOTHING or old is not None:
            self.state.refresh([current.id, old.id if old else None])
        return ImageOutcome.from_decision(decision, entry.where)

    def _upload(self, decision: Decision, spec: ImageSpec, entry: ListEntry) -> ImageOutcome:
        c, old = decision.candidate, decision.retire
        opts = replace(self.options.import_options, name=c.appliance, dry_run=False,
                       pending_owner=names.OWNER_MANAGER, clean_leftovers=False)
        replaced = [self.state.raw(old.id)] if old else []

        def attempt() -> Any:
            # import_image retires ``old`` itself, recording its appliance (glancing_appliance).
            return import_image(spec, opts, self.target, replace=replaced,
                                extra_properties={**actions.record_properties(c), **_listed_in(entry)})

        result = self.options.image_retry.call(
            attempt, lambda e: isinstance(e, UploadInterrupted), c.label,
            on_retry=lambda e, pause: log.warning("%s: %s; sending this image again in %.1f s", c.label, e, pause))
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
                outcome = actions.prune(self.target, image.id, name)
                self.report.add_prune(outcome)
                if outcome.result == "deleted":
                    self.state.forget(image.id)
                log.info("backup %s (%s) of %s: %s", image.id, image.name, name, outcome.result)


    def expire_unlisted(self, image_list: ImageList, appliances: Iterable[str]) -> None:
        """Expire the current images whose ID was taken out of the list file that brought them
        (``glancing_list``: images imported before it was recorded are left alone, as are those
        of list files this run did not read) and whose appliance no listed ID names (a rolled
        back version stays); never in a run where an image failed."""
        if self.report.had_failures:
            return
        lists = {os.path.abspath(p) for p in image_list.paths}
        listed, kept = {e.mpid for e in image_list.entries}, set(appliances)
        for image in self.state.snapshot().images:
            if (image.is_backup or image.unpublished or not image.mpid or image.mpid in listed
                    or image.appliance in kept or image.properties.get(names.PROP_LIST) not in lists):
                continue
            if self.options.dry_run:
                self.report.expired.append(PruneOutcome(image.id, image.appliance, "planned"))
                continue
            from glancing.subscriptions.expire import expire_image

            outcome = expire_image(self.target, self.state.raw(image.id), self.options.on_expire)
            self.report.expired.append(PruneOutcome(image.id, image.appliance, outcome.result, outcome.why))
            if outcome.result == "deleted":
                self.state.forget(image.id)


def _listed_in(entry: ListEntry) -> Dict[str, str]:
    """Which list file brought an image: only a run reading that file expires it."""
    return {names.PROP_LIST: os.path.abspath(entry.path)}


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


def sync(image_list: ImageList, target: Target, fetch: FetchSpec, options: SyncOptions,
         report: RunReport) -> RunReport:
    """Run glance_manager once over ``image_list``; fills and returns ``report`` (finished).

    Raises GlanceError only when the initial listing fails (nothing was done then); every other
    error is one ID's failed outcome.
    """
    runner = Runner(target, fetch, options, report, ManagedState.listed(target))
    if not options.dry_run:
        clean_pending(target, runner.state, report, options.import_options.stale_upload_after)
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
    runner.expire_unlisted(image_list, groups)
    report.finish()
    return report
