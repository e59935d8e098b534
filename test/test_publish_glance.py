# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Publish, then consume, into the real Glance: glancing-publish signs a list and uploads it and
its image to a loopback WebDAV server; glance_manager subscribe + sync imports the image; a new
image version published replaces it and keeps the backup; ``image remove`` makes the next sync
expire it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from davserver import DavServer
from glancing.targets import names
from images import make_qcow2
from test_publish_cli import Publisher
from trustkit import Pki, pki  # noqa: F401


def _images(glance: Any, image_id: str) -> List[Dict[str, Any]]:
    found = [i for i in glance.images.list(filters={"os_hidden": True})]
    found += [i for i in glance.images.list()]
    unique = {i["id"]: i for i in found if i.get("hepix_image_id") == image_id}
    return sorted(unique.values(), key=lambda i: i["created_at"])


@pytest.fixture
def www(tmp_path: Path):
    (tmp_path / "www" / "lists").mkdir(parents=True)
    (tmp_path / "www" / "images").mkdir()
    server = DavServer(tmp_path / "www").start()
    yield server
    server.stop()


def test_publish_then_subscribe_sync_update_and_expire(run_cli, lab, glance, glance_cleanup, tmp_path: Path,
                                                       pki: Pki, www: DavServer) -> None:
    pub = Publisher(run_cli, tmp_path, pki)
    tag = uuid.uuid4().hex[:8]
    list_url = www.url("lists/image.list")
    trust = tmp_path / "trusted-endorsers"
    trust.write_text(f'hepix dn="{pki.signer.subject_openssl}" ca="{pki.signer.issuer_openssl}"\n')
    state = ["--db", tmp_path / "gm.db", "--ca-dir", pki.ca_dirs["valid"], "--trust", trust,
             "--lock", tmp_path / "gm.lock"]

    def gm(*args: Any) -> str:
        done = run_cli("glance_manager", *state, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def publish() -> None:
        pub.ok("sign", list_id, *pub.sign_args())
        pub.ok("upload", list_id)

    list_id = pub.ok("list", "create", "--title", f"publish {tag}", "--uri", list_url)
    disk = make_qcow2(tmp_path / "disk.qcow2", seed=tag.encode(), size_mib=1)
    image = pub.ok("image", "add", list_id, disk, "--title", f"published {tag}", "--version", "1",
                   "--compress", "gz", "--os", "Linux", "--arch", "x86_64")
    pub.ok("image", "upload", list_id, image, "--base", www.url("images"))
    publish()

    gm("subscribe", list_url, "--new-images", "subscribe")
    gm("sync")
    [first] = _images(glance, image)
    assert first["name"] == f"published {tag}" and first["status"] == "active" and not first["os_hidden"]
    assert first["disk_format"] == "qcow2" and first["hepix_list_id"] == list_id

    # A new version of the image: the next sync imports it and keeps the first as a backup.
    make_qcow2(disk, seed=(tag + "v2").encode(), size_mib=1)
    assert pub.ok("image", "update", list_id, image, disk, "--version", "2").endswith("version 2")
    pub.ok("image", "upload", list_id, image, "--base", www.url("images"))
    publish()
    gm("sync")
    backup, second = _images(glance, image)
    assert backup["id"] == first["id"] and backup["os_hidden"] and names.TAG_BACKUP in backup["tags"]
    assert backup["status"] == "active" and backup[names.PROP_REPLACED_BY] == second["id"]
    assert second["name"] == f"published {tag}" and not second["os_hidden"] and second["version"] == "2"

    # The image withdrawn from the list: the next sync expires it.
    pub.ok("image", "remove", list_id, image)
    publish()
    gm("sync")
    expired = glance.images.get(second["id"])
    assert expired["status"] == "deactivated" and expired["os_hidden"] and names.TAG_EXPIRED in expired["tags"]
    assert pub.show(list_id)["version"] == "0.0.3"
