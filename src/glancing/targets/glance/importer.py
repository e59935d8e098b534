# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Glance moves the bytes: web-download (Glance fetches a URL) and copy-image (Glance copies an
image to more stores), and the bounded wait for the import tasks behind them.

Glance runs an import as a task in the background; the image says how it is going
(``status``, ``stores``, ``os_glance_importing_to_stores``, ``os_glance_failed_import``) and
the task, once it failed, says why. The wait polls the image under a ``RetryPolicy`` whose
deadline is ``[glance] import_timeout``, so it can never run forever, and its clock and sleep
are injected (tests do not wait).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from glancing.errors import GlanceError, UsageError
from glancing.retry import RetryPolicy
from glancing.targets.glance.store import GlanceStore, status_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportWait:
    """How long, and how often, to look at an image Glance is importing."""

    timeout: float = 3600.0  # [glance] import_timeout
    poll: float = 0.5        # first pause between looks, doubled up to max_poll
    max_poll: float = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def policy(self) -> RetryPolicy:
        # Enough looks that the deadline, not the count, ends the wait.
        return RetryPolicy(retries=1 << 20, backoff=self.poll, max_pause=self.max_poll, jitter=False,
                           deadline=self.timeout, sleep=self.sleep, clock=self.clock)


class _NotYet(Exception):
    """The import is still running (what the wait's RetryPolicy retries on)."""


def _listed(value: Any) -> List[str]:
    return [s.strip() for s in str(value or "").split(",") if s.strip()]


def check_stores(store: GlanceStore, wanted: Sequence[str]) -> None:
    """UsageError unless Glance has every store in ``wanted`` (before anything is read or sent)."""
    if not wanted:
        return
    if len(set(wanted)) != len(wanted):
        raise UsageError(f"--stores names a store twice: {', '.join(wanted)}")
    known = [str(s.get("id")) for s in store.stores()]
    if not known:
        raise UsageError("--stores: this Glance has no multi-store backends (GET /v2/info/stores lists none)")
    missing = [s for s in wanted if s not in known]
    if missing:
        raise UsageError(f"--stores: Glance has no store {', '.join(missing)}; it has {', '.join(known)}")


def task_error(store: GlanceStore, image_id: str) -> Optional[str]:
    """The message of the newest failed import task of the image, None when none failed."""
    try:
        tasks = store.tasks(image_id)
    except GlanceError as e:
        return f"(its tasks could not be read: {e})"
    failed = [t for t in tasks if t.get("status") == "failure"]
    failed.sort(key=lambda t: str(t.get("updated_at") or t.get("created_at") or ""), reverse=True)
    if not failed:
        return None
    message = str(failed[0].get("message") or "no message").strip().splitlines()
    return message[0] if message else "no message"


def _verdict(image: Mapping[str, Any], wanted: Sequence[str]) -> Optional[str]:
    """"done", "failed: why", or None while the import runs."""
    status = image.get("status")
    failed = [s for s in _listed(image.get("os_glance_failed_import")) if not wanted or s in wanted]
    if failed:
        return f"failed: Glance could not import it into store {', '.join(failed)}"
    if status in ("killed", "deleted", "pending_delete", "deactivated"):
        return f"failed: the image became {status}"
    held = _listed(image.get("stores"))
    if status == "active" and all(s in held for s in wanted):
        return "done"
    if status == "queued" and not _listed(image.get("os_glance_importing_to_stores")) and not wanted:
        # A single-store web-download that failed sends the image back to queued.
        return "maybe-failed"
    return None


def wait_for(store: GlanceStore, image_id: str, wanted: Sequence[str], what: str, wait: ImportWait) -> Dict[str, Any]:
    """Poll the image until its import is done (active, and held by every store in ``wanted``);
    GlanceError with Glance's task error when it failed, or when ``wait.timeout`` passed."""
    def look() -> Dict[str, Any]:
        image = store.get(image_id)
        verdict = _verdict(image, wanted)
        if verdict == "done":
            return image
        if verdict == "maybe-failed" or (verdict is None and image.get("status") == "queued"):
            why = task_error(store, image_id)
            if why is not None:
                raise GlanceError(f"{what} of image {image_id} failed: {why}")
        if verdict is not None and verdict.startswith("failed"):
            why = task_error(store, image_id)
            raise GlanceError(f"{what} of image {image_id} {verdict}" + (f": {why}" if why else ""))
        raise _NotYet(f"{what} of image {image_id} is still running (status {image.get('status')})")

    try:
        return wait.policy().call(look, lambda e: isinstance(e, _NotYet), what, on_retry=_quiet)
    except _NotYet:
        raise GlanceError(f"{what} of image {image_id} did not finish within {wait.timeout:g} s "
                          "([glance] import_timeout)") from None


def _quiet(error: BaseException, pause: float) -> None:
    log.debug("%s; looking again in %.1f s", error, pause)


def web_download(store: GlanceStore, image_id: str, url: str, stores: Sequence[str], wait: ImportWait) -> Dict[str, Any]:
    """Glance fetches ``url`` into the (queued) image, into every store of ``stores`` at once
    (none: its default store)."""
    store.start_import(image_id, "web-download", uri=url, stores=stores)
    log.info("Glance is downloading %s into %s", url, image_id)
    return wait_for(store, image_id, list(stores), "the web-download", wait)


def copy_to(store: GlanceStore, image_id: str, held: Sequence[str], more: Sequence[str],
            wait: ImportWait) -> Dict[str, Any]:
    """Glance copies the active image, held by ``held``, to every store of ``more`` (copy-image)."""
    def start() -> None:
        store.start_import(image_id, "copy-image", stores=more)

    # 409 "Image has active task": the task that made the image active may still hold its lock.
    try:
        wait.policy().call(start, lambda e: status_of(e) == 409, "start copy-image", on_retry=_quiet)
    except GlanceError as e:
        if status_of(e) == 403:
            raise GlanceError(f"{e} (Glance's default policy lets only admins copy images between stores: "
                              "use an admin cloud entry, or change the copy_image policy)") from e
        raise
    log.info("Glance is copying %s to store %s", image_id, ", ".join(more))
    return wait_for(store, image_id, [*held, *more], "the copy to store " + ", ".join(more), wait)


__all__ = ["ImportWait", "check_stores", "copy_to", "task_error", "wait_for", "web_download"]
