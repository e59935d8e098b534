# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The real GlanceTarget on the lab (demo project), optionally through a proxy, and a way to
clean up only what one test made (other sessions share the lab's project)."""

from __future__ import annotations

from typing import Any, Iterable, List, Optional

from glancing.errors import GlanceError
from glancing.retry import RetryPolicy
from glancing.targets.glance import GlanceStore, GlanceTarget


class RecordingStore(GlanceStore):
    """A GlanceStore that remembers the id of every image it created."""

    def __init__(self, client: Any, retry: RetryPolicy) -> None:
        super().__init__(client, retry)
        self.created: List[str] = []

    def create(self, **fields: Any) -> dict:
        image = super().create(**fields)
        self.created.append(image["id"])
        return image


def lab_target(lab: Any, endpoint: Optional[str] = None, discard_deadline: float = 30.0) -> GlanceTarget:
    """A GlanceTarget as the demo user; ``endpoint`` overrides the catalog's Glance URL."""
    from glanceclient import Client

    session = lab.glance().http_client.session
    client = Client("2", session=session, endpoint=endpoint) if endpoint else Client("2", session=session)
    store = RecordingStore(client, RetryPolicy(retries=4, backoff=0.2))
    discard = RetryPolicy(retries=64, backoff=0.1, max_pause=1.0, deadline=discard_deadline)
    return GlanceTarget(store, store.project_id(), discard)


def exists(admin: Any, image_id: str) -> bool:
    """True while Glance still has the image, deleted ones aside (asked as admin)."""
    from glanceclient import exc

    try:
        return admin.images.get(image_id)["status"] not in ("deleted", "pending_delete")
    except exc.HTTPNotFound:
        return False


def remove(admin: Any, ids: Iterable[str]) -> None:
    """Delete the images a test made, whatever state they are in."""
    from glanceclient import exc

    for image_id in ids:
        try:
            admin.images.delete(image_id)
        except (exc.HTTPNotFound, exc.HTTPBadRequest, GlanceError):
            pass
