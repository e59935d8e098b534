# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager vmcatcher-event`` against the real Glance lab, driven by the environment
vmcatcher's cache sets for its event handler (vmcatcher.md section 5)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from images import make_qcow2


class Cache:
    """A vmcatcher cache directory and the events its images would raise."""

    def __init__(self, tmp: Path, run_cli: Any, glance: Any) -> None:
        self.dir = tmp / "cache"
        self.dir.mkdir()
        self.tmp, self.run_cli, self.glance = tmp, run_cli, glance
        self.db = tmp / "state" / "glancing.db"
        self.prefix = f"vmc-{uuid.uuid4().hex[:8]}"
        self.session = str(uuid.uuid1())

    def image(self, identifier: str, version: str, seed: str) -> Dict[str, str]:
        """Cache a qcow2 as vmcatcher does (file named by the image's UUID); the event's variables."""
        path = make_qcow2(self.dir / identifier, seed=f"{self.prefix}{seed}".encode(), size_mib=1)
        data = path.read_bytes()
        return {"VMCATCHER_EVENT_TYPE": "AvailablePostfix", "VMCATCHER_EVENT_UUID_SESSION": self.session,
                "VMCATCHER_CACHE_DIR_CACHE": str(self.dir), "VMCATCHER_CACHE_DIR_DOWNLOAD": str(self.tmp / "partial"),
                "VMCATCHER_CACHE_DIR_EXPIRE": str(self.tmp / "expired"), "VMCATCHER_RDBMS": "sqlite:///vmcatcher.db",
                "VMCATCHER_EVENT_DC_IDENTIFIER": identifier, "VMCATCHER_EVENT_DC_TITLE": f"{self.prefix} {seed}",
                "VMCATCHER_EVENT_DC_DESCRIPTION": "made by the glancing tests",
                "VMCATCHER_EVENT_HV_URI": f"https://images.example.org/{identifier}.qcow2",
                "VMCATCHER_EVENT_HV_SIZE": str(len(data)), "VMCATCHER_EVENT_HV_VERSION": version,
                "VMCATCHER_EVENT_SL_ARCH": "x86_64", "VMCATCHER_EVENT_SL_OS": "Linux",
                "VMCATCHER_EVENT_SL_CHECKSUM_SHA512": hashlib.sha512(data).hexdigest(),
                "VMCATCHER_EVENT_IL_DC_IDENTIFIER": "6b1e5f0e-2c1a-5d8e-9f00-0123456789ab",
                "VMCATCHER_EVENT_FILENAME": identifier}  # no HV_FORMAT: the old handler crashed on that

    def event(self, env: Dict[str, str], *args: str, code: int = 0) -> Dict[str, Any]:
        res = self.run_cli("glance_manager", "vmcatcher-event", "--json", "--db", str(self.db), *args, env=env)
        assert res.returncode == code, res.stderr + res.stdout
        return json.loads(res.stdout) if code == 0 else {"stderr": res.stderr}

    def images(self, identifier: str) -> List[Dict[str, Any]]:
        found = list(self.glance.images.list(filters={"tag": ["glancing"]}))
        found += list(self.glance.images.list(filters={"tag": ["glancing"], "os_hidden": True}))
        return sorted((dict(i) for i in found if i.get("hepix_image_id") == identifier and i.get("status") != "deleted"),
                      key=lambda i: (i["created_at"], i["id"]))


@pytest.fixture
def cache(tmp_path, run_cli, lab, glance, glance_cleanup) -> Cache:
    return Cache(tmp_path, run_cli, glance)


