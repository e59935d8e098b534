# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""TrustPolicy end to end: bindings, trusted endorsers, list dates and versions, real fixtures."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from glancing.errors import RecordError, RecordExpired, SignatureError
from glancing.trust import TrustPolicy, UnsafeNoVerify
from glancing.trust.failures import (BindingMismatch, ChainError, ChainNotChecked, StaleList,
                                     Unsigned, UntrustedEndorser)
from trustkit import DAY, NOW, image_list, pki, record, sign_list, sign_record  # noqa: F401

FIX = Path(__file__).parent / "fixtures"


def policy(pki, tmp_path: Path, trust: str = "", directory: str = "valid", **options) -> TrustPolicy:
    trust_file = tmp_path / "trusted-endorsers"
    trust_file.write_text(trust)
    return TrustPolicy.from_options(ca_dir=str(pki.ca_dirs[directory]), trust_file=str(trust_file),
                                    env={}, files=[], **options)


def hepix_line(identity) -> str:
    return f'hepix dn="{identity.subject_openssl}" ca="{identity.issuer_openssl}"\n'


# --- HEPiX lists ---------------------------------------------------------------------------

def test_trusted_list_is_returned_with_its_signer(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good), pki.good, tmp_path)
    verified = policy(pki, tmp_path, hepix_line(pki.good)).verify_image_list(data, "https://x/l")
    assert verified.verified and verified.signer.subject.openssl() == pki.good.subject_openssl
    assert verified.document["hv:imagelist"]["hv:version"] == "20240101000000"
    assert "CRL checked" in verified.summary and "endorser trusted" in verified.summary


def test_wrong_endorser_binding_names_both_dns(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good, dn=pki.mail.subject_openssl), pki.good, tmp_path)
    with pytest.raises(BindingMismatch, match=f"signer {pki.good.subject_openssl} is not hv:dn "
                                              f"{pki.mail.subject_openssl}"):
        policy(pki, tmp_path, hepix_line(pki.good)).verify_image_list(data, "l")


def test_unlisted_endorser_message_names_the_line_to_add(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good), pki.good, tmp_path)
    with pytest.raises(UntrustedEndorser) as caught:
        policy(pki, tmp_path).verify_image_list(data, "l")
    line = caught.value.message.split("add this line to ", 1)[1].split(": ", 1)[1]
    assert line.startswith("hepix dn=") and "list=6b1e5f0e" in line
    assert policy(pki, tmp_path, line).verify_image_list(data, "l").verified  # the line works


def test_endorser_option_takes_either_dn_form(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good), pki.good, tmp_path)
    rfc = pki.good.cert.subject.rfc4514_string()
    assert policy(pki, tmp_path, endorsers=[rfc]).verify_image_list(data, "l").verified


def test_list_binding_restricts_which_lists(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good), pki.good, tmp_path)
    bound = hepix_line(pki.good).strip() + " list=https://lists.example.org/other.list\n"
    with pytest.raises(UntrustedEndorser, match="trusted only for lists https://lists.example.org/other.list"):
        policy(pki, tmp_path, bound).verify_image_list(data, "l")
    by_url = hepix_line(pki.good).strip() + " list=https://lists.example.org/image.list\n"
    assert policy(pki, tmp_path, by_url).verify_image_list(data, "l").verified


def test_created_in_the_future_is_refused(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good, created=NOW + 2 * DAY), pki.good, tmp_path)
    with pytest.raises(StaleList, match="created in the future"):
        policy(pki, tmp_path, hepix_line(pki.good)).verify_image_list(data, "l")


def test_expired_list_is_refused(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good, expires=NOW - DAY), pki.good, tmp_path)
    with pytest.raises(RecordExpired, match="list expired on"):
        policy(pki, tmp_path, hepix_line(pki.good)).verify_image_list(data, "l")


