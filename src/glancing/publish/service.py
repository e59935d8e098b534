# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What glancing-publish does with a list: images added and updated from files, uploads that
are recorded only once they succeeded, and signed lists imported after verification."""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from glancing.errors import UsageError
from glancing.formats.dates import format_date
from glancing.formats.hepix.read import read_image_list
from glancing.publish import store
from glancing.publish.images import describe_file, is_compressed
from glancing.publish.sign import bump_version
from glancing.publish.upload import UploadSettings, rewrite, upload_bytes, upload_file
from glancing.subscriptions.db import Database
from glancing.trust.policy import Verifier

log = logging.getLogger(__name__)

# Keys that describe the file's bytes: set only from a file (image add / update / upload).
FILE_KEYS = ("hv:size", "sl:checksum:sha512", "dc:identifier", "hv:format")


@dataclass(frozen=True)
class ImageFields:
    """What the endorser says of an image (``image add`` options); None: not said."""

    title: str
    version: str
    description: Optional[str] = None
    os: Optional[str] = None
    os_version: Optional[str] = None
    arch: Optional[str] = None
    hypervisor: Optional[str] = None
    comments: Optional[str] = None
    uri: Optional[str] = None

    def entry(self) -> Dict[str, Any]:
        keys = {"dc:title": self.title, "hv:version": self.version, "dc:description": self.description,
                "sl:os": self.os, "sl:osversion": self.os_version, "sl:arch": self.arch,
                "hv:hypervisor": self.hypervisor, "sl:comments": self.comments, "hv:uri": self.uri}
        return {k: v for k, v in keys.items() if v is not None}


def _file_keys(path: Path, compress: Optional[str]) -> Tuple[Dict[str, Any], str]:
    served = describe_file(path, compress)
    return ({"hv:size": served.size, "sl:checksum:sha512": served.sha512, "hv:format": served.format},
            served.path)


def add_image(db: Database, ident: str, path: Path, fields: ImageFields,
              compress: Optional[str] = None) -> store.ImageRow:
    """Describe ``path`` (compressed first with ``compress``) as a new image of the list."""
    row = store.get_list(db, ident)
    keys, served = _file_keys(path, compress)
    image_id = str(uuidlib.uuid4())
    image = store.ImageRow(image_id, {**fields.entry(), **keys, "dc:identifier": image_id}, str(Path(served).resolve()))
    store.put_image(db, row.id, image)
    return image


def _compression(entry: Dict[str, Any]) -> Optional[str]:
    suffix = str(entry.get("hv:format", "")).rpartition(".")[2]
    return suffix if "." in str(entry.get("hv:format", "")) and suffix in ("gz", "bz2", "xz") else None


def update_image(db: Database, ident: str, image_ident: str, path: Path, version: Optional[str] = None,
                 compress: Optional[str] = None) -> Tuple[store.ImageRow, bool]:
    """Record a new version of an image from ``path``; (image, False) when its SHA-512 is unchanged
    (vmcaster's no-op). The version is ``version``, else the old one bumped."""
    row = store.get_list(db, ident)
    old = store.get_image(db, row.id, image_ident)
    if compress is None and not is_compressed(path):
        compress = _compression(old.entry)  # served as the previous version was
    keys, served = _file_keys(path, compress)
    if keys["sl:checksum:sha512"] == old.entry.get("sl:checksum:sha512"):
        return old, False
    entry = {**old.entry, **keys, "hv:version": version or bump_version(old.entry.get("hv:version"))}
    image = store.ImageRow(old.uuid, entry, str(Path(served).resolve()))
    store.put_image(db, row.id, image)
    return image, True


def set_image_key(db: Database, ident: str, image_ident: str, key: str, value: str) -> store.ImageRow:
    """Set (or, with an empty value, remove) one key of an image entry."""
    row = store.get_list(db, ident)
    old = store.get_image(db, row.id, image_ident)
    if key in FILE_KEYS or key.startswith("sl:checksum:"):
        raise UsageError(f"{key} describes the file: use glancing-publish image update")
    if ":" not in key:
        raise UsageError(f"{key!r} is not a list key (dc:..., hv:..., sl:..., ad:...)")
    entry = dict(old.entry)
    if value:
        entry[key] = value
    else:
        entry.pop(key, None)
    image = store.ImageRow(old.uuid, entry, old.file)
    store.put_image(db, row.id, image)
    return image


def upload_list(db: Database, ident: str, settings: UploadSettings,
                destination: Optional[str] = None) -> Tuple[store.SignedRow, str]:
    """Upload the latest signed version; only then is it the list's published version.

    Raises UsageError when nothing is signed yet, UploadError when the upload failed.
    """
    row = store.get_list(db, ident)
    signed = store.latest_signed(db, row.id)
    if signed is None:
        raise UsageError(f"list {row.id} has no signed version: run glancing-publish sign first")
    if signed.signed_at < row.changed_at:
        log.warning("list %s changed after it was signed: uploading the signed version %s "
                    "(glancing-publish sign for the changes)", row.id, signed.version)
    target = destination or rewrite(row.uri, settings)
    upload_bytes(signed.data, target, settings)
    store.mark_uploaded(db, signed, target)
    return signed, target


def upload_image(db: Database, ident: str, image_ident: str, settings: UploadSettings, *,
                 now: dt.datetime, base: Optional[str] = None, destination: Optional[str] = None) -> str:
    """Upload an image file as ``<base>/<uuid>_<UTC time>.<format>`` and set its ``hv:uri``.

    ``base`` defaults to the directory of the list's URL; the file goes to that public URL
    rewritten by uri_match/uri_replace, or to ``destination`` (a directory URL) when given.
    """
    row = store.get_list(db, ident)
    image = store.get_image(db, row.id, image_ident)
    if not image.file or not Path(image.file).is_file():
        raise UsageError(f"image {image.uuid}: its file {image.file} is gone: glancing-publish image update")
    extension = str(image.entry.get("hv:format") or "img")
    name = f"{image.uuid}_{now.strftime('%Y%m%dT%H%M%SZ')}.{extension}"
    public = f"{(base or posixpath.dirname(row.uri)).rstrip('/')}/{name}"
    upload_file(Path(image.file), f"{destination.rstrip('/')}/{name}" if destination
                else rewrite(public, settings), settings)
    store.put_image(db, row.id, store.ImageRow(image.uuid, {**image.entry, "hv:uri": public}, image.file))
    return public


def import_list(db: Database, data: bytes, policy: Verifier, what: str, lifetime: int) -> store.ListRow:
    """Take a signed list into the database after verifying it as a subscriber would: its
    signature, signer binding, chain with CRLs, trusted endorser, dates. The signed bytes are
    kept as its published version. Raises SignatureError/RecordError, UsageError if present."""
    verified = policy.verify_image_list(data, what)
    lst = read_image_list(verified.document, what)
    body = verified.document["hv:imagelist"]
    if lst.created and lst.expires and lst.expires > lst.created:
        lifetime = int((lst.expires - lst.created).total_seconds())
    row = store.create_list(db, identifier=lst.identifier, title=lst.title or "", uri=lst.uri or "",
                            lifetime=lifetime, description=lst.description or "", source=lst.source,
                            vo=lst.vo)
    for wrapper in body["hv:images"]:
        entry = dict(wrapper["hv:image"])
        store.put_image(db, row.id, store.ImageRow(str(entry["dc:identifier"]), entry, None))
    endorser = {"dn": lst.endorser_dn, "ca": lst.endorser_ca, "email": lst.endorser_email,
                "name": lst.endorser_name}
    signed = store.add_signed(db, row.id, lst.version or "0", data, endorser)
    store.mark_uploaded(db, signed, f"imported from {what} ({format_date(lst.created)})")
    return store.get_list(db, row.id)
