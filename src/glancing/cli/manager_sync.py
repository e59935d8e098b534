# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager sync`` (subscriptions, then the marketplace ID lists, under one lock) and
``glance_manager events``: parsing and printing only; the procedures are in
``glancing.subscriptions.runsync`` and ``glancing.manager.service``."""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Optional

from glancing import errors
from glancing.cli import common, options
from glancing.settings import Settings
from glancing.subscriptions.db import DEFAULT_DATABASE


def add_sync_options(p: argparse.ArgumentParser, suppress: bool = False) -> None:
    """The options of sync (also taken before any command, for a bare ``glance_manager -l LIST``)."""
    default: Dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    group = p.add_argument_group("subscriptions (sync)")
    group.add_argument("--cache-dir", metavar="DIR", **default,
                       help="vmcatcher-compatible image cache: download, verify, then upload from there "
                            "([cache] dir; default: none, images stream into Glance)")
    group.add_argument("--verify-cache", action="store_true", **default,
                       help="re-hash every cached file ([cache] verify; else only when its size or mtime changed)")
    group.add_argument("--event-cmd", metavar="COMMAND", **default,
                       help="shell command run for each vmcatcher event ([events] command, else "
                            "$VMCATCHER_CACHE_EVENT)")


def add_events_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--replay", action="store_true", help="run the pending and failed events again")
    p.add_argument("--event-cmd", metavar="COMMAND", default=argparse.SUPPRESS,
                   help="the handler to replay with ([events] command, else $VMCATCHER_CACHE_EVENT)")


def database(args: argparse.Namespace, settings: Settings) -> str:
    return getattr(args, "db", None) or settings.get("manager", "database") or DEFAULT_DATABASE


def event_settings(args: argparse.Namespace, settings: Settings) -> Any:
    from glancing.subscriptions.runsync import EventSettings

    env = dict(os.environ)  # handlers inherit the command's environment, as vmcatcher's did
    command = getattr(args, "event_cmd", None) or settings.get("events", "command") or env.get("VMCATCHER_CACHE_EVENT")
    return EventSettings(command or None, settings.get("events", "timeout"), env)


def _cache(args: argparse.Namespace, settings: Settings) -> Any:
    directory = getattr(args, "cache_dir", None) or settings.get("cache", "dir")
    if not directory:
        return None
    from glancing.subscriptions.cache import Cache, CacheSettings

    verify = bool(getattr(args, "verify_cache", False)) or settings.get("cache", "verify")
    return Cache(CacheSettings(directory, settings.get("cache", "keep_expired"), verify),
                 options.http_settings(settings))


def subscriptions_step(args: argparse.Namespace, settings: Settings, import_options: Any, results: List[Any]) -> Any:
    """The callable the marketplace sync runs under its lock, first: it records its result in
    ``results``. None without a database: no subscription was ever made."""
    from glancing.subscriptions.runsync import SubsRunRequest, run_subscriptions
    from glancing.subscriptions.sync import SubsSyncOptions

    path = database(args, settings)
    if not os.path.exists(path):
        return None
    request = SubsRunRequest(
        path,
        SubsSyncOptions(on_expire=settings.get("manager", "on_expire"), keep=settings.get("manager", "keep"),
                        dry_run=args.dry_run,
                        import_options=import_options, cache=_cache(args, settings)),
        event_settings(args, settings), options.http_settings(settings),
        policy=lambda: options.trust_policy(args, settings))

    def step(connect: Any) -> None:
        result = run_subscriptions(request, connect)
        if result is not None:
            results.append(result)
    return step


def combined_code(codes: List[int]) -> int:
    """One code for the run: the only non-zero one, else PARTIAL when several parts failed."""
    failed = sorted({c for c in codes if c != errors.OK})
    if not failed:
        return errors.OK
    return failed[0] if len(failed) == 1 else errors.PARTIAL


def print_sync(args: argparse.Namespace, report: Any, subs: Optional[Any]) -> int:
    if args.json:
        common.print_json({**report.to_dict(), "subscriptions": subs.to_dict() if subs else None})
    elif not args.quiet:
        if subs is not None:
            print(subs.summary())
        if report.outcomes or not subs:
            print(report.summary())
    return combined_code([report.exit_code()] + ([subs.exit_code()] if subs else []))


def events(args: argparse.Namespace) -> int:
    """``glance_manager events [--replay] [--json]``."""
    from glancing.subscriptions.runsync import replay_events, undone_events

    settings = options.load_settings(args)
    path = database(args, settings)
    shown = replay_events(path, event_settings(args, settings)) if args.replay else undone_events(path)
    if args.json:
        common.print_json([e.to_dict() for e in shown])
    else:
        for e in shown:
            who = e.env.get("VMCATCHER_EVENT_DC_IDENTIFIER", "-")
            print(f"{e.id:>6}  {e.status:<7} {e.type:<20} {who:<38} tries {e.attempts}  {e.last_error or ''}".rstrip())
        if not shown:
            print("no pending or failed events")
    return errors.PARTIAL if args.replay and any(e.status != "done" for e in shown) else errors.OK


__all__ = ["add_events_options", "add_sync_options", "combined_code", "events", "print_sync", "subscriptions_step"]
