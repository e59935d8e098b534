# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Backups of an appliance: how a retired image is named, which backups a run prunes, and which
backup a rollback promotes. Pure functions over ``ManagedImage``."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from glancing.errors import UsageError
from glancing.manager.images import ManagedImage, Snapshot

_EPOCH = _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)


def _age_key(image: ManagedImage) -> Tuple[_dt.datetime, str]:
    return (image.created_at or _EPOCH, image.id)


def plan_retention(
    backups: Sequence[ManagedImage], keep: int, run_had_failures: bool
) -> Tuple[List[ManagedImage], List[ManagedImage]]:
    """Split one appliance's backups into ``(kept, deleted)``, both oldest first.

    The newest ``keep`` backups (by Glance creation time) are kept, older ones deleted. In a run
    where any image failed nothing is deleted: pruning waits for a clean run. Raises UsageError
    when ``keep`` is negative.
    """
    if keep < 0:
        raise UsageError(f"--keep must be 0 or more, not {keep}")
    ordered = sorted(backups, key=_age_key)
    if run_had_failures:
        return ordered, []
    cut = max(len(ordered) - keep, 0)
    return ordered[cut:], ordered[:cut]


@dataclass(frozen=True)
class RollbackPlan:
    """Make ``promote`` (a backup) current again and keep ``demote`` (the current) as a backup."""

    appliance: str
    promote: ManagedImage
    demote: Optional[ManagedImage]


def plan_rollback(snapshot: Snapshot, appliance: str) -> RollbackPlan:
    """Choose the backup ``glance_manager rollback APPLIANCE`` promotes: the newest active backup
    that was not itself rolled back from.

    Raises UsageError when the appliance is not managed, has several current images, or has no
    backup to promote.
    """
    group = snapshot.appliance(appliance)
    if not group.current and not group.backups:
        known = ", ".join(a.name for a in snapshot.appliances()) or "none"
        raise UsageError(f"no managed appliance named {appliance!r} (managed: {known})")
    if len(group.current) > 1:
        ids = ", ".join(i.id for i in group.current)
        raise UsageError(f"appliance {appliance!r} has several current images ({ids}); keep one by hand")
    usable = [b for b in group.backups if b.status == "active" and not b.rolled_back]
    if not usable:
        raise UsageError(f"appliance {appliance!r} has no active backup to roll back to")
    promote = max(usable, key=_age_key)
    return RollbackPlan(appliance, promote, group.current[0] if group.current else None)
