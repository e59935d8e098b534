# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""StratusLab marketplace records -> StratusLabRecord (formats.md section 1).

Parsing follows the RDF graph from the image resource (``http://mp.stratuslab.eu/#<id>``)
through its checksum and endorsement blank nodes; nothing else in the document is read, so a
stray blank node cannot add a checksum. The digests and ``slreq:bytes`` of a record describe the
UNCOMPRESSED image (formats.md 1.3). Every text value is cleaned of control characters here,
once (glancing.formats.text), so a title cannot fake a second line on a terminal or in a log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import rdflib
from rdflib import BNode, Literal, URIRef

from lxml import etree

from glancing.errors import RecordDeprecated, RecordError, RecordExpired
from glancing.formats.dates import CLOCK_SKEW, as_utc, format_date, is_future, parse_date
from glancing.formats.stratuslab.graph import RecordGraph, graph_from_document, graph_of_element, record_graphs
from glancing.formats.text import clean
from glancing.formats.vocab import DCTERMS_NS, KNOWN_DISK_FORMATS, SLREQ_NS, SLTERMS_NS, normalize_disk_format

__all__ = ["StratusLabRecord", "parse_records", "record_from_tree", "record_from_document", "refusal",
           "select_record"]

_HEX = re.compile(r"^[0-9a-fA-F]+$")
# The Java tools write MessageDigest names; the client lower-cases them and drops the dashes.
_ALGORITHMS = {"md5": "md5", "sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384",
               "sha512": "sha512", "sha3224": "sha3_224", "sha3256": "sha3_256", "sha3384": "sha3_384",
               "sha3512": "sha3_512"}
_COMPRESSION = {"gz": "gz", "gzip": "gz", "bz2": "bz2", "bzip2": "bz2", "xz": "xz", "zip": "zip"}


@dataclass(frozen=True)
class StratusLabRecord:
    """One marketplace record, normalised. Digests: hashlib name -> lowercase hex (uncompressed)."""

    identifier: str
    bytes: Optional[int]
    checksums: Mapping[str, str]
    endorsement_created: Optional[dt.datetime]
    endorser_email: Optional[str]
    endorser_subject: Optional[str]
    endorser_issuer: Optional[str]
    locations: Tuple[str, ...] = ()
    title: Optional[str] = None
    description: Optional[str] = None
    version: Optional[str] = None
    os: Optional[str] = None
    os_version: Optional[str] = None
    os_arch: Optional[str] = None
    hypervisor: Optional[str] = None
    disks_bus: Optional[str] = None
    compression: Optional[str] = None  # 'gz', 'bz2', ... ; None for absent, empty or 'none'
    format: Optional[str] = None
    kind: Optional[str] = None
    type: Optional[str] = None
    creator: Optional[str] = None
    publisher: Optional[str] = None
    alternative: Optional[str] = None  # the endorser's tag
    created: Optional[dt.datetime] = None  # the image's creation date, not the endorsement's
    valid: Optional[dt.datetime] = None  # expiry
    deprecated: Optional[str] = None  # the withdrawal reason ('' counts: presence is what matters)
    unsupported_checksums: Mapping[str, str] = field(default_factory=dict)  # algorithms hashlib lacks
    signed: bool = False  # whether the XML carried a ds:Signature (not whether it verified)

    def to_json(self) -> Dict[str, Any]:
        """A JSON-ready dict: dates as ``YYYY-MM-DDThh:mm:ssZ``, tuples as lists."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.datetime):
                out[key] = format_date(value)
            elif isinstance(value, tuple):
                out[key] = list(value)
        return out


class _Reader:
    """Reads single-valued terms off one graph, refusing repeated ones with a clear message."""

    def __init__(self, graph: rdflib.Graph, what: str) -> None:
        self.graph = graph
        self.what = what

    def values(self, subject: Any, predicate: str) -> List[Any]:
        return sorted(self.graph.objects(subject, URIRef(predicate)), key=str)

    def node(self, subject: Any, predicate: str, label: str) -> Optional[Any]:
        found = self.values(subject, predicate)
        if len(found) > 1:
            raise RecordError(f"{self.what}: {label} appears {len(found)} times; it may appear once")
        return found[0] if found else None

    def text(self, subject: Any, predicate: str, label: str) -> Optional[str]:
        value = self.node(subject, predicate, label)
        if value is None:
            return None
        if not isinstance(value, Literal):
            raise RecordError(f"{self.what}: {label} must be a plain value, not a resource")
        return clean(str(value)).strip()

    def literal_texts(self, subject: Any, predicate: str) -> List[str]:
        return [clean(str(v)).strip() for v in self.values(subject, predicate) if isinstance(v, Literal)]


def _image_subject(graph: rdflib.Graph, what: str) -> URIRef:
    candidates = sorted({s for s in graph.subjects(URIRef(DCTERMS_NS + "identifier"), None)
                         if isinstance(s, URIRef)})
    if not candidates:
        raise RecordError(f"{what}: no image description (a resource with dcterms:identifier) found")
    if len(candidates) > 1:
        raise RecordError(f"{what}: {len(candidates)} image descriptions in one record; expected one")
    return candidates[0]


def _hex_value(algorithm: str, value: str, what: str) -> str:
    """Lowercase hex of the digest's length; extra leading zeros (as the server allows) dropped."""
    length = hashlib.new(algorithm).digest_size * 2
    value = value.strip().lower()
    if not _HEX.match(value):
        raise RecordError(f"{what}: {algorithm} checksum {value!r} is not hexadecimal")
    if len(value) > length and set(value[: len(value) - length]) == {"0"}:
        value = value[len(value) - length:]
    if len(value) != length:
        raise RecordError(f"{what}: {algorithm} checksum {value!r} is not {length} hex digits")
    return value


def _checksums(reader: _Reader, image: Any) -> Tuple[Dict[str, str], Dict[str, str]]:
    known: Dict[str, str] = {}
    unknown: Dict[str, str] = {}
    for node in reader.values(image, SLREQ_NS + "checksum"):
        if not isinstance(node, BNode):
            raise RecordError(f"{reader.what}: slreq:checksum must be a resource "
                              '(rdf:parseType="Resource") holding slreq:algorithm and slreq:value')
        name = reader.text(node, SLREQ_NS + "algorithm", "slreq:algorithm")
        value = reader.text(node, SLREQ_NS + "value", "slreq:value")
        if name is None and value is None:
            continue  # a reference to a checksum node that is not in the document (RDF/JSON)
        if not name or not value:
            raise RecordError(f"{reader.what}: a slreq:checksum lacks its algorithm or its value")
        algorithm = _ALGORITHMS.get(name.lower().replace("-", "").replace("_", ""))
        target = known if algorithm else unknown
        key = algorithm or name
        value = _hex_value(algorithm, value, reader.what) if algorithm else value.lower()
        if target.get(key, value) != value:
            raise RecordError(f"{reader.what}: two different {name} checksums")
        target[key] = value
    return known, unknown


def _endorsement(reader: _Reader, image: Any) -> Dict[str, Any]:
    node = reader.node(image, SLREQ_NS + "endorsement", "slreq:endorsement")
    out: Dict[str, Any] = {"endorsement_created": None, "endorser_email": None,
                           "endorser_subject": None, "endorser_issuer": None}
    if isinstance(node, Literal) and str(node).strip():
        raise RecordError(f"{reader.what}: slreq:endorsement must be a resource "
                          '(rdf:parseType="Resource") holding dcterms:created and slreq:endorser')
    if node is None or isinstance(node, Literal):
        # An empty endorsement is an unsigned template: nobody vouches for the record yet.
        return out
    out["endorsement_created"] = parse_date(
        reader.text(node, DCTERMS_NS + "created", "endorsement dcterms:created"),
        f"{reader.what}: endorsement dcterms:created")
    endorser = reader.node(node, SLREQ_NS + "endorser", "slreq:endorser")
    if endorser is not None and not isinstance(endorser, Literal):
        out["endorser_email"] = reader.text(endorser, SLREQ_NS + "email", "slreq:email")
        out["endorser_subject"] = reader.text(endorser, SLREQ_NS + "subject", "slreq:subject")
        issuers = reader.literal_texts(endorser, SLREQ_NS + "issuer")
        out["endorser_issuer"] = issuers[0] if issuers else None
    return out


def _ordered(values: Sequence[str], order: Sequence[str]) -> Tuple[str, ...]:
    rank = {v: i for i, v in reversed(list(enumerate(order)))}
    return tuple(sorted(dict.fromkeys(values), key=lambda v: (rank.get(v, len(order)), v)))


def _size(text: Optional[str], what: str) -> Optional[int]:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise RecordError(f"{what}: slreq:bytes {text!r} is not a non-negative integer")
    return int(text)


def _compression(text: Optional[str], what: str) -> Optional[str]:
    if not text or text.lower() == "none":
        return None
    value = _COMPRESSION.get(text.lower())
    if value is None:
        raise RecordError(f"{what}: unsupported dcterms:compression {text!r} (gz, bz2, xz, zip or none)")
    return value


def _disk_format(text: Optional[str], what: str) -> Optional[str]:
    if not text:
        return None
    if normalize_disk_format(text) not in KNOWN_DISK_FORMATS:
        raise RecordError(f"{what}: dcterms:format {text!r} is not a known disk format "
                          f"({', '.join(KNOWN_DISK_FORMATS)})")
    return normalize_disk_format(text)


_TERMS = {  # field -> (predicate URI, label in messages)
    name: (ns + local, f"{prefix}:{local}")
    for name, ns, prefix, local in (
        ("title", DCTERMS_NS, "dcterms", "title"), ("description", DCTERMS_NS, "dcterms", "description"),
        ("type", DCTERMS_NS, "dcterms", "type"), ("creator", DCTERMS_NS, "dcterms", "creator"),
        ("publisher", DCTERMS_NS, "dcterms", "publisher"), ("alternative", DCTERMS_NS, "dcterms", "alternative"),
        ("version", SLTERMS_NS, "slterms", "version"), ("os", SLTERMS_NS, "slterms", "os"),
        ("os_version", SLTERMS_NS, "slterms", "os-version"), ("os_arch", SLTERMS_NS, "slterms", "os-arch"),
        ("hypervisor", SLTERMS_NS, "slterms", "hypervisor"), ("disks_bus", SLTERMS_NS, "slterms", "disks-bus"),
        ("kind", SLTERMS_NS, "slterms", "kind"), ("deprecated", SLTERMS_NS, "slterms", "deprecated"),
    )
}


def _record(rg: RecordGraph, what: str) -> StratusLabRecord:
    reader = _Reader(rg.graph, what)
    image = _image_subject(rg.graph, what)
    identifier = reader.text(image, DCTERMS_NS + "identifier", "dcterms:identifier") or ""
    known, unknown = _checksums(reader, image)
    terms = {name: reader.text(image, uri, label) for name, (uri, label) in _TERMS.items()}
    fmt = _disk_format(reader.text(image, DCTERMS_NS + "format", "dcterms:format"), what)
    return StratusLabRecord(
        identifier=identifier,
        bytes=_size(reader.text(image, SLREQ_NS + "bytes", "slreq:bytes"), what),
        checksums=known,
        unsupported_checksums=unknown,
        locations=_ordered(reader.literal_texts(image, SLTERMS_NS + "location"), rg.location_order),
        compression=_compression(reader.text(image, DCTERMS_NS + "compression", "dcterms:compression"), what),
        format=fmt,
        created=parse_date(reader.text(image, DCTERMS_NS + "created", "dcterms:created"),
                           f"{what}: dcterms:created"),
        valid=parse_date(reader.text(image, DCTERMS_NS + "valid", "dcterms:valid"), f"{what}: dcterms:valid"),
        signed=rg.signed,
        **_endorsement(reader, image),
        **{k: (v if v or k == "deprecated" else None) for k, v in terms.items()},
    )


def parse_records(data: bytes, what: str) -> List[StratusLabRecord]:
    """Every record in ``data``: RDF/XML (bare or a ``<metadata>`` listing) or RDF/JSON.

    Raises RecordError for anything else (an HTML page, a DataTables listing, an empty listing,
    unsafe or malformed XML, a record without an image description, repeated single terms).
    """
    graphs = record_graphs(data, what)
    label = (lambda i: f"{what} (record {i + 1} of {len(graphs)})") if len(graphs) > 1 else (lambda i: what)
    return [_record(rg, label(i)) for i, rg in enumerate(graphs)]


def record_from_tree(rdf_el: etree._Element, what: str, signed: bool = False) -> StratusLabRecord:
    """The record of one parsed, comment-free rdf:RDF element: the tree trust verified."""
    return _record(graph_of_element(rdf_el, what, signed), what)


def record_from_document(document: Mapping[str, Any], what: str) -> StratusLabRecord:
    """The record of a parsed RDF/JSON object."""
    return _record(graph_from_document(document, what), what)


def _describe(record: StratusLabRecord) -> str:
    who = record.endorser_email or "no endorser"
    when = format_date(record.endorsement_created) or "no endorsement date"
    return f"record {record.identifier} endorsed by {who} on {when}"


def refusal(record: StratusLabRecord, now: dt.datetime, allow_expired: bool = False,
            allow_deprecated: bool = False, skew: dt.timedelta = CLOCK_SKEW) -> Optional[RecordError]:
    """Why ``record`` may not be imported now (deprecated, endorsed in the future, expired), or None.

    ``skew`` is how far ahead of ``now`` an endorsement date may lie (the signer's clock).
    """
    if record.deprecated is not None and not allow_deprecated:
        reason = record.deprecated or "no reason given"
        return RecordDeprecated(f"{_describe(record)} is deprecated ({reason}); "
                                "--allow-deprecated imports it anyway")
    if is_future(record.endorsement_created, now, skew):
        # Being the newest, a record "endorsed" in 2090 would win every selection until then.
        return RecordError(f"{_describe(record)} is endorsed in the future; refused (check the "
                           "endorser's clock, or this host's)")
    if record.valid is not None and record.valid <= now and not allow_expired:
        return RecordExpired(f"{_describe(record)} expired on {format_date(record.valid)}; "
                             "--allow-expired imports it anyway")
    return None


def select_record(records: Sequence[StratusLabRecord], now: dt.datetime, identifier: Optional[str] = None,
                  allow_expired: bool = False, allow_deprecated: bool = False,
                  skew: dt.timedelta = CLOCK_SKEW) -> StratusLabRecord:
    """The newest acceptable record by endorsement date (ties: the first in the document).

    Deprecated and expired records are skipped unless allowed. ``identifier``, when given,
    must be the records' identifier. Raises RecordError (no record for that identifier),
    RecordDeprecated or RecordExpired (why the newest record was refused, when none is acceptable).
    """
    if identifier is not None:
        records = [r for r in records if r.identifier == identifier]
        if not records:
            raise RecordError(f"the listing holds no record for identifier {identifier}")
    if not records:
        raise RecordError("the listing holds no record")
    never = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    newest_first = sorted(enumerate(records),
                          key=lambda p: (-(p[1].endorsement_created or never).timestamp(), p[0]))
    now = as_utc(now)
    refusals = []
    for _, record in newest_first:
        why = refusal(record, now, allow_expired, allow_deprecated, skew)
        if why is None:
            return record
        refusals.append(why)
    first = refusals[0]
    if len(records) > 1:
        raise type(first)(f"none of the {len(records)} records is acceptable; newest: {first}")
    raise first
