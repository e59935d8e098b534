# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The Target contract: the same cases against the shared FakeTarget and the real Glance of the
lab, so the fake every unit test relies on cannot drift from Glance."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import socket
import subprocess
import uuid

import pytest

from faketarget import FakeTarget
from glancing.errors import GlanceError, UsageError
from glancing.targets import names
from glancing.targets.base import LeftoverPolicy, Payload, PendingMark, Release, StageRequest, Target
from labtarget import lab_target, remove


@pytest.fixture(params=["fake", pytest.param("glance", marks=pytest.mark.glance)])
def target(request):
    if request.param == "fake":
        yield FakeTarget(project="demo")
        return
    lab = request.getfixturevalue("lab")
    real = lab_target(lab)
    yield real
    remove(lab.admin_glance(), real.store.created)  # only what this test made: the lab is shared


@pytest.fixture
def name():
    return f"contract-{uuid.uuid4().hex[:10]}"


def payload(seed: str) -> bytes:
    return hashlib.sha512(seed.encode()).digest() * 512  # 32 KiB, distinct per test


def stage(target: Target, name: str, data: bytes, mark: PendingMark = None):
    request = StageRequest(name, "raw", "bare", mark or PendingMark.here("contract"))
    return target.stage(request, Payload(stream=io.BytesIO(data)))


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_is_a_target(target):
    assert isinstance(target, Target) and {"md5", "sha512"} <= set(target.computes)


def test_a_staged_upload_is_hidden_marked_and_measured(target, name):
    data = payload(name)
    staged = stage(target, name, data)
    copy = target.stored(staged)
    assert copy.status == "active" and copy.size == len(data)
    assert copy.digests["md5"] == hashlib.md5(data).hexdigest()
    assert copy.digests["sha512"] == hashlib.sha512(data).hexdigest()
    image = target.get(staged.id)
    assert image["os_hidden"] is True and names.TAG_PENDING in image["tags"] and staged.name.startswith(name)
    assert image[names.PROP_PENDING_NAME] == name and image[names.PROP_PENDING_OWNER] == "contract"
    assert image[names.PROP_PENDING_PID] == str(os.getpid())
    assert image[names.PROP_PENDING_HOST] == socket.gethostname()
    assert target.current(name) == [] and staged.id in {i["id"] for i in target.managed()}
    assert b"".join(target.download(staged.id)) == data


def test_release_makes_it_current_and_retire_keeps_the_old_one_hidden(target, name):
    first = stage(target, name, payload(name + "1"))
    target.release(first, Release(name, "private", {"version": "1", "long": "x" * 300}))
    released = target.get(first.id)
    assert [i["id"] for i in target.current(name)] == [first.id]
    assert released["tags"] == [names.TAG_MANAGED] and released["os_hidden"] is False
    assert not [p for p in names.PENDING_PROPS if p in released]
    assert released["version"] == "1" and len(released["long"]) == 255
    second = stage(target, name, payload(name + "2"))
    target.release(second, Release(name, "private", {"version": "2"}))
    target.retire(target.get(first.id), second.id, appliance=name)
    old = target.get(first.id)
    assert [i["id"] for i in target.current(name)] == [second.id]
    assert old["name"] == f"{name} (1)" and old["os_hidden"] is True and old["status"] == "active"
    assert names.TAG_BACKUP in old["tags"] and old[names.PROP_REPLACED_BY] == second.id
    assert old[names.PROP_APPLIANCE] == name
    assert {first.id, second.id} <= {i["id"] for i in target.managed()}
    target.promote(old, name)
    back = target.get(first.id)
    assert back["name"] == name and back["os_hidden"] is False and names.TAG_BACKUP not in back["tags"]
    assert names.PROP_REPLACED_BY not in back


def test_found_by_digest_annotated_and_pruned(target, name):
    data = payload(name)
    staged = stage(target, name, data)
    target.release(staged, Release(name, "private"))
    found = target.with_digest("sha512", hashlib.sha512(data).hexdigest())
    assert [i["id"] for i in found] == [staged.id]
    target.annotate(staged.id, {names.PROP_ROLLED_BACK: names.stamp()})
    assert target.get(staged.id)[names.PROP_ROLLED_BACK]
    assert target.prune(staged.id) == ("deleted", "")
    with pytest.raises(GlanceError):
        target.get(staged.id)


def test_discard_removes_a_staged_upload(target, name):
    staged = stage(target, name, payload(name))
    assert target.discard(staged.id) is True
    assert staged.id not in {i["id"] for i in target.managed()}
    with pytest.raises(GlanceError):
        target.get(staged.id)


def test_leftovers_of_dead_runs_go_live_ones_stay(target, name):
    owner = f"contract-{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.timezone.utc)
    dead = stage(target, name, payload(name + "d"), PendingMark(owner, socket.gethostname(), dead_pid(), now))
    live = stage(target, name, payload(name + "l"), PendingMark(owner, socket.gethostname(), os.getpid(), now))
    away = stage(target, name, payload(name + "a"),
                 PendingMark(owner, "elsewhere", 1, now - dt.timedelta(days=2)))
    verdicts = {image["id"]: verdict for image, verdict in target.clean_leftovers(LeftoverPolicy(owner))}
    assert (verdicts[dead.id], verdicts[live.id], verdicts[away.id]) == ("removed", "live", "removed")
    assert {i["id"] for i in target.managed()} & {dead.id, live.id, away.id} == {live.id}


def test_limits_are_known_without_asking(target, name):
    with pytest.raises(UsageError, match="256 characters"):
        stage(target, "n" * 256, b"x")
    with pytest.raises(UsageError, match="container format"):
        target.limits.check_container_format("tarball")
    assert stage(target, "n" * 255, b"x").name.endswith("]")
