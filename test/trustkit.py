# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A throw-away PKI for the trust tests: a CA, endorsers, CRLs, signed records and lists.

Everything is made in a tmp directory: a test CA (SHA-256), endorsers "good" (no SAN),
"mail" (e-mail SAN), "revoked" (on the CRL) and "expired", a "stranger" under a CA that is not
in the CA directory, and CA directories laid out as fetch-crl leaves them (``<hash>.0`` and
``<hash>.r0``): with a valid CRL, an expired CRL, or none. Records are signed with
python-xmlsec, lists with ``openssl smime -sign`` (also the independent verifier).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree

# KeyUsage(digital_signature, content_commitment, key_encipherment, data_encipherment,
#          key_agreement, key_cert_sign, crl_sign, encipher_only, decipher_only)
KEY_ENCIPHERMENT = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
DIGITAL_SIGNATURE = x509.KeyUsage(True, False, True, False, False, False, False, False, False)
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAY = dt.timedelta(days=1)
PEM = serialization.Encoding.PEM


def _name(*pairs) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Identity:
    """A key, its certificate and both as PEM files."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    cert_path: Path
    key_path: Path

    @property
    def subject_openssl(self) -> str:
        return "".join(f"/{a.rfc4514_attribute_name}={a.value}" for a in self.cert.subject)

    @property
    def issuer_openssl(self) -> str:
        return "".join(f"/{a.rfc4514_attribute_name}={a.value}" for a in self.cert.issuer)


def _save(tmp: Path, label: str, key, cert) -> Identity:
    cert_path, key_path = tmp / f"{label}.pem", tmp / f"{label}.key"
    cert_path.write_bytes(cert.public_bytes(PEM))
    key_path.write_bytes(key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return Identity(key, cert, cert_path, key_path)


def _ca(tmp: Path, label: str, cn: str) -> Identity:
    key = _key()
    name = _name((NameOID.DOMAIN_COMPONENT, "org"), (NameOID.DOMAIN_COMPONENT, "example"),
                 (NameOID.COMMON_NAME, cn))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - 3650 * DAY).not_valid_after(NOW + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return _save(tmp, label, key, cert)


def _endorser(tmp: Path, label: str, ca: Identity, cn: str, *, email: Optional[str] = None,
              expired: bool = False, crl_dp: bool = False,
              usage: Optional[x509.KeyUsage] = None) -> Identity:
    key = _key()
    name = _name((NameOID.DOMAIN_COMPONENT, "org"), (NameOID.DOMAIN_COMPONENT, "example"),
                 (NameOID.ORGANIZATIONAL_UNIT_NAME, "Endorsers"), (NameOID.COMMON_NAME, cn))
    start, end = (NOW - 400 * DAY, NOW - 30 * DAY) if expired else (NOW - 30 * DAY, NOW + 365 * DAY)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(ca.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                              critical=False))
    if crl_dp:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier("http://127.0.0.1:9/ca.crl")],
                                       None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if email:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]),
                                        critical=False)
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return _save(tmp, label, key, builder.sign(ca.key, hashes.SHA256()))


def _crl(ca: Identity, revoked, *, expired: bool) -> bytes:
    last, nxt = (NOW - 60 * DAY, NOW - 30 * DAY) if expired else (NOW - DAY, NOW + 30 * DAY)
    builder = x509.CertificateRevocationListBuilder()
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(NOW - 10 * DAY).build())
    crl = (builder.issuer_name(ca.cert.subject).last_update(last).next_update(nxt)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                          critical=False)
           .add_extension(x509.CRLNumber(1), critical=False)
           .sign(ca.key, hashes.SHA256()))
    return crl.public_bytes(PEM)


def write_p12(identity: Identity, path: Path, password: Optional[bytes],
              chain: Sequence[x509.Certificate] = ()) -> Path:
    """Bundle ``identity`` (and ``chain``) into a PKCS#12 file, encrypted when ``password``."""
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"endorser", identity.key, identity.cert, list(chain) or None, encryption))
    return path


