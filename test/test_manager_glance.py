# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""`glance_manager` against the real Glance + Keystone lab and the loopback marketplace."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from glanceclient import exc as glance_exc

from images import make_qcow2
from manager_helpers import CountingProxy, build_fleet
from marketplace import signed_record

BIN = Path(sys.executable).parent


class Site:
    """One test's world: an image server, a marketplace, trust options, a list file, a lock."""

    def __init__(self, tmp: Path, server: Any, marketplace: Any, pki: Any, run_cli: Any, lab: Any,
                 glance: Any) -> None:
        self.tmp, self.server, self.marketplace, self.pki, self.lab = tmp, server, marketplace, pki, lab
        self.www = tmp / "www"
        self._run_cli, self.glance = run_cli, glance
        self.lock = tmp / "manager.lock"
        self.list = tmp / "img_list.txt"
        (tmp / "no-trust-file").write_text("")
        self.trust = ["--ca-dir", str(pki.ca_dirs["valid"]), "--endorser", pki.good.subject_openssl,
                      "--trust", str(tmp / "no-trust-file")]
        # Other tests share the lab's demo project: unique titles keep their images apart.
        self.prefix = f"mgr-{uuid.uuid4().hex[:8]}"

    def title(self, name: str) -> str:
        return f"{self.prefix} {name}"

    def publish(self, name: str, version: str, size_mib: int = 1) -> str:
        """Make an image of appliance ``name`` at ``version``, serve it, publish its record; its ID."""
        path = make_qcow2(self.www / f"{name}-{version}.qcow2".replace(" ", "_"),
                          seed=f"{self.prefix}{name}{version}".encode(), size_mib=size_mib)
        record = signed_record(self.pki.good, path, [self.server.url(path.name)],
                               title=self.title(name), version=version)
        return self.marketplace.publish(record)

    def write_list(self, *ids: str) -> Path:
        self.list.write_text("".join(f"{i}\n" for i in ids))
        return self.list

    def run(self, *args: str, ids: Any = None, timeout: float = 120) -> Any:
        """glance_manager sync over ``ids`` (or the current list file) with this site's options."""
        if ids is not None:
            self.write_list(*ids)
        debug = ["-v"] if os.environ.get("GM_DEBUG") else []
        return self._run_cli("glance_manager", *debug, "-l", str(self.list), "-u", self.marketplace.base,
                             *self.trust, "--lock", str(self.lock), *args, timeout=timeout)

    def report(self, *args: str, ids: Any = None, code: int = 0) -> Dict[str, Any]:
        res = self.run("--json", *args, ids=ids)
        assert res.returncode == code, res.stderr + res.stdout
        assert self.lab.env["OS_PASSWORD"] not in res.stderr + res.stdout  # credentials never shown
        return json.loads(res.stdout)

    def images(self, name: str) -> List[Dict[str, Any]]:
        """Every image (hidden too) of appliance ``name`` in the demo project, oldest first."""
        title = self.title(name)
        found = list(self.glance.images.list(filters={"tag": ["glancing"]}))
        found += list(self.glance.images.list(filters={"tag": ["glancing"], "os_hidden": True}))
        # status "deleted" but still listed: a delete the lab's SQLite Glance half-applied.
        mine = [dict(i) for i in found if i.get("status") != "deleted"
                and (i.get("glancing_appliance") == title or str(i.get("name", "")).startswith(title))]
        return sorted(mine, key=lambda i: (i["created_at"], i["id"]))


    def spawn(self, *args: str, ids: Any = None) -> subprocess.Popen:
        """Start glance_manager sync in the background (same options and environment as run)."""
        if ids is not None:
            self.write_list(*ids)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(self.lab.env)
        argv = [str(BIN / "glance_manager"), "-l", str(self.list), "-u", self.marketplace.base,
                *self.trust, "--lock", str(self.lock), *args]
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    def image_gets(self) -> int:
        """Image downloads the image server has answered so far."""
        return sum(1 for method, _, _ in list(self.server.requests) if method == "GET")

    def pending(self, name: str) -> List[Dict[str, Any]]:
        """Unpublished uploads of appliance ``name`` (hidden, tag glancing-pending)."""
        found = self.glance.images.list(filters={"tag": ["glancing-pending"], "os_hidden": True})
        return [dict(i) for i in found if i.get("glancing_pending_name") == self.title(name)]

    def wait_for(self, what: Callable[[], Any], timeout: float = 30) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = what()
            if value:
                return value
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}")


