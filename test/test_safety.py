# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Disk images that name other files are refused before qemu-img or Glance ever read them."""

import json
import os
import subprocess

import pytest

from images import (digest, make_qcow2, qcow2_with_backing, qcow2_with_data_file, vmdk_descriptor,
                    vmdk_sparse_naming)

from glancing.errors import EnvironmentProblem, UnsafeImage, VerificationError
from glancing.transform.probe import PROBE_BYTES, ProbeError, detect
from glancing.transform.safety import check_head, check_info

SHADOW_JSON = 'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/shadow"}}'


def _head(path):
    with open(path, "rb") as f:
        return f.read(PROBE_BYTES)


def _hostile(kind, tmp_path):
    """(path, text the refusal must contain) for each hostile kind, built with real qemu-img."""
    if kind == "backing":
        return qcow2_with_backing(tmp_path / "x.qcow2", "/etc/passwd"), "backing file (/etc/passwd)"
    if kind == "json-backing":
        return qcow2_with_backing(tmp_path / "x.qcow2", SHADOW_JSON), "/etc/shadow"
    if kind == "relative-backing":
        return qcow2_with_backing(tmp_path / "x.qcow2", "base.img"), "backing file (base.img)"
    if kind == "data-file":
        return qcow2_with_data_file(tmp_path / "x.qcow2", str(tmp_path / "data.raw")), "external file"
    if kind == "vmdk-descriptor":
        return vmdk_descriptor(tmp_path / "x.vmdk", "/etc/passwd"), "/etc/passwd"
    if kind == "vmdk-sparse-flat":
        return vmdk_sparse_naming(tmp_path / "x.vmdk", "monolithicFlat", "/etc/passwd"), "monolithicFlat"
    if kind == "vmdk-sparse-extent":
        return vmdk_sparse_naming(tmp_path / "x.vmdk", "monolithicSparse", "/etc/passwd"), "/etc/passwd"
    if kind == "vmdk-sparse-flat-extent":
        return vmdk_sparse_naming(tmp_path / "x.vmdk", "monolithicSparse", "passwd", "FLAT"), "(passwd)"
    raise ValueError(kind)


KINDS = ["backing", "json-backing", "relative-backing", "data-file", "vmdk-descriptor",
         "vmdk-sparse-flat", "vmdk-sparse-extent", "vmdk-sparse-flat-extent"]


@pytest.mark.parametrize("kind", KINDS)
def test_refused_from_the_header_bytes_alone(tmp_path, kind):
    path, reason = _hostile(kind, tmp_path)
    with pytest.raises(UnsafeImage) as caught:
        check_head(_head(path), "https://example.org/x")
    message = str(caught.value)
    assert reason in message and "self-contained" in message and "https://example.org/x" in message
    assert "\n" not in message and isinstance(caught.value, VerificationError)


@pytest.mark.parametrize("kind", KINDS)
def test_detect_refuses_before_qemu_img_runs(tmp_path, monkeypatch, kind):
    path, _ = _hostile(kind, tmp_path)
    head = _head(path)
    ok = _head(make_qcow2(tmp_path / "ok.qcow2", size_mib=1))
    # Without qemu-img on PATH, reaching it would be EnvironmentProblem: UnsafeImage proves the
    # refusal came first, so qemu-img never opened the referenced file.
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(UnsafeImage):
        detect(head, str(tmp_path), source="x")
    with pytest.raises(EnvironmentProblem, match="qemu-img not found"):
        detect(ok, str(tmp_path), source="ok")


def test_self_contained_images_pass(tmp_path):
    for fmt in ("qcow2", "vmdk"):
        path = tmp_path / f"d.{fmt}"
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), "64M"], check=True)
        assert detect(_head(path), str(tmp_path), source="d") == fmt
    stream = tmp_path / "s.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized", str(stream),
                    "64M"], check=True)
    assert detect(_head(stream), str(tmp_path), source="s") == "vmdk"


def test_qemu_reported_backing_file_is_refused_for_any_format(tmp_path):
    # QED has no bytes check of its own: qemu-img's report is the second layer.
    path = tmp_path / "x.qed"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qed", "-u", "-b", "/etc/passwd", "-F", "raw", str(path),
                    "16M"], check=True)
    with pytest.raises(UnsafeImage, match=r"qed image has a backing file \(/etc/passwd\)"):
        detect(_head(path), str(tmp_path), source="x.qed")


