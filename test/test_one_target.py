# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The Target contract (test_target_contract.py) where it applies to OpenNebula, against the
simulated front-end: OpenNebula takes a path rather than a stream, computes no digest and cannot
hand the bytes back, and a retired image is disabled rather than left active. The bytes the
front-end copied are compared with those handed over."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from glancing.errors import GlanceError, UsageError, exit_code
from glancing.targets import names
from glancing.targets.base import LeftoverPolicy, Payload, PayloadKind, PendingMark, Release, StageRequest, Target
from onekit import one_sim, one_target  # noqa: F401 - one_sim is a fixture

__all__ = ["one_sim"]


@pytest.fixture
def target(one_sim, tmp_path):
    return one_target(one_sim, tmp_path / "spool")


@pytest.fixture
def name():
    return f"contract-{uuid.uuid4().hex[:10]}"


def payload(seed: str) -> bytes:
    return hashlib.sha512(seed.encode()).digest() * 512  # 32 KiB, distinct per test


def stage(target, name: str, data: bytes, mark: PendingMark = None, disk_format: str = "raw"):
    path = Path(target.spool_dir) / f"{uuid.uuid4().hex}.img"
    path.write_bytes(data)
    request = StageRequest(name, disk_format, "bare", mark or PendingMark.here("contract"))
    return target.stage(request, Payload(path=str(path), size=len(data)))


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def template(sim, image_id) -> dict:
    return sim.world.images[int(image_id)]["TEMPLATE"]


def test_is_a_target_taking_a_path(target):
    assert isinstance(target, Target) and target.computes == () and target.accepts == {PayloadKind.PATH}
    with pytest.raises(GlanceError, match="not a stream"):
        target.stage(StageRequest("x", "raw", "bare", PendingMark.here("t")), Payload(stream=object()))


def test_a_staged_image_is_ready_owner_only_marked_and_holds_the_bytes(target, one_sim, name):
    data = payload(name)
    staged = stage(target, name, data, disk_format="qcow2")
    copy = target.stored(staged)
    assert (copy.status, copy.size, copy.digests) == ("active", len(data), {})
    assert one_sim.world.stored_bytes(int(staged.id)) == data
    image = target.get(staged.id)
    assert image["os_hidden"] is True and names.TAG_PENDING in image["tags"] and staged.name.startswith(name)
    assert image[names.PROP_PENDING_NAME] == name and image[names.PROP_PENDING_OWNER] == "contract"
    assert image[names.PROP_PENDING_PID] == str(os.getpid()) and image[names.PROP_PENDING_HOST] == socket.gethostname()
    assert one_sim.world.images[int(staged.id)]["PERMISSIONS"] == [1, 1, 0, 0, 0, 0, 0, 0, 0]
    tpl = template(one_sim, staged.id)
    assert (tpl["TYPE"], tpl["DRIVER"], tpl["GLANCING_SIZE"]) == ("OS", "qcow2", str(len(data)))
    assert target.current(name) == [] and staged.id in {i["id"] for i in target.managed()}
    with pytest.raises(GlanceError, match="cannot be read back"):
        target.download(staged.id)


def test_release_makes_it_current_and_retire_disables_the_old_one(target, one_sim, name):
    first = stage(target, name, payload(name + "1"))
    target.release(first, Release(name, "private", {"version": "1", "long": "x" * 9000,
                                                    "vmcatcher_event_dc_identifier": "abc"}))
    released = target.get(first.id)
    assert [i["id"] for i in target.current(name)] == [first.id]
    assert released["tags"] == [names.TAG_MANAGED] and released["os_hidden"] is False
    assert not [p for p in names.PENDING_PROPS if p in released]
    assert released["version"] == "1" and len(released["long"]) == 8192
    tpl = template(one_sim, first.id)
    assert tpl["VMCATCHER_EVENT_DC_IDENTIFIER"] == "abc" and tpl["GLANCING_P_VERSION"] == "1"
    assert one_sim.world.images[int(first.id)]["PERMISSIONS"] == [1, 1, 0, 1, 0, 0, 0, 0, 0]  # 640
    second = stage(target, name, payload(name + "2"))
    target.release(second, Release(name, "private", {"version": "2"}))  # oned: one name per owner
    target.retire(target.get(first.id), second.id, appliance=name)
    old = target.get(first.id)
    assert [i["id"] for i in target.current(name)] == [second.id]
    assert old["name"] == f"{name} (1)" and old["os_hidden"] is True and old["status"] == "deactivated"
    assert names.TAG_BACKUP in old["tags"] and old[names.PROP_REPLACED_BY] == second.id
    assert old[names.PROP_APPLIANCE] == name and old["visibility"] == "private"
    assert one_sim.world.images[int(first.id)]["PERMISSIONS"] == [1, 1, 0, 0, 0, 0, 0, 0, 0]
    target.retire(target.get(second.id), "x")  # make room for the promotion
    target.promote(old, name)
    back = target.get(first.id)
    assert back["name"] == name and back["os_hidden"] is False and names.TAG_BACKUP not in back["tags"]
    assert names.PROP_REPLACED_BY not in back and back["status"] == "active"


