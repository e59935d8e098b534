# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""An endorser's signing credentials: a certificate and its private key, checked before use.

Both publishing tools (``glancing-publish`` for HEPiX lists, ``glancing-metadata`` for
StratusLab records) sign with the endorser's grid certificate, given either as a PEM
certificate and key (``--cert``/``--key``, the ``~/.globus`` layout) or as one PKCS#12 file
(``--p12``). A password is read from a file or asked by a prompt the CLI injects, never taken
from the command line (it would show in ``ps`` and the shell history, as StratusLab's signer's
did). A certificate that could not make a valid signature is refused here, before anything is
signed: expired or not yet valid, without the digitalSignature key usage, or whose key is not
the certificate's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from glancing.errors import SourceError, UsageError
from glancing.trust.claims import cert_email
from glancing.trust.dn import DN, from_name

SigningKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]
Prompt = Callable[[str], str]  # shows a question, returns the typed password
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
_PEM_KEY = re.compile(rb"-----BEGIN (?:[A-Z]+ )?(?:ENCRYPTED )?PRIVATE KEY-----.*?"
                      rb"-----END (?:[A-Z]+ )?(?:ENCRYPTED )?PRIVATE KEY-----", re.S)


class CredentialError(UsageError):
    """The signing certificate or key is unusable: wrong password, mismatch, expired, no
    digitalSignature usage (exit 2: the user named the wrong credentials)."""


@dataclass(frozen=True)
class SigningCredentials:
    """What a signer needs: the key, its certificate, the chain to send along, and the names
    the published document states (RFC 2253 for StratusLab, OpenSSL one-line for HEPiX)."""

    key: SigningKey
    certificate: x509.Certificate
    chain: Tuple[x509.Certificate, ...]  # further certificates (intermediate CAs), may be empty
    subject: str  # RFC 2253, most specific RDN first
    issuer: str
    email: Optional[str]  # the first rfc822Name of subjectAltName
    subject_dn: DN
    issuer_dn: DN

    @property
    def subject_openssl(self) -> str:
        """The subject as HEPiX lists write ``hv:dn`` (``/DC=org/.../CN=name``)."""
        return self.subject_dn.openssl()

    @property
    def issuer_openssl(self) -> str:
        """The issuer as HEPiX lists write ``hv:ca``."""
        return self.issuer_dn.openssl()


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {what} {path}: {e.strerror or e}") from None


def read_password_file(path: Path) -> bytes:
    """The password in ``path``: its first line, without the line break."""
    lines = _read(path, "password file").splitlines()
    return lines[0] if lines else b""


class _Password:
    """The password, asked for at most once and only when a file turns out to be encrypted."""

    def __init__(self, password_file: Optional[Path], prompt: Optional[Prompt], label: str) -> None:
        self._file, self._prompt, self._label = password_file, prompt, label
        self._value: Optional[bytes] = None

    def get(self) -> bytes:
        if self._value is None:
            if self._file is not None:
                self._value = read_password_file(self._file)
            elif self._prompt is not None:
                self._value = self._prompt(f"password for {self._label}: ").encode()
            else:
                raise CredentialError(f"{self._label} is encrypted: give --password-file FILE "
                                      "(or run on a terminal to be asked)")
        return self._value

    @property
    def given(self) -> bool:
        return self._file is not None


def _load_key(data: bytes, password: _Password, label: str) -> SigningKey:
    found = _PEM_KEY.search(data)
    block = found.group(0) if found else data
    loader = serialization.load_pem_private_key if found else serialization.load_der_private_key
    try:
        try:
            key = loader(block, password=None)
        except TypeError:  # encrypted: only now is a password needed
            key = loader(block, password=password.get())
    except ValueError as e:
        raise CredentialError(f"cannot load the private key {label}: wrong password or not a key "
                              f"({str(e).splitlines()[0] if str(e) else 'unreadable'})") from None
    return _signing_key(key, label)


