# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The verdict cache of the marketplace ID lists (glancing.manager.verified), against the real
loopback marketplace, the tests' own CA and CRLs, and a real SQLite database: an unchanged
record is not verified again, and every input of a verdict that moves makes it verified again."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from glancing.errors import GlancingError, RecordExpired, SignatureError
from glancing.manager.verified import CacheOptions, VerifiedRecords, spec_from_json, spec_to_json
from glancing.sources import SourceSettings, marketplace_spec
from glancing.subscriptions.db import Database
from glancing.trust.policy import TrustPolicy
from marketplace import DAY, NOW, marketplace, signed_record  # noqa: F401 - fixture
from trustkit import pki  # noqa: F401 - fixture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(4096))
    return path


@pytest.fixture
def ca_dir(tmp_path: Path, pki) -> Path:  # noqa: F811 - fixture
    """A copy of the valid CA directory, so a test may touch its CRL."""
    target = tmp_path / "certificates"
    shutil.copytree(pki.ca_dirs["valid"], target)
    return target


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(str(tmp_path / "state" / "glancing.db"))
    yield database
    database.conn.close()


def settings_for(market, ca_dir: Path, pki, tmp: Path, now=None, **extra) -> SourceSettings:  # noqa: F811
    trust_file = tmp / "trusted-endorsers"
    if not trust_file.exists():
        trust_file.write_text("")
    policy = TrustPolicy.from_options(ca_dir=str(ca_dir), trust_file=str(trust_file),
                                      endorsers=[pki.good.subject_openssl, pki.revoked.subject_openssl])
    kwargs = {"now": now} if now else {}
    return SourceSettings(policy=policy, marketplace_url=market.base, **kwargs, **extra)


def run(db: Database, settings: SourceSettings, mpid: str, options: CacheOptions = CacheOptions()):
    """One glance_manager run's worth: the spec and what it cost."""
    cache = VerifiedRecords(db.conn, settings, options)
    try:
        spec = cache(mpid)
    finally:
        cache.close()
    return spec, cache.counts


def test_an_unchanged_record_is_verified_once(marketplace, pki, image, ca_dir, db, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"], title="once"))
    settings = settings_for(marketplace, ca_dir, pki, tmp_path)
    first, counts = run(db, settings, mpid)
    assert counts["verified"] == 1
    assert first == marketplace_spec(mpid, settings)  # the same spec as the uncached path
    for _ in range(2):
        again, counts = run(db, settings, mpid)
        assert counts == {"reused": 0, "not_modified": 1, "verified": 0, "uncached": 0}
        assert again == first
    assert marketplace.answered_304 == 2
    row = db.conn.execute("SELECT * FROM verified_records WHERE mpid = ?", (mpid,)).fetchone()
    assert row["etag"] and row["signer_not_after"] and "signature valid" in row["summary"]


@pytest.mark.parametrize("validators", ["none", "last-modified"])
def test_without_an_etag_the_bytes_decide(marketplace, pki, image, ca_dir, db, tmp_path, validators):  # noqa: F811
    marketplace.conditional = validators
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"]))
    settings = settings_for(marketplace, ca_dir, pki, tmp_path)
    run(db, settings, mpid)
    _, counts = run(db, settings, mpid)
    expected = "not_modified" if validators == "last-modified" else "reused"
    assert counts[expected] == 1 and counts["verified"] == 0


def test_a_new_record_is_verified(marketplace, pki, image, ca_dir, db, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"], version="1",
                                             created=NOW - 2 * DAY))
    settings = settings_for(marketplace, ca_dir, pki, tmp_path)
    run(db, settings, mpid)
    marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"], version="2"))
    spec, counts = run(db, settings, mpid)
    assert counts["verified"] == 1 and spec.version == "2"


def test_a_new_record_that_fails_leaves_no_verdict(marketplace, pki, image, ca_dir, db, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"],
                                             created=NOW - 2 * DAY))
    settings = settings_for(marketplace, ca_dir, pki, tmp_path)
    run(db, settings, mpid)
    marketplace.records[mpid] = []  # withdrawn, and a revoked signer's record takes its place
    marketplace.publish(signed_record(pki.revoked, image, ["http://127.0.0.1:9/disk.img"]))
    with pytest.raises(SignatureError, match="revoked"):
        run(db, settings, mpid)
    assert db.conn.execute("SELECT COUNT(*) FROM verified_records").fetchone()[0] == 0


