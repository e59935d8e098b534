# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""No leftover upload, ever: against the lab's real Glance.

(a) a Glance that answers 500 to the first DELETEs: the discarded upload is still removed;
(b) ten refused URL imports in a row leave no image behind, hidden or not;
(c) a leftover of a dead run is removed by the next run, a live run's is not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import socket
import subprocess
import uuid

import pytest

from glancing.errors import DigestMismatch
from glancing.model import Expected, ImageSpec, Location, Origin
from glancing.pipeline import ImportOptions, import_image
from glancing.targets.base import Payload, PendingMark, StageRequest
from images import digest, make_raw
from labtarget import exists, lab_target, remove
from manager_helpers import CountingProxy


@pytest.fixture
def name():
    return f"leftover-{uuid.uuid4().hex[:10]}"


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def stage(target, name, mark):
    data = hashlib.sha512(name.encode() + str(mark.pid).encode()).digest() * 256
    return target.stage(StageRequest(name, "raw", "bare", mark), Payload(stream=io.BytesIO(data)))


def everything_named(admin, name):
    """Every image of any project whose name starts with ``name``, hidden or not (as admin)."""
    found = []
    for hidden in (False, True):
        filters = {"os_hidden": True} if hidden else {}
        found += [i for i in admin.images.list(filters=filters) if str(i.get("name", "")).startswith(name)]
    return found


def test_a_discarded_upload_is_removed_although_the_first_deletes_fail(lab, name):
    direct = lab_target(lab)
    proxy = CountingProxy(lab.glance_url)
    try:
        via_proxy = lab_target(lab, endpoint=proxy.url)
        staged = stage(direct, name, PendingMark.here("glancing"))
        proxy.fail_deletes = 3
        assert via_proxy.discard(staged.id) is True
    finally:
        proxy.stop()
        remove(lab.admin_glance(), direct.store.created)
    assert [m for m, _ in proxy.requests].count("DELETE") == 4
    assert not exists(lab.admin_glance(), staged.id)


def test_an_upload_that_cannot_be_removed_is_logged_and_the_next_run_removes_it(lab, run_cli, tmp_path, name,
                                                                                 caplog):
    direct = lab_target(lab)
    proxy = CountingProxy(lab.glance_url)
    admin = lab.admin_glance()
    try:
        via_proxy = lab_target(lab, endpoint=proxy.url, discard_deadline=1.0)
        now = dt.datetime.now(dt.timezone.utc)
        here = socket.gethostname()
        dead = stage(direct, name, PendingMark("glancing", here, dead_pid(), now))
        live = stage(direct, name, PendingMark("glancing", here, os.getpid(), now))
        manager = stage(direct, name, PendingMark("glance_manager", here, dead_pid(), now))
        proxy.fail_deletes = 10_000
        with caplog.at_level(logging.ERROR):
            assert via_proxy.discard(dead.id) is False
        assert f"could not remove the unfinished upload {dead.id}" in caplog.text
        assert "next glancing or glance_manager run" in caplog.text and exists(admin, dead.id)
        # The next `glancing` run (a real import) removes the dead run's upload, nothing else.
        img = make_raw(tmp_path / "next.img", size_mib=1)
        res = run_cli("glancing", "-n", f"{name}-next", "-s", digest(img), "--json", str(img))
        assert res.returncode == 0, res.stderr
        assert not exists(admin, dead.id)
        assert exists(admin, live.id) and exists(admin, manager.id)  # a live run's; another command's
    finally:
        proxy.stop()
        remove(admin, direct.store.created)
        remove(admin, [i["id"] for i in everything_named(admin, f"{name}-next")])


def test_ten_refused_url_imports_leave_nothing_behind(lab, http_server, tmp_path, name):
    www = tmp_path / "www"
    www.mkdir()
    img = make_raw(www / "disk.img", size_mib=8)
    server = http_server(www)
    target = lab_target(lab)
    admin = lab.admin_glance()
    spec = ImageSpec(locations=(Location(server.url("disk.img")),), origin=Origin.USER,
                     expected=Expected(digests={"sha256": "0" * 64}))  # wrong: judged at the end of the PUT
    try:
        for n in range(10):
            with pytest.raises(DigestMismatch):
                import_image(spec, ImportOptions(name=f"{name}-{n}"), target)
        # Every import had created its hidden upload and started sending it before the verdict.
        assert len(target.store.created) == 10
        assert [i for i in target.store.created if exists(admin, i)] == []
        assert everything_named(admin, name) == []
    finally:
        remove(admin, target.store.created)
