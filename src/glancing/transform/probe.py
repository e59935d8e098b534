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
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from glancing.errors import EnvironmentProblem, FormatMismatch, UsageError, VerificationError
from glancing.formats.vocab import KNOWN_DISK_FORMATS, normalize_disk_format
from glancing.transform import safety

# VHDX keeps its metadata region 1-2 MiB in: 8 MiB covers every format qemu probes at the start.
PROBE_BYTES = 8 << 20
# The apparent length of a probe file holding a head of PROBE_BYTES (holes, no space used).
PROBE_EXTENT = 1 << 40

# qemu-img's names -> Glance's disk_format names.
QEMU_TO_GLANCE = {
    "raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi", "vpc": "vhd", "vhdx": "vhdx",
    "parallels": "ploop", "ploop": "ploop",
}
GLANCE_TO_QEMU = {"raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi", "vhd": "vpc", "vhdx": "vhdx",
                  "ploop": "parallels", "iso": "raw"}
GLANCE_DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
# qemu-img on untrusted data: 1 GiB of address space and 30 s of CPU (Nova's and Glance's caps).
ADDRESS_SPACE = 1 << 30
PROBE_CPU_SECONDS = 30


class ProbeError(VerificationError):
    """qemu-img could not read the image head: a corrupt or truncated header (exit 1)."""


# Magic numbers, only to name the format in a message when qemu-img refuses a header.
_MAGIC_NAMES = ((b"QFI\xfb", "qcow2"), (b"KDMV", "vmdk"), (b"COWD", "vmdk"), (b"conectix", "vhd"),
                (b"vhdxfile", "vhdx"), (b"QED\x00", "qed"))


@dataclass(frozen=True)
class Probe:
    """What the head of an image is: Glance's format name and the virtual size qemu-img reads."""

    format: str
    virtual_size: Optional[int] = None


def qemu_limits(cpu_seconds: int = PROBE_CPU_SECONDS) -> Callable[[], None]:
    """The preexec function capping a qemu-img child: the probe's address space, ``cpu_seconds``."""
    def apply() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    return apply


def qemu_img() -> str:
    """The qemu-img executable; EnvironmentProblem when it is missing."""
    exe = shutil.which("qemu-img")
    if exe is None:
        raise EnvironmentProblem("qemu-img not found: install qemu-utils (Debian/Ubuntu) or qemu-img (RHEL)")
    return exe


def _is_iso9660(head: bytes) -> bool:
    return head[0x8001:0x8006] == b"CD001"


def _is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


def is_archive(head: bytes) -> bool:
    """True when ``head`` starts a tar archive (an OVA): its bytes are never uploaded as they are."""
    return _is_tar(head)


def _format_named(head: bytes) -> str:
    for magic, name in _MAGIC_NAMES:
        if head.startswith(magic):
            return name
    return "disk image"


def qemu_info(path: str, source: str, head: bytes = b"", fmt: Optional[str] = None) -> Dict[str, Any]:
    """qemu-img's JSON description of the file at ``path``; errors name ``source``, not ``path``.

    It runs in the probe file's own private directory, so a relative name in the image resolves
    to nothing there. ``fmt`` (qemu's name) spares qemu-img probing a format already known.
    """
    exe = qemu_img()
    forced = ["-f", fmt] if fmt else []
    try:
        done = subprocess.run([exe, "info", *forced, "--output=json", "--", path], capture_output=True,
                              encoding="utf-8", errors="replace", timeout=60, preexec_fn=qemu_limits(),
                              stdin=subprocess.DEVNULL, check=False, cwd=os.path.dirname(path) or None)
    except subprocess.TimeoutExpired as e:
        raise ProbeError(f"qemu-img info timed out on the head of {source}") from e
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        detail = lines[-1] if lines else f"qemu-img exited {done.returncode}"
        detail = detail.replace(f"qemu-img: Could not open '{path}': ", "").replace(path, source)
        detail = safety.printable(detail)
        raise ProbeError(f"corrupt {_format_named(head)} header in {source}: {detail}")
    try:
        return dict(json.loads(done.stdout))
    except ValueError as e:
        raise ProbeError(f"qemu-img gave unreadable output for {source}") from e


