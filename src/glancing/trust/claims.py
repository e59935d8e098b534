# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What a signed record or list says about its endorser and dates, and the checks on it.

Read only from verified content. StratusLab binds the signer through ``slreq:endorser``
(e-mail, RFC 2253 subject and issuer); HEPiX through ``hv:endorser/hv:x509`` (OpenSSL one-line
``hv:dn`` and ``hv:ca``). Either way the DNs are compared as names (glancing.trust.dn).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from lxml import etree

from glancing.errors import RecordError, RecordExpired
from glancing.formats import jsonsafe
from glancing.formats.dates import format_date, is_future, require_date
from glancing.formats.hepix.read import list_body
from glancing.formats.text import clean
from glancing.formats.vocab import DCTERMS_NS as DCTERMS
from glancing.formats.vocab import SLREQ_NS as SLREQ
from glancing.formats.versions import VersionInfo, is_downgrade
from glancing.trust.dn import DN, from_name, parse_dn
from glancing.trust.failures import BindingMismatch, StaleList


def cert_email(cert: x509.Certificate) -> Optional[str]:
    """The first rfc822Name of subjectAltName, as the marketplace reads it (formats.md 1.4)."""
    try:
        with warnings.catch_warnings():
            # Old grid certificates (the EGI AppDB signer's) carry a negative serial number;
            # cryptography warns about it on every read, which only clutters a verdict.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    emails = san.get_values_for_type(x509.RFC822Name)
    return emails[0] if emails else None


@dataclass(frozen=True)
class RecordClaims:
    """The endorsement of a StratusLab record."""

    email: str
    subject: str
    issuer: str
    created: Optional[dt.datetime]


def _only_text(parent: etree._Element, tag: str, what: str) -> str:
    found = parent.findall(tag)
    if len(found) != 1:
        name = tag.rsplit("}", 1)[-1]
        raise RecordError(f"{what}: endorsement needs exactly one {name}, found {len(found)}")
    return clean("".join(found[0].itertext())).strip()


def record_claims(tree: etree._Element, what: str) -> RecordClaims:
    """Read the single slreq:endorsement/slreq:endorser of a verified record.

    Exactly one of each is required so that no other reader of the record can find a second
    endorser this check did not look at. Raises RecordError.
    """
    endorsements = list(tree.iter(f"{{{SLREQ}}}endorsement"))
    if len(endorsements) != 1:
        raise RecordError(f"{what}: record needs exactly one slreq:endorsement, found {len(endorsements)}")
    endorsers = endorsements[0].findall(f"{{{SLREQ}}}endorser")
    if len(endorsers) != 1 or len(list(tree.iter(f"{{{SLREQ}}}endorser"))) != 1:
        raise RecordError(f"{what}: record needs exactly one slreq:endorser")
    endorser = endorsers[0]
    if any(k.startswith(f"{{{SLREQ}}}") for k in endorser.attrib):
        raise RecordError(f"{what}: slreq:endorser properties must be elements, not attributes")
    created = endorsements[0].findall(f"{{{DCTERMS}}}created")
    return RecordClaims(
        email=_only_text(endorser, f"{{{SLREQ}}}email", what),
        subject=_only_text(endorser, f"{{{SLREQ}}}subject", what),
        issuer=_only_text(endorser, f"{{{SLREQ}}}issuer", what),
        created=require_date(created[0].text, f"{what}: dcterms:created") if len(created) == 1 else None)


def check_record_binding(claims: RecordClaims, cert: x509.Certificate, what: str) -> None:
    """The signer must be the endorser the record names. Raises BindingMismatch."""
    subject, issuer = from_name(cert.subject), from_name(cert.issuer)
    if subject != _dn(claims.subject, what, "slreq:subject"):
        raise BindingMismatch(f"{what}: signer {subject.rfc2253()} is not slreq:subject {claims.subject}")
    if issuer != _dn(claims.issuer, what, "slreq:issuer"):
        raise BindingMismatch(f"{what}: signer issuer {issuer.rfc2253()} is not slreq:issuer {claims.issuer}")
    email = cert_email(cert)
    if email is not None and email.casefold() != claims.email.casefold():
        raise BindingMismatch(f"{what}: signer e-mail {email} is not slreq:email {claims.email}")


def _dn(text: str, what: str, key: str) -> DN:
    try:
        return parse_dn(text)
    except RecordError as exc:
        raise RecordError(f"{what}: {key}: {exc}") from None


