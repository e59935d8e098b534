# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-metadata``: check, show and identify StratusLab marketplace records.

Each subcommand module offers ``register(subparsers)``, which adds its parser and sets ``func``
(namespace -> exit code). ``verify`` lives in its own module and joins when it is installed.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Optional, Sequence

from glancing import __version__, errors
from glancing.cli.common import print_json, run, setup_logging
from glancing.errors import SourceError
from glancing.metadata.validate import validate
from glancing.sources import marketplace
from glancing.sources.stratuslab import parse_records
from glancing.verify.identifier import identifier_of_file

PROG = "glancing-metadata"
# Subcommands in other modules, added when present (the trust engineer's ``verify``).
OPTIONAL_MODULES = ("glancing.cli.metadata_verify",)

DESCRIPTION = """\
Check, show and identify StratusLab marketplace records (RDF/XML or RDF/JSON).

A record's checksums and slreq:bytes describe the UNCOMPRESSED image; its identifier is the
image's SHA-1 written as 27 base-64 digits (glancing-metadata id IMAGE computes it)."""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None


def run_validate(args: argparse.Namespace) -> int:
    """Print ``FILE: rule: detail`` on stderr per broken rule; 0 when every file is valid."""
    status = errors.OK
    for path in args.files:
        problems = validate(_read(path), path)
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        if problems:
            status = errors.RECORD_REFUSED
        elif not args.quiet:
            print(f"{path}: valid")
    return status


def run_show(args: argparse.Namespace) -> int:
    """Print every record of a file, or of a marketplace ID's listing, as JSON."""
    source = args.record
    if Path(source).exists() or not marketplace.is_identifier(source):
        records = parse_records(_read(source), source)
    else:
        records, source = marketplace.fetch_records(source, marketplace.marketplace_base(args.url))
    print_json({"source": source, "records": [r.to_json() for r in records]})
    return errors.OK


def run_id(args: argparse.Namespace) -> int:
    """Print the marketplace identifier of an image file."""
    print(identifier_of_file(args.image))
    return errors.OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``validate``, ``show`` and ``id``."""
    p = subparsers.add_parser("validate", help="check records against the StratusLab schema and rules",
                              description="Apply the StratusLab schema and constraint rules. Every "
                              "broken rule prints 'FILE: rule: detail' on stderr; exit 5 if any.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")
    p.set_defaults(func=run_validate)
    p = subparsers.add_parser("show", help="print the normalised record(s) as JSON",
                              description="Print the normalised record(s) of FILE, or of a marketplace "
                              "ID's listing, as JSON.")
    p.add_argument("record", metavar="FILE|ID")
    p.add_argument("-u", "--url", metavar="URL",
                   help=f"marketplace base URL (default ${marketplace.ENV_MARKETPLACE_URL}, else "
                        f"{marketplace.DEFAULT_MARKETPLACE_URL}, which no longer answers)")
    p.set_defaults(func=run_show)
    p = subparsers.add_parser("id", help="print the marketplace identifier of an image file",
                              description="Print the 27-character identifier of IMAGE (its SHA-1 in "
                              "base 64). Hash the uncompressed image, as records do.")
    p.add_argument("image", metavar="IMAGE")
    p.set_defaults(func=run_id)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=errors.EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register(subparsers)
    for name in OPTIONAL_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    setup_logging(PROG, args.verbose, quiet=False)
    return run(PROG, lambda: args.func(args), args.verbose)


if __name__ == "__main__":
    sys.exit(main())
