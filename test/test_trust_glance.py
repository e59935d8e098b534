# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Issue 6 end to end: `glancing` verifies every remote record and list before any download.

Records come from the loopback marketplace and lists from the loopback image server, signed by
the throw-away PKI (trustkit). Every refusal is checked three ways: the exit code with one error
line naming the reason, Glance unchanged, and no GET of the image: verification comes first.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from marketplace import DAY, NOW, image_list, make_record, signed_record, stamp
from test_records_glance import assert_refused, guard, imported, site  # noqa: F401 (fixtures)
from trustkit import sign_list

EXAMPLE_TRUST = Path(__file__).resolve().parent.parent / "etc" / "trusted-endorsers.example"
IMAGE_ID = "0f4c2d6e-7a51-4b3e-9c8d-1e2f3a4b5c6d"


def names(signer) -> dict:
    return {"subject": signer.cert.subject.rfc4514_string(), "issuer": signer.cert.issuer.rfc4514_string()}


def ca_trust(site, pki, ca_dir: str = "valid") -> list:
    """The site's trust options with another CA directory."""
    args = list(site.trust)
    args[args.index("--ca-dir") + 1] = str(pki.ca_dirs[ca_dir])
    return args


def test_unsigned_remote_record_needs_no_signature_which_warns(lab, glance, guard, run_cli, marketplace,
                                                               site, pki):
    img = site.image()
    mpid = marketplace.publish(make_record(img, [site.url(img)], title="unsigned", **names(pki.good)))
    res = run_cli("glancing", *guard.args, "-u", marketplace.base, *site.trust, mpid)
    assert_refused(res, 5, "not signed")
    assert guard.unchanged() and site.gets(img) == 0
    res = run_cli("glancing", "-u", marketplace.base, "--no-signature", "--json", mpid)
    image = imported(res, glance)
    assert image["name"] == "unsigned" and image["glancing_signature"] == "NOT verified"
    assert "WARNING" in res.stderr and "--no-signature" in res.stderr


def test_tampered_signed_record_is_refused(lab, glance, guard, run_cli, marketplace, site, pki):
    img = site.image()
    record = signed_record(pki.good, img, [site.url(img)], version="3")
    tampered = record.replace(b"<slterms:version>3</slterms:version>", b"<slterms:version>9</slterms:version>")
    assert tampered != record
    mpid = marketplace.publish(tampered)
    res = run_cli("glancing", *guard.args, "-u", marketplace.base, *site.trust, mpid)
    assert_refused(res, 5, "digest mismatch", "changed after signing")
    assert guard.unchanged() and site.gets(img) == 0


@pytest.mark.parametrize("label, words", [
    ("revoked", ["revoked"]),
    ("expired", ["expired"]),
    ("stranger", ["Unlisted Test CA", "is not in"]),
])
def test_record_signer_must_chain_unrevoked_and_current(lab, glance, guard, run_cli, marketplace, site, pki,
                                                        label, words):
    signer = getattr(pki, label)
    img = site.image()
    mpid = marketplace.publish(signed_record(signer, img, [site.url(img)]))
    # Trusted by name, so the chain alone decides.
    res = run_cli("glancing", *guard.args, "-u", marketplace.base, *site.trust,
                  "--endorser", signer.subject_openssl, mpid)
    assert_refused(res, 5, *words)
    assert guard.unchanged() and site.gets(img) == 0


@pytest.mark.parametrize("ca_dir, words", [("expired-crl", ["CRL"]), ("no-crl", ["CRL"])])
def test_crls_are_required(lab, glance, guard, run_cli, marketplace, site, pki, ca_dir, words):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)]))
    res = run_cli("glancing", *guard.args, "-u", marketplace.base, *ca_trust(site, pki, ca_dir), mpid)
    assert_refused(res, 5, *words)
    assert guard.unchanged() and site.gets(img) == 0


def test_crl_off_accepts_with_a_warning(lab, glance, glance_cleanup, run_cli, marketplace, site, pki):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)], title="crl off"))
    res = run_cli("glancing", "-u", marketplace.base, *ca_trust(site, pki, "no-crl"), "--crl", "off", "--json", mpid)
    image = imported(res, glance)
    assert image["name"] == "crl off" and "CRL NOT checked" in image["glancing_signature"]
    assert "WARNING" in res.stderr and "CRL" in res.stderr