@dataclass(frozen=True)
class ListClaims:
    """The list-level keys of a HEPiX image list that trust depends on."""

    document: Mapping[str, Any]  # the whole parsed JSON
    dn: str
    ca: str
    identifier: str
    version: str
    uri: Optional[str]
    created: dt.datetime
    expires: dt.datetime
    # Every (hv:dn, hv:ca) of an hv:endorser array (vmcaster writes one for two endorsers);
    # dn/ca above are the first. Empty: the single-object form.
    endorsers: Tuple[Tuple[str, str], ...] = ()


def _key(mapping: Any, key: str, what: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise RecordError(f"{what}: image list has no {key}")
    return mapping[key]


def _str(mapping: Any, key: str, what: str) -> str:
    return clean(str(_key(mapping, key, what)))


def list_claims(content: bytes, what: str) -> ListClaims:
    """Parse a list's JSON (the one parse) and read its endorser, identity and dates.

    Raises RecordError. ``document`` is what the reader builds the list from.
    """
    document = jsonsafe.load_object(content, what, "HEPiX image list")
    top = list_body(document, what)
    endorser = _key(top, "hv:endorser", what)
    pairs: Tuple[Tuple[str, str], ...] = ()
    if isinstance(endorser, list):
        if not endorser:
            raise RecordError(f"{what}: image list has an empty hv:endorser array")
        entries = [_key(e, "hv:x509", what) for e in endorser]
        pairs = tuple((_str(x, "hv:dn", what), _str(x, "hv:ca", what)) for x in entries)
        x509_ = entries[0]
    else:
        x509_ = _key(endorser, "hv:x509", what)
    uri = top.get("hv:uri")
    return ListClaims(
        endorsers=pairs,
        document=document, dn=_str(x509_, "hv:dn", what), ca=_str(x509_, "hv:ca", what),
        identifier=_str(top, "dc:identifier", what), version=_str(top, "hv:version", what),
        uri=clean(uri) if isinstance(uri, str) else None,
        created=require_date(str(_key(top, "dc:date:created", what)), f"{what}: dc:date:created"),
        expires=require_date(str(_key(top, "dc:date:expires", what)), f"{what}: dc:date:expires"))


def check_list_binding(claims: ListClaims, cert: x509.Certificate, what: str) -> None:
    """The signer must be the endorser the list names. Raises BindingMismatch."""
    subject, issuer = from_name(cert.subject), from_name(cert.issuer)
    if claims.endorsers:
        if any(subject == _dn(dn, what, "hv:dn") and issuer == _dn(ca, what, "hv:ca")
               for dn, ca in claims.endorsers):
            return
        raise BindingMismatch(f"{what}: signer {subject.openssl()} (CA {issuer.openssl()}) is none "
                              f"of the list's {len(claims.endorsers)} hv:endorser entries")
    if subject != _dn(claims.dn, what, "hv:dn"):
        raise BindingMismatch(f"{what}: signer {subject.openssl()} is not hv:dn {claims.dn}")
    if issuer != _dn(claims.ca, what, "hv:ca"):
        raise BindingMismatch(f"{what}: signer issuer {issuer.openssl()} is not hv:ca {claims.ca}")


def check_list_freshness(claims: ListClaims, now: dt.datetime, what: str, *,
                         seen_version: Optional[str] = None,
                         seen_identifier: Optional[str] = None) -> None:
    """Refuse a list from the future, expired, another list, or older than one seen.

    Raises StaleList, or RecordExpired for an expired list.
    """
    if is_future(claims.created, now):
        raise StaleList(f"{what}: list created in the future ({format_date(claims.created)})")
    if claims.expires <= now:
        raise RecordExpired(f"{what}: list expired on {format_date(claims.expires)}")
    if seen_identifier is not None and claims.identifier != seen_identifier:
        raise StaleList(f"{what}: list identifier {claims.identifier} is not the subscribed "
                        f"{seen_identifier}")
    # The one version order (glancing.formats.versions); the seen version's date is not kept.
    if seen_version is not None and is_downgrade(VersionInfo(claims.version, claims.created),
                                                 VersionInfo(seen_version)):
        raise StaleList(f"{what}: list version {claims.version} is lower than {seen_version}, "
                        "seen before (downgrade)")