def subject_hash(cert_path: Path) -> str:
    """OpenSSL's subject hash, the name fetch-crl and the IGTF bundle use."""
    out = subprocess.run(["openssl", "x509", "-noout", "-subject_hash", "-in", str(cert_path)],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


@dataclass
class Pki:
    """Every identity and CA directory the tests use."""

    root: Path
    ca: Identity
    other_ca: Identity
    good: Identity
    mail: Identity
    revoked: Identity
    expired: Identity
    stranger: Identity
    good_dp: Identity  # with a CRL distribution point (libraries.md B.3 distinguishes them)
    revoked_dp: Identity
    ca_dirs: Dict[str, Path]  # "valid", "expired-crl", "no-crl"
    # keyUsage keyEncipherment only: a signer must refuse it (publishing tests)
    nosign: Optional[Identity] = None
    # keyUsage digitalSignature, e-mail SAN: what a grid endorser certificate carries
    signer: Optional[Identity] = None


def make_pki(tmp: Path) -> Pki:
    """Build the CA, the endorsers and three fetch-crl style CA directories under ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    ca = _ca(tmp, "ca", "Glancing Test CA")
    other = _ca(tmp, "other-ca", "Unlisted Test CA")
    revoked = _endorser(tmp, "revoked", ca, "Revoked Endorser")
    revoked_dp = _endorser(tmp, "revoked-dp", ca, "Revoked DP Endorser", crl_dp=True)
    pki = Pki(root=tmp, ca=ca, other_ca=other,
              good=_endorser(tmp, "good", ca, "Good Endorser"),
              mail=_endorser(tmp, "mail", ca, "Mail Endorser", email="mail.endorser@example.org"),
              revoked=revoked, expired=_endorser(tmp, "expired", ca, "Expired Endorser", expired=True),
              stranger=_endorser(tmp, "stranger", other, "Stranger"),
              good_dp=_endorser(tmp, "good-dp", ca, "Good DP Endorser", crl_dp=True),
              revoked_dp=revoked_dp, ca_dirs={},
              nosign=_endorser(tmp, "nosign", ca, "No Signing Endorser", usage=KEY_ENCIPHERMENT),
              signer=_endorser(tmp, "signer", ca, "Signing Endorser", email="signer@example.org",
                               usage=DIGITAL_SIGNATURE))
    digest = subject_hash(ca.cert_path)
    gone = (revoked.cert, revoked_dp.cert)
    for label, crl in (("valid", _crl(ca, gone, expired=False)),
                       ("expired-crl", _crl(ca, gone, expired=True)), ("no-crl", None)):
        directory = tmp / f"certificates-{label}"
        directory.mkdir()
        shutil.copy(ca.cert_path, directory / f"{digest}.0")
        (directory / f"{digest}.signing_policy").write_text("# not read by glancing\n")
        if crl is not None:
            (directory / f"{digest}.r0").write_bytes(crl)
        pki.ca_dirs[label] = directory
    return pki


RECORD = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:dcterms="http://purl.org/dc/terms/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:slreq="http://mp.stratuslab.eu/slreq#" xmlns:slterms="http://mp.stratuslab.eu/slterms#" xml:base="http://mp.stratuslab.eu/">
  <rdf:Description rdf:about="#{identifier}">
    <dcterms:identifier>{identifier}</dcterms:identifier>
    <slreq:bytes>{size}</slreq:bytes>
    <slreq:checksum rdf:parseType="Resource">
      <slreq:algorithm>SHA-1</slreq:algorithm>
      <slreq:value>6bbd4a5df6a3e1b2d7d29fef2c7b8e8bc2cd7a38</slreq:value>
    </slreq:checksum>
    <slreq:endorsement rdf:parseType="Resource"><dcterms:created>{created}</dcterms:created><slreq:endorser rdf:parseType="Resource"><slreq:email>{email}</slreq:email><slreq:subject>{subject}</slreq:subject><slreq:issuer>{issuer}</slreq:issuer></slreq:endorser></slreq:endorsement>
    <slterms:location>http://images.example.org/test.img</slterms:location>
    <dcterms:title>Glancing test image</dcterms:title>
  </rdf:Description>
</rdf:RDF>
"""


def record(signer: Identity, *, email: str = "endorser@example.org", subject: Optional[str] = None,
           issuer: Optional[str] = None, created: Optional[dt.datetime] = None,
           identifier: str = "a0qEnpS5l-cw4cNwTLj4i0Tn2sM", size: int = 12506112) -> bytes:
    """An unsigned record whose endorsement names ``signer`` unless told otherwise."""
    text = RECORD.format(
        identifier=identifier, size=size, email=email,
        subject=subject or signer.cert.subject.rfc4514_string(),
        issuer=issuer or signer.cert.issuer.rfc4514_string(),
        created=(created or NOW - DAY).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return text.encode()


def sign_record(data: bytes, signer: Identity, *, method=xmlsec.constants.TransformRsaSha1,
                digest=xmlsec.constants.TransformSha1,
                c14n=xmlsec.constants.TransformInclC14NWithComments) -> bytes:
    """Add an enveloped signature as the StratusLab signer does (last child of rdf:RDF)."""
    root = etree.fromstring(data)
    sig = xmlsec.template.create(root, c14n, method)
    root.append(sig)
    ref = xmlsec.template.add_reference(sig, digest, uri="")
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
    ctx = xmlsec.SignatureContext()
    key = xmlsec.Key.from_memory(signer.key_path.read_bytes(), xmlsec.constants.KeyDataFormatPem)
    key.load_cert_from_memory(signer.cert_path.read_bytes(), xmlsec.constants.KeyDataFormatPem)
    ctx.key = key
    ctx.sign(sig)
    return etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)


def image_list(signer: Optional[Identity] = None, *, dn: Optional[str] = None, ca: Optional[str] = None,
               created: Optional[dt.datetime] = None, expires: Optional[dt.datetime] = None,
               version: str = "20240101000000",
               identifier: str = "6b1e5f0e-2c1a-5d8e-9f00-0123456789ab") -> bytes:
    """A HEPiX list naming ``signer`` as endorser unless ``dn``/``ca`` say otherwise."""
    document = {"hv:imagelist": {
        "dc:date:created": (created or NOW - DAY).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dc:date:expires": (expires or NOW + 30 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dc:identifier": identifier, "dc:title": "Glancing test list",
        "dc:description": "test", "dc:source": "example.org",
        "hv:uri": "https://lists.example.org/image.list", "hv:version": version,
        "hv:endorser": {"hv:x509": {
            "dc:creator": "Test", "hv:email": "endorser@example.org",
            "hv:dn": dn or (signer.subject_openssl if signer else "/CN=nobody"),
            "hv:ca": ca or (signer.issuer_openssl if signer else "/CN=nobody")}},
        "hv:images": [{"hv:image": {
            "dc:identifier": "488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d", "dc:title": "test image",
            "hv:uri": "https://images.example.org/test.img", "hv:size": 12506112,
            "sl:checksum:sha512": "0" * 128, "hv:version": "1"}}]}}
    return json.dumps(document, indent=2).encode() + b"\n"


def sign_list(data: bytes, signer: Identity, tmp: Path, *, md: str = "sha256",
              opaque: bool = False) -> bytes:
    """Sign with ``openssl smime -sign`` (detached multipart/signed unless ``opaque``)."""
    src, out = tmp / "list.json", tmp / "list.signed"
    src.write_bytes(data)
    cmd = ["openssl", "smime", "-sign", "-in", str(src), "-out", str(out), "-signer",
           str(signer.cert_path), "-inkey", str(signer.key_path), "-md", md]
    if opaque:
        cmd.append("-nodetach")
    subprocess.run(cmd, check=True, capture_output=True)
    return out.read_bytes()


def openssl_verify(signed: bytes, ca_dir: Path, tmp: Path, *, crl_check: bool = True,
                   attime: Optional[dt.datetime] = None) -> subprocess.CompletedProcess:
    """The independent verdict: ``openssl smime -verify -CApath DIR [-crl_check_all]``."""
    src = tmp / "to-verify.signed"
    src.write_bytes(signed)
    cmd = ["openssl", "smime", "-verify", "-in", str(src), "-CApath", str(ca_dir),
           "-purpose", "any", "-out", str(tmp / "verified.out")]
    if crl_check:
        cmd.append("-crl_check_all")
    if attime is not None:
        cmd += ["-attime", str(int(attime.timestamp()))]
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The throw-away PKI, built once per session (import this fixture into a test module)."""
    return make_pki(tmp_path_factory.mktemp("pki"))
