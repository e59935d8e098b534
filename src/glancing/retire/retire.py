# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Retiring a replaced image: it stays in Glance, active, renamed, hidden and tagged as a backup.

Running VMs keep their image, and a rollback is a rename away. Nothing here deletes.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Mapping, Optional

from glancing.publish.glance import BACKUP_TAG, GlanceStore


def backup_name(image: Mapping[str, Any]) -> str:
    """``<name> (<version>)``, or ``<name> (<creation date>)`` when the image has no version."""
    label = str(image.get("version") or "").strip() or str(image.get("created_at") or "")[:10] or image["id"][:8]
    return f"{image.get('name') or image['id']} ({label})"


def retire(store: GlanceStore, image: Mapping[str, Any], replaced_by: str,
           now: Optional[_dt.datetime] = None) -> Dict[str, Any]:
    """Rename, hide and tag ``image`` as the backup of ``replaced_by``; returns the updated image."""
    when = (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # glancing_appliance keeps the name the image was known by, so backups are found by it.
    return store.update(image["id"], name=backup_name(image), os_hidden=True,
                        tags=[*image.get("tags", ()), BACKUP_TAG],
                        glancing_replaced_by=replaced_by, glancing_retired_at=when,
                        glancing_appliance=str(image.get("glancing_appliance") or image.get("name") or ""))
