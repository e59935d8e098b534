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