def test_an_image_renamed_by_hand_is_still_its_appliance(target, one_sim, name):
    staged = stage(target, name, payload(name))
    target.release(staged, Release(name, "public"))
    one_sim.world.images[int(staged.id)]["NAME"] = "renamed by an operator"
    assert [i["id"] for i in target.current(name)] == [staged.id] and target.current("renamed by an operator") == []
    assert target.get(staged.id)["visibility"] == "public"


def test_found_by_digest_annotated_and_pruned(target, name):
    staged = stage(target, name, payload(name))
    target.release(staged, Release(name, "private", {"glancing_sha512": "f" * 128}))
    assert [i["id"] for i in target.with_digest("sha512", "f" * 128)] == [staged.id]
    assert target.get(staged.id)["os_hash_value"] == "f" * 128
    target.annotate(staged.id, {names.PROP_ROLLED_BACK: names.stamp()})
    assert target.get(staged.id)[names.PROP_ROLLED_BACK]
    assert target.prune(staged.id) == ("deleted", "")
    with pytest.raises(GlanceError, match=r"one.image.info .*Error getting image"):
        target.get(staged.id)


def test_an_image_in_use_is_never_deleted_nor_disabled(target, one_sim, name):
    staged = stage(target, name, payload(name))
    target.release(staged, Release(name, "private"))
    one_sim.world.attach_vm(int(staged.id))
    result, why = target.prune(staged.id)
    assert result == "deactivated" and "in use" in why and "There are 1 VMs using it" in why
    retired = target.retire(target.get(staged.id), "new")
    assert retired["one_state"] == 2 and names.TAG_BACKUP in retired["tags"]
    assert target.expire(target.get(staged.id), "deactivate")[0] == "hidden"
    assert int(staged.id) in one_sim.world.images


def test_expire_tags_hides_and_disables(target, one_sim, name):
    staged = stage(target, name, payload(name))
    target.release(staged, Release(name, "public"))
    assert target.expire(target.get(staged.id), "deactivate") == ("deactivated", "")
    image = target.get(staged.id)
    assert names.TAG_EXPIRED in image["tags"] and image["os_hidden"] and image["status"] == "deactivated"
    assert image["visibility"] == "private" and image[names.PROP_EXPIRED_AT]
    assert target.expire(image, "delete") == ("deleted", "") and int(staged.id) not in one_sim.world.images


def test_discard_removes_a_staged_image(target, name):
    staged = stage(target, name, payload(name))
    assert target.discard(staged.id) is True and target.discard(staged.id) is True
    assert staged.id not in {i["id"] for i in target.managed()}


def test_leftovers_of_dead_runs_go_live_ones_stay(target, name):
    owner = f"contract-{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.timezone.utc)
    dead = stage(target, name + "d", payload(name + "d"), PendingMark(owner, socket.gethostname(), dead_pid(), now))
    live = stage(target, name + "l", payload(name + "l"), PendingMark(owner, socket.gethostname(), os.getpid(), now))
    away = stage(target, name + "a", payload(name + "a"), PendingMark(owner, "elsewhere", 1, now - dt.timedelta(days=2)))
    verdicts = {image["id"]: verdict for image, verdict in target.clean_leftovers(LeftoverPolicy(owner))}
    assert (verdicts[dead.id], verdicts[live.id], verdicts[away.id]) == ("removed", "live", "removed")
    assert {i["id"] for i in target.managed()} & {dead.id, live.id, away.id} == {live.id}


def test_limits_are_known_without_asking(target):
    with pytest.raises(UsageError, match="129 characters"):
        stage(target, "n" * 129, b"x")
    with pytest.raises(UsageError, match="container format"):
        target.limits.check_container_format("ova")


def test_an_image_that_goes_to_error_is_deleted_and_the_stage_fails(target, one_sim, name):
    one_sim.world.fail_next = 1
    with pytest.raises(GlanceError, match="went to ERROR") as failed:
        stage(target, name, payload(name))
    assert exit_code(failed.value) == 4 and one_sim.world.images == {}
    assert [m for m, _ in one_sim.world.calls][-1] == "one.image.delete"


