# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Retrying the Glance calls of a run that fail transiently: HTTP 500/502/503/504 or a lost
connection (a database deadlock under parallel writes, a restarting API behind a balancer, a
keep-alive connection the server closed). A cron run should not fail an image for a blip.

Uploads are never retried here (the stream is consumed); the runner retries a whole image once.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar

from glancing.errors import GlanceError
from glancing.publish.glance import GlanceStore

log = logging.getLogger(__name__)

T = TypeVar("T")
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


def _status(error: BaseException) -> Optional[int]:
    code = getattr(error, "code", None) or getattr(error, "http_status", None)
    return code if isinstance(code, int) else None


def is_transient(error: GlanceError) -> bool:
    """True when the Glance request behind ``error`` may succeed if sent again. Raises nothing."""
    import glanceclient.exc
    import keystoneauth1.exceptions as ksa

    cause = error.__cause__
    if cause is None:
        return False
    status = _status(cause)
    if status is not None:
        return status in _TRANSIENT_STATUS
    return isinstance(cause, (ksa.ConnectFailure, ksa.ConnectionError, glanceclient.exc.CommunicationError))


def is_not_found(error: GlanceError) -> bool:
    """True when Glance answered 404."""
    return error.__cause__ is not None and _status(error.__cause__) == 404


class RetryingStore:
    """A GlanceStore whose idempotent calls are retried on transient failures.

    ``create`` is retried too: a create that succeeded but lost its answer leaves a hidden
    pending upload owned by glance_manager, which the next run deletes.
    """

    def __init__(self, store: GlanceStore, attempts: int = 4, pause: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._store, self._attempts, self._pause, self._sleep = store, attempts, pause, sleep

    def _call(self, what: str, call: Callable[[], T], gone_is_done: bool = False) -> Optional[T]:
        for attempt in range(1, self._attempts + 1):
            try:
                return call()
            except GlanceError as e:
                # A 404 after a lost answer: the earlier attempt did it (delete, untag).
                if gone_is_done and attempt > 1 and is_not_found(e):
                    return None
                if attempt == self._attempts or not is_transient(e):
                    raise
                # Jitter: parallel jobs that collided must not collide again in step.
                pause = self._pause * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
                log.warning("%s: %s; retrying in %.1f s", what, e, pause)
                self._sleep(pause)
        raise AssertionError("unreachable")

    def list(self, filters: Optional[Mapping[str, Any]] = None, hidden: Optional[bool] = False) -> List[Dict[str, Any]]:
        return self._call("list images", lambda: self._store.list(filters, hidden=hidden))

    def get(self, image_id: str) -> Dict[str, Any]:
        return self._call(f"show {image_id}", lambda: self._store.get(image_id))

    def create(self, **fields: Any) -> Dict[str, Any]:
        return self._call("create an image", lambda: self._store.create(**fields))

    def upload(self, image_id: str, data: Any, size: Optional[int] = None) -> None:
        self._store.upload(image_id, data, size)

    def update(self, image_id: str, remove: Sequence[str] = (), **fields: Any) -> Dict[str, Any]:
        return self._call(f"update {image_id}", lambda: self._store.update(image_id, remove, **fields))

    def add_tag(self, image_id: str, tag: str) -> None:
        self._call(f"tag {image_id}", lambda: self._store.add_tag(image_id, tag))

    def remove_tag(self, image_id: str, tag: str) -> None:
        self._call(f"untag {image_id}", lambda: self._store.remove_tag(image_id, tag), gone_is_done=True)

    def delete(self, image_id: str) -> None:
        try:
            self._call(f"delete {image_id}", lambda: self._store.delete(image_id), gone_is_done=True)
        except GlanceError:
            # A delete can be applied although its answer was an error (then a retry gets 400
            # "deleted to deleted"): what counts is whether the image is gone.
            if not self._gone(image_id):
                raise

    def _gone(self, image_id: str) -> bool:
        try:
            return self._store.get(image_id).get("status") in ("deleted", "pending_delete")
        except GlanceError as e:
            return is_not_found(e)

    def deactivate(self, image_id: str) -> None:
        self._call(f"deactivate {image_id}", lambda: self._store.deactivate(image_id))

    def reactivate(self, image_id: str) -> None:
        self._call(f"reactivate {image_id}", lambda: self._store.reactivate(image_id))

    def download(self, image_id: str) -> Iterator[bytes]:
        return self._store.download(image_id)

    def discard(self, image_id: str) -> None:
        """Delete an unpublished upload; a failure is logged (the next run removes it)."""
        try:
            self.delete(image_id)
        except GlanceError as e:
            log.error("could not remove the unfinished upload %s: %s (the next run removes it)", image_id, e)