def test_version_downgrade_and_other_identifier_are_refused(pki, tmp_path: Path) -> None:
    data = sign_list(image_list(pki.good, version="9"), pki.good, tmp_path)
    trust = policy(pki, tmp_path, hepix_line(pki.good))
    assert trust.verify_image_list(data, "l", seen_version="9").verified  # equal is fine
    with pytest.raises(StaleList, match="version 9 is lower than 10"):
        trust.verify_image_list(data, "l", seen_version="10")
    with pytest.raises(StaleList, match="is not the subscribed"):
        trust.verify_image_list(data, "l", seen_identifier="00000000-0000-0000-0000-000000000000")


def test_revoked_and_expired_signers_are_refused(pki, tmp_path: Path) -> None:
    trust = hepix_line(pki.revoked) + hepix_line(pki.expired)
    for who, why in ((pki.revoked, "certificate revoked"), (pki.expired, "expired")):
        data = sign_list(image_list(who), who, tmp_path)
        with pytest.raises(ChainError, match=why):
            policy(pki, tmp_path, trust).verify_image_list(data, "l")


def test_at_signing_time_accepts_an_archived_list(pki, tmp_path: Path) -> None:
    # -noattr: no signingTime attribute, so dc:date:created is the signing time.
    src = image_list(pki.expired, created=NOW - 100 * DAY)
    (tmp_path / "in.json").write_bytes(src)
    subprocess.run(["openssl", "smime", "-sign", "-noattr", "-in", str(tmp_path / "in.json"), "-out",
                    str(tmp_path / "out"), "-signer", str(pki.expired.cert_path), "-inkey",
                    str(pki.expired.key_path)], check=True)
    data = (tmp_path / "out").read_bytes()
    trust = hepix_line(pki.expired)
    with pytest.raises(ChainError, match="expired"):
        policy(pki, tmp_path, trust).verify_image_list(data, "l")
    assert policy(pki, tmp_path, trust, at_signing_time=True).verify_image_list(data, "l").verified


def test_unsigned_list_is_refused_unless_allowed(pki, tmp_path: Path) -> None:
    trust = policy(pki, tmp_path)
    with pytest.raises(Unsigned):
        trust.verify_image_list(image_list(pki.good), "https://x/l")
    local = trust.verify_image_list(image_list(pki.good), "local.json", allow_unsigned=True)
    assert not local.verified and local.signer is None


def test_no_signature_policy_warns_on_every_use(pki, tmp_path: Path, caplog) -> None:
    unsafe = UnsafeNoVerify()
    bad = sign_list(image_list(pki.good), pki.good, tmp_path).replace(b"test list", b"evil list")
    with caplog.at_level(logging.WARNING):
        first = unsafe.verify_image_list(bad, "l1")
        unsafe.verify_stratuslab(record(pki.good), "r1")
    assert not first.verified and b"evil list" in first.data
    assert [r.message.count("NOT verified") for r in caplog.records] == [1, 1]
    with pytest.raises(RecordExpired):  # dates are checked all the same
        unsafe.verify_image_list(image_list(pki.good, expires=NOW - DAY), "l2")


# --- StratusLab records --------------------------------------------------------------------

def stratuslab_line(identity, email: str) -> str:
    return (f'stratuslab email={email} subject="{identity.cert.subject.rfc4514_string()}" '
            f'issuer="{identity.cert.issuer.rfc4514_string()}"\n')


def test_trusted_record_with_email_san(pki, tmp_path: Path) -> None:
    email = "mail.endorser@example.org"
    data = sign_record(record(pki.mail, email=email), pki.mail)
    verified = policy(pki, tmp_path, stratuslab_line(pki.mail, email)).verify_stratuslab(data, "r")
    assert verified.verified and verified.endorsement.email == email
    assert verified.tree.tag.endswith("RDF") and b"Signature" not in verified.data


def test_email_that_is_not_the_certificate_san_is_refused(pki, tmp_path: Path) -> None:
    data = sign_record(record(pki.mail, email="someone.else@example.org"), pki.mail)
    with pytest.raises(BindingMismatch, match="signer e-mail mail.endorser@example.org is not slreq:email"):
        policy(pki, tmp_path).verify_stratuslab(data, "r")


