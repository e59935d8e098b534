# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-metadata``: check, show, verify and identify records and image lists; publish records.

Each subcommand module offers ``register(subparsers)``, which adds its parser and sets ``func``
(namespace -> exit code); ``verify`` lives in glancing.cli.metadata_verify, ``build``, ``sign``,
``upload`` and ``deprecate`` in glancing.cli.metadata_publish. What a file is comes
from its content (glancing.formats.detect), the same test ``glancing`` applies to a SOURCE.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from glancing import __version__, errors
from glancing.cli import metadata_publish, metadata_verify
from glancing.cli.common import Parser, print_json
from glancing.cli.common import main as cli_main
from glancing.cli.options import add_config_option, load_settings
from glancing.errors import RecordError, SourceError
from glancing.formats.dates import format_date
from glancing.formats.detect import Kind, detect, refuse_non_object
from glancing.formats.stratuslab.validate import validate
from glancing.sources import marketplace
from glancing.verify.identifier import identifier_of_file

PROG = "glancing-metadata"

DESCRIPTION = """\
Check, show, verify and identify StratusLab marketplace records (RDF/XML or RDF/JSON) and
HEPiX image lists (JSON or S/MIME), recognised by their content, never by their name.

A record's checksums and slreq:bytes describe the UNCOMPRESSED image; its identifier is the
image's SHA-1 written as 27 base-64 digits (glancing-metadata id IMAGE computes it).

Endorsers publish records with build (describe an image), sign (endorse, XML-DSig), upload (to a
marketplace) and deprecate (withdraw a published record)."""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None


def run_validate(args: argparse.Namespace) -> int:
    """Print ``FILE: rule: detail`` on stderr per broken rule; 0 when every file is valid."""
    status = errors.OK
    report = []
    for path in args.files:
        problems = validate(_read(path), path)
        report.append({"file": path, "valid": not problems, "problems": [str(p) for p in problems]})
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        if problems:
            status = errors.RECORD_REFUSED
        elif not args.quiet and not args.json:
            print(f"{path}: valid")
    if args.json:
        print_json({"status": "valid" if status == errors.OK else "invalid", "files": report})
    return status


def run_show(args: argparse.Namespace) -> int:
    """Print every record of a file, or of a marketplace ID's listing, as JSON."""
    source = args.record
    if Path(source).exists() or not marketplace.is_identifier(source):
        print_json({"source": source, **_show_file(_read(source), source)})
        return errors.OK
    records, source = marketplace.fetch_records(source, marketplace.marketplace_base(load_settings(args).get("sources", "marketplace_url")))
    print_json({"source": source, "records": [r.to_json() for r in records]})
    return errors.OK


def _show_file(data: bytes, path: str) -> Dict[str, Any]:
    """The records, or the HEPiX image list, a file holds (signatures are not checked here)."""
    from glancing.formats.jsonsafe import load_object
    from glancing.formats.stratuslab.read import record_from_document
    from glancing.sources.hepix import parse_image_list, read_image_list
    from glancing.sources.stratuslab import parse_records

    found = detect(data, lambda: data)
    refuse_non_object(found, path)
    if found.kind is Kind.MIME:
        return {"image_list": _jsonable(dataclasses.asdict(parse_image_list(data, path)))}
    if found.kind is Kind.JSON:
        document = load_object(data, path, "record or image list")
        if "hv:imagelist" in document:
            return {"image_list": _jsonable(dataclasses.asdict(read_image_list(document, path)))}
        return {"records": [record_from_document(document, path).to_json()]}
    if found.kind in (Kind.XML, Kind.HTML):
        return {"records": [r.to_json() for r in parse_records(data, path)]}
    raise RecordError(f"{path}: {found.describe()}, not a record or image list")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return format_date(value) if hasattr(value, "tzinfo") else value


def run_id(args: argparse.Namespace) -> int:
    """Print the marketplace identifier of an image file."""
    identifier = identifier_of_file(args.image)
    if args.json:
        print_json({"image": args.image, "identifier": identifier})
    else:
        print(identifier)
    return errors.OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``validate``, ``show`` and ``id``."""
    p = subparsers.add_parser("validate", help="check records against the StratusLab schema and rules",
                              description="Apply the StratusLab schema and constraint rules. Every "
                              "broken rule prints 'FILE: rule: detail' on stderr; exit 5 if any.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")
    p.set_defaults(func=run_validate)
    p = subparsers.add_parser("show", help="print the normalised record(s) or image list as JSON",
                              description="Print the normalised record(s) or HEPiX image list of FILE, "
                              "or the records of a marketplace ID's listing, as JSON (signatures are "
                              "not checked: glancing-metadata verify does that).")
    p.add_argument("record", metavar="FILE|ID")
    p.add_argument("-u", "--url", metavar="URL",
                   help="marketplace base URL ([sources] marketplace_url, $GLANCING_MARKETPLACE_URL; the "
                        "2016 default no longer answers)")
    p.set_defaults(func=run_show)
    p = subparsers.add_parser("id", help="print the marketplace identifier of an image file",
                              description="Print the 27-character identifier of IMAGE (its SHA-1 in "
                              "base 64). Hash the uncompressed image, as records do.")
    p.add_argument("image", metavar="IMAGE")
    p.set_defaults(func=run_id)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every available subcommand."""
    parser = Parser(prog=PROG, description=DESCRIPTION, epilog=errors.EXIT_CODES_HELP,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--json", action="store_true",
                        help="results as JSON on stdout, and every error as a JSON object there too")
    add_config_option(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register(subparsers)
    metadata_verify.register(subparsers)
    metadata_publish.register(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return cli_main(PROG, argv, build_parser().parse_args, lambda args: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
