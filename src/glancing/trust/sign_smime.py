# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""S/MIME signing of HEPiX image lists: detached multipart/signed, SHA-256, as vmcaster made them.

cryptography's PKCS7SignatureBuilder writes what ``openssl smime -sign`` writes: the payload as
canonical text (CRLF line breaks, which is what the signature covers, formats.md 2.4) with no
part headers, then ``smime.p7s``. The signer's chain certificates travel in the SignedData so a
subscriber can build the path to its CA directory. Verification is glancing.trust.smime's.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from glancing.trust.credentials import SigningCredentials


def sign_detached(payload: bytes, credentials: SigningCredentials) -> bytes:
    """The S/MIME multipart/signed message of ``payload`` (micalg sha-256).

    The credentials were checked when loaded (glancing.trust.credentials.load_signer).
    """
    builder = pkcs7.PKCS7SignatureBuilder().set_data(payload).add_signer(
        credentials.certificate, credentials.key, hashes.SHA256())
    for extra in credentials.chain:
        builder = builder.add_certificate(extra)
    return builder.sign(Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
