# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager vmcatcher-event`` and ``glance_manager import-vmcatcher``: parsing and
printing only; the procedures are in ``glancing.subscriptions.vmcatcher`` and
``glancing.subscriptions.vmcatcher_import``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from glancing import errors
from glancing.cli import common, options
from glancing.cli.manager_sync import database
from glancing.pipeline import ImportOptions
from glancing.settings import Settings


def add_event_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spool", action="store_true",
                   help="only record the event in the database and return; the next sync carries it out")
    p.add_argument("--mapping", metavar="FILE",
                   help="'title = glance name' lines (glancepush's gpvmcmapping): the Glance name of a DC_TITLE")


def _connect(args: argparse.Namespace, settings: Settings) -> Any:
    def connect() -> Any:
        return options.connect_target(args, settings)
    return connect


def handler_options(args: argparse.Namespace, settings: Settings) -> Any:
    from glancing.subscriptions.vmcatcher import HandlerOptions, read_mapping

    mapping = read_mapping(args.mapping) if getattr(args, "mapping", None) else {}
    from glancing.cli.manager_quarantine import gates

    return HandlerOptions(ImportOptions(http=options.http_settings(settings), tmp_dir=settings.get("fetch", "tmp_dir"),
                                        conversion=options.conversion_settings(settings), **gates(settings, False)),
                          settings.get("manager", "on_expire"), mapping)


def vmcatcher_event(args: argparse.Namespace) -> int:
    """``glance_manager vmcatcher-event [--spool] [--mapping FILE]``, run by vmcatcher."""
    from glancing.subscriptions import vmcatcher

    settings = options.load_settings(args)
    event = vmcatcher.HandlerEvent.from_env(os.environ)  # vmcatcher hands the event over in the environment
    if args.spool:
        from glancing.subscriptions.db import Database

        mapping = handler_options(args, settings).mapping
        with Database.open(database(args, settings)) as db:
            number = vmcatcher.spool(db, event, mapping)
        result = vmcatcher.HandlerResult(event.type, event.field("DC_IDENTIFIER"), "spooled", [],
                                         f"#{number}, carried out by the next sync")
    else:
        result = vmcatcher.handle(event, _connect(args, settings), handler_options(args, settings))
    if args.json:
        common.print_json(result.to_dict())
    elif not args.quiet:
        print(result.describe())
    return errors.OK




def add_import_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="sqlite:///PATH", help="vmcatcher's database ($VMCATCHER_RDBMS)")


def import_vmcatcher(args: argparse.Namespace) -> int:
    """``glance_manager import-vmcatcher sqlite:///path/vmcatcher.db``."""
    from glancing.subscriptions.db import Database
    from glancing.subscriptions.vmcatcher_import import import_vmcatcher as take

    settings = options.load_settings(args)
    with Database.open(database(args, settings)) as db:
        report = take(db, args.source)
    if args.json:
        common.print_json(report.to_dict())
    elif not args.quiet:
        print("\n".join(report.lines()))
    return errors.OK


__all__ = ["add_event_options", "add_import_options", "handler_options", "import_vmcatcher", "vmcatcher_event"]
