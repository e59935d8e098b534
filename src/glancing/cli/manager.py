# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager``: keep Glance in step with lists of marketplace IDs (cron-safe), show the managed
images, roll an appliance back. A thin layer over ``glancing.manager``."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Optional, Sequence

from glancing import __version__, errors
from glancing.cli import common, manager_quarantine, manager_sync, manager_vmcatcher, options
from glancing.cli import manager_subs as subs
from glancing.manager import service
from glancing.manager.lock import default_lock_path
from glancing.manager.run import SyncOptions
from glancing.subscriptions.db import DEFAULT_DATABASE
from glancing.pipeline import ImportOptions
from glancing.retry import RetryPolicy
from glancing.settings import Settings
from glancing.manager.status import format_status
from glancing.sources.marketplace import marketplace_base
from glancing.targets.base import Target
from glancing.targets.glance.auth import register_arguments

log = logging.getLogger("glancing")

DESCRIPTION = """\
Keep the images of marketplace ID lists current in OpenStack Glance (run it from cron).

  glance_manager -l LIST [-l LIST ...]   sync: import new appliances and new versions
  glance_manager status                  the managed images: appliance, version, mpid, state, age
  glance_manager rollback APPLIANCE      make the newest backup current again
  glance_manager subscribe URL           follow a signed HEPiX image list (see COMMAND --help)
  glance_manager update                  refresh every subscribed list
  glance_manager sync [--cache-dir DIR]  update, import the selected images, expire the unendorsed,
                                         fire the events; then the -l lists (the cron job)
  glance_manager events [--replay]       the event handler runs that failed, run again
  glance_manager quarantine              the images held or rejected by the quarantine checks
  glance_manager release ID [--force]    publish a quarantined image; reject ID: refuse it for good

Each listed ID's record is fetched and checked exactly as `glancing ID` does. An appliance is
its Glance name (the record title). Present with this ID and digest: nothing to do. A newer
version: imported and verified, then the current image is retired as a backup (renamed
"TITLE (VERSION)", hidden, tagged glancing-backup, still active). An older version: refused.
An unmanaged image with the same sha512: adopted, not uploaded again. Versions compare
numerically when numeric or dotted (10 > 9, 1.10 > 1.9), else by endorsement date.
Backups beyond --keep are deleted (deactivated when Glance refuses), never in a run where an
image failed. A rolled-back version is not reinstated by later runs."""

EPILOG = f"""\
{errors.EXIT_CODES_HELP}
  glance_manager sync: 8 means one or more images failed or were refused (see the summary);
  the other images were still handled. 3 means the marketplace could not be reached at all,
  4 that Glance could not be listed, 6 that another run holds the lock: nothing was done.
  glance_manager update: 5 means one or more lists were refused (bad signature, untrusted or
  unpinned signer, expired, from the future, downgraded, same version with other content,
  changed identifier): those subscriptions were left as they were, the others were updated;
  8 means a list could not be fetched (and none was refused).
"""


@dataclass(frozen=True)
class Command:
    """One subcommand: its procedure, its one-line help, and the options only it takes."""

    name: str
    run: Callable[[argparse.Namespace], int]
    help: str
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    usage: str = ""  # its own arguments, for the usage line: "URL [--auto-endorse] ..."
    details: str = ""  # more of its --help, after the one-line help


