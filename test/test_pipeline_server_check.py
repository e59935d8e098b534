# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The check of Glance's stored copy, with a stand-in store (pure logic; the real Glance cases are
in test_import_glance.py)."""

import hashlib

import pytest

from glancing.dataflow import FlowResult
from glancing.errors import DigestMismatch, ServerDigestMismatch
from glancing.model import Expected, ImageSpec, Location, Origin
from glancing.pipeline import _check_server_copy

DATA = b"stored image bytes" * 1000


def h(alg):
    return hashlib.new(alg, DATA).hexdigest()


class Store:
    def __init__(self):
        self.downloads = 0

    def download(self, image_id):
        self.downloads += 1
        yield DATA


def spec(**digests):
    return ImageSpec(locations=(Location("x"),), origin=Origin.USER, expected=Expected(digests=digests))


def image(**fields):
    return {"id": "i", "status": "active", "size": len(DATA), **fields}


def test_deferred_digests_are_judged_on_glances_values():
    flow = FlowResult(size=len(DATA), digests={"sha512": h("sha512")}, deferred=["md5"])
    _check_server_copy(Store(), image(checksum=h("md5"), os_hash_algo="sha512", os_hash_value=h("sha512")),
                       flow, spec(md5=h("md5")))
    assert flow.verified == ["md5"] and flow.digests["md5"] == h("md5")
    flow = FlowResult(size=len(DATA), digests={"sha512": h("sha512")}, deferred=["md5"])
    with pytest.raises(DigestMismatch, match="as stored by Glance"):
        _check_server_copy(Store(), image(checksum=h("md5"), os_hash_algo="sha512", os_hash_value=h("sha512")),
                           flow, spec(md5="0" * 32))


def test_a_local_digest_glance_disagrees_with_is_a_server_fault():
    flow = FlowResult(size=len(DATA), digests={"md5": h("md5"), "sha512": h("sha512")})
    with pytest.raises(ServerDigestMismatch):
        _check_server_copy(Store(), image(checksum="f" * 32), flow, spec())


def test_a_deferred_digest_glance_does_not_compute_is_checked_on_a_download():
    store = Store()
    flow = FlowResult(size=len(DATA), digests={"md5": h("md5")}, deferred=["sha512"])
    _check_server_copy(store, image(checksum=h("md5"), os_hash_algo="sha256", os_hash_value=h("sha256")),
                       flow, spec(sha512=h("sha512")))
    assert store.downloads == 1 and flow.verified == ["sha512"]
    flow = FlowResult(size=len(DATA), digests={"md5": h("md5")}, deferred=["sha512"])
    with pytest.raises(DigestMismatch, match="downloaded back"):
        _check_server_copy(Store(), image(checksum=h("md5"), os_hash_algo="sha256", os_hash_value=h("sha256")),
                           flow, spec(sha512="0" * 128))


def test_property_values_fit_glances_255_characters():
    from glancing.dataflow import FlowResult as Flow
    from glancing.pipeline import ImportOptions, _properties

    long_dn = "/DC=org/DC=example/" + "OU=unit/" * 40 + "CN=endorser"
    props = _properties(spec(), ImportOptions(properties={"endorser_dn": long_dn, "short": "x"}), Flow(), {})
    assert len(props["endorser_dn"]) == 255 and props["endorser_dn"].endswith("\u2026")
    assert props["short"] == "x"
