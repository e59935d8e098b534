# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager import-vmcatcher`` from a vmcatcher-schema database built here (vmcatcher.md
section 1, the columns of vmcatcher's databaseDefinition.py), into a real glancing database."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from glancing.subscriptions.vmcatcher_import import new_images_mode
from subskit import HTTP, LIST_ID as LIST_ID_SUBSKIT, image, make_site, uuid
from trustkit import NOW, pki  # noqa: F401 - fixture

SCHEMA = """
CREATE TABLE endorser (id INTEGER PRIMARY KEY, identifier VARCHAR(50));
CREATE TABLE "endorserPrincible" (id INTEGER PRIMARY KEY, hv_dn VARCHAR(50) NOT NULL UNIQUE,
    hv_ca VARCHAR(50) NOT NULL, endorser INTEGER REFERENCES endorser(id));
CREATE TABLE subscription (id INTEGER PRIMARY KEY, identifier VARCHAR(50) NOT NULL UNIQUE,
    description VARCHAR(200), uri VARCHAR(200) NOT NULL UNIQUE, authorised BOOLEAN NOT NULL,
    imagelist_latest INTEGER, updated DATETIME, "trustAnchor" INTEGER NOT NULL DEFAULT 0,
    "userName" VARCHAR(200), password VARCHAR(200), "updateMode" INTEGER NOT NULL DEFAULT 1);
CREATE TABLE "subscriptionAuth" (id INTEGER PRIMARY KEY, subscription INTEGER REFERENCES subscription(id),
    endorser INTEGER REFERENCES endorser(id), authorised BOOLEAN NOT NULL);
CREATE TABLE "ImageDefinition" (id INTEGER PRIMARY KEY, identifier VARCHAR(50) NOT NULL UNIQUE,
    latest INTEGER, cache INTEGER NOT NULL, subscription INTEGER REFERENCES subscription(id));
CREATE TABLE "imageListInstance" (id INTEGER PRIMARY KEY, data VARCHAR(1000) NOT NULL,
    data_hash VARCHAR(128) NOT NULL, expired DATETIME, sub_auth INTEGER, imported DATETIME NOT NULL,
    created DATETIME NOT NULL, expires DATETIME NOT NULL, version VARCHAR(50) NOT NULL);
CREATE TABLE "ImageInstance" (id INTEGER PRIMARY KEY, description VARCHAR(50) NOT NULL,
    hypervisor VARCHAR(50) NOT NULL, sha512 VARCHAR(128) NOT NULL, uri VARCHAR(128) NOT NULL,
    os VARCHAR(50) NOT NULL, osversion VARCHAR(50) NOT NULL, arch VARCHAR(50) NOT NULL,
    version VARCHAR(50) NOT NULL, size INTEGER NOT NULL, title VARCHAR(100) NOT NULL,
    comments VARCHAR(100), "fkIdentifier" INTEGER, fkimagelistinstance INTEGER);
"""

EGI_DN, EGI_CA = "/DC=org/DC=example/CN=EGI Endorser", "/DC=org/DC=example/CN=Test CA"
OTHER_DN = "/DC=org/DC=example/CN=Other Endorser"
LIST_A, LIST_B, LIST_C = ("aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002",
                          "cccccccc-0000-4000-8000-000000000003")
IMG_1, IMG_2, IMG_3 = ("11111111-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000002",
                       "33333333-0000-4000-8000-000000000003")


def vmcatcher_db(path: Path) -> Path:
    """vmcatcher's state: three subscriptions, endorser ids that do NOT coincide with their
    principals' ids (vmcatcher's own join then pins the wrong DN), two selected images."""
    conn = sqlite3.connect(str(path))
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO endorser VALUES (?, ?)", [(1, "egi"), (2, "other")])
    conn.executemany('INSERT INTO "endorserPrincible" VALUES (?, ?, ?, ?)',
                     [(1, OTHER_DN, EGI_CA, 2), (2, EGI_DN, EGI_CA, 1)])
    conn.executemany("INSERT INTO subscription(id, identifier, uri, authorised, \"trustAnchor\", \"userName\", "
                     "password, \"updateMode\") VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
                     [(1, LIST_A, "https://lists.example.org/a.list", 2, "alice", "s3cret", 3),
                      (2, LIST_B, "https://lists.example.org/b.list", 0, None, None, 0),
                      (3, LIST_C, "https://lists.example.org/c.list", 1, None, None, 1)])
    conn.executemany('INSERT INTO "subscriptionAuth" VALUES (?, ?, ?, ?)',
                     [(1, 1, 1, 1), (2, 2, 1, 1), (3, 2, 2, 1), (4, 3, 2, 0)])
    conn.execute('INSERT INTO "ImageInstance" VALUES (7, "d", "QEMU", ?, "https://img.example.org/1.qcow2", '
                 '"Linux", "9", "x86_64", "4", 1024, "Alma 9", NULL, 1, 1)', ("ab" * 64,))
    conn.executemany('INSERT INTO "ImageDefinition" VALUES (?, ?, ?, ?, ?)',
                     [(1, IMG_1, 7, 1, 1), (2, IMG_2, 0, 0, 1), (3, IMG_3, 0, 1, 2)])
    conn.commit()
    conn.close()
    return path


def test_update_mode_bits():
    assert [new_images_mode(m) for m in (0, 1, 2, 3, None)] == ["refuse", "accept", "subscribe", "subscribe",
                                                               "accept"]


