# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager sync`` of a HEPiX subscription into OpenNebula, end to end: a list signed by
the tests' CA on a loopback site (subskit), the real commands, the vmcatcher cache, and the
simulated front-end. Register, a new version (the old one renamed, disabled, narrowed), a VM
using a backup (kept when pruning, and said so), expiry (disabled and tagged)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from images import make_qcow2
from onekit import one_env, one_sim  # noqa: F401 - one_sim is a fixture
from subskit import running_site
from trustkit import pki  # noqa: F401 - fixture

__all__ = ["one_sim", "pki"]


def entry(site, n: int, version: str) -> dict:
    path = make_qcow2(site.root / f"img{n}-{version}.qcow2", seed=f"{n}/{version}".encode(), size_mib=1)
    return {"hv:image": {"dc:identifier": f"00000000-0000-4000-8000-{n:012d}", "dc:title": f"One {n}",
                         "dc:description": f"appliance {n}", "hv:uri": site.server.url(path.name),
                         "hv:size": path.stat().st_size, "hv:version": version, "hv:format": "qcow2",
                         "sl:checksum:sha512": hashlib.sha512(path.read_bytes()).hexdigest(), "sl:os": "Linux",
                         "sl:arch": "x86_64"}}


def sync(run_cli, common, env):
    res = run_cli("glance_manager", *common, "--json", "sync", env=env, timeout=300)
    assert res.returncode == 0, res.stderr + res.stdout
    return json.loads(res.stdout)["subscriptions"]


def test_subscription_sync_into_opennebula(run_cli, one_sim, pki, tmp_path: Path) -> None:
    world = one_sim.world
    (tmp_path / "site").mkdir()
    with running_site(pki, tmp_path / "site") as site:
        two = entry(site, 2, "1")  # made once: make_qcow2 writes new random bytes each time
        site.publish("1", [entry(site, 1, "1"), two])
        env = {**one_env(one_sim, tmp_path), "GLANCING_OPENNEBULA_POLL": "0.01"}
        common = ["--db", str(tmp_path / "db" / "g.db"), "--ca-dir", str(pki.ca_dirs["valid"]),
                  "--trust", str(tmp_path / "site" / "trusted-endorsers"), "--lock", str(tmp_path / "gm.lock"),
                  "--cache-dir", str(tmp_path / "cache"), "--keep", "1"]
        assert run_cli("glance_manager", *common, "subscribe", site.url, env=env).returncode == 0
        ids = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
        assert run_cli("glance_manager", *common, "select", *ids, env=env).returncode == 0

        first = sync(run_cli, common, env)
        made = {o["uuid"]: int(o["image_id"]) for o in first["outcomes"]}
        assert sorted(o["action"] for o in first["outcomes"]) == ["imported", "imported"]
        one = world.images[made[ids[0]]]
        assert one["NAME"] == "One 1" and one["STATE"] == 1 and one["PATH"] == str(tmp_path / "cache" / ids[0])
        assert one["TEMPLATE"]["VMCATCHER_EVENT_DC_IDENTIFIER"] == ids[0]
        assert one["TEMPLATE"]["DESCRIPTION"] == "appliance 1" and one["TEMPLATE"]["DRIVER"] == "qcow2"
        assert world.stored_bytes(one["ID"]) == (site.root / "img1-1.qcow2").read_bytes()
        assert sync(run_cli, common, env)["outcomes"] == []  # nothing new: nothing registered again

        site.publish("2", [entry(site, 1, "2"), two])
        second = sync(run_cli, common, env)
        assert [(o["uuid"], o["action"]) for o in second["outcomes"]] == [(ids[0], "imported")]
        backup = world.images[made[ids[0]]]
        assert backup["NAME"] == "One 1 (1)" and backup["STATE"] == 3 and backup["PERMISSIONS"][3:] == [0] * 6
        current = [i for i in world.images.values() if i["NAME"] == "One 1"]
        assert len(current) == 1 and world.stored_bytes(current[0]["ID"]) == (site.root / "img1-2.qcow2").read_bytes()

        world.attach_vm(made[ids[0]])  # a VM still runs the first version
        site.publish("3", [entry(site, 1, "3")])
        third = sync(run_cli, common, env)
        actions = sorted((o["uuid"], o["action"]) for o in third["outcomes"])
        assert actions == [(ids[0], "imported"), (ids[1], "expired")]
        pruned = {p["image_id"]: p for p in third["pruned"]}
        assert pruned[str(made[ids[0]])]["result"] == "deactivated" and "in use" in pruned[str(made[ids[0]])]["why"]
        assert made[ids[0]] in world.images and world.images[made[ids[0]]]["RUNNING_VMS"] == 1
        gone = world.images[made[ids[1]]]
        assert gone["STATE"] == 3 and "glancing-expired" in gone["TEMPLATE"]["GLANCING_TAGS"]


