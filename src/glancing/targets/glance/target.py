# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""GlanceTarget: the ``Target`` protocol over one Glance, and how glancing publishes there.

A staged upload is a private, hidden image under a temporary name, tagged ``glancing-pending``
and marked with the run that made it (owner, host, pid, start). Releasing it is ONE update (name,
visibility, properties, the marker removed); retiring the image it replaces is one more.
"""

from __future__ import annotations

import datetime as _dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from glancing.errors import GlanceError, UsageError
from glancing.retire.naming import backup_name
from glancing.retry import RetryPolicy
from glancing.targets import names
from glancing.targets.base import (Image, LeftoverPolicy, Limits, Payload, PayloadKind, Release, Staged,
                                   StageRequest, StoredCopy, UploadInterrupted, judge_leftover)
from glancing.targets.glance import importer
from glancing.targets.glance.store import GlanceStore, MemberStore, is_transient

log = logging.getLogger(__name__)

# Glance's image schema: names and property values up to 255 characters, these container formats.
LIMITS = Limits(name_max=255, property_key_max=255, property_value_max=255,
                container_formats=frozenset({"bare", "ovf", "aki", "ari", "ami", "ova", "docker", "compressed"}))
# Glance computes the md5 `checksum` and, with its default os_hash_algo, a sha512 of what it stores.
COMPUTES = ("md5", "sha512")


@dataclass(frozen=True)
class GlanceSettings:
    """The [glance] tunables a GlanceTarget takes."""

    retries: int = 3             # further attempts of an idempotent request on 5xx / lost connection
    backoff: float = 0.5         # first pause, doubled each time (jittered)
    discard_timeout: float = 120.0  # how long a discarded upload's DELETE is retried (5xx, 409)
    stores: Tuple[str, ...] = ()  # multi-store: upload to the first, Glance copies to the others
    import_timeout: float = 3600.0  # how long Glance's web-download / copy-image tasks are awaited

    def request_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.retries, backoff=self.backoff)

    def discard_policy(self) -> RetryPolicy:
        # Enough attempts that the deadline, not the count, ends the wait.
        return RetryPolicy(retries=64, backoff=self.backoff, max_pause=10.0, deadline=self.discard_timeout)


# Image attributes Glance keeps as integers (a property such as an OVF's memory hint sets them).
INTEGER_ATTRIBUTES = ("min_ram", "min_disk")


def _typed(properties: Dict[str, str]) -> Dict[str, Any]:
    """``properties`` with the integer attributes as numbers (Glance refuses "512" for min_ram);
    a value that is no whole number is left out rather than failing the release."""
    typed: Dict[str, Any] = dict(properties)
    for key in INTEGER_ATTRIBUTES:
        if key in typed:
            value = typed.pop(key)
            if value.isdigit():
                typed[key] = int(value)
            else:
                log.warning("ignoring %s=%r: not a whole number", key, value)
    return typed


def pending_name(name: str, limits: Limits = LIMITS) -> str:
    """The temporary name of a staged upload, cut to fit the name limit."""
    suffix = f" [glancing upload {uuid.uuid4().hex[:8]}]"
    return name[:limits.name_max - len(suffix)] + suffix


class GlanceTarget:
    """Glance behind the Target protocol; ``project`` scopes every listing (None: all visible)."""

    limits = LIMITS
    computes: Tuple[str, ...] = COMPUTES
    # A URL is fetched by Glance itself (web-download, see importer).
    accepts: FrozenSet[PayloadKind] = frozenset({PayloadKind.STREAM, PayloadKind.URL})

    def __init__(self, store: GlanceStore, project: Optional[str] = None,
                 discard_retry: RetryPolicy = GlanceSettings().discard_policy(),
                 stores: Sequence[str] = (), wait: importer.ImportWait = importer.ImportWait()) -> None:
        self.store, self.project, self.discard_retry = store, project, discard_retry
        self.members = MemberStore(store)
        self._holding: Set[str] = set()  # the uploads this process holds in quarantine
        self.stores, self.wait = tuple(stores), wait

    def _mine(self) -> Dict[str, Any]:
        # Without it a listing also returns other projects' public, shared and community images,
        # and every project's for an admin: never ours to retire, prune or adopt.
        return {"owner": self.project} if self.project else {}

    def current(self, name: str) -> List[Image]:
        return self.store.list({"name": name, **self._mine()})

    def managed(self) -> List[Image]:
        return self.store.list({"tag": [names.TAG_MANAGED], **self._mine()}, hidden=None)

    def with_digest(self, algorithm: str, value: str) -> List[Image]:
        if algorithm == "md5":
            return self.store.list({"checksum": value, **self._mine()}, hidden=None)
        found = self.store.list({"os_hash_value": value, **self._mine()}, hidden=None)
        return [i for i in found if i.get("os_hash_algo") in (None, algorithm)]

    def get(self, image_id: str) -> Image:
        return self.store.get(image_id)

    def stage(self, request: StageRequest, payload: Payload) -> Staged:
        if payload.kind not in self.accepts:
            raise UsageError(f"Glance takes an image as a byte stream or a URL, not a {payload.kind.value}")
        self.limits.check_name(request.name)
        image = self.store.create(
            name=pending_name(request.name, self.limits), disk_format=request.disk_format,
            container_format=request.container_format, visibility="private", os_hidden=True,
            tags=[names.TAG_MANAGED, names.TAG_PENDING], **request.mark.properties(request.name))
        staged = Staged(image["id"], image.get("name") or "")
        try:
            if payload.kind is PayloadKind.URL:
                importer.web_download(self.store, staged.id, str(payload.url), self.stores, self.wait)
            else:
                self.store.upload(staged.id, payload.stream, payload.size, store=self.stores[0] if self.stores else None)
                if self.stores[1:]:
                    # Published only once every store holds it: the copy is part of staging.
                    importer.copy_to(self.store, staged.id, self.stores[:1], self.stores[1:], self.wait)
        except BaseException as e:
            self.discard(staged.id)
            if isinstance(e, GlanceError) and is_transient(e):
                raise UploadInterrupted(str(e)) from e
            raise
        return staged

    def stored(self, staged: Staged) -> StoredCopy:
        image = self.store.get(staged.id)
        digests = {"md5": image.get("checksum")}
        if image.get("os_hash_algo"):
            digests[image["os_hash_algo"]] = image.get("os_hash_value")
        return StoredCopy(staged.id, str(image.get("status")), image.get("size"),
                          {alg: value for alg, value in digests.items() if value})

    def download(self, image_id: str) -> Iterator[bytes]:
        return self.store.download(image_id)

    def release(self, staged: Staged, release: Release) -> Image:
        self.limits.check_name(release.name)
        return self._release(staged, release, names.PENDING_PROPS,
                             self.member_ids(staged.id) if staged.id in self._holding else [])

    def release_rejected(self, image_id: str, release: Release) -> Image:
        """Release an image its checks rejected (a person's decision): no longer pending, and
        shared with no one yet."""
        now = self.store.get(image_id)
        return self._release(Staged(image_id, str(now.get("name") or "")), release,
                             [p for p in names.PENDING_PROPS if p in now], [])

    def _release(self, staged: Staged, release: Release, pending: Sequence[str], held: Sequence[str]) -> Image:
        visibility = "shared" if release.members and release.visibility == "private" else release.visibility
        image = self.store.update(staged.id, remove=pending, tags=[names.TAG_MANAGED],
                                  name=release.name, visibility=visibility, os_hidden=False,
                                  protected=release.protected, **_typed(self.limits.fit(release.properties)))
        for project in release.members:
            self.members.add(staged.id, project)
        for project in held:  # the quarantine's test project, unless it is a member by choice
            if project not in release.members:
                self.members.remove(staged.id, project)
        return image

    def hold(self, staged: Staged, test_project: Optional[str] = None) -> None:
        """Keep a staged upload in quarantine: still hidden, tagged, shared with no one but
        ``test_project`` (then its visibility is ``shared``, never public)."""
        self._holding.add(staged.id)
        extra = {"visibility": "shared"} if test_project else {}
        self.store.update(staged.id, tags=[names.TAG_MANAGED, names.TAG_PENDING, names.TAG_QUARANTINE], **extra)
        if test_project:
            self.members.add(staged.id, test_project)

    def reject(self, image_id: str, name: str, properties: Mapping[str, str]) -> Image:
        """A held upload failed a check: it stays hidden in quarantine for a person to look at,
        private and shared with no one (the test project loses it too), no longer pending (no
        later run removes it as a dead run's leftover)."""
        for project in self.member_ids(image_id):
            self.members.remove(image_id, project)
        return self.store.update(image_id, remove=names.PENDING_PROPS, visibility="private", os_hidden=True,
                                 tags=[names.TAG_MANAGED, names.TAG_QUARANTINE, names.TAG_REJECTED],
                                 **{names.PROP_QUARANTINE_NAME: name[:self.limits.property_value_max]},
                                 **self.limits.fit(properties))

    def deactivate(self, image_id: str) -> None:
        """Make an image's bytes unreadable (a person rejected it); the record stays."""
        self.store.deactivate(image_id)

    def member_ids(self, image_id: str) -> List[str]:
        """The projects an image is shared with (Glance keeps members for ``shared`` images only)."""
        if self.store.get(image_id).get("visibility") != "shared":
            return []
        return [m["member_id"] for m in self.members.list(image_id)]

    def retire(self, image: Mapping[str, Any], replaced_by: str, appliance: Optional[str] = None,
               when: Optional[_dt.datetime] = None) -> Image:
        """Rename, hide and tag as a backup, in one update; nothing is deleted: running VMs keep
        their image. The appliance it was current for is kept so its backups are found by it."""
        known_as = appliance or str(image.get(names.PROP_APPLIANCE) or image.get("name") or "")
        # Its members stay (their VMs and snapshots keep working); protection goes, so that it
        # can be pruned later.
        unprotect = {"protected": False} if image.get("protected") else {}
        return self.store.update(image["id"], name=backup_name(image)[:self.limits.name_max], os_hidden=True, **unprotect,
                                 tags=[*(image.get("tags") or ()), names.TAG_BACKUP],
                                 **{names.PROP_REPLACED_BY: replaced_by, names.PROP_RETIRED_AT: names.stamp(when),
                                    names.PROP_APPLIANCE: known_as})

    def adopt(self, image: Mapping[str, Any], name: str, properties: Mapping[str, str]) -> None:
        self.store.update(image["id"], name=name, tags=[*(image.get("tags") or ()), names.TAG_MANAGED],
                          **self.limits.fit(properties))

    def promote(self, image: Mapping[str, Any], name: str) -> None:
        stale = [p for p in names.BACKUP_PROPS if p in image]
        self.store.update(image["id"], remove=stale, name=name, os_hidden=False,
                          tags=[t for t in image.get("tags") or () if t != names.TAG_BACKUP])

    def annotate(self, image_id: str, properties: Mapping[str, str]) -> None:
        self.store.update(image_id, **self.limits.fit(properties))

    def expire(self, image: Mapping[str, Any], how: str, when: Optional[_dt.datetime] = None) -> Tuple[str, str]:
        try:
            if names.TAG_EXPIRED not in (image.get("tags") or ()) or not image.get("os_hidden"):
                self.store.update(image["id"], os_hidden=True, tags=[*(image.get("tags") or ()), names.TAG_EXPIRED],
                                  **{names.PROP_EXPIRED_AT: names.stamp(when)})
            if how == "delete":
                return self.prune(image["id"])
            if how == "deactivate" and image.get("status") != "deactivated":
                self.store.deactivate(image["id"])
        except GlanceError as e:
            return "failed", str(e)
        return ("deactivated" if how == "deactivate" else "hidden"), ""

    def prune(self, image_id: str) -> Tuple[str, str]:
        try:
            self.store.delete(image_id)
            return "deleted", ""
        except GlanceError as deleting:
            log.warning("could not delete %s (%s); deactivating it instead", image_id, deleting)
            try:
                self.store.deactivate(image_id)
            except GlanceError as deactivating:
                return "failed", f"{deleting}; then {deactivating}"
            return "deactivated", str(deleting)

    def discard(self, image_id: str) -> bool:
        if self.store.remove(image_id, self.discard_retry):
            return True
        log.error("could not remove the unfinished upload %s: it stays hidden and tagged %s; the next "
                  "glancing or glance_manager run of the same kind removes it once this run is over "
                  "(or: openstack image delete %s)", image_id, names.TAG_PENDING, image_id)
        return False

    def clean_leftovers(self, policy: LeftoverPolicy, images: Optional[Sequence[Mapping[str, Any]]] = None,
                        now: Optional[_dt.datetime] = None) -> List[Tuple[Image, str]]:
        when = now or _dt.datetime.now(_dt.timezone.utc)
        if images is None:
            images = self.store.list({"tag": [names.TAG_PENDING], **self._mine()}, hidden=True)
        judged: List[Tuple[Image, str]] = []
        for image in images:
            if names.TAG_PENDING not in (image.get("tags") or ()) or names.PROP_PENDING_NAME not in image:
                continue
            verdict = judge_leftover(image, policy, when)
            if verdict == "remove":
                try:
                    self.store.delete(image["id"])
                    verdict = "removed"
                    log.info("removed %s, an unfinished upload a dead %s run left behind", image["id"], policy.owner)
                except GlanceError as e:
                    verdict = f"failed: {e}"
            judged.append((dict(image), verdict))
        return judged