def _signing_key(key: object, label: str) -> SigningKey:
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CredentialError(f"{label}: a {type(key).__name__} key cannot sign S/MIME or XML-DSig "
                              "here (RSA or EC only)")
    return key


def _load_certs(data: bytes, label: str) -> List[x509.Certificate]:
    blocks = _PEM_CERT.findall(data)
    try:
        if blocks:
            return [x509.load_pem_x509_certificate(b) for b in blocks]
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CredentialError(f"{label} is not a certificate (PEM or DER)") from None


def _load_p12(path: Path, password: _Password) -> Tuple[SigningKey, x509.Certificate, List[x509.Certificate]]:
    data = _read(path, "PKCS#12 file")
    label = str(path)
    try:
        try:
            loaded = pkcs12.load_pkcs12(data, password.get() if password.given else None)
        except ValueError:
            if password.given:
                raise
            loaded = pkcs12.load_pkcs12(data, password.get())
    except ValueError:
        raise CredentialError(f"cannot open the PKCS#12 file {label}: wrong password or not PKCS#12") from None
    if loaded.key is None or loaded.cert is None:
        raise CredentialError(f"{label} must hold both a private key and its certificate")
    chain = [c.certificate for c in loaded.additional_certs]
    return _signing_key(loaded.key, label), loaded.cert.certificate, chain


def _public_der(public: object) -> bytes:
    return public.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def check_signing_certificate(cert: x509.Certificate, now: dt.datetime, label: str) -> None:
    """Refuse a certificate that cannot make a signature others accept.

    No KeyUsage extension means any usage (RFC 5280 4.2.1.3). Raises CredentialError.
    """
    if now < cert.not_valid_before_utc:
        raise CredentialError(f"{label}: certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}")
    if now > cert.not_valid_after_utc:
        raise CredentialError(f"{label}: certificate expired on {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.digital_signature:
        raise CredentialError(f"{label}: certificate key usage lacks digitalSignature: it cannot sign")


def load_signer(cert: Optional[Path] = None, key: Optional[Path] = None, *, p12: Optional[Path] = None,
                password_file: Optional[Path] = None, prompt: Optional[Prompt] = None,
                now: Optional[dt.datetime] = None) -> SigningCredentials:
    """Load and check the signing credentials: ``cert`` + ``key`` (PEM or DER; ``key`` may be
    omitted when ``cert`` holds the key too, further certificates in ``cert`` are the chain),
    or ``p12``. ``password_file`` (first line) opens an encrypted key or PKCS#12 file; without
    it, ``prompt`` is asked when one is needed.

    Raises UsageError for a wrong combination, SourceError for an unreadable file, and
    CredentialError for a wrong password, a key that is not the certificate's, or a
    certificate that is expired, not yet valid or lacks digitalSignature.
    """
    if (p12 is None) == (cert is None):
        raise UsageError("give either --cert (with --key) or --p12")
    if p12 is not None and key is not None:
        raise UsageError("--key goes with --cert, not with --p12")
    if p12 is not None:
        password = _Password(password_file, prompt, f"PKCS#12 file {p12}")
        private, certificate, chain = _load_p12(p12, password)
        label = str(p12)
    else:
        assert cert is not None
        certs = _load_certs(_read(cert, "certificate"), str(cert))
        key_path = key or cert
        password = _Password(password_file, prompt, f"private key {key_path}")
        private = _load_key(_read(key_path, "private key"), password, str(key_path))
        certificate, chain, label = certs[0], certs[1:], str(cert)
    if _public_der(private.public_key()) != _public_der(certificate.public_key()):
        raise CredentialError(f"the private key is not the key of certificate {label}")
    check_signing_certificate(certificate, now or dt.datetime.now(dt.timezone.utc), label)
    return SigningCredentials(
        key=private, certificate=certificate, chain=tuple(chain),
        subject=from_name(certificate.subject).rfc2253(), issuer=from_name(certificate.issuer).rfc2253(),
        email=cert_email(certificate), subject_dn=from_name(certificate.subject),
        issuer_dn=from_name(certificate.issuer))
