# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Proof that the harness works: the real Keystone and Glance, the CLI runner, the HTTP server."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import time
import uuid
from pathlib import Path

import pytest
import requests
from glanceclient import exc as glance_exc

DATA = os.urandom(100_000)


@pytest.fixture
def served(tmp_path: Path, http_server):
    (tmp_path / "blob.bin").write_bytes(DATA)
    return http_server(tmp_path)


def _get(srv, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """A raw http.client GET, so that a short body shows up as IncompleteRead, not a retry."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


# ---- the lab ----

def test_demo_user_gets_a_keystone_token(lab):
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": lab.env["OS_USERNAME"], "domain": {"name": "Default"},
            "password": lab.env["OS_PASSWORD"]}}},
        "scope": {"project": {"name": lab.env["OS_PROJECT_NAME"], "domain": {"name": "Default"}}},
    }}
    resp = requests.post(f"{lab.auth_url}/auth/tokens", json=body, timeout=10)
    assert resp.status_code == 201
    assert resp.headers["X-Subject-Token"]
    token = resp.json()["token"]
    assert token["project"]["name"] == "demo"
    assert {"member", "reader"} <= {r["name"] for r in token["roles"]}
    image_urls = [ep["url"] for svc in token["catalog"] if svc["type"] == "image"
                  for ep in svc["endpoints"] if ep["interface"] == "public"]
    assert image_urls == [lab.glance_url]


def test_wrong_password_is_refused(lab):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"name": "Default"}, "password": "not-the-password"}}}}}
    assert requests.post(f"{lab.auth_url}/auth/tokens", json=body, timeout=10).status_code == 401


def test_glance_upload_digests_match_and_delete(glance, glance_cleanup):
    payload = os.urandom(7 * 1024 + 3)
    img = glance.images.create(name=f"harness-{uuid.uuid4().hex[:8]}", disk_format="raw",
                               container_format="bare")
    glance.images.upload(img["id"], io.BytesIO(payload))
    got = glance.images.get(img["id"])
    assert got["status"] == "active"
    assert got["size"] == len(payload)
    assert got["checksum"] == hashlib.md5(payload).hexdigest()
    assert got["os_hash_algo"] == "sha512"
    assert got["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    assert b"".join(glance.images.data(img["id"])) == payload
    glance.images.delete(img["id"])
    with pytest.raises(glance_exc.HTTPNotFound):
        glance.images.get(img["id"])


def test_cleanup_sweeps_hidden_images(glance, glance_cleanup):
    hidden = glance.images.create(name=f"hidden-{uuid.uuid4().hex[:8]}", disk_format="raw",
                                  container_format="bare", os_hidden=True)
    assert hidden["id"] not in {i["id"] for i in glance.images.list()}
    assert glance_cleanup.sweep() == [hidden["id"]]
    with pytest.raises(glance_exc.HTTPNotFound):
        glance.images.get(hidden["id"])


def test_clouds_yaml_works_with_openstacksdk(lab):
    import openstack

    loader = openstack.config.OpenStackConfig(config_files=[lab.env["OS_CLIENT_CONFIG_FILE"]],
                                              load_envvars=False)
    conn = openstack.connection.Connection(config=loader.get_one(cloud="lab"))
    try:
        assert conn.current_project.name == "demo"
        assert conn.image.get_endpoint().rstrip("/").startswith(lab.glance_url)
        list(conn.image.images(limit=1))
    finally:
        conn.close()


# ---- the CLI runner ----

def test_run_cli_passes_lab_env_and_drops_outer_os_vars(lab, run_cli, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "somewhere-else")
    monkeypatch.setenv("OS_PASSWORD", "outer-secret")
    code = "import os, json; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('OS_')}))"
    res = run_cli("python", "-c", code)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == lab.env
    bare = run_cli("python", "-c", code, lab_env=False, env={"OS_REGION_NAME": "X"})
    assert json.loads(bare.stdout) == {"OS_REGION_NAME": "X"}


def test_run_cli_feeds_stdin(run_cli):
    res = run_cli("python", "-c", "import sys; print(sys.stdin.read().upper())", input="abc")
    assert (res.returncode, res.stdout) == (0, "ABC\n")


# ---- the HTTP server ----

def test_range_gives_206_with_the_right_bytes(served):
    status, headers, body = _get(served, "/blob.bin", {"Range": "bytes=1000-1999"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 1000-1999/{len(DATA)}"
    assert body == DATA[1000:2000]
    status, _, body = _get(served, "/blob.bin", {"Range": "bytes=99000-"})
    assert (status, body) == (206, DATA[99000:])
    status, _, body = _get(served, "/blob.bin", {"Range": "bytes=-10"})
    assert (status, body) == (206, DATA[-10:])
    status, headers, _ = _get(served, "/blob.bin", {"Range": f"bytes={len(DATA)}-"})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{len(DATA)}"


def test_drop_after_gives_a_short_body_then_serves_normally(served):
    served.drop_after("/blob.bin", 4096)
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.request("GET", "/blob.bin")
    resp = conn.getresponse()
    assert resp.getheader("Content-Length") == str(len(DATA))
    with pytest.raises(http.client.IncompleteRead) as short:
        resp.read()
    conn.close()
    assert short.value.partial == DATA[:4096]
    assert _get(served, "/blob.bin", {})[2] == DATA


def test_if_range_with_a_wrong_validator_gives_the_whole_file(served):
    _, headers, _ = _get(served, "/blob.bin", {})
    status, _, body = _get(served, "/blob.bin", {"Range": "bytes=500-", "If-Range": '"stale"'})
    assert (status, body) == (200, DATA)
    status, _, body = _get(served, "/blob.bin", {"Range": "bytes=500-", "If-Range": headers["ETag"]})
    assert (status, body) == (206, DATA[500:])
    status, _, body = _get(served, "/blob.bin",
                           {"Range": "bytes=500-", "If-Range": headers["Last-Modified"]})
    assert (status, body) == (206, DATA[500:])


def test_fail_no_range_no_length_delay_and_request_log(served):
    served.fail("/blob.bin", 503, times=2)
    assert [_get(served, "/blob.bin", {})[0] for _ in range(3)] == [503, 503, 200]
    served.no_range()
    status, headers, body = _get(served, "/blob.bin", {"Range": "bytes=10-"})
    assert (status, body) == (200, DATA)
    assert "Accept-Ranges" not in headers
    served.no_length("/blob.bin")
    status, headers, body = _get(served, "/blob.bin", {})
    assert "Content-Length" not in headers and headers["Transfer-Encoding"] == "chunked"
    assert body == DATA
    served.no_length("/blob.bin", chunked=False)
    status, headers, body = _get(served, "/blob.bin", {})
    assert "Content-Length" not in headers and body == DATA
    served.delay(0.3)
    t0 = time.monotonic()
    assert _get(served, "/nothing-here", {})[0] == 404
    assert time.monotonic() - t0 >= 0.3
    assert served.requests[0][:2] == ("GET", "/blob.bin")
    assert served.requests[3][2].get("Range") == "bytes=10-"
    assert served.url("a b.bin") == f"http://127.0.0.1:{served.port}/a%20b.bin"


def test_paths_cannot_escape_the_served_directory(tmp_path, http_server):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_text("no")
    srv = http_server(root)
    assert _get(srv, "/../secret", {})[0] == 404
    assert _get(srv, "/%2e%2e/secret", {})[0] == 404
