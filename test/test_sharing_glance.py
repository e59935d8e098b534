# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Sharing on the real lab (no quarantine): --share by name resolved through Keystone, the VO
map, memberships accepted with the member project's own clouds.yaml entry and visible from its
credentials, members carried to a new version while the retired backup keeps its own."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any, Dict

import pytest
from sharekit import BIN, run_glancing, second_glance


def _members(admin: Any, image_id: str) -> Dict[str, str]:
    return {m["member_id"]: m["status"] for m in admin.image_members.list(image_id)}


def _disk(tmp_path: Path, size: str) -> Path:
    path = tmp_path / f"disk-{size}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    vo_map = tmp_path / "vo-projects.json"
    vo_map.write_text(json.dumps({"testvo": ["second"], "othervo": "nobody-such"}))
    conf = tmp_path / "glancing.conf"
    conf.write_text(f"[sharing]\nvo_map = {vo_map}\nmember_clouds = lab-second\n")
    return conf


def test_vo_map_shares_and_accepts_then_a_new_version_keeps_the_members(lab: Any, glance_cleanup: Any,
                                                                        tmp_path: Path, config: Path) -> None:
    name = f"share-vo-{uuid.uuid4().hex[:8]}"
    first = run_glancing(lab, config, "--json", "-n", name, "--property", "vmcatcher_event_vo=testvo",
                      str(_disk(tmp_path, "1M")))
    assert first.returncode == 0, first.stderr
    old = json.loads(first.stdout)
    second_project = second_glance().http_client.get_project_id()
    admin = lab.admin_glance()
    assert old["members"] == [second_project] and old["acceptance"] == {second_project: "accepted"}
    assert dict(admin.images.get(old["image_id"]))["visibility"] == "shared"
    assert old["image_id"] in {i["id"] for i in second_glance().images.list(filters={"name": name})}

    # The next version: no --share, no VO; it reaches the same projects, and the backup keeps them.
    plain = tmp_path / "plain.conf"
    plain.write_text("[sharing]\nmember_clouds = lab-second\n")
    again = run_glancing(lab, plain, "--json", "-n", name, str(_disk(tmp_path, "2M")))
    assert again.returncode == 0, again.stderr
    new = json.loads(again.stdout)
    assert new["members"] == [second_project] and new["acceptance"] == {second_project: "accepted"}
    assert _members(admin, new["image_id"]) == {second_project: "accepted"}
    backup = dict(admin.images.get(old["image_id"]))
    assert backup["os_hidden"] is True and "glancing-backup" in backup["tags"]
    assert _members(admin, old["image_id"]) == {second_project: "accepted"}
    # Running VMs of the second project keep their image: it can still read the backup.
    assert second_glance().images.get(old["image_id"])["status"] == "active"


def test_share_by_name_without_member_credentials_is_shown_pending(lab: Any, glance_cleanup: Any,
                                                                   tmp_path: Path) -> None:
    conf = tmp_path / "glancing.conf"
    conf.write_text("")
    second_project = second_glance().http_client.get_project_id()
    name = f"share-id-{uuid.uuid4().hex[:8]}"
    res = run_glancing(lab, conf, "-n", name, "--share", second_project, str(_disk(tmp_path, "1M")))
    assert res.returncode == 0, res.stderr
    assert f"shared with {second_project}: not accepted:" in res.stdout
    assert "openstack image set --accept" in res.stderr
    image = [i for i in lab.admin_glance().images.list(filters={"name": name})][0]
    assert _members(lab.admin_glance(), image["id"]) == {second_project: "pending"}


def test_unknown_project_name_is_a_usage_error_before_any_upload(lab: Any, glance_cleanup: Any,
                                                                 tmp_path: Path) -> None:
    conf = tmp_path / "glancing.conf"
    conf.write_text("")
    name = f"share-bad-{uuid.uuid4().hex[:8]}"
    res = run_glancing(lab, conf, "-n", name, "--share", "no-such-project", str(_disk(tmp_path, "1M")))
    assert res.returncode == 2
    assert "cannot share with 'no-such-project'" in res.stderr and "Traceback" not in res.stderr
    assert list(lab.admin_glance().images.list(filters={"name": name})) == []