def test_marketplace_list_into_opennebula(run_cli, one_sim, marketplace, pki, http_server, tmp_path: Path) -> None:
    from marketplace import signed_record

    www = tmp_path / "www"
    www.mkdir()
    server = http_server(www)
    (tmp_path / "no-trust").write_text("")

    def publish(version: str) -> Path:
        path = make_qcow2(www / f"m-{version}.qcow2", seed=version.encode(), size_mib=1)
        mpid = marketplace.publish(signed_record(pki.good, path, [server.url(path.name)], title="Market A",
                                                 version=version))
        (tmp_path / "list.txt").write_text(mpid + "\n")
        return path

    env = {**one_env(one_sim, tmp_path), "GLANCING_OPENNEBULA_POLL": "0.01"}
    args = ["--target", "opennebula", "-l", str(tmp_path / "list.txt"), "-u", marketplace.base, "--ca-dir",
            str(pki.ca_dirs["valid"]), "--endorser", pki.good.subject_openssl, "--trust", str(tmp_path / "no-trust"),
            "--lock", str(tmp_path / "gm.lock"), "--json"]
    first_disk = publish("1")
    res = run_cli("glance_manager", *args, env={k: v for k, v in env.items() if k != "GLANCING_TARGET_KIND"})
    assert res.returncode == 0, res.stderr + res.stdout
    [first] = one_sim.world.images.values()
    assert first["NAME"] == "Market A" and one_sim.world.stored_bytes(first["ID"]) == first_disk.read_bytes()
    assert first["TEMPLATE"]["GLANCING_P_MPID"] and first["TEMPLATE"]["GLANCING_P_VERSION"] == "1"
    publish("2")
    res = run_cli("glance_manager", *args, env=env)
    assert res.returncode == 0, res.stderr + res.stdout
    assert first["NAME"] == "Market A (1)" and first["STATE"] == 3
    assert [i["TEMPLATE"]["GLANCING_P_VERSION"] for i in one_sim.world.named("Market A")] == ["2"]


def test_vmcatcher_events_into_opennebula_as_the_on_handler_did(run_cli, one_sim, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    ident = "4b1e5f0e-2c1a-4d8e-9f00-0123456789ab"

    def event(version: str) -> dict:
        path = make_qcow2(cache / ident, seed=version.encode(), size_mib=1)
        data = path.read_bytes()
        return {"VMCATCHER_EVENT_TYPE": "AvailablePostfix", "VMCATCHER_EVENT_UUID_SESSION": "s",
                "VMCATCHER_CACHE_DIR_CACHE": str(cache), "VMCATCHER_EVENT_DC_IDENTIFIER": ident,
                "VMCATCHER_EVENT_DC_TITLE": "From vmcatcher", "VMCATCHER_EVENT_HV_VERSION": version,
                "VMCATCHER_EVENT_HV_URI": f"https://images.example.org/{ident}", "VMCATCHER_EVENT_HV_SIZE": str(len(data)),
                "VMCATCHER_EVENT_SL_CHECKSUM_SHA512": hashlib.sha512(data).hexdigest(),
                "VMCATCHER_EVENT_FILENAME": ident, **one_env(one_sim, tmp_path), "GLANCING_OPENNEBULA_POLL": "0.01"}

    def handle(env: dict) -> dict:
        res = run_cli("glance_manager", "vmcatcher-event", "--json", "--db", str(tmp_path / "db" / "g.db"), env=env)
        assert res.returncode == 0, res.stderr + res.stdout
        return json.loads(res.stdout)

    first = event("1")
    assert handle(first)["action"] == "imported"
    [image] = one_sim.world.images.values()
    assert image["TEMPLATE"]["VMCATCHER_EVENT_DC_IDENTIFIER"] == ident and image["PATH"] == str(cache / ident)
    assert one_sim.world.stored_bytes(image["ID"]) == (cache / ident).read_bytes()
    assert handle(first)["action"] == "current"
    assert handle(event("2"))["action"] == "imported"
    assert image["NAME"].startswith("From vmcatcher (") and image["STATE"] == 3 and len(one_sim.world.images) == 2
