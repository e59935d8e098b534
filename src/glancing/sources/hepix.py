# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""HEPiX list entries -> ImageSpec: as-downloaded digests and size, hv:uri, expiry, properties.

Reading lists is glancing.formats.hepix's job; the spec says DigestScope.AS_GIVEN because a
list's digests describe the file as downloaded (formats.md 2.3).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from glancing.errors import RecordError
from glancing.formats.dates import format_date
from glancing.formats.detect import Kind, detect
from glancing.formats.hepix.read import HepixImage, HepixList, find_image, parse_list_json, read_image_list
from glancing.formats.vocab import KNOWN_DISK_FORMATS, normalize_disk_format
from glancing.model import DigestScope, Expected, ImageSpec, Origin
from glancing.sources import common
from glancing.sources.common import default_name
from glancing.sources.locations import check_locations

__all__ = ["HepixImage", "HepixList", "find_image", "parse_image_list", "read_image_list", "image_to_spec",
           "image_properties"]

_COMPRESSED = {"gz": "gz", "bz2": "bz2", "xz": "xz", "zip": "zip"}


def parse_image_list(data: bytes, what: str = "image list") -> HepixList:
    """Read a HEPiX list, bare JSON or S/MIME, WITHOUT checking any signature.

    For ``glancing-metadata show`` and tests: importing goes through glancing.trust, which
    hands over the verified document for read_image_list.
    """
    if detect(data).kind is Kind.MIME:
        from glancing.trust import smime

        data = smime.unverified_content(data, what)
    return parse_list_json(data, what)


def _disk_format(fmt: Optional[str], what: str) -> Tuple[Optional[str], Optional[str]]:
    """(disk format, compression) from hv:format: 'QCOW2' -> qcow2, 'raw.gz' -> (raw, gz).

    Raises RecordError for a format that is no disk format: the record is malformed, and
    saying so beats a "format mismatch" after the whole download.
    """
    if not fmt or not fmt.strip():
        return None, None
    parts = fmt.strip().lower().split(".")
    compression = _COMPRESSED.get(parts[-1]) if len(parts) > 1 else None
    base = ".".join(parts[:-1]) if compression else ".".join(parts)
    base = normalize_disk_format(base)
    if base not in KNOWN_DISK_FORMATS:
        raise RecordError(f"{what}: hv:format {fmt!r} is not a known disk format "
                          f"({', '.join(KNOWN_DISK_FORMATS)}, optionally .gz/.bz2/.xz/.zip)")
    return base, compression


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
    disk_format, compression = _disk_format(image.format, f"{described_by}: image {image.identifier}")
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
