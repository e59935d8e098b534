# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-metadata upload`` and ``deprecate`` against the loopback marketplace, which checks
uploads as the real one does (xmlsec1, endorser binding, rsa-sha1 only, never older) and serves
them back by the routes of formats.md 1.5."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, List

import pytest

from images import make_qcow2
from marketplace import MarketplaceServer
from test_records_publish import made, xmlsec1_verify  # noqa: F401 - made is a fixture

from glancing.formats.stratuslab.read import parse_records
from glancing.formats.xmlsafe import parse_xml
from glancing.publish import records
from glancing.trust.credentials import load_signer

DEAD = "http://127.0.0.1:9"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=1)


@pytest.fixture
def market() -> Iterator[MarketplaceServer]:
    """A marketplace listing only each endorser's latest record of an ID, as the real one does."""
    server = MarketplaceServer(latest_only=True)
    yield server
    server.stop()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read()


def _file(tmp_path: Path, data: bytes, name: str = "signed.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _signer_args(identity) -> List[str]:
    return ["--cert", str(identity.cert_path), "--key", str(identity.key_path)]


def test_upload_prints_the_location_that_serves_the_record(run_cli, made, market, tmp_path: Path) -> None:
    result = run_cli("glancing-metadata", "upload", str(_file(tmp_path, made[1])), "--marketplace", market.base)
    assert result.returncode == 0, result.stderr
    record = parse_records(made[1], "made")[0]
    created = record.endorsement_created.strftime("%Y-%m-%dT%H:%M:%SZ")
    location = f"{market.base}/{record.identifier}/{record.endorser_email}/{created}"
    assert result.stdout.strip() == location and [code for code, _ in market.uploads] == [201]
    assert _get(location) == made[1]  # byte for byte, as the real marketplace serves a record
    listing = _get(f"{market.base}/{record.identifier}")
    assert listing.startswith(b"<metadata>") and len(parse_records(listing, "listing")) == 1
    assert _get(f"{market.base}/{record.endorser_email}") == listing == _get(f"{market.base}/{created}")


def test_upload_base_url_with_or_without_metadata_and_json(run_cli, made, market, tmp_path: Path) -> None:
    root = market.base.rsplit("/metadata", 1)[0]
    result = run_cli("glancing-metadata", "--json", "upload", str(_file(tmp_path, made[1])), "-u", root + "/")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["status"] == "created" and shown["http_status"] == 201 and shown["endpoint"] == market.base
    again = run_cli("glancing-metadata", "upload", str(_file(tmp_path, made[1])),
                    env={"GLANCING_MARKETPLACE_URL": market.base})
    assert again.returncode == 5 and "HTTP 400" in again.stderr and "not older than" in again.stderr


def test_upload_202_means_confirmation_pending(run_cli, made, market, tmp_path: Path) -> None:
    market.upload_mode = "pending"
    result = run_cli("glancing-metadata", "upload", str(_file(tmp_path, made[1])), "--marketplace", market.base)
    assert result.returncode == 0, result.stderr
    assert "HTTP 202" in result.stdout and "confirms" in result.stdout
    assert market.pending == [made[1]] and market.records == {}


@pytest.mark.parametrize("mode, code, words", [
    ("readonly", 5, "HTTP 403 (a read-only replica"),
    ("error", 3, "HTTP 500 (marketplace error): internal error"),
])
def test_upload_errors_are_one_clear_line(run_cli, made, market, tmp_path: Path, mode, code, words) -> None:
    market.upload_mode = mode
    result = run_cli("glancing-metadata", "upload", str(_file(tmp_path, made[1])), "--marketplace", market.base)
    assert result.returncode == code and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_upload_refusals(run_cli, made, market, tmp_path: Path, pki) -> None:
    unsigned = run_cli("glancing-metadata", "upload", str(_file(tmp_path, made[0])), "--marketplace", market.base)
    assert unsigned.returncode == 5 and "not signed" in unsigned.stderr and market.uploads == []
    sha256 = tmp_path / "sha256.xml"
    done = run_cli("glancing-metadata", "sign", str(_file(tmp_path, made[0], "u.xml")), "-o", str(sha256),
                   "--sha256", *_signer_args(pki.signer))
    assert done.returncode == 0, done.stderr
    refused = run_cli("glancing-metadata", "upload", str(sha256), "--marketplace", market.base)
    assert refused.returncode == 5 and "cannot find validation key" in refused.stderr  # why rsa-sha1 is the default
    dead = run_cli("glancing-metadata", "upload", str(_file(tmp_path, made[1])), "--marketplace", DEAD)
    assert dead.returncode == 3 and "cannot upload to http://127.0.0.1:9/metadata" in dead.stderr
    wrong = run_cli("glancing-metadata", "upload", str(_file(tmp_path, made[1])), "--marketplace", market.base + "/x")
    assert wrong.returncode == 3 and "HTTP 404" in wrong.stderr and "check the marketplace URL" in wrong.stderr


def test_deprecate_republishes_the_latest_record_withdrawn(run_cli, made, market, tmp_path: Path, pki) -> None:
    market.publish(made[1])
    record = parse_records(made[1], "made")[0]
    kept = tmp_path / "deprecating.xml"
    result = run_cli("glancing-metadata", "deprecate", record.identifier, "--email", record.endorser_email,
                     "--reason", "broken network setup", "--marketplace", market.base, "-o", str(kept),
                     *_signer_args(pki.signer))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"{market.base}/{record.identifier}/{record.endorser_email}/")
    assert xmlsec1_verify(kept, pki.ca.cert_path).returncode == 0
    listing = parse_records(_get(f"{market.base}/{record.identifier}"), "listing")
    assert len(listing) == 1 and listing[0].deprecated == "broken network setup"  # the latest only
    assert listing[0].endorsement_created > record.endorsement_created
    assert listing[0].checksums == record.checksums and listing[0].locations == record.locations
    with pytest.raises(urllib.error.HTTPError):
        _get(f"{market.base}/{record.identifier}?status=valid")  # the real default hides it
    again = run_cli("glancing-metadata", "deprecate", record.identifier, "--email", record.endorser_email,
                    "--reason", "again", "--marketplace", market.base, *_signer_args(pki.signer))
    assert again.returncode == 0 and "already deprecated" in again.stdout and len(market.uploads) == 1


