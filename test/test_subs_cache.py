# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The vmcatcher-compatible cache, and the sync's logic over the shared FakeTarget (Glance
itself: test_subs_sync_glance.py). Images are real qcow2 files served by a loopback server."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest

from faketarget import FakeTarget
from images import make_qcow2
from subs_sync_helpers import listed_events, row, select, served, store_list, unsubscribe

from glancing.errors import DigestMismatch, EnvironmentProblem
from glancing.model import DigestScope, Expected, ImageSpec, Location, Origin
from glancing.subscriptions import events as ev
from glancing.subscriptions.cache import INDEX, Cache, CacheSettings, read_index
from glancing.subscriptions.db import Database
from glancing.subscriptions.sync import SubsSyncOptions, sync_subscriptions
from glancing.targets import names

SUB = "5d8c6c4e-0000-4000-8000-00000000a001"
URL = "https://lists.example.org/a.list"


@pytest.fixture
def db(tmp_path: Path):
    with Database.open(str(tmp_path / "state" / "glancing.db")) as database:
        yield database


@pytest.fixture
def www(tmp_path: Path, http_server):
    root = tmp_path / "www"
    root.mkdir()
    return root, http_server(root)


def qcow(seed: str):
    return lambda path: make_qcow2(path, seed=seed.encode(), size_mib=1)


def run(db, target, tmp_path: Path, cache=None, failed=(), **kw) -> Any:
    log = ev.EventLog(db, f"env >> {tmp_path / 'ev.env'}; echo ---- >> {tmp_path / 'ev.env'}",
                      base_env={"PATH": os.environ["PATH"]})
    return sync_subscriptions(db, target, SubsSyncOptions(cache=cache, **kw), log, set(failed))


def types(tmp_path: Path) -> List[str]:
    return [e["VMCATCHER_EVENT_TYPE"] for e in listed_events(tmp_path / "ev.env")]


def test_sync_imports_selected_then_changes_nothing_then_expires(db, www, tmp_path: Path) -> None:
    root, server = www
    a, b = served(root, server, "imga.qcow2", qcow("a")), served(root, server, "imgb.qcow2", qcow("b"))
    store_list(db, SUB, URL, [a, b], selected=["imga"])
    target = FakeTarget()
    report = run(db, target, tmp_path)
    assert [(o.uuid, o.action) for o in report.outcomes] == [("imga", "imported")]
    image = target.images[row(db, "imga")["target_id"]]
    assert image["name"] == "imga" and image[names.PROP_SUBSCRIPTION] == SUB and image["hepix_image_id"] == "imga"
    assert types(tmp_path) == ["ProcessPrefix", "AvailablePrefix", "AvailablePostfix", "ProcessPostfix"]
    post = listed_events(tmp_path / "ev.env")[2]
    assert post["GLANCING_EVENT_GLANCE_ID"] == image["id"] and post["GLANCING_EVENT_STATUS"] == "imported"
    assert post["VMCATCHER_EVENT_HV_URI"] == a["uri"] and "VMCATCHER_EVENT_FILENAME" not in post

    before = list(target.changes)
    again = run(db, target, tmp_path)
    assert again.outcomes == [] and again.current == 1 and target.changes == before

    select(db, "imga", False)
    gone = run(db, target, tmp_path)
    assert [(o.uuid, o.action, o.detail) for o in gone.outcomes] == [("imga", "expired", "deactivated")]
    image = target.images[image["id"]]
    assert image["os_hidden"] and names.TAG_EXPIRED in image["tags"] and image["status"] == "deactivated"
    assert row(db, "imga")["expired_at"]
    assert types(tmp_path)[-4:] == ["ProcessPrefix", "ExpirePrefix", "ExpirePostfix", "ProcessPostfix"]
    assert run(db, target, tmp_path).outcomes == []


def test_a_new_version_replaces_the_image_and_keeps_the_old_as_a_backup(db, www, tmp_path: Path) -> None:
    root, server = www
    a = served(root, server, "imga.qcow2", qcow("a"))
    store_list(db, SUB, URL, [a], selected=["imga"], version="1")
    target = FakeTarget()
    run(db, target, tmp_path)
    old = row(db, "imga")["target_id"]
    a2 = served(root, server, "imga-2.qcow2", qcow("a2"))
    store_list(db, SUB, URL, [{**a2, "id": "imga", "title": "imga", "version": "2"}], version="2")
    report = run(db, target, tmp_path)
    assert [(o.uuid, o.action) for o in report.outcomes] == [("imga", "imported")]
    new = row(db, "imga")["target_id"]
    assert new != old and names.TAG_BACKUP in target.images[old]["tags"] and target.images[old]["os_hidden"]
    assert target.images[old]["status"] == "active"  # a backup, not expired
    assert not target.images[new]["os_hidden"]


