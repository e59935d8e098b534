# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A throw-away CA and a server certificate for 127.0.0.1: HTTPS mirrors with a private CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEM = serialization.Encoding.PEM


@dataclass
class MirrorPki:
    ca_file: Path  # the CA certificate, what a client is told to trust
    server_context: ssl.SSLContext  # serves a certificate for 127.0.0.1 signed by that CA


def _cert(subject: str, issuer: str, key, signer, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def make_mirror_pki(tmp: Path) -> MirrorPki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _cert("glancing test mirror CA", "glancing test mirror CA", ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("127.0.0.1", "glancing test mirror CA", key, ca_key, ca=False)
    ca_file, cert_file, key_file = tmp / "mirror-ca.pem", tmp / "mirror.pem", tmp / "mirror.key"
    ca_file.write_bytes(ca_cert.public_bytes(PEM))
    cert_file.write_bytes(cert.public_bytes(PEM))
    key_file.write_bytes(key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return MirrorPki(ca_file, context)
