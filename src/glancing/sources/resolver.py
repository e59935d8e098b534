# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Where an image comes from: turn what the user typed into an ImageSpec.

In order: an http(s)/ftp URL (the image itself); with -c LIST, the entry SOURCE of a HEPiX image
list; a file:// URL or an existing local path (a record or list when its content is one, by
glancing.formats.detect, else the image itself); a 27-character StratusLab marketplace ID.

Every record and list read from a remote source is verified (signature, signer bound to the
endorser it names, chain and CRLs, trusted endorser) BEFORE anything in it is used. Trust hands
back the verified document (the cleaned tree, or the parsed JSON) and the format reader builds
the record from exactly that object: one lxml parse and one rdflib parse per record, one JSON
parse per list. A local record or list is verified when it is signed.

The format modules (rdflib, lxml, the crypto stack) are imported by the functions that read
records: importing a plain file or URL should not cost a fifth of a second.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from glancing.errors import GlancingError, RecordError, RecordExpired, SignatureError, SourceError
from glancing.fetch import HttpSettings, new_session, read_small
from glancing.formats.dates import CLOCK_SKEW
from glancing.formats.detect import HEAD_BYTES, MAX_SCALAR_BYTES, Detected, Kind, detect, refuse_non_object
from glancing.model import ImageSpec, Origin
from glancing.sources import marketplace, plain

if TYPE_CHECKING:
    from glancing.formats.stratuslab.read import StratusLabRecord
    from glancing.trust.policy import Verifier

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 16 << 20  # a HEPiX list of a few hundred images is well under 1 MiB


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


@dataclass(frozen=True)
class SourceSettings:
    """What resolving a source needs besides the text: trust, marketplace, image list, dates."""

    policy: Verifier  # glancing.trust.policy.TrustPolicy, or UnsafeNoVerify for --no-signature
    marketplace_url: Optional[str] = None
    image_list: Optional[str] = None  # -c LIST: SOURCE is then an image identifier in it
    allow_expired: bool = False
    allow_deprecated: bool = False
    http: HttpSettings = field(default_factory=HttpSettings)
    now: Callable[[], _dt.datetime] = _utcnow
    clock_skew: _dt.timedelta = CLOCK_SKEW  # how far in the future an endorsement may be dated


def resolve(text: str, settings: SourceSettings) -> ImageSpec:
    """The ImageSpec for SOURCE. Raises SourceError, RecordError (and its SignatureError etc.)."""
    if settings.image_list:
        return list_entry_spec(settings.image_list, text, settings)
    if plain.is_url(text):
        return plain.spec_for(text, {})
    path = plain.path_of(text)
    if path is not None and os.path.exists(path):
        if detect_file(path).kind.is_document:
            return record_file_spec(path, settings)
        return plain.spec_for(path, {})
    if marketplace.is_identifier(text):
        return marketplace_spec(text, settings)
    raise SourceError(f"{text}: no such file, and not a URL or a marketplace identifier")


