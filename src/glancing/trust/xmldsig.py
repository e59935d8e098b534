# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""XML-DSig of StratusLab records: one enveloped signature over the stand-alone rdf:RDF.

python-xmlsec does the cryptography (libraries.md A.2); this module decides what may be
verified (exactly one Signature, a child of rdf:RDF, one Reference to the whole document, a
short algorithm whitelist) and hands back only the verified document, re-read without comments
so that a comment inside a signed value cannot change what is read (libraries.md A.3).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from dataclasses import dataclass
from typing import List, Tuple, Union

import xmlsec
from cryptography import x509
from lxml import etree

from glancing.errors import RecordError
from glancing.formats.xmlsafe import parse_xml
from glancing.trust.failures import BadSignature, Unsigned

from glancing.formats.vocab import DS_NS as DS
from glancing.formats.vocab import RDF_NS as RDF

Document = Union[bytes, etree._Element]  # a record as bytes, or already parsed (with comments)
_T = xmlsec.constants

# URI -> xmlsec transform. The real records use C14N-with-comments, rsa-sha1, sha1 and the
# enveloped transform; SHA-1 is the floor, nothing weaker (md5, hmac, dsa) is accepted.
C14N = {
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": _T.TransformInclC14N,
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": _T.TransformInclC14NWithComments,
    "http://www.w3.org/2001/10/xml-exc-c14n#": _T.TransformExclC14N,
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": _T.TransformExclC14NWithComments,
}
SIGNATURE = {
    DS + "rsa-sha1": _T.TransformRsaSha1,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": _T.TransformRsaSha256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": _T.TransformRsaSha384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": _T.TransformRsaSha512,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": _T.TransformEcdsaSha256,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": _T.TransformEcdsaSha384,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": _T.TransformEcdsaSha512,
}
DIGEST = {
    DS + "sha1": (_T.TransformSha1, "sha1"),
    "http://www.w3.org/2001/04/xmlenc#sha256": (_T.TransformSha256, "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#sha384": (_T.TransformSha384, "sha384"),
    "http://www.w3.org/2001/04/xmlenc#sha512": (_T.TransformSha512, "sha512"),
}
ENVELOPED = DS + "enveloped-signature"


@dataclass(frozen=True)
class SignedXml:
    """A verified record: the bytes and tree to read from, and who signed them."""

    data: bytes  # the stand-alone rdf:RDF, comments and the Signature removed
    tree: etree._Element  # parsed from ``data``
    certificate: x509.Certificate
    algorithms: Tuple[str, str, str]  # canonicalization, signature and digest method URIs


def _root(data: bytes, what: str, remove_comments: bool = False) -> etree._Element:
    parsed = parse_xml(data, what, remove_comments=remove_comments)
    return parsed.getroot() if hasattr(parsed, "getroot") else parsed


def record_roots(xml_bytes: bytes, what: str) -> List[etree._Element]:
    """Parse once and return each rdf:RDF as the root of its own document (comments kept).

    The enveloped signature covers the stand-alone rdf:RDF, so a record served inside the
    marketplace's <metadata> wrapper must be cut out before it can verify (formats.md 1.4):
    a deep copy is a new document with the in-scope namespace declarations on its root, made
    without serialising and parsing again. Raises RecordError for any other root element or
    an empty wrapper.
    """
    root = _root(xml_bytes, what)
    if root.tag == f"{{{RDF}}}RDF":
        return [root]
    if root.tag != "metadata":
        raise RecordError(f"{what}: root element {root.tag} is neither rdf:RDF nor <metadata>")
    records = [copy.deepcopy(el) for el in root if el.tag == f"{{{RDF}}}RDF"]
    if not records:
        raise RecordError(f"{what}: <metadata> wrapper holds no rdf:RDF record")
    for el in records:
        el.tail = None  # the wrapper's whitespace is no part of the record
    return records


def split_records(xml_bytes: bytes, what: str) -> List[bytes]:
    """Each rdf:RDF of a record or <metadata> wrapper as its own document's bytes."""
    return [etree.tostring(el, encoding="UTF-8") for el in record_roots(xml_bytes, what)]


def _one(parent: etree._Element, path: str, what: str, label: str) -> etree._Element:
    found = parent.findall(path)
    if len(found) != 1:
        raise BadSignature(f"{what}: malformed signature: {len(found)} {label} (exactly one expected)")
    return found[0]


def _algorithm(el: etree._Element, table: dict, what: str, label: str) -> str:
    uri = el.get("Algorithm", "")
    if uri not in table:
        raise BadSignature(f"{what}: {label} {uri or '(none)'} is not allowed")
    return uri


def _check_signed_info(sig: etree._Element, what: str) -> Tuple[Tuple[str, str, str], List[str]]:
    """Check the structure and algorithms; return (c14n, signature, digest) and the transforms."""
    info = _one(sig, f"{{{DS}}}SignedInfo", what, "SignedInfo")
    c14n = _algorithm(_one(info, f"{{{DS}}}CanonicalizationMethod", what, "CanonicalizationMethod"),
                      C14N, what, "canonicalization")
    method = _algorithm(_one(info, f"{{{DS}}}SignatureMethod", what, "SignatureMethod"),
                        SIGNATURE, what, "signature algorithm")
    ref = _one(info, f"{{{DS}}}Reference", what, "Reference")
    if ref.get("URI") != "":
        # Anything but the whole document leaves unsigned parts a reader could be fooled by.
        raise BadSignature(f"{what}: signature reference URI {ref.get('URI')!r} is not the whole document")
    transforms = [t.get("Algorithm", "") for t in ref.findall(f"{{{DS}}}Transforms/{{{DS}}}Transform")]
    if ENVELOPED not in transforms or any(t != ENVELOPED and t not in C14N for t in transforms):
        raise BadSignature(f"{what}: reference transforms {transforms} are not allowed")
    digest = _algorithm(_one(ref, f"{{{DS}}}DigestMethod", what, "DigestMethod"), DIGEST, what,
                        "digest algorithm")
    return (c14n, method, digest), transforms


def _certificate(sig: etree._Element, what: str) -> Tuple[x509.Certificate, bytes]:
    path = f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
    el = _one(sig, path, what, "X509Certificate in KeyInfo")
    try:
        der = base64.b64decode("".join((el.text or "").split()), validate=True)
        return x509.load_der_x509_certificate(der), der
    except (binascii.Error, ValueError) as exc:
        raise BadSignature(f"{what}: unreadable signer certificate in KeyInfo ({exc})") from None


def _content_digest_matches(root: etree._Element, sig: etree._Element, digest_uri: str) -> bool:
    """Recompute the Reference digest to tell a changed record from a bad SignatureValue."""
    doc = _root(etree.tostring(root.getroottree()), "record copy")
    for inner in list(doc.iter(f"{{{DS}}}Signature")):
        _drop(inner)
    # URI="" selects the document without comments; the enveloped transform drops the Signature.
    c14n = etree.tostring(doc.getroottree(), method="c14n", exclusive=False, with_comments=False)
    value = sig.findtext(f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestValue") or ""
    expected = "".join(value.split())
    got = base64.b64encode(hashlib.new(DIGEST[digest_uri][1], c14n).digest()).decode()
    return got == expected


def _drop(el: etree._Element) -> None:
    """Remove an element but keep its tail text, as the enveloped transform does."""
    parent = el.getparent()
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _signature(root: etree._Element, what: str) -> etree._Element:
    sigs = list(root.iter(f"{{{DS}}}Signature"))
    if not sigs:
        raise Unsigned(f"{what}: record is not signed")
    if len(sigs) > 1:
        raise BadSignature(f"{what}: {len(sigs)} signatures in the record (exactly one allowed)")
    if sigs[0].getparent() is not root:
        raise BadSignature(f"{what}: the Signature is not a child of rdf:RDF")
    return sigs[0]


def _xmlsec_verify(sig: etree._Element, der: bytes, c14n: str, method: str, digest: str,
                   transforms: List[str]) -> None:
    """Raise xmlsec.Error unless the signature verifies with only the listed algorithms."""
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(der, xmlsec.constants.KeyDataFormatCertDer)
    ctx.enable_signature_transform(C14N[c14n])
    ctx.enable_signature_transform(SIGNATURE[method])
    ctx.enable_reference_transform(DIGEST[digest][0])
    for uri in transforms:
        ctx.enable_reference_transform(_T.TransformEnveloped if uri == ENVELOPED else C14N[uri])
    ctx.verify(sig)


def _as_root(doc: Document, what: str) -> etree._Element:
    return doc if isinstance(doc, etree._Element) else _root(doc, what)


def verify_enveloped(doc: Document, what: str) -> SignedXml:
    """Verify a stand-alone rdf:RDF record and return its verified, comment-free content.

    ``doc`` is the record's bytes or its parsed root (from record_roots), which is then
    verified and cleaned in place: no second parse. Raises Unsigned (no Signature),
    BadSignature (several signatures, a refused algorithm, a changed record, a bad signature
    value) or RecordError (not XML).
    """
    root = _as_root(doc, what)
    if root.tag != f"{{{RDF}}}RDF":
        raise RecordError(f"{what}: root element {root.tag} is not rdf:RDF")
    sig = _signature(root, what)
    algorithms, transforms = _check_signed_info(sig, what)
    cert, der = _certificate(sig, what)
    try:
        _xmlsec_verify(sig, der, *algorithms, transforms)
    except (xmlsec.Error, ValueError) as exc:
        if transforms == [ENVELOPED] and not _content_digest_matches(root, sig, algorithms[2]):
            raise BadSignature(f"{what}: content digest mismatch: the record was changed after "
                               "signing") from None
        raise BadSignature(f"{what}: signature value does not verify with the signer "
                           f"certificate ({exc})") from None
    data, tree = strip(root, what)
    return SignedXml(data=data, tree=tree, certificate=cert, algorithms=algorithms)


def strip(doc: Document, what: str) -> Tuple[bytes, etree._Element]:
    """Remove comments and the Signature from a record, in place: what is left is what is read.

    A comment splits a text node in two and lxml's ``.text`` stops at the comment, so reading
    the tree with its comments could see a different value than the one that was signed.
    Dropping a comment joins its tail to the text before it, as a comment-free parse would.
    """
    root = _as_root(doc, what)
    for node in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        _drop(node)
    for sig in list(root.iter(f"{{{DS}}}Signature")):
        _drop(sig)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True), root
