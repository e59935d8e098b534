# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing SOURCE``: import one image into Glance, verified in one streaming pass."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import logging
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

from glancing import __version__, errors
from glancing.cli import common, gating, options
from glancing.errors import UsageError
from glancing.model import ImageSpec
from glancing.pipeline import ImportOptions, ImportResult, import_image
from glancing.settings import Settings, parse_disk_formats
from glancing.transform.convert import CONVERT_TO
from glancing.targets.glance.auth import register_arguments
from glancing.sources import resolve
from glancing.sources.plain import file_name
from glancing.verify import digests as _digests
from glancing.verify.sums import expected_from_sums

log = logging.getLogger("glancing")

DESCRIPTION = """\
Import one virtual-machine image into OpenStack Glance.

SOURCE is a local image file, an http(s):// or file:// URL, a local StratusLab
record (RDF/XML or RDF/JSON), a 27-character StratusLab marketplace ID, or, with
-c LIST, the identifier of an image in a HEPiX image list.

The image is read once: size and every expected digest are computed in that one
read while the data streams to Glance. The new image is uploaded hidden under a
temporary name; it gets its name and visibility only after its digests, and
Glance's own checksum and os_hash_value, match. An image of the same name is then
retired, never deleted: renamed "NAME (VERSION or DATE)", hidden (os_hidden),
tagged glancing-backup, still active."""

EPILOG = f"""\
which bytes the digests describe:
  -s, --digest and -S describe the file or download AS GIVEN (compressed or not).
  StratusLab records: slreq:bytes and the checksums describe the UNCOMPRESSED image.
  HEPiX lists: hv:size and sl:checksum:sha512 describe the file AS DOWNLOADED.
  Compressed input (gzip, bzip2, xz, zip with one member; told by magic bytes, not
  the name) is decompressed on the fly before the upload. Every expected digest
  must match, and the size when known; -f uploads anyway, and says so loudly.

the disk format is detected from the content by qemu-img; --disk-format must agree
unless -f. A format the site does not run ([glance] disk_formats, --disk-formats),
and the disk of an OVA, is converted to the site's first format after verification.

{errors.EXIT_CODES_HELP}

examples:
  glancing -s SHA256HEX https://example.org/images/debian-12.qcow2
  glancing -S SHA512SUMS -n "Debian 12" --visibility public debian-12.qcow2.xz
  glancing -d LHfKVPoHcv4oMirHU0KuOQc-TvI          (check a marketplace image, touch nothing)
"""


