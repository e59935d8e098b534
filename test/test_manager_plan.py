# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The per-ID decision: nothing, import, upgrade, restore, adopt, or refuse."""

from __future__ import annotations

import pytest

from glancing.errors import RecordError
from glancing.manager.images import Snapshot
from glancing.manager.plan import Action, Candidate, digest_match, plan_image
from glancing.model import DigestScope, Expected, ImageSpec, Location, Origin
from manager_helpers import backup, image, mpid, when

MD5, SHA512 = "a" * 32, "b" * 128
OLD, NEW = mpid("v1"), mpid("v2")
TITLE = "FG_Cloud-Ubuntu-14.04-x86_64"


def cand(mp=NEW, version="2.0", endorsed=when(20), md5=MD5, sha512=SHA512, size=1024):
    digests = {k: v for k, v in (("md5", md5), ("sha512", sha512)) if v}
    return Candidate(mp, TITLE, version, endorsed, digests, size)


def current(mp=OLD, version="1.0", md5="c" * 32, sha512="d" * 128, **extra):
    return image("cur", TITLE, mpid=mp, version=version, checksum=md5, os_hash_value=sha512, **extra)


def test_first_import():
    decision = plan_image(cand(), Snapshot([]))
    assert decision.action is Action.IMPORT and decision.uploads
    assert decision.describe() == f"import {TITLE} 2.0 ({NEW}): first import"


def test_present_with_same_mpid_and_digest_is_nothing():
    decision = plan_image(cand(), Snapshot([current(mp=NEW, version="2.0", md5=MD5, sha512=SHA512)]))
    assert decision.action is Action.NOTHING and not decision.uploads
    assert decision.target.id == "cur"


def test_same_mpid_with_another_digest_is_a_conflict_not_a_silent_pass():
    decision = plan_image(cand(), Snapshot([current(mp=NEW, md5=MD5, sha512="e" * 128)]))
    assert decision.action is Action.REFUSE
    assert "digest or size differs" in decision.reason


def test_newer_version_upgrades_and_retires_current():
    decision = plan_image(cand(version="10"), Snapshot([current(version="9")]))
    assert decision.action is Action.UPGRADE and decision.uploads
    assert decision.retire.id == "cur"


def test_older_version_is_a_refused_downgrade():
    decision = plan_image(cand(version="1.9"), Snapshot([current(version="1.10")]))
    assert decision.action is Action.REFUSE and decision.retire is None
    assert decision.reason.startswith("downgrade refused: current version 1.10 (cur)")


def test_non_numeric_versions_use_endorsement_dates():
    older = current(version="stable", endorsed_at="2024-01-25T00:00:00Z")
    assert plan_image(cand(version="beta", endorsed=when(20)), Snapshot([older])).action is Action.REFUSE
    assert plan_image(cand(version="beta", endorsed=when(30)), Snapshot([older])).action is Action.UPGRADE


def test_unorderable_versions_let_the_listed_id_win():
    decision = plan_image(cand(version=None), Snapshot([current(version=None)]))
    assert decision.action is Action.UPGRADE
    assert "cannot be ordered" in decision.reason


def test_same_version_same_date_different_image_is_refused():
    cur = current(version="2.0", endorsed_at="2024-01-20T00:00:00Z")
    decision = plan_image(cand(version="2.0", endorsed=when(20)), Snapshot([cur]))
    assert decision.action is Action.REFUSE and "refusing to replace" in decision.reason


def hand_uploaded(**extra):
    fields = dict(tags=[], checksum=MD5, os_hash_value=SHA512)
    fields.update(extra)
    return image("hand", "my ubuntu", **fields)


def test_adopts_an_unmanaged_image_with_the_same_strong_digest():
    decision = plan_image(cand(), Snapshot([]), unmanaged=[hand_uploaded()])
    assert decision.action is Action.ADOPT and not decision.uploads
    assert decision.target.id == "hand" and decision.retire is None


def test_adoption_as_an_upgrade_retires_the_current_image():
    decision = plan_image(cand(), Snapshot([current()]), unmanaged=[hand_uploaded()])
    assert decision.action is Action.ADOPT and decision.retire.id == "cur"


@pytest.mark.parametrize("extra", [
    {"os_hash_value": None},                       # md5 alone is too weak to adopt on
    {"os_hash_value": "f" * 128},                  # sha512 differs
    {"size": 999},                                 # size differs
    {"status": "deactivated"},                     # not usable
    {"tags": ["glancing"]},                        # managed already: not the store's to adopt
])
def test_no_adoption_without_a_full_strong_match(extra):
    decision = plan_image(cand(), Snapshot([]), unmanaged=[hand_uploaded(**extra)])
    assert decision.action is Action.IMPORT


