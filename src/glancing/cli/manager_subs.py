# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager's subscription commands: parse, call ``glancing.subscriptions``, print."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from typing import Any, Dict, List

from glancing import errors
from glancing.cli import common, options
from glancing.errors import UsageError
from glancing.manager.lock import RunLock, default_lock_path
from glancing.settings import Settings
from glancing.subscriptions import service
from glancing.subscriptions.db import Database
from glancing.subscriptions.service import SHOW_FORMATS, SubscribeOptions
from glancing.subscriptions.store import NEW_IMAGES, ImageRow, images, subscriptions
from glancing.subscriptions.update import emit_new_images, exit_code, update_all

log = logging.getLogger("glancing")

SUBSCRIBE_HELP = """\
The list is fetched and verified now (signature, chain to --ca-dir with CRLs, endorser) and
stored keyed by its dc:identifier; the URL stays the one given, whatever the list's hv:uri says.
Without --endorser or --auto-endorse the trust file decides who may sign it. --endorser DN
[--ca DN] pins the signer instead: only it may sign this list. --auto-endorse pins whoever
signed the list fetched now (said on stderr). The first list's images are listed, not selected
(selected with --new-images subscribe): choose with glance_manager select."""

UPDATE_HELP = """\
Each list is fetched with one conditional GET; unchanged (304), nothing else happens. A list is
refused, and its subscription left as it was, for: a bad signature, a signer that is not its
hv:dn/hv:ca, an untrusted or unpinned signer, a chain or CRL failure, a creation date in the
future, expiry, a version lower than the stored one, the same version with other content, a
changed dc:identifier, or an image entry missing a required key (named). Exit status 5 when a
list was refused, 8 when one could not be fetched; the other subscriptions are updated."""


def open_db(args: argparse.Namespace, settings: Settings) -> Database:
    """The database --db or ``[manager] database`` names (created with its directory)."""
    return Database.open(getattr(args, "db", None) or settings.get("manager", "database"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _print_json(value: Any) -> None:
    common.print_json(value)


def subscribe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="the image list (https, http or a local file)")
    p.add_argument("--endorser", dest="pin_dn", metavar="DN",
                   help="only this signer may sign the list (instead of the trust file; chain and CRL still checked)")
    p.add_argument("--ca", dest="pin_ca", metavar="DN", help="... and only under this CA")
    p.add_argument("--auto-endorse", action="store_true",
                   help="pin the signer of the list as fetched now (chain and CRL still required)")
    p.add_argument("--new-images", choices=NEW_IMAGES, default="accept",
                   help="images appearing in later versions: accept (listed, not selected; default), "
                        "subscribe (selected), refuse (not listed)")
    p.add_argument("--user", dest="username", metavar="USER", help="HTTP basic auth user")
    p.add_argument("--password-file", metavar="FILE", help="file holding the HTTP basic auth password")
    event_option(p)


def event_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--event-cmd", metavar="COMMAND", default=argparse.SUPPRESS,
                   help="shell command run for each SubscriptionImageNew event ([events] command, else "
                        "$VMCATCHER_CACHE_EVENT)")


def _events(db: Database, args: argparse.Namespace, settings: Settings) -> Any:
    from glancing.cli.manager_sync import event_settings
    from glancing.subscriptions.events import EventLog

    chosen = event_settings(args, settings)
    return EventLog(db, chosen.command, chosen.timeout, base_env=chosen.env)


def subscribe(args: argparse.Namespace) -> int:
    settings = options.load_settings(args)
    request = SubscribeOptions(endorser_dn=args.pin_dn, endorser_ca=args.pin_ca, auto_endorse=args.auto_endorse,
                               new_images=args.new_images, username=args.username,
                               password_file=args.password_file)
    request.check()
    with open_db(args, settings) as db:
        done = service.subscribe(db, args.url, request, options.http_settings(settings),
                                 options.trust_policy(args, settings), _now())
        emit_new_images(db, _events(db, args, settings), [done.result])
    if done.auto_endorsed:
        # Printed, not logged: -q must not hide what this subscription now trusts.
        print(f"glance_manager: WARNING: --auto-endorse: subscription {done.subscription.id} now trusts "
              f"ONLY its first signer {done.auto_endorsed}; a list signed by anyone else will be refused",
              file=sys.stderr)
    for warning in done.result.warnings:
        log.warning("%s", warning)
    if args.json:
        _print_json(done.to_dict())
    else:
        sub = done.subscription
        print(f"{sub.id} {sub.url} version {done.result.version}: {len(done.result.new_images)} image(s), "
              f"new images: {sub.new_images}")
    return errors.OK