def qemu_format(path: str, source: Optional[str] = None) -> str:
    """qemu-img's name for the format of the file at ``path``."""
    return str(qemu_info(path, source or path)["format"])


def detect(head: bytes, tmpdir: Optional[str] = None, source: str = "the image") -> str:
    """Glance's disk_format for an image that starts with ``head`` (at most PROBE_BYTES used),
    or ``ova`` for a tar archive (``transform.ova`` reads it). See ``inspect``."""
    return inspect(head, tmpdir, source).format


def inspect(head: bytes, tmpdir: Optional[str] = None, source: str = "the image") -> Probe:
    """The format and virtual size of an image that starts with ``head`` (at most PROBE_BYTES used).

    Raises UnsafeImage for an image that references other files (checked before qemu-img reads
    it), FormatMismatch for formats Glance does not store; ProbeError for a header qemu-img
    cannot read; EnvironmentProblem when qemu-img is missing. Messages name ``source``, never
    the temporary probe file. A raw image's virtual size is unknown from its head (None).
    """
    head = head[:PROBE_BYTES]
    if _is_tar(head):
        return Probe("ova")
    safety.check_head(head, source)
    workdir = tempfile.mkdtemp(prefix="glancing-probe-", dir=tmpdir)
    path = os.path.join(workdir, "head")
    try:
        with open(path, "wb") as f:
            f.write(head)
            if len(head) == PROBE_BYTES:
                _extend(f)
        info = qemu_info(path, source, head)
        safety.check_info(info, path, source)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    found = str(info.get("format"))
    if found == "raw":
        return Probe("iso" if _is_iso9660(head) else "raw")
    try:
        return Probe(QEMU_TO_GLANCE[found], _virtual_size(info))
    except KeyError:
        raise FormatMismatch(f"qemu-img detected the format {found!r} in {source}, "
                             "which Glance does not store") from None


def _extend(f: Any) -> None:
    """Make the probe file as long as a large image, sparse: a VHDX whose data starts past the
    head is otherwise "truncated" for qemu-img (its block table points past the end)."""
    try:
        f.truncate(PROBE_EXTENT)
    except OSError:
        pass  # a file system without large sparse files: probe the head as it is


def _virtual_size(info: Dict[str, Any]) -> Optional[int]:
    size = info.get("virtual-size")
    return int(size) if isinstance(size, int) else None


def inspect_file(path: str, glance_format: str, source: str) -> Probe:
    """The whole file at ``path``, read as ``glance_format`` (known from its head): refused when it
    references other files, or when qemu-img then sees another format."""
    info = qemu_info(path, source, fmt=GLANCE_TO_QEMU.get(glance_format, glance_format))
    safety.check_info(info, path, source)
    found = QEMU_TO_GLANCE.get(str(info.get("format")), str(info.get("format")))
    if found != glance_format and not (glance_format == "iso" and found == "raw"):
        raise FormatMismatch(f"{source}: qemu-img reads the whole image as {found}, its head as {glance_format}")
    return Probe(glance_format, _virtual_size(info))


def reconcile(detected: str, requested: Optional[str], declared: Optional[str], force: bool) -> str:
    """The disk_format to upload with. A different --disk-format or declared format is an error unless -f."""
    for given, what in ((requested, "--disk-format"), (declared, "the source's declared format")):
        if given is None:
            continue
        given = normalize_disk_format(given) or given.lower()
        if given not in KNOWN_DISK_FORMATS:
            raise UsageError(f"{what} {given!r} is not a Glance disk format or OVA ({', '.join(KNOWN_DISK_FORMATS)})")
        if given != detected and not force:
            raise FormatMismatch(f"{what} says {given} but the image content is {detected} (use -f to override)")
    return (normalize_disk_format(requested) if requested else None) or detected
