# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Small real disk images for tests, made with qemu-img, and their compressed variants."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
import zipfile
from pathlib import Path


def make_qcow2(path: Path, seed: bytes = b"", size_mib: int = 4) -> Path:
    """A qcow2 image holding ``size_mib`` MiB of data (random, salted by ``seed``)."""
    raw = path.with_suffix(".raw-src")
    data = hashlib.sha512(seed).digest() + os.urandom(size_mib << 20)
    raw.write_bytes(data)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)
    raw.unlink()
    return path


def make_raw(path: Path, size_mib: int = 3) -> Path:
    path.write_bytes(b"\xeb\x63\x90" + os.urandom((size_mib << 20) - 3))
    return path


def compress(path: Path, kind: str) -> Path:
    """``path`` compressed as gz, bz2 (two streams, as pbzip2 writes), xz or zip (one member)."""
    data = path.read_bytes()
    out = path.with_name(path.name + "." + kind)
    if kind == "gz":
        out.write_bytes(gzip.compress(data, compresslevel=1))
    elif kind == "bz2":
        half = len(data) // 2
        out.write_bytes(bz2.compress(data[:half], 1) + bz2.compress(data[half:], 1))
    elif kind == "xz":
        out.write_bytes(lzma.compress(data, preset=0))
    elif kind == "zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(path, path.name)
    else:
        raise ValueError(kind)
    return out


def digest(path: Path, alg: str = "sha256") -> str:
    return hashlib.new(alg, path.read_bytes()).hexdigest()


# -- hostile disks: images that name other files (the CVE-2024-32498 class) -------------------

def _qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def qcow2_with_backing(path: Path, backing: str) -> Path:
    """A qcow2 whose backing file is ``backing`` (a path or a ``json:`` spec), read as raw."""
    _qemu_img("create", "-f", "qcow2", "-u", "-b", backing, "-F", "raw", str(path), "16M")
    return path


def qcow2_with_data_file(path: Path, data_file: str) -> Path:
    """A qcow2 whose guest data lives in the external file ``data_file`` (created by qemu-img)."""
    _qemu_img("create", "-f", "qcow2", "-o", f"data_file={data_file}", str(path), "16M")
    return path


def vmdk_descriptor(path: Path, extent: str, create_type: str = "monolithicFlat") -> Path:
    """A text VMDK descriptor whose one extent is ``extent`` (qemu-img info would read it)."""
    path.write_text("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
                    f'createType="{create_type}"\n\n# Extent description\nRW 8 FLAT "{extent}" 0\n')
    return path


def vmdk_sparse_naming(path: Path, create_type: str, extent: str, extent_type: str = "SPARSE") -> Path:
    """A real monolithicSparse VMDK whose embedded descriptor is rewritten to ``create_type`` and
    one extent ``extent`` of ``extent_type`` (padded into the descriptor's own space)."""
    _qemu_img("create", "-f", "vmdk", str(path), "16M")
    data = bytearray(path.read_bytes())
    start = int.from_bytes(data[28:36], "little") * 512
    end = start + int.from_bytes(data[36:44], "little") * 512
    text = bytes(data[start:end]).split(b"\0", 1)[0].decode()
    text = text.replace('createType="monolithicSparse"', f'createType="{create_type}"')
    text = text.replace(f'SPARSE "{path.name}"', f'{extent_type} "{extent}"')
    data[start:end] = text.encode().ljust(end - start, b"\0")
    path.write_bytes(bytes(data))
    return path


# -- OVA archives and disks in other formats --------------------------------------------------

OVF_NS = "http://schemas.dmtf.org/ovf/envelope/1"
RASD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VMDK_STREAM = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"


def convert_disk(src: Path, path: Path, fmt: str, *options: str) -> Path:
    """``src`` (qcow2 or raw, told by qemu-img) written as ``fmt`` (qemu's name) with ``options``."""
    opts = ["-o", ",".join(options)] if options else []
    _qemu_img("convert", "-O", fmt, *opts, str(src), str(path))
    return path


