# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""HEPiX virtual machine image lists: the JSON document -> HepixList (formats.md section 2).

Unlike StratusLab records, ``sl:checksum:sha512`` and ``hv:size`` describe the file AS
DOWNLOADED from ``hv:uri`` (a ``.gz``, an ``.ova``): formats.md 2.3. This reader takes the JSON
that trust verified (or the bare JSON of a local list); S/MIME is trust's business. Every text
value is cleaned of control characters here, once (glancing.formats.text).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from glancing.errors import RecordError
from glancing.formats import jsonsafe
from glancing.formats.dates import parse_date
from glancing.formats.text import clean

MAX_LIST_BYTES = 16 * 1024 * 1024  # a VO list of a few hundred images stays well below
_CHECKSUM_PREFIX = "sl:checksum:"


@dataclass(frozen=True)
class HepixImage:
    """One ``hv:image`` entry. ``entry`` keeps every key (values as strings) for properties."""

    identifier: str
    uri: str
    size: int
    checksums: Mapping[str, str]  # hashlib name -> lowercase hex (sha512 always present)
    title: Optional[str] = None
    description: Optional[str] = None
    version: Optional[str] = None
    hypervisor: Optional[str] = None
    format: Optional[str] = None  # hv:format as written
    arch: Optional[str] = None
    os: Optional[str] = None
    osname: Optional[str] = None
    osversion: Optional[str] = None
    comments: Optional[str] = None
    mpuri: Optional[str] = None
    expires: Optional[dt.datetime] = None
    entry: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HepixList:
    """One ``hv:imagelist``: who endorses it, until when, and its images in list order."""

    identifier: str
    images: Tuple[HepixImage, ...]
    version: Optional[str] = None
    created: Optional[dt.datetime] = None
    expires: Optional[dt.datetime] = None
    title: Optional[str] = None
    description: Optional[str] = None
    source: Optional[str] = None
    uri: Optional[str] = None
    vo: Optional[str] = None
    endorser_dn: Optional[str] = None
    endorser_ca: Optional[str] = None
    endorser_email: Optional[str] = None
    endorser_name: Optional[str] = None


def _text(entry: Mapping[str, Any], key: str) -> Optional[str]:
    value = entry.get(key)
    if value is None:
        return None
    return clean(value if isinstance(value, str) else json.dumps(value))


def _size(value: Any, where: str) -> int:
    # CernVM and hepixvmitrust write an integer, EGI AppDB a string.
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise RecordError(f"{where}: hv:size {value!r} is not a non-negative integer")
    return int(str(value).strip())


def _checksums(entry: Mapping[str, Any], where: str) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for key, value in entry.items():
        if not key.startswith(_CHECKSUM_PREFIX):
            continue
        algorithm = key[len(_CHECKSUM_PREFIX):].lower().replace("-", "")
        if algorithm not in hashlib.algorithms_available or algorithm.startswith("shake"):
            continue  # a checksum we cannot compute is no promise we can check
        text = str(value).strip().lower()
        if not re.fullmatch(r"[0-9a-f]+", text) or len(text) != hashlib.new(algorithm).digest_size * 2:
            raise RecordError(f"{where}: {key} {value!r} is not a {algorithm} digest")
        found[algorithm] = text
    if "sha512" not in found:
        raise RecordError(f"{where}: sl:checksum:sha512 is missing")
    return found


def _required(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(entry, key)
    if value is None or not value.strip():
        raise RecordError(f"{where}: {key} is missing")
    return value.strip()


def _image(wrapper: Any, index: int, what: str) -> HepixImage:
    entry = wrapper.get("hv:image") if isinstance(wrapper, dict) else None
    if not isinstance(entry, dict):
        raise RecordError(f"{what}: hv:images[{index}] is not an {{\"hv:image\": {{...}}}} object")
    where = f"{what}: image {entry.get('dc:identifier') or index + 1}"
    return HepixImage(
        identifier=_required(entry, "dc:identifier", where),
        uri=_required(entry, "hv:uri", where),
        size=_size(entry.get("hv:size"), where),
        checksums=_checksums(entry, where),
        title=_text(entry, "dc:title"), description=_text(entry, "dc:description"),
        version=_text(entry, "hv:version"), hypervisor=_text(entry, "hv:hypervisor"),
        format=_text(entry, "hv:format"), arch=_text(entry, "sl:arch"), os=_text(entry, "sl:os"),
        osname=_text(entry, "sl:osname"), osversion=_text(entry, "sl:osversion"),
        comments=_text(entry, "sl:comments"), mpuri=_text(entry, "ad:mpuri"),
        expires=parse_date(_text(entry, "dc:date:expires"), f"{where}: dc:date:expires"),
        entry={clean(k): v for k, v in ((k, _text(entry, k)) for k in entry) if v is not None},
    )


def list_body(document: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """The ``hv:imagelist`` object of a parsed list; RecordError when there is none."""
    body = document.get("hv:imagelist")
    if not isinstance(body, dict):
        raise RecordError(f"{what} is not a HEPiX image list (no \"hv:imagelist\" object)")
    return body


def parse_list_json(data: bytes, what: str = "image list") -> HepixList:
    """Parse the bare JSON of a HEPiX image list (see read_image_list)."""
    return read_image_list(jsonsafe.load_object(data, what, "HEPiX image list", MAX_LIST_BYTES), what)


def read_image_list(document: Mapping[str, Any], what: str = "image list") -> HepixList:
    """The list a parsed JSON document holds: the very object trust verified, not a re-parse.

    Raises RecordError when it is not an image list, or an image lacks its identifier, URI,
    size or SHA-512, or a date is not ``YYYY-MM-DDThh:mm:ssZ``.
    """
    body = list_body(document, what)
    images = body.get("hv:images")
    if not isinstance(images, list):
        raise RecordError(f"{what}: hv:images is missing or not a list")
    endorser = body.get("hv:endorser")
    if isinstance(endorser, list):  # vmcaster's array for two endorsers: the first describes it
        endorser = endorser[0] if endorser else None
    endorser = endorser.get("hv:x509") if isinstance(endorser, dict) else None
    endorser = endorser if isinstance(endorser, dict) else {}
    return HepixList(
        identifier=_required(body, "dc:identifier", what),
        images=tuple(_image(w, i, what) for i, w in enumerate(images)),
        version=_text(body, "hv:version"),
        created=parse_date(_text(body, "dc:date:created"), f"{what}: dc:date:created"),
        expires=parse_date(_text(body, "dc:date:expires"), f"{what}: dc:date:expires"),
        title=_text(body, "dc:title"), description=_text(body, "dc:description"),
        source=_text(body, "dc:source"), uri=_text(body, "hv:uri"), vo=_text(body, "ad:vo"),
        endorser_dn=_text(endorser, "hv:dn"), endorser_ca=_text(endorser, "hv:ca"),
        endorser_email=_text(endorser, "hv:email"), endorser_name=_text(endorser, "dc:creator"),
    )


def find_image(lst: HepixList, identifier: str) -> HepixImage:
    """The image with ``dc:identifier`` (case-insensitive); RecordError naming near matches."""
    wanted = identifier.strip().lower()
    for image in lst.images:
        if image.identifier.lower() == wanted:
            return image
    near = difflib.get_close_matches(wanted, [i.identifier.lower() for i in lst.images], n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(near)}?" if near else f"; it lists {len(lst.images)} images"
    raise RecordError(f"image {identifier} is not in image list {lst.identifier}{hint}")