def _touch_crl(ca_dir: Path, tmp: Path) -> None:
    crl = next(ca_dir.glob("*.r0"))
    stat = crl.stat()
    os.utime(crl, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # fetch-crl rewrote it


def _new_crl_file(ca_dir: Path, tmp: Path) -> None:
    crl = next(ca_dir.glob("*.r0"))
    shutil.copy(crl, crl.with_name(crl.name[:-1] + "1"))


def _trust_file_edited(ca_dir: Path, tmp: Path) -> None:
    (tmp / "trusted-endorsers").write_text("# an endorser removed\n")


@pytest.mark.parametrize("move", [_touch_crl, _new_crl_file, _trust_file_edited])
def test_moved_trust_inputs_verify_again(marketplace, pki, image, ca_dir, db, tmp_path, move):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"]))
    run(db, settings_for(marketplace, ca_dir, pki, tmp_path), mpid)
    move(ca_dir, tmp_path)
    _, counts = run(db, settings_for(marketplace, ca_dir, pki, tmp_path), mpid)
    assert counts["verified"] == 1 and counts["not_modified"] == 0


def test_other_endorser_pins_verify_again(marketplace, pki, image, ca_dir, db, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"]))
    run(db, settings_for(marketplace, ca_dir, pki, tmp_path), mpid)
    policy = TrustPolicy.from_options(ca_dir=str(ca_dir), trust_file=str(tmp_path / "trusted-endorsers"),
                                      endorsers=[pki.mail.subject_openssl])
    with pytest.raises(SignatureError, match="not trusted|trust"):
        run(db, SourceSettings(policy=policy, marketplace_url=marketplace.base), mpid)


def test_a_signer_near_expiry_is_verified_every_run(marketplace, pki, image, ca_dir, db, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"]))
    settings = settings_for(marketplace, ca_dir, pki, tmp_path)
    near = CacheOptions(near_expiry=dt.timedelta(days=400))  # the signer's certificate ends in 365 days
    for _ in range(2):
        _, counts = run(db, settings, mpid, near)
        assert counts["verified"] == 1


def test_an_expiring_record_is_not_reused_past_its_date(marketplace, pki, image, ca_dir, db, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"],
                                             valid=NOW + dt.timedelta(hours=2)))
    run(db, settings_for(marketplace, ca_dir, pki, tmp_path), mpid)
    row = db.conn.execute("SELECT record FROM verified_records").fetchone()
    assert (NOW + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ") in row["record"]
    later = settings_for(marketplace, ca_dir, pki, tmp_path, now=lambda: NOW + dt.timedelta(hours=3))
    with pytest.raises(RecordExpired):
        run(db, later, mpid)


def test_the_crl_next_update_bounds_a_verdict(marketplace, pki, image, ca_dir, db, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"]))
    settings = settings_for(marketplace, ca_dir, pki, tmp_path)
    long = CacheOptions(max_age=dt.timedelta(days=300), near_expiry=dt.timedelta(days=1))
    run(db, settings, mpid, long)
    cache = VerifiedRecords(db.conn, settings, long)
    # trustkit's valid CRL is next updated 30 days from now: the verdict holds until then only.
    recheck = cache.entries[mpid].recheck_at
    assert recheck is not None and abs(recheck - (NOW + 30 * DAY)) < dt.timedelta(minutes=5)
    assert cache.usable(cache.entries[mpid], cache.entries[mpid].url, NOW + 31 * DAY) is None


def test_a_dead_marketplace_fails_as_without_a_database(marketplace, pki, image, ca_dir, db, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"]))
    run(db, settings_for(marketplace, ca_dir, pki, tmp_path), mpid)
    marketplace.raw(mpid, b"<html>down for maintenance</html>", status=404, ctype="text/html")
    with pytest.raises(GlancingError, match="404|no metadata|HTML|html"):
        run(db, settings_for(marketplace, ca_dir, pki, tmp_path), mpid)
    assert db.conn.execute("SELECT COUNT(*) FROM verified_records").fetchone()[0] == 0


def test_a_spec_survives_its_json(marketplace, pki, image, ca_dir, tmp_path):  # noqa: F811
    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"],
                                             compression="gz", deprecated=None))
    spec = marketplace_spec(mpid, settings_for(marketplace, ca_dir, pki, tmp_path))
    assert spec_from_json(spec_to_json(spec)) == spec
    assert spec.expected.digests and spec.expires is not None


def test_without_a_writable_default_database_every_record_is_verified(marketplace, pki, image, ca_dir,
                                                                      tmp_path):  # noqa: F811
    from glancing.manager.verified import for_run

    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"]))
    settings = settings_for(marketplace, ca_dir, pki, tmp_path)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    fetch = for_run(settings, str(blocked / "glancing.db"), explicit=False)
    assert not isinstance(fetch, VerifiedRecords)
    assert fetch(mpid) == marketplace_spec(mpid, settings)
    with pytest.raises(GlancingError, match="cannot create the database .*a-file"):
        for_run(settings, str(blocked / "glancing.db"), explicit=True)


def test_a_database_keeps_verdicts_across_runs_and_no_signature_keeps_none(marketplace, pki, image, ca_dir,
                                                                          tmp_path):  # noqa: F811
    from glancing.manager.verified import for_run
    from glancing.trust.policy import UnsafeNoVerify

    mpid = marketplace.publish(signed_record(pki.good, image, ["http://127.0.0.1:9/disk.img"]))
    settings = settings_for(marketplace, ca_dir, pki, tmp_path)
    path = str(tmp_path / "var" / "glancing.db")
    for expected in ("verified", "not_modified"):
        fetch = for_run(settings, path, explicit=False)
        assert isinstance(fetch, VerifiedRecords)
        fetch(mpid)
        fetch.close()
        assert fetch.counts[expected] == 1
    unsafe = SourceSettings(policy=UnsafeNoVerify(), marketplace_url=marketplace.base)
    fetch = for_run(unsafe, path, explicit=True)
    assert not isinstance(fetch, VerifiedRecords)
    assert fetch(mpid).version == "1"
