# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The subscriptions' part of ``glance_manager sync``: events of earlier runs replayed, every
subscription updated, ``SubscriptionImageNew`` fired, then the images imported and expired.

It runs under the manager's lock, before the marketplace ID lists, against the same target. A
site without a database has no subscriptions: nothing is created then.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

from glancing import errors
from glancing.fetch import HttpSettings
from glancing.subscriptions import events as ev
from glancing.subscriptions.db import Database
from glancing.subscriptions.sync import SubsReport, SubsSyncOptions, sync_subscriptions
from glancing.targets.base import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventSettings:
    """[events] command (else $VMCATCHER_CACHE_EVENT, read by the CLI) and timeout; ``env`` is
    what handlers inherit (the CLI passes its environment; library code reads none)."""

    command: Optional[str] = None
    timeout: float = 60.0
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubsRunRequest:
    database: str
    options: SubsSyncOptions
    events: EventSettings = EventSettings()
    http: HttpSettings = field(default_factory=HttpSettings)
    policy: Callable[[], Any] = lambda: None  # the run's TrustPolicy, built only when there is a database
    update: bool = True


@dataclass
class SubsRunResult:
    updates: List[Any]  # subscriptions.update.UpdateResult
    report: SubsReport
    replayed: List[ev.Event] = field(default_factory=list)
    spooled: List[Any] = field(default_factory=list)  # subscriptions.vmcatcher.HandlerResult

    def exit_code(self) -> int:
        """A refused or failed update's code (the other subscriptions proceeded), else the sync's."""
        from glancing.subscriptions.update import exit_code

        spool_failed = any(r.action == "failed" for r in self.spooled)
        return exit_code(self.updates) or self.report.exit_code() or (errors.PARTIAL if spool_failed else errors.OK)

    def summary(self) -> str:
        refused = [u for u in self.updates if not u.ok]
        lines = [f"subscription {u.describe()}" for u in refused]
        lines.append(f"{len(self.updates)} subscriptions updated ({len(refused)} refused or failed); "
                     + self.report.summary())
        lines.extend(f"spooled vmcatcher event: {r.describe()}" for r in self.spooled)
        return "\n".join(lines)

    def to_dict(self) -> Dict[str, Any]:
        return {"updates": [dict(u.to_dict()) for u in self.updates], **self.report.to_dict(),
                "replayed": [e.to_dict() for e in self.replayed], "spooled": [r.to_dict() for r in self.spooled]}


def cache_env(options: SubsSyncOptions, database: str) -> Dict[str, str]:
    """What vmcatcher adds to cache events: its directories and its database."""
    if options.cache is None:
        return {}
    root = str(options.cache.root)
    return {"VMCATCHER_CACHE_DIR_CACHE": root, "VMCATCHER_CACHE_DIR_DOWNLOAD": str(options.cache.partial),
            "VMCATCHER_CACHE_DIR_EXPIRE": str(options.cache.expired), "VMCATCHER_RDBMS": f"sqlite:///{database}"}


def run_subscriptions(request: SubsRunRequest, connect: Callable[[], Target],
                      now: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.timezone.utc)
                      ) -> Optional[SubsRunResult]:
    """Update and sync every subscription; None when there is no database (no subscriptions).
    Raises EnvironmentProblem (database), GlanceError (the target cannot be listed)."""
    if not os.path.exists(request.database):
        return None
    from glancing.subscriptions.update import emit_new_images, update_all

    with Database.open(request.database) as db:
        # A dry run changes nothing a handler could be told about: no event runs, none is replayed.
        command = None if request.options.dry_run else request.events.command
        events = ev.EventLog(db, command, request.events.timeout, base_env=request.events.env,
                             extra=cache_env(request.options, request.database))
        replayed = events.replay()
        # What `vmcatcher-event --spool` left for this run.
        spooled = [] if request.options.dry_run else _spooled(db, connect, request.options)
        updates = update_all(db, request.http, request.policy(), now()) if request.update else []
        emit_new_images(db, events, updates)
        failed = {u.subscription_id for u in updates if not u.ok}
        report = sync_subscriptions(db, connect(), request.options, events, failed)
    return SubsRunResult(updates, report, replayed, spooled)


def _spooled(db: Database, connect: Callable[[], Target], options: SubsSyncOptions) -> List[Any]:
    """The events ``glance_manager vmcatcher-event --spool`` recorded, carried out now."""
    if not db.conn.execute("SELECT 1 FROM vmcatcher_spool WHERE status != 'done' LIMIT 1").fetchone():
        return []
    from glancing.subscriptions.vmcatcher import HandlerOptions, process_spool

    return process_spool(db, connect, HandlerOptions(import_options=options.import_options,
                                                     on_expire=options.on_expire))


def undone_events(database: str) -> List[ev.Event]:
    """``glance_manager events``: the pending and failed events (none without a database)."""
    if not os.path.exists(database):
        return []
    with Database.open(database) as db:
        return ev.undone(db)


def replay_events(database: str, settings: EventSettings) -> List[ev.Event]:
    """``glance_manager events --replay``: run the pending and failed events again."""
    if not os.path.exists(database):
        return []
    if not settings.command:
        raise errors.UsageError("no event command to replay the events with: give --event-cmd, [events] command "
                                "or $VMCATCHER_CACHE_EVENT")
    with Database.open(database) as db:
        return ev.EventLog(db, settings.command, settings.timeout, base_env=settings.env).replay()


__all__ = ["EventSettings", "SubsRunRequest", "SubsRunResult", "cache_env", "replay_events", "run_subscriptions",
           "undone_events"]