def test_no_expiry_for_a_subscription_whose_update_failed(db, www, tmp_path: Path) -> None:
    root, server = www
    a = served(root, server, "imga.qcow2", qcow("a"))
    store_list(db, SUB, URL, [a], selected=["imga"])
    target = FakeTarget()
    run(db, target, tmp_path)
    select(db, "imga", False)
    assert run(db, target, tmp_path, failed={SUB}).outcomes == []
    assert names.TAG_EXPIRED not in target.images[row(db, "imga")["target_id"]]["tags"]


def test_an_import_failure_blocks_that_subscriptions_expiry_only(db, www, tmp_path: Path) -> None:
    root, server = www
    a, b = served(root, server, "imga.qcow2", qcow("a")), served(root, server, "imgb.qcow2", qcow("b"))
    store_list(db, SUB, URL, [a, b], selected=["imga"])
    target = FakeTarget()
    run(db, target, tmp_path)
    select(db, "imga", False)
    select(db, "imgb")
    (root / "imgb.qcow2").write_bytes(b"tampered")  # the list's size and sha512 no longer match
    report = run(db, target, tmp_path)
    assert sorted((o.uuid, o.action) for o in report.outcomes) == [("imgb", "failed")]
    assert report.exit_code() == 8
    assert names.TAG_EXPIRED not in target.images[row(db, "imga")["target_id"]]["tags"]


def test_removed_subscription_and_expired_list_are_expired_with_the_configured_rule(db, www, tmp_path: Path) -> None:
    root, server = www
    a = served(root, server, "imga.qcow2", qcow("a"))
    store_list(db, SUB, URL, [a], selected=["imga"])
    other = "5d8c6c4e-0000-4000-8000-00000000a002"
    b = served(root, server, "imgb.qcow2", qcow("b"))
    store_list(db, other, "https://lists.example.org/b.list", [b], selected=["imgb"])
    target = FakeTarget()
    run(db, target, tmp_path)
    ida, idb = row(db, "imga")["target_id"], row(db, "imgb")["target_id"]
    unsubscribe(db, SUB)
    with db.transaction() as conn:
        conn.execute("UPDATE list_instances SET expires = '2000-01-01T00:00:00Z' WHERE subscription_id = ?", (other,))
    report = run(db, target, tmp_path, on_expire="delete")
    assert sorted((o.uuid, o.action, o.detail) for o in report.outcomes) == [
        ("imga", "expired", "deleted"), ("imgb", "expired", "deleted")]
    assert ida not in target.images and idb not in target.images


def test_a_refused_delete_falls_back_to_deactivate(db, www, tmp_path: Path) -> None:
    root, server = www
    store_list(db, SUB, URL, [served(root, server, "imga.qcow2", qcow("a"))], selected=["imga"])
    target = FakeTarget()
    run(db, target, tmp_path)
    target.refuse_delete = True
    select(db, "imga", False)
    report = run(db, target, tmp_path, on_expire="delete")
    assert [(o.action, o.detail) for o in report.outcomes] == [("expired", "deactivated")]
    assert target.images[row(db, "imga")["target_id"]]["status"] == "deactivated"


# -- the cache ------------------------------------------------------------------------------------

INDEX_KEYS = {"uuid", "sha512", "uri", "size", "hv:imagelist.dc:identifier", "message", "msgHash", "filename",
              "DownLoadTrys"}


