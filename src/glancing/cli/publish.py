# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-publish``: keep, sign and upload HEPiX image lists, as vmcaster did.

The command bodies live in glancing.cli.publish_cmds; this module holds the parser and the
entry point.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from glancing import __version__, errors
from glancing.cli import publish_cmds as cmds
from glancing.cli.common import Parser
from glancing.cli.common import main as cli_main
from glancing.cli.options import add_config_option, add_signer_options, add_trust_options
from glancing.publish.images import COMPRESSIONS

PROG = "glancing-publish"

DESCRIPTION = """\
Publish HEPiX image lists: keep lists and their images in a database, sign a list with your
grid certificate (S/MIME, detached, SHA-256) and upload it where subscribers (vmcatcher,
glance_manager subscribe, cloudkeeper) read it.

  glancing-publish list create --title "My images" --uri https://www.example.org/image.list
  glancing-publish image add LIST disk.qcow2 --title "Debian 12" --version 1 --compress xz
  glancing-publish image upload LIST IMAGE          # sets hv:uri
  glancing-publish sign LIST --cert ~/.globus/usercert.pem --key ~/.globus/userkey.pem
  glancing-publish upload LIST                      # to hv:uri, or --to DEST

An image's hv:size and sl:checksum:sha512 describe the file AS SERVED (after --compress);
hv:format is what qemu-img finds inside, plus the compression (qcow2.xz)."""

SIGN_HELP = """\
The first certificate that signs a list becomes its endorser (hv:dn, hv:ca, hv:email,
dc:creator); another certificate is refused with the reason, since a HEPiX list has one
endorser. A certificate without the digitalSignature key usage, expired or not yet valid, is
refused. Each signature gets the next hv:version (the last uploaded one, patch bumped),
dc:date:created = now and dc:date:expires = now + the list's lifetime. The password of an
encrypted key or PKCS#12 file comes from --password-file or a prompt, never the command line."""

UPLOAD_HELP = """\
DEST: file:///dir/image.list, http(s)://... (PUT to a temporary name, then WebDAV MOVE; a plain
PUT where MOVE is not offered), sftp://user@host[:port]/path/image.list (key authentication,
temporary name then rename), appdb+https://host/vmlist/submit/x509/ (EGI AppDB, with --cert and
--key as TLS client certificate). Default: the list's hv:uri rewritten by --uri-match /
--uri-replace. The database records the new version only after the upload succeeded; a
failed upload leaves the previous list in place."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="debug messages and tracebacks")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    p.add_argument("--json", action="store_true", help="results as JSON on stdout")


def _leaf_options() -> argparse.ArgumentParser:
    """-v, -q and --json after the subcommand too (SUPPRESS keeps a value given before it)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    parent.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parent.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parent


_LEAF = _leaf_options()


def _leaf(subparsers: argparse._SubParsersAction, name: str, **kw: object) -> argparse.ArgumentParser:
    return subparsers.add_parser(name, parents=[_LEAF], **kw)  # type: ignore[no-any-return]


def _upload_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--uri-match", metavar="REGEX", help="regular expression on the public URL ([publish] uri_match)")
    p.add_argument("--uri-replace", metavar="TEXT", help="its replacement: the destination ([publish] uri_replace)")
    p.add_argument("--ssh-key", metavar="FILE", help="identity file for sftp:// ([publish] ssh_key)")
    p.add_argument("--ssh-known-hosts", metavar="FILE", help="known_hosts for sftp:// ([publish] ssh_known_hosts)")
    p.add_argument("--ca-file", metavar="FILE", help="CA bundle for https destinations ([fetch] ca_file)")




def _list_parsers(sub: argparse._SubParsersAction) -> None:
    lst = sub.add_parser("list", help="create, show, list and delete image lists")
    lsub = lst.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = _leaf(lsub, "create", help="a new list (a new UUID unless ID is given)")
    p.add_argument("id", nargs="?", metavar="ID")
    p.add_argument("--title", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--uri", required=True, metavar="URL", help="where subscribers read the list (hv:uri)")
    p.add_argument("--lifetime", metavar="DURATION", help="validity of each signed version: 28d, 12h ([publish] lifetime)")
    p.add_argument("--vo", help="ad:vo, the virtual organisation the list is for")
    p.add_argument("--source", help="dc:source (default: the host of --uri)")
    p.set_defaults(func=cmds.list_create)
    p = _leaf(lsub, "show", help="a list, its images and its versions")
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmds.list_show)
    p = _leaf(lsub, "ls", help="every list")
    p.set_defaults(func=cmds.list_ls)
    p = _leaf(lsub, "delete", help="forget a list (what was uploaded stays where it is)")
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmds.list_delete)


