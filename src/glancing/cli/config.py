# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing config``: the effective settings and where each value came from, like
``git config --list --show-origin``; secrets are masked."""

from __future__ import annotations

import argparse
from typing import List

from glancing import errors
from glancing.cli import common, options
from glancing.settings import Settings

DESCRIPTION = """\
Print every setting glancing, glance_manager and glancing-metadata use, with its origin:
"option", "env:NAME" (GLANCING_<SECTION>_<KEY>, or an older short name), "file:PATH"
(~/.config/glancing/glancing.conf, then /etc/glancing/glancing.conf, or --config FILE), or
"default". etc/glancing.conf.example documents every key."""


def parse(argv: List[str]) -> argparse.Namespace:
    p = common.Parser(prog="glancing config", description=DESCRIPTION, epilog=errors.EXIT_CODES_HELP,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_config_option(p)
    p.add_argument("--json", action="store_true", help="print a JSON list of {key, value, origin}")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks of errors")
    return p.parse_args(argv)


def show(args: argparse.Namespace) -> int:
    settings = Settings.load(config=args.config)
    if args.json:
        common.print_json({"files": [str(f) for f in settings.files], "settings": settings.describe()})
        return errors.OK
    width = max(len(v.origin) for v in settings)
    for value in settings:
        print(f"{value.origin:<{width}}  {value.key.dotted}={value.shown}")
    return errors.OK


def main(argv: List[str]) -> int:
    return common.main("glancing config", argv, parse, show)