def test_cache_index_is_vmcatchers_key_by_key(db, www, tmp_path: Path) -> None:
    root, server = www
    a = served(root, server, "imga.qcow2", qcow("a"))
    data = store_list(db, SUB, URL, [a], selected=["imga"])
    cache = Cache(CacheSettings(str(tmp_path / "cache")), now_stamp=lambda: "2026-12-02_10-00-00")
    target = FakeTarget()
    report = run(db, target, tmp_path, cache=cache)
    assert [o.action for o in report.outcomes] == ["imported"]
    cached = tmp_path / "cache" / "imga"
    assert cached.read_bytes() == (root / "imga.qcow2").read_bytes()
    assert not (tmp_path / "cache" / "partial" / "imga").exists()
    text = (tmp_path / "cache" / INDEX).read_text()
    index = json.loads(text)
    assert text == json.dumps(index, sort_keys=True, indent=4)  # sorted keys, indent 4
    entry = index["imga"]
    listed = json.loads(data)["hv:imagelist"]["hv:images"][0]["hv:image"]
    expected: Dict[str, Any] = {
        "uuid": "imga", "sha512": listed["sl:checksum:sha512"], "uri": a["uri"], "size": listed["hv:size"],
        "hv:imagelist.dc:identifier": SUB, "message": data.decode(), "msgHash": hashlib.sha512(data).hexdigest(),
        "filename": "imga", "DownLoadTrys": {"count": 1, "msgHash": hashlib.sha512(data).hexdigest()}}
    expected.update({k: v for k, v in listed.items()})  # every dc:*, hv:*, sl:* key
    expected.update({f"hv:image.{k}": v for k, v in listed.items()})
    assert entry == expected
    post = listed_events(tmp_path / "ev.env")[2]
    assert post["VMCATCHER_EVENT_FILENAME"] == "imga"

    select(db, "imga", False)
    report = run(db, target, tmp_path, cache=cache)
    assert [o.action for o in report.outcomes] == ["expired"]
    assert not cached.exists()
    moved = tmp_path / "cache" / "expired" / "imga.2026-12-02_10-00-00"
    assert moved.read_bytes() == (root / "imga.qcow2").read_bytes()
    expired_index = read_index(tmp_path / "cache" / "expired")
    assert expired_index["imga.2026-12-02_10-00-00"]["filename"] == "imga.2026-12-02_10-00-00"
    assert "imga" not in read_index(tmp_path / "cache")
    events = listed_events(tmp_path / "ev.env")
    pre, post = [e for e in events if e["VMCATCHER_EVENT_TYPE"] in ("ExpirePrefix", "ExpirePostfix")]
    assert pre["VMCATCHER_EVENT_FILENAME"] == "imga" and post["VMCATCHER_EVENT_FILENAME"] == moved.name


def test_cached_files_are_rechecked_and_a_bad_one_fetched_again(db, www, tmp_path: Path) -> None:
    root, server = www
    store_list(db, SUB, URL, [served(root, server, "imga.qcow2", qcow("a"))], selected=["imga"])
    cache = Cache(CacheSettings(str(tmp_path / "cache")))
    target = FakeTarget()
    run(db, target, tmp_path, cache=cache)
    gets = sum(1 for m, p, _ in server.requests if m == "GET")
    assert run(db, target, tmp_path, cache=cache).current == 1
    assert cache.checked == {"imga": "ok"}  # size and mtime unchanged: not re-hashed
    cached = tmp_path / "cache" / "imga"
    data = bytearray(cached.read_bytes())
    data[100] ^= 1
    cached.write_bytes(bytes(data))  # same size, new mtime: re-hashed, refused, fetched again
    cache.checked.clear()
    report = run(db, target, tmp_path, cache=cache)
    assert cache.checked["imga"].startswith("removed: sha512")
    assert [o.action for o in report.outcomes] == ["cached"]  # Glance already has it
    assert cached.read_bytes() == (root / "imga.qcow2").read_bytes()
    assert sum(1 for m, p, _ in server.requests if m == "GET") == gets + 1


def test_a_partial_download_is_resumed(www, tmp_path: Path) -> None:
    root, server = www
    path = make_qcow2(root / "big.qcow2", seed=b"big", size_mib=2)
    data = path.read_bytes()
    cache = Cache(CacheSettings(str(tmp_path / "cache")))
    cache.prepare()
    (tmp_path / "cache" / "partial" / "big").write_bytes(data[:100000])
    spec = ImageSpec((Location(server.url("big.qcow2")),), Origin.REMOTE,
                     Expected(len(data), {"sha512": hashlib.sha512(data).hexdigest()}, DigestScope.AS_GIVEN))
    got = cache.provide("big", spec, {"uuid": "big"})
    assert Path(got.source).read_bytes() == data and got.origin is Origin.USER
    ranges = [h.get("Range") for m, p, h in server.requests if m == "GET"]
    assert ranges == ["bytes=100000-"]


def _wrong_digest_spec(root: Path, server: Any, name: str) -> ImageSpec:
    """A served 1 MiB qcow2 whose record promises a sha512 it does not have."""
    path = make_qcow2(root / f"{name}.qcow2", seed=name.encode(), size_mib=1)
    return ImageSpec((Location(server.url(f"{name}.qcow2")),), Origin.REMOTE,
                     Expected(path.stat().st_size, {"sha512": "0" * 128}, DigestScope.AS_GIVEN))


def test_a_bad_download_is_refused_and_not_cached(www, tmp_path: Path) -> None:
    root, server = www
    spec = _wrong_digest_spec(root, server, "x")
    cache = Cache(CacheSettings(str(tmp_path / "cache")))
    with pytest.raises(DigestMismatch):
        cache.provide("x", spec, {"uuid": "x"})
    assert not (tmp_path / "cache" / "x").exists() and not (tmp_path / "cache" / "partial" / "x").exists()


