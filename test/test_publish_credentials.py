# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Signing credentials: PEM cert + key or PKCS#12, passwords from a file or a prompt, and the
certificates a signer must refuse (expired, no digitalSignature, a key that is not the cert's)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import List

import pytest
from cryptography.hazmat.primitives import serialization

from glancing import errors
from glancing.trust.credentials import CredentialError, load_signer
from trustkit import Pki, pki, write_p12  # noqa: F401


def _encrypted_key(pki: Pki, path: Path, password: bytes) -> Path:
    path.write_bytes(pki.signer.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password)))
    return path


def test_pem_pair_gives_both_dn_forms_and_the_email(pki: Pki) -> None:
    creds = load_signer(pki.signer.cert_path, pki.signer.key_path)
    assert creds.subject == "CN=Signing Endorser,OU=Endorsers,DC=example,DC=org"
    assert creds.issuer == "CN=Glancing Test CA,DC=example,DC=org"
    assert creds.subject_openssl == pki.signer.subject_openssl
    assert creds.issuer_openssl == pki.signer.issuer_openssl
    assert creds.email == "signer@example.org"
    assert creds.chain == ()
    assert creds.certificate == pki.signer.cert


def test_certificate_file_holding_key_and_chain(pki: Pki, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.signer.cert_path.read_bytes() + pki.ca.cert_path.read_bytes()
                       + pki.signer.key_path.read_bytes())
    creds = load_signer(bundle)
    assert creds.chain == (pki.ca.cert,)
    assert creds.email == "signer@example.org"


def test_encrypted_key_opens_with_password_file_or_prompt(pki: Pki, tmp_path: Path) -> None:
    key = _encrypted_key(pki, tmp_path / "enc.key", b"s3cret")
    (tmp_path / "pw").write_bytes(b"s3cret\n")
    assert load_signer(pki.signer.cert_path, key, password_file=tmp_path / "pw").email == "signer@example.org"
    asked: List[str] = []
    creds = load_signer(pki.signer.cert_path, key, prompt=lambda q: asked.append(q) or "s3cret")
    assert creds.subject.startswith("CN=Signing Endorser")
    assert len(asked) == 1 and "enc.key" in asked[0]


def test_encrypted_key_without_password_source_or_wrong_password(pki: Pki, tmp_path: Path) -> None:
    key = _encrypted_key(pki, tmp_path / "enc.key", b"s3cret")
    with pytest.raises(CredentialError, match="password-file"):
        load_signer(pki.signer.cert_path, key)
    (tmp_path / "pw").write_bytes(b"wrong\n")
    with pytest.raises(CredentialError, match="wrong password") as info:
        load_signer(pki.signer.cert_path, key, password_file=tmp_path / "pw")
    assert errors.exit_code(info.value) == errors.USAGE


def test_unencrypted_key_is_not_asked_for_a_password(pki: Pki) -> None:
    def refuse(question: str) -> str:
        raise AssertionError("asked for a password of a plain key")
    assert load_signer(pki.signer.cert_path, pki.signer.key_path, prompt=refuse).email


def test_p12_with_and_without_password_and_chain(pki: Pki, tmp_path: Path) -> None:
    plain = write_p12(pki.signer, tmp_path / "plain.p12", None)
    assert load_signer(p12=plain).subject_openssl == pki.signer.subject_openssl
    locked = write_p12(pki.signer, tmp_path / "locked.p12", b"pw", chain=[pki.ca.cert])
    (tmp_path / "pw").write_text("pw\n")
    creds = load_signer(p12=locked, password_file=tmp_path / "pw")
    assert creds.chain == (pki.ca.cert,)
    assert load_signer(p12=locked, prompt=lambda q: "pw").email == "signer@example.org"
    with pytest.raises(CredentialError, match="wrong password"):
        load_signer(p12=locked, prompt=lambda q: "nope")


def test_refuses_certificate_without_digital_signature(pki: Pki) -> None:
    with pytest.raises(CredentialError, match="digitalSignature"):
        load_signer(pki.nosign.cert_path, pki.nosign.key_path)


def test_refuses_expired_and_not_yet_valid_certificates(pki: Pki) -> None:
    with pytest.raises(CredentialError, match="expired on"):
        load_signer(pki.expired.cert_path, pki.expired.key_path)
    early = pki.signer.cert.not_valid_before_utc - dt.timedelta(days=1)
    with pytest.raises(CredentialError, match="not valid before"):
        load_signer(pki.signer.cert_path, pki.signer.key_path, now=early)


def test_refuses_a_key_that_is_not_the_certificates(pki: Pki) -> None:
    with pytest.raises(CredentialError, match="not the key of certificate"):
        load_signer(pki.signer.cert_path, pki.good.key_path)


def test_usage_and_unreadable_files(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError, match="either --cert"):
        load_signer()
    with pytest.raises(errors.UsageError, match="either --cert"):
        load_signer(pki.signer.cert_path, p12=tmp_path / "x.p12")
    with pytest.raises(errors.SourceError, match="cannot read certificate"):
        load_signer(tmp_path / "missing.pem", pki.signer.key_path)
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(CredentialError, match="not a certificate"):
        load_signer(tmp_path / "junk.pem", pki.signer.key_path)