def stream_vmdk(src: Path, path: Path) -> Path:
    """``src`` as a streamOptimized VMDK, the kind OVAs carry."""
    return convert_disk(src, path, "vmdk", "subformat=streamOptimized")


def ovf_descriptor(disks: list, memory_mib: int = 2048, os_words: str = "Ubuntu Linux (64-bit)",
                   bus: str = "scsi") -> bytes:
    """An OVF 1.0 envelope for ``disks``: (href, size, capacity) each, in that DiskSection order."""
    files = "".join(f'<File ovf:id="file{i}" ovf:href="{href}" ovf:size="{size}"/>'
                    for i, (href, size, _) in enumerate(disks, 1))
    section = "".join(f'<Disk ovf:diskId="vmdisk{i}" ovf:fileRef="file{i}" ovf:capacity="{cap}" '
                      f'ovf:capacityAllocationUnits="byte" ovf:format="{VMDK_STREAM}"/>'
                      for i, (_, _, cap) in enumerate(disks, 1))
    kind, subtype = {"scsi": ("6", "lsilogic"), "ide": ("5", "PIIX4"), "sata": ("20", "AHCI")}[bus]
    items = "".join(f"<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:InstanceID>{10 + i}</rasd:InstanceID>"
                    f"<rasd:Parent>3</rasd:Parent><rasd:HostResource>ovf:/disk/vmdisk{i}</rasd:HostResource>"
                    f"<rasd:ElementName>disk{i}</rasd:ElementName></Item>" for i in range(1, len(disks) + 1))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Envelope xmlns="{OVF_NS}" xmlns:ovf="{OVF_NS}" '
            f'xmlns:rasd="{RASD_NS}"><References>{files}</References>'
            f"<DiskSection><Info>disks</Info>{section}</DiskSection>"
            f'<VirtualSystem ovf:id="vm"><Info>a VM</Info>'
            f'<OperatingSystemSection ovf:id="94"><Info>os</Info><Description>{os_words}</Description>'
            f"</OperatingSystemSection><VirtualHardwareSection><Info>hw</Info>"
            f"<Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID>"
            f"<rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>{memory_mib}</rasd:VirtualQuantity></Item>"
            f"<Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>{kind}</rasd:ResourceType>"
            f"<rasd:ResourceSubType>{subtype}</rasd:ResourceSubType></Item>{items}"
            f"</VirtualHardwareSection></VirtualSystem></Envelope>\n").encode()


def make_ova(path: Path, disks: list, descriptor: bytes = b"", extra: tuple = (), **hints: object) -> Path:
    """An OVA made with tar: ``appliance.ovf`` then each disk file (named by its file name), then
    ``extra`` members given as tar options and paths (e.g. a symlink). ``descriptor`` replaces the
    generated one."""
    work = path.parent / (path.name + ".d")
    work.mkdir(exist_ok=True)
    entries = []
    for disk in disks:
        shutil.copyfile(disk, work / disk.name)  # streamed: a bench's 1 GiB disk never sits in memory
        entries.append((disk.name, disk.stat().st_size, int(_info(disk)["virtual-size"])))
    (work / "appliance.ovf").write_bytes(descriptor or ovf_descriptor(entries, **hints))
    # -P: keep a "../x" in `extra` as written (tar would strip it), for the hostile-archive tests.
    subprocess.run(["tar", "--format=ustar", "-P", "-cf", str(path), "-C", str(work), "appliance.ovf",
                    *[d.name for d in disks], *extra], check=True, capture_output=True)
    return path


def _info(path: Path) -> dict:
    import json

    done = subprocess.run(["qemu-img", "info", "--output=json", str(path)], check=True, capture_output=True)
    return json.loads(done.stdout)


def same_content(a: Path, b: Path) -> bool:
    """``qemu-img compare``: the two images show the guest the same disk (formats told by qemu-img)."""
    return subprocess.run(["qemu-img", "compare", "-q", str(a), str(b)], capture_output=True).returncode == 0
