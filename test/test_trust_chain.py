# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Chains and CRLs: every row of libraries.md B.3, with ``openssl smime -verify`` agreeing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from glancing.trust.chain import CrlMode, load_ca_dir, validate_chain
from glancing.trust.failures import ChainError, ChainNotChecked
from trustkit import DAY, NOW, image_list, openssl_verify, pki, sign_list  # noqa: F401

# (signer, CA directory, our verdict: None = accepted else message part, openssl's message)
B3_ROWS = [
    ("good", "valid", None, None),
    ("revoked", "valid", "certificate revoked", "certificate revoked"),
    ("good_dp", "valid", None, None),
    ("revoked_dp", "valid", "certificate revoked", "certificate revoked"),
    ("good_dp", "no-crl", "no CRL in", "unable to get certificate CRL"),
    ("good", "no-crl", "no CRL in", "unable to get certificate CRL"),
    ("good_dp", "expired-crl", "CRL in .* has expired", "CRL has expired"),
    ("good", "expired-crl", "CRL in .* has expired", "CRL has expired"),
]


@pytest.mark.parametrize("who,directory,ours,theirs", B3_ROWS)
def test_refusal_table(pki, tmp_path: Path, who: str, directory: str, ours, theirs) -> None:
    signer = getattr(pki, who)
    ca_dir = load_ca_dir(pki.ca_dirs[directory])
    oracle = openssl_verify(sign_list(image_list(signer), signer, tmp_path), pki.ca_dirs[directory], tmp_path)
    if ours is None:
        result = validate_chain(signer.cert, (), ca_dir, moment=NOW)
        assert result.crl_checked and str(result.anchor).endswith("CN=Glancing Test CA")
        assert oracle.returncode == 0, oracle.stderr
    else:
        with pytest.raises(ChainError, match=ours):
            validate_chain(signer.cert, (), ca_dir, moment=NOW)
        assert oracle.returncode != 0 and theirs in oracle.stderr


def test_crl_off_accepts_a_revoked_signer_and_says_so(pki, caplog) -> None:
    ca_dir = load_ca_dir(pki.ca_dirs["no-crl"])
    result = validate_chain(pki.revoked.cert, (), ca_dir, moment=NOW, crl=CrlMode.OFF)
    assert not result.crl_checked
    assert "CRL checking is off" in caplog.text


def test_expired_signer_is_refused_now_and_accepted_at_signing_time(pki, tmp_path: Path) -> None:
    ca_dir = load_ca_dir(pki.ca_dirs["valid"])
    with pytest.raises(ChainError, match="expired"):
        validate_chain(pki.expired.cert, (), ca_dir, moment=NOW)
    signed_at = NOW - 100 * DAY
    result = validate_chain(pki.expired.cert, (), ca_dir, moment=signed_at, retroactive=True)
    assert result.moment == signed_at
    # OpenSSL has no retroactive CRL mode (today's CRL is "not yet valid" at -attime), so the
    # oracle checks the certificate dates only there.
    signed = sign_list(image_list(pki.expired), pki.expired, tmp_path)
    oracle = openssl_verify(signed, pki.ca_dirs["valid"], tmp_path, attime=signed_at, crl_check=False)
    assert oracle.returncode == 0, oracle.stderr
    assert "expired" in openssl_verify(signed, pki.ca_dirs["valid"], tmp_path).stderr


def test_revoked_signer_stays_refused_at_an_earlier_signing_time(pki) -> None:
    ca_dir = load_ca_dir(pki.ca_dirs["valid"])
    with pytest.raises(ChainError, match="revoked"):
        validate_chain(pki.revoked.cert, (), ca_dir, moment=NOW - 20 * DAY, retroactive=True)


def test_ca_not_in_directory_means_chain_not_checked(pki, tmp_path: Path) -> None:
    ca_dir = load_ca_dir(pki.ca_dirs["valid"])
    with pytest.raises(ChainNotChecked, match="CA /DC=org/DC=example/CN=Unlisted Test CA is not in"):
        validate_chain(pki.stranger.cert, (), ca_dir, moment=NOW)
    oracle = openssl_verify(sign_list(image_list(pki.stranger), pki.stranger, tmp_path),
                            pki.ca_dirs["valid"], tmp_path)
    assert "unable to get local issuer certificate" in oracle.stderr


def test_missing_directory_means_chain_not_checked(tmp_path: Path) -> None:
    with pytest.raises(ChainNotChecked, match="does not exist"):
        load_ca_dir(tmp_path / "nowhere")


def test_directory_loading_reads_certificates_and_crls_only(pki, tmp_path: Path) -> None:
    ca_dir = load_ca_dir(pki.ca_dirs["valid"])
    assert len(ca_dir.anchors) == 1 and len(ca_dir.crls) == 1
    (tmp_path / "0badc0de.0").write_bytes(b"not a certificate")
    assert load_ca_dir(tmp_path).anchors == ()  # skipped with a warning, not fatal


def test_self_signed_signer_in_directory_is_its_own_anchor(pki) -> None:
    ca_dir = load_ca_dir(pki.ca_dirs["valid"])
    result = validate_chain(pki.ca.cert, (), ca_dir, moment=NOW)
    assert result.path == (result.anchor,)


def test_future_moment_is_not_yet_valid(pki) -> None:
    ca_dir = load_ca_dir(pki.ca_dirs["valid"])
    with pytest.raises(ChainError, match="not yet valid|expired|CRL"):
        validate_chain(pki.good.cert, (), ca_dir, moment=NOW - dt.timedelta(days=45))
