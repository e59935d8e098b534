# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Disk format detection with qemu-img on the head of real images."""

import io
import os
import subprocess
import tarfile

import pytest

from glancing.errors import FormatMismatch, UsageError
from glancing.transform.probe import PROBE_BYTES, detect, reconcile


@pytest.mark.parametrize("qemu_fmt,glance_fmt", [
    ("qcow2", "qcow2"), ("vmdk", "vmdk"), ("vdi", "vdi"), ("vpc", "vhd"), ("vhdx", "vhdx"), ("raw", "raw")])
def test_formats_detected_from_the_first_megabytes(tmp_path, qemu_fmt, glance_fmt):
    path = tmp_path / "disk"
    subprocess.run(["qemu-img", "create", "-q", "-f", qemu_fmt, str(path), "256M"], check=True)
    with open(path, "rb") as f:
        head = f.read(PROBE_BYTES)
    if qemu_fmt == "raw":
        head = b"\xeb\x63\x90" + b"\x00" * 4096
    assert detect(head, str(tmp_path)) == glance_fmt
    assert list(tmp_path.iterdir()) == [path]  # the probe's temp file is gone


def test_iso9660_is_iso():
    head = bytearray(64 * 1024)
    head[0x8001:0x8006] = b"CD001"
    assert detect(bytes(head)) == "iso"


def test_a_tar_archive_is_detected_as_ova():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("appliance.ovf")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"xml"))
    assert detect(buf.getvalue()) == "ova"


def test_reconcile_requested_and_declared_formats():
    assert reconcile("qcow2", None, None, force=False) == "qcow2"
    assert reconcile("qcow2", "qcow2", "QCOW2", force=False) == "qcow2"
    with pytest.raises(FormatMismatch, match="--disk-format says raw"):
        reconcile("qcow2", "raw", None, force=False)
    with pytest.raises(FormatMismatch, match="declared format says raw"):
        reconcile("qcow2", None, "raw", force=False)
    assert reconcile("qcow2", "raw", None, force=True) == "raw"
    with pytest.raises(UsageError):
        reconcile("qcow2", "floppy", None, force=True)


def test_inspect_reads_the_virtual_size_from_a_head_whose_data_lies_beyond(tmp_path):
    from glancing.transform.probe import inspect

    src = tmp_path / "data.raw"
    src.write_bytes(os.urandom(12 << 20))
    for fmt, glance_fmt in (("vhdx", "vhdx"), ("qcow2", "qcow2"), ("vdi", "vdi")):
        disk = tmp_path / f"disk.{fmt}"
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", fmt, str(src), str(disk)], check=True)
        with open(disk, "rb") as f:
            found = inspect(f.read(PROBE_BYTES))
        assert (found.format, found.virtual_size) == (glance_fmt, 12 << 20)
    assert inspect(b"\xeb\x63\x90" + bytes(4093)).virtual_size is None  # raw: its length, not its head
