# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Subscribing and updating against lists signed by the tests' CA on a loopback HTTP server."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from glancing import errors
from glancing.errors import RecordError, SourceError, UsageError
from glancing.subscriptions import service
from glancing.subscriptions.service import SubscribeOptions
from glancing.subscriptions.store import Subscription
from glancing.subscriptions.update import RunPolicies
from glancing.subscriptions.update import REFUSED, UNCHANGED, UPDATED, exit_code, update_all, update_subscription
from glancing.trust import TrustPolicy, UnsafeNoVerify
from subskit import HTTP, LIST_ID, dump, hepix_list, image, make_site, row, running_site, uuid, without_last_error
from tlskit import make_mirror_pki
from trustkit import DAY, NOW, pki, sign_list, subject_hash  # noqa: F401

FIX = Path(__file__).parent / "fixtures" / "hepix"


@pytest.fixture
def site(pki, tmp_path):  # noqa: F811
    with running_site(pki, tmp_path) as s:
        yield s


def _subscribe(site, **options):
    return service.subscribe(site.db, site.url, SubscribeOptions(**options), HTTP, site.policy, NOW)


def test_subscribe_stores_the_list_keyed_by_its_identifier(site):
    data = site.publish("1", [image(1), image(2)])
    done = _subscribe(site)
    sub = done.subscription
    assert (sub.id, sub.url, sub.new_images, sub.endorser_dn) == (LIST_ID, site.url, "accept", None)
    assert sub.etag and sub.last_modified
    instance = row(site.db, "list_instances", subscription_id=LIST_ID)
    assert bytes(instance["data"]) == data and instance["version"] == "1" and instance["current"] == 1
    assert instance["signer_dn"] == site.pki.good.subject_openssl
    states = {r["uuid"]: (r["selected"], r["available"]) for r in site.db.conn.execute("SELECT * FROM images")}
    assert states == {uuid(1): (0, 1), uuid(2): (0, 1)}
    assert sorted(done.result.new_images) == [uuid(1), uuid(2)]


def test_an_unchanged_list_costs_one_conditional_get_and_no_write(site):
    site.publish("1", [image(1)])
    _subscribe(site)
    before = dump(site.db)
    result = update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW)
    assert (result.status, result.new_images) == (UNCHANGED, [])
    last = site.gets()[-1][2]
    assert last["If-None-Match"] and last["If-Modified-Since"]
    assert len(site.gets()) == 2  # the subscribe, then one conditional GET
    assert dump(site.db) == before


def test_a_new_version_adds_and_withdraws_images(site):
    site.publish("1", [image(1), image(2)])
    _subscribe(site)
    service.set_selected(site.db, [uuid(2)], True)
    site.publish("2", [image(2, version="2"), image(3)])
    result = update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW)
    assert (result.status, result.version) == (UPDATED, "2")
    assert (result.new_images, result.removed_images) == ([uuid(3)], [uuid(1)])
    states = {r["uuid"]: (r["selected"], r["available"], r["version"]) for r in site.db.conn.execute("SELECT * FROM images")}
    assert states == {uuid(1): (0, 0, "1"), uuid(2): (1, 1, "2"), uuid(3): (0, 1, "1")}
    currents = site.db.conn.execute("SELECT version, current FROM list_instances ORDER BY id").fetchall()
    assert [tuple(r) for r in currents] == [("1", 0), ("2", 1)]


@pytest.mark.parametrize("mode,expected", [("subscribe", {uuid(1): 1, uuid(2): 1}), ("refuse", {uuid(1): 0})])
def test_new_images_mode(site, mode, expected):
    site.publish("1", [image(1)])
    _subscribe(site, new_images=mode)
    if mode == "refuse":
        service.set_selected(site.db, [uuid(1)], False)
    site.publish("2", [image(1), image(2)])
    result = update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW)
    assert {r["uuid"]: r["selected"] for r in site.db.conn.execute("SELECT * FROM images")} == expected
    assert result.refused_images == ([uuid(2)] if mode == "refuse" else [])


def _refused(site, reason, **publish):
    site.publish("5", [image(1)])
    _subscribe(site)
    before = dump(site.db)
    site.publish(**publish)
    result = update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW)
    assert result.status == REFUSED and result.exit_code == errors.RECORD_REFUSED, result
    assert reason in result.error and "\n" not in result.error
    assert without_last_error(dump(site.db), site.db) == without_last_error(before, site.db)
    assert row(site.db, "subscriptions", id=LIST_ID)["last_error"] == result.error
    return result


def test_tampered_list_changes_nothing(site):
    _refused(site, "digest mismatch", version="6", images=[image(1), image(2)], tamper=b"Subscribed test lisT")


def test_downgraded_list_changes_nothing(site):
    _refused(site, "lower than 5", version="4", images=[image(1), image(2)])


def test_future_dated_list_changes_nothing(site):
    _refused(site, "created in the future", version="6", images=[image(2)], created=NOW + DAY)


def test_expired_list_changes_nothing(site):
    _refused(site, "expired", version="6", images=[image(2)], created=NOW - 3 * DAY, expires=NOW - DAY)