def test_untrusted_endorser_is_told_the_line_to_add(lab, glance, guard, run_cli, marketplace, site, pki):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.mail, img, [site.url(img)], title="trusted by file",
                                             email="mail.endorser@example.org"))
    trust_file = site.tmp / "trusted-endorsers"
    trust_file.write_text("# nobody yet\n")
    options = ["-u", marketplace.base, "--ca-dir", str(pki.ca_dirs["valid"]), "--trust", str(trust_file)]
    line = assert_refused(run_cli("glancing", *guard.args, *options, mpid), 5, "not trusted",
                          "mail.endorser@example.org", f"add this line to {trust_file}: stratuslab ")
    assert guard.unchanged() and site.gets(img) == 0
    suggested = line.split(f"add this line to {trust_file}: ", 1)[1]
    # The documented example file, plus the line glancing suggested.
    trust_file.write_text(f"{EXAMPLE_TRUST.read_text()}\n{suggested}\n")
    image = imported(run_cli("glancing", *options, "--json", mpid), glance)
    assert image["name"] == "trusted by file" and image["endorser_email"] == "mail.endorser@example.org"


def test_wrapper_with_a_trusted_and_an_untrusted_record_uses_the_trusted_one(
        lab, glance, glance_cleanup, run_cli, marketplace, site, pki):
    img = site.image()
    marketplace.publish(signed_record(pki.good, img, [site.url(img)], version="1", created=NOW - 2 * DAY))
    # Newer, validly signed and chained, but its endorser is not trusted: it must not win.
    mpid = marketplace.publish(signed_record(pki.mail, img, [site.url(img)], version="2", created=NOW - DAY,
                                             email="mail.endorser@example.org"))
    res = run_cli("glancing", "-u", marketplace.base, *site.trust, "--json", mpid)
    image = imported(res, glance)
    assert image["version"] == "1" and image["endorser_dn"] == pki.good.cert.subject.rfc4514_string()
    assert "set aside" in res.stderr and "not trusted" in res.stderr


def test_comments_injected_after_signing_do_not_change_what_is_read(
        lab, glance, glance_cleanup, run_cli, marketplace, site, pki):
    img = site.image()
    record = signed_record(pki.good, img, [site.url(img)], title="Full Title Kept")
    mpid = record.split(b"<dcterms:identifier>", 1)[1].split(b"<", 1)[0].decode()
    # Comments are outside what XML-DSig signs, so this still verifies; a reader taking only the
    # first text node would see "Full", a 4-character identifier and a location cut short.
    injected = (record.replace(b">Full Title Kept<", b">Full<!-- x --> Title Kept<")
                .replace(f"<dcterms:identifier>{mpid}<".encode(),
                         f"<dcterms:identifier>{mpid[:4]}<!---->{mpid[4:]}<".encode())
                .replace(f">{site.url(img)}<".encode(), f">{site.url(img)[:10]}<!-- -->{site.url(img)[10:]}<".encode()))
    assert injected.count(b"<!--") == 3
    marketplace.raw(mpid, injected)
    image = imported(run_cli("glancing", "-u", marketplace.base, *site.trust, "--json", mpid), glance)
    assert image["name"] == "Full Title Kept" and image["mpid"] == mpid and site.gets(img) == 1


def _list(site, pki, signer, img, **changes) -> str:
    """A list naming ``pki.good`` as endorser, signed by ``signer``, with top-level ``changes``."""
    document = json.loads(image_list(pki.good, [{"path": img, "uri": site.url(img), "id": IMAGE_ID}]))
    document["hv:imagelist"].update(changes)
    (site.www / "image.list").write_bytes(sign_list(json.dumps(document).encode(), signer, site.tmp))
    return site.server.url("image.list")


@pytest.mark.parametrize("case, signer, changes, words", [
    ("revoked", "revoked", {}, ["revoked"]),
    ("dn-mismatch", "mail", {}, ["is not hv:dn"]),
    ("future", "good", {"dc:date:created": stamp(NOW + DAY)}, ["future"]),
    ("expired", "good", {"dc:date:expires": stamp(NOW - dt.timedelta(hours=1))}, ["expired"]),
])
def test_image_list_refusals(lab, glance, guard, run_cli, site, pki, case, signer, changes, words):
    img = site.image("listed.qcow2")
    if case == "revoked":  # the list names its real signer: only revocation is wrong
        document = image_list(pki.revoked, [{"path": img, "uri": site.url(img), "id": IMAGE_ID}])
        (site.www / "image.list").write_bytes(sign_list(document, pki.revoked, site.tmp))
        url = site.server.url("image.list")
        trust = [*site.trust, "--endorser", pki.revoked.subject_openssl]
    else:
        url = _list(site, pki, getattr(pki, signer), img, **changes)
        trust = site.trust
    res = run_cli("glancing", *guard.args, *trust, "-c", url, IMAGE_ID)
    assert_refused(res, 5, *words)
    assert guard.unchanged() and site.gets(img) == 0


def test_signed_list_control_case_imports(lab, glance, glance_cleanup, run_cli, site, pki):
    """The list the refusals above alter, unaltered: accepted, so each refusal is about its change."""
    img = site.image("listed.qcow2")
    url = _list(site, pki, pki.good, img)
    image = imported(run_cli("glancing", *site.trust, "--json", "-c", url, IMAGE_ID), glance)
    assert image["hepix_image_id"] == IMAGE_ID and "signature valid" in image["glancing_signature"]
