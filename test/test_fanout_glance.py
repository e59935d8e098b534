# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""`glancing --os-cloud A --os-cloud B`: one read of the source, one verification, every cloud its
own hidden upload, cross-check and swap; a failing cloud does not stop the others."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from images import digest, make_qcow2


def all_ids(admin):
    return {i["id"] for i in admin.images.list()} | {i["id"] for i in admin.images.list(filters={"os_hidden": True})}


@pytest.fixture
def name():
    return f"fan-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clouds(lab, tmp_path):
    """The lab's clouds.yaml plus `lab-wrong`: the demo user with a wrong password."""
    text = (lab.lab_dir / "clouds.yaml").read_text()
    lab_entry = text.split("  lab:\n", 1)[1].split("  lab-second:\n", 1)[0]
    path = tmp_path / "clouds.yaml"
    path.write_text(text + "  lab-wrong:\n" + lab_entry.replace("password: demopass", "password: wrongpass"))
    return {**{k: None for k in lab.env}, "OS_CLIENT_CONFIG_FILE": str(path)}


@pytest.fixture
def served(tmp_path, http_server):
    (tmp_path / "www").mkdir()
    return tmp_path / "www", http_server(tmp_path / "www")


def gets(server, path):
    return [m for m, p, _ in server.requests if p == path and m == "GET"]


def test_two_clouds_from_one_read(lab, glance_cleanup, run_cli, served, name, clouds):
    www, server = served
    img = make_qcow2(www / "disk.qcow2", seed=b"fan", size_mib=16)
    res = run_cli("glancing", "--os-cloud", "lab", "--os-cloud", "lab-second", "-n", name, "-s", digest(img),
                  "--json", server.url("disk.qcow2"), env=clouds)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "imported" and out["failed"] == [] and out["exit_code"] == 0
    assert [c["cloud"] for c in out["clouds"]] == ["lab", "lab-second"]
    assert len(gets(server, "/disk.qcow2")) == 1  # one read for both clouds
    admin = lab.admin_glance()
    owners = set()
    for cloud in out["clouds"]:
        image = admin.images.get(cloud["image_id"])
        assert image["name"] == name and image["status"] == "active" and not image["os_hidden"]
        assert image["os_hash_value"] == digest(img, "sha512") and image["glancing_sha256"] == digest(img)
        owners.add(image["owner"])
    assert len(owners) == 2  # each in its own project


def test_one_cloud_with_wrong_credentials_does_not_stop_the_other(lab, glance, glance_cleanup, run_cli, served,
                                                                  name, clouds):
    www, server = served
    img = make_qcow2(www / "disk.qcow2", seed=b"wrong")
    res = run_cli("glancing", "--os-cloud", "lab-wrong", "--os-cloud", "lab", "-n", name, "-s", digest(img),
                  "--json", server.url("disk.qcow2"), env=clouds)
    assert res.returncode == 8, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "partial" and out["failed"] == ["lab-wrong"]
    wrong, good = out["clouds"]
    assert wrong["status"] == "error" and wrong["exit_code"] == 4 and "401" in wrong["error"]
    assert good["status"] == "imported" and glance.images.get(good["image_id"])["name"] == name
    assert "cloud lab-wrong:" in res.stderr and "wrongpass" not in res.stderr


def test_digest_mismatch_reaches_no_cloud(lab, glance_cleanup, run_cli, served, name, clouds):
    www, server = served
    # Larger than the probed head, so the verdict comes at the end of the uploads, not before them.
    img = make_qcow2(www / "disk.qcow2", seed=b"bad fan", size_mib=16)
    admin = lab.admin_glance()
    before = all_ids(admin)
    res = run_cli("glancing", "--os-cloud", "lab", "--os-cloud", "lab-second", "-n", name,
                  "-s", digest(img)[::-1], "--json", server.url("disk.qcow2"), env=clouds)
    assert res.returncode == 1, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "error" and out["failed"] == ["lab", "lab-second"]
    assert all("digest mismatch" in c["error"] for c in out["clouds"])
    assert all_ids(admin) == before
    assert len(gets(server, "/disk.qcow2")) == 1


def test_clouds_from_settings_replace_the_old_image_in_each(lab, glance_cleanup, run_cli, served, name, clouds,
                                                            tmp_path):
    www, server = served
    conf = tmp_path / "glancing.conf"
    conf.write_text("[glance]\nclouds = lab, lab-second\n")
    first = make_qcow2(www / "disk.qcow2", seed=b"v1")
    res = run_cli("glancing", "--config", str(conf), "-n", name, "-s", digest(first), "--json",
                  server.url("disk.qcow2"), env=clouds)
    assert res.returncode == 0, res.stderr
    old = {c["cloud"]: c["image_id"] for c in json.loads(res.stdout)["clouds"]}
    second = make_qcow2(www / "disk.qcow2", seed=b"v2")
    res = run_cli("glancing", "--config", str(conf), "-n", name, "-s", digest(second), "--json",
                  server.url("disk.qcow2"), env=clouds)
    assert res.returncode == 0, res.stderr
    for cloud in json.loads(res.stdout)["clouds"]:
        assert cloud["retired"] == [{"id": old[cloud["cloud"]], "name": name}]


