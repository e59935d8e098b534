# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""StratusLab records -> ImageSpec: what a record promises about the image, and where it lies.

Reading records is glancing.formats.stratuslab's job; this module turns a record into the
ImageSpec the pipeline imports (uncompressed-scope digests, checked identifier, safe locations).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

from glancing.errors import IdentifierMismatch, RecordError
from glancing.formats.dates import format_date
from glancing.formats.stratuslab.read import StratusLabRecord, parse_records, select_record
from glancing.model import DigestScope, Expected, ImageSpec, Origin
from glancing.sources import common
from glancing.sources.common import default_name
from glancing.sources.locations import check_locations
from glancing.verify.identifier import identifier_matches

__all__ = ["StratusLabRecord", "parse_records", "select_record", "record_to_spec", "default_name",
           "check_identifier", "record_properties"]


def _fallback_compression(locations: Sequence[str]) -> Optional[str]:
    """The compression a location's suffix implies, as the StratusLab client decides."""
    for suffix, name in ((".gz", "gz"), (".bz2", "bz2")):
        if locations and locations[0].lower().split("?")[0].endswith(suffix):
            return name
    return None


def check_identifier(record: StratusLabRecord, what: str) -> str:
    """Return the record's SHA-1 after checking the identifier encodes it.

    Raises RecordError when the record has no SHA-1, IdentifierMismatch when it disagrees.
    """
    sha1 = record.checksums.get("sha1")
    if not sha1:
        raise RecordError(f"{what}: record {record.identifier or '(no identifier)'} has no SHA-1 "
                          "checksum, which a marketplace record must have")
    if not identifier_matches(record.identifier, sha1):
        raise IdentifierMismatch(f"{what}: identifier {record.identifier!r} does not encode the record's "
                                 f"SHA-1 {sha1}")
    return sha1


def record_properties(record: StratusLabRecord, marketplace_url: Optional[str]) -> Dict[str, str]:
    """The Glance properties a record contributes (``mpid`` and ``version`` as the 2016 tool set)."""
    return common.drop_empty({
        "mpid": record.identifier,
        "version": record.version,
        "os_distro": common.os_distro(record.os),
        "os_version": record.os_version,
        "architecture": common.architecture(record.os_arch),
        "hypervisor_type": common.hypervisor_type(record.hypervisor),
        "hw_disk_bus": record.disks_bus.lower() if record.disks_bus else None,
        "endorser_email": record.endorser_email,
        "endorser_dn": record.endorser_subject,
        "endorser_ca": record.endorser_issuer,
        "endorsed_at": format_date(record.endorsement_created),
        "valid_until": format_date(record.valid),
        "marketplace_url": marketplace_url,
    })


def record_to_spec(record: StratusLabRecord, origin: Origin, described_by: str,
                   marketplace_url: Optional[str] = None) -> ImageSpec:
    """The ImageSpec of a record: uncompressed-scope digests, checked identifier, safe locations.

    ``described_by`` is the record's URL or path (a LOCAL_RECORD's relative locations resolve
    against its directory). Raises RecordError / IdentifierMismatch (see check_identifier) and
    UnsafeLocation (see sources.locations.check_locations).
    """
    check_identifier(record, described_by)
    if record.bytes is None:
        # Without it the size check silently disappears: a record that promises nothing about
        # the size is as incomplete as one without its SHA-1.
        raise RecordError(f"{described_by}: record {record.identifier} has no slreq:bytes (the image "
                          "size), which a marketplace record must have")
    locations = check_locations(record.locations, origin,
                                described_by if origin is Origin.LOCAL_RECORD else None,
                                what=f"record {record.identifier}")
    return ImageSpec(
        locations=locations,
        origin=origin,
        expected=Expected(size=record.bytes, digests=dict(record.checksums),
                          scope=DigestScope.UNCOMPRESSED, identifier=record.identifier),
        name=default_name(record.title, record.os, record.os_version, record.os_arch),
        compression=record.compression or _fallback_compression([loc.url for loc in locations]),
        disk_format=record.format,
        version=record.version,
        expires=record.valid,
        deprecated=record.deprecated,
        properties=record_properties(record, marketplace_url),
        described_by=described_by,
    )
