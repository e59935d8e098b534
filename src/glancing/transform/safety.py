# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Refusing disk images that reference other files (the CVE-2024-32498 class).

A qcow2 backing file or external data file, or a VMDK extent, names a path that whoever opens
the image reads as if it were part of the disk: ``/etc/passwd``, a ``json:`` spec of
``/etc/shadow``, a device. Glance and Nova both refuse such images; glancing imports only
self-contained ones, and says so before any upload, in a dry run as in an import.

Two layers, as Glance's format_inspector and Nova do:

1. ``check_head``: the raw header bytes, BEFORE qemu-img runs. ``qemu-img info`` opens VMDK
   extents (and reads them) and knows a qcow2's data file, so a hostile head must never reach it.
2. ``check_info``: qemu-img's JSON, for what qemu knows and the bytes check does not (a backing
   file of any format, a VMDK extent that is not the probed file itself).
"""

from __future__ import annotations

import re
import struct
from typing import Any, List, Mapping, Optional

from glancing.errors import UnsafeImage

SELF_CONTAINED = "glancing imports only self-contained images"

QCOW2_MAGIC = b"QFI\xfb"
VMDK4_MAGIC = b"KDMV"
# qcow2 v3 incompatible feature bit 2: the guest data lives in an external file.
QCOW2_EXTERNAL_DATA = 1 << 2
QCOW2_EXT_DATA_FILE = 0x44415441  # header extension holding the data file's name
# The VMDK kinds whose data is inside the file itself (Glance's format_inspector allows the same).
VMDK_SELF_CONTAINED = ("monolithicSparse", "streamOptimized")

_EXTENT = re.compile(rb'^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+(\w+)(?:\s+"([^"]*)")?', re.MULTILINE)
_CREATE_TYPE = re.compile(rb'^\s*createType\s*=\s*"?([A-Za-z0-9_]+)"?', re.MULTILINE)
_PARENT_HINT = re.compile(rb'^\s*parentFileNameHint\s*=\s*"?([^"\r\n]*)', re.MULTILINE)


def _refuse(reason: str, source: str) -> UnsafeImage:
    return UnsafeImage(f"refused: {source}: {reason}; {SELF_CONTAINED}")


def printable(text: str, limit: int = 200) -> str:
    """``text`` fit for a one-line message: control characters become '?', long text is cut."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _shown(name: bytes) -> str:
    """A referenced name as printable text (it is attacker-chosen)."""
    return printable(name.decode("utf-8", "replace"), 120)


def check_head(head: bytes, source: str) -> None:
    """Raise UnsafeImage when the header bytes name another file; otherwise return."""
    if head.startswith(QCOW2_MAGIC):
        _check_qcow2(head, source)
    elif head.startswith(VMDK4_MAGIC):
        _check_vmdk4(head, source)
    elif looks_like_vmdk_descriptor(head):
        extents = [_shown(m.group(3) or b"") for m in _EXTENT.finditer(head[:64 << 10])]
        named = f" ({', '.join(extents[:3])})" if extents else ""
        raise _refuse(f"VMDK descriptor file whose data is in other files{named}", source)


def _check_qcow2(head: bytes, source: str) -> None:
    if len(head) < 104:
        return  # too short for a header: qemu-img will call it corrupt
    version, backing_offset, backing_size = struct.unpack_from(">IQI", head, 4)
    if backing_offset:
        name = head[backing_offset:backing_offset + min(backing_size, 1023)]
        raise _refuse(f"qcow2 image has a backing file ({_shown(name) or 'beyond the header'})", source)
    if version >= 3:
        (incompatible,) = struct.unpack_from(">Q", head, 72)
        if incompatible & QCOW2_EXTERNAL_DATA:
            name = _qcow2_data_file(head)
            raise _refuse(f"qcow2 image keeps its data in an external file ({name})", source)


def _qcow2_data_file(head: bytes) -> str:
    """The external data file's name from the header extensions (a placeholder if absent)."""
    (offset,) = struct.unpack_from(">I", head, 100)
    while offset + 8 <= len(head):
        kind, length = struct.unpack_from(">II", head, offset)
        if kind == 0:
            break
        if kind == QCOW2_EXT_DATA_FILE:
            return _shown(head[offset + 8:offset + 8 + length])
        offset += 8 + (length + 7) // 8 * 8
    return "name not in the header"


def _check_vmdk4(head: bytes, source: str) -> None:
    if len(head) < 64:
        return
    capacity, _grain, desc_offset, desc_size = struct.unpack_from("<QQQQ", head, 12)
    descriptor = head[desc_offset * 512:(desc_offset + desc_size) * 512].split(b"\x00", 1)[0]
    if capacity == 0 or not descriptor:
        # qemu then takes the extents from the descriptor, which may name any file
        raise _refuse("VMDK image has no data of its own (its descriptor names the data files)", source)
    kind = _CREATE_TYPE.search(descriptor)
    if kind is None or kind.group(1).decode() not in VMDK_SELF_CONTAINED:
        shown = _shown(kind.group(1)) if kind else "none"
        raise _refuse(f"VMDK image of type {shown} keeps its data in other files", source)
    parent = _PARENT_HINT.search(descriptor)
    if parent and parent.group(1).strip():
        raise _refuse(f"VMDK image has a parent disk ({_shown(parent.group(1).strip())})", source)
    extents = list(_EXTENT.finditer(descriptor))
    if len(extents) != 1 or extents[0].group(2) != b"SPARSE" or b"/" in (extents[0].group(3) or b""):
        names = ", ".join(_shown(m.group(3) or b"") for m in extents[:3])
        raise _refuse(f"VMDK image names extents outside itself ({names})", source)


def looks_like_vmdk_descriptor(head: bytes) -> bool:
    """True for a text VMDK descriptor: qemu's own probe (``version=N`` after comments) or its marker."""
    start = head[:4096]
    if b"# Disk DescriptorFile" in start:
        return True
    for line in start.splitlines():
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        return re.match(rb"version\s*=\s*\d", line) is not None
    return False


def check_info(info: Mapping[str, Any], probed_path: str, source: str) -> None:
    """Raise UnsafeImage for what qemu-img reports as referenced by the image."""
    backing = info.get("full-backing-filename") or info.get("backing-filename")
    if backing:
        raise _refuse(f"{info.get('format', 'disk')} image has a backing file ({_shown(str(backing).encode())})",
                      source)
    specific = info.get("format-specific") or {}
    data = specific.get("data") or {}
    if data.get("data-file"):
        raise _refuse(f"qcow2 image keeps its data in an external file ({_shown(str(data['data-file']).encode())})",
                      source)
    outside = _foreign_extents(data.get("extents") or [], probed_path)
    if outside:
        raise _refuse(f"VMDK image names extents outside itself ({', '.join(outside[:3])})", source)


def _foreign_extents(extents: List[Mapping[str, Any]], probed_path: str) -> List[str]:
    names: List[str] = []
    for extent in extents:
        name: Optional[str] = extent.get("filename")
        if name is not None and name != probed_path:
            names.append(_shown(name.encode()))
    return names
