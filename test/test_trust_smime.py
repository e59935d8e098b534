# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""S/MIME by hand, checked against ``openssl smime -verify`` as the independent verdict."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest

from glancing.trust import smime
from glancing.trust.failures import BadSignature, Unsigned
from trustkit import image_list, pki, sign_list  # noqa: F401

FIX = Path(__file__).parent / "fixtures" / "hepix"


def _openssl_noverify(data: bytes, tmp: Path) -> int:
    src = tmp / "in.signed"
    src.write_bytes(data)
    return subprocess.run(["openssl", "smime", "-verify", "-noverify", "-in", str(src), "-out",
                           str(tmp / "out")], capture_output=True).returncode


@pytest.mark.parametrize("name,plain", [("hepix_signed_image_list.originale", "hepix_signed_image_list"),
                                        ("image.list.originale", "image.list"),
                                        ("cloudkeeper/imagelist01.signed", "cloudkeeper/imagelist01.unsigned")])
def test_real_lists_verify_and_yield_their_payload(name: str, plain: str, tmp_path: Path) -> None:
    data = (FIX / name).read_bytes()
    message = smime.verify_smime(data, name)
    assert message.content.replace(b"\r\n", b"\n") == (FIX / plain).read_bytes().replace(b"\r\n", b"\n")
    assert _openssl_noverify(data, tmp_path) == 0


def test_sha1_and_sha256_lists_report_their_digest() -> None:
    assert smime.verify_smime((FIX / "image.list.originale").read_bytes(), "l").digest_algorithm == "sha1"
    assert smime.verify_smime((FIX / "cloudkeeper/imagelist02.signed").read_bytes(), "l").digest_algorithm == "sha256"


def test_invalid_fixture_is_refused_like_openssl(tmp_path: Path) -> None:
    data = (FIX / "cloudkeeper/imagelist_invalid.signed").read_bytes()
    with pytest.raises(BadSignature, match="content digest mismatch"):
        smime.verify_smime(data, "l")
    assert _openssl_noverify(data, tmp_path) != 0


def test_tampered_content_is_refused_like_openssl(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good), pki.good, tmp_path)
    bad = data.replace(b"Glancing test list", b"Glancing test lisT")
    with pytest.raises(BadSignature, match="content digest mismatch"):
        smime.verify_smime(bad, "l")
    assert _openssl_noverify(bad, tmp_path) != 0
    assert _openssl_noverify(data, tmp_path) == 0


def _flip_signature_byte(data: bytes) -> bytes:
    head, sig_part = data.rsplit(b"smime.p7s", 1)
    body, tail = re.match(rb"(?s)(.*?\r?\n\r?\n)(.*)", sig_part).groups()
    b64, rest = tail.split(b"\n\n------", 1) if b"\n\n------" in tail else (tail, b"")
    der = bytearray(base64.b64decode(b"".join(b64.split()).rstrip(b"-")))
    der[-1] ^= 0x01  # the last byte belongs to the signature value
    return head + b"smime.p7s" + body + base64.encodebytes(bytes(der)) + (b"\n\n------" + rest if rest else b"")


def test_tampered_signature_is_refused_like_openssl(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good), pki.good, tmp_path)
    bad = _flip_signature_byte(data)
    with pytest.raises(BadSignature, match="does not verify"):
        smime.verify_smime(bad, "l")
    assert _openssl_noverify(bad, tmp_path) != 0


def test_opaque_form_verifies(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good), pki.good, tmp_path, opaque=True)
    assert b"pkcs7-mime" in data
    message = smime.verify_smime(data, "l")
    assert message.content.startswith(b"{") and message.certificate == pki.good.cert


def test_two_signers_are_refused(pki, tmp_path: Path) -> None:
    src = tmp_path / "list.json"
    src.write_bytes(image_list(pki.good))
    out = tmp_path / "two.signed"
    subprocess.run(["openssl", "cms", "-sign", "-in", str(src), "-out", str(out), "-signer",
                    str(pki.good.cert_path), "-inkey", str(pki.good.key_path), "-signer",
                    str(pki.mail.cert_path), "-inkey", str(pki.mail.key_path)], check=True)
    assert _openssl_noverify(out.read_bytes(), tmp_path) == 0  # valid CMS, but two signers
    with pytest.raises(BadSignature, match="2 signers"):
        smime.verify_smime(out.read_bytes(), "l")


def test_bare_json_is_unsigned(pki) -> None:
    with pytest.raises(Unsigned):
        smime.verify_smime(image_list(pki.good), "l")
    assert not smime.looks_signed(image_list(pki.good))


def test_garbage_is_refused() -> None:
    with pytest.raises(BadSignature):
        smime.verify_smime(b"Content-Type: text/html\r\n\r\n<p>hi</p>", "l")


def test_unverified_content_reads_both_forms(pki, tmp_path: Path) -> None:
    plain = image_list(pki.good)
    for opaque in (False, True):
        got = smime.unverified_content(sign_list(plain, pki.good, tmp_path, opaque=opaque), "l")
        assert got.replace(b"\r\n", b"\n") == plain
