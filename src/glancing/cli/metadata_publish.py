# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-metadata build | sign | upload | deprecate``: publish StratusLab records.

The StratusLab tools stratus-build/sign/upload/deprecate-metadata, as subcommands over
glancing.publish.records. Results go to stdout (the written file, the record's marketplace URL),
errors to stderr as one line with a documented exit code; ``--json`` prints one object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict

from glancing import errors
from glancing.cli.common import print_json
from glancing.cli.options import add_signer_options, http_settings, load_settings, load_signer
from glancing.errors import SourceError, UsageError

Clock = Callable[[], dt.datetime]
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNIT = {"": 86400, "d": 86400, "s": 1, "m": 60, "h": 3600, "w": 7 * 86400}

SIGN_DESCRIPTION = """\
Fill the endorsement of RECORD (dcterms:created now, slreq:email, and slreq:subject and
slreq:issuer from the certificate, RFC 2253), remove any old signature and comments, sign it
with an enveloped XML-DSig (C14N with comments, the certificate in KeyInfo) and write OUT.

Which algorithm: the default, rsa-sha1 with a sha1 digest, is what StratusLab's own signer
made and the only one the marketplace's Java validator accepts (an rsa-sha256 record fails there
with "cannot find validation key"): use it for anything uploaded to a StratusLab marketplace.
--sha256 signs rsa-sha256 with a sha256 digest, for consumers that accept it (glancing does);
a record kept off the marketplace, or read only by glancing, should use it.

The certificate must be valid now and allow digitalSignature. A password (an encrypted key or
PKCS#12 file) comes from --password-file or a prompt, never from the command line."""

DEPRECATE_DESCRIPTION = """\
Withdraw an image: fetch the latest record of ID endorsed by --email from the marketplace
(whatever its status), check its signature and that this certificate's subject signed it, add
slterms:deprecated with the reason, sign it again (a new endorsement date) and upload it.
Consumers refuse a deprecated record from then on; marketplace records cannot be deleted."""


def duration(text: str) -> dt.timedelta:
    """``178d``, ``12h``, ``2w``, ``90`` (days): an argparse type."""
    found = _DURATION.match(text)
    if not found or int(found.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive duration such as 178d, 12h or 2w")
    return dt.timedelta(seconds=int(found.group(1)) * _UNIT[found.group(2)])


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None


def write_file(path: str, data: bytes) -> None:
    """Write ``data`` whole or not at all: a temporary file beside ``path``, then a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".glancing-", dir=directory)
    except OSError as e:
        raise SourceError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        os.unlink(tmp)
        raise SourceError(f"cannot write {path}: {e.strerror or e}") from None


def _report(args: argparse.Namespace, payload: Dict[str, Any], line: str) -> None:
    if args.json:
        print_json(payload)
    elif not args.quiet:
        print(line)


def run_build(args: argparse.Namespace, now: Clock = _utcnow) -> int:
    from glancing.publish import records

    request = records.BuildRequest(
        image=args.image, locations=tuple(args.location), os=args.os, os_version=args.os_version,
        os_arch=args.os_arch, version=args.image_version, author=args.author, email=args.email,
        compression=args.compression, title=args.title, disk_format=args.format, hypervisor=args.hypervisor,
        valid=args.valid, comment=args.comment, tag=args.tag)
    data, facts = records.build(request, now())
    out = args.output or records.default_name(request)
    write_file(out, data)
    from glancing.verify.identifier import sha1_to_identifier

    identifier = sha1_to_identifier(facts.digests["sha1"])
    _report(args, {"status": "built", "record": out, "identifier": identifier, "bytes": facts.size,
                   "format": facts.disk_format, "compression": facts.compression}, f"{out}: {identifier}")
    return errors.OK


def run_sign(args: argparse.Namespace, now: Clock = _utcnow) -> int:
    from glancing.publish import records

    when = now()
    data = _read(args.record)
    signer = load_signer(args, when)
    signed = records.sign(data, signer, args.record, when, email=args.email, sha256=args.sha256)
    write_file(args.output, signed)
    method = "rsa-sha256" if args.sha256 else "rsa-sha1"
    _report(args, {"status": "signed", "record": args.output, "signature": method, "subject": signer.subject},
            f"{args.output}: signed ({method}) by {signer.subject}")
    return errors.OK


def _uploaded(args: argparse.Namespace, result: Any, extra: Dict[str, Any]) -> int:
    payload = {"status": result.status, "location": result.location, "http_status": result.http_status,
               "endpoint": result.endpoint, **extra}
    if result.status == "pending":
        line = (f"accepted by {result.endpoint} (HTTP 202): not published until the endorser confirms "
                "the e-mail the marketplace sends")
    else:
        line = result.location or f"published at {result.endpoint} (HTTP {result.http_status}, no Location given)"
    _report(args, payload, line)
    return errors.OK


def run_upload(args: argparse.Namespace) -> int:
    from glancing.publish import records
    from glancing.trust import xmldsig

    data = _read(args.record)
    xmldsig.verify_enveloped(data, args.record)  # an unsigned or broken record would only be refused
    settings = load_settings(args)
    result = records.upload(data, _marketplace(settings), http_settings(settings))
    return _uploaded(args, result, {"record": args.record})


def _marketplace(settings: Any) -> str:
    url = settings.get("sources", "marketplace_url")
    if not url:
        raise UsageError("give --marketplace URL")
    return url


def run_deprecate(args: argparse.Namespace, now: Clock = _utcnow) -> int:
    from glancing.publish import records

    when = now()
    signer = load_signer(args, when)
    settings = load_settings(args)
    marketplace, http = _marketplace(settings), http_settings(settings)
    latest = records.fetch_latest(args.identifier, args.email, marketplace, signer, http)
    if latest.deprecated is not None:
        _report(args, {"status": "already-deprecated", "reason": latest.deprecated, "record": latest.url},
                f"{args.identifier}: already deprecated by {args.email} ({latest.deprecated or 'no reason given'})")
        return errors.OK
    signed = records.sign(records.deprecated_record(latest, args.reason, when), signer, latest.url, when,
                          email=args.email, sha256=args.sha256)
    if args.output:
        write_file(args.output, signed)
    return _uploaded(args, records.upload(signed, marketplace, http), {"identifier": args.identifier})


def _add_signer_options(p: argparse.ArgumentParser) -> None:
    group = add_signer_options(p)
    group.add_argument("--sha256", action="store_true",
                       help="sign rsa-sha256/sha256 instead of rsa-sha1/sha1: glancing accepts it, the "
                            "StratusLab marketplace's validator does NOT (see 'sign --help')")


def _add_marketplace_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--marketplace", "-u", dest="url", metavar="URL",
                   help="marketplace base URL, with or without /metadata ([sources] marketplace_url, "
                        "$GLANCING_MARKETPLACE_URL)")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")


def _build_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build", help="describe an image file as an unsigned StratusLab record",
        description="Describe IMAGE as an unsigned record (it passes 'glancing-metadata validate'): "
        "size and md5/sha1/sha256/sha512 of the UNCOMPRESSED image (a gzip, bzip2, xz or zip file is "
        "decompressed on the way, in one read), the identifier from the SHA-1, the disk format from "
        "qemu-img. IMAGE is the file as the locations serve it; an uncompressed IMAGE served "
        "compressed takes --compression.")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="record file (default: <os>-<os-version>-<arch>-base-<version>.xml)")
    required = p.add_argument_group("required")
    for flag, dest, what in (("--author", "author", "the image's author (dcterms:creator)"),
                             ("--email", "email", "the author's e-mail (sign uses it for slreq:email)"),
                             ("--os", "os", "operating system, e.g. Ubuntu"),
                             ("--os-version", "os_version", "e.g. 24.04"),
                             ("--os-arch", "os_arch", "e.g. x86_64"),
                             ("--image-version", "image_version", "version of this image")):
        required.add_argument(flag, dest=dest, required=True, metavar=dest.split("_")[-1].upper(), help=what)
    required.add_argument("--location", action="append", required=True, metavar="URL",
                          help="where the image is served (repeatable; tried in order)")
    p.add_argument("--compression", choices=("gz", "bz2", "xz", "none"),
                   help="how the locations serve it (default: as IMAGE is)")
    p.add_argument("--title", help="dcterms:title (glancing's default Glance name)")
    p.add_argument("--format", help="disk format; must agree with qemu-img (default: detected)")
    p.add_argument("--hypervisor", default="kvm", help="slterms:hypervisor (default: kvm)")
    p.add_argument("--valid", type=duration, default=dt.timedelta(days=178), metavar="DURATION",
                   help="how long the record is valid: 178d (the default), 12h, 2w")
    p.add_argument("--comment", help="dcterms:description")
    p.add_argument("--tag", help="dcterms:alternative: the endorser's tag for this image")
    _add_output_options(p)
    p.set_defaults(func=run_build)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``build``, ``sign``, ``upload`` and ``deprecate``."""
    _build_parser(subparsers)
    p = subparsers.add_parser("sign", help="endorse and sign a record (XML-DSig)", description=SIGN_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("record", metavar="RECORD")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="signed record to write")
    p.add_argument("--email", help="slreq:email (default: the certificate's, else the record's)")
    _add_signer_options(p)
    _add_output_options(p)
    p.set_defaults(func=run_sign)
    p = subparsers.add_parser(
        "upload", help="upload a signed record to a marketplace",
        description="POST the signed RECORD to <marketplace>/metadata as application/xml and print the "
        "record's URL (the Location answered). A 202 answer means the marketplace wants the endorser "
        "to confirm by e-mail first: the record is not published until then (exit 0). A refused "
        "record is exit 5, an unreachable or failing marketplace exit 3.")
    p.add_argument("record", metavar="RECORD")
    _add_marketplace_option(p)
    _add_output_options(p)
    p.set_defaults(func=run_upload)
    p = subparsers.add_parser("deprecate", help="withdraw a published record (slterms:deprecated)",
                              description=DEPRECATE_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("identifier", metavar="ID")
    p.add_argument("--email", required=True, help="the endorser's e-mail (slreq:email)")
    p.add_argument("--reason", required=True, help="why the image is withdrawn (slterms:deprecated)")
    p.add_argument("-o", "--output", metavar="OUT", help="also keep the deprecating record in OUT")
    _add_marketplace_option(p)
    _add_signer_options(p)
    _add_output_options(p)
    p.set_defaults(func=run_deprecate)
