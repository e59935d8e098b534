# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What an image list says of an image file: the served bytes' size and SHA-512, its format.

HEPiX digests describe the file AS SERVED (formats.md 2.3), so with ``--compress`` the file is
compressed first (beside the original, written to a temporary name then renamed, reproducibly:
gzip without a timestamp, so an unchanged image keeps its digest) and the compressed bytes are
hashed. ``hv:format`` is qemu-img's format of the disk inside, plus the compression suffix
(``qcow2.gz``), which is how subscribers learn to decompress. An image referencing other files
is refused here as the importer would refuse it (glancing.transform.probe).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Dict, Optional

from glancing.errors import SourceError, UsageError
from glancing.transform import probe

CHUNK = 1 << 20
_OPENERS: Dict[str, Callable[..., IO[bytes]]] = {
    "gz": lambda f, mode: gzip.GzipFile(fileobj=f, mode=mode, mtime=0),
    "bz2": lambda f, mode: bz2.BZ2File(f, mode=mode),
    "xz": lambda f, mode: lzma.LZMAFile(f, mode=mode),
}
_MAGIC = {b"\x1f\x8b": "gz", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
COMPRESSIONS = tuple(_OPENERS)


@dataclass(frozen=True)
class ServedFile:
    """The file a list entry describes, and what the entry says of it."""

    path: str  # the bytes as served (the compressed copy with --compress)
    size: int
    sha512: str
    format: str  # hv:format, e.g. "qcow2" or "raw.gz"


def compression_of(head: bytes) -> Optional[str]:
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def is_compressed(path: Path) -> bool:
    """Whether the file starts with gzip, bzip2 or xz magic. Raises SourceError when unreadable."""
    try:
        with open(path, "rb") as f:
            return compression_of(f.read(8)) is not None
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None


def _head(path: Path, compression: Optional[str]) -> bytes:
    """The first bytes of the disk image itself (decompressed when the file is compressed)."""
    try:
        with open(path, "rb") as raw:
            if compression is None:
                return raw.read(probe.PROBE_BYTES)
            with _OPENERS[compression](raw, "rb") as inner:
                return inner.read(probe.PROBE_BYTES)
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None
    except (EOFError, lzma.LZMAError) as e:
        raise SourceError(f"{path}: corrupt {compression} data ({e})") from None


def _compress(path: Path, compression: str) -> Path:
    target = path.with_name(f"{path.name}.{compression}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(path.parent))
    try:
        with open(path, "rb") as src, os.fdopen(fd, "wb") as out:
            with _OPENERS[compression](out, "wb") as packed:
                shutil.copyfileobj(src, packed, CHUNK)
        os.replace(tmp, target)
    except OSError as e:
        os.unlink(tmp)
        raise SourceError(f"cannot write {target}: {e.strerror or e}") from None
    return target


def _digest(path: Path) -> tuple:
    sha, size = hashlib.sha512(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def describe_file(path: Path, compress: Optional[str] = None) -> ServedFile:
    """Size, SHA-512 and hv:format of ``path`` as it will be served (compressed first when asked).

    Raises SourceError for an unreadable file, UsageError for compressing a compressed file,
    and the probe's errors (UnsafeImage, FormatMismatch, EnvironmentProblem) for the disk.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            already = compression_of(f.read(8))
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None
    if compress and already:
        raise UsageError(f"{path} is {already}-compressed already: leave out --compress")
    disk = probe.detect(_head(path, already), source=str(path))
    served = _compress(path, compress) if compress else path
    size, sha512 = _digest(served)
    suffix = compress or already
    return ServedFile(str(served), size, sha512, f"{disk}.{suffix}" if suffix else disk)