def test_no_download_without_the_space_for_it(www, tmp_path: Path) -> None:
    root, server = www
    spec = ImageSpec((Location(server.url("none")),), Origin.REMOTE, Expected(1 << 60, {"sha512": "0" * 128}))
    with pytest.raises(EnvironmentProblem, match="bytes free"):
        Cache(CacheSettings(str(tmp_path / "cache"))).provide("huge", spec, {})
    assert server.requests == []


def test_only_the_last_expired_files_are_kept(tmp_path: Path) -> None:
    stamps = iter(f"2026-12-02_10-00-0{n}" for n in range(5))
    cache = Cache(CacheSettings(str(tmp_path / "cache"), keep_expired=2), now_stamp=lambda: next(stamps))
    cache.prepare()
    for n in range(4):
        (tmp_path / "cache" / f"u{n}").write_bytes(b"x")
        os.utime(tmp_path / "cache" / f"u{n}", ns=(n * 10**9, n * 10**9))
        cache.expire(f"u{n}")
    kept = sorted(p.name for p in (tmp_path / "cache" / "expired").iterdir() if p.name != INDEX)
    assert kept == ["u2.2026-12-02_10-00-02", "u3.2026-12-02_10-00-03"]
    assert sorted(read_index(tmp_path / "cache" / "expired")) == kept


def test_verify_rehashes_every_cached_file_and_a_short_one_is_dropped_unread(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    data = b"x" * 5000
    want = hashlib.sha512(data).hexdigest()
    plain = Cache(CacheSettings(str(root)))
    plain.prepare()
    (root / "u").write_bytes(data)
    assert plain.check("u", len(data), want) and plain.checked["u"] == "rehashed"  # never verified before
    assert plain.check("u", len(data), want) and plain.checked["u"] == "ok"
    always = Cache(CacheSettings(str(root), verify=True))
    assert always.check("u", len(data), want) and always.checked["u"] == "rehashed"
    (root / "u").write_bytes(data[:10])
    assert not always.check("u", len(data), want) and always.checked["u"].startswith("removed: size")
    assert not (root / "u").exists() and not always.check("u", len(data), want)


def test_backups_beyond_keep_are_pruned_after_an_import(db, www, tmp_path: Path) -> None:
    root, server = www
    target = FakeTarget()
    ids = []
    for version in ("1", "2", "3"):
        a = served(root, server, f"imga-{version}.qcow2", qcow("a" + version))
        store_list(db, SUB, URL, [{**a, "id": "imga", "title": "imga", "version": version}], version=version,
                   selected=["imga"])
        report = run(db, target, tmp_path, keep=1)
        ids.append(row(db, "imga")["target_id"])
    assert ids[0] not in target.images  # the oldest backup went
    assert names.TAG_BACKUP in target.images[ids[1]]["tags"] and ids[2] in target.images
    assert [(p["image_id"], p["result"]) for p in report.pruned] == [(ids[0], "deleted")]


def test_at_most_five_downloads_per_list_version(www, tmp_path: Path) -> None:
    from glancing.errors import SourceError
    from glancing.subscriptions.cache import MAX_TRIES

    root, server = www
    spec = _wrong_digest_spec(root, server, "y")
    cache = Cache(CacheSettings(str(tmp_path / "cache")))
    record = {"uuid": "y", "DownLoadTrys": {"count": 1, "msgHash": "list-v1"}}
    for _ in range(MAX_TRIES):
        with pytest.raises(DigestMismatch):
            cache.provide("y", spec, record)
    gets = len(server.requests)
    with pytest.raises(SourceError, match="downloads of it failed"):
        cache.provide("y", spec, record)
    assert len(server.requests) == gets  # not tried a sixth time
    with pytest.raises(DigestMismatch):  # a new list version is tried again
        cache.provide("y", spec, {"uuid": "y", "DownLoadTrys": {"count": 1, "msgHash": "list-v2"}})
    assert read_index(tmp_path / "cache" / "partial")["y"]["DownLoadTrys"] == {"count": 1, "msgHash": "list-v2"}


def test_a_failing_handler_never_blocks_an_import_and_is_kept(db, www, tmp_path: Path) -> None:
    root, server = www
    store_list(db, SUB, URL, [served(root, server, "imga.qcow2", qcow("a"))], selected=["imga"])
    target = FakeTarget()
    log = ev.EventLog(db, "exit 4", base_env={"PATH": os.environ["PATH"]})
    report = sync_subscriptions(db, target, SubsSyncOptions(), log, set())
    assert [o.action for o in report.outcomes] == ["imported"] and report.exit_code() == 0
    assert report.event_failures == 4 and "4 event handler failures" in report.summary()
    assert [e.type for e in ev.undone(db)] == ["ProcessPrefix", "AvailablePrefix", "AvailablePostfix",
                                               "ProcessPostfix"]
