# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Disk format detection with qemu-img's own probing, on the first megabytes of the image.

The format is read from the content, never guessed from a name, never forced to raw. Only a
head of the stream is probed, so the upload need not wait for (or spool) the whole image.
qemu-img runs on untrusted data, so it runs with a memory and CPU cap, as Nova and Glance do.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from typing import Optional

from glancing.errors import FormatMismatch, GlancingError, UsageError

# VHDX keeps its metadata region 1-2 MiB in: 8 MiB covers every format qemu probes at the start.
PROBE_BYTES = 8 << 20

# qemu-img's names -> Glance's disk_format names.
QEMU_TO_GLANCE = {
    "raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi", "vpc": "vhd", "vhdx": "vhdx",
    "parallels": "ploop", "ploop": "ploop",
}
GLANCE_DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")


class ProbeError(GlancingError):
    """qemu-img is missing or could not read the image head."""


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    resource.setrlimit(resource.RLIMIT_CPU, (30, 30))


def _is_iso9660(head: bytes) -> bool:
    return head[0x8001:0x8006] == b"CD001"


def _is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


def qemu_format(path: str) -> str:
    """qemu-img's name for the format of the file at ``path``."""
    exe = shutil.which("qemu-img")
    if exe is None:
        raise ProbeError("qemu-img not found: install qemu-utils (Debian/Ubuntu) or qemu-img (RHEL)")
    try:
        done = subprocess.run([exe, "info", "--output=json", "--", path], capture_output=True, text=True,
                              timeout=60, preexec_fn=_limits, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as e:
        raise ProbeError("qemu-img info timed out on the image head") from e
    if done.returncode != 0:
        raise ProbeError(f"qemu-img info failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return str(json.loads(done.stdout)["format"])


def detect(head: bytes, tmpdir: Optional[str] = None) -> str:
    """Glance's disk_format for an image that starts with ``head`` (at most PROBE_BYTES used).

    Raises FormatMismatch for an OVA (tar) archive, which is not imported yet, and for formats
    Glance does not store; ProbeError when qemu-img cannot run.
    """
    head = head[:PROBE_BYTES]
    if _is_tar(head):
        raise FormatMismatch("the image is an OVA/tar archive; OVA import is not supported yet: "
                             "extract the disk image and import that")
    fd, path = tempfile.mkstemp(prefix="glancing-probe-", dir=tmpdir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(head)
        found = qemu_format(path)
    finally:
        os.unlink(path)
    if found == "raw" and _is_iso9660(head):
        return "iso"
    try:
        return QEMU_TO_GLANCE[found]
    except KeyError:
        raise FormatMismatch(f"qemu-img detected the format {found!r}, which Glance does not store") from None


def reconcile(detected: str, requested: Optional[str], declared: Optional[str], force: bool) -> str:
    """The disk_format to upload with. A different --disk-format or declared format is an error unless -f."""
    for given, what in ((requested, "--disk-format"), (declared, "the source's declared format")):
        if given is None:
            continue
        given = given.lower()
        if given not in GLANCE_DISK_FORMATS:
            raise UsageError(f"{what} {given!r} is not a Glance disk format ({', '.join(GLANCE_DISK_FORMATS)})")
        if given != detected and not force:
            raise FormatMismatch(f"{what} says {given} but the image content is {detected} (use -f to override)")
    return (requested or detected).lower()
