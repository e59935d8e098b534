# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""`glancing` against the real Glance + Keystone of the lab: imports, refusals, replacement, faults."""

from __future__ import annotations

import hashlib
import io
import json
import uuid

import pytest

from images import compress, digest, make_qcow2, make_raw
from tcpproxy import CuttingProxy


def snapshot(glance):
    """Every image the demo user can see, hidden ones included: id -> (name, status, hidden)."""
    images = list(glance.images.list()) + list(glance.images.list(filters={"os_hidden": True}))
    return {i["id"]: (i["name"], i["status"], i.get("os_hidden")) for i in images}


def named(glance, name, hidden=False):
    filters = {"name": name}
    if hidden:
        filters["os_hidden"] = True
    return list(glance.images.list(filters=filters))


@pytest.fixture
def name():
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def served(tmp_path, http_server):
    (tmp_path / "www").mkdir()
    return tmp_path / "www", http_server(tmp_path / "www")


def test_local_qcow2_import_sets_properties_and_matches_glance(lab, glance, glance_cleanup, run_cli, tmp_path, name):
    img = make_qcow2(tmp_path / "disk.qcow2")
    res = run_cli("glancing", "-n", name, "-s", digest(img), "--property", "site=lab", "--json", str(img))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    image = glance.images.get(out["image_id"])
    assert image["name"] == name and image["status"] == "active"
    assert image["disk_format"] == "qcow2" and image["container_format"] == "bare"
    assert image["visibility"] == "private" and not image["os_hidden"]
    assert image["checksum"] == digest(img, "md5")
    assert image["os_hash_value"] == digest(img, "sha512")
    assert image["glancing_sha256"] == digest(img) and image["site"] == "lab"
    assert image["source"] == str(img) and "glancing_version" in image
    assert "glancing" in image["tags"] and "glancing-pending" not in image["tags"]
    assert out["verified"] == ["sha256"] and out["status"] == "imported"


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zip"])
def test_url_import_of_compressed_image(lab, glance, glance_cleanup, run_cli, tmp_path, served, name, kind):
    www, server = served
    img = make_qcow2(www / "disk.qcow2", seed=kind.encode())
    packed = compress(img, kind)
    res = run_cli("glancing", "-n", name, "-s", digest(packed), "--json", server.url(packed.name))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["compression"] == kind and out["source_size"] == packed.stat().st_size
    image = glance.images.get(out["image_id"])
    assert image["disk_format"] == "qcow2"
    assert image["size"] == img.stat().st_size
    assert image["os_hash_value"] == digest(img, "sha512")  # the uncompressed bytes reached Glance
    assert image["glancing_sha256"] == digest(packed)  # what was verified: the bytes as given


def test_raw_image_is_detected_as_raw_not_guessed_from_name(lab, glance, glance_cleanup, run_cli, tmp_path, name):
    img = make_raw(tmp_path / "looks-like.qcow2")
    res = run_cli("glancing", "-n", name, "-s", digest(img, "md5"), "--json", str(img))
    assert res.returncode == 0, res.stderr
    assert glance.images.get(json.loads(res.stdout)["image_id"])["disk_format"] == "raw"


@pytest.mark.parametrize("case", ["one-of-two-wrong", "wrong-md5-right-sha256", "wrong-sha512", "sums-file-wrong",
                                  "format"])
def test_mismatches_leave_glance_unchanged(lab, glance, glance_cleanup, run_cli, tmp_path, served, name, case):
    www, server = served
    img = make_qcow2(www / "disk.qcow2")
    args = {
        "one-of-two-wrong": ["-s", f"{digest(img, 'md5')}:{'0' * 64}"],
        # md5 and sha512 are left to Glance's own hashing: a wrong one is caught on Glance's value.
        "wrong-md5-right-sha256": ["-s", f"{'0' * 32}:{digest(img)}"],
        "wrong-sha512": ["--digest", f"sha512:{'1' * 128}"],
        "sums-file-wrong": ["-S", str(_sums(tmp_path, "SHA256SUMS", f"{'2' * 64}  disk.qcow2\n"))],
        "format": ["-s", digest(img), "--disk-format", "raw"],
    }[case]
    before = snapshot(glance)
    res = run_cli("glancing", "-n", name, *args, server.url("disk.qcow2"))
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and "error:" in res.stderr  # one line, no traceback
    assert snapshot(glance) == before