def test_same_version_other_content_changes_nothing(site):
    _refused(site, "with different content", version="5", images=[image(1), image(2)])


def test_changed_identifier_changes_nothing(site):
    _refused(site, "is not the subscribed", version="6", images=[image(1)], identifier="another-list")


def test_revoked_signer_changes_nothing(site):
    _refused(site, "revoked", version="6", images=[image(2)], signer=site.pki.revoked)


def test_image_missing_a_required_key_refuses_the_list_by_name(site):
    _refused(site, f"image {uuid(2)}: hv:uri is missing", version="6", images=[image(1), image(2, **{"hv:uri": None})])


def test_pinned_subscription_refuses_another_trusted_signer(site):
    site.publish("1", [image(1)])
    done = _subscribe(site, auto_endorse=True)
    assert done.auto_endorsed.startswith(site.pki.good.subject_openssl)
    assert (done.subscription.endorser_dn, done.subscription.auto_endorsed) == (site.pki.good.subject_openssl, True)
    before = dump(site.db)
    site.publish("2", [image(1), image(2)], signer=site.pki.mail)  # trusted by the trust file, not pinned
    result = update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW)
    assert result.status == REFUSED and "pinned for this subscription" in result.error
    assert without_last_error(dump(site.db), site.db) == without_last_error(before, site.db)
    site.publish("3", [image(1), image(2)])  # the pinned signer again: accepted
    assert update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW).status == UPDATED


def test_explicit_pin_accepts_a_signer_outside_the_trust_file(pki, tmp_path):  # noqa: F811
    site = make_site(pki, tmp_path, trust="# nobody\n")
    try:
        site.publish("1", [image(1)])
        with pytest.raises(RecordError, match="not trusted"):
            _subscribe(site)
        done = _subscribe(site, endorser_dn=pki.good.subject_openssl, endorser_ca=pki.good.issuer_openssl)
        assert done.subscription.endorser_ca == pki.good.issuer_openssl
    finally:
        site.server.stop()


def test_hv_uri_elsewhere_is_a_warning_and_the_url_stays(site):
    site.publish("1", [image(1)], uri="https://elsewhere.example.org/list")
    done = _subscribe(site)
    assert done.subscription.url == site.url
    assert any("elsewhere.example.org" in w for w in done.result.warnings)


def test_basic_auth_from_a_password_file(site, tmp_path):
    site.publish("1", [image(1)])
    site.server.require_auth("alice", "s3cret")
    secret = tmp_path / "password"
    secret.write_text("wrong\n")
    with pytest.raises(SourceError, match="401"):
        _subscribe(site, username="alice", password_file=str(secret))
    assert dump(site.db)["subscriptions"] == []
    secret.write_text("s3cret\n")
    _subscribe(site, username="alice", password_file=str(secret))
    assert update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW).status == UNCHANGED
    assert site.gets()[-1][2]["Authorization"].startswith("Basic ")


def test_one_refused_subscription_does_not_stop_the_others(site):
    site.publish("1", [image(1)])
    _subscribe(site)
    other_url = site.server.url("lists/other.list")
    site.publish("1", [image(7)], name="other.list", identifier="other-list")
    service.subscribe(site.db, other_url, SubscribeOptions(), HTTP, site.policy, NOW)
    site.publish("0", [image(1)])  # a downgrade of the first
    site.publish("2", [image(7), image(8)], name="other.list", identifier="other-list")
    results = {r.subscription_id: r for r in update_all(site.db, HTTP, site.policy, NOW)}
    assert results[LIST_ID].status == REFUSED and results["other-list"].status == UPDATED
    assert results["other-list"].new_images == [uuid(8)]
    assert exit_code(list(results.values())) == errors.RECORD_REFUSED


def test_subscribe_refusals_are_usage_errors_before_download(site, tmp_path):
    site.publish("1", [image(1)])
    for options in ({"new_images": "maybe"}, {"endorser_ca": "/CN=x"}, {"username": "u"},
                    {"auto_endorse": True, "endorser_dn": "/CN=x"},
                    {"username": "u", "password_file": str(tmp_path / "missing")}):
        with pytest.raises(UsageError):
            _subscribe(site, **options)
    assert site.gets() == []
    _subscribe(site)
    with pytest.raises(UsageError, match="already subscribed"):
        _subscribe(site)


def test_real_signed_lists_refused_for_their_unknown_chain_then_read_unverified(site):
    url = str(FIX / "hepix_signed_image_list.originale")
    with pytest.raises(RecordError) as caught:
        service.subscribe(site.db, url, SubscribeOptions(), HTTP, site.policy, NOW)
    assert "chain not checked" in str(caught.value) and dump(site.db)["subscriptions"] == []
    when = dt.datetime(2014, 1, 1, tzinfo=dt.timezone.utc)
    unsafe = UnsafeNoVerify(clock=lambda: when)
    done = service.subscribe(site.db, url, SubscribeOptions(), HTTP, unsafe, when)
    assert done.subscription.url == url and len(done.result.new_images) > 0
    assert service.show(site.db, done.subscription.id, "smime") == (FIX / "hepix_signed_image_list.originale").read_bytes()


