# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing SOURCE --target opennebula`` end to end: the real command, a real loopback HTTP
server with qemu-img-made disks, and the simulated front-end (OpenNebula's own ONE_XMLRPC and
ONE_AUTH conventions). What the front-end copied must be exactly the verified bytes."""

from __future__ import annotations

import json
from pathlib import Path

import images
from onekit import auth_file, one_env, one_sim  # noqa: F401 - one_sim is a fixture

__all__ = ["one_sim"]


def run(run_cli, sim, tmp_path, *args, **env):
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    full = {**one_env(sim, tmp_path), "GLANCING_OPENNEBULA_PATH_PREFIX": str(spool), "GLANCING_OPENNEBULA_POLL": "0.01",
            **env}
    return run_cli("glancing", *args, "--json", env=full)


def test_a_url_is_verified_spooled_registered_and_replaces_the_previous_version(run_cli, one_sim, http_server, tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    disk = images.make_qcow2(served / "debian.qcow2", b"1")
    server = http_server(served)
    url = server.url("debian.qcow2")
    res = run(run_cli, one_sim, tmp_path, "-s", images.digest(disk), "-n", "Debian", url)
    assert res.returncode == 0, res.stderr
    first = json.loads(res.stdout)["image_id"]
    assert one_sim.world.stored_bytes(int(first)) == disk.read_bytes()
    image = one_sim.world.images[int(first)]
    assert image["NAME"] == "Debian" and image["TEMPLATE"]["DRIVER"] == "qcow2" and image["STATE"] == 1
    assert image["TEMPLATE"]["GLANCING_SHA256"] == images.digest(disk) and image["TEMPLATE"]["GLANCING_P_SOURCE"] == url
    assert list((tmp_path / "spool").iterdir()) == []  # the spooled copy is gone once oned has its own
    disk2 = images.make_qcow2(served / "debian.qcow2", b"2")
    res = run(run_cli, one_sim, tmp_path, "-s", images.digest(disk2), "-n", "Debian", url)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["retired"] == [{"id": first, "name": "Debian"}]
    old = one_sim.world.images[int(first)]
    assert old["NAME"].startswith("Debian (") and old["STATE"] == 3 and old["TEMPLATE"]["GLANCING_HIDDEN"] == "yes"
    assert one_sim.world.stored_bytes(int(out["image_id"])) == disk2.read_bytes()


def test_a_wrong_digest_leaves_nothing_behind(run_cli, one_sim, http_server, tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    images.make_qcow2(served / "disk.qcow2")
    server = http_server(served)
    res = run(run_cli, one_sim, tmp_path, "-s", "0" * 64, server.url("disk.qcow2"))
    assert res.returncode == 1 and "digest mismatch" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert one_sim.world.images == {} and list((tmp_path / "spool").iterdir()) == []
    res = run(run_cli, one_sim, tmp_path, "-s", "0" * 64, str(served / "disk.qcow2"))  # registered where it is
    assert res.returncode == 1 and "digest mismatch" in res.stderr and one_sim.world.images == {}
    packed = images.compress(served / "disk.qcow2", "gz")
    res = run(run_cli, one_sim, tmp_path, "-s", images.digest(packed), server.url(packed.name),
              GLANCING_OPENNEBULA_REGISTER_FROM="url")
    assert res.returncode == 2 and "from an uncompressed http(s) or ftp source only" in res.stderr
    assert one_sim.world.images == {}


def test_a_compressed_file_is_registered_decompressed_an_uncompressed_one_where_it_is(run_cli, one_sim, tmp_path):
    disk = images.make_raw(tmp_path / "disk.img", size_mib=2)
    packed = images.compress(disk, "xz")
    res = run(run_cli, one_sim, tmp_path, "-s", images.digest(packed), "-n", "packed", str(packed))
    assert res.returncode == 0, res.stderr
    spooled = one_sim.world.images[int(json.loads(res.stdout)["image_id"])]
    assert spooled["PATH"].startswith(str(tmp_path / "spool")) and spooled["TEMPLATE"]["DRIVER"] == "raw"
    assert one_sim.world.stored_bytes(spooled["ID"]) == disk.read_bytes()
    res = run(run_cli, one_sim, tmp_path, "-s", images.digest(disk), "-n", "plain", str(disk))
    assert res.returncode == 0, res.stderr
    assert one_sim.world.images[int(json.loads(res.stdout)["image_id"])]["PATH"] == str(disk)


def test_register_from_url_hands_oned_the_verified_source(run_cli, one_sim, http_server, tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    disk = images.make_qcow2(served / "d.qcow2")
    server = http_server(served)
    res = run(run_cli, one_sim, tmp_path, "-s", images.digest(disk), server.url("d.qcow2"),
              GLANCING_OPENNEBULA_REGISTER_FROM="url")
    assert res.returncode == 0, res.stderr
    image = one_sim.world.images[int(json.loads(res.stdout)["image_id"])]
    assert image["PATH"] == server.url("d.qcow2") and one_sim.world.stored_bytes(image["ID"]) == disk.read_bytes()


def test_authentication_and_configuration_errors_are_one_line(run_cli, one_sim, tmp_path):
    disk = images.make_raw(tmp_path / "disk.img", size_mib=1)
    res = run(run_cli, one_sim, tmp_path, "-s", images.digest(disk), str(disk),
              ONE_AUTH=str(auth_file(tmp_path / "wrong", "oneadmin:wrong")))
    assert res.returncode == 4 and len(res.stderr.strip().splitlines()) == 1
    assert "refused one.imagepool.info" in res.stderr and "error 256" in res.stderr
    res = run(run_cli, one_sim, tmp_path, str(disk), "-s", images.digest(disk), ONE_AUTH=str(tmp_path / "none"))
    assert res.returncode == 7 and "OpenNebula auth file" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("glancing", "--target", "nebula", str(disk))
    assert res.returncode == 2 and "--target" in res.stderr
    assert one_sim.world.images == {}


def test_glancing_config_shows_opennebula_conventions(run_cli, one_sim, tmp_path):
    res = run_cli("glancing", "config", env={"ONE_XMLRPC": one_sim.url, "ONE_AUTH": "/x/one_auth"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(line.split() == ["env:ONE_XMLRPC", f"opennebula.endpoint={one_sim.url}"] for line in lines)
    assert any(line.split() == ["env:ONE_AUTH", "opennebula.auth_file=/x/one_auth"] for line in lines)
    assert any(line.split() == ["default", "target.kind=glance"] for line in lines)


def test_the_auth_file_default_is_opennebulas(tmp_path: Path):
    from glancing.settings import Settings

    s = Settings.load(env={}, files=[])
    assert s.get("opennebula", "auth_file") == "~/.one/one_auth"
    assert s.get("opennebula", "endpoint") == "http://localhost:2633/RPC2"


def test_share_is_refused_for_opennebula_before_anything_is_registered(run_cli, one_sim, tmp_path):
    disk = images.make_qcow2(tmp_path / "disk.qcow2", b"share")
    res = run(run_cli, one_sim, tmp_path, "-s", images.digest(disk), "--share", "someproject", str(disk))
    assert res.returncode == 2 and "[opennebula] group and permissions" in res.stderr
    assert one_sim.world.images == {}
