# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Subscribed images through the quarantine on the real lab, with a vmcatcher cache: the site
script reads the cache file itself (no spool is downloaded back), a rejected image is not
fetched or imported again on the next sync, a passing one is imported as usual."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from images import make_qcow2
from subs_sync_helpers import row, served, store_list
from test_subs_sync_glance import world  # noqa: F401 - the same site, as a fixture

from glancing.pipeline import ImportOptions
from glancing.quarantine.gate import QuarantinePolicy
from glancing.subscriptions import events as ev
from glancing.subscriptions.cache import Cache, CacheSettings
from glancing.subscriptions.sync import SubsSyncOptions, sync_subscriptions
from glancing.targets import names


def _policy(tmp: Path) -> QuarantinePolicy:
    checks = tmp / "checks.d"
    checks.mkdir()
    script = checks / "10-seen"
    # Refuses the image whose title says so; records which file it was given.
    script.write_text(f'#!/bin/sh\necho "$1" >> {tmp / "seen"}\n'
                      'case "$VMCATCHER_EVENT_DC_TITLE" in *refuse*) echo refused; exit 1;; esac\n')
    script.chmod(0o755)
    return QuarantinePolicy(checks=(), scripts=str(checks), script_timeout=30,
                            env={"PATH": os.environ["PATH"]}, spool_dir=str(tmp / "spool"))


def test_subscribed_images_pass_or_stay_rejected(world) -> None:
    tmp, www, server, target, db = world
    (tmp / "spool").mkdir()
    tag = uuid.uuid4().hex[:8]
    good = {**served(www, server, f"g{tag}.qcow2", lambda p: make_qcow2(p, seed=(tag + "g").encode(), size_mib=1)),
            "title": f"quar {tag} good"}
    bad = {**served(www, server, f"b{tag}.qcow2", lambda p: make_qcow2(p, seed=(tag + "b").encode(), size_mib=1)),
           "title": f"quar {tag} refuse"}
    store_list(db, f"sub-{tag}", f"https://lists.example.org/{tag}", [good, bad], selected=[good["id"], bad["id"]])
    options = SubsSyncOptions(import_options=ImportOptions(quarantine=_policy(tmp)),
                              cache=Cache(CacheSettings(str(tmp / "cache"))))
    log = ev.EventLog(db, None)

    first = sync_subscriptions(db, target, options, log, set())
    actions = {o.uuid: (o.action, o.detail) for o in first.outcomes}
    assert actions[good["id"]][0] == "imported"
    assert actions[bad["id"]][0] == "failed" and "stays in quarantine: failed script:10-seen" in actions[bad["id"]][1]
    # The script read the cache files, and no spool was made.
    seen = (tmp / "seen").read_text().split()
    assert len(seen) == 2 and all(p.startswith(str(tmp / "cache")) for p in seen)
    assert list((tmp / "spool").iterdir()) == []
    rejected = [i for i in target.managed() if names.TAG_REJECTED in (i.get("tags") or ())
                and i.get(names.PROP_QUARANTINE_NAME) == bad["title"]]
    assert len(rejected) == 1 and rejected[0]["os_hidden"] and rejected[0]["visibility"] == "private"
    assert target.get(row(db, good["id"])["target_id"])["name"] == good["title"]

    gets = len(server.requests)
    second = sync_subscriptions(db, target, options, log, set())
    assert [(o.uuid, o.action) for o in second.outcomes] == [(bad["id"], "failed")]
    assert f"image {rejected[0]['id']} failed quarantine: not retried" in second.outcomes[0].detail
    assert len(server.requests) == gets and len((tmp / "seen").read_text().split()) == 2


def test_vmcatcher_event_rejected_then_not_imported_again(tmp_path: Path, run_cli, lab, glance, glance_cleanup) -> None:
    from test_vmcatcher_event_glance import Cache as VmcatcherCache

    checks = tmp_path / "checks.d"
    checks.mkdir()
    (checks / "10-no").write_text(f'#!/bin/sh\necho "$1" >> {tmp_path / "seen"}\nexit 1\n')
    (checks / "10-no").chmod(0o755)
    conf = tmp_path / "glancing.conf"
    conf.write_text(f"[quarantine]\nenabled = yes\nchecks = none\nscripts = {checks}\n")
    cache = VmcatcherCache(tmp_path, run_cli, glance)
    ident = str(uuid.uuid4())
    env = {**cache.image(ident, "1", "held"), "GLANCING_CONFIG": str(conf)}
    first = cache.event(env, code=1)
    assert "stays in quarantine: failed script:10-no" in first["stderr"]
    # The script read vmcatcher's cache file itself.
    assert (tmp_path / "seen").read_text().split() == [str(cache.dir / ident)]
    [held] = cache.images(ident)
    assert names.TAG_REJECTED in held["tags"] and held["os_hidden"]
    second = cache.event(env, code=1)
    assert f"image {held['id']} with these bytes failed quarantine: not imported again" in second["stderr"]
    assert [i["id"] for i in cache.images(ident)] == [held["id"]]
    assert len((tmp_path / "seen").read_text().split()) == 1