def test_manager_syncs_each_cloud_and_says_which_failed(lab, glance_cleanup, run_cli, tmp_path, http_server,
                                                        marketplace, pki, glance, clouds):
    from test_manager_glance import Site

    (tmp_path / "www").mkdir()
    site = Site(tmp_path, http_server(tmp_path / "www"), marketplace, pki, run_cli, lab, glance)
    site.write_list(site.publish("fan", "1.0"))
    res = run_cli("glance_manager", "--os-cloud", "lab", "--os-cloud", "lab-wrong", "--os-cloud", "lab-second",
                  "-l", str(site.list), "-u", marketplace.base, *site.trust, "--lock", str(site.lock), "--json",
                  env=clouds)
    assert res.returncode == 8, res.stderr
    out = json.loads(res.stdout)
    assert out["failed"] == ["lab-wrong"] and sorted(out["clouds"]) == ["lab", "lab-second", "lab-wrong"]
    admin = lab.admin_glance()
    found = [i for i in admin.images.list(filters={"name": site.title("fan")})]
    assert len({i["owner"] for i in found}) == 2 and all(i["status"] == "active" for i in found)


def test_an_upload_cut_in_one_cloud_does_not_stop_the_other(lab, glance_cleanup, run_cli, served, name, clouds):
    from tcpproxy import CuttingProxy

    www, server = served
    img = make_qcow2(www / "disk.qcow2", seed=b"cut one", size_mib=24)
    proxy = CuttingProxy("127.0.0.1", 19292)
    proxy.cut_uploads_after(4 << 20)
    path = Path(clouds["OS_CLIENT_CONFIG_FILE"])
    text = path.read_text()
    lab_entry = text.split("  lab:\n", 1)[1].split("  lab-second:\n", 1)[0]
    path.write_text(text + "  lab-cut:\n" + f"    image_endpoint_override: http://127.0.0.1:{proxy.port}\n" + lab_entry)
    try:
        res = run_cli("glancing", "--os-cloud", "lab-cut", "--os-cloud", "lab-second", "-n", name, "-s", digest(img),
                      "--json", server.url("disk.qcow2"), env=clouds)
    finally:
        proxy.stop()
    assert res.returncode == 8, res.stderr
    out = json.loads(res.stdout)
    assert out["failed"] == ["lab-cut"] and proxy.cuts == 1
    cut, good = out["clouds"]
    assert cut["exit_code"] == 4
    image = lab.admin_glance().images.get(good["image_id"])
    assert image["status"] == "active" and image["os_hash_value"] == digest(img, "sha512")
    demo = lab.glance()
    assert not list(demo.images.list(filters={"name": name}))  # nothing published in the cut cloud
    assert len(gets(server, "/disk.qcow2")) == 1


def test_protected_reaches_every_cloud_and_a_vmdk_is_refused_before_any_cloud(lab, glance_cleanup, run_cli, served,
                                                                             name, clouds):
    www, server = served
    img = make_qcow2(www / "disk.qcow2", seed=b"fan protected", size_mib=2)
    res = run_cli("glancing", "--os-cloud", "lab", "--os-cloud", "lab-second", "-n", name, "-s", digest(img),
                  "--protected", "--json", server.url("disk.qcow2"), env=clouds)
    admin = lab.admin_glance()
    ids = [c.get("image_id") for c in json.loads(res.stdout)["clouds"]] if res.stdout else []
    try:
        assert res.returncode == 0, res.stderr
        assert len(ids) == 2 and all(admin.images.get(i)["protected"] for i in ids)
    finally:
        for image_id in filter(None, ids):  # the sweep cannot delete a protected image
            admin.images.update(image_id, protected=False)
    before = all_ids(admin)
    vmdk = www / "disk.vmdk"
    subprocess.run(["qemu-img", "convert", "-q", "-O", "vmdk", str(img), str(vmdk)], check=True)
    res = run_cli("glancing", "--os-cloud", "lab", "--os-cloud", "lab-second", "-n", name + "-v",
                  "-s", digest(vmdk), server.url("disk.vmdk"), env=clouds)
    assert res.returncode == 2 and "converts to qcow2" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert all_ids(admin) == before
