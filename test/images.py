# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Small real disk images for tests, made with qemu-img, and their compressed variants."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
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
