# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Conversion to the site's formats and the hostile-disk guard on OVA disks, as dry runs of the
real CLI (no Glance: the import into the lab is test_ova_glance) and on the library's pieces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glancing.errors import EnvironmentProblem, UnsafeImage, UsageError
from glancing.settings import parse_disk_formats, parse_size
from glancing.transform.convert import ConvertOptions, check_formats, check_free_space, check_virtual_size, \
    target_format
from images import (compress, convert_disk, digest, make_ova, make_qcow2, qcow2_with_backing, qcow2_with_data_file,
                    stream_vmdk, vmdk_descriptor, vmdk_sparse_naming)


@pytest.fixture
def spool(tmp_path):
    path = tmp_path / "spool"
    path.mkdir()
    return path


def dry(run_cli, spool: Path, *args: str):
    return run_cli("glancing", "-d", "--json", *map(str, args), env={"GLANCING_FETCH_TMP_DIR": str(spool)})


def one_error(res) -> str:
    errors = [line for line in res.stderr.splitlines() if line.startswith("glancing: error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    return errors[0]


@pytest.mark.parametrize("fmt, options, glance", [
    ("vpc", (), "vhd"), ("vpc", ("subformat=fixed",), "raw"), ("vhdx", (), "vhdx"), ("vdi", (), "vdi"),
    ("vmdk", ("subformat=streamOptimized",), "vmdk"), ("vmdk", (), "vmdk")])
def test_other_formats_are_converted_to_the_sites_first(run_cli, tmp_path, spool, fmt, options, glance):
    disk = convert_disk(make_qcow2(tmp_path / "src.qcow2", fmt.encode(), 2), tmp_path / f"disk.{fmt}", fmt, *options)
    res = dry(run_cli, spool, "-s", digest(disk), disk)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    if glance == "raw":  # a fixed VHD is raw data and a footer: qemu-img probes it as raw
        assert out["disk_format"] == "raw" and out["converted"] is None
        return
    assert out["converted"] == {"from": glance, "to": "qcow2", "ova_disk": None, "kept_dir": None}
    assert out["disk_format"] == "qcow2" and out["verified"] == ["sha256"]
    assert out["source_digests"]["sha256"] == digest(disk) and out["source_size"] == disk.stat().st_size
    assert list(spool.iterdir()) == []  # the spool is gone


def test_site_list_and_convert_to_decide(run_cli, tmp_path, spool):
    vdi = convert_disk(make_qcow2(tmp_path / "src.qcow2", b"v", 2), tmp_path / "disk.vdi", "vdi")
    res = dry(run_cli, spool, "--allow-unverified", "--disk-formats", "raw,qcow2", vdi)
    assert json.loads(res.stdout)["disk_format"] == "raw", res.stderr
    res = dry(run_cli, spool, "--disk-formats", "vdi, qcow2", vdi)
    out = json.loads(res.stdout)
    assert out["disk_format"] == "vdi" and out["converted"] is None
    res = dry(run_cli, spool, "--disk-formats", "vdi", "--convert-to", "qcow2", vdi)
    assert json.loads(res.stdout)["disk_format"] == "qcow2"
    res = dry(run_cli, spool, "--disk-formats", "qcow2,floppy", vdi)
    assert res.returncode == 2 and "floppy: not a Glance disk format" in one_error(res)


def test_ova_in_a_dry_run_reports_disk_and_conversion(run_cli, tmp_path, spool):
    vmdk = stream_vmdk(make_qcow2(tmp_path / "src.qcow2", b"o", 2), tmp_path / "disk1.vmdk")
    ova = make_ova(tmp_path / "app.ova", [vmdk])
    res = dry(run_cli, spool, "-s", digest(ova), ova)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["name"] == "app" and out["disk_format"] == "qcow2" and out["verified"] == ["sha256"]
    assert out["converted"] == {"from": "vmdk", "to": "qcow2", "ova_disk": "disk1.vmdk", "kept_dir": None}
    assert out["source_size"] == ova.stat().st_size and list(spool.iterdir()) == []


def test_compressed_ova_is_verified_as_given_then_read(run_cli, tmp_path, spool):
    vmdk = stream_vmdk(make_qcow2(tmp_path / "src.qcow2", b"z", 1), tmp_path / "disk1.vmdk")
    packed = compress(make_ova(tmp_path / "app.ova", [vmdk]), "xz")
    res = dry(run_cli, spool, "-s", digest(packed), "--convert-to", "raw", packed)
    out = json.loads(res.stdout)
    assert res.returncode == 0 and out["compression"] == "xz" and out["disk_format"] == "raw", res.stderr
    assert out["size"] == 1 << 20 | 512  # the raw disk: its virtual size


def test_wrong_digest_is_refused_before_conversion(run_cli, tmp_path, spool):
    vmdk = stream_vmdk(make_qcow2(tmp_path / "src.qcow2", b"w", 1), tmp_path / "disk1.vmdk")
    ova = make_ova(tmp_path / "app.ova", [vmdk])
    res = dry(run_cli, spool, "-s", "0" * 64, ova)
    assert res.returncode == 1 and "digest mismatch" in one_error(res)
    assert "converted" not in res.stderr and list(spool.iterdir()) == []


def test_keep_temps_keeps_the_spool(run_cli, tmp_path, spool):
    vdi = convert_disk(make_qcow2(tmp_path / "src.qcow2", b"k", 1), tmp_path / "disk.vdi", "vdi")
    res = dry(run_cli, spool, "-k", "--allow-unverified", vdi)
    kept = Path(json.loads(res.stdout)["converted"]["kept_dir"])
    assert kept.parent == spool and sorted(p.name for p in kept.iterdir()) == ["converted.qcow2", "source"]


def hostile_disks(tmp_path: Path) -> dict:
    return {
        "backing file": qcow2_with_backing(tmp_path / "backing.qcow2", "/etc/passwd"),
        "external file": qcow2_with_data_file(tmp_path / "data.qcow2", str(tmp_path / "data.raw")),
        "descriptor file": vmdk_descriptor(tmp_path / "desc.vmdk", "/etc/shadow"),
        "outside itself": vmdk_sparse_naming(tmp_path / "ext.vmdk", "monolithicSparse", "/dev/sda"),
    }


@pytest.mark.parametrize("kind", ["backing file", "external file", "descriptor file", "outside itself"])
def test_hostile_disks_are_refused_before_conversion_and_inside_an_ova(run_cli, tmp_path, spool, kind):
    disk = hostile_disks(tmp_path)[kind]
    res = dry(run_cli, spool, "--allow-unverified", "--convert-to", "raw", disk)
    assert res.returncode == 1 and "refused" in one_error(res) and kind.split()[0] in one_error(res)
    good = stream_vmdk(make_qcow2(tmp_path / "src.qcow2", b"g", 1), tmp_path / "good.vmdk")
    for disks, choice in (([disk], []), ([good, disk], ["--ova-disk", "1"])):
        ova = make_ova(tmp_path / f"x{len(disks)}.ova", disks)
        res = dry(run_cli, spool, "--allow-unverified", *choice, ova)
        assert res.returncode == 1 and "refused" in one_error(res) and disk.name in one_error(res)
    assert list(spool.iterdir()) == []


def test_virtual_size_over_the_cap_is_refused(run_cli, tmp_path, spool):
    vdi = convert_disk(make_qcow2(tmp_path / "src.qcow2", b"c", 2), tmp_path / "disk.vdi", "vdi")
    res = run_cli("glancing", "-d", "--allow-unverified", vdi,
                  env={"GLANCING_FETCH_TMP_DIR": str(spool), "GLANCING_GLANCE_MAX_VIRTUAL_SIZE": "1M"})
    assert res.returncode == 1 and "over [glance] max_virtual_size (1048576)" in one_error(res)
    ova = make_ova(tmp_path / "x.ova", [stream_vmdk(tmp_path / "src.qcow2", tmp_path / "d.vmdk")])
    res = run_cli("glancing", "-d", "--allow-unverified", ova,
                  env={"GLANCING_FETCH_TMP_DIR": str(spool), "GLANCING_GLANCE_MAX_VIRTUAL_SIZE": "1M"})
    assert res.returncode == 1 and "max_virtual_size" in one_error(res)
    assert list(spool.iterdir()) == []


def test_several_disks_without_a_choice_exit_2_listing_them(run_cli, tmp_path, spool):
    disks = [stream_vmdk(make_qcow2(tmp_path / f"{i}.qcow2", bytes([i]), 1), tmp_path / f"d{i}.vmdk")
             for i in (1, 2)]
    res = dry(run_cli, spool, "--allow-unverified", make_ova(tmp_path / "x.ova", disks))
    assert res.returncode == 2 and "1: d1.vmdk (vmdk, 0.0 GiB); 2: d2.vmdk" in one_error(res)


def test_target_format_rules():
    site = ConvertOptions(disk_formats=("qcow2", "raw"))
    assert target_format("qcow2", site) is None and target_format("raw", site) is None
    assert target_format("vmdk", site) == "qcow2" and target_format("iso", site) is None
    assert target_format("raw", ConvertOptions(convert_to="qcow2")) == "qcow2"
    assert target_format("vhd", ConvertOptions(disk_formats=())) is None
    with pytest.raises(UsageError, match="'ami' cannot be a conversion target"):
        check_formats(ConvertOptions(disk_formats=("ami",)))


def test_free_space_and_virtual_size_checks(tmp_path):
    check_free_space(str(tmp_path), 1 << 20, "x")
    with pytest.raises(EnvironmentProblem, match="not enough free space in .* for converting x"):
        check_free_space(str(tmp_path), 1 << 62, "converting x")
    check_virtual_size(10, ConvertOptions(max_virtual_size=None), "x")
    with pytest.raises(UnsafeImage, match="virtual size 11 bytes is over"):
        check_virtual_size(11, ConvertOptions(max_virtual_size=10), "x")


def test_settings_parsers():
    assert parse_disk_formats("QCOW2, raw vpc") == ("qcow2", "raw", "vhd")
    assert parse_size("1T") == 1 << 40 and parse_size("500GiB") == 500 << 30 and parse_size("0") is None
    with pytest.raises(ValueError):
        parse_size("big")


def test_virtual_size_cap_applies_to_images_uploaded_as_they_are(run_cli, tmp_path, spool):
    img = make_qcow2(tmp_path / "disk.qcow2", b"q", 2)
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\xeb\x63\x90" + bytes((2 << 20) - 3))
    for disk in (img, raw):
        res = run_cli("glancing", "-d", "--allow-unverified", disk,
                      env={"GLANCING_FETCH_TMP_DIR": str(spool), "GLANCING_GLANCE_MAX_VIRTUAL_SIZE": "1M"})
        assert res.returncode == 1 and "over [glance] max_virtual_size" in one_error(res)
        res = run_cli("glancing", "-d", "--allow-unverified", disk, env={"GLANCING_GLANCE_MAX_VIRTUAL_SIZE": "3M"})
        assert res.returncode == 0, res.stderr


def test_a_disk_qemu_img_cannot_read_is_refused_and_the_spool_removed(run_cli, tmp_path, spool):
    vmdk = stream_vmdk(make_qcow2(tmp_path / "src.qcow2", b"t", 2), tmp_path / "disk.vmdk")
    data = vmdk.read_bytes()
    vmdk.write_bytes(data[:len(data) * 2 // 3])  # the grain directory and footer are gone
    res = dry(run_cli, spool, "--allow-unverified", vmdk)
    assert res.returncode == 1 and str(vmdk) in one_error(res)
    assert str(spool) not in res.stderr and list(spool.iterdir()) == []
