# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""OpenNebulaTarget: the ``Target`` protocol over one OpenNebula image datastore.

OpenNebula registers an image from a path its front-end can read, or a URL it downloads: the
pipeline hands it a ``Payload`` with a path (the verified bytes, spooled to ``[opennebula]
path_prefix`` or the cache file) and ``image.allocate`` copies it into the datastore. A staged
image is owner-only, tagged pending and named ``NAME [glancing upload xxxxxxxx]`` until it is
READY; its release renames it, applies ``[opennebula] permissions`` and ``group`` and writes the
record's attributes. A retired image is renamed with its version or date, disabled and narrowed
to its owner; a USED image is never deleted (oned refuses: 2048) and never disabled.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Sequence, Tuple

from glancing.retire.naming import backup_name
from glancing.retry import RetryPolicy
from glancing.targets import names
from glancing.targets.base import (Image, LeftoverPolicy, Limits, Payload, PayloadKind, Release, Staged, StageRequest,
                                   StoredCopy, judge_leftover)
from glancing.targets.glance.target import pending_name
from glancing.targets.opennebula import attrs
from glancing.targets.opennebula.client import OneClient, read_template
from glancing.targets.opennebula.errors import OneError, OneMissing, OneTimeout, OneWrongState

log = logging.getLogger(__name__)

# oned keeps names in a 128-character column; template values are long text.
LIMITS = Limits(name_max=128, property_key_max=120, property_value_max=8192, container_formats=frozenset({"bare"}))
OWNER_ONLY = (1, 1, 0, 0, 0, 0, 0, 0, 0)
DRIVERS = {"qcow2": "qcow2", "raw": "raw", "vmdk": "vmdk", "vdi": "vdi", "vhdx": "vhdx", "vpc": "vpc"}


@dataclass(frozen=True)
class OneSettings:
    """The [opennebula] section as the target takes it (settings.py reads it, the CLI builds this)."""

    endpoint: str = "http://localhost:2633/RPC2"
    session: str = ""                   # user:password (ONE_AUTH / ~/.one/one_auth)
    datastore: str = "default"          # name or ID
    permissions: Tuple[int, ...] = attrs.parse_permissions("640")
    group: Optional[str] = None         # name or ID; None: the user's primary group
    ready_timeout: float = 10800.0      # seconds an allocated image may stay LOCKED
    poll: float = 1.0                   # first pause between image.info polls; doubles up to 60 s
    request_timeout: float = 60.0
    vm_template: bool = False           # also a VM template per image, replaced with it
    path_prefix: Optional[str] = None   # spool directory shared with the front-end
    register_from: str = "path"         # "url": oned downloads the (verified) source URL itself

    def ready_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=1 << 20, backoff=self.poll, max_pause=60.0, deadline=self.ready_timeout)


class _NotReady(Exception):
    """The image is still LOCKED: poll again."""


