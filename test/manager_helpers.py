# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Small builders shared by the glance_manager unit tests (plain data, no Glance)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Dict

from glancing.manager.images import ManagedImage, from_glance

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def mpid(seed: str) -> str:
    """A valid marketplace ID: the 27-digit base64url encoding of SHA-1(seed) (formats.md 1.3)."""
    number = int(hashlib.sha1(seed.encode()).hexdigest(), 16)
    digits = []
    for _ in range(27):
        number, digit = divmod(number, 64)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def when(day: int, hour: int = 0) -> dt.datetime:
    """2024-01-<day> <hour>:00 UTC."""
    return dt.datetime(2024, 1, day, hour, tzinfo=dt.timezone.utc)


def glance_dict(image_id: str, name: str, **extra: Any) -> Dict[str, Any]:
    """A Glance v2 image dict as glanceclient returns it, managed by glancing."""
    image: Dict[str, Any] = {
        "id": image_id, "name": name, "status": "active", "os_hidden": False,
        "tags": ["glancing"], "checksum": None, "os_hash_algo": "sha512", "os_hash_value": None,
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "size": 1024, "visibility": "private", "disk_format": "qcow2", "container_format": "bare",
    }
    image.update(extra)
    return image


def image(image_id: str, name: str, **extra: Any) -> ManagedImage:
    """A ManagedImage built through from_glance, like the store will build it."""
    return from_glance(glance_dict(image_id, name, **extra))


def backup(image_id: str, title: str, version: str, day: int, **extra: Any) -> ManagedImage:
    """A retired image of appliance ``title``, renamed ``title (version)``, hidden and tagged."""
    fields: Dict[str, Any] = {
        "tags": ["glancing", "glancing-backup"], "os_hidden": True, "version": version,
        "created_at": when(day).strftime("%Y-%m-%dT%H:%M:%SZ"), "glancing_replaced_by": "someone",
    }
    fields.update(extra)
    return image(image_id, f"{title} ({version})", **fields)