@pytest.fixture
def site(tmp_path, http_server, marketplace, pki, run_cli, lab, glance, glance_cleanup, monkeypatch) -> Any:
    from test_manager_glance import Site

    (tmp_path / "www").mkdir()
    conf = tmp_path / "glancing.conf"
    conf.write_text("[sharing]\nprojects = second\nmember_clouds = lab-second\n")
    monkeypatch.setenv("GLANCING_CONFIG", str(conf))  # the commands run_cli starts read it
    return Site(tmp_path, http_server(tmp_path / "www"), marketplace, pki, run_cli, lab, glance)


def test_manager_shares_accepts_and_carries_members_to_the_next_version(site: Any, tmp_path: Path,
                                                                        monkeypatch: Any) -> None:
    v1 = site.publish("Shared", "1")
    site.report(ids=[v1])
    second_project = second_glance().http_client.get_project_id()
    admin = site.lab.admin_glance()
    [first] = site.images("Shared")
    assert first["visibility"] == "shared" and _members(admin, first["id"]) == {second_project: "accepted"}
    # Sharing no longer configured: the next version still reaches the projects of the one it replaces.
    plain = tmp_path / "plain.conf"
    plain.write_text("[sharing]\nmember_clouds = lab-second\n")
    monkeypatch.setenv("GLANCING_CONFIG", str(plain))
    v2 = site.publish("Shared", "2")
    site.report(ids=[v2])
    current = [i for i in site.images("Shared") if not i["os_hidden"]]
    assert [i["version"] for i in current] == ["2"]
    assert _members(admin, current[0]["id"]) == {second_project: "accepted"}
    assert _members(admin, first["id"]) == {second_project: "accepted"}  # the backup keeps its members
    assert current[0]["id"] in {i["id"] for i in second_glance().images.list(filters={"name": site.title("Shared")})}


def test_vmcatcher_event_vo_is_shared_through_the_vo_map(lab: Any, run_cli: Any, glance: Any, glance_cleanup: Any,
                                                        tmp_path: Path, config: Path) -> None:
    from test_vmcatcher_event_glance import Cache

    cache = Cache(tmp_path, run_cli, glance)
    ident = str(uuid.uuid4())
    env = {**cache.image(ident, "1", "vo"), "VMCATCHER_EVENT_VO": "testvo", "GLANCING_CONFIG": str(config)}
    out = cache.event(env)
    assert out["action"] == "imported", out
    [image] = cache.images(ident)
    second_project = second_glance().http_client.get_project_id()
    assert image["visibility"] == "shared" and image["vmcatcher_event_vo"] == "testvo"
    assert _members(lab.admin_glance(), image["id"]) == {second_project: "accepted"}


def test_admin_resolves_names_through_keystone_and_accepts_itself(lab: Any, glance_cleanup: Any,
                                                                  tmp_path: Path) -> None:
    conf = tmp_path / "glancing.conf"
    conf.write_text("")
    name = f"share-admin-{uuid.uuid4().hex[:8]}"
    env_cloud = ["--os-cloud", "lab-admin"]
    res = subprocess.run([str(BIN / "glancing"), *env_cloud, "--json", "-n", name, "--share", "second",
                          str(_disk(tmp_path, "1M"))], capture_output=True, text=True, timeout=300,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("OS_")},
                              "OS_CLIENT_CONFIG_FILE": lab.env["OS_CLIENT_CONFIG_FILE"], "GLANCING_CONFIG": str(conf)})
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    second_project = second_glance().http_client.get_project_id()
    assert out["members"] == [second_project] and out["acceptance"] == {second_project: "accepted"}
    assert out["image_id"] in {i["id"] for i in second_glance().images.list(filters={"name": name})}
