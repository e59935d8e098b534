# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager -l with its database against the real Glance lab and the loopback marketplace:
a no-op run asks the marketplace conditionally and verifies nothing; a new record is verified
and imported; without a usable database the run behaves as before."""

from __future__ import annotations

import sqlite3

import pytest

from test_manager_glance import Site


@pytest.fixture
def site(tmp_path, http_server, marketplace, pki, run_cli, lab, glance, glance_cleanup) -> Site:
    (tmp_path / "www").mkdir()
    return Site(tmp_path, http_server(tmp_path / "www"), marketplace, pki, run_cli, lab, glance)


def verdicts(path) -> dict:
    with sqlite3.connect(str(path)) as conn:
        return {mpid: sha for mpid, sha in conn.execute("SELECT mpid, data_sha512 FROM verified_records")}


def test_noop_run_with_a_database_verifies_nothing_and_a_new_version_is_verified(site):
    db = site.tmp / "state" / "glancing.db"
    ids = [site.publish(name, "1") for name in ("Alpha", "Beta", "Gamma")]
    out = site.report("--db", str(db), "--jobs", "2", ids=ids)
    assert out["counts"]["imported"] == 3, out
    first = verdicts(db)
    assert sorted(first) == sorted(ids)
    assert oct(db.stat().st_mode & 0o777) == "0o600"

    gets = site.image_gets()
    out = site.report("--db", str(db), "--jobs", "2", ids=ids)
    assert out["counts"]["unchanged"] == 3, out
    assert site.marketplace.answered_304 == 3  # one conditional GET per ID, nothing re-verified
    assert site.image_gets() == gets and verdicts(db) == first

    new_id = site.publish("Beta", "2")  # a new image: a new ID, verified once
    out = site.report("--db", str(db), ids=[*ids, new_id])
    assert out["counts"]["imported"] == 1 and out["counts"]["unchanged"] == 3, out
    assert site.marketplace.answered_304 == 6 and new_id in verdicts(db)


def test_an_unusable_named_database_is_a_one_line_error(site):
    blocked = site.tmp / "a-file"
    blocked.write_text("")
    res = site.run("--db", str(blocked / "glancing.db"), ids=[site.publish("Delta", "1")])
    assert res.returncode not in (0, 70), res.stderr
    assert "cannot create the database" in res.stderr and "Traceback" not in res.stderr
    assert site.images("Delta") == []
