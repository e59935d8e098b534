# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""OVA archives read as a stream: the descriptor, the disk chosen, hostile members refused.

Archives are made by real ``tar`` (and Python's tarfile for members tar will not write, such as
a device or a name with ``..``), disks by real qemu-img; no Glance here (see test_ova_glance).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from glancing.errors import RecordError, UnsafeImage, UsageError
from glancing.transform.ova import choose, parse_ovf, read_ova, unit_factor
from glancing.transform.tarstream import TarStream
from images import make_ova, make_qcow2, ovf_descriptor, stream_vmdk


class Taken:
    """Records what read_ova hands over: the chosen disk's bytes, the guarded disks' names."""

    def __init__(self) -> None:
        self.data = b""
        self.guarded: list = []

    def take(self, disk, member, chunks) -> None:
        self.data = b"".join(chunks)

    def guard(self, chunks, what) -> None:
        self.guarded.append((what, len(next(chunks, b""))))


def read(path: Path, choice=None) -> tuple:
    taken = Taken()
    with open(path, "rb") as f:
        chosen = read_ova(f, path.name, choice, taken.take, taken.guard)
    return chosen, taken


@pytest.fixture
def vmdks(tmp_path):
    one = stream_vmdk(make_qcow2(tmp_path / "a.qcow2", b"a", 2), tmp_path / "disk1.vmdk")
    two = stream_vmdk(make_qcow2(tmp_path / "b.qcow2", b"b", 1), tmp_path / "disk2.vmdk")
    return one, two


def test_one_disk_is_taken_with_its_hints(tmp_path, vmdks):
    ova = make_ova(tmp_path / "x.ova", [vmdks[0]], memory_mib=1536, bus="ide")
    chosen, taken = read(ova)
    assert taken.data == vmdks[0].read_bytes() and taken.guarded == []
    assert chosen.disk.href == "disk1.vmdk" and chosen.disk.format == "vmdk"
    assert chosen.disk.capacity == (2 << 20) + 512  # 2 MiB and 64 bytes, in whole sectors
    assert chosen.hints == {"os_type": "linux", "min_ram": "1536", "hw_disk_bus": "ide"}


def test_several_disks_need_a_choice_listing_them(tmp_path, vmdks):
    ova = make_ova(tmp_path / "x.ova", list(vmdks))
    with pytest.raises(UsageError, match=r"2 disks, choose one with --ova-disk N: 1: disk1.vmdk \(vmdk.*2: disk2"):
        read(ova)
    chosen, taken = read(ova, 2)
    assert chosen.disk.href == "disk2.vmdk" and taken.data == vmdks[1].read_bytes()
    assert taken.guarded == [("x.ova: disk1.vmdk", 1 << 20)]  # the other disk was guarded too
    with pytest.raises(UsageError, match="--ova-disk 3: the OVA holds 2 disk"):
        read(ova, 3)


def test_windows_and_sata_hints(tmp_path, vmdks):
    chosen, _ = read(make_ova(tmp_path / "x.ova", [vmdks[0]], os_words="Microsoft Windows Server 2016", bus="sata"))
    assert chosen.hints["os_type"] == "windows" and chosen.hints["hw_disk_bus"] == "sata"