def test_record_subject_binding(pki, tmp_path: Path) -> None:
    data = sign_record(record(pki.good, subject=pki.mail.cert.subject.rfc4514_string()), pki.good)
    with pytest.raises(BindingMismatch, match="is not slreq:subject"):
        policy(pki, tmp_path).verify_stratuslab(data, "r")


def test_unlisted_record_endorser_names_the_line(pki, tmp_path: Path) -> None:
    data = sign_record(record(pki.good), pki.good)
    with pytest.raises(UntrustedEndorser, match="add this line to .*: stratuslab email=endorser@example.org"):
        policy(pki, tmp_path).verify_stratuslab(data, "r")


def test_unsigned_remote_record_is_refused_local_allowed(pki, tmp_path: Path) -> None:
    trust = policy(pki, tmp_path)
    with pytest.raises(Unsigned):
        trust.verify_stratuslab(record(pki.good), "https://marketplace/x")
    assert not trust.verify_stratuslab(record(pki.good), "x.xml", allow_unsigned=True).verified


def test_wrapper_with_two_records_needs_the_all_variant(pki, tmp_path: Path) -> None:
    one = sign_record(record(pki.good), pki.good).split(b"?>", 1)[1]
    wrapped = b"<metadata>" + one + one + b"</metadata>"
    trust = policy(pki, tmp_path, stratuslab_line(pki.good, "endorser@example.org"))
    with pytest.raises(RecordError, match="2 records"):
        trust.verify_stratuslab(wrapped, "w")
    assert len(trust.verify_stratuslab_all(wrapped, "w")) == 2


# --- the shared fixtures -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["hepix/hepix_signed_image_list.originale", "hepix/image.list.originale"])
def test_real_lists_verify_but_chain_is_not_checked(pki, tmp_path: Path, name: str) -> None:
    data = (FIX / name).read_bytes()
    with pytest.raises(ChainNotChecked) as caught:
        policy(pki, tmp_path).verify_image_list(data, name)
    message = caught.value.message
    assert message.startswith(f"{name}: signature valid (sha1), endorser bound")
    assert "chain not checked: CA /DC=" in message


def test_cloudkeeper_lists_are_refused_for_the_dn_mismatch(tmp_path: Path) -> None:
    trust = TrustPolicy.from_options(ca_dir=str(FIX / "hepix/cloudkeeper/ca"), env={}, files=[],
                                     trust_file=None)
    for name in ("imagelist01.signed", "imagelist02.signed"):
        with pytest.raises(BindingMismatch, match="signer /C=AU/ST=Some-State/O=Internet Widgits Pty Ltd is not hv:dn"):
            trust.verify_image_list((FIX / "hepix/cloudkeeper" / name).read_bytes(), name)


def test_invalid_list_and_cirros_record_are_refused(pki, tmp_path: Path) -> None:
    trust = policy(pki, tmp_path)
    with pytest.raises(SignatureError, match="content digest mismatch"):
        trust.verify_image_list((FIX / "hepix/cloudkeeper/imagelist_invalid.signed").read_bytes(), "l")
    with pytest.raises(SignatureError, match="content digest mismatch"):
        trust.verify_stratuslab((FIX / "stratuslab/cirros.xml").read_bytes(), "cirros.xml")


def test_real_record_in_wrapper_verifies_up_to_the_chain(pki, tmp_path: Path) -> None:
    data = (FIX / "stratuslab/LHfKVPoHcv4oMirHU0KuOQc-TvI.wget.xml").read_bytes()
    with pytest.raises(ChainNotChecked, match="signature valid, endorser bound; chain not checked: CA /C=FR/O=CNRS/CN=GRID2-FR"):
        policy(pki, tmp_path).verify_stratuslab(data, "wget.xml")
