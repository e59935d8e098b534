# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``-b DIR``: a local copy of an image before it is retired, checked against the digests the target stored."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from typing import Any, Mapping

from glancing.errors import GlanceError, UsageError
from glancing.targets.base import Target

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def prepare_dir(path: str) -> str:
    """Create ``path`` as a 0700 directory, or check that an existing one is ours and private."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as e:
        raise UsageError(f"backup directory {path}: {e.strerror}") from e
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"backup directory {path} is not a directory")
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UsageError(f"backup directory {path} must be owned by you and not accessible to others (chmod 700)")
    return path


def backup_filename(image: Mapping[str, Any]) -> str:
    """A file name from the image name that cannot leave the directory (no '/', no '..')."""
    name = _UNSAFE.sub("_", str(image.get("name") or "image")).strip("._") or "image"
    return f"{name[:100]}-{image['id']}.{image.get('disk_format') or 'img'}"


def download(target: Target, image: Mapping[str, Any], directory: str) -> str:
    """Download ``image`` into ``directory``; the file is removed unless it matches Glance's digests."""
    path = os.path.join(prepare_dir(directory), backup_filename(image))
    md5 = hashlib.md5()
    algo = image.get("os_hash_algo")
    other = hashlib.new(algo) if algo in hashlib.algorithms_available else None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError as e:
        raise UsageError(f"backup file {path} already exists; not overwriting it") from e
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in target.download(image["id"]):
                out.write(chunk)
                md5.update(chunk)
                if other is not None:
                    other.update(chunk)
        if image.get("checksum") and md5.hexdigest() != image["checksum"]:
            raise GlanceError(f"backup of {image['id']} does not match its Glance checksum")
        if other is not None and image.get("os_hash_value") and other.hexdigest() != image["os_hash_value"]:
            raise GlanceError(f"backup of {image['id']} does not match its Glance {algo}")
    except BaseException:
        os.unlink(path)
        raise
    return path
