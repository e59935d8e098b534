# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The check of the target's stored copy, and the verdict on names, against the shared FakeTarget
(pure logic; the real Glance cases are in test_import_glance.py and test_target_contract.py)."""

import hashlib
from dataclasses import replace

import pytest

from faketarget import FakeTarget
from glancing.dataflow import FlowResult
from glancing.errors import DigestMismatch, ServerDigestMismatch, UsageError
from glancing.model import Expected, ImageSpec, Location, Origin
from glancing.pipeline import ImportOptions, check_stored_copy, image_properties, import_image
from glancing.targets.base import StoredCopy
from glancing.targets.glance import LIMITS
from images import digest, make_raw

DATA = b"stored image bytes" * 1000


def h(alg):
    return hashlib.new(alg, DATA).hexdigest()


def holding(data=DATA):
    target = FakeTarget()
    target.images["i"] = {"id": "i"}
    target.data["i"] = data
    return target


def spec(**digests):
    return ImageSpec(locations=(Location("x"),), origin=Origin.USER, expected=Expected(digests=digests))


def copy(**digests):
    return StoredCopy("i", "active", len(DATA), digests)


def test_deferred_digests_are_judged_on_the_targets_values():
    flow = FlowResult(size=len(DATA), digests={"sha512": h("sha512")}, deferred=["md5"])
    check_stored_copy(holding(), copy(md5=h("md5"), sha512=h("sha512")), flow, spec(md5=h("md5")))
    assert flow.verified == ["md5"] and flow.digests["md5"] == h("md5")
    flow = FlowResult(size=len(DATA), digests={"sha512": h("sha512")}, deferred=["md5"])
    with pytest.raises(DigestMismatch, match="as stored by the target"):
        check_stored_copy(holding(), copy(md5=h("md5"), sha512=h("sha512")), flow, spec(md5="0" * 32))


def test_a_local_digest_the_target_disagrees_with_is_a_server_fault():
    flow = FlowResult(size=len(DATA), digests={"md5": h("md5"), "sha512": h("sha512")})
    with pytest.raises(ServerDigestMismatch):
        check_stored_copy(holding(), copy(md5="f" * 32), flow, spec())


def test_a_deferred_digest_the_target_does_not_compute_is_checked_on_a_download():
    flow = FlowResult(size=len(DATA), digests={"md5": h("md5")}, deferred=["sha512"])
    check_stored_copy(holding(), copy(md5=h("md5"), sha256=h("sha256")), flow, spec(sha512=h("sha512")))
    assert flow.verified == ["sha512"] and flow.digests["sha512"] == h("sha512")
    flow = FlowResult(size=len(DATA), digests={"md5": h("md5")}, deferred=["sha512"])
    with pytest.raises(DigestMismatch, match="downloaded back"):
        check_stored_copy(holding(b"other bytes"), copy(md5=h("md5"), sha256=h("sha256")), flow,
                          spec(sha512=h("sha512")))


def test_property_values_fit_glances_255_characters():
    long_dn = "/DC=org/DC=example/" + "OU=unit/" * 40 + "CN=endorser"
    props = LIMITS.fit(image_properties(spec(), ImportOptions(properties={"endorser_dn": long_dn, "short": "x"}),
                                        FlowResult(), {}))
    assert len(props["endorser_dn"]) == 255 and props["endorser_dn"].endswith("\u2026")
    assert props["short"] == "x"


@pytest.mark.parametrize("dry_run", [True, False])
@pytest.mark.parametrize("options, message", [
    (ImportOptions(name="n" * 256), "256 characters long"),
    (ImportOptions(name="ok", properties={"k" * 256: "v"}), "longer than 255"),
    (ImportOptions(name="ok", container_format="tarball"), "container format 'tarball'"),
])
def test_a_dry_run_refuses_what_the_import_would(tmp_path, dry_run, options, message):
    raw = make_raw(tmp_path / "a.img", size_mib=1)
    source = ImageSpec(locations=(Location(str(raw)),), origin=Origin.USER,
                       expected=Expected(digests={"sha256": digest(raw)}))
    target = FakeTarget()
    with pytest.raises(UsageError, match=message):
        import_image(source, replace(options, dry_run=dry_run), None if dry_run else target)
    assert target.changes == []


def test_a_wrong_digest_discards_the_staged_upload(tmp_path):
    raw = make_raw(tmp_path / "a.img", size_mib=1)
    source = ImageSpec(locations=(Location(str(raw)),), origin=Origin.USER,
                       expected=Expected(digests={"sha256": "0" * 64}))
    target = FakeTarget()
    with pytest.raises(DigestMismatch):
        import_image(source, ImportOptions(name="x"), target)
    # Whether the verdict came before or during the upload, nothing is left.
    assert target.images == {} and [c[0] for c in target.changes] in ([], ["stage", "delete"])


def test_a_corrupted_stored_copy_is_a_server_fault_and_is_discarded(tmp_path):
    raw = make_raw(tmp_path / "a.img", size_mib=1)
    source = ImageSpec(locations=(Location(str(raw)),), origin=Origin.USER,
                       expected=Expected(digests={"sha256": digest(raw)}))
    target = FakeTarget()
    target.corrupt = True
    with pytest.raises(ServerDigestMismatch):
        import_image(source, ImportOptions(name="x"), target)
    assert target.images == {}