def _image_parsers(sub: argparse._SubParsersAction) -> None:
    img = sub.add_parser("image", help="add, update, set, remove and upload a list's images")
    isub = img.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = _leaf(isub, "add", help="describe an image file as a new image of LIST")
    p.add_argument("list", metavar="LIST")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--title", required=True)
    p.add_argument("--version", required=True)
    for name in ("description", "os", "os-version", "arch", "hypervisor", "comments"):
        p.add_argument(f"--{name}")
    p.add_argument("--uri", metavar="URL", help="where the file is served (hv:uri; image upload sets it)")
    p.add_argument("--compress", choices=COMPRESSIONS, help="serve FILE compressed (written beside it)")
    p.set_defaults(func=cmds.image_add)
    p = _leaf(isub, "update", help="a new version of IMAGE from FILE (nothing when its SHA-512 is unchanged)")
    p.add_argument("list", metavar="LIST")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--version", help="hv:version (default: the old one, bumped)")
    p.add_argument("--compress", choices=COMPRESSIONS, help="default: as the previous version")
    p.set_defaults(func=cmds.image_update)
    p = _leaf(isub, "set", help="set KEY=VALUE in IMAGE's entry (KEY= removes it)")
    p.add_argument("list", metavar="LIST")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p.set_defaults(func=cmds.image_set)
    p = _leaf(isub, "remove", help="take IMAGE out of LIST (subscribers expire it)")
    p.add_argument("list", metavar="LIST")
    p.add_argument("image", metavar="IMAGE")
    p.set_defaults(func=cmds.image_remove)
    p = _leaf(isub, "upload", help="upload IMAGE's file as <base>/<uuid>_<time>.<format> and set hv:uri")
    p.add_argument("list", metavar="LIST")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--base", metavar="URL", help="public directory URL (default: that of the list's hv:uri)")
    p.add_argument("--to", metavar="DEST", help="upload into this directory (default: the public URL rewritten)")
    _upload_options(p)
    p.set_defaults(func=cmds.image_upload)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description=DESCRIPTION, epilog=errors.EXIT_CODES_HELP,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(parser)
    add_config_option(parser)
    parser.add_argument("--db", dest="publish_db", metavar="FILE", help="the database ([publish] database, "
                        "default ~/.local/share/glancing/publish.db)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _list_parsers(sub)
    _image_parsers(sub)
    p = _leaf(sub, "sign", help="sign LIST's next version", description=SIGN_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("list", metavar="LIST")
    add_signer_options(p)
    p.add_argument("--email", help="hv:email of the endorser (default: the certificate's e-mail)")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the signed list here")
    p.set_defaults(func=cmds.sign)
    p = _leaf(sub, "upload", help="upload LIST's latest signed version", description=UPLOAD_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("list", metavar="LIST")
    p.add_argument("--to", metavar="DEST", help="destination (default: hv:uri, rewritten)")
    _upload_options(p)
    p.add_argument("--cert", metavar="FILE", help="TLS client certificate for appdb+https:// (x509)")
    p.add_argument("--key", metavar="FILE", help="its private key, unencrypted (default: the --cert file)")
    p.set_defaults(func=cmds.upload)
    p = _leaf(sub, "import", help="take a signed list into the database, after verifying it",
                       description="Verify FILE as a subscriber would (signature, signer = hv:dn/hv:ca, "
                       "chain to --ca-dir with CRLs, trusted endorser, dates), then keep it as a list "
                       "whose published version is FILE's.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--lifetime", metavar="DURATION", help="when the list has no dates ([publish] lifetime)")
    add_trust_options(p, no_signature=False)
    p.set_defaults(func=cmds.import_list)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return cli_main(PROG, argv, build_parser().parse_args, lambda args: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
