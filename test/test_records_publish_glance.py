# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Publish, then consume, in the real Glance: ``glancing-metadata build/sign/upload`` to the
loopback marketplace -> ``glancing ID -u <marketplace>`` imports it; ``deprecate`` -> the next
``glance_manager`` run refuses it and leaves Glance as it was."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest

from images import compress, digest, make_qcow2
from marketplace import MarketplaceServer
from test_records_publish import build_args, xmlsec1_verify


@pytest.fixture
def market() -> Iterator[MarketplaceServer]:
    server = MarketplaceServer(latest_only=True)
    yield server
    server.stop()


def _trust(pki, tmp_path: Path) -> List[str]:
    empty = tmp_path / "no-trust-file"
    empty.write_text("")
    return ["--ca-dir", str(pki.ca_dirs["valid"]), "--endorser", pki.signer.subject_openssl, "--trust", str(empty)]


def _signer(pki) -> List[str]:
    return ["--cert", str(pki.signer.cert_path), "--key", str(pki.signer.key_path)]


def test_published_record_imports_then_its_deprecation_is_refused(lab, glance, glance_cleanup, run_cli, market,
                                                                  http_server, pki, tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    img = make_qcow2(tmp_path / "appliance.qcow2", seed=uuid.uuid4().bytes, size_mib=1)
    served = compress(img, "gz").rename(www / "appliance.qcow2.gz")
    title = f"published-{uuid.uuid4().hex[:8]}"
    record, signed = tmp_path / "record.xml", tmp_path / "signed.xml"
    location = http_server(www).url(served.name)
    steps = [build_args(served, location, "--title", title) + ["-o", str(record)],
             ["sign", str(record), "-o", str(signed), *_signer(pki)],
             ["upload", str(signed), "--marketplace", market.base]]
    for step in steps:
        done = run_cli("glancing-metadata", *step)
        assert done.returncode == 0, done.stderr
    assert xmlsec1_verify(signed, pki.ca.cert_path).returncode == 0
    mpid = done.stdout.strip().split("/metadata/")[1].split("/")[0]

    res = run_cli("glancing", mpid, "-u", market.base, *_trust(pki, tmp_path), "--json")
    assert res.returncode == 0, res.stderr
    image = glance.images.get(json.loads(res.stdout)["image_id"])
    assert (image["name"], image["mpid"], image["status"]) == (title, mpid, "active")
    assert image["os_hash_value"] == digest(img, "sha512") and image["size"] == img.stat().st_size
    assert image["endorser_email"] == "signer@example.org" and image["disk_format"] == "qcow2"

    listed = tmp_path / "img_list.txt"
    listed.write_text(f"{mpid}\n")
    manager = ["glance_manager", "-l", str(listed), "-u", market.base, *_trust(pki, tmp_path),
               "--lock", str(tmp_path / "lock"), "--json"]
    before = run_cli(*manager)
    assert before.returncode == 0, before.stderr + before.stdout

    gone = run_cli("glancing-metadata", "deprecate", mpid, "--email", "signer@example.org", "--reason",
                   "withdrawn: broken network setup", "--marketplace", market.base, *_signer(pki))
    assert gone.returncode == 0, gone.stderr
    after = run_cli(*manager)
    report = json.loads(after.stdout)
    assert after.returncode == 8, after.stderr + after.stdout
    [entry] = report["images"]
    assert (entry["mpid"], entry["error_code"], entry["image_id"]) == (mpid, 5, None), entry  # 5: record refused
    assert "is deprecated (withdrawn: broken network setup)" in entry["message"]
    assert "is deprecated (withdrawn: broken network setup)" in after.stderr
    still = glance.images.get(image["id"])
    assert (still["name"], still["status"], still.get("os_hidden")) == (title, "active", False)
    again = run_cli("glancing", mpid, "-u", market.base, *_trust(pki, tmp_path), "--json")
    assert again.returncode == 5 and "deprecated" in again.stderr
