# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager quarantine``, ``release ID [--force]``, ``reject ID``: a person's decisions
about the images the quarantine holds (issue 14)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import Any, Callable

from glancing import errors
from glancing.cli import common, gating, options
from glancing.errors import UsageError
from glancing.manager import quarantine
from glancing.manager.lock import RunLock, default_lock_path

RELEASE_HELP = """\
A rejected image is released only with --force: a person has looked at the failed checks
(glance_manager quarantine) and publishes it anyway. It gets the name it waited for; the
current image of that name is retired as a hidden backup and its members are carried over."""

REJECT_HELP = """\
The image is deactivated (its bytes can no longer be read) and kept, hidden and private, marked
as a person's rejection: glance_manager does not import the same record or bytes again.
Delete it with openstack image delete once that memory is not wanted."""


def _connect(args: argparse.Namespace) -> Any:
    from glancing.targets.glance import connect

    settings = options.load_settings(args)
    return connect(args, options.glance_settings(settings)), settings


def list_command(args: argparse.Namespace) -> int:
    target, _ = _connect(args)
    rows = quarantine.waiting(target)
    if args.json:
        common.print_json([r.to_dict() for r in rows])
    elif not args.quiet:
        for row in rows:
            failed = f"  failed: {row.failed}" if row.failed else ""
            print(f"{row.id}  {row.state:8}  {row.since}  {row.name}{failed}")
        if not rows:
            print("no image in quarantine")
    return errors.OK


def _decide(args: argparse.Namespace, decide: Callable[[Any], str]) -> int:
    if not args.image_id:
        raise UsageError("the image ID is required (see glance_manager quarantine)")
    target, settings = _connect(args)
    with RunLock(settings.get("manager", "lock") or default_lock_path()):
        said = decide(target)
    if not args.quiet:
        print(said)
    return errors.OK


def release_command(args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    return _decide(args, lambda target: quarantine.release(target, args.image_id, args.force, now))


def reject_command(args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    return _decide(args, lambda target: quarantine.reject(target, args.image_id, now))


def release_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image_id", nargs="?", metavar="ID", help="the quarantined image")
    p.add_argument("--force", action="store_true", help="release it although a check failed")


def reject_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image_id", nargs="?", metavar="ID", help="the quarantined image")


def gates(settings: Any, dry_run: bool) -> dict:
    """The quarantine, sharing and protection a sync's imports get ([quarantine], [sharing],
    [glance] protected)."""
    return {"quarantine": gating.quarantine_policy(settings, os.environ, settings.get("fetch", "tmp_dir"), dry_run),
            "sharing": gating.Sharing(settings), "protected": settings.get("glance", "protected")}
