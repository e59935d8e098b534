# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""S/MIME signatures of HEPiX image lists, checked by hand with asn1crypto + cryptography.

cryptography has no PKCS#7 verify API (libraries.md B.2), so this module splits the MIME
message, then checks the CMS SignedData itself: exactly one signer, its certificate embedded,
content type and message digest attributes, and the signature over the signed attributes.
Both the detached (multipart/signed) and the opaque (application/pkcs7-mime) forms are read.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import List, Optional, Tuple

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from glancing.formats.detect import HEAD_BYTES, Kind, detect
from glancing.trust.failures import BadSignature, Unsigned

# SHA-1 is what the 2013-2015 lists use; nothing weaker is accepted.
_DIGESTS = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
            "sha384": hashes.SHA384, "sha512": hashes.SHA512}
_BARE_LF = re.compile(rb"(?<!\r)\n")


@dataclass(frozen=True)
class SignedMessage:
    """What a valid S/MIME signature vouches for, and by whom."""

    content: bytes  # the signed payload (the JSON list), CRLF line endings as signed
    certificate: x509.Certificate  # the signer's
    certificates: Tuple[x509.Certificate, ...]  # every certificate the message carries
    digest_algorithm: str
    signing_time: Optional[dt.datetime]  # the signed signingTime attribute, when present


def _split_head(data: bytes) -> Tuple[bytes, bytes]:
    """Split a MIME entity at its first empty line into (header block, body)."""
    match = re.search(rb"\r?\n\r?\n", data)
    if match is None:
        return data, b""
    return data[: match.start()], data[match.end():]


def _headers(head: bytes):
    return BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")


def looks_signed(data: bytes) -> bool:
    """Whether the bytes start like an S/MIME message rather than a bare JSON list."""
    content_type = (_headers(_split_head(data)[0]).get_content_type() or "").lower()
    return content_type in ("multipart/signed", "application/pkcs7-mime",
                            "application/x-pkcs7-mime")


def _parts(body: bytes, boundary: bytes, what: str) -> Tuple[bytes, bytes]:
    """Return (signed entity, signature entity) of a multipart/signed body."""
    delim = re.compile(rb"(?:\A|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    marks = list(delim.finditer(body))
    if len(marks) < 3 or marks[1].group(1) or not marks[2].group(1) or marks[0].group(1):
        raise BadSignature(f"{what}: multipart/signed message does not have exactly two parts")
    # The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
    return body[marks[0].end(): marks[1].start()], body[marks[1].end(): marks[2].start()]


def _p7_from_entity(entity: bytes, what: str) -> bytes:
    head, body = _split_head(entity)
    encoding = (_headers(head).get("Content-Transfer-Encoding") or "base64").strip().lower()
    if encoding != "base64":
        raise BadSignature(f"{what}: signature part has transfer encoding {encoding}, not base64")
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except binascii.Error as exc:
        raise BadSignature(f"{what}: signature part is not valid base64 ({exc})") from None


def _payload(entity: bytes, what: str) -> bytes:
    """The list inside the signed MIME entity: the entity itself unless it has part headers."""
    first = entity.lstrip()[:1]
    if first in (b"{", b"["):
        return entity
    head, body = _split_head(entity)
    encoding = (_headers(head).get("Content-Transfer-Encoding") or "7bit").strip().lower()
    if encoding not in ("7bit", "8bit", "binary"):
        raise BadSignature(f"{what}: signed part has unsupported transfer encoding {encoding}")
    return body


def split_message(data: bytes, what: str) -> Tuple[bytes, Optional[bytes]]:
    """Return (p7 DER, detached signed bytes or None for the opaque form).

    Raises Unsigned for a bare list and BadSignature for a malformed S/MIME message.
    """
    head, body = _split_head(data)
    headers = _headers(head)
    ctype = headers.get_content_type().lower()
    if ctype == "multipart/signed":
        boundary = headers.get_param("boundary")
        protocol = str(headers.get_param("protocol") or "").lower()
        if not boundary or protocol not in ("application/pkcs7-signature",
                                            "application/x-pkcs7-signature"):
            raise BadSignature(f"{what}: multipart/signed without a PKCS#7 protocol and boundary")
        signed, sig_entity = _parts(body, str(boundary).encode("latin-1"), what)
        # OpenSSL signs the entity as canonical text: every line break is CRLF (formats.md 2.4).
        return _p7_from_entity(sig_entity, what), _BARE_LF.sub(b"\r\n", signed)
    if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return _p7_from_entity(data, what), None
    if detect(data[:HEAD_BYTES]).kind in (Kind.JSON, Kind.JSON_NOT_OBJECT, Kind.XML):
        raise Unsigned(f"{what}: image list is not signed")
    raise BadSignature(f"{what}: not an S/MIME message (Content-Type {ctype})")


def _signer_cert(signed_data: cms.SignedData, sid: cms.SignerIdentifier, what: str):
    """Find the signer's certificate among the embedded ones, by issuer+serial or by SKI."""
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            ref = sid.chosen
            if cert.issuer == ref["issuer"] and cert.serial_number == ref["serial_number"].native:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise BadSignature(f"{what}: the signer certificate is not included in the message")


def _attribute(signed_attrs: cms.CMSAttributes, name: str, what: str):
    values = [a["values"] for a in signed_attrs if a["type"].native == name]
    if len(values) > 1 or (values and len(values[0]) != 1):
        raise BadSignature(f"{what}: signed attribute {name} appears more than once")
    return values[0][0].native if values else None


def _check_signature(cert: x509.Certificate, algo: str, digest: str, sig: bytes, data: bytes,
                     what: str) -> None:
    key = cert.public_key()
    try:
        if algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), _DIGESTS[digest]())
        elif algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, data, ec.ECDSA(_DIGESTS[digest]()))
        else:
            raise BadSignature(f"{what}: signature algorithm {algo} is not supported")
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        raise BadSignature(f"{what}: signature does not verify with the signer certificate") from None