def subscriptions_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("words", nargs="*", metavar="show ID|URL", help="show one subscription")
    p.add_argument("--format", dest="show_format", choices=SHOW_FORMATS, default="lines",
                   help="for show: lines, json, message (the list's JSON) or smime (as received)")


def subscriptions_command(args: argparse.Namespace) -> int:
    settings = options.load_settings(args)
    with open_db(args, settings) as db:
        if args.words:
            if len(args.words) != 2 or args.words[0] != "show":
                raise UsageError("subscriptions takes nothing, or: show ID|URL")
            fmt = "json" if args.json and args.show_format == "lines" else args.show_format
            sys.stdout.buffer.write(service.show(db, args.words[1], fmt))
            sys.stdout.flush()
            return errors.OK
        rows = [service.summary(db, sub) for sub in subscriptions(db)]
    if args.json:
        _print_json(rows)
    elif not rows:
        print("no subscriptions")
    for info in [] if args.json else rows:
        error = f"  LAST ERROR: {info['last_error']}" if info["last_error"] else ""
        print(f"{info['id']}  {info['url']}  version {info['version']}  {info['images']} images "
              f"({info['selected']} selected)  new images: {info['new_images']}{error}")
    return errors.OK


def id_or_url_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("subscription", metavar="ID|URL", help="the subscription's list identifier or URL")


def unsubscribe(args: argparse.Namespace) -> int:
    with open_db(args, options.load_settings(args)) as db:
        sub, count = service.unsubscribe(db, args.subscription)
    message = (f"unsubscribed {sub.id} ({sub.url}); its {count} image(s) stay in Glance until "
               "the next sync expires them")
    if args.json:
        _print_json({"unsubscribed": sub.id, "url": sub.url, "images": count})
    else:
        print(message)
    return errors.OK


def images_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subscription", metavar="ID", help="only this subscription's images")


def _image_line(r: ImageRow) -> str:
    return (f"{r.uuid}  {r.state}  {r.title or ''}  {r.version or ''}  {(r.sha512 or '')[:16]}  "
            f"{r.target_id or '-'}")


def images_command(args: argparse.Namespace) -> int:
    with open_db(args, options.load_settings(args)) as db:
        wanted = service.find_subscription(db, args.subscription).id if args.subscription else None
        rows = images(db, wanted)
    if args.json:
        _print_json([r.to_dict() for r in rows])
    else:
        print("UUID  STATE(1 selected, 2 available, 3 both)  TITLE  VERSION  SHA512  GLANCE ID")
        for r in rows:
            print(_image_line(r))
    return errors.OK


def image_keys_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("keys", nargs="+", metavar="UUID|SHA512", help="images (see glance_manager images)")


def _set_selected(args: argparse.Namespace, selected: bool) -> int:
    with open_db(args, options.load_settings(args)) as db:
        rows = service.set_selected(db, args.keys, selected)
    if args.json:
        _print_json([r.to_dict() for r in rows])
    else:
        for r in rows:
            print(_image_line(r))
    return errors.OK


def select(args: argparse.Namespace) -> int:
    return _set_selected(args, True)


def deselect(args: argparse.Namespace) -> int:
    return _set_selected(args, False)


def update(args: argparse.Namespace) -> int:
    settings = options.load_settings(args)
    policy = options.trust_policy(args, settings)
    with RunLock(settings.get("manager", "lock") or default_lock_path()):
        with open_db(args, settings) as db:
            results = update_all(db, options.http_settings(settings), policy, _now())
            emit_new_images(db, _events(db, args, settings), results)
    report: List[Dict[str, Any]] = [dict(r.to_dict()) for r in results]
    if args.json:
        _print_json(report)
    elif not args.quiet:
        for result in results:
            print(result.describe())
        if not results:
            print("no subscriptions (see glance_manager subscribe)")
    return exit_code(results)