def build_parser(argv: Sequence[str], with_auth: bool = True) -> argparse.ArgumentParser:
    p = common.Parser(
        prog="glancing", usage="glancing [options] SOURCE\n       glancing config [--json]",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", nargs="?", metavar="SOURCE", help="image path, URL, record file or marketplace ID")
    p.add_argument("--version", action="version", version=f"glancing {__version__}")
    run = p.add_argument_group("what to do")
    run.add_argument("-d", "--dry-run", action="store_true", help="do everything but talk to Glance")
    run.add_argument("-f", "--force", action="store_true",
                     help="upload even if the size, a digest or the format does not match (reported loudly)")
    run.add_argument("-n", "--name", help="image name in Glance (default: the record's title, else the file name)")
    run.add_argument("-b", "--backup-dir", metavar="DIR",
                     help="download the image being replaced to DIR (0700) before retiring it "
                          "[[glance] backup_dir, $GLANCING_BACKUP_DIR]")
    run.add_argument("-k", "--keep-temps", action="store_true",
                     help="keep a copy of the downloaded bytes ([fetch] tmp_dir, else $TMPDIR) for inspection")
    ver = p.add_argument_group("verification")
    ver.add_argument("-s", "--sums", action="append", default=[], metavar="HEX[:HEX...]",
                     help="expected digests, colon-separated; md5/sha1/sha224/sha256/sha384/sha512 told by length")
    ver.add_argument("--digest", action="append", default=[], metavar="ALG:HEX",
                     help="an expected digest with its algorithm named (any hashlib one, e.g. sha3_256, blake2b)")
    ver.add_argument("-S", "--sums-files", action="extend", nargs="+", default=[], metavar="FILE",
                     help="SUMS files (path or URL; GNU or BSD format) that list the image's file name")
    ver.add_argument("-D", "--no-checksum", action="store_true", help="skip digest checks (the size is still checked)")
    ver.add_argument("--allow-unverified", action="store_true",
                     help="accept a remote image that no digest describes")
    img = p.add_argument_group("image in Glance")
    img.add_argument("--disk-format", help="expected disk format (default: what qemu-img detects)")
    img.add_argument("--container-format", help="container format ([glance] container_format, default bare)")
    img.add_argument("--visibility", choices=("private", "shared", "community", "public"),
                     help="visibility ([glance] visibility; default: that of the image replaced, else private)")
    img.add_argument("--property", action="append", default=[], metavar="KEY=VALUE",
                     help="extra image property (repeatable)")
    options.add_scale_options(img)
    gating.add_options(p)
    add_conversion_options(p)
    options.add_record_options(p)
    options.add_fetch_options(p)
    options.add_trust_options(p)
    options.add_config_option(p)
    options.add_target_option(p)
    out = p.add_argument_group("output")
    out.add_argument("-v", "--verbose", action="store_true", help="debug messages and tracebacks")
    out.add_argument("-q", "--quiet", action="store_true", help="errors only (for cron)")
    out.add_argument("--json", action="store_true", help="print one JSON result object on stdout")
    if with_auth:
        register_arguments(p, argv)
    return p


def _typed(parse_value: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse_value(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def _disk_number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a disk number from 1, not {text!r}")
    return int(text)


def add_conversion_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "OVA and conversion",
        "An OVA's disk, and a disk in a format the site does not run, is converted with qemu-img\n"
        "to the first of the site's formats, after the digests of the bytes as given are verified.")
    group.add_argument("--disk-formats", type=_typed(parse_disk_formats), metavar="FMT[,FMT...]",
                       help="the formats the site runs, preferred first ([glance] disk_formats, default qcow2,raw)")
    group.add_argument("--convert-to", choices=CONVERT_TO, metavar="FMT",
                       help=f"convert to FMT whatever the site's formats ({', '.join(CONVERT_TO)})")
    group.add_argument("--ova-disk", type=_disk_number, metavar="N",
                       help="the disk of a several-disk OVA to import (from 1, in DiskSection order)")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse argv. A dry run that names no --os-*/TLS option skips loading openstack.config (~0.3 s)."""
    if not any(a in ("-d", "--dry-run") for a in argv) or any(a in ("-h", "--help") for a in argv):
        args = build_parser(argv).parse_args(argv)
    else:
        args, unknown = build_parser(argv, with_auth=False).parse_known_args(argv)
        if unknown:
            args = build_parser(argv).parse_args(argv)
    if args.sums_files and not args.source and len(args.sums_files) > 1:
        # `-S A B SOURCE` (the 2016 habit): argparse gives SOURCE to -S.
        args.source = args.sums_files.pop()
    return args


def _properties(items: List[str]) -> Dict[str, str]:
    props: Dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--property {item!r}: expected KEY=VALUE")
        props[key.strip()] = value
    return props


def inline_digests(args: argparse.Namespace) -> Dict[str, str]:
    """-s and --digest merged; the same algorithm with two values is a usage error."""
    found: Dict[str, str] = {}
    for text in args.sums:
        for alg, value in _digests.parse_sums_option(text).items():
            _digests.add_expected(found, alg, value, "-s")
    for text in args.digest:
        alg, value = _digests.parse_digest_option(text)
        _digests.add_expected(found, alg, value, "--digest")
    return found


def _options(args: argparse.Namespace, settings: Settings, properties: Dict[str, str],
             progress: Optional[common.Progress], **gates: Any) -> ImportOptions:
    return ImportOptions(**gates,
        name=args.name, dry_run=args.dry_run, force=args.force, check_digests=not args.no_checksum,
        keep_temps=args.keep_temps, tmp_dir=settings.get("fetch", "tmp_dir"),
        backup_dir=settings.get("glance", "backup_dir"),
        disk_format=args.disk_format, container_format=settings.get("glance", "container_format"),
        visibility=settings.get("glance", "visibility"), properties=properties,
        allow_unverified=args.allow_unverified, http=options.http_settings(settings),
        clean_leftovers=settings.get("glance", "clean_leftovers"),
        stale_upload_after=_dt.timedelta(seconds=settings.get("glance", "stale_upload_after")), progress=progress,
        conversion=dataclasses.replace(options.conversion_settings(settings), convert_to=args.convert_to,
                                       ova_disk=args.ova_disk),
        method=settings.get("glance", "import_method"))


def _report(result: ImportResult, as_json: bool, quiet: bool) -> None:
    if as_json:
        common.print_json(result.as_json())
        return
    if quiet:
        return
    checked = ", ".join(result.flow.verified) or "nothing"
    if result.dry_run:
        print(f"dry run: {result.name}: {result.disk_format}, {result.size} bytes, verified: {checked}")
        return
    converted = (f" (converted from {result.converted['from']})"
                 if result.converted and result.converted["from"] else "")
    print(f"imported {result.name} as {result.image_id}: {result.disk_format}{converted}, {result.size} bytes, "
          f"verified: {checked}")
    for old in result.retired:
        print(f"retired {old['id']} ({old['name']}) as a hidden backup")
    for project in result.members:
        print(f"shared with {project}: {result.acceptance.get(project, 'membership pending')}")


def _import(args: argparse.Namespace) -> int:
    if not args.source:
        raise UsageError("SOURCE is required (see glancing --help)")
    if args.dry_run and args.force:
        raise UsageError("-d and -f cannot be used together")
    inline = inline_digests(args)  # usage errors first, before any I/O
    properties = _properties(args.property)
    settings = options.load_settings(args)
    spec: ImageSpec = resolve(args.source, options.source_settings(args, settings, lazy=True))
    spec = _merge(spec, expected_from_sums(args.sums_files, file_name(spec.source), options.http_settings(settings),
                                           known=inline))
    quarantine = gating.quarantine_policy(settings, os.environ, settings.get("fetch", "tmp_dir"), args.dry_run)
    sharing = gating.Sharing(settings, args.share, properties.get("vmcatcher_event_vo"))
    gates = {"quarantine": quarantine, "sharing": sharing, "protected": settings.get("glance", "protected")}
    clouds = settings.get("glance", "clouds") or ()
    progress = common.Progress() if common.want_progress(args) else None
    if len(clouds) > 1 and not args.dry_run:
        _refuse_fan_out(settings, quarantine, args.share)
        return _fan_out(args, settings, spec, _options(args, settings, properties, progress,
                                                       protected=gates["protected"]), clouds)
    target = None
    if not args.dry_run:
        target = options.connect_target(args, settings, cloud=clouds[0] if clouds else None)
    try:
        result = import_image(spec, _options(args, settings, properties, progress, **gates), target)
    finally:
        if progress:
            progress.finish()
    if result.flow.forced:
        log.error("FORCED: imported although %s did not match", ", ".join(result.flow.forced))
    _report(result, args.json, args.quiet)
    return errors.OK


def _refuse_fan_out(settings: Settings, quarantine: Any, share: Sequence[str]) -> None:
    """What one read into several clouds does not do yet, refused before anything is read."""
    if settings.get("target", "kind") != "glance":
        raise UsageError("several clouds ([glance] clouds, --os-cloud twice) are Glance clouds: not with --target")
    if quarantine is not None or share or settings.get("sharing", "projects") or settings.get("sharing", "vo_map"):
        raise UsageError("importing into several clouds at once does not quarantine or share yet: "
                         "import into one cloud at a time (--os-cloud NAME) for that")


def _fan_out(args: argparse.Namespace, settings: Settings, spec: ImageSpec, opts: ImportOptions,
             clouds: Sequence[str]) -> int:
    """One read into every cloud; exit 0, 8 when some clouds failed, else the clouds' common error."""
    from glancing.fanout import import_everywhere
    from glancing.targets.glance import connect

    targets: Dict[str, object] = {}
    for cloud in clouds:
        try:
            targets[cloud] = connect(args, options.glance_settings(settings), cloud=cloud)
        except errors.GlancingError as e:  # a cloud that cannot be reached fails alone
            targets[cloud] = e
    try:
        result = import_everywhere(spec, opts, targets)  # type: ignore[arg-type]
    finally:
        if opts.progress:
            opts.progress.finish()
    if args.json:
        common.print_json(result.as_json())
    for outcome in result.outcomes:
        if outcome.error is not None:
            print(f"glancing: error: cloud {outcome.cloud}: {outcome.error}", file=sys.stderr)
        elif outcome.result is not None and not args.json:
            _report(outcome.result, False, args.quiet)
    return result.exit_code()


def _merge(spec: ImageSpec, user: Dict[str, str]) -> ImageSpec:
    """Add the user's digests to what the source promises; they must describe the same bytes."""
    if not user:
        return spec
    from dataclasses import replace

    from glancing.model import DigestScope

    if spec.expected.scope is not DigestScope.AS_GIVEN:
        raise UsageError("-s/--digest/-S describe the bytes as given; this source's digests describe the "
                         "uncompressed image: they cannot be combined")
    merged = dict(spec.expected.digests)
    for alg, value in user.items():
        _digests.add_expected(merged, alg, value, "the command line and the source")
    return replace(spec, expected=replace(spec.expected, digests=merged))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the glancing console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["config"]:  # a file named "config" is still importable as ./config
        from glancing.cli import config

        return config.main(argv[1:])
    return common.main("glancing", argv, parse, _import)


if __name__ == "__main__":
    sys.exit(main())
