# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Signing lists: what is signed verifies with ``openssl smime -verify -CApath -crl_check_all``
and with this project's subscriber policy; one flipped byte fails both; the endorser, the
version and the dates are what the issue says."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from glancing import errors
from glancing.formats.hepix.read import read_image_list
from glancing.publish import service, store
from glancing.publish.db import open_db
from glancing.publish.sign import bump_version, sign_list
from glancing.subscriptions.db import Database
from glancing.trust import TrustPolicy
from glancing.trust.credentials import CredentialError, load_signer
from glancing.trust.failures import BadSignature
from glancing.trust.smime import verify_smime
from images import make_qcow2
from trustkit import Pki, pki, write_p12  # noqa: F401

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=1)


def openssl_smime_verify(data: bytes, ca_dir: Path, tmp: Path) -> subprocess.CompletedProcess:
    """The issue's oracle, exactly: no -purpose relaxation, CRLs of every certificate."""
    src = tmp / "signed.list"
    src.write_bytes(data)
    return subprocess.run(["openssl", "smime", "-verify", "-in", str(src), "-CApath", str(ca_dir),
                           "-crl_check_all", "-out", str(tmp / "payload")], capture_output=True, text=True)


@pytest.fixture
def listed(tmp_path: Path) -> Iterator[Tuple[Database, str]]:
    with open_db(str(tmp_path / "publish.db")) as db:
        row = store.create_list(db, title="Test list", uri="https://lists.example.org/image.list",
                                lifetime=28 * 86400, source="example.org", vo="vo.example.org")
        image = service.add_image(db, row.id, make_qcow2(tmp_path / "disk.qcow2", seed=b"s", size_mib=1),
                                  service.ImageFields(title="Disk", version="1", os="Linux", arch="x86_64",
                                                      uri="https://images.example.org/disk.qcow2"))
        assert image.entry["hv:format"] == "qcow2"
        yield db, row.id


def _policy(pki: Pki, tmp: Path) -> TrustPolicy:
    trust = tmp / "trusted"
    trust.write_text(f'hepix dn="{pki.signer.subject_openssl}" ca="{pki.signer.issuer_openssl}"\n')
    return TrustPolicy.from_options(ca_dir=str(pki.ca_dirs["valid"]), trust_file=str(trust), env={}, files=[])


def test_signed_list_verifies_with_openssl_and_as_a_subscriber(listed, pki: Pki, tmp_path: Path) -> None:
    db, list_id = listed
    signed = sign_list(db, list_id, load_signer(pki.signer.cert_path, pki.signer.key_path), now=NOW)
    done = openssl_smime_verify(signed.data, pki.ca_dirs["valid"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr
    assert b'micalg="sha-256"' in signed.data.split(b"\n\n", 1)[0]
    lst = read_image_list(json.loads((tmp_path / "payload").read_bytes()))
    assert lst.identifier == list_id and lst.version == "0.0.1" and lst.vo == "vo.example.org"
    assert lst.created == NOW and lst.expires == NOW + dt.timedelta(days=28)
    assert lst.endorser_dn == pki.signer.subject_openssl and lst.endorser_ca == pki.signer.issuer_openssl
    assert lst.endorser_email == "signer@example.org" and lst.endorser_name == "Signing Endorser"
    verified = _policy(pki, tmp_path).verify_image_list(signed.data, "published")
    assert verified.verified and verified.claims.version == "0.0.1"


def test_one_flipped_byte_fails_both_verifiers(listed, pki: Pki, tmp_path: Path) -> None:
    db, list_id = listed
    data = sign_list(db, list_id, load_signer(pki.signer.cert_path, pki.signer.key_path), now=NOW).data
    at = data.index(b"Test list")
    flipped = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
    done = openssl_smime_verify(flipped, pki.ca_dirs["valid"], tmp_path)
    assert done.returncode != 0 and "Verification successful" not in done.stderr
    with pytest.raises(BadSignature):
        verify_smime(flipped, "tampered")


def test_version_moves_only_with_a_successful_upload(listed, pki: Pki) -> None:
    db, list_id = listed
    creds = load_signer(pki.signer.cert_path, pki.signer.key_path)
    first = sign_list(db, list_id, creds, now=NOW)
    again = sign_list(db, list_id, creds, now=NOW + dt.timedelta(hours=1))
    assert (first.version, again.version) == ("0.0.1", "0.0.1")  # nothing was published yet
    assert store.get_list(db, list_id).version is None
    store.mark_uploaded(db, again, "file:///x")
    assert store.get_list(db, list_id).version == "0.0.1"
    assert sign_list(db, list_id, creds, now=NOW).version == "0.0.2"


def test_second_endorser_is_refused_with_the_reason(listed, pki: Pki) -> None:
    db, list_id = listed
    sign_list(db, list_id, load_signer(pki.signer.cert_path, pki.signer.key_path), now=NOW)
    other = load_signer(pki.good.cert_path, pki.good.key_path)
    with pytest.raises(CredentialError, match="one endorser") as info:
        sign_list(db, list_id, other, now=NOW)
    assert errors.exit_code(info.value) == errors.USAGE
    assert store.get_list(db, list_id).endorser_dn == pki.signer.subject_openssl


def test_chain_certificates_travel_in_the_signature(listed, pki: Pki, tmp_path: Path) -> None:
    db, list_id = listed
    p12 = write_p12(pki.signer, tmp_path / "e.p12", None, chain=[pki.ca.cert])
    signed = sign_list(db, list_id, load_signer(p12=p12), now=NOW)
    message = verify_smime(signed.data, "p12")
    assert pki.ca.cert in message.certificates and message.certificate == pki.signer.cert


def test_an_image_without_uri_cannot_be_signed(listed, pki: Pki, tmp_path: Path) -> None:
    db, list_id = listed
    service.add_image(db, list_id, make_qcow2(tmp_path / "b.qcow2", seed=b"b", size_mib=1),
                      service.ImageFields(title="No URI", version="1"))
    with pytest.raises(errors.UsageError, match="hv:uri is missing"):
        sign_list(db, list_id, load_signer(pki.signer.cert_path, pki.signer.key_path), now=NOW)
    assert store.latest_signed(db, list_id) is None


@pytest.mark.parametrize("old,new", [(None, "0.0.1"), ("0.0.9", "0.0.10"), ("1", "2"),
                                     ("20150618211400", "20150618211401"), ("beta", "beta.1")])
def test_bump_version(old, new) -> None:
    assert bump_version(old) == new
