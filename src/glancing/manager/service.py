# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager's commands as library procedures: sync, status, rollback. The CLI parses,
calls one of these, and prints what it returns."""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from glancing.errors import GlancingError, UsageError
from glancing.manager import actions
from glancing.manager.lists import ImageList, read_lists
from glancing.manager.lock import RunLock
from glancing.manager.metrics import check_metrics_path, write_metrics
from glancing.manager.preflight import check_reachable
from glancing.manager.report import RunReport
from glancing.manager.retention import RollbackPlan, plan_rollback
from glancing.manager.run import FetchSpec, ManagedState, SyncOptions, sync
from glancing.manager.status import StatusRow, status_rows
from glancing.targets.base import Target

log = logging.getLogger(__name__)

Connect = Callable[[], Target]  # opens the target only when a command needs it


@dataclass(frozen=True)
class SyncRequest:
    """One sync: the list files, the run's options, the lock, where to write metrics, and the
    marketplace to probe before anything (None: no probe)."""

    lists: Sequence[str]
    options: SyncOptions
    lock_path: str
    metrics_file: Optional[str] = None
    marketplace: Optional[str] = None
    # The HEPiX subscriptions' part of the run (subscriptions.runsync), under the same lock, first.
    subscriptions: Optional[Callable[[Connect], None]] = None


def run_sync(request: SyncRequest, connect: Connect, fetcher: Callable[[], FetchSpec]) -> RunReport:
    """Sync under the lock; the finished report (``report.exit_code()`` is the run's status).

    Raises UsageError for bad options or a missing list, LockHeld when another run holds the
    lock; an error that stops the whole run (marketplace or Glance down) is the report's ``fatal``.
    """
    options = request.options
    if options.keep < 0 or options.jobs < 1:
        raise UsageError("--keep must be 0 or more and --jobs 1 or more")
    # A missing list is an error before anything else; no list at all is one only without subscriptions.
    image_list = read_lists(request.lists) if request.lists or request.subscriptions is None else ImageList((), ())
    if request.metrics_file:
        check_metrics_path(request.metrics_file)
    report = RunReport(started=_dt.datetime.now(_dt.timezone.utc), dry_run=options.dry_run, keep=options.keep)
    for warning in image_list.warnings:
        log.warning("%s", warning)
        report.warn(str(warning))
    with RunLock(request.lock_path):
        try:
            target = _once(connect)
            if request.subscriptions is not None:
                request.subscriptions(target)
            if not request.lists:
                report.finish()
                return report
            fetch = fetcher()
            try:
                if image_list.entries and request.marketplace:
                    check_reachable(request.marketplace, options.import_options.http)
                sync(image_list, target(), fetch, options, report)
            finally:
                _close(fetch)
        except GlancingError as e:
            log.error("%s", e)
            report.abort(e)
            report.finish()
        finally:
            if request.metrics_file:
                write_metrics(request.metrics_file, report)
    return report


def _close(fetch: FetchSpec) -> None:
    """Let a fetcher that keeps state (manager.verified) write it, once, under the lock."""
    close = getattr(fetch, "close", None)
    if close is not None:
        close()


def _once(connect: Connect) -> Connect:
    """``connect`` opened at most once, when first needed."""
    opened: List[Target] = []

    def target() -> Target:
        if not opened:
            opened.append(connect())
        return opened[0]
    return target


def status(target: Target) -> List[StatusRow]:
    """The managed images, one row each."""
    return status_rows(ManagedState.listed(target).snapshot())


@dataclass(frozen=True)
class RollbackResult:
    plan: RollbackPlan
    dry_run: bool

    def describe(self) -> str:
        demoted = self.plan.demote.id if self.plan.demote else "nothing"
        if self.dry_run:
            return f"would make {self.plan.promote.id} ({self.plan.promote.name}) current and retire {demoted}"
        return f"{self.plan.appliance}: {self.plan.promote.id} is current again; {demoted} kept as a backup"


def rollback(connect: Connect, appliance: Optional[str], lock_path: str, dry_run: bool = False) -> RollbackResult:
    """Make ``appliance``'s newest backup current again and keep the demoted image as a backup
    that later runs do not reinstate. Raises UsageError, LockHeld, RecordError or GlanceError."""
    if not appliance:
        raise UsageError("rollback needs the APPLIANCE (see glance_manager status)")
    with RunLock(lock_path):
        target = connect()
        state = ManagedState.listed(target)
        plan = plan_rollback(state.snapshot(), appliance)
        if dry_run:
            return RollbackResult(plan, True)
        actions.promote(target, state.raw(plan.promote.id), plan.appliance)
        if plan.demote is not None:
            actions.retire_as_backup(target, state.raw(plan.demote.id), plan.promote.id, plan.appliance)
            actions.mark_rolled_back(target, plan.demote.id)
    return RollbackResult(plan, False)
