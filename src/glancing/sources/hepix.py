# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""HEPiX virtual machine image lists (JSON, or S/MIME with the JSON inside) -> ImageSpec.

Unlike StratusLab records, ``sl:checksum:sha512`` and ``hv:size`` describe the file AS
DOWNLOADED from ``hv:uri`` (a ``.gz``, an ``.ova``): formats.md 2.3. The spec says so with
DigestScope.AS_GIVEN; decompression or OVA handling comes after verification. Signature checks
are not made here: glancing.trust.smime owns S/MIME, and parsing an S/MIME file here only reads
its payload, unverified.
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
from glancing.model import DigestScope, Expected, ImageSpec, Origin
from glancing.sources import common
from glancing.sources.common import default_name, format_date, parse_date
from glancing.sources.locations import check_locations
from glancing.trust import smime

MAX_LIST_BYTES = 16 * 1024 * 1024  # a VO list of a few hundred images stays well below
_CHECKSUM_PREFIX = "sl:checksum:"
_COMPRESSED = {"gz": "gz", "bz2": "bz2", "xz": "xz", "zip": "zip"}
_FORMAT_ALIASES = {"vpc": "vhd", "img": "raw"}


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
    return value if isinstance(value, str) else json.dumps(value)


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
        entry={k: v for k, v in ((k, _text(entry, k)) for k in entry) if v is not None},
    )


def _load_json(data: bytes, what: str) -> Mapping[str, Any]:
    if len(data) > MAX_LIST_BYTES:
        raise RecordError(f"{what} refused: {len(data)} bytes is over the {MAX_LIST_BYTES}-byte limit")
    if smime.looks_signed(data):
        # Reading, not trusting: callers that need the signature go through glancing.trust first
        # and hand over the verified JSON; this serves `glancing-metadata show` and the like.
        data = smime.unverified_content(data, what)
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise RecordError(f"{what} is not a JSON image list: {e}") from None
    body = document.get("hv:imagelist") if isinstance(document, dict) else None
    if not isinstance(body, dict):
        raise RecordError(f"{what} is not a HEPiX image list (no \"hv:imagelist\" object)")
    return body


def parse_image_list(data: bytes, what: str = "image list") -> HepixList:
    """Parse a HEPiX image list, bare JSON or S/MIME (the signature is NOT checked here).

    Raises RecordError when it is not an image list, or an image lacks its identifier, URI,
    size or SHA-512, or a date is not ``YYYY-MM-DDThh:mm:ssZ``.
    """
    body = _load_json(data, what)
    images = body.get("hv:images")
    if not isinstance(images, list):
        raise RecordError(f"{what}: hv:images is missing or not a list")
    endorser = body.get("hv:endorser")
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


def _disk_format(fmt: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """(disk format, compression) from hv:format: 'QCOW2' -> qcow2, 'raw.gz' -> (raw, gz)."""
    if not fmt or not fmt.strip():
        return None, None
    parts = fmt.strip().lower().split(".")
    compression = _COMPRESSED.get(parts[-1]) if len(parts) > 1 else None
    base = ".".join(parts[:-1]) if compression else ".".join(parts)
    return _FORMAT_ALIASES.get(base, base), compression


def _vmcatcher(image: HepixImage, lst: HepixList) -> Dict[str, Optional[str]]:
    # The variables vmcatcher hands its hooks, lower-cased, as the glancepush/cloudkeeper
    # handlers store them and cloud-info-provider reads them back.
    return {
        "vmcatcher_event_dc_identifier": image.identifier, "vmcatcher_event_dc_title": image.title,
        "vmcatcher_event_dc_description": image.description, "vmcatcher_event_hv_uri": image.uri,
        "vmcatcher_event_hv_size": str(image.size), "vmcatcher_event_hv_version": image.version,
        "vmcatcher_event_hv_hypervisor": image.hypervisor, "vmcatcher_event_hv_format": image.format,
        "vmcatcher_event_sl_arch": image.arch, "vmcatcher_event_sl_os": image.os,
        "vmcatcher_event_sl_osversion": image.osversion, "vmcatcher_event_sl_comments": image.comments,
        "vmcatcher_event_sl_checksum_sha512": image.checksums["sha512"],
        "vmcatcher_event_ad_mpuri": image.mpuri, "vmcatcher_event_il_dc_identifier": lst.identifier,
        "vmcatcher_event_vo": lst.vo,
    }


def image_properties(image: HepixImage, lst: HepixList) -> Dict[str, str]:
    """Glance properties of a list entry: identifiers, standard keys, vmcatcher_event_*."""
    expires = image.expires or lst.expires
    distro = image.osname if image.osname and image.osname.lower() != "other" else image.os
    return common.drop_empty({
        "hepix_image_id": image.identifier,
        "hepix_list_id": lst.identifier,
        "hepix_list_version": lst.version,
        "version": image.version,
        "os_distro": common.os_distro(distro),
        "os_version": image.osversion,
        "architecture": common.architecture(image.arch),
        "hypervisor_type": common.hypervisor_type(image.hypervisor),
        "endorser_email": lst.endorser_email,
        "endorser_dn": lst.endorser_dn,
        "endorser_ca": lst.endorser_ca,
        "valid_until": format_date(expires),
        "marketplace_url": image.mpuri,
        **_vmcatcher(image, lst),
    })


def image_to_spec(image: HepixImage, lst: HepixList, origin: Origin, described_by: str) -> ImageSpec:
    """The ImageSpec of a list entry: as-downloaded size and digests, its hv:uri, expiry.

    ``described_by`` is the list's URL or path. Raises UnsafeLocation / RecordError from
    sources.locations.check_locations (a remote list may not name a local file).
    """
    disk_format, compression = _disk_format(image.format)
    return ImageSpec(
        locations=check_locations([image.uri], origin,
                                  described_by if origin is Origin.LOCAL_RECORD else None,
                                  what=f"image {image.identifier}"),
        origin=origin,
        expected=Expected(size=image.size, digests=dict(image.checksums), scope=DigestScope.AS_GIVEN),
        name=default_name(image.title, image.osname or image.os, image.osversion, image.arch),
        compression=compression,
        disk_format=disk_format,
        version=image.version,
        expires=image.expires or lst.expires,
        properties=image_properties(image, lst),
        described_by=described_by,
    )
