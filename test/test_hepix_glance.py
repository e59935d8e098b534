# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""`glancing -c LIST ID`: HEPiX image list entries into the real Glance.

The lists are made here for images made here, signed by the throw-away PKI and served over
loopback HTTP. A list's ``hv:size`` and ``sl:checksum:sha512`` describe the file AS DOWNLOADED,
so a ``.gz`` entry is verified compressed while Glance receives the uncompressed bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from images import compress, digest, make_ova, stream_vmdk
from marketplace import DAY, NOW, image_list, stamp
from test_records_glance import Site, assert_refused, guard, imported, site  # noqa: F401 (fixtures)
from trustkit import sign_list

LIST_ID = "6b1e5f0e-2c1a-5d8e-9f00-0123456789ab"  # marketplace.image_list's default identifier
IMAGE_ID = "0f4c2d6e-7a51-4b3e-9c8d-1e2f3a4b5c6d"


def publish_list(site: Site, signer, entries: list, *, signed: bool = True, name: str = "image.list",
                 **kw) -> str:
    """Write the list (S/MIME-signed by ``signer`` unless ``signed`` is false) under www; its URL."""
    document = image_list(signer, entries, **kw)
    (site.www / name).write_bytes(sign_list(document, signer, site.tmp) if signed else document)
    return site.server.url(name)


def entry(site: Site, path: Path, **extra) -> dict:
    return {"path": path, "uri": site.url(path), "id": IMAGE_ID, **extra}


def test_signed_list_entry_gz_verified_as_downloaded_and_uncompressed_into_glance(
        lab, glance, glance_cleanup, run_cli, site, pki):
    img = site.image("hepix.qcow2")
    packed = compress(img, "gz")
    url = publish_list(site, pki.good, [entry(site, packed, title="HEPiX Appliance", version="2.1")],
                       version="20260301000000")
    res = run_cli("glancing", *site.trust, "--json", "-c", url, IMAGE_ID)
    image = imported(res, glance)
    out = json.loads(res.stdout)
    assert out["compression"] == "gz" and out["source_size"] == packed.stat().st_size
    assert {"size", "sha512"} <= set(out["verified"])
    assert out["source_digests"]["sha512"] == digest(packed, "sha512")
    assert image["size"] == img.stat().st_size and image["os_hash_value"] == digest(img, "sha512")
    assert image["glancing_sha512"] == digest(packed, "sha512")  # what the list promised
    expected = {
        "name": "HEPiX Appliance", "version": "2.1", "hepix_image_id": IMAGE_ID, "hepix_list_id": LIST_ID,
        "hepix_list_version": "20260301000000", "endorser_dn": pki.good.subject_openssl,
        "endorser_ca": pki.good.issuer_openssl, "os_distro": "debian", "architecture": "x86_64",
        "hypervisor_type": "kvm", "vmcatcher_event_dc_identifier": IMAGE_ID,
        "vmcatcher_event_il_dc_identifier": LIST_ID, "vmcatcher_event_hv_uri": site.url(packed),
        "vmcatcher_event_hv_size": str(packed.stat().st_size), "vmcatcher_event_hv_version": "2.1",
        "vmcatcher_event_sl_checksum_sha512": digest(packed, "sha512"),
    }
    assert {k: image.get(k) for k in expected} == expected


def test_list_digest_of_the_uncompressed_image_is_a_mismatch(lab, glance, guard, run_cli, site, pki):
    img = site.image("hepix.qcow2")
    packed = compress(img, "gz")
    # An endorser who hashed the image before compressing it: not what a HEPiX list promises.
    url = publish_list(site, pki.good, [entry(site, packed, sha512=digest(img, "sha512"))])
    res = run_cli("glancing", *guard.args, *site.trust, "-c", url, IMAGE_ID)
    assert_refused(res, 1, "sha512")
    assert guard.unchanged()


def test_unknown_image_identifier(lab, glance, guard, run_cli, site, pki):
    img = site.image("hepix.qcow2")
    url = publish_list(site, pki.good, [entry(site, img)])
    res = run_cli("glancing", *guard.args, *site.trust, "-c", url, "no-such-image")
    assert_refused(res, 5, "no-such-image", f"not in image list {LIST_ID}")
    assert guard.unchanged() and site.gets(img) == 0


def test_expired_image_entry_is_refused_unless_allowed(lab, glance, guard, run_cli, site, pki):
    img = site.image("hepix.qcow2")
    when = stamp(NOW - DAY)
    url = publish_list(site, pki.good, [entry(site, img, expires=when, title="expired entry")])
    res = run_cli("glancing", *guard.args, *site.trust, "-c", url, IMAGE_ID)
    assert_refused(res, 5, IMAGE_ID, f"expired on {when}", "--allow-expired")
    assert guard.unchanged() and site.gets(img) == 0
    image = imported(run_cli("glancing", *site.trust, "--json", "--allow-expired", "-c", url, IMAGE_ID), glance)
    assert image["name"] == "expired entry" and image["valid_until"] == when


def test_local_unsigned_json_list_is_read(lab, glance, glance_cleanup, run_cli, site, pki):
    img = site.image("hepix.qcow2")
    local = site.tmp / "local.list.json"
    local.write_bytes(image_list(pki.good, [entry(site, img, title="from a local list")]))
    image = imported(run_cli("glancing", *site.trust, "--json", "-c", str(local), IMAGE_ID), glance)
    assert image["name"] == "from a local list" and image["hepix_image_id"] == IMAGE_ID
    assert image["os_hash_value"] == digest(img, "sha512")
    assert image["glancing_signature"] == "NOT verified"


def test_remote_unsigned_list_needs_no_signature_which_warns(lab, glance, guard, run_cli, site, pki):
    img = site.image("hepix.qcow2")
    url = publish_list(site, pki.good, [entry(site, img, title="unsigned remote")], signed=False)
    res = run_cli("glancing", *guard.args, *site.trust, "-c", url, IMAGE_ID)
    assert_refused(res, 5, "not signed")
    assert guard.unchanged() and site.gets(img) == 0
    res = run_cli("glancing", "--no-signature", "--json", "-c", url, IMAGE_ID)
    image = imported(res, glance)
    assert image["name"] == "unsigned remote" and image["glancing_signature"] == "NOT verified"
    assert "WARNING" in res.stderr and "--no-signature" in res.stderr and "NOT verified" in res.stderr


def test_list_entry_in_ova_format_imports_its_disk_converted(lab, glance, glance_cleanup, run_cli, site, pki):
    source = site.image("hepix-src.qcow2")
    ova = make_ova(site.www / "appliance.ova", [stream_vmdk(source, site.tmp / "disk1.vmdk")])
    url = publish_list(site, pki.good, [entry(site, ova, format="OVA", title="OVA Appliance")])
    res = run_cli("glancing", *site.trust, "--json", "--disk-formats", "raw", "-c", url, IMAGE_ID)
    image = imported(res, glance)
    assert image["disk_format"] == "raw" and image["glancing_ova_disk"] == "disk1.vmdk"
    assert image["glancing_sha512"] == digest(ova, "sha512")  # the list's digest: the OVA as served
    assert image["size"] == json.loads(res.stdout)["size"] == 1 << 20 | 512  # the raw disk