def test_deprecate_refuses_another_endorsers_certificate(run_cli, made, market, pki) -> None:
    market.publish(made[1])
    record = parse_records(made[1], "made")[0]
    result = run_cli("glancing-metadata", "deprecate", record.identifier, "--email", record.endorser_email,
                     "--reason", "r", "--marketplace", market.base, *_signer_args(pki.good))
    assert result.returncode == 5 and "only its endorser deprecates it" in result.stderr, result.stderr
    assert market.uploads == []


def test_deprecate_refuses_a_record_changed_on_the_way(run_cli, made, market, pki) -> None:
    record = parse_records(made[1], "made")[0]
    market.publish(made[1].replace(b"http://images.example.org/a", b"http://evil.example.org/a"))
    result = run_cli("glancing-metadata", "deprecate", record.identifier, "--email", record.endorser_email,
                     "--reason", "r", "--marketplace", market.base, *_signer_args(pki.signer))
    assert result.returncode == 5 and "changed after signing" in result.stderr, result.stderr
    assert market.uploads == []


def test_deprecate_unknown_record(run_cli, market, pki) -> None:
    result = run_cli("glancing-metadata", "deprecate", "LHfKVPoHcv4oMirHU0KuOQc-TvI", "--email", "a@b.org",
                     "--reason", "r", "--marketplace", market.base, *_signer_args(pki.signer))
    assert result.returncode == 3 and "HTTP 404" in result.stderr and len(result.stderr.splitlines()) == 1


def test_marketplace_status_and_created_filters(made, market) -> None:
    market.publish(made[1])
    record = parse_records(made[1], "made")[0]
    created = record.endorsement_created.strftime("%Y-%m-%dT%H:%M:%SZ")
    by_key = _get(f"{market.base}/{record.identifier}/{record.endorser_email}?status=valid&created={created}")
    assert len(parse_xml(by_key, "listing")) == 1
    for status in ("expired", "deprecated"):
        with pytest.raises(urllib.error.HTTPError):
            _get(f"{market.base}/{record.identifier}?status={status}")


def test_tag_routes_follow_the_latest_undeprecated_record(run_cli, market, pki, tmp_path: Path) -> None:
    img = make_qcow2(tmp_path / "tagged.qcow2", seed=b"tagged", size_mib=1)
    request = records.BuildRequest(image=str(img), locations=("http://a/b",), os="Debian", os_version="12",
                                   os_arch="x86_64", version="1", tag="stable")
    signer = load_signer(pki.signer.cert_path, pki.signer.key_path)
    record = records.sign(records.build(request, NOW)[0], signer, "tagged", NOW)
    mpid = market.publish(record)
    root = market.base.rsplit("/metadata", 1)[0]
    assert _get(f"{root}/tag/signer@example.org/stable") == record
    assert _get(f"{market.base}/signer@example.org?tag=stable") == record
    with pytest.raises(urllib.error.HTTPError):
        _get(f"{root}/tag/signer@example.org/testing")
    done = run_cli("glancing-metadata", "deprecate", mpid, "--email", "signer@example.org", "--reason", "r",
                   "--marketplace", market.base, *_signer_args(pki.signer))
    assert done.returncode == 0, done.stderr
    with pytest.raises(urllib.error.HTTPError):
        _get(f"{root}/tag/signer@example.org/stable")  # a deprecated record is no tag's target