def _sums(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sums_files_gnu_and_bsd_over_http(lab, glance, glance_cleanup, run_cli, served, name):
    www, server = served
    img = make_qcow2(www / "disk.qcow2")
    (www / "SHA256SUMS").write_text(f"{digest(img)} *disk.qcow2\n{'3' * 64}  other.img\n")
    (www / "CHECKSUMS").write_text(f"SHA512 (disk.qcow2) = {digest(img, 'sha512')}\n")
    res = run_cli("glancing", "-n", name, "--json", server.url("disk.qcow2"),
                  "-S", server.url("SHA256SUMS"), server.url("CHECKSUMS"))
    assert res.returncode == 0, res.stderr
    assert sorted(json.loads(res.stdout)["verified"]) == ["sha256", "sha512"]


def test_sums_file_without_the_image_is_a_verification_failure(lab, glance, run_cli, tmp_path, served, name):
    www, server = served
    make_qcow2(www / "disk.qcow2")
    sums = _sums(tmp_path, "SHA256SUMS", f"{'4' * 64}  other.img\n")
    before = snapshot(glance)
    res = run_cli("glancing", "-n", name, "-S", str(sums), server.url("disk.qcow2"))
    assert res.returncode == 1 and "lists no digest" in res.stderr
    assert snapshot(glance) == before


def test_remote_image_without_digest_is_refused(lab, glance, run_cli, served, name):
    www, server = served
    make_qcow2(www / "disk.qcow2")
    before = snapshot(glance)
    res = run_cli("glancing", "-n", name, server.url("disk.qcow2"))
    assert res.returncode == 2 and "--allow-unverified" in res.stderr
    assert snapshot(glance) == before
    assert not [r for r in server.requests if r[0] == "GET"]  # refused before any download


def test_unknown_length_download(lab, glance, glance_cleanup, run_cli, served, name):
    www, server = served
    img = make_qcow2(www / "disk.qcow2")
    server.no_length("disk.qcow2")
    res = run_cli("glancing", "-n", name, "-s", digest(img), "--json", server.url("disk.qcow2"))
    assert res.returncode == 0, res.stderr
    assert glance.images.get(json.loads(res.stdout)["image_id"])["size"] == img.stat().st_size


def test_dropped_connection_resumes_instead_of_starting_over(lab, glance, glance_cleanup, run_cli, served, name):
    www, server = served
    img = make_qcow2(www / "disk.qcow2", size_mib=6)
    server.drop_after("disk.qcow2", 2_000_000, times=2)
    res = run_cli("glancing", "-n", name, "-s", digest(img), "--json", server.url("disk.qcow2"))
    assert res.returncode == 0, res.stderr
    gets = [dict(r[2]) for r in server.requests if r[0] == "GET"]
    assert len(gets) == 3 and all(g.get("Range", "").startswith("bytes=") for g in gets[1:])
    assert glance.images.get(json.loads(res.stdout)["image_id"])["checksum"] == digest(img, "md5")


def test_dead_server_is_exit_3(lab, glance, run_cli, name):
    before = snapshot(glance)
    res = run_cli("glancing", "-n", name, "-s", "0" * 64, "http://127.0.0.1:9/disk.qcow2")
    assert res.returncode == 3 and "127.0.0.1:9" in res.stderr
    assert snapshot(glance) == before


def test_replace_keeps_the_old_image_hidden_and_active(lab, glance, glance_cleanup, run_cli, tmp_path, name):
    first = make_qcow2(tmp_path / "v1.qcow2", seed=b"1")
    second = make_qcow2(tmp_path / "v2.qcow2", seed=b"2")
    r1 = run_cli("glancing", "-n", name, "-s", digest(first), "--json", str(first))
    assert r1.returncode == 0, r1.stderr
    old_id = json.loads(r1.stdout)["image_id"]
    r2 = run_cli("glancing", "-n", name, "-s", digest(second), "--json", str(second))
    assert r2.returncode == 0, r2.stderr
    out = json.loads(r2.stdout)
    assert out["retired"] == [{"id": old_id, "name": name}]
    visible = named(glance, name)
    assert [i["id"] for i in visible] == [out["image_id"]]
    old = glance.images.get(old_id)
    assert old["status"] == "active" and old["os_hidden"] is True
    assert old["name"].startswith(f"{name} (") and "glancing-backup" in old["tags"]
    assert old["glancing_replaced_by"] == out["image_id"]


def test_failed_replace_leaves_the_old_image_untouched(lab, glance, glance_cleanup, run_cli, tmp_path, name):
    first = make_qcow2(tmp_path / "v1.qcow2", seed=b"1")
    second = make_qcow2(tmp_path / "v2.qcow2", seed=b"2")
    r1 = run_cli("glancing", "-n", name, "-s", digest(first), "--json", str(first))
    assert r1.returncode == 0, r1.stderr
    old = glance.images.get(json.loads(r1.stdout)["image_id"])
    before = snapshot(glance)
    r2 = run_cli("glancing", "-n", name, "-s", digest(first), str(second))  # wrong digest for v2
    assert r2.returncode == 1
    assert snapshot(glance) == before
    assert dict(glance.images.get(old["id"])) == dict(old)


def test_backup_dir_downloads_the_old_image_first(lab, glance, glance_cleanup, run_cli, tmp_path, name):
    first = make_qcow2(tmp_path / "v1.qcow2", seed=b"1")
    second = make_qcow2(tmp_path / "v2.qcow2", seed=b"2")
    assert run_cli("glancing", "-n", f"../{name}/x", "-s", digest(first), str(first)).returncode == 0
    backups = tmp_path / "backups"
    res = run_cli("glancing", "-n", f"../{name}/x", "-s", digest(second), "-b", str(backups), "--json", str(second))
    assert res.returncode == 0, res.stderr
    [path] = json.loads(res.stdout)["backups"]
    assert path.startswith(str(backups) + "/") and "/" not in path[len(str(backups)) + 1:]
    assert hashlib.md5(open(path, "rb").read()).hexdigest() == digest(first, "md5")
    assert backups.stat().st_mode & 0o777 == 0o700


def test_glance_failing_mid_upload_leaves_nothing_behind(lab, glance, glance_cleanup, run_cli, tmp_path, name):
    img = make_qcow2(tmp_path / "disk.qcow2", size_mib=8)
    proxy = CuttingProxy("127.0.0.1", 19292)
    try:
        proxy.cut_uploads_after(3_000_000)
        before = snapshot(glance)
        res = run_cli("glancing", "-n", name, "-s", digest(img), str(img),
                      env={"OS_IMAGE_ENDPOINT_OVERRIDE": f"http://127.0.0.1:{proxy.port}"})
    finally:
        proxy.stop()
    assert proxy.cuts == 1
    assert res.returncode == 4, res.stderr
    assert snapshot(glance) == before


def test_wrong_credentials_are_exit_4(lab, glance, run_cli, tmp_path, name):
    img = make_qcow2(tmp_path / "disk.qcow2")
    res = run_cli("glancing", "-n", name, "-s", digest(img), str(img), env={"OS_PASSWORD": "wrong"})
    assert res.returncode == 4 and "demopass" not in res.stderr and "wrong" not in res.stderr


def test_clouds_yaml_with_os_cloud(lab, glance, glance_cleanup, run_cli, tmp_path, name):
    img = make_qcow2(tmp_path / "disk.qcow2")
    env = {k: None for k in lab.env if k.startswith("OS_") and k != "OS_CLIENT_CONFIG_FILE"}
    res = run_cli("glancing", "--os-cloud", "lab", "-n", name, "-s", digest(img), "--json", str(img), env=env)
    assert res.returncode == 0, res.stderr
    assert glance.images.get(json.loads(res.stdout)["image_id"])["name"] == name


def test_another_projects_image_of_the_same_name_is_not_retired(lab, glance, glance_cleanup, run_cli,
                                                                   tmp_path, name):
    admin = lab.admin_glance()
    theirs = admin.images.create(name=name, disk_format="raw", container_format="bare", visibility="public")
    admin.images.upload(theirs["id"], io.BytesIO(b"their image bytes"))
    img = make_qcow2(tmp_path / "disk.qcow2")
    res = run_cli("glancing", "-n", name, "-s", digest(img), "--json", str(img))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["retired"] == []
    after = admin.images.get(theirs["id"])
    assert after["name"] == name and not after["os_hidden"] and after["visibility"] == "public"