def test_listed_id_kept_as_backup_and_newer_is_restored_without_upload():
    kept = backup("bk", TITLE, "2.0", day=3, mpid=NEW, checksum=MD5, os_hash_value=SHA512)
    decision = plan_image(cand(version="2.0"), Snapshot([current(version="1.0"), kept]))
    assert decision.action is Action.RESTORE and not decision.uploads
    assert (decision.target.id, decision.retire.id) == ("bk", "cur")


def test_listed_id_already_retired_as_older_is_a_downgrade():
    kept = backup("bk", TITLE, "1.0", day=3, mpid=OLD)
    cur = current(mp=NEW, version="2.0")
    decision = plan_image(cand(mp=OLD, version="1.0"), Snapshot([cur, kept]))
    assert decision.action is Action.REFUSE and "already retired as backup bk" in decision.reason


def test_retired_id_with_unorderable_versions_does_not_flip_flop():
    kept = backup("bk", TITLE, "", day=3, mpid=OLD)
    decision = plan_image(cand(mp=OLD, version=None), Snapshot([current(mp=NEW, version=None), kept]))
    assert decision.action is Action.REFUSE


def test_rolled_back_version_is_not_reinstated():
    kept = backup("bk", TITLE, "2.0", day=3, mpid=NEW, glancing_rolled_back="2024-01-04T00:00:00Z")
    decision = plan_image(cand(version="2.0"), Snapshot([current(version="1.0"), kept]))
    assert decision.action is Action.REFUSE and "rolled back" in decision.reason


def test_several_current_images_for_one_appliance_are_refused():
    two = [current(), image("cur2", TITLE, mpid=mpid("x"), version="1.1")]
    decision = plan_image(cand(), Snapshot(two))
    assert decision.action is Action.REFUSE and "cur, cur2" in decision.reason


def test_digest_match_rules():
    img = current(md5=MD5, sha512=SHA512)
    assert digest_match(img, {"md5": MD5.upper()}) is True
    assert digest_match(img, {"sha1": "0" * 40}) is None
    assert digest_match(img, {"md5": MD5, "sha512": "0" * 128}) is False
    assert digest_match(img, {"md5": MD5}, size=1) is False



def test_converted_image_matches_by_the_digests_of_the_source_only():
    # Glance's size, checksum and os_hash_value describe the converted disk, not the OVA.
    img = current(md5="c" * 32, sha512="d" * 128, glancing_converted_from="vmdk", glancing_ova_disk="d.vmdk",
                  glancing_original_md5=MD5, glancing_sha512=SHA512)
    assert digest_match(img, {"md5": MD5, "sha512": SHA512}, size=1) is True
    assert digest_match(img, {"md5": "0" * 32}) is False
    assert digest_match(img, {"sha1": "0" * 40}) is None


def spec(**changes):
    fields = dict(
        locations=(Location("http://example.org/i.img"),), origin=Origin.REMOTE,
        expected=Expected(size=5, digests={"MD5": "AB", "sha1": "cd"}, scope=DigestScope.UNCOMPRESSED),
        name=TITLE, version="20160411", properties={"endorsed_at": "2016-05-17T06:39:18Z"})
    fields.update(changes)
    return ImageSpec(**fields)


def test_candidate_from_spec():
    c = Candidate.from_spec(spec(), NEW)
    assert (c.appliance, c.version, c.size, c.digests) == (TITLE, "20160411", 5, {"md5": "ab", "sha1": "cd"})
    assert c.endorsed.isoformat() == "2016-05-17T06:39:18+00:00"
    # Digests of the bytes as downloaded (maybe compressed) say nothing about what Glance stores.
    as_given = Candidate.from_spec(spec(expected=Expected(size=5, digests={"md5": "ab"})), NEW)
    assert as_given.digests == {} and as_given.size is None
    with pytest.raises(RecordError, match="no image name"):
        Candidate.from_spec(spec(name=None), NEW)


def test_verified_digest_properties_are_compared_too():
    img = current(mp=NEW, md5=None, sha512=None, glancing_sha256="1" * 64)
    assert digest_match(img, {"sha256": "1" * 64}) is True
    assert digest_match(img, {"sha256": "2" * 64}) is False


def test_interrupted_retirement_is_finished():
    new = current(mp=NEW, version="2.0", md5=MD5, sha512=SHA512)
    old = image("old", TITLE, mpid=OLD, version="1.0")
    decision = plan_image(cand(), Snapshot([old, new]))
    assert decision.action is Action.NOTHING
    assert (decision.target.id, decision.retire.id) == ("cur", "old")
    assert "interrupted run" in decision.reason