def _signer_info(signed_data: cms.SignedData, what: str) -> cms.SignerInfo:
    infos = signed_data["signer_infos"]
    if len(infos) != 1:
        raise BadSignature(f"{what}: {len(infos)} signers (exactly one allowed)")
    return infos[0]


def _content(signed_data: cms.SignedData, detached: Optional[bytes], what: str) -> bytes:
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "data":
        raise BadSignature(f"{what}: signed content type is {encap['content_type'].native}, not data")
    inner = encap["content"].native if encap["content"] else None
    if detached is not None and inner is not None:
        raise BadSignature(f"{what}: message carries both detached and embedded content")
    content = detached if detached is not None else inner
    if content is None:
        raise BadSignature(f"{what}: the signed content is missing")
    return content


def _signed_bytes(info: cms.SignerInfo, content: bytes, digest: str, what: str):
    """Return (bytes the signature covers, signingTime) after checking the signed attributes."""
    attrs = info["signed_attrs"]
    if not attrs:
        return content, None
    if _attribute(attrs, "content_type", what) != "data":
        raise BadSignature(f"{what}: signed contentType attribute is not data")
    if _attribute(attrs, "message_digest", what) != hashlib.new(digest, content).digest():
        raise BadSignature(f"{what}: content digest mismatch: the list was changed after signing")
    # The signature covers the DER SET OF, not the [0]-tagged form stored in the SignerInfo.
    return attrs.untag().dump(force=True), _attribute(attrs, "signing_time", what)


def verify_smime(data: bytes, what: str) -> SignedMessage:
    """Verify an S/MIME signed list and return its content and signer.

    Checks the signature only; the chain, the endorser and the list's dates are the caller's.
    Raises Unsigned for a bare list, BadSignature for anything malformed or not verifying.
    """
    p7, detached = split_message(data, what)
    try:
        info_ = cms.ContentInfo.load(p7)
        if info_["content_type"].native != "signed_data":
            raise BadSignature(f"{what}: PKCS#7 content is {info_['content_type'].native}, not signed data")
        signed_data = info_["content"]
        info = _signer_info(signed_data, what)
        content = _content(signed_data, detached, what)
        digest = info["digest_algorithm"]["algorithm"].native
        if digest not in _DIGESTS:
            raise BadSignature(f"{what}: digest algorithm {digest} is not allowed")
        covered, signing_time = _signed_bytes(info, content, digest, what)
        cert = x509.load_der_x509_certificate(_signer_cert(signed_data, info["sid"], what).dump())
        algo = info["signature_algorithm"].signature_algo
        _check_signature(cert, algo, digest, info["signature"].native, covered, what)
        extra = _certificates(signed_data)
    except (ValueError, TypeError, KeyError) as exc:
        raise BadSignature(f"{what}: unreadable PKCS#7 signature ({exc})") from None
    return SignedMessage(content=_payload(content, what), certificate=cert, certificates=extra,
                         digest_algorithm=digest, signing_time=signing_time)


def _certificates(signed_data: cms.SignedData) -> Tuple[x509.Certificate, ...]:
    found: List[x509.Certificate] = []
    for choice in signed_data["certificates"] or []:
        if choice.name == "certificate":
            found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    return tuple(found)


def unverified_content(data: bytes, what: str) -> bytes:
    """The payload of an S/MIME message WITHOUT checking its signature (--no-signature only).

    Raises BadSignature when the message cannot be taken apart.
    """
    p7, detached = split_message(data, what)
    if detached is not None:
        return _payload(detached, what)
    try:
        signed_data = cms.ContentInfo.load(p7)["content"]
        return _payload(_content(signed_data, None, what), what)
    except (ValueError, TypeError, KeyError) as exc:
        raise BadSignature(f"{what}: unreadable PKCS#7 message ({exc})") from None
