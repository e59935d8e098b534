# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""`glancing --method web-download|auto` against the lab: Glance fetches the URL itself.

The lab's Glance fetches only from 127.0.0.1:18080 ([import_filtering_opts]), so every test here
shares one loopback server on that port (this module's fixture): only one can hold it.
"""

from __future__ import annotations

import json
import uuid

import pytest

from images import compress, digest, make_qcow2

PORT = 18080


def all_ids(admin):
    return {i["id"] for i in admin.images.list()} | {i["id"] for i in admin.images.list(filters={"os_hidden": True})}


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    from httpserver import FaultyHTTPServer

    server = FaultyHTTPServer(root, PORT).start()
    yield root, server
    server.stop()


@pytest.fixture
def name():
    return f"wd-{uuid.uuid4().hex[:10]}"


def glancing_requests(server, path):
    """(method, Range header) of the requests glancing itself sent for ``path``."""
    return [(m, h.get("Range")) for m, p, h in server.requests
            if p == path and str(h.get("User-Agent", "")).startswith("glancing/")]


def test_web_download_never_moves_the_image_through_this_host(lab, glance, glance_cleanup, run_cli, www, name):
    root, server = www
    img = make_qcow2(root / f"{name}.qcow2", seed=b"wd", size_mib=24)
    server.requests.clear()
    res = run_cli("glancing", "--method", "web-download", "-n", name, "-s", digest(img, "sha512"), "--json",
                  server.url(img.name))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["method"] == "web-download" and out["verified"] == ["sha512"]
    image = glance.images.get(out["image_id"])
    assert image["status"] == "active" and not image["os_hidden"] and image["name"] == name
    assert image["os_hash_value"] == digest(img, "sha512") and image["checksum"] == digest(img, "md5")
    assert image["disk_format"] == "qcow2" and image["glancing_sha512"] == digest(img, "sha512")
    assert "glancing-pending" not in image["tags"]
    # glancing read one 8 MiB head to probe it; the 24 MiB image itself was fetched by Glance.
    assert glancing_requests(server, "/" + img.name) == [("GET", "bytes=0-8388607")]
    others = [h for m, p, h in server.requests if p == "/" + img.name and "glancing/" not in str(h.get("User-Agent"))]
    assert len(others) >= 1 and all(h.get("Range") is None for h in others)


def test_web_download_digest_mismatch_publishes_nothing(lab, glance_cleanup, run_cli, www, name):
    root, server = www
    img = make_qcow2(root / f"{name}.qcow2", seed=b"bad")
    admin = lab.admin_glance()
    before = all_ids(admin)
    wrong = digest(img, "md5")[::-1]
    res = run_cli("glancing", "--method", "web-download", "-n", name, "-s", wrong, server.url(img.name))
    assert res.returncode == 1, res.stderr
    assert "digest mismatch" in res.stderr and "as downloaded by Glance" in res.stderr
    assert all_ids(admin) == before  # the hidden web-download was deleted


def test_glance_task_failure_is_reported_and_leaves_nothing(lab, glance_cleanup, run_cli, www, name):
    root, server = www
    img = make_qcow2(root / f"{name}.qcow2", seed=b"cut", size_mib=24)
    # glancing's head (8 MiB) passes; Glance's own download is cut at 12 MiB, every time.
    server.drop_after("/" + img.name, 12 << 20, times=10)
    admin = lab.admin_glance()
    before = all_ids(admin)
    res = run_cli("glancing", "--method", "web-download", "-n", name, "-s", digest(img, "sha512"),
                  server.url(img.name), env={"GLANCING_GLANCE_IMPORT_TIMEOUT": "120"})
    server.drop_after("/" + img.name, 0, times=0)
    assert res.returncode == 4, res.stderr
    # Glance's own words: the store it failed for and its task's message.
    assert "web-download of image" in res.stderr and "could not import it into store fs: Task failed" in res.stderr
    assert all_ids(admin) == before


@pytest.mark.parametrize("why, args, expected", [
    ("no md5/sha512", ["-s", "SHA256"], "no expected md5 or sha512"),
    ("a digest Glance cannot check", ["-s", "SHA256", "--digest", "sha512:SHA512"], "does not compute sha256"),
    ("forced", ["-f", "-s", "SHA512"], "-f needs the bytes"),
])
def test_web_download_refused_when_glance_could_not_be_judged(lab, glance_cleanup, run_cli, www, name, why, args,
                                                               expected):
    root, server = www
    img = make_qcow2(root / f"{name}.qcow2", seed=why.encode())
    admin = lab.admin_glance()
    before = all_ids(admin)
    real = {"SHA256": digest(img), "SHA512": digest(img, "sha512")}
    args = [a.replace("SHA256", real["SHA256"]).replace("SHA512", real["SHA512"]) for a in args]
    res = run_cli("glancing", "--method", "web-download", "-n", name, *args, server.url(img.name))
    assert res.returncode == 2, res.stderr
    assert "--method web-download cannot import" in res.stderr and expected in res.stderr
    assert all_ids(admin) == before


def test_compressed_source_web_download_refused_auto_uploads(lab, glance, glance_cleanup, run_cli, www, name):
    root, server = www
    img = make_qcow2(root / f"{name}.qcow2", seed=b"gz")
    packed = compress(img, "gz")
    res = run_cli("glancing", "--method", "web-download", "-n", name, "-s", digest(packed, "sha512"),
                  server.url(packed.name))
    assert res.returncode == 2 and "gzip-compressed" in res.stderr
    res = run_cli("glancing", "--method", "auto", "-n", name, "-s", digest(packed, "sha512"), "--json",
                  server.url(packed.name))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["method"] == "upload" and out["compression"] == "gz"
    assert glance.images.get(out["image_id"])["os_hash_value"] == digest(img, "sha512")


def test_auto_from_settings_picks_web_download(lab, glance, glance_cleanup, run_cli, www, name, tmp_path):
    root, server = www
    img = make_qcow2(root / f"{name}.qcow2", seed=b"auto")
    conf = tmp_path / "glancing.conf"
    conf.write_text("[glance]\nimport_method = auto\n")
    res = run_cli("glancing", "--config", str(conf), "-n", name, "-s", digest(img, "md5"), "--json",
                  server.url(img.name))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["method"] == "web-download" and out["verified"] == ["md5"]
    assert glance.images.get(out["image_id"])["checksum"] == digest(img, "md5")


def test_web_download_into_two_stores(lab, glance_cleanup, run_cli, www, name):
    root, server = www
    img = make_qcow2(root / f"{name}.qcow2", seed=b"stores")
    res = run_cli("glancing", "--os-cloud", "lab-admin", "--method", "web-download", "--stores", "fs2,fs",
                  "-n", name, "-s", digest(img, "sha512"), "--json", server.url(img.name),
                  env={k: None for k in lab.env if k != "OS_CLIENT_CONFIG_FILE"})
    assert res.returncode == 0, res.stderr
    image = lab.admin_glance().images.get(json.loads(res.stdout)["image_id"])
    assert sorted(image["stores"].split(",")) == ["fs", "fs2"] and image["status"] == "active"
    assert not image["os_hidden"] and image["os_hash_value"] == digest(img, "sha512")


def test_hostile_disk_refused_before_glance_is_asked_to_fetch(lab, glance_cleanup, run_cli, www, name):
    from images import qcow2_with_backing

    root, server = www
    img = qcow2_with_backing(root / f"{name}.qcow2", "/etc/passwd")
    admin = lab.admin_glance()
    before = all_ids(admin)
    server.requests.clear()
    res = run_cli("glancing", "--method", "web-download", "-n", name, "-s", digest(img, "sha512"),
                  server.url(img.name))
    assert res.returncode == 1 and "backing file" in res.stderr
    assert all_ids(admin) == before
    assert all("glancing/" in str(h.get("User-Agent")) for _, _, h in server.requests)  # Glance fetched nothing


def test_web_download_into_two_clouds(lab, glance_cleanup, run_cli, www, name, tmp_path):
    root, server = www
    img = make_qcow2(root / f"{name}.qcow2", seed=b"two clouds", size_mib=24)
    server.requests.clear()
    env = {k: None for k in lab.env if k != "OS_CLIENT_CONFIG_FILE"}
    res = run_cli("glancing", "--os-cloud", "lab", "--os-cloud", "lab-second", "--method", "auto", "-n", name,
                  "-s", digest(img, "sha512"), "--json", server.url(img.name), env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [c["method"] for c in out["clouds"]] == ["web-download", "web-download"]
    admin = lab.admin_glance()
    assert all(admin.images.get(c["image_id"])["os_hash_value"] == digest(img, "sha512") for c in out["clouds"])
    ours = glancing_requests(server, "/" + img.name)
    assert ours == [("GET", "bytes=0-8388607")]  # one head for both clouds, never the image
