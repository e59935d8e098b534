# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A person's side of the quarantine: what waits or was rejected, release one anyway, reject one
for good (``glance_manager quarantine``, ``release ID [--force]``, ``reject ID``).

A rejected image stays hidden, private and unshared, and keeps its record's properties: while it
is there, ``glance_manager`` does not import the same record (marketplace ID) or the same bytes
again (``manager.plan``). ``release --force`` publishes it despite the failed checks, with the
usual swap (the current image retired as a backup, its members carried over). ``reject`` is the
final word: the image is deactivated (its bytes unreadable) and marked as a person's rejection;
it stays as the record that this image is not wanted.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping

from glancing.errors import UsageError
from glancing.targets import names
from glancing.targets.base import Release

log = logging.getLogger(__name__)

PROP_DECIDED = "glancing_quarantine_decided"  # "released" | "rejected", by a person, with when


@dataclass(frozen=True)
class Waiting:
    """One quarantined image, as ``glance_manager quarantine`` lists it."""

    id: str
    name: str
    state: str  # "rejected" | "held" (a run is checking it, or died doing so)
    failed: str
    since: str

    def to_dict(self) -> Dict[str, str]:
        return {"id": self.id, "name": self.name, "state": self.state, "failed": self.failed, "since": self.since}


def _name(image: Mapping[str, Any]) -> str:
    return str(image.get(names.PROP_QUARANTINE_NAME) or image.get(names.PROP_PENDING_NAME) or image.get("name") or "")


def waiting(target: Any) -> List[Waiting]:
    """The images in quarantine (held or rejected), oldest first."""
    found = [i for i in target.managed() if names.TAG_QUARANTINE in (i.get("tags") or ())]
    found.sort(key=lambda i: (str(i.get("created_at") or ""), i["id"]))
    return [Waiting(i["id"], _name(i), "rejected" if names.TAG_REJECTED in i["tags"] else "held",
                    str(i.get(names.PROP_REJECTED_CHECKS) or ""), str(i.get(names.PROP_REJECTED_AT)
                                                                  or i.get("created_at") or ""))
            for i in found]


def _quarantined(target: Any, image_id: str) -> Dict[str, Any]:
    image = dict(target.get(image_id))
    if names.TAG_QUARANTINE not in (image.get("tags") or ()):
        raise UsageError(f"image {image_id} is not in quarantine (see glance_manager quarantine)")
    return image


def release(target: Any, image_id: str, force: bool, when: _dt.datetime) -> str:
    """Publish a quarantined image under the name it waited for; the current image of that
    name is retired as a backup. A rejected image needs ``force``; a held one whose run is
    still alive is never taken from it."""
    image = _quarantined(target, image_id)
    if names.TAG_REJECTED in image["tags"] and not force:
        raise UsageError(f"image {image_id} failed {image.get(names.PROP_REJECTED_CHECKS) or 'its checks'}: "
                         "release it anyway with --force")
    if names.TAG_REJECTED not in image["tags"]:
        raise UsageError(f"image {image_id} is still being checked by a run; wait for its verdict")
    name = _name(image)
    old = [i for i in target.current(name) if i["id"] != image_id]
    members = tuple(target.member_ids(old[0]["id"])) if old else ()
    visibility = str(old[0].get("visibility") or "private") if old else "private"
    target.release_rejected(image_id, Release(name, visibility, {
        PROP_DECIDED: f"released by a person {names.stamp(when)}"}, members))
    for previous in old:
        target.retire(previous, image_id, when=when)
    log.info("released %s as %s despite %s", image_id, name, image.get(names.PROP_REJECTED_CHECKS))
    return f"released {image_id} as {name!r}" + (f", retired {', '.join(i['id'] for i in old)}" if old else "")


def reject(target: Any, image_id: str, when: _dt.datetime) -> str:
    """A person's final rejection: deactivated, marked, kept so the record is not imported again."""
    image = _quarantined(target, image_id)
    decided = {PROP_DECIDED: f"rejected by a person {names.stamp(when)}"}
    if names.TAG_REJECTED in image["tags"]:
        target.annotate(image_id, decided)
    else:  # held by a run that died before its verdict
        target.reject(image_id, _name(image), decided)
    if image.get("status") == "active":
        target.deactivate(image_id)
    return f"rejected {image_id} ({_name(image)}): deactivated, kept so that it is not imported again"


__all__ = ["PROP_DECIDED", "Waiting", "reject", "release", "waiting"]
