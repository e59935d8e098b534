# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""FakeTarget: the one in-memory Target for unit tests. test_target_contract.py runs the same
cases against it and against the real Glance of the lab, so it cannot drift from Glance.

It keeps image dicts in Glance v2 shape. ``changes`` records what a caller asked it to change
(the test's view of the caller, not a count of anybody's requests).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from glancing.errors import GlanceError
from glancing.retire.naming import backup_name
from glancing.targets import names
from glancing.targets.base import (Image, LeftoverPolicy, Payload, PayloadKind, Release, Staged, StageRequest,
                                   StoredCopy, UploadInterrupted, judge_leftover)
from glancing.targets.glance.target import COMPUTES, LIMITS, pending_name


class FakeTarget:
    """Just enough of a target, in memory; knobs: ``refuse_delete``, ``interrupt_uploads``
    (that many uploads fail transiently), ``hash_algo`` (what it stores as os_hash_algo),
    ``corrupt`` (it stores one byte changed)."""

    limits = LIMITS
    computes = COMPUTES
    accepts = frozenset({PayloadKind.STREAM})

    def __init__(self, *images: Mapping[str, Any], project: Optional[str] = None) -> None:
        self.images: Dict[str, Dict[str, Any]] = {i["id"]: copy.deepcopy(dict(i)) for i in images}
        self.data: Dict[str, bytes] = {}
        self.project = project
        self.changes: List[Tuple[str, str]] = []
        self.refuse_delete = False
        self.interrupt_uploads = 0
        self.hash_algo = "sha512"
        self.corrupt = False
        self._ids = itertools.count(1)

    # -- reading
    def _mine(self, image: Mapping[str, Any]) -> bool:
        return self.project is None or image.get("owner") in (None, self.project)

    def _listed(self, hidden: Optional[bool]) -> List[Image]:
        return [copy.deepcopy(i) for i in list(self.images.values())  # a sweeper thread may list
                if self._mine(i) and (hidden is None or bool(i.get("os_hidden")) == hidden)]

    def current(self, name: str) -> List[Image]:
        return [i for i in self._listed(False) if i.get("name") == name]

    def managed(self) -> List[Image]:
        return [i for i in self._listed(None) if names.TAG_MANAGED in (i.get("tags") or ())]

    def with_digest(self, algorithm: str, value: str) -> List[Image]:
        key = "checksum" if algorithm == "md5" else "os_hash_value"
        return [i for i in self._listed(None) if i.get(key) == value]

    def get(self, image_id: str) -> Image:
        if image_id not in self.images:
            raise GlanceError(f"Glance refused to show image {image_id}: HTTP 404: not found")
        return copy.deepcopy(self.images[image_id])

    def download(self, image_id: str) -> Iterator[bytes]:
        yield self.data[image_id]

    # -- staging
    def stage(self, request: StageRequest, payload: Payload) -> Staged:
        self.limits.check_name(request.name)
        image_id = f"fake-{next(self._ids):04d}"
        self.images[image_id] = {
            "id": image_id, "name": pending_name(request.name), "status": "queued", "os_hidden": True,
            "visibility": "private", "tags": [names.TAG_MANAGED, names.TAG_PENDING], "owner": self.project,
            "disk_format": request.disk_format, "container_format": request.container_format,
            "created_at": names.stamp(), "size": None, "checksum": None, "os_hash_algo": None,
            "os_hash_value": None, **request.mark.properties(request.name)}
        self.changes.append(("stage", image_id))
        try:
            self._receive(image_id, payload)
        except BaseException:
            self.discard(image_id)
            raise
        return Staged(image_id, self.images[image_id]["name"])

    def _receive(self, image_id: str, payload: Payload) -> None:
        assert payload.stream is not None
        if self.interrupt_uploads:
            self.interrupt_uploads -= 1
            raise UploadInterrupted(f"failed to upload image data to {image_id}: connection reset")
        chunks = []
        while True:
            chunk = payload.stream.read(1 << 16)
            if not chunk:
                break
            chunks.append(bytes(chunk))
        data = b"".join(chunks)
        if self.corrupt and data:
            data = bytes([data[0] ^ 1]) + data[1:]
        self.data[image_id] = data
        self.images[image_id].update(status="active", size=len(data), checksum=hashlib.md5(data).hexdigest(),
                                     os_hash_algo=self.hash_algo,
                                     os_hash_value=hashlib.new(self.hash_algo, data).hexdigest())

    def stored(self, staged: Staged) -> StoredCopy:
        image = self.get(staged.id)
        digests = {"md5": image["checksum"], image["os_hash_algo"]: image["os_hash_value"]}
        return StoredCopy(staged.id, image["status"], image["size"], {k: v for k, v in digests.items() if v})

    # -- changing
    def _update(self, image_id: str, what: str, remove: Sequence[str] = (), **fields: Any) -> Image:
        image = self.images[image_id]
        for key in remove:
            image.pop(key, None)
        image.update(fields)
        self.changes.append((what, image_id))
        return copy.deepcopy(image)

    def release(self, staged: Staged, release: Release) -> Image:
        self.limits.check_name(release.name)
        return self._update(staged.id, "release", remove=names.PENDING_PROPS, tags=[names.TAG_MANAGED],
                            name=release.name, visibility=release.visibility, os_hidden=False,
                            **self.limits.fit(release.properties))

    def retire(self, image: Mapping[str, Any], replaced_by: str, appliance: Optional[str] = None,
               when: Optional[dt.datetime] = None) -> Image:
        known_as = appliance or str(image.get(names.PROP_APPLIANCE) or image.get("name") or "")
        return self._update(image["id"], "retire", name=backup_name(image), os_hidden=True,
                            tags=[*(image.get("tags") or ()), names.TAG_BACKUP],
                            **{names.PROP_REPLACED_BY: replaced_by, names.PROP_RETIRED_AT: names.stamp(when),
                               names.PROP_APPLIANCE: known_as})

    def adopt(self, image: Mapping[str, Any], name: str, properties: Mapping[str, str]) -> None:
        self._update(image["id"], "adopt", name=name, tags=[*(image.get("tags") or ()), names.TAG_MANAGED],
                     **properties)

    def promote(self, image: Mapping[str, Any], name: str) -> None:
        self._update(image["id"], "promote", remove=[p for p in names.BACKUP_PROPS if p in image], name=name,
                     os_hidden=False, tags=[t for t in image.get("tags") or () if t != names.TAG_BACKUP])

    def annotate(self, image_id: str, properties: Mapping[str, str]) -> None:
        self._update(image_id, "annotate", **properties)

    def expire(self, image: Mapping[str, Any], how: str, when: Optional[dt.datetime] = None) -> Tuple[str, str]:
        if image["id"] not in self.images:
            return "failed", f"Glance refused to update image {image['id']}: HTTP 404: gone"
        current = self.images[image["id"]]
        if names.TAG_EXPIRED not in (current.get("tags") or ()) or not current.get("os_hidden"):
            self._update(image["id"], "expire", os_hidden=True,
                         tags=[*(current.get("tags") or ()), names.TAG_EXPIRED],
                         **{names.PROP_EXPIRED_AT: names.stamp(when)})
        if how == "delete":
            return self.prune(image["id"])
        if how == "deactivate" and current.get("status") != "deactivated":
            self._update(image["id"], "deactivate", status="deactivated")
        return ("deactivated" if how == "deactivate" else "hidden"), ""

    def _delete(self, image_id: str) -> None:
        if self.refuse_delete:
            raise GlanceError("Glance refused to delete image: HTTP 409: in use")
        self.images.pop(image_id, None)
        self.data.pop(image_id, None)
        self.changes.append(("delete", image_id))

    def prune(self, image_id: str) -> Tuple[str, str]:
        try:
            self._delete(image_id)
            return "deleted", ""
        except GlanceError as e:
            self._update(image_id, "deactivate", status="deactivated")
            return "deactivated", str(e)

    def discard(self, image_id: str) -> bool:
        try:
            self._delete(image_id)
        except GlanceError:
            return False
        return True

    def clean_leftovers(self, policy: LeftoverPolicy, images: Optional[Sequence[Mapping[str, Any]]] = None,
                        now: Optional[dt.datetime] = None) -> List[Tuple[Image, str]]:
        when = now or dt.datetime.now(dt.timezone.utc)
        pending = images if images is not None else [
            i for i in self._listed(True) if names.TAG_PENDING in (i.get("tags") or ())]
        judged: List[Tuple[Image, str]] = []
        for image in pending:
            if names.TAG_PENDING not in (image.get("tags") or ()) or names.PROP_PENDING_NAME not in image:
                continue
            verdict = judge_leftover(image, policy, when)
            if verdict == "remove":
                verdict = "removed" if self.discard(image["id"]) else "failed: refused"
            judged.append((dict(image), verdict))
        return judged