def _tar_with(path: Path, members: list) -> Path:
    """A tar from (TarInfo, bytes or None) pairs, written by Python's tarfile (GNU format)."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def _ovf_for(*names_sizes) -> bytes:
    return ovf_descriptor([(n, s, 1 << 20) for n, s in names_sizes])


@pytest.mark.parametrize("name, message", [
    ("../x", "contains '..'"), ("/etc/x", "absolute"), ("a/../../x", "contains '..'")])
def test_hostile_member_names_are_refused(tmp_path, name, message):
    ova = _tar_with(tmp_path / "x.ova", [_member("a.ovf", _ovf_for(("disk.vmdk", 3))), _member(name, b"abc")])
    with pytest.raises(UnsafeImage, match=message):
        read(ova)


@pytest.mark.parametrize("kind, what", [
    (tarfile.SYMTYPE, "symbolic link"), (tarfile.LNKTYPE, "hard link"), (tarfile.CHRTYPE, "character device"),
    (tarfile.BLKTYPE, "block device"), (tarfile.FIFOTYPE, "FIFO"), (tarfile.DIRTYPE, "directory")])
def test_links_and_devices_are_refused(tmp_path, kind, what):
    ova = _tar_with(tmp_path / "x.ova", [_member("a.ovf", _ovf_for(("disk.vmdk", 3))),
                                         _member("disk.vmdk", kind=kind, link="/etc/shadow")])
    with pytest.raises(UnsafeImage, match=f"'disk.vmdk' is a {what}, not a plain file"):
        read(ova)


def test_symlink_made_by_tar_is_refused(tmp_path, vmdks):
    (tmp_path / "x.ova.d").mkdir()
    os.symlink("/etc/shadow", tmp_path / "x.ova.d" / "shadow")
    ova = make_ova(tmp_path / "x.ova", [vmdks[0]], extra=("shadow",))
    with pytest.raises(UnsafeImage, match="'shadow' is a symbolic link"):
        read(ova)


def test_long_names_through_pax_and_gnu_headers_are_checked(tmp_path):
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        path = tmp_path / f"x{fmt}.ova"
        with tarfile.open(path, "w", format=fmt) as tar:
            info, data = _member("a.ovf", _ovf_for(("disk.vmdk", 3)))
            tar.addfile(info, io.BytesIO(data))
            info, data = _member("x" * 120 + "/../../etc/passwd", b"abc")
            tar.addfile(info, io.BytesIO(data))
        with pytest.raises(UnsafeImage, match="contains '..'"):
            read(path)


def test_missing_wrong_size_and_duplicate_members_are_refused(tmp_path):
    ovf = _member("a.ovf", _ovf_for(("disk.vmdk", 3)))
    with pytest.raises(UnsafeImage, match="references disk.vmdk, missing from the archive"):
        read(_tar_with(tmp_path / "1.ova", [ovf, _member("other", b"abc")]))
    with pytest.raises(UnsafeImage, match="'disk.vmdk' holds 4 bytes, the descriptor says 3"):
        read(_tar_with(tmp_path / "2.ova", [ovf, _member("disk.vmdk", b"abcd")]))
    with pytest.raises(UnsafeImage, match="appears twice"):
        read(_tar_with(tmp_path / "3.ova", [ovf, _member("disk.vmdk", b"abc"), _member("disk.vmdk", b"abc")]))


def test_the_descriptor_must_come_first_and_be_ovf(tmp_path):
    with pytest.raises(UnsafeImage, match="first member must be its .ovf descriptor"):
        read(_tar_with(tmp_path / "1.ova", [_member("disk.vmdk", b"abc")]))
    with pytest.raises(UnsafeImage, match="not an OVF Envelope"):
        read(_tar_with(tmp_path / "2.ova", [_member("a.ovf", b"<Envelope/>")]))
    with pytest.raises(RecordError, match="entity declarations"):
        read(_tar_with(tmp_path / "3.ova", [_member("a.ovf", b'<!DOCTYPE x [<!ENTITY a "b">]><x/>')]))


def test_descriptor_references_outside_the_archive_are_refused():
    for href in ("../disk.vmdk", "/var/disk.vmdk", "http://example.org/disk.vmdk"):
        with pytest.raises(UnsafeImage):
            parse_ovf(ovf_descriptor([(href, 3, 1)]), "x.ovf")


def test_truncated_archive_and_bad_header_are_refused(tmp_path, vmdks):
    data = make_ova(tmp_path / "x.ova", [vmdks[0]]).read_bytes()
    with pytest.raises(UnsafeImage, match="truncated"):
        read_ova(io.BytesIO(data[:len(data) // 2]), "x.ova", None, Taken().take, Taken().guard)
    broken = bytearray(data)
    broken[148:156] = b"0000000\0"  # the first header's checksum
    with pytest.raises(UnsafeImage, match="bad tar header at byte 0"):
        read_ova(io.BytesIO(bytes(broken)), "x.ova", None, Taken().take, Taken().guard)


def test_tar_stream_reads_members_in_order_and_drains(tmp_path):
    path = _tar_with(tmp_path / "t.tar", [_member("a", b"1" * 600), _member("b", b"22")])
    with open(path, "rb") as f:
        tar = TarStream(f, "t.tar")
        assert tar.next().name == "a"  # not read: skipped by the next call
        member = tar.next()
        assert (member.name, member.size, b"".join(tar.chunks())) == ("b", 2, b"22")
        assert tar.next() is None and tar.drain() > 0 and tar.offset == path.stat().st_size


def test_units_and_choice():
    assert unit_factor("byte * 2^30") == 1 << 30 and unit_factor("byte") == 1 and unit_factor(None) == 1
    assert unit_factor("MegaBytes") == 1 << 20 and unit_factor("furlongs") is None
    with pytest.raises(UnsafeImage, match="lists no disk"):
        choose([], None, "x.ova")


def test_ovf_capacity_in_units_and_vmware_os_type():
    text = ovf_descriptor([("d.vmdk", 3, 5)]).replace(b'ovf:capacity="5" ovf:capacityAllocationUnits="byte"',
                                                      b'ovf:capacity="5" ovf:capacityAllocationUnits="byte * 2^30"')
    ovf = parse_ovf(text, "x.ovf")
    assert ovf.disks[0].capacity == 5 << 30 and ovf.files == {"d.vmdk": 3}
    assert ovf.hints["os_type"] == "linux" and ovf.buses == {"vmdisk1": "scsi"}