class OpenNebulaTarget:
    """OpenNebula behind the Target protocol; ``project`` is the session's user."""

    limits = LIMITS
    computes: Tuple[str, ...] = ()  # oned hashes nothing: glancing verifies every byte before it registers

    def __init__(self, client: OneClient, settings: OneSettings) -> None:
        self.client, self.settings = client, settings
        self.accepts: FrozenSet[PayloadKind] = frozenset(
            {PayloadKind.URL if settings.register_from == "url" else PayloadKind.PATH})
        self.project: Optional[str] = settings.session.split(":", 1)[0] or None
        self.spool_dir = settings.path_prefix
        self._datastore: Optional[int] = None
        self._group: Optional[int] = None

    # -- reading
    def _read(self, image_id: Any) -> Tuple[Any, Dict[str, str]]:
        obj = self.client.call("image.info", int(image_id))
        return obj, read_template(obj)

    def get(self, image_id: str) -> Image:
        return attrs.as_image(*self._read(image_id))

    def _pool(self) -> List[Image]:
        pool = self.client.call("imagepool.info", -3, -1, -1)  # -3: the session user's own images
        return [attrs.as_image(obj, read_template(obj)) for obj in (getattr(pool, "IMAGE", None) or [])]

    def current(self, name: str) -> List[Image]:
        """By the appliance attribute glancing writes (an image renamed by hand is still found);
        by name only for images glancing never released."""
        return [i for i in self._pool() if not i["os_hidden"]
                and (i.get(names.PROP_APPLIANCE) or i["name"]) == name]

    def managed(self) -> List[Image]:
        return [i for i in self._pool() if names.TAG_MANAGED in i["tags"]]

    def with_digest(self, algorithm: str, value: str) -> List[Image]:
        return [i for i in self._pool() if i.get(names.PROP_DIGEST_PREFIX + algorithm) == value]

    def download(self, image_id: str) -> Iterator[bytes]:
        raise OneError(f"OpenNebula image {image_id}: its bytes cannot be read back through the XML-RPC API "
                       "(no -b backup, no read-back check)")

    # -- staging
    def datastore_id(self) -> int:
        if self._datastore is None:
            wanted = self.settings.datastore
            pool = self.client.call("datastorepool.info")
            found = [int(d.ID) for d in pool.DATASTORE if str(d.ID) == wanted or d.NAME == wanted]
            if not found:
                raise OneMissing(f"OpenNebula has no datastore {wanted!r} (one.datastorepool.info)")
            self._datastore = found[0]
        return self._datastore

    def stage(self, request: StageRequest, payload: Payload) -> Staged:
        if payload.kind is PayloadKind.STREAM:
            raise OneError("OpenNebula registers an image from a path or a URL, not a stream")
        self.limits.check_name(request.name)
        name = pending_name(request.name, self.limits)
        template = {"NAME": name, "PATH": payload.path or payload.url or "", "TYPE": "OS",
                    "DRIVER": DRIVERS.get(request.disk_format, "raw"),
                    attrs.TAGS: f"{names.TAG_MANAGED},{names.TAG_PENDING}", attrs.HIDDEN: "yes",
                    **attrs.attributes(request.mark.properties(request.name))}
        if payload.size is not None:
            template[attrs.SIZE] = str(payload.size)
        image_id = self.client.call("image.allocate", attrs.template_text(template), self.datastore_id())
        staged = Staged(str(image_id), name)
        try:
            self.client.call("image.chmod", int(image_id), *OWNER_ONLY)
            self._wait_ready(int(image_id))
        except BaseException:
            self.discard(staged.id)
            raise
        return staged

    def _wait_ready(self, image_id: int) -> None:
        def poll() -> None:
            state = int(self.client.call("image.info", image_id).STATE)
            if state == attrs.ERROR:
                raise OneWrongState(f"OpenNebula image {image_id} went to ERROR while the front-end copied it "
                                    "(one.image.info); is the path readable by the front-end?", attrs.ERROR)
            if state == attrs.LOCKED:
                raise _NotReady()

        def waiting(e: BaseException, pause: float) -> None:
            log.debug("OpenNebula image %s is still LOCKED; polling again in %.1f s", image_id, pause)

        try:
            self.settings.ready_policy().call(poll, lambda e: isinstance(e, _NotReady), f"image {image_id} READY",
                                              on_retry=waiting)
        except _NotReady:
            raise OneTimeout(f"OpenNebula image {image_id} was not READY within {self.settings.ready_timeout:g} s "
                             "(one.image.info)") from None

    def stored(self, staged: Staged) -> StoredCopy:
        obj, template = self._read(staged.id)
        registered = template.get(attrs.SIZE, "")
        size = int(registered) if registered.isdigit() else int(obj.SIZE) * attrs.MIB
        # oned measures a raw image's file in MB: it must agree with what was handed over.
        if template.get("DRIVER") == "raw" and registered.isdigit() and -(-size // attrs.MIB) != int(obj.SIZE):
            size = int(obj.SIZE) * attrs.MIB
        status = attrs.STATUS.get(int(obj.STATE), "queued")
        return StoredCopy(staged.id, status, size, {})

    # -- changing
    def _update(self, image_id: Any, changes: Mapping[str, str], drop: Sequence[str] = ()) -> None:
        """Replace the template with its current attributes, ``drop`` removed, ``changes`` set
        (a merge cannot remove an attribute)."""
        _, template = self._read(image_id)
        merged = {k: v for k, v in template.items() if k not in drop}
        merged.update(changes)
        self.client.call("image.update", int(image_id), attrs.template_text(merged), 0)

    def _chmod(self, image_id: Any, bits: Sequence[int]) -> None:
        self.client.call("image.chmod", int(image_id), *bits)

    def _rename(self, image: Mapping[str, Any], name: str) -> None:
        if image.get("name") != name:
            self.client.call("image.rename", int(image["id"]), name)

    def _enable(self, image: Mapping[str, Any], enable: bool) -> str:
        """"" when done; why not, for a USED image (oned refuses to disable one in use)."""
        state = image.get("one_state")
        if not enable and state == attrs.USED:
            return f"image {image['id']} is in use by {image.get('one_running_vms', '?')} VMs: not disabled"
        if enable == (state != attrs.DISABLED):
            return ""
        self.client.call("image.enable", int(image["id"]), enable)
        return ""

    def release(self, staged: Staged, release: Release) -> Image:
        if release.members:
            raise OneError("sharing an image with other groups is not supported by the OpenNebula target")
        self.limits.check_name(release.name)
        moved = self._make_room(release.name, staged.id)
        try:
            self._rename({"id": staged.id, "name": staged.name}, release.name)
        except BaseException:
            for image in moved:
                self._rename({"id": image["id"], "name": self._backup_name(image)}, image["name"])
            raise
        record = self.limits.fit(release.properties)
        changes = {**attrs.attributes(record), attrs.TAGS: names.TAG_MANAGED, attrs.HIDDEN: "no",
                   attrs.attribute(names.PROP_APPLIANCE): release.name,
                   "DESCRIPTION": record.get("vmcatcher_event_dc_description") or record.get("description")
                   or release.name}
        self._update(staged.id, changes, drop=[attrs.attribute(p) for p in names.PENDING_PROPS])
        self._publish_rights(staged.id, release.visibility)
        if self.settings.vm_template:
            from glancing.targets.opennebula.vmtemplate import replace_template

            replace_template(self.client, release.name, int(staged.id), record)
        return self.get(staged.id)

    def _make_room(self, name: str, keep: str) -> List[Image]:
        """oned refuses two images of one owner with the same name: the current one takes its
        backup name now (retire() keeps it); returned so a failed rename can put it back."""
        taken = [i for i in self._pool() if i["name"] == name and i["id"] != keep]
        for image in taken:
            log.info("OpenNebula image %s is called %r: renamed %r first (one name per owner)", image["id"], name,
                     self._backup_name(image))
            self._rename(image, self._backup_name(image))
        return taken

    def _backup_name(self, image: Mapping[str, Any]) -> str:
        # From the appliance's name: the image may already carry its backup name (_make_room).
        known_as = image.get(names.PROP_APPLIANCE) or image.get("name")
        return backup_name({**image, "name": known_as})[:self.limits.name_max]

    def _publish_rights(self, image_id: str, visibility: str) -> None:
        bits = list(self.settings.permissions)
        if visibility in ("public", "community"):
            bits[6] = 1  # OTHER_U
        self._chmod(image_id, bits)
        if self.settings.group is not None:
            self.client.call("image.chown", int(image_id), -1, self.group_id())

    def group_id(self) -> int:
        if self._group is None:
            wanted = str(self.settings.group)
            if wanted.isdigit():
                self._group = int(wanted)
            else:
                groups = self.client.call("grouppool.info").GROUP
                found = [int(g.ID) for g in groups if g.NAME == wanted]
                if not found:
                    raise OneMissing(f"OpenNebula has no group {wanted!r} (one.grouppool.info)")
                self._group = found[0]
        return self._group

    def retire(self, image: Mapping[str, Any], replaced_by: str, appliance: Optional[str] = None,
               when: Optional[_dt.datetime] = None) -> Image:
        """Renamed ``NAME (VERSION or DATE)``, hidden, tagged, narrowed to its owner and disabled
        (unless VMs use it: running VMs keep their image; nothing is deleted)."""
        known_as = appliance or str(image.get(names.PROP_APPLIANCE) or image.get("name") or "")
        current = self.get(image["id"])
        self._rename(current, self._backup_name(image))
        tags = [t for t in current["tags"] if t != names.TAG_BACKUP] + [names.TAG_BACKUP]
        self._update(image["id"], {attrs.TAGS: ",".join(tags), attrs.HIDDEN: "yes", **attrs.attributes({
            names.PROP_REPLACED_BY: replaced_by, names.PROP_RETIRED_AT: names.stamp(when),
            names.PROP_APPLIANCE: known_as})})
        self._chmod(image["id"], OWNER_ONLY)
        why = self._enable(current, False)
        if why:
            log.info("retired %s: %s", image["id"], why)
        return self.get(image["id"])

    def adopt(self, image: Mapping[str, Any], name: str, properties: Mapping[str, str]) -> None:
        self._rename(image, name)
        tags = [*(image.get("tags") or ()), names.TAG_MANAGED]
        self._update(image["id"], {**attrs.attributes(self.limits.fit(properties)), attrs.TAGS: ",".join(tags),
                                   attrs.attribute(names.PROP_APPLIANCE): name})

    def promote(self, image: Mapping[str, Any], name: str) -> None:
        current = self.get(image["id"])
        self._make_room(name, current["id"])
        self._rename(current, name)
        tags = [t for t in current["tags"] if t != names.TAG_BACKUP]
        self._update(image["id"], {attrs.TAGS: ",".join(tags), attrs.HIDDEN: "no",
                                   attrs.attribute(names.PROP_APPLIANCE): name},
                     drop=[attrs.attribute(p) for p in names.BACKUP_PROPS])
        self._enable(current, True)
        self._publish_rights(image["id"], str(current.get("visibility") or "private"))

    def annotate(self, image_id: str, properties: Mapping[str, str]) -> None:
        self.client.call("image.update", int(image_id), attrs.template_text(
            attrs.attributes(self.limits.fit(properties))), 1)

    def expire(self, image: Mapping[str, Any], how: str, when: Optional[_dt.datetime] = None) -> Tuple[str, str]:
        """Tagged expired and hidden, narrowed to its owner; "deactivate" disables it (not when in
        use: it stays, and says so), "delete" prunes it."""
        try:
            current = self.get(image["id"])
            if names.TAG_EXPIRED not in current["tags"] or not current["os_hidden"]:
                tags = ",".join([*current["tags"], names.TAG_EXPIRED])
                self._update(image["id"], {attrs.TAGS: tags, attrs.HIDDEN: "yes", **attrs.attributes(
                    {names.PROP_EXPIRED_AT: names.stamp(when)})})
                self._chmod(image["id"], OWNER_ONLY)
            if how == "delete":
                return self.prune(image["id"])
            if how == "deactivate":
                why = self._enable(current, False)
                return ("hidden", why) if why else ("deactivated", "")
        except OneError as e:
            return "failed", str(e)
        return "hidden", ""

    def prune(self, image_id: str) -> Tuple[str, str]:
        """Deleted; an image VMs use is left in place (oned: 2048) and said so."""
        try:
            self.client.call("image.delete", int(image_id))
            return "deleted", ""
        except OneWrongState as e:
            log.warning("kept OpenNebula image %s: %s", image_id, e)
            return "deactivated", f"in use, left in place: {e}"
        except OneMissing:
            return "deleted", "already gone"
        except OneError as e:
            return "failed", str(e)

    def discard(self, image_id: str) -> bool:
        try:
            self.client.call("image.delete", int(image_id))
        except OneMissing:
            return True
        except OneError as e:
            log.error("could not delete the unfinished OpenNebula image %s (%s): it stays tagged %s; the next "
                      "run of the same kind removes it (or: oneimage delete %s)", image_id, e, names.TAG_PENDING,
                      image_id)
            return False
        return True

    def clean_leftovers(self, policy: LeftoverPolicy, images: Optional[Sequence[Mapping[str, Any]]] = None,
                        now: Optional[_dt.datetime] = None) -> List[Tuple[Image, str]]:
        when = now or _dt.datetime.now(_dt.timezone.utc)
        judged: List[Tuple[Image, str]] = []
        for image in images if images is not None else self._pool():
            if names.TAG_PENDING not in (image.get("tags") or ()) or names.PROP_PENDING_NAME not in image:
                continue
            verdict = judge_leftover(image, policy, when)
            if verdict == "remove":
                verdict = "removed" if self.discard(image["id"]) else "failed: OpenNebula refused the delete"
            judged.append((dict(image), verdict))
        return judged