def test_available_imports_checked_then_new_version_keeps_a_backup_then_expire(cache):
    ident = str(uuid.uuid4())
    env = cache.image(ident, "1", "alpha")
    out = cache.event(env)
    assert out["action"] == "imported", out
    [image] = cache.images(ident)
    assert image["name"] == env["VMCATCHER_EVENT_DC_TITLE"] and image["status"] == "active"
    assert image["os_hash_value"] == env["VMCATCHER_EVENT_SL_CHECKSUM_SHA512"]
    assert image["vmcatcher_event_dc_identifier"] == ident and image["vmcatcher_event_hv_version"] == "1"
    assert image["hepix_list_id"] == env["VMCATCHER_EVENT_IL_DC_IDENTIFIER"]
    assert cache.event(env)["action"] == "current"  # vmcatcher sending it again changes nothing
    assert len(cache.images(ident)) == 1

    newer = cache.image(ident, "2", "alpha")  # a new version of the same image, same title
    assert cache.event(newer)["action"] == "imported"
    old, new = cache.images(ident)
    assert old["id"] == image["id"] and old["os_hidden"] and "glancing-backup" in old["tags"]
    assert new["vmcatcher_event_hv_version"] == "2" and not new["os_hidden"]

    expire = {"VMCATCHER_EVENT_TYPE": "ExpirePrefix", "VMCATCHER_EVENT_DC_IDENTIFIER": ident,
              "VMCATCHER_EVENT_FILENAME": ident, "VMCATCHER_CACHE_DIR_CACHE": str(cache.dir)}
    out = cache.event(expire)
    assert out["action"] == "expired" and out["image_ids"] == [new["id"]], out
    gone = cache.glance.images.get(new["id"])
    assert gone["status"] == "deactivated" and gone["os_hidden"] and "glancing-expired" in gone["tags"]
    assert cache.event(expire)["action"] == "nothing-to-expire"


def test_bad_bytes_are_refused_and_nothing_is_imported(cache):
    ident = str(uuid.uuid4())
    env = cache.image(ident, "1", "beta")
    env["VMCATCHER_EVENT_SL_CHECKSUM_SHA512"] = "0" * 128
    res = cache.run_cli("glance_manager", "vmcatcher-event", "--db", str(cache.db), env=env)
    assert res.returncode not in (0, 2, 70), res.stderr
    assert "sha512" in res.stderr.lower() and "Traceback" not in res.stderr
    assert cache.images(ident) == []


@pytest.mark.parametrize("missing", ["VMCATCHER_EVENT_HV_SIZE", "VMCATCHER_EVENT_DC_TITLE", "VMCATCHER_CACHE_DIR_CACHE"])
def test_a_missing_variable_is_named(cache, missing):
    env = cache.image(str(uuid.uuid4()), "1", "gamma")
    env[missing] = None  # type: ignore[assignment]
    res = cache.run_cli("glance_manager", "vmcatcher-event", "--db", str(cache.db), env=env)
    assert res.returncode == 2 and missing in res.stderr and "Traceback" not in res.stderr


def test_mapping_names_the_image_and_spool_leaves_it_to_the_next_sync(cache):
    ident = str(uuid.uuid4())
    env = cache.image(ident, "1", "delta")
    mapping = cache.tmp / "gpvmcmapping"
    name = f"{cache.prefix} Mapped Name"
    mapping.write_text(f"# title = glance name\n{env['VMCATCHER_EVENT_DC_TITLE']} = {name}\n")
    out = cache.event(env, "--spool", "--mapping", str(mapping))
    assert out["action"] == "spooled", out
    assert cache.images(ident) == []  # nothing done yet: vmcatcher did not wait for Glance
    for other in ("ProcessPrefix", "AvailablePrefix"):
        assert cache.event({"VMCATCHER_EVENT_TYPE": other})["action"] == "acknowledged"
    res = cache.run_cli("glance_manager", "sync", "--db", str(cache.db))
    assert res.returncode == 0, res.stderr + res.stdout
    [image] = cache.images(ident)
    assert image["name"] == name and image["status"] == "active"
    res = cache.run_cli("glance_manager", "sync", "--db", str(cache.db))
    assert res.returncode == 0 and len(cache.images(ident)) == 1  # done once only
