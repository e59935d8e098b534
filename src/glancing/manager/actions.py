# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Carrying out the manager's Glance-side steps that the import pipeline does not: adopting an
image, promoting a backup, rolling back, pruning. Every failure is a GlanceError from the store."""

from __future__ import annotations

import datetime as _dt
import logging
from typing import Any, Dict, Mapping, Optional

from glancing.errors import GlanceError
from glancing.manager.images import PROP_APPLIANCE, PROP_ENDORSED, PROP_MPID, PROP_ROLLED_BACK, PROP_VERSION
from glancing.manager.plan import Candidate
from glancing.manager.report import PruneOutcome
from glancing.publish.glance import BACKUP_TAG, MANAGED_TAG, GlanceStore
from glancing.retire.retire import retire

log = logging.getLogger(__name__)

# Properties a backup carries that a current image must not.
_BACKUP_PROPS = ("glancing_replaced_by", "glancing_retired_at", PROP_ROLLED_BACK)


def _stamp(when: Optional[_dt.datetime] = None) -> str:
    return (when or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_properties(candidate: Candidate) -> Dict[str, str]:
    """The properties that tie an image to its record: mpid, version, endorsement date, appliance."""
    props = {PROP_MPID: candidate.mpid, PROP_APPLIANCE: candidate.appliance}
    if candidate.version:
        props[PROP_VERSION] = candidate.version
    if candidate.endorsed:
        props[PROP_ENDORSED] = _stamp(candidate.endorsed)
    return props


def adopt(store: GlanceStore, image: Mapping[str, Any], candidate: Candidate) -> None:
    """Make a hand-uploaded image the managed current image of ``candidate``'s appliance."""
    store.update(image["id"], name=candidate.appliance, tags=[*(image.get("tags") or ()), MANAGED_TAG],
                 **record_properties(candidate))


def promote(store: GlanceStore, image: Mapping[str, Any], appliance: str) -> None:
    """Make a backup current again: its appliance name, visible, no backup tag or properties."""
    stale = [p for p in _BACKUP_PROPS if p in image]
    store.update(image["id"], remove=stale, name=appliance, os_hidden=False,
                 tags=[t for t in image.get("tags") or () if t != BACKUP_TAG])


def retire_as_backup(store: GlanceStore, image: Mapping[str, Any], replaced_by: str, appliance: str) -> None:
    """Retire ``image`` (renamed, hidden, tagged, still active), remembering its appliance."""
    retire(store, image, replaced_by)
    # retire() records the image's own glancing_appliance, else its name; correct it only when
    # that is not the appliance (a current image an admin renamed).
    if str(image.get(PROP_APPLIANCE) or image.get("name") or "") != appliance:
        store.update(image["id"], **{PROP_APPLIANCE: appliance})


def mark_rolled_back(store: GlanceStore, image_id: str) -> None:
    """Flag a demoted image so later runs do not reinstate it by themselves."""
    store.update(image_id, **{PROP_ROLLED_BACK: _stamp()})


def prune(store: GlanceStore, image_id: str, appliance: str) -> PruneOutcome:
    """Delete an old backup; when Glance refuses (e.g. in use), deactivate it instead. Raises nothing."""
    try:
        store.delete(image_id)
        return PruneOutcome(image_id, appliance, "deleted")
    except GlanceError as deleting:
        log.warning("could not delete backup %s of %s (%s); deactivating it instead", image_id, appliance, deleting)
        try:
            store.deactivate(image_id)
        except GlanceError as deactivating:
            return PruneOutcome(image_id, appliance, "failed", f"{deleting}; then {deactivating}")
        return PruneOutcome(image_id, appliance, "deactivated", str(deleting))
