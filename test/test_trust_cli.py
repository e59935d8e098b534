# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-metadata verify``: one verdict line per file and the exit code."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from glancing.cli import metadata_verify
from glancing.trust import settings
from trustkit import image_list, pki, record, sign_list, sign_record  # noqa: F401

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _no_site_settings(tmp_path: Path, monkeypatch) -> None:
    # Keep the user's and the machine's trust settings out of the verdicts.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("GLANCING_CA_DIR", raising=False)
    monkeypatch.delenv("GLANCING_TRUST_FILE", raising=False)
    monkeypatch.setattr(settings, "DEFAULT_TRUST_FILE", tmp_path / "no-default-trust")


def run(argv):
    parser = argparse.ArgumentParser(prog="glancing-metadata")
    metadata_verify.register(parser.add_subparsers())
    args = parser.parse_args(["verify", *argv])
    out = io.StringIO()
    return args.func(args, out=out), out.getvalue().splitlines()


def test_every_file_trusted_exits_0(pki, tmp_path: Path) -> None:
    lst = tmp_path / "l.signed"
    lst.write_bytes(sign_list(image_list(pki.good), pki.good, tmp_path))
    rec = tmp_path / "r.xml"
    rec.write_bytes(sign_record(record(pki.good), pki.good))
    empty = tmp_path / "trusted-endorsers"
    empty.write_text("# only --endorser\n")
    code, lines = run([str(lst), str(rec), "--ca-dir", str(pki.ca_dirs["valid"]),
                       "--trust", str(empty), "--endorser", pki.good.subject_openssl])
    assert code == 0, lines
    assert [line.split(": ")[1] for line in lines] == ["OK", "OK"]


def test_each_failure_gets_its_line_and_exit_5(pki, tmp_path: Path) -> None:
    revoked = tmp_path / "revoked.signed"
    revoked.write_bytes(sign_list(image_list(pki.revoked), pki.revoked, tmp_path))
    files = [str(FIX / "hepix/cloudkeeper/imagelist01.signed"), str(FIX / "stratuslab/cirros.xml"),
             str(FIX / "hepix/image.list.originale"), str(revoked)]
    code, lines = run([*files, "--ca-dir", str(pki.ca_dirs["valid"]),
                       "--endorser", pki.revoked.subject_openssl])
    assert code == 5 and len(lines) == 4
    assert "REFUSED: signature valid, but signer /C=AU/ST=Some-State/O=Internet Widgits Pty Ltd is not hv:dn" in lines[0]
    assert "REFUSED: content digest mismatch" in lines[1]
    assert "signature valid (sha1), endorser bound" in lines[2] and "chain not checked: CA /DC=ORG" in lines[2]
    assert "certificate revoked" in lines[3]


def test_crl_off_and_unreadable_file(pki, tmp_path: Path) -> None:
    revoked = tmp_path / "revoked.signed"
    revoked.write_bytes(sign_list(image_list(pki.revoked), pki.revoked, tmp_path))
    code, lines = run([str(revoked), "--crl", "off", "--ca-dir", str(pki.ca_dirs["no-crl"]),
                       "--endorser", pki.revoked.subject_openssl])
    assert code == 0 and "CRL NOT checked" in lines[0]
    code, lines = run([str(tmp_path / "missing"), "--ca-dir", str(pki.ca_dirs["valid"])])
    assert code == 3 and "cannot read" in lines[0]


def test_bad_trust_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "trust"
    bad.write_text("hepix dn=/CN=x\n")
    code, lines = run([str(tmp_path / "x"), "--trust", str(bad)])
    assert code == 2 and lines == []
