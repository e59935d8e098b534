# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Options glancing and glance_manager share: where records come from, and whom to trust."""

from __future__ import annotations

import argparse
from typing import Any

from glancing.sources import SourceSettings
from glancing.sources.marketplace import DEFAULT_MARKETPLACE_URL, ENV_MARKETPLACE_URL


def add_record_options(parser: argparse.ArgumentParser, image_list: bool = True) -> None:
    group = parser.add_argument_group("records and image lists")
    group.add_argument("-u", "--url", metavar="URL",
                       help=f"StratusLab marketplace metadata URL [${ENV_MARKETPLACE_URL}, else "
                            f"{DEFAULT_MARKETPLACE_URL}, which is gone since 2017]")
    if image_list:
        group.add_argument("-c", "--cern-list", "--image-list", dest="image_list", metavar="LIST",
                           help="a HEPiX image list (path or URL, S/MIME-signed or JSON): SOURCE is then "
                                "the dc:identifier of an image in it")
    group.add_argument("--allow-expired", action="store_true",
                       help="import a record or list past its validity date (dcterms:valid, dc:date:expires)")
    group.add_argument("--allow-deprecated", action="store_true",
                       help="import a record its endorser withdrew (slterms:deprecated)")


def add_trust_options(parser: argparse.ArgumentParser, no_signature: bool = True) -> None:
    group = parser.add_argument_group(
        "signatures and trust",
        "Records and lists read from a remote source must be signed by a trusted endorser whose\n"
        "certificate chains to a CA of the grid CA directory, with current CRLs. Defaults come from\n"
        "$GLANCING_CA_DIR / $GLANCING_TRUST_FILE, ~/.config/glancing/glancing.conf or\n"
        "/etc/glancing/glancing.conf ([trust] section), else /etc/grid-security/certificates\n"
        "and /etc/glancing/trusted-endorsers.")
    group.add_argument("--ca-dir", metavar="DIR", help="grid CA directory (<hash>.0 certificates, <hash>.r0 CRLs)")
    group.add_argument("--trust", dest="trust_file", metavar="FILE", help="trusted endorsers file")
    group.add_argument("--endorser", action="append", default=[], metavar="DN",
                       help="also trust the endorser with this certificate subject (either DN form; repeatable)")
    group.add_argument("--crl", choices=("require", "off"), help="CRL checking (default: require)")
    group.add_argument("--at-signing-time", action="store_const", const=True, default=None,
                       help="check certificates at the signing time (archived records whose signer "
                            "certificate has since expired); revocation still applies")
    if no_signature:  # not for a command whose whole job is checking signatures
        group.add_argument("--no-signature", action="store_true",
                           help="UNSAFE: read records and lists without checking any signature (warned on every use)")


def trust_policy(args: argparse.Namespace) -> Any:
    """The policy the options describe; UsageError for a bad trust file or setting."""
    from glancing.trust.policy import TrustPolicy, UnsafeNoVerify

    if getattr(args, "no_signature", False):
        return UnsafeNoVerify()
    return TrustPolicy.from_options(ca_dir=args.ca_dir, trust_file=args.trust_file, endorsers=args.endorser,
                                    crl=args.crl, at_signing_time=args.at_signing_time)


def source_settings(args: argparse.Namespace) -> SourceSettings:
    return SourceSettings(policy=trust_policy(args), marketplace_url=args.url,
                          image_list=getattr(args, "image_list", None), allow_expired=args.allow_expired,
                          allow_deprecated=args.allow_deprecated)
