# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""StratusLab XML-DSig: what verifies, what is refused, and what is read afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlsec
from lxml import etree

from glancing.errors import RecordError
from glancing.trust import xmldsig
from glancing.trust.failures import BadSignature, Unsigned
from trustkit import record, sign_record  # noqa: F401  (pki is a fixture)

FIX = Path(__file__).parent / "fixtures" / "stratuslab"
BUTTON = FIX / "LHfKVPoHcv4oMirHU0KuOQc-TvI.button.xml"
DCTERMS = "{http://purl.org/dc/terms/}"


def _verify(data: bytes) -> xmldsig.SignedXml:
    (doc,) = xmldsig.split_records(data, "rec")
    return xmldsig.verify_enveloped(doc, "rec")


def test_real_record_verifies_and_is_read_without_signature() -> None:
    signed = _verify(BUTTON.read_bytes())
    assert signed.tree.findtext(f".//{DCTERMS}identifier") == "LHfKVPoHcv4oMirHU0KuOQc-TvI"
    assert b"Signature" not in signed.data
    assert signed.algorithms[1].endswith("#rsa-sha1")


def test_metadata_wrapper_is_unwrapped_before_verifying() -> None:
    wrapped = (FIX / "LHfKVPoHcv4oMirHU0KuOQc-TvI.wget.xml").read_bytes()
    assert _verify(wrapped).certificate == _verify(BUTTON.read_bytes()).certificate


def test_fixtures_signed_under_test_cas_verify() -> None:
    for name in ("metadata/valid-ca-signed.xml", "marketplace/valid-indate-signature.xml"):
        assert _verify((FIX / name).read_bytes()).certificate is not None


def test_cirros_is_refused_as_changed() -> None:
    with pytest.raises(BadSignature, match="content digest mismatch"):
        _verify((FIX / "cirros.xml").read_bytes())


def test_several_signatures_are_refused() -> None:
    with pytest.raises(BadSignature, match="4 signatures"):
        _verify((FIX / "metadata/partial-multiple-signatures.xml").read_bytes())


def test_empty_signature_element_is_refused() -> None:
    with pytest.raises(BadSignature, match="SignedInfo"):
        _verify((FIX / "metadata/valid-minimal-signature.xml").read_bytes())


def test_unsigned_record_is_reported_as_unsigned(pki) -> None:
    with pytest.raises(Unsigned):
        _verify(record(pki.good))


def test_tampered_content_is_refused() -> None:
    data = BUTTON.read_bytes().replace(b"259523072", b"259523073")
    with pytest.raises(BadSignature, match="content digest mismatch"):
        _verify(data)


def test_tampered_signature_value_is_refused() -> None:
    data = BUTTON.read_bytes().replace(b"<SignatureValue>q0YH", b"<SignatureValue>q1YH")
    with pytest.raises(BadSignature, match="signature value does not verify"):
        _verify(data)


def test_comment_inside_a_signed_value_does_not_change_what_is_read() -> None:
    data = BUTTON.read_bytes().replace(b"<dcterms:identifier>LHfK", b"<dcterms:identifier>LHfK<!--x-->")
    # Comments are outside the signature (URI="" drops them), so this still verifies...
    signed = _verify(data)
    # ...and the value read is the whole signed one, not the part before the comment.
    assert signed.tree.findtext(f".//{DCTERMS}identifier") == "LHfKVPoHcv4oMirHU0KuOQc-TvI"
    assert b"<!--" not in signed.data
    assert etree.fromstring(data).findtext(f".//{DCTERMS}identifier") == "LHfK"  # the trap


def test_text_injected_into_a_value_is_refused() -> None:
    # The signxml recipe accepts this (libraries.md A.1); xmlsec must not.
    data = BUTTON.read_bytes().replace(b"<dcterms:publisher>StratusLab",
                                       b'<dcterms:publisher> xmlns=""StratusLab')
    with pytest.raises(BadSignature):
        _verify(data)


def test_own_signatures_verify_with_stronger_algorithms(pki) -> None:
    data = sign_record(record(pki.good), pki.good, method=xmlsec.constants.TransformRsaSha256,
                       digest=xmlsec.constants.TransformSha256)
    assert _verify(data).certificate == pki.good.cert


def test_weaker_algorithm_is_refused(pki) -> None:
    data = sign_record(record(pki.good), pki.good)
    data = data.replace(b"xmldsig#rsa-sha1", b"xmldsig-more#rsa-md5")
    with pytest.raises(BadSignature, match="signature algorithm .*rsa-md5 is not allowed"):
        _verify(data)


def test_reference_to_part_of_the_document_is_refused(pki) -> None:
    data = sign_record(record(pki.good), pki.good).replace(b'URI=""', b'URI="#x"')
    with pytest.raises(BadSignature, match="not the whole document"):
        _verify(data)


def test_signature_outside_rdf_root_is_refused(pki) -> None:
    root = etree.fromstring(sign_record(record(pki.good), pki.good))
    sig = root[-1]
    root[0].append(sig)  # move it into rdf:Description
    with pytest.raises(BadSignature, match="not a child of rdf:RDF"):
        _verify(etree.tostring(root))


def test_other_root_elements_are_refused() -> None:
    with pytest.raises(RecordError, match="neither rdf:RDF nor <metadata>"):
        xmldsig.split_records(b"<html/>", "page")


def test_wrapper_with_two_records_yields_both(pki) -> None:
    one = sign_record(record(pki.good), pki.good).split(b"?>", 1)[1]
    two = sign_record(record(pki.mail), pki.mail).split(b"?>", 1)[1]
    docs = xmldsig.split_records(b"<metadata>" + one + two + b"</metadata>", "list")
    assert [xmldsig.verify_enveloped(d, "r").certificate for d in docs] == [pki.good.cert, pki.mail.cert]
