# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Converting a disk to the site's format with ``qemu-img convert``, in a private spool directory.

qemu-img needs a seekable file, so the disk is spooled into ``[fetch] tmp_dir`` (a private 0700
directory; the member or file name of the source is never used), after checking the free space
against what the spool and the converted image can take: the virtual size bounds the second.
The directory goes on every path, success or failure, unless ``-k`` keeps it for inspection.

qemu-img runs on untrusted data with the probe's address-space cap; its CPU cap grows with the
virtual size (a conversion reads every byte, a probe only the header), and the source format is
always named (``-f``): qemu never guesses a format from attacker-chosen bytes.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Optional, Tuple

from glancing.errors import EnvironmentProblem, UnsafeImage, UsageError, VerificationError
from glancing.transform import probe
from glancing.transform.safety import printable

log = logging.getLogger(__name__)

# What qemu-img writes for glancing; a site list naming anything else is refused up front.
CONVERT_TO = ("qcow2", "raw", "vmdk", "vdi", "vhd", "vhdx")
# Never converted: an ISO is a CD image for every cloud, not a disk to rewrite.
NEVER_CONVERTED = ("iso",)
# The CPU cap of a conversion: the probe's, plus a second per 32 MiB of virtual size (a rate
# qemu-img beats many times over, so only a runaway conversion meets it).
CPU_BYTES_PER_SECOND = 32 << 20
# qemu-img convert's I/O threads each get a glibc malloc arena (64 MiB of address space apiece):
# under load enough of them exceed the 1 GiB cap and qemu-img aborts. Two arenas keep a
# conversion far below it. A fixed environment also keeps messages in plain C-locale English.
QEMU_ENV = {"MALLOC_ARENA_MAX": "2", "LC_ALL": "C"}
# Space left on the spool's file system after the spool and the converted image.
MARGIN = 64 << 20


class ConversionError(VerificationError):
    """qemu-img could not convert the image: the image is corrupt or not what its header says."""


@dataclass(frozen=True)
class ConvertOptions:
    """The site's formats and where conversion works ([glance] disk_formats, --convert-to, ...)."""

    disk_formats: Tuple[str, ...] = ("qcow2", "raw")  # empty: every format uploaded as it is
    convert_to: Optional[str] = None  # --convert-to: this format, whatever the site list says
    ova_disk: Optional[int] = None  # --ova-disk N (from 1)
    max_virtual_size: Optional[int] = None  # bytes; None: no cap
    tmp_dir: Optional[str] = None  # the spool's parent ([fetch] tmp_dir); None: the system's
    keep: bool = False  # -k: leave the spool directory for inspection


def check_formats(options: ConvertOptions) -> None:
    """UsageError for a site list or --convert-to qemu-img cannot write."""
    for fmt in (*options.disk_formats, *([options.convert_to] if options.convert_to else [])):
        if fmt not in CONVERT_TO and fmt not in NEVER_CONVERTED:
            raise UsageError(f"disk format {fmt!r} cannot be a conversion target ({', '.join(CONVERT_TO)})")


def target_format(detected: str, options: ConvertOptions) -> Optional[str]:
    """The format to convert a ``detected`` disk to, or None to upload it as it is."""
    if detected in NEVER_CONVERTED:
        return None
    if options.convert_to:
        return None if options.convert_to == detected else options.convert_to
    if not options.disk_formats or detected in options.disk_formats:
        return None
    return next((f for f in options.disk_formats if f not in NEVER_CONVERTED), None)


def check_virtual_size(size: Optional[int], options: ConvertOptions, source: str) -> None:
    """Refuse an image whose virtual size is over ``[glance] max_virtual_size``."""
    cap = options.max_virtual_size
    if size is not None and cap is not None and size > cap:
        raise UnsafeImage(f"refused: {source}: virtual size {size} bytes is over [glance] max_virtual_size ({cap})")


def check_free_space(directory: str, need: int, what: str) -> None:
    """EnvironmentProblem unless ``directory``'s file system has ``need`` bytes (and a margin) free."""
    free = shutil.disk_usage(directory).free
    if free < need + MARGIN:
        raise EnvironmentProblem(f"not enough free space in {directory} for {what}: {need + MARGIN} bytes "
                                 f"needed, {free} free (set [fetch] tmp_dir to a larger file system)")


class Workspace:
    """A private directory for the spool and the converted image, removed on close unless kept."""

    def __init__(self, options: ConvertOptions) -> None:
        parent = options.tmp_dir or tempfile.gettempdir()
        try:
            self.path = tempfile.mkdtemp(prefix="glancing-convert-", dir=parent)
        except OSError as e:
            raise EnvironmentProblem(f"cannot create a spool directory in {parent}: {e.strerror or e}") from e
        self.keep = options.keep

    def file(self, name: str) -> str:
        """A path in the workspace; ``name`` is glancing's own (never a member or source name)."""
        return os.path.join(self.path, name)

    def close(self) -> None:
        if self.keep:
            log.info("kept the spooled and converted images in %s", self.path)
            return
        shutil.rmtree(self.path, ignore_errors=True)


def spool(chunks: Iterable[bytes], path: str) -> int:
    """Write ``chunks`` to a new file at ``path``; returns the bytes written."""
    written = 0
    try:
        with open(path, "xb") as out:
            written = _copy(chunks, out)
    except OSError as e:
        raise EnvironmentProblem(f"cannot spool the image to {os.path.dirname(path)}: {e.strerror or e}") from e
    return written


def _copy(chunks: Iterable[bytes], out: BinaryIO) -> int:
    written = 0
    for chunk in chunks:
        out.write(chunk)
        written += len(chunk)
    return written


def convert(src: str, src_format: str, dst: str, dst_format: str, virtual_size: Optional[int],
            source: str) -> None:
    """``qemu-img convert`` from ``src`` (``src_format``, Glance's name) to ``dst``; ConversionError
    naming ``source`` when qemu-img fails, EnvironmentProblem when it is missing."""
    cpu = probe.PROBE_CPU_SECONDS + (virtual_size or 0) // CPU_BYTES_PER_SECOND
    command = [probe.qemu_img(), "convert", "-q", "-f", probe.GLANCE_TO_QEMU.get(src_format, src_format),
               "-O", probe.GLANCE_TO_QEMU.get(dst_format, dst_format), "--", src, dst]
    try:
        done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace", timeout=cpu * 4,
                              preexec_fn=probe.qemu_limits(cpu), stdin=subprocess.DEVNULL, check=False,
                              cwd=os.path.dirname(src), env=QEMU_ENV)
    except subprocess.TimeoutExpired as e:
        raise ConversionError(f"qemu-img convert timed out on {source}") from e
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        detail = lines[-1] if lines else f"qemu-img exited {done.returncode}"
        detail = printable(detail.replace(src, source).replace(dst, f"the {dst_format} copy"))
        if done.returncode < 0:
            detail = f"killed by signal {-done.returncode} (resource limits: {cpu} s CPU, 1 GiB memory)"
        raise ConversionError(f"cannot convert {source} from {src_format} to {dst_format}: {detail}")