def test_an_hv_endorser_array_is_read(site):
    site.publish("1", [image(1)], signer=site.pki.mail, endorsers=[site.pki.good, site.pki.mail])
    done = _subscribe(site)
    assert row(site.db, "list_instances", subscription_id=LIST_ID)["signer_dn"] == site.pki.mail.subject_openssl
    assert done.result.new_images == [uuid(1)]
    site.publish("2", [image(1)], signer=site.pki.mail, endorsers=[site.pki.good, site.pki.revoked])
    result = update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW)
    assert result.status == REFUSED and "none of the list's 2 hv:endorser entries" in result.error


def test_tls_list_host_is_verified(pki, tmp_path):  # noqa: F811
    (tmp_path / "tls").mkdir()
    mirror = make_mirror_pki(tmp_path / "tls")
    site = make_site(pki, tmp_path, tls=mirror.server_context)
    try:
        site.publish("1", [image(1)])
        assert site.url.startswith("https://")
        with pytest.raises(SourceError, match="TLS error"):
            _subscribe(site)
        trusted = replace(HTTP, ca_file=str(mirror.ca_file))
        service.subscribe(site.db, site.url, SubscribeOptions(), trusted, site.policy, NOW)
        assert update_subscription(site.db, LIST_ID, trusted, site.policy, NOW).status == UNCHANGED
    finally:
        site.server.stop()


def test_signer_not_the_lists_hv_dn_changes_nothing(site):
    site.publish("5", [image(1)])
    _subscribe(site)
    before = dump(site.db)
    # Names the good endorser, signed by another trusted one.
    data = sign_list(hepix_list(site.pki.good, "6", [image(1), image(2)]), site.pki.mail, site.tmp)
    (site.root / "lists" / "image.list").write_bytes(data)
    result = update_subscription(site.db, LIST_ID, HTTP, site.policy, NOW)
    assert result.status == REFUSED and "is not hv:dn" in result.error
    assert without_last_error(dump(site.db), site.db) == without_last_error(before, site.db)


def test_a_password_in_the_url_is_refused(site):
    with pytest.raises(UsageError, match="--password-file"):
        service.subscribe(site.db, site.url.replace("://", "://alice:pw@"), SubscribeOptions(), HTTP,
                          site.policy, NOW)
    assert site.gets() == []


def test_an_image_listed_twice_refuses_the_list(site):
    _refused(site, f"image {uuid(2)} is listed twice", version="6", images=[image(2), image(1), image(2)])


def test_tls_list_host_with_a_grid_ca_certificate(pki, tmp_path):  # noqa: F811
    (tmp_path / "tls").mkdir()
    mirror = make_mirror_pki(tmp_path / "tls")
    grid = tmp_path / "grid"
    shutil.copytree(pki.ca_dirs["valid"], grid)
    site = make_site(pki, tmp_path, tls=mirror.server_context)
    try:
        site.publish("1", [image(1)])
        with pytest.raises(SourceError, match="TLS error"):
            _subscribe(site)  # neither the system CAs nor the grid directory know the host's CA
        shutil.copy(mirror.ca_file, grid / f"{subject_hash(mirror.ca_file)}.0")
        policy = TrustPolicy(replace(site.policy.settings, ca_dir=grid),
                             site.policy.endorsers)
        service.subscribe(site.db, site.url, SubscribeOptions(), HTTP, policy, NOW)
        assert update_subscription(site.db, LIST_ID, HTTP, policy, NOW).status == UNCHANGED
    finally:
        site.server.stop()


def test_real_cloudkeeper_lists_chain_to_their_ca_but_are_refused_for_the_dn(site):
    policy = TrustPolicy.from_options(ca_dir=str(FIX / "cloudkeeper" / "ca"), env={}, files=[], trust_file=None)
    for name in ("imagelist01.signed", "imagelist02.signed"):
        with pytest.raises(RecordError, match="is not hv:dn"):
            service.subscribe(site.db, str(FIX / "cloudkeeper" / name), SubscribeOptions(), HTTP, policy, NOW)
    assert dump(site.db) == {"subscriptions": [], "list_instances": [], "images": []}


def test_one_policy_per_pin_in_a_run(site):
    policies = RunPolicies(site.policy, NOW)
    plain = [Subscription(id=f"s{n}", url=f"u{n}") for n in range(3)]
    pinned = [Subscription(id=f"p{n}", url=f"v{n}", endorser_dn=site.pki.good.subject_openssl) for n in range(2)]
    assert len({id(policies.for_subscription(s)) for s in plain}) == 1
    assert len({id(policies.for_subscription(s)) for s in pinned}) == 1
    assert policies.for_subscription(plain[0]) is not policies.for_subscription(pinned[0])
    assert RunPolicies(UnsafeNoVerify(), NOW).for_subscription(plain[0]).__class__ is UnsafeNoVerify
