# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""`glancing` with StratusLab marketplace IDs and records, through the loopback marketplace, into
the real Glance: what a record promises is enforced, and every refusal leaves Glance unchanged."""

from __future__ import annotations

import json

import pytest

from images import compress, make_qcow2
from marketplace import signed_record


@pytest.fixture
def site(tmp_path, http_server, pki):
    """An image server, and trust options naming the test CA and the good endorser."""
    www = tmp_path / "www"
    www.mkdir()
    server = http_server(www)
    trust = ["--ca-dir", str(pki.ca_dirs["valid"]), "--endorser", pki.good.subject_openssl,
             "--trust", str(tmp_path / "no-trust-file")]
    (tmp_path / "no-trust-file").write_text("")
    return www, server, trust


def test_marketplace_id_gz_record_imports_verified(lab, glance, glance_cleanup, run_cli, marketplace, site, pki):
    www, server, trust = site
    img = make_qcow2(www / "appliance.qcow2")
    packed = compress(img, "gz")
    record = signed_record(pki.good, img, [server.url(packed.name)], title="Glancing Appliance",
                           compression="gz", version="3")
    mpid = marketplace.publish(record)
    res = run_cli("glancing", "-u", marketplace.base, *trust, "--json", mpid)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    image = glance.images.get(out["image_id"])
    assert image["name"] == "Glancing Appliance" and image["mpid"] == mpid and image["version"] == "3"
    assert set(out["verified"]) >= {"size", "md5", "sha1", "sha256", "sha512", "identifier"}
    assert image["os_hash_value"] == out["digests"]["sha512"]