def test_check_info_refuses_extents_other_than_the_probed_file():
    info = {"format": "vmdk", "format-specific": {"type": "vmdk", "data": {
        "create-type": "monolithicSparse", "extents": [{"filename": "/tmp/p/head"}, {"filename": "/dev/sda"}]}}}
    with pytest.raises(UnsafeImage, match="extents outside itself \\(/dev/sda\\)"):
        check_info(info, "/tmp/p/head", "src")
    check_info({"format": "vmdk", "format-specific": {"data": {"extents": [{"filename": "/tmp/p/head"}]}}},
               "/tmp/p/head", "src")


def test_attacker_chosen_names_are_printed_without_control_characters(tmp_path):
    path = qcow2_with_backing(tmp_path / "x.qcow2", "/etc/passwd\x1b[2J")
    with pytest.raises(UnsafeImage) as caught:
        check_head(_head(path), "src")
    assert "\x1b" not in str(caught.value) and "/etc/passwd?[2J" in str(caught.value)


def test_corrupt_header_names_the_source_not_the_probe_file(tmp_path):
    data = bytearray(_head(make_qcow2(tmp_path / "ok.qcow2", size_mib=1)))
    data[4:8] = (99).to_bytes(4, "big")  # an unknown qcow2 version
    with pytest.raises(ProbeError) as caught:
        detect(bytes(data), str(tmp_path), source="https://example.org/disk.qcow2")
    message = str(caught.value)
    assert message.startswith("corrupt qcow2 header in https://example.org/disk.qcow2")
    assert "glancing-probe" not in message and str(tmp_path) not in message
    assert caught.value.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.qcow2"]  # the probe's files are gone


@pytest.mark.parametrize("kind", ["backing", "data-file", "vmdk-descriptor"])
def test_cli_dry_run_refuses_a_local_file(run_cli, tmp_path, kind):
    path, reason = _hostile(kind, tmp_path)
    res = run_cli("glancing", "-d", "-s", digest(path), str(path), lab_env=False)
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0] and reason in lines[0] and "Traceback" not in res.stderr
    res = run_cli("glancing", "-d", "--json", "-s", digest(path), str(path), lab_env=False)
    assert res.returncode == 1 and "self-contained" in json.loads(res.stdout)["error"]


def test_cli_dry_run_refuses_a_url(run_cli, http_server, tmp_path):
    path = qcow2_with_backing(tmp_path / "x.qcow2", SHADOW_JSON)
    url = http_server(tmp_path).url("x.qcow2")
    res = run_cli("glancing", "-d", "-s", digest(path), url, lab_env=False)
    assert res.returncode == 1, res.stderr
    assert "refused" in res.stderr and "/etc/shadow" in res.stderr and url in res.stderr


def test_cli_missing_qemu_img_is_an_environment_problem(run_cli, tmp_path):
    image = make_qcow2(tmp_path / "ok.qcow2", size_mib=1)
    res = run_cli("glancing", "-d", str(image), env={"PATH": str(tmp_path / "nothing-here")}, lab_env=False)
    assert res.returncode == 7 and "qemu-img not found" in res.stderr and "Traceback" not in res.stderr


def _images_named_like(client, token):
    images = list(client.images.list()) + list(client.images.list(filters={"os_hidden": True}))
    return [i["id"] for i in images if token in (i.get("name") or "") or token in i.get("glancing_pending_name", "")]


@pytest.mark.parametrize("kind", ["backing", "vmdk-descriptor"])
def test_import_is_refused_before_any_image_is_created(lab, run_cli, http_server, tmp_path, kind):
    path, reason = _hostile(kind, tmp_path)
    url = http_server(tmp_path).url(path.name)
    name = f"unsafe-{kind}-{os.getpid()}"
    res = run_cli("glancing", "--json", "-n", name, "-s", digest(path), url)
    assert res.returncode == 1, res.stderr
    assert reason in json.loads(res.stdout)["error"]
    assert _images_named_like(lab.admin_glance(), name) == []
