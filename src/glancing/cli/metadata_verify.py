# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-metadata verify FILE...``: is each record or list signed, chained and endorsed?

One line per file on stdout: ``FILE: OK: ...`` or ``FILE: REFUSED: <what failed>``. A file
whose chain could not be checked (its CA is not in the CA directory) is refused, and the
line says the signature and endorser binding were fine: "chain not checked" is not "trusted".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, TextIO, Tuple

from glancing import errors
from glancing.trust import settings as trust_settings
from glancing.trust.policy import TrustPolicy

DESCRIPTION = """\
Verify StratusLab records (XML-DSig) and HEPiX image lists (S/MIME): the signature, the signer
against the endorser the content names, the chain to a CA of the CA directory with its CRLs,
and the signer against the trusted endorsers (trust file and --endorser)."""

EPILOG = trust_settings.__doc__.split("\n\n", 1)[1].replace("``", "") + "\n" + errors.EXIT_CODES_HELP + """
  (verify: 0 every file trusted; 5 at least one refused; 3 a file could not be read)"""


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``verify`` subcommand; its ``func`` takes the namespace, returns an exit code."""
    parser = subparsers.add_parser(
        "verify", help="verify signatures, chains and endorsers of records and image lists",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", metavar="FILE", help="record or image list to verify")
    parser.add_argument("--ca-dir", metavar="DIR",
                        help="grid CA directory (<hash>.0 certificates, <hash>.r0 CRLs)")
    parser.add_argument("--trust", metavar="FILE", help="trusted endorsers file")
    parser.add_argument("--endorser", metavar="DN", action="append", default=[],
                        help="also trust this certificate subject (/DC=.../CN=x or CN=x,...,DC=...);"
                             " repeatable")
    parser.add_argument("--crl", choices=("require", "off"),
                        help="require a valid CRL for every CA in the chain (default), or skip "
                             "revocation checks (unsafe)")
    parser.add_argument("--at-signing-time", action="store_true", default=None,
                        help="check certificates at the signing time instead of now (archived "
                             "records whose signer certificate has since expired)")
    parser.set_defaults(func=run_verify)
    return parser


def _verify_one(policy: TrustPolicy, path: str) -> Tuple[int, str]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return errors.SOURCE_UNREACHABLE, f"{path}: REFUSED: cannot read: {exc.strerror or exc}"
    try:
        if data.lstrip()[:1] == b"<":
            records = policy.verify_stratuslab_all(data, path)
            summary = " | ".join(r.summary for r in records)
        else:
            summary = policy.verify_image_list(data, path).summary
    except errors.GlancingError as exc:
        text = exc.message[len(path) + 2:] if exc.message.startswith(path + ": ") else exc.message
        return errors.exit_code(exc), f"{path}: REFUSED: {text}"
    return errors.OK, f"{path}: OK: {summary}"


def run_verify(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Verify every file named in ``args.files``; print one verdict line per file."""
    try:
        policy = TrustPolicy.from_options(
            ca_dir=args.ca_dir, trust_file=args.trust, endorsers=args.endorser, crl=args.crl,
            at_signing_time=args.at_signing_time)
    except errors.GlancingError as exc:
        print(f"glancing-metadata verify: error: {exc}", file=sys.stderr)
        return errors.exit_code(exc)
    codes: List[int] = []
    for path in args.files:
        code, line = _verify_one(policy, path)
        print(line, file=out)
        codes.append(code)
    return max(codes) if codes else errors.OK
