# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-metadata verify FILE...``: is each record or list signed, chained, endorsed and current?

One line per file on stdout: ``FILE: OK: ...`` or ``FILE: REFUSED: <what failed>``. A file
whose chain could not be checked (its CA is not in the CA directory) is refused, and the
line says the signature and endorser binding were fine: "chain not checked" is not "trusted".
What a file is comes from its content (glancing.formats.detect), never its name.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional, TextIO, Tuple

from glancing import errors
from glancing.cli.options import add_trust_options, trust_policy
from glancing.errors import RecordError
from glancing.formats.detect import Kind, detect, refuse_non_object
from glancing.trust import settings as trust_settings

if TYPE_CHECKING:
    from glancing.trust.policy import Verifier

DESCRIPTION = """\
Verify StratusLab records (XML-DSig) and HEPiX image lists (S/MIME): the signature, the signer
against the endorser the content names, the chain to a CA of the CA directory with its CRLs,
the signer against the trusted endorsers (trust file and --endorser), and the dates (expired,
or endorsed in the future)."""

EPILOG = trust_settings.__doc__.split("\n\n", 1)[1].replace("``", "") + "\n" + errors.EXIT_CODES_HELP + """
  (verify: 0 every file trusted; 5 at least one refused; 3 a file could not be read)"""

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``verify`` subcommand; its ``func`` takes the namespace, returns an exit code."""
    parser = subparsers.add_parser(
        "verify", help="verify signatures, chains, endorsers and dates of records and image lists",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", metavar="FILE", help="record or image list to verify")
    add_trust_options(parser, no_signature=False)
    parser.set_defaults(func=run_verify)
    return parser


def _check_records(policy: "Verifier", data: bytes, path: str, now: dt.datetime) -> str:
    """Verify every record of an RDF/XML document, then its dates, as an import would."""
    from glancing.formats.stratuslab.read import record_from_tree, refusal

    verified = policy.verify_stratuslab_all(data, path)
    for one in verified:
        why = refusal(record_from_tree(one.tree, one.what, one.signed), now, allow_deprecated=True)
        if why is not None:
            raise why
    return " | ".join(r.summary for r in verified)


def _verdict(policy: "Verifier", data: bytes, path: str, now: dt.datetime) -> str:
    """The summary of a trusted file; raises the GlancingError that refuses it."""
    found = detect(data, lambda: data)
    refuse_non_object(found, path)
    if found.kind is Kind.XML:
        return _check_records(policy, data, path, now)
    if found.kind is Kind.JSON:
        from glancing.formats import jsonsafe

        if "hv:imagelist" not in jsonsafe.load_object(data, path):
            raise RecordError(f"{path}: an RDF/JSON record, which carries no signature (unsigned): "
                              "verify the signed RDF/XML form of the record")
        return policy.verify_image_list(data, path).summary
    if found.kind is Kind.MIME:
        return policy.verify_image_list(data, path).summary
    raise RecordError(f"{path}: {found.describe()}, not a record or image list")


def _verify_one(policy: "Verifier", path: str, now: dt.datetime) -> Tuple[int, str]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return errors.SOURCE_UNREACHABLE, f"{path}: REFUSED: cannot read: {exc.strerror or exc}"
    try:
        summary = _verdict(policy, data, path, now)
    except errors.GlancingError as exc:
        text = exc.message[len(path) + 2:] if exc.message.startswith(path + ": ") else exc.message
        return errors.exit_code(exc), f"{path}: REFUSED: {text}"
    return errors.OK, f"{path}: OK: {summary}"


def run_verify(args: argparse.Namespace, out: Optional[TextIO] = None, now: Clock = _utcnow) -> int:
    """Verify every file named in ``args.files``; print one verdict line per file (on stdout)."""
    out = out or sys.stdout  # looked up now, not at import: stdout may have been replaced
    try:
        policy = trust_policy(args)
    except errors.GlancingError as exc:
        print(f"glancing-metadata verify: error: {exc}", file=sys.stderr)
        return errors.exit_code(exc)
    codes: List[int] = []
    for path in args.files:
        code, line = _verify_one(policy, path, now())
        print(line, file=out)
        codes.append(code)
    return max(codes) if codes else errors.OK