def test_an_image_never_ready_times_out_and_is_deleted(one_sim, tmp_path, name):
    one_sim.world.never_ready = True
    target = one_target(one_sim, tmp_path / "spool", ready_timeout=0.3)
    with pytest.raises(GlanceError, match=r"not READY within 0.3 s \(one.image.info\)"):
        stage(target, name, payload(name))
    polls = [m for m, _ in one_sim.world.calls if m == "one.image.info"]
    assert one_sim.world.images == {} and 3 <= len(polls) < 40  # backing off, bounded


def test_a_path_the_front_end_cannot_read_fails_and_leaves_nothing(target, one_sim, name):
    request = StageRequest(name, "raw", "bare", PendingMark.here("t"))
    with pytest.raises(GlanceError, match="ERROR"):
        target.stage(request, Payload(path="/nonexistent/disk.img", size=1))
    assert one_sim.world.images == {}


def test_error_codes_name_the_call(one_sim, tmp_path):
    wrong = one_target(one_sim, tmp_path / "s", session="oneadmin:wrong")
    with pytest.raises(GlanceError, match=r"refused one.imagepool.info: .*couldn't be authenticated.*\(error 256\)"):
        wrong.managed()
    with pytest.raises(GlanceError, match=r"one.image.info 42: \[ImageInfo\] Error getting image \[42\]. \(error 1024\)"):
        one_target(one_sim, tmp_path / "s").get("42")
    one_sim.world.add_image({**_image(5), "UID": 0})
    with pytest.raises(GlanceError, match=r"Not authorized to perform USE IMAGE \[5\]. \(error 512\)"):
        one_target(one_sim, tmp_path / "s", session="user:opennebula").get("5")
    with pytest.raises(GlanceError, match="no datastore 'nope'"):
        one_target(one_sim, tmp_path / "s", datastore="nope").datastore_id()
    assert one_target(one_sim, tmp_path / "s", datastore="1").datastore_id() == 1


def test_an_unreachable_front_end_is_a_target_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from glancing.targets.opennebula import OneSettings, connect

    target = connect(OneSettings(endpoint=f"http://127.0.0.1:{port}/RPC2", session="a:b", request_timeout=2))
    target.client.retry = target.client.retry.__class__(retries=1, backoff=0.01)
    with pytest.raises(GlanceError, match=rf"cannot reach OpenNebula at http://127.0.0.1:{port}/RPC2 for one.image.info"):
        target.get("1")


def test_group_permissions_and_a_vm_template_follow_the_settings(one_sim, tmp_path, name):
    target = one_target(one_sim, tmp_path / "spool", group="rspec-group", permissions=(1, 1, 0, 1, 1, 0, 0, 0, 0),
                        vm_template=True)
    first = stage(target, name, payload(name))
    target.release(first, Release(name, "private", {"min_ram": "2048"}))
    image = one_sim.world.images[int(first.id)]
    assert (image["GID"], image["GNAME"], image["PERMISSIONS"]) == (100, "rspec-group", [1, 1, 0, 1, 1, 0, 0, 0, 0])
    [tpl] = one_sim.world.templates.values()
    assert (tpl["NAME"], tpl["TEMPLATE"]["MEMORY"], tpl["TEMPLATE"]["DISK"]) == (name, "2048", f'IMAGE_ID = "{first.id}"')
    second = stage(target, name, payload(name + "2"))
    target.release(second, Release(name, "private"))
    [tpl] = one_sim.world.templates.values()
    assert tpl["TEMPLATE"]["GLANCING_IMAGE_ID"] == second.id


def _image(image_id: int) -> dict:
    return {"ID": image_id, "UID": 0, "GID": 0, "UNAME": "oneadmin", "GNAME": "oneadmin", "NAME": f"i{image_id}",
            "PERMISSIONS": [1, 1, 0, 0, 0, 0, 0, 0, 0], "TYPE": 0, "DISK_TYPE": 0, "PERSISTENT": 0,
            "REGTIME": 1487434220, "SOURCE": "", "PATH": "", "FSTYPE": "raw", "SIZE": 1, "STATE": 1,
            "RUNNING_VMS": 0, "CLONING_OPS": 0, "CLONING_ID": -1, "TARGET_SNAPSHOT": -1, "DATASTORE_ID": 1,
            "DATASTORE": "default", "VMS": [], "TEMPLATE": {}}


def test_a_front_end_that_never_answers_is_bounded(tmp_path):
    from glancing.targets.opennebula import OneSettings, connect

    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        target = connect(OneSettings(endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}/RPC2", session="a:b",
                                     request_timeout=0.5))
        with pytest.raises(GlanceError, match="did not answer one.imagepool.info") as failed:
            target.managed()
    assert exit_code(failed.value) == 4