def _read_head(path: str, size: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None


def detect_file(path: str) -> Detected:
    """What the file at ``path`` is, by content (glancing.formats.detect). Raises SourceError."""
    return detect(_read_head(path, HEAD_BYTES), lambda: _read_head(path, MAX_SCALAR_BYTES + 1))


def _read(location: str, settings: SourceSettings) -> bytes:
    """A record or list, whole (a path or URL the user named: local files allowed)."""
    session = new_session(settings.http)
    try:
        return read_small(location, session, settings.http, MAX_DOCUMENT_BYTES, allow_local=True)
    finally:
        session.close()


# -- StratusLab records --------------------------------------------------------------------------

def marketplace_spec(identifier: str, settings: SourceSettings) -> ImageSpec:
    """The newest acceptable, verified record of ``identifier`` on the marketplace."""
    base = marketplace.marketplace_base(settings.marketplace_url)
    data, url = marketplace.fetch_listing(identifier, base, settings.http)
    return check_listing(identifier, data, url, settings).spec


@dataclass(frozen=True)
class CheckedListing:
    """A marketplace listing verified: the spec of the selected record, every record that passed
    verification (for the dates that change the selection), and the selected record's signer."""

    spec: ImageSpec
    records: Tuple[StratusLabRecord, ...]
    signer: Any = None  # glancing.trust.policy.Signer, or None when the record was not verified


def check_listing(identifier: str, data: bytes, url: str, settings: SourceSettings) -> CheckedListing:
    """Verify the listing ``data`` fetched from ``url`` and select the record to import.
    Raises RecordError (and its SignatureError etc.)."""
    from glancing.sources import stratuslab

    if detect(data, lambda: data).kind is not Kind.XML:
        # Parsed only to say what it is: a DataTables search listing, an HTML page or a
        # malformed answer raise their own message; an RDF/JSON record carries no signature.
        stratuslab.parse_records(data, url)
        raise RecordError(f"{url}: the marketplace answered an RDF/JSON record, which carries no "
                          "signature; glancing needs the signed RDF/XML listing")
    verdicts = _verified_records(data, url, settings, allow_unsigned=False)
    record = stratuslab.select_record([r for r, _, _ in verdicts], settings.now(), identifier=identifier,
                                      allow_expired=settings.allow_expired,
                                      allow_deprecated=settings.allow_deprecated, skew=settings.clock_skew)
    spec = stratuslab.record_to_spec(record, Origin.REMOTE, url, marketplace_url=url)
    signer = next(s for r, _, s in verdicts if r is record)
    return CheckedListing(with_signature_property(spec, _summary_of(record, verdicts)),
                          tuple(r for r, _, _ in verdicts), signer)


def record_file_spec(path: str, settings: SourceSettings) -> ImageSpec:
    """A StratusLab record given as a local file (RDF/XML, verified when signed, or RDF/JSON)."""
    from glancing.formats import jsonsafe
    from glancing.formats.stratuslab.read import record_from_document
    from glancing.sources import stratuslab

    data = _read(path, settings)
    found = detect(data, lambda: data)
    refuse_non_object(found, path)
    if found.kind is Kind.MIME:
        raise RecordError(f"{path} is a HEPiX image list: name the image with -c {path} IMAGE-ID")
    if found.kind is Kind.JSON:
        document = jsonsafe.load_object(data, path, "record or image list")
        if "hv:imagelist" in document:
            raise RecordError(f"{path} is a HEPiX image list: name the image with -c {path} IMAGE-ID")
        log.info("%s: RDF/JSON records carry no signature; read as given by the local user", path)
        verdicts = [(record_from_document(document, path), "unsigned", None)]
    else:
        verdicts = _verified_records(data, path, settings, allow_unsigned=True)
    record = stratuslab.select_record([r for r, _, _ in verdicts], settings.now(),
                                      allow_expired=settings.allow_expired,
                                      allow_deprecated=settings.allow_deprecated, skew=settings.clock_skew)
    spec = stratuslab.record_to_spec(record, Origin.LOCAL_RECORD, path)
    return with_signature_property(spec, _summary_of(record, verdicts))


Verdict = Tuple["StratusLabRecord", str, Any]  # a record, its verdict's summary, its signer (or None)


def _summary_of(record: StratusLabRecord, verdicts: List[Verdict]) -> str:
    return next(summary for r, summary, _ in verdicts if r is record)


def _verified_records(data: bytes, what: str, settings: SourceSettings,
                      allow_unsigned: bool) -> List[Verdict]:
    """Each record of a (possibly <metadata>-wrapped) document that passes verification, with
    the verdict's summary.

    The document is parsed once; trust verifies each record's tree and cleans it in place, and
    the reader builds the record from that same tree. A listing holds one record per endorser:
    those that fail verification are set aside (and logged); when none passes, the first
    refusal is raised.
    """
    from glancing.formats.stratuslab.read import record_from_tree
    from glancing.trust.xmldsig import record_roots

    roots = record_roots(data, what)
    records: List[Verdict] = []
    refusals: List[GlancingError] = []
    for n, root in enumerate(roots, 1):
        label = what if len(roots) == 1 else f"{what} (record {n} of {len(roots)})"
        try:
            verified = settings.policy.verify_stratuslab(root, label, allow_unsigned=allow_unsigned)
            record = record_from_tree(verified.tree, label, signed=verified.signed)
        except (SignatureError, RecordError) as e:
            if len(roots) > 1:
                log.warning("set aside: %s", e)
            refusals.append(e)
            continue
        if verified.verified:
            log.info("%s: %s", label, verified.summary)
        records.append((record, verified.summary, verified.signer))
    if not records:
        raise refusals[0]
    return records


# -- HEPiX image lists --------------------------------------------------------------------------

def list_entry_spec(list_location: str, identifier: str, settings: SourceSettings,
                    seen_version: Optional[str] = None) -> ImageSpec:
    """The entry ``identifier`` of the HEPiX list at ``list_location`` (a path or URL)."""
    from glancing.sources import hepix
    remote = plain.is_url(list_location)
    location = list_location if remote else (plain.path_of(list_location) or list_location)
    if not remote and not os.path.exists(location):
        raise SourceError(f"image list {location}: no such file")
    data = _read(location, settings)
    verified = settings.policy.verify_image_list(data, location, seen_version, allow_unsigned=not remote)
    if verified.verified:
        log.info("%s: %s", location, verified.summary)
    lst = hepix.read_image_list(verified.document, location)  # the JSON trust parsed and checked
    image = hepix.find_image(lst, identifier)
    spec = hepix.image_to_spec(image, lst, Origin.REMOTE if remote else Origin.LOCAL_RECORD, location)
    _refuse_expired_entry(spec, identifier, settings)
    return with_signature_property(spec, verified.summary)


def _refuse_expired_entry(spec: ImageSpec, identifier: str, settings: SourceSettings) -> None:
    from glancing.formats.dates import format_date

    if spec.expires is not None and spec.expires <= settings.now() and not settings.allow_expired:
        raise RecordExpired(f"image {identifier} expired on {format_date(spec.expires)}; "
                            "--allow-expired imports it anyway")


def with_signature_property(spec: ImageSpec, summary: str) -> ImageSpec:
    """Record how the description was verified, for auditors reading the image's properties."""
    return replace(spec, properties={**spec.properties, "glancing_signature": summary})


__all__: Tuple[str, ...] = ("SourceSettings", "resolve", "detect_file", "marketplace_spec",
                            "record_file_spec", "list_entry_spec", "with_signature_property", "check_listing",
                            "CheckedListing")
