# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""OVAs and other disk formats imported into the lab's real Glance, served over loopback HTTP:
converted to qcow2 and raw, downloaded back and compared with the source disk by qemu-img;
hostile archives and disks refused with Glance unchanged."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from images import (convert_disk, digest, make_ova, make_qcow2, qcow2_with_backing, qcow2_with_data_file,
                    same_content, stream_vmdk, vmdk_descriptor, vmdk_sparse_naming)
from test_import_glance import named, snapshot


@pytest.fixture
def name():
    return f"test-ova-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def www(tmp_path, http_server):
    root = tmp_path / "www"
    root.mkdir()
    return root, http_server(root)


@pytest.fixture
def spool(tmp_path):
    path = tmp_path / "spool"
    path.mkdir()
    return path


def glancing(run_cli, spool: Path, *args: str):
    return run_cli("glancing", "--json", *map(str, args), env={"GLANCING_FETCH_TMP_DIR": str(spool)})


def downloaded(glance, image_id: str, path: Path) -> Path:
    with open(path, "wb") as f:
        for chunk in glance.images.data(image_id):
            f.write(chunk)
    return path


def virtual_size(path: Path, fmt: str) -> int:
    done = subprocess.run(["qemu-img", "info", "-f", fmt, "--output=json", str(path)], check=True,
                          capture_output=True)
    return json.loads(done.stdout)["virtual-size"]


def refused(res, code: int = 1) -> str:
    errors = [line for line in res.stderr.splitlines() if line.startswith("glancing: error:")]
    assert res.returncode == code and len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    return errors[0]


@pytest.mark.parametrize("site, stored", [("qcow2,raw", "qcow2"), ("raw", "raw")])
def test_ova_over_http_imported_converted_and_identical(lab, glance, glance_cleanup, run_cli, tmp_path, www, spool,
                                                         name, site, stored):
    root, server = www
    source = make_qcow2(tmp_path / "src.qcow2", site.encode(), 6)
    ova = make_ova(root / "app.ova", [stream_vmdk(source, tmp_path / "disk1.vmdk")], memory_mib=768, bus="ide")
    res = glancing(run_cli, spool, "-n", name, "--disk-formats", site, "-s", digest(ova, "sha512"),
                   server.url("app.ova"))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    image = glance.images.get(out["image_id"])
    assert image["disk_format"] == stored and image["status"] == "active" and not image["os_hidden"]
    assert image["glancing_converted_from"] == "vmdk" and image["glancing_ova_disk"] == "disk1.vmdk"
    assert image["os_type"] == "linux" and image["hw_disk_bus"] == "ide" and image["min_ram"] == 768
    assert image["glancing_sha512"] == digest(ova, "sha512")  # what was verified: the OVA as given
    assert image["glancing_original_sha512"] == digest(ova, "sha512") and "glancing_original_md5" not in image
    assert image["checksum"] == out["digests"]["md5"] and image["os_hash_value"] == out["digests"]["sha512"]
    back = downloaded(glance, image["id"], tmp_path / f"back.{stored}")
    assert virtual_size(back, stored) == virtual_size(source, "qcow2")
    assert same_content(source, back)
    assert list(spool.iterdir()) == []


def test_second_disk_chosen_and_md5_left_to_glance_is_still_checked(lab, glance, glance_cleanup, run_cli, tmp_path,
                                                                     spool, name):
    sources = [make_qcow2(tmp_path / f"s{i}.qcow2", bytes([i]), 2) for i in (1, 2)]
    ova = make_ova(tmp_path / "two.ova", [stream_vmdk(s, tmp_path / f"d{i}.vmdk") for i, s in enumerate(sources, 1)])
    before = snapshot(glance)
    res = glancing(run_cli, spool, "-n", name, "-s", digest(ova, "md5"), ova)
    assert "choose one with --ova-disk N" in refused(res, 2) and snapshot(glance) == before
    res = glancing(run_cli, spool, "-n", name, "--ova-disk", "2", "-s", "0" * 32, ova)
    assert "digest mismatch" in refused(res) and snapshot(glance) == before
    res = glancing(run_cli, spool, "-n", name, "--ova-disk", "2", "-s", digest(ova, "md5"), ova)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["verified"] == ["md5"] and out["converted"]["ova_disk"] == "d2.vmdk"
    image = glance.images.get(out["image_id"])
    assert image["glancing_md5"] == digest(ova, "md5") and image["checksum"] != digest(ova, "md5")
    assert same_content(sources[1], downloaded(glance, image["id"], tmp_path / "back.qcow2"))