def by_version(images: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {i["version"]: i for i in images}


def metrics(path: Path) -> Dict[str, float]:
    """Samples of a Prometheus text file; every sample must have HELP and TYPE gauge lines."""
    text = path.read_text()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.split()
            samples[name] = float(value)
            assert f"# HELP {name} " in text and f"# TYPE {name} gauge" in text
    return samples


@pytest.fixture
def site(tmp_path, http_server, marketplace, pki, run_cli, lab, glance, glance_cleanup) -> Site:
    (tmp_path / "www").mkdir()
    return Site(tmp_path, http_server(tmp_path / "www"), marketplace, pki, run_cli, lab, glance)


def test_first_import_then_noop_run_uploads_nothing(site):
    mpid = site.publish("Alpha", "1")
    out = site.report("--metrics", str(site.tmp / "m.prom"), ids=[mpid])
    assert out["counts"]["imported"] == 1 and out["images"][0]["action"] == "import", out
    [image] = site.images("Alpha")
    assert image["name"] == site.title("Alpha") and image["mpid"] == mpid and image["version"] == "1"
    assert image["status"] == "active" and "glancing" in image["tags"] and not image["os_hidden"]
    assert image["endorsed_at"] and image["glancing_appliance"] == site.title("Alpha")
    assert "glancing_pending_owner" not in image and "glancing-pending" not in image["tags"]
    first = metrics(site.tmp / "m.prom")
    assert first["glance_manager_images_imported"] == 1 and first["glance_manager_last_run_success"] == 1
    assert first["glance_manager_uploaded_bytes"] == image["size"]
    gets = site.image_gets()
    again = site.report("--metrics", str(site.tmp / "m.prom"))
    assert again["counts"] == {**again["counts"], "unchanged": 1, "imported": 0, "checked": 1}
    assert [i["id"] for i in site.images("Alpha")] == [image["id"]] and site.image_gets() == gets
    second = metrics(site.tmp / "m.prom")
    assert second["glance_manager_images_imported"] == 0 and second["glance_manager_uploaded_bytes"] == 0
    assert second["glance_manager_last_success_timestamp_seconds"] >= first["glance_manager_last_run_timestamp_seconds"]


def test_version_bump_keeps_a_hidden_backup_and_keep_prunes_the_oldest(site):
    v1, v2, v3 = (site.publish("Bravo", v) for v in ("1", "2", "10"))
    site.report(ids=[v1])
    out = site.report(ids=[v2])
    assert out["images"][0]["action"] == "upgrade", out
    images = by_version(site.images("Bravo"))
    old, new = images["1"], images["2"]
    assert new["name"] == site.title("Bravo") and not new["os_hidden"] and new["mpid"] == v2
    assert old["name"] == f"{site.title('Bravo')} (1)" and old["os_hidden"] is True
    assert old["status"] == "active" and "glancing-backup" in old["tags"]
    assert old["glancing_replaced_by"] == new["id"] and old["glancing_appliance"] == site.title("Bravo")
    # 10 > 2 numerically; with --keep 1 the oldest backup (version 1) goes, version 2 stays.
    out = site.report("--keep", "1", ids=[v3])
    assert out["images"][0]["action"] == "upgrade" and [p["image_id"] for p in out["pruned"]] == [old["id"]]
    assert out["pruned"][0]["result"] == "deleted"
    images = by_version(site.images("Bravo"))
    assert set(images) == {"2", "10"} and images["2"]["os_hidden"] and not images["10"]["os_hidden"]

    res = site._run_cli("glance_manager", "status")
    assert res.returncode == 0, res.stderr
    mine = [line for line in res.stdout.splitlines() if line.startswith(site.title("Bravo"))]
    assert len(mine) == 2 and "current" in mine[0] and v3 in mine[0] and "backup" in mine[1]
    res = site._run_cli("glance_manager", "status", "--json")
    rows = [r for r in json.loads(res.stdout) if r["appliance"] == site.title("Bravo")]
    assert [(r["version"], r["state"]) for r in rows] == [("10", "current"), ("2", "backup")]


def test_rollback_then_sync_refuses_the_rolled_back_version_and_downgrades(site):
    v1, v2, v0 = (site.publish("Charlie", v) for v in ("1.9", "1.10", "1.2"))
    site.report(ids=[v1])
    site.report(ids=[v2])
    res = site._run_cli("glance_manager", "rollback", site.title("Charlie"), "--lock", str(site.lock))
    assert res.returncode == 0, res.stderr
    images = by_version(site.images("Charlie"))
    assert images["1.9"]["name"] == site.title("Charlie") and not images["1.9"]["os_hidden"]
    assert "glancing-backup" not in images["1.9"]["tags"]
    assert images["1.10"]["os_hidden"] and images["1.10"]["glancing_rolled_back"]
    gets = site.image_gets()
    # The rolled-back version stays out; an older version (1.2 < 1.9) is a refused downgrade.
    out = site.report(ids=[v2, v0], code=8)
    assert [i["status"] for i in out["images"]] == ["refused", "refused"], out
    assert "rolled back" in out["images"][0]["message"] and "downgrade" in out["images"][1]["message"]
    assert site.image_gets() == gets and len(site.images("Charlie")) == 2
    res = site.run(ids=[v0])
    assert res.returncode == 8 and "REFUSED" in res.stdout and "downgrade refused" in res.stderr


def test_hand_uploaded_image_is_adopted_not_uploaded_again(site):
    mpid = site.publish("Delta", "3")
    path = site.www / "Delta-3.qcow2"
    hand = site.glance.images.create(name="delta by hand", disk_format="qcow2", container_format="bare")
    site.glance.images.upload(hand["id"], io.BytesIO(path.read_bytes()), image_size=path.stat().st_size)
    out = site.report(ids=[mpid])
    assert out["images"][0]["action"] == "adopt" and out["bytes_uploaded"] == 0, out
    assert site.image_gets() == 0
    image = dict(site.glance.images.get(hand["id"]))
    assert image["name"] == site.title("Delta") and image["mpid"] == mpid and image["version"] == "3"
    assert "glancing" in image["tags"] and [i["id"] for i in site.images("Delta")] == [hand["id"]]
    assert site.report()["images"][0]["action"] == "nothing"


def test_one_bad_record_among_good_ones(site):
    good1, good2 = site.publish("Echo", "1"), site.publish("Foxtrot", "1")
    path = make_qcow2(site.www / "golf.qcow2", seed=site.prefix.encode(), size_mib=1)
    # The record promises another sha256 than the image has: the download fails verification.
    liar = site.marketplace.publish(signed_record(
        site.pki.good, path, [site.server.url(path.name)], title=site.title("Golf"), version="1",
        override={"sha256": "0" * 64}))
    missing = "A" * 27  # a well-formed ID the marketplace does not know
    site.write_list(good1, liar, missing, good2)
    res = site.run("--metrics", str(site.tmp / "m.prom"))
    assert res.returncode == 8, res.stderr
    assert "2 imported" in res.stdout and "2 failed" in res.stdout
    assert f"FAILED {liar} [{site.list}:2]" in res.stdout and f"FAILED {missing} [{site.list}:3]" in res.stdout
    assert len(site.images("Echo")) == len(site.images("Foxtrot")) == 1
    assert site.images("Golf") == [] and site.pending("Golf") == []
    m = metrics(site.tmp / "m.prom")
    assert (m["glance_manager_images_failed"], m["glance_manager_images_imported"]) == (2, 2)
    assert m["glance_manager_last_run_success"] == 0 and "glance_manager_last_success_timestamp_seconds" not in m


def test_dead_marketplace_changes_nothing(site):
    mpid = site.publish("Hotel", "1")
    site.report(ids=[mpid])
    before = site.images("Hotel")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/metadata"
    res = site._run_cli("glance_manager", "-l", str(site.list), "-u", dead, *site.trust,
                        "--lock", str(site.lock), "--json")
    # One probe, not every ID's retry budget: the run stops at once, exit 3, nothing changed.
    assert res.returncode == 3, res.stderr
    out = json.loads(res.stdout)
    assert "cannot be reached" in out["fatal"] and out["counts"]["checked"] == 0
    assert site.images("Hotel") == before


def test_dry_run_changes_nothing(site):
    v1, v2, other = site.publish("India", "1"), site.publish("India", "2"), site.publish("Juliett", "1")
    site.report(ids=[v1])
    before, gets = site.images("India"), site.image_gets()
    res = site.run("--dry-run", ids=[v2, other])
    assert res.returncode == 0, res.stderr
    assert "dry run, nothing changed" in res.stdout and "would upgrade" in res.stderr
    assert "would import" in res.stderr
    assert site.images("India") == before and site.images("Juliett") == [] and site.image_gets() == gets


def test_second_concurrent_run_exits_6_naming_the_holder(site):
    mpid = site.publish("Kilo", "1")
    site.server.delay(3)
    first = site.spawn(ids=[mpid])
    try:
        site.wait_for(lambda: site.lock.exists() and site.lock.read_text().strip())
        res = site.run()
        assert res.returncode == 6, res.stderr
        assert f"pid {first.pid}" in res.stderr and str(site.lock) in res.stderr
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert len(site.images("Kilo")) == 1


def test_run_killed_mid_upload_is_finished_by_the_next_run(site):
    # Larger than the 8 MiB head glancing probes before it creates the image, so the pending image
    # exists and is receiving bytes when the download breaks at 10 MiB; the resumes then fail for
    # ~15 s (0.5+1+2+4+8 s of backoff), a wide window to see it "saving" and kill the run.
    mpid = site.publish("Lima", "1", size_mib=12)
    path = f"/{next(site.www.glob('Lima-*.qcow2')).name}"
    site.server.drop_after(path, 10 << 20)
    site.server.fail(path, 503, times=5)
    victim = site.spawn(ids=[mpid])
    try:
        # "saving": Glance is receiving the bytes (the upload stalls once it has 2 MiB).
        [pending] = site.wait_for(lambda: [p for p in site.pending("Lima") if p["status"] == "saving"])
        assert pending["glancing_pending_owner"] == "glance_manager"
    finally:
        victim.kill()
        victim.wait(timeout=30)
    site.server.fail(path, 503, times=0)
    out = site.report()
    assert out["counts"]["imported"] == 1, out
    assert site.pending("Lima") == [] and len(site.images("Lima")) == 1
    with pytest.raises(glance_exc.HTTPNotFound):
        site.glance.images.get(pending["id"])


def test_jobs_4_imports_in_parallel_then_noop(site):
    names = ["Mike", "November", "Oscar", "Papa", "Quebec", "Romeo"]
    ids = [site.publish(n, "1") for n in names]
    out = site.report("--jobs", "4", ids=ids)
    assert out["counts"]["imported"] == 6 and [i["mpid"] for i in out["images"]] == ids, out
    again = site.report("--jobs", "4")
    assert again["counts"]["unchanged"] == 6
    # One image per appliance; any upload a lost answer left behind was removed by the second run.
    assert [len(site.images(n)) for n in names] == [1] * 6 and not any(site.pending(n) for n in names)


def test_noop_run_over_200_images_makes_a_bounded_number_of_glance_requests(site, lab):
    ids = build_fleet(site.glance, site.marketplace, site.pki.good, site.tmp / "fleet", 200, site.prefix)
    proxy = CountingProxy(lab.glance_url)
    try:
        started = time.monotonic()
        res = site._run_cli("glance_manager", "-l", str(site.write_list(*ids)), "-u", site.marketplace.base,
                            *site.trust, "--lock", str(site.lock), "--jobs", "4", "--json",
                            env={"OS_IMAGE_ENDPOINT_OVERRIDE": proxy.url})
        elapsed = time.monotonic() - started
    finally:
        proxy.stop()
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["counts"]["unchanged"] == 200
    # One listing of visible and one of hidden managed images (pages of 200) and the schema.
    assert {m for m, _ in proxy.requests} == {"GET"}, proxy.requests
    assert len(proxy.requests) <= 8, proxy.requests
    assert elapsed < 60
