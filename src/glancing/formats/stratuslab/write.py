# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one StratusLab record writer: RecordDraft -> RDF/XML bytes (formats.md 1.1-1.3).

What it writes reads back through glancing.formats.stratuslab.read to the same values and
passes glancing.formats.stratuslab.validate. The element order is the XSD's (identifier, bytes,
checksums, endorsement, then the optional terms), the root carries the mandatory xml:base, and
the identifier is derived from the SHA-1 here, never taken from the caller, so the two cannot
disagree. The endorsement is left empty (the unsigned template form): signing fills it
(glancing.trust.sign_xmldsig), because who endorses, and when, is only known then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple

from lxml import etree

from glancing.errors import UsageError
from glancing.formats.dates import format_date
from glancing.formats.text import clean
from glancing.formats.vocab import (DCTERMS_NS, KNOWN_DISK_FORMATS, RDF_NS, SLREQ_NS, SLTERMS_NS,
                                    STRATUSLAB_BASE, XML_NS)
from glancing.verify.identifier import sha1_to_identifier

__all__ = ["CHECKSUM_NAMES", "NAMESPACES", "RecordDraft", "write_record"]

NAMESPACES = {"rdf": RDF_NS, "dcterms": DCTERMS_NS, "slreq": SLREQ_NS, "slterms": SLTERMS_NS}
# hashlib name -> the Java MessageDigest name the marketplace and every reader expect.
CHECKSUM_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}
COMPRESSIONS = ("gz", "bz2", "xz", "zip")


@dataclass(frozen=True)
class RecordDraft:
    """Everything a record says, before anyone endorses it.

    ``checksums`` (hashlib name -> hex) and ``size`` describe the UNCOMPRESSED image; a SHA-1
    is required (it is the identifier). ``compression`` is how the locations serve the file
    (None: as is). ``created`` is when the image was described, ``valid`` when the record expires.
    """

    size: int
    checksums: Mapping[str, str]
    created: dt.datetime
    valid: dt.datetime
    locations: Tuple[str, ...] = ()
    disk_format: Optional[str] = None
    compression: Optional[str] = None
    os: Optional[str] = None
    os_version: Optional[str] = None
    os_arch: Optional[str] = None
    version: Optional[str] = None
    title: Optional[str] = None
    description: Optional[str] = None
    creator: Optional[str] = None
    hypervisor: Optional[str] = None
    disks_bus: Optional[str] = None
    tag: Optional[str] = None
    image_type: str = "base"  # dcterms:type, as the StratusLab client wrote it (base | grid)
    kind: str = "machine"  # slterms:kind: machine | disk
    extra: Mapping[str, str] = field(default_factory=dict)  # further slterms terms, e.g. deprecated

    @property
    def identifier(self) -> str:
        return sha1_to_identifier(self.checksums["sha1"])


def _check(draft: RecordDraft) -> None:
    """Refuse, with the option's words, what would make a record no reader accepts."""
    if "sha1" not in draft.checksums:
        raise UsageError("a record needs the image's SHA-1: it is the identifier")
    unknown = sorted(set(draft.checksums) - set(CHECKSUM_NAMES))
    if unknown:
        raise UsageError(f"checksum algorithm(s) {', '.join(unknown)} cannot be written "
                         f"(known: {', '.join(CHECKSUM_NAMES)})")
    if draft.size < 0:
        raise UsageError(f"image size {draft.size} is negative")
    if draft.disk_format is not None and draft.disk_format not in KNOWN_DISK_FORMATS:
        raise UsageError(f"disk format {draft.disk_format!r} is not one of {', '.join(KNOWN_DISK_FORMATS)}")
    if draft.compression is not None and draft.compression not in COMPRESSIONS:
        raise UsageError(f"compression {draft.compression!r} is not one of {', '.join(COMPRESSIONS)} or none")
    if draft.valid <= draft.created:
        raise UsageError("the record would expire before it was created: give a positive validity")


def _text(value: Optional[str]) -> str:
    """Record text: control characters out (as every reader cleans them), ends trimmed."""
    return clean(value or "").strip()


def _add(parent: etree._Element, ns: str, local: str, text: Optional[str] = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{local}")
    if text is not None:
        el.text = text
    return el


def _resource(parent: etree._Element, ns: str, local: str) -> etree._Element:
    el = _add(parent, ns, local)
    el.set(f"{{{RDF_NS}}}parseType", "Resource")
    return el


def _optional_terms(draft: RecordDraft) -> List[Tuple[str, str, Optional[str]]]:
    """(namespace, term, value) after the required block, in the StratusLab client's order."""
    return [
        (DCTERMS_NS, "type", draft.image_type),
        (SLTERMS_NS, "kind", draft.kind),
        (DCTERMS_NS, "title", draft.title),
        (DCTERMS_NS, "description", draft.description),
        (DCTERMS_NS, "creator", draft.creator),
        (DCTERMS_NS, "alternative", draft.tag),
        (DCTERMS_NS, "created", format_date(draft.created)),
        (DCTERMS_NS, "valid", format_date(draft.valid)),
        (DCTERMS_NS, "format", draft.disk_format),
        (DCTERMS_NS, "compression", draft.compression or ""),
        (SLTERMS_NS, "os", draft.os),
        (SLTERMS_NS, "os-version", draft.os_version),
        (SLTERMS_NS, "os-arch", draft.os_arch),
        (SLTERMS_NS, "version", draft.version),
        (SLTERMS_NS, "hypervisor", draft.hypervisor),
        (SLTERMS_NS, "disks-bus", draft.disks_bus),
    ] + [(SLTERMS_NS, term, value) for term, value in sorted(draft.extra.items())]


def record_tree(draft: RecordDraft) -> etree._Element:
    """The rdf:RDF element of ``draft`` (raises UsageError for a draft no reader would accept)."""
    _check(draft)
    identifier = draft.identifier
    root = etree.Element(f"{{{RDF_NS}}}RDF", nsmap=NAMESPACES)
    root.set(f"{{{XML_NS}}}base", STRATUSLAB_BASE)
    desc = _add(root, RDF_NS, "Description")
    desc.set(f"{{{RDF_NS}}}about", "#" + identifier)
    _add(desc, DCTERMS_NS, "identifier", identifier)
    _add(desc, SLREQ_NS, "bytes", str(draft.size))
    for algorithm, name in CHECKSUM_NAMES.items():
        if algorithm in draft.checksums:
            node = _resource(desc, SLREQ_NS, "checksum")
            _add(node, SLREQ_NS, "algorithm", name)
            _add(node, SLREQ_NS, "value", draft.checksums[algorithm].lower())
    _resource(desc, SLREQ_NS, "endorsement")
    for location in draft.locations:
        _add(desc, SLTERMS_NS, "location", _text(location))
    for ns, term, value in _optional_terms(draft):
        if value is not None and (value or term == "compression"):
            _add(desc, ns, term, _text(value))
    return root


def to_bytes(root: etree._Element) -> bytes:
    """A record document as written: UTF-8 with its declaration, indented, newline-terminated."""
    etree.indent(root, space="  ")
    return etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True) + b"\n"


def write_record(draft: RecordDraft) -> bytes:
    """The unsigned RDF/XML record of ``draft``."""
    return to_bytes(record_tree(draft))
