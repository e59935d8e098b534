# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Small Linux-like disk images for the quarantine tests: a Debian-12-like root tree written
into an ext4 file system with ``mkfs.ext4 -d`` (milliseconds, no appliance launch: the one
libguestfs launch per image is the inspection under test), then converted to qcow2 by qemu-img."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Mapping

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
LOCKED_SHADOW = "root:*:19000:0:99999:7:::\ndebian:!:19000:0:99999:7:::\n"
# A made-up SHA-512 crypt string: any usable hash form is what the check must see.
PASSWORD_SHADOW = "root:$6$saltsalt$Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4:19000:0:99999:7:::\ndebian:!:19000:0:99999:7:::\n"


def linux_tree(root: Path, extra: Mapping[str, str] = {}, cloud_init: bool = True) -> Path:
    """A root tree libguestfs recognises as Debian 12.5 x86_64; ``extra`` adds or replaces files."""
    for d in ("etc/ssh", "bin", "usr/bin", "sbin", "root", "home/debian", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    files = {"etc/os-release": OS_RELEASE, "etc/debian_version": "12.5\n",
             "etc/fstab": "/dev/sda / ext4 defaults 0 1\n",
             "etc/passwd": "root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000::/home/debian:/bin/bash\n",
             "etc/shadow": LOCKED_SHADOW, **extra}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    shutil.copy("/bin/ls", root / "bin" / "ls")  # an x86_64 binary: libguestfs reads the architecture from it
    if cloud_init:
        shutil.copy("/bin/true", root / "usr" / "bin" / "cloud-init")
    return root


def qcow2_of(tree: Path, out: Path, size_mb: int = 32) -> Path:
    """``tree`` as an ext4 file system in a qcow2 image."""
    raw = out.with_suffix(".raw")
    with open(raw, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tree), str(raw)], check=True)
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(out)], check=True)
    raw.unlink()
    return out
