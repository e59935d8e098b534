# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The name a retired image keeps: running VMs keep their image, and a rollback is a rename away."""

from __future__ import annotations

from typing import Any, Mapping


def backup_name(image: Mapping[str, Any]) -> str:
    """``<name> (<version>)``, or ``<name> (<creation date>)`` when the image has no version."""
    label = str(image.get("version") or "").strip() or str(image.get("created_at") or "")[:10] or image["id"][:8]
    return f"{image.get('name') or image['id']} ({label})"
