# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager status``: the managed images as rows (appliance, version, mpid, state, age)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from glancing.manager.images import ManagedImage, Snapshot


@dataclass(frozen=True)
class StatusRow:
    """One managed image, as ``status`` shows it."""

    appliance: str
    version: str
    mpid: str
    state: str  # "current", "backup", "rolled-back"; with the Glance status when not active
    age: str
    image_id: str
    name: str

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def human_age(created: Optional[_dt.datetime], now: _dt.datetime) -> str:
    """``3d``, ``5h``, ``12m``; ``?`` when unknown."""
    if created is None:
        return "?"
    seconds = max(int((now - created).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _state(image: ManagedImage) -> str:
    state = "rolled-back" if image.rolled_back else "backup" if image.is_backup else "current"
    if image.is_backup is False and image.hidden:
        state = "current, hidden"
    return state if image.status == "active" else f"{state} ({image.status})"


def status_rows(snapshot: Snapshot, now: Optional[_dt.datetime] = None) -> List[StatusRow]:
    """Rows by appliance name, current image first, then backups newest first."""
    when = now or _dt.datetime.now(_dt.timezone.utc)
    rows = []
    for group in snapshot.appliances():
        for image in list(group.current) + list(reversed(group.backups)):
            rows.append(StatusRow(group.name, image.version or "-", image.mpid or "-", _state(image),
                                  human_age(image.created_at, when), image.id, image.name))
    return rows


def format_status(rows: List[StatusRow]) -> str:
    """An aligned text table with a header; a one-line note when nothing is managed."""
    if not rows:
        return "no image managed by glancing (tag 'glancing') in this project"
    header = ("APPLIANCE", "VERSION", "MPID", "STATE", "AGE", "IMAGE ID")
    table = [header] + [(r.appliance, r.version, r.mpid, r.state, r.age, r.image_id) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table)
