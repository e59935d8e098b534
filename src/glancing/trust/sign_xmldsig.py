# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Sign a StratusLab record: the endorsement filled from the certificate, one enveloped XML-DSig.

The signature is the one StratusLab's own signer made and every consumer expects (formats.md
1.4): a default-namespace ``Signature`` as the last child of rdf:RDF, inclusive C14N 1.0 with
comments, one ``Reference URI=""`` with the enveloped transform, the signer certificate alone in
``KeyInfo/X509Data``. python-xmlsec does the cryptography, as for verification (libraries.md
A.2: signxml needs three workarounds on these records and then accepts modified documents).

RSA-SHA1 with a SHA-1 digest is the default because the marketplace's Java validator accepts
nothing else (an rsa-sha256 record fails there with "cannot find validation key");
``sha256=True`` signs RSA-SHA256/SHA-256 for consumers that accept it, this project's among them.

Before signing, comments and any old signature are removed (what is signed is then exactly what
a reader reads), the endorsement is rebuilt, and the document is laid out once; after signing,
the result is verified with the project's own verifier and its endorser binding checked, so a
record that would not verify is never written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional, Tuple

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from glancing.errors import RecordError, UsageError
from glancing.formats.dates import format_date
from glancing.formats.vocab import DCTERMS_NS, RDF_NS, SLREQ_NS
from glancing.trust import xmldsig
from glancing.trust.claims import check_record_binding, record_claims
from glancing.trust.credentials import SigningCredentials, SigningKey

__all__ = ["Endorsement", "endorsement_for", "sign_record"]

_T = xmlsec.constants
PEM = serialization.Encoding.PEM
# (key type, sha256) -> (signature method, digest method) as xmlsec transforms.
ALGORITHMS = {("rsa", False): (_T.TransformRsaSha1, _T.TransformSha1),
              ("rsa", True): (_T.TransformRsaSha256, _T.TransformSha256),
              ("ec", True): (_T.TransformEcdsaSha256, _T.TransformSha256)}


@dataclass(frozen=True)
class Endorsement:
    """What slreq:endorsement will say: who vouches for the record (RFC 2253 DNs), and when."""

    email: str
    subject: str
    issuer: str
    created: dt.datetime


def endorsement_for(signer: SigningCredentials, email: str, now: dt.datetime) -> Endorsement:
    """The endorsement ``signer`` makes at ``now`` (whole seconds: records carry no fractions)."""
    return Endorsement(email=email, subject=signer.subject, issuer=signer.issuer,
                       created=now.replace(microsecond=0))


def _description(root: etree._Element, what: str) -> etree._Element:
    found = root.findall(f"{{{RDF_NS}}}Description")
    if len(found) != 1:
        raise RecordError(f"{what}: a record holds exactly one rdf:Description, found {len(found)}")
    return found[0]


def _element(parent: etree._Element, ns: str, local: str, text: Optional[str] = None,
             resource: bool = False) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{local}")
    if resource:
        el.set(f"{{{RDF_NS}}}parseType", "Resource")
    el.text = text
    return el


def fill_endorsement(root: etree._Element, endorsement: Endorsement, what: str) -> None:
    """Replace the record's endorsement (empty, partial or someone else's) with ``endorsement``."""
    desc = _description(root, what)
    found = desc.findall(f"{{{SLREQ_NS}}}endorsement")
    if len(found) > 1:
        raise RecordError(f"{what}: {len(found)} slreq:endorsement elements; a record has one")
    if found:
        node = found[0]
        node.clear()  # children, text and attributes (a foreign parseType among them)
    else:  # the XSD order: after the last checksum
        checksums = desc.findall(f"{{{SLREQ_NS}}}checksum")
        if not checksums:
            raise RecordError(f"{what}: no slreq:checksum: is this a StratusLab record?")
        node = etree.Element(f"{{{SLREQ_NS}}}endorsement")
        checksums[-1].addnext(node)
    node.set(f"{{{RDF_NS}}}parseType", "Resource")
    _element(node, DCTERMS_NS, "created", format_date(endorsement.created))
    endorser = _element(node, SLREQ_NS, "endorser", resource=True)
    _element(endorser, SLREQ_NS, "email", endorsement.email)
    _element(endorser, SLREQ_NS, "subject", endorsement.subject)
    _element(endorser, SLREQ_NS, "issuer", endorsement.issuer)


def _algorithms(key: SigningKey, sha256: bool) -> Tuple[object, object]:
    kind = "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"
    if (kind, sha256) not in ALGORITHMS:
        raise UsageError("an EC key can only sign with --sha256 (ecdsa-sha256, which the marketplace's "
                         "validator does not accept: StratusLab endorsers sign with RSA keys)")
    return ALGORITHMS[(kind, sha256)]


def _xmlsec_key(key: SigningKey, cert: x509.Certificate) -> xmlsec.Key:
    # Only in memory, never on disk: xmlsec reads the key from a PEM buffer.
    pem = key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    loaded = xmlsec.Key.from_memory(pem, _T.KeyDataFormatPem)
    loaded.load_cert_from_memory(cert.public_bytes(PEM), _T.KeyDataFormatPem)
    return loaded


def _sign_tree(root: etree._Element, key: SigningKey, cert: x509.Certificate, sha256: bool) -> None:
    method, digest = _algorithms(key, sha256)
    sig = xmlsec.template.create(root, _T.TransformInclC14NWithComments, method)
    root.append(sig)
    ref = xmlsec.template.add_reference(sig, digest, uri="")
    xmlsec.template.add_transform(ref, _T.TransformEnveloped)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
    # Laid out before signing: every byte outside the Signature is signed from here on.
    etree.indent(root, space="  ")
    ctx = xmlsec.SignatureContext()
    ctx.key = _xmlsec_key(key, cert)
    ctx.sign(sig)


def sign_record(data: bytes, signer: SigningCredentials, endorsement: Endorsement, what: str,
                sha256: bool = False) -> bytes:
    """The record in ``data`` endorsed and signed by ``signer`` (checked credentials), as bytes.

    ``data`` is one rdf:RDF record (signed or not) or a marketplace listing holding exactly one.
    Raises RecordError for anything else, UsageError for a key that cannot sign this way.
    """
    _algorithms(signer.key, sha256)
    roots = xmldsig.record_roots(data, what)
    if len(roots) != 1:
        raise RecordError(f"{what}: {len(roots)} records in one file; sign them one at a time")
    _, root = xmldsig.strip(roots[0], what)
    fill_endorsement(root, endorsement, what)
    try:
        _sign_tree(root, signer.key, signer.certificate, sha256)
    except xmlsec.Error as exc:
        raise UsageError(f"cannot sign with this key and certificate: {exc}") from None
    signed = etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True) + b"\n"
    _self_check(signed, what)
    return signed


def _self_check(signed: bytes, what: str) -> None:
    """Verify what was just signed, as a consumer will, before anyone else sees it."""
    verified = xmldsig.verify_enveloped(signed, what)
    check_record_binding(record_claims(verified.tree, what), verified.certificate, what)