@pytest.mark.parametrize("fmt, options", [("vpc", ()), ("vhdx", ()), ("vdi", ())])
def test_vhd_vhdx_vdi_are_converted(lab, glance, glance_cleanup, run_cli, tmp_path, spool, name, fmt, options):
    source = make_qcow2(tmp_path / "src.qcow2", fmt.encode(), 3)
    disk = convert_disk(source, tmp_path / f"disk.{fmt}", fmt, *options)
    res = glancing(run_cli, spool, "-n", name, "-s", digest(disk), disk)
    assert res.returncode == 0, res.stderr
    image = glance.images.get(json.loads(res.stdout)["image_id"])
    assert image["disk_format"] == "qcow2" and image["glancing_converted_from"] == ("vhd" if fmt == "vpc" else fmt)
    assert same_content(source, downloaded(glance, image["id"], tmp_path / "back.qcow2"))
    assert list(spool.iterdir()) == []


def _hostile(tmp_path: Path, kind: str) -> Path:
    return {
        "backing": lambda: qcow2_with_backing(tmp_path / "backing.qcow2", "/etc/passwd"),
        "data-file": lambda: qcow2_with_data_file(tmp_path / "data.qcow2", str(tmp_path / "data.raw")),
        "descriptor": lambda: vmdk_descriptor(tmp_path / "desc.vmdk", "/etc/shadow"),
        "extent": lambda: vmdk_sparse_naming(tmp_path / "ext.vmdk", "monolithicSparse", "/etc/shadow"),
    }[kind]()


@pytest.mark.parametrize("kind", ["backing", "data-file", "descriptor", "extent"])
def test_hostile_disks_refused_as_given_converted_and_in_an_ova(lab, glance, run_cli, tmp_path, spool, name, kind):
    disk = _hostile(tmp_path, kind)
    ova = make_ova(tmp_path / "x.ova", [disk])
    before = snapshot(glance)
    for args in ([disk], ["--convert-to", "raw", disk], [ova]):
        res = glancing(run_cli, spool, "-n", name, "--allow-unverified", *args)
        assert "refused" in refused(res) and disk.name in refused(res)
    assert snapshot(glance) == before and named(glance, name, hidden=True) == []
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("member", ["../x", "symlink"])
def test_hostile_archives_refused_with_glance_unchanged(lab, glance, run_cli, tmp_path, www, spool, name, member):
    root, server = www
    vmdk = stream_vmdk(make_qcow2(tmp_path / "src.qcow2", b"h", 1), tmp_path / "disk1.vmdk")
    work = root / "x.ova.d"
    work.mkdir()
    if member == "symlink":
        (work / "link").symlink_to("/etc/shadow")
        extra, reason = ("link",), "'link' is a symbolic link"
    else:
        (root / "x").write_bytes(b"outside")
        extra, reason = ("../x",), "member name '../x' contains '..'"
    ova = make_ova(root / "x.ova", [vmdk], extra=extra)
    before = snapshot(glance)
    res = glancing(run_cli, spool, "-n", name, "-s", digest(ova), server.url("x.ova"))
    assert reason in refused(res) and "malformed or hostile" in refused(res)
    assert snapshot(glance) == before and list(spool.iterdir()) == []