def test_import_takes_subscriptions_pins_by_foreign_key_and_selected_images(tmp_path, run_cli):
    source = vmcatcher_db(tmp_path / "vmcatcher.db")
    db = tmp_path / "state" / "glancing.db"
    res = run_cli("glance_manager", "import-vmcatcher", "--db", str(db), f"sqlite:///{source}", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["subscriptions"] == [LIST_A, LIST_B, LIST_C] and out["images"] == [IMG_1, IMG_3]
    assert any("2 authorised signers" in s for s in out["skipped"])  # list B: two endorsers, no pin
    assert any("trustAnchor none" in s for s in out["skipped"])
    conn = sqlite3.connect(str(db))
    conn.row_factory = sqlite3.Row
    subs = {r["id"]: r for r in conn.execute("SELECT * FROM subscriptions")}
    assert (subs[LIST_A]["endorser_dn"], subs[LIST_A]["endorser_ca"]) == (EGI_DN, EGI_CA)  # not OTHER_DN
    assert subs[LIST_B]["endorser_dn"] is None and subs[LIST_C]["endorser_dn"] is None  # C's link unauthorised
    assert [subs[i]["new_images"] for i in (LIST_A, LIST_B, LIST_C)] == ["subscribe", "refuse", "accept"]
    assert subs[LIST_A]["url"] == "https://lists.example.org/a.list" and subs[LIST_A]["username"] == "alice"
    secret = Path(subs[LIST_A]["password_file"])
    assert secret.read_text() == "s3cret\n" and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "s3cret" not in res.stdout + res.stderr
    images = {r["uuid"]: r for r in conn.execute("SELECT * FROM images")}
    assert set(images) == {IMG_1, IMG_3}
    assert images[IMG_1]["selected"] == 1 and images[IMG_1]["available"] == 0
    assert images[IMG_1]["sha512"] == "ab" * 64 and images[IMG_1]["title"] == "Alma 9"
    assert conn.execute("SELECT COUNT(*) FROM list_instances").fetchone()[0] == 0  # nothing vmcatcher verified is kept
    conn.close()

    again = run_cli("glance_manager", "import-vmcatcher", "--db", str(db), f"sqlite:///{source}")
    assert again.returncode == 0 and again.stdout.count("already in glancing's database") == 3, again.stdout
    assert "0 subscriptions and 0 selected images taken" in again.stdout  # nothing taken twice


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("not a database at all, just text" * 40), "not an SQLite database"),
    (lambda p: sqlite3.connect(str(p)).executescript("CREATE TABLE other(x INTEGER);"), "not a vmcatcher database"),
])
def test_what_is_not_a_vmcatcher_database_is_a_one_line_error(tmp_path, run_cli, make, words):
    source = tmp_path / "some.db"
    make(source)
    res = run_cli("glance_manager", "import-vmcatcher", "--db", str(tmp_path / "g.db"), f"sqlite:///{source}")
    assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr
    bad = run_cli("glance_manager", "import-vmcatcher", "--db", str(tmp_path / "g.db"), "mysql://host/vmcatcher")
    assert bad.returncode == 2 and "sqlite:///PATH" in bad.stderr


def _one_subscription(path: Path, url: str, dn: str, ca: str, selected: str) -> Path:
    conn = sqlite3.connect(str(path))
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO endorser VALUES (5, 'site endorser')")
    conn.execute('INSERT INTO "endorserPrincible" VALUES (9, ?, ?, 5)', (dn, ca))
    conn.execute("INSERT INTO subscription(id, identifier, uri, authorised, \"updateMode\") VALUES (1, ?, ?, 1, 1)",
                 (LIST_ID_SUBSKIT, url))
    conn.execute('INSERT INTO "subscriptionAuth" VALUES (1, 1, 5, 1)')
    conn.execute('INSERT INTO "ImageDefinition" VALUES (1, ?, 0, 1, 1)', (selected,))
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("signer, status", [("good", "updated"), ("mail", "refused")])
def test_an_imported_subscription_updates_under_its_pin(pki, tmp_path, signer, status):  # noqa: F811
    from glancing.subscriptions.update import update_subscription
    from glancing.subscriptions.vmcatcher_import import import_vmcatcher

    site = make_site(pki, tmp_path)
    try:
        site.publish("1", [image(1), image(2)])
        pinned = getattr(pki, signer)
        source = _one_subscription(tmp_path / "vmcatcher.db", site.url, pinned.subject_openssl,
                                   pinned.issuer_openssl, uuid(1))
        report = import_vmcatcher(site.db, f"sqlite:///{source}")
        assert report.subscriptions == [LIST_ID_SUBSKIT] and report.images == [uuid(1)]
        result = update_subscription(site.db, LIST_ID_SUBSKIT, HTTP, site.policy, NOW)
        assert result.status == status, result.describe()
        states = {r["uuid"]: (r["selected"], r["available"]) for r in site.db.conn.execute("SELECT * FROM images")}
        if status == "updated":  # vmcatcher's selection survives; the list brings the rest
            assert states == {uuid(1): (1, 1), uuid(2): (0, 1)}
        else:  # signed by someone the pin does not name: nothing changes
            assert states == {uuid(1): (1, 0)}
    finally:
        site.server.stop()
        site.db.close()
