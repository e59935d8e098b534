# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""`glancing --stores a,b` against the lab's two file stores: upload to the first, copy-image to
the others, published only once every store holds the image."""

from __future__ import annotations

import json
import uuid

import pytest

from images import digest, make_qcow2


def all_ids(admin):
    return {i["id"] for i in admin.images.list()} | {i["id"] for i in admin.images.list(filters={"os_hidden": True})}


@pytest.fixture
def name():
    return f"st-{uuid.uuid4().hex[:10]}"


def as_cloud(lab, cloud):
    """Options and environment that make glancing use one clouds.yaml entry of the lab."""
    return ["--os-cloud", cloud], {k: None for k in lab.env if k != "OS_CLIENT_CONFIG_FILE"}


def test_upload_then_copy_to_the_second_store(lab, glance_cleanup, run_cli, tmp_path, name):
    img = make_qcow2(tmp_path / "disk.qcow2", seed=b"two stores")
    cloud, env = as_cloud(lab, "lab-admin")
    res = run_cli("glancing", *cloud, "--stores", "fs,fs2", "-n", name, "-s", digest(img), "--json", str(img),
                  env=env)
    assert res.returncode == 0, res.stderr
    image = lab.admin_glance().images.get(json.loads(res.stdout)["image_id"])
    assert image["stores"].split(",") == ["fs", "fs2"] or sorted(image["stores"].split(",")) == ["fs", "fs2"]
    assert image["status"] == "active" and not image["os_hidden"] and image["name"] == name
    assert image["os_hash_value"] == digest(img, "sha512")
    assert "copying" in res.stderr and "fs2" in res.stderr


def test_stores_from_the_settings_file(lab, glance_cleanup, run_cli, tmp_path, name):
    img = make_qcow2(tmp_path / "disk.qcow2", seed=b"conf stores")
    conf = tmp_path / "glancing.conf"
    conf.write_text("[glance]\nstores = fs2, fs\n")
    cloud, env = as_cloud(lab, "lab-admin")
    res = run_cli("glancing", "--config", str(conf), *cloud, "-n", name, "-s", digest(img), "--json", str(img),
                  env=env)
    assert res.returncode == 0, res.stderr
    image = lab.admin_glance().images.get(json.loads(res.stdout)["image_id"])
    assert sorted(image["stores"].split(",")) == ["fs", "fs2"]


def test_unknown_store_is_a_usage_error_before_anything_is_sent(lab, glance_cleanup, run_cli, tmp_path, name):
    img = make_qcow2(tmp_path / "disk.qcow2", seed=b"no store")
    admin = lab.admin_glance()
    before = all_ids(admin)
    res = run_cli("glancing", "--stores", "fs,fs9", "-n", name, "-s", digest(img), str(img))
    assert res.returncode == 2
    assert "Glance has no store fs9; it has fs, fs2" in res.stderr
    assert all_ids(admin) == before


def test_copy_refused_by_policy_publishes_nothing(lab, glance_cleanup, run_cli, tmp_path, name):
    # The demo user is a member: Glance's default policy keeps copy-image for admins.
    img = make_qcow2(tmp_path / "disk.qcow2", seed=b"member copy")
    admin = lab.admin_glance()
    before = all_ids(admin)
    res = run_cli("glancing", "--stores", "fs,fs2", "-n", name, "-s", digest(img), str(img))
    assert res.returncode == 4, res.stderr
    assert "HTTP 403" in res.stderr and "only admins copy images" in res.stderr
    assert all_ids(admin) == before  # the hidden upload in fs was deleted


def test_bad_stores_option_is_a_usage_error(lab, run_cli, tmp_path):
    res = run_cli("glancing", "--stores", ",", "-d", str(tmp_path / "x"))
    assert res.returncode == 2 and "--stores" in res.stderr