def _shared_options(p: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """The options every command takes, before or after its name."""
    p.add_argument("-l", "--list", "--vmlist", action="append", default=[], metavar="LIST",
                   help="file of marketplace IDs, one per line (repeatable; see img_list.txt.example)")
    p.add_argument("--db", metavar="FILE",
                   help=f"the subscriptions database ([manager] database, default {DEFAULT_DATABASE})")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing in Glance")
    p.add_argument("--keep", type=int, metavar="N", help="backups kept per appliance ([manager] keep, default 1)")
    p.add_argument("--jobs", type=int, metavar="N", help="images handled in parallel ([manager] jobs, default 1)")
    p.add_argument("--lock", metavar="FILE",
                   help=f"lock file; a second run exits with status 6 ([manager] lock, default {default_lock_path()})")
    p.add_argument("--json", action="store_true", help="print the run report (or listing) as JSON on stdout")
    # dest is not "metrics": openstack.config reads every namespace attribute as a cloud setting,
    # and its own "metrics" setting must be a dict.
    p.add_argument("--metrics", dest="metrics_file", metavar="FILE",
                   help="write Prometheus text-file collector metrics to FILE (atomically; [manager] metrics)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug messages and tracebacks")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    options.add_record_options(p, image_list=False)
    options.add_fetch_options(p)
    options.add_trust_options(p)
    options.add_config_option(p)
    options.add_target_option(p)
    register_arguments(p, argv)


def _subcommand(subparsers: Any, command: Command, argv: Sequence[str]) -> None:
    # "resolve": a command may redefine a shared option (subscribe's --endorser pins, it does
    # not add trust).
    description = f"{command.help}\n\n{command.details}" if command.details else command.help
    sub = subparsers.add_parser(command.name, help=command.help, description=description,
                                prog=f"glance_manager {command.name}",
                                usage=f"glance_manager [options] {command.name} {command.usage}".rstrip(),
                                conflict_handler="resolve",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _shared_options(sub, argv)
    # A shared option given before the command name must survive the subparser's defaults.
    for action in sub._actions:
        if action.dest != "help":
            action.default = argparse.SUPPRESS
    command.arguments(sub)
    sub.set_defaults(command=command.name)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The glance_manager argument parser (auth options included): one subparser per COMMANDS
    entry; no command is ``sync``."""
    p = common.Parser(prog="glance_manager", description=DESCRIPTION, epilog=EPILOG,
                      usage="glance_manager [options] [-l LIST ...] [COMMAND [ARGS]]",
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"glance_manager {__version__}")
    _shared_options(p, argv)
    manager_sync.add_sync_options(p)
    p.set_defaults(command="sync")
    subparsers = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=common.Parser)
    for command in COMMANDS.values():
        _subcommand(subparsers, command, argv)
    return p


def _connect(args: argparse.Namespace, settings: Settings, cloud: Optional[str] = None) -> Any:
    def connect() -> Target:
        clouds = settings.get("glance", "clouds") or ()
        if cloud is None and len(clouds) > 1:
            raise errors.UsageError(f"this command works on one cloud; {len(clouds)} are given "
                                    "(--os-cloud or [glance] clouds): name one with --os-cloud")
        return options.connect_target(args, settings, cloud=cloud or (clouds[0] if clouds else None))  # type: ignore[no-any-return]
    return connect


def _fetcher(args: argparse.Namespace, settings: Settings) -> Any:
    def fetcher() -> Any:
        from glancing.manager import verified

        sources = options.source_settings(args, settings)  # one trust policy (CA dir, CRLs) for the run
        cache = verified.CacheOptions(
            near_expiry=dt.timedelta(seconds=settings.get("manager", "verified_near_expiry")),
            max_age=dt.timedelta(seconds=settings.get("manager", "verified_max_age")))
        return verified.for_run(sources, settings.get("manager", "database"),
                                settings.given("manager", "database"), cache)
    return fetcher


def _lock(settings: Settings) -> str:
    return settings.get("manager", "lock") or default_lock_path()


def _sync(args: argparse.Namespace) -> int:
    settings = options.load_settings(args)
    sync_options = SyncOptions(dry_run=args.dry_run, keep=settings.get("manager", "keep"),
                               on_expire=settings.get("manager", "on_expire"),
                               jobs=settings.get("manager", "jobs"),
                               import_options=ImportOptions(
                                   http=options.http_settings(settings), tmp_dir=settings.get("fetch", "tmp_dir"),
                                   conversion=options.conversion_settings(settings),
                                   method=settings.get("glance", "import_method"),
                                   **manager_quarantine.gates(settings, args.dry_run)),
                               image_retry=RetryPolicy(retries=settings.get("manager", "image_retries"),
                                                       backoff=settings.get("manager", "image_backoff")))
    request = service.SyncRequest(
        lists=args.list, options=sync_options, lock_path=_lock(settings),
        metrics_file=settings.get("manager", "metrics"),
        marketplace=marketplace_base(settings.get("sources", "marketplace_url")))
    subs: list = []
    request = replace(request, subscriptions=manager_sync.subscriptions_step(
        args, settings, sync_options.import_options, subs))
    clouds = settings.get("glance", "clouds") or ()
    if len(clouds) > 1:
        from glancing.cli.manager_clouds import sync_each

        return sync_each(args, clouds, request, lambda c: _connect(args, settings, c), _fetcher(args, settings))
    report = service.run_sync(request, _connect(args, settings), _fetcher(args, settings))
    return manager_sync.print_sync(args, report, subs[0] if subs else None)


def _status(args: argparse.Namespace) -> int:
    rows = service.status(_connect(args, options.load_settings(args))())
    if args.json:
        common.print_json([r.to_dict() for r in rows])
    else:
        print(format_status(rows))
    return errors.OK


def _rollback(args: argparse.Namespace) -> int:
    settings = options.load_settings(args)
    result = service.rollback(_connect(args, settings), args.appliance, _lock(settings), args.dry_run)
    print(result.describe())
    return errors.OK


def _rollback_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("appliance", nargs="?", help="the appliance (Glance name) to roll back")


# The subcommands. A new command: its procedure in the library, its entry here.
COMMANDS: Dict[str, Command] = {c.name: c for c in (
    Command("sync", _sync, "update, import and expire (the cron job; also what no command does)",
            lambda p: manager_sync.add_sync_options(p, suppress=True),
            "[-l LIST ...] [--cache-dir DIR] [--verify-cache] [--event-cmd COMMAND]"),
    Command("events", manager_sync.events, "the pending and failed events; --replay runs them again",
            manager_sync.add_events_options, "[--replay] [--json]"),
    Command("status", _status, "the managed images: appliance, version, mpid, state, age"),
    Command("rollback", _rollback, "make the newest backup of APPLIANCE current again",
            _rollback_arguments, "APPLIANCE"),
    Command("quarantine", manager_quarantine.list_command, "the images the quarantine holds or rejected"),
    Command("release", manager_quarantine.release_command, "publish a quarantined image (--force: a rejected one)",
            manager_quarantine.release_arguments, "ID [--force]", manager_quarantine.RELEASE_HELP),
    Command("reject", manager_quarantine.reject_command, "reject a quarantined image for good",
            manager_quarantine.reject_arguments, "ID", manager_quarantine.REJECT_HELP),
    Command("subscribe", subs.subscribe, "fetch and verify a HEPiX image list now and follow it",
            subs.subscribe_arguments, "URL [--endorser DN [--ca DN]] [--auto-endorse] "
            "[--new-images accept|subscribe|refuse] [--user U --password-file F]", subs.SUBSCRIBE_HELP),
    Command("subscriptions", subs.subscriptions_command, "list the subscriptions, or: show ID|URL",
            subs.subscriptions_arguments, "[show ID|URL [--format lines|json|message|smime]]"),
    Command("unsubscribe", subs.unsubscribe, "stop following a list (its images stay until expired)",
            subs.id_or_url_argument, "ID|URL"),
    Command("images", subs.images_command, "the subscribed lists' images and their vmcatcher state",
            subs.images_arguments, "[--subscription ID] [--json]"),
    Command("select", subs.select, "import these images (UUID or SHA-512) from now on",
            subs.image_keys_argument, "UUID|SHA512 ..."),
    Command("deselect", subs.deselect, "stop importing these images (they expire)",
            subs.image_keys_argument, "UUID|SHA512 ..."),
    Command("update", subs.update, "refresh every subscribed list (SubscriptionImageNew events for new "
            "images); change nothing in Glance", subs.event_option, "[--event-cmd COMMAND]", subs.UPDATE_HELP),
    Command("vmcatcher-event", manager_vmcatcher.vmcatcher_event,
            "handle the vmcatcher event in the environment (put me in VMCATCHER_CACHE_EVENT)",
            manager_vmcatcher.add_event_options, "[--spool] [--mapping FILE]"),
    Command("import-vmcatcher", manager_vmcatcher.import_vmcatcher,
            "take vmcatcher's subscriptions, endorser pins and selected images",
            manager_vmcatcher.add_import_options, "sqlite:///PATH"),
)}


def _dispatch(args: argparse.Namespace) -> int:
    return COMMANDS[args.command].run(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the glance_manager console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return common.main("glance_manager", argv, lambda a: build_parser(a).parse_args(a), _dispatch)


if __name__ == "__main__":
    sys.exit(main())
