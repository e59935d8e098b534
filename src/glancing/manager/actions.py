# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The manager's steps that the import pipeline does not take (adopt, promote, roll back, prune),
as calls on the target. Every failure but a prune's is a GlanceError from the target."""

from __future__ import annotations

import datetime as _dt
import logging
from typing import Any, Dict, Mapping, Optional

from glancing.manager.plan import Candidate
from glancing.manager.report import PruneOutcome
from glancing.targets import names
from glancing.targets.base import Target

log = logging.getLogger(__name__)


def record_properties(candidate: Candidate) -> Dict[str, str]:
    """The properties that tie an image to its record: mpid, version, endorsement date, appliance."""
    props = {names.PROP_MPID: candidate.mpid, names.PROP_APPLIANCE: candidate.appliance}
    if candidate.version:
        props[names.PROP_VERSION] = candidate.version
    if candidate.endorsed:
        props[names.PROP_ENDORSED] = names.stamp(candidate.endorsed)
    return props


def adopt(target: Target, image: Mapping[str, Any], candidate: Candidate) -> None:
    """Make a hand-uploaded image the managed current image of ``candidate``'s appliance."""
    target.adopt(image, candidate.appliance, record_properties(candidate))


def promote(target: Target, image: Mapping[str, Any], appliance: str) -> None:
    """Make a backup current again: its appliance name, visible, no backup tag or properties."""
    target.promote(image, appliance)


def retire_as_backup(target: Target, image: Mapping[str, Any], replaced_by: str, appliance: str) -> None:
    """Retire ``image`` (renamed, hidden, tagged, still active) as a backup of ``appliance``."""
    target.retire(image, replaced_by, appliance)


def mark_rolled_back(target: Target, image_id: str, when: Optional[_dt.datetime] = None) -> None:
    """Flag a demoted image so later runs do not reinstate it by themselves."""
    target.annotate(image_id, {names.PROP_ROLLED_BACK: names.stamp(when)})


def prune(target: Target, image_id: str, appliance: str) -> PruneOutcome:
    """Delete an old backup; when the target refuses (e.g. in use), deactivate it instead. Raises nothing."""
    result, why = target.prune(image_id)
    return PruneOutcome(image_id, appliance, result, why)
