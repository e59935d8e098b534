# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager vmcatcher-event``: a handler for sites that keep vmcatcher (its
``VMCATCHER_CACHE_EVENT``), the safer successor of the OpenStack handler (gpvcmupdate.py).

- ``AvailablePostfix``: import ``$VMCATCHER_CACHE_DIR_CACHE/$VMCATCHER_EVENT_FILENAME`` through the
  pipeline (streamed, ``HV_SIZE`` and ``SL_CHECKSUM_SHA512`` checked on the bytes), named by
  ``DC_TITLE`` or by the ``title = glance name`` mapping file (glancepush's gpvmcmapping), the
  event's fields as ``vmcatcher_event_*`` properties; the previous image of that name is retired
  as a backup. An image already current with that sha512 is left alone (vmcatcher may send an
  event again).
- ``ExpirePrefix``: expire (hide, tag, deactivate by ``[manager] on_expire``) every current image
  with that ``DC_IDENTIFIER``, through ``subscriptions.expire.expire_image``; its backups (older
  versions, endorsed in their time) stay backups.
- Every other type is acknowledged. A variable a type needs that is missing or malformed is a
  one-line usage error naming it (the old handler crashed on a missing ``HV_FORMAT``).

With ``--spool`` the event is only written to the database (table ``vmcatcher_spool``) and the
next ``glance_manager sync`` handles it (``process_spool``), so vmcatcher never waits for Glance.
Library code reads no environment: the CLI hands ``from_env`` its own.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping

from glancing.errors import GlancingError, UsageError, VerificationError, exit_code
from glancing.model import DigestScope, Expected, ImageSpec, Location, Origin
from glancing.pipeline import ImportOptions, import_image
from glancing.quarantine.verdict import rejected_digests
from glancing.subscriptions import events as ev
from glancing.subscriptions.expire import expire_image
from glancing.targets import names
from glancing.targets.base import Target
from glancing.targets.names import stamp

log = logging.getLogger(__name__)

TYPE = ev.PREFIX + "TYPE"
CACHE_DIR = "VMCATCHER_CACHE_DIR_CACHE"
# What each handled type needs; the other types need nothing but their TYPE.
REQUIRED = {
    ev.AVAILABLE_POSTFIX: (CACHE_DIR, ev.PREFIX + "FILENAME", ev.PREFIX + "DC_IDENTIFIER", ev.PREFIX + "DC_TITLE",
                           ev.PREFIX + "HV_SIZE", ev.PREFIX + "SL_CHECKSUM_SHA512"),
    ev.EXPIRE_PREFIX: (ev.PREFIX + "DC_IDENTIFIER",),
}
_SHA512 = re.compile(r"[0-9a-fA-F]{128}")


@dataclass(frozen=True)
class HandlerEvent:
    """One vmcatcher event: its type and its ``VMCATCHER_*`` variables (nothing else is kept)."""

    type: str
    env: Mapping[str, str]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "HandlerEvent":
        """The event in ``env``. Raises UsageError naming the first missing or malformed variable."""
        kept = {k: v for k, v in env.items() if k.startswith("VMCATCHER_")}
        event_type = kept.get(TYPE, "").strip()
        if not event_type:
            raise UsageError(f"vmcatcher-event: {TYPE} is not set (run me as vmcatcher's VMCATCHER_CACHE_EVENT)")
        event = cls(event_type, kept)
        event.check()
        return event

    def field(self, suffix: str) -> str:
        return self.env.get(ev.PREFIX + suffix, "")

    def check(self) -> None:
        """Raise UsageError when a variable this type needs is missing or malformed."""
        for name in REQUIRED.get(self.type, ()):
            if not self.env.get(name, "").strip():
                raise UsageError(f"vmcatcher-event: {name} is not set ({self.type} needs it)")
        if self.type != ev.AVAILABLE_POSTFIX:
            return
        if not self.field("HV_SIZE").strip().isdigit():
            raise UsageError(f"vmcatcher-event: {ev.PREFIX}HV_SIZE={self.field('HV_SIZE')!r} is not a size in bytes")
        if not _SHA512.fullmatch(self.field("SL_CHECKSUM_SHA512").strip()):
            raise UsageError(f"vmcatcher-event: {ev.PREFIX}SL_CHECKSUM_SHA512 is not a sha512 (128 hex digits)")
        filename = self.field("FILENAME")
        if "/" in filename or filename in (".", "..") or "\0" in filename:
            raise UsageError(f"vmcatcher-event: {ev.PREFIX}FILENAME={filename!r} is not a file name in "
                             f"{CACHE_DIR}")


@dataclass(frozen=True)
class HandlerOptions:
    """How events are carried out: the import flags, ``[manager] on_expire``, the name mapping."""

    import_options: ImportOptions = field(default_factory=ImportOptions)
    on_expire: str = "deactivate"
    mapping: Mapping[str, str] = field(default_factory=dict)  # DC_TITLE -> Glance name


@dataclass
class HandlerResult:
    """What one event did: ``action`` is imported, current, expired, nothing-to-expire,
    acknowledged, spooled or failed."""

    type: str
    identifier: str
    action: str
    image_ids: List[str] = field(default_factory=list)
    message: str = ""
    code: int = 0

    def describe(self) -> str:
        ids = f" ({', '.join(self.image_ids)})" if self.image_ids else ""
        what = f" {self.identifier}" if self.identifier else ""
        return f"{self.type}{what}: {self.action}{ids}{': ' + self.message if self.message else ''}"

    def to_dict(self) -> Dict[str, Any]:
        return dict(vars(self))


def read_mapping(path: str) -> Dict[str, str]:
    """A glancepush-style mapping file: ``title = glance name`` per line, ``#`` comments.
    Raises UsageError naming ``file:line`` for a line without ``=`` or an unreadable file."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the mapping file {path}: {exc}") from exc
    mapping: Dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        title, sep, name = line.partition("=")
        if not sep or not title.strip() or not name.strip():
            raise UsageError(f"{path}:{number}: expected 'title = glance name', not {line!r}")
        mapping[title.strip()] = name.strip()
    return mapping


def glance_name(event: HandlerEvent, mapping: Mapping[str, str]) -> str:
    title = event.field("DC_TITLE").strip()
    return mapping.get(title, title)


def event_properties(event: HandlerEvent) -> Dict[str, str]:
    """The event's fields as image properties (``vmcatcher_event_dc_title`` ...), and the HEPiX
    identifiers glance_manager's subscriptions use too."""
    props = {f"vmcatcher_event_{suffix.lower()}": event.field(suffix)
             for suffix in ev.IMAGE_FIELDS if event.field(suffix) and suffix != "FILENAME"}
    props["hepix_image_id"] = event.field("DC_IDENTIFIER")
    if event.field("IL_DC_IDENTIFIER"):
        props["hepix_list_id"] = event.field("IL_DC_IDENTIFIER")
    return props


def image_spec(event: HandlerEvent) -> ImageSpec:
    """The cached file as an ImageSpec: size and sha512 as the event states them."""
    path = os.path.join(event.env[CACHE_DIR], event.field("FILENAME"))
    fmt = event.field("HV_FORMAT").strip().lower() or None
    return ImageSpec(
        locations=(Location(path),), origin=Origin.LOCAL_RECORD,
        expected=Expected(size=int(event.field("HV_SIZE")), scope=DigestScope.AS_GIVEN,
                          digests={"sha512": event.field("SL_CHECKSUM_SHA512").strip().lower()}),
        name=event.field("DC_TITLE"), disk_format=fmt, version=event.field("HV_VERSION") or None,
        described_by=f"vmcatcher event {event.type} of {event.field('DC_IDENTIFIER')}")


def _available(event: HandlerEvent, target: Target, options: HandlerOptions) -> HandlerResult:
    name = glance_name(event, options.mapping)
    spec = image_spec(event)
    sha512 = spec.expected.digests["sha512"]
    identifier = event.field("DC_IDENTIFIER")
    # A converted image (an OVA's disk) keeps the sha512 of the file as given as a property.
    same = [i for i in target.current(name) if sha512 in (str(i.get("os_hash_value") or "").lower(),
                                                          str(i.get(names.PROP_DIGEST_PREFIX + "sha512") or ""))]
    if same:
        return HandlerResult(event.type, identifier, "current", [str(i["id"]) for i in same],
                             f"{name!r} already holds these bytes")
    if options.import_options.quarantine is not None:
        held = rejected_digests(target.managed()).get(sha512)
        if held:
            raise VerificationError(f"image {held} with these bytes failed quarantine: not imported again until a "
                                    f"person runs glance_manager release {held} --force, or reject {held}")
    opts = replace(options.import_options, name=name, pending_owner=names.OWNER_MANAGER)
    result = import_image(spec, opts, target, extra_properties=event_properties(event))
    return HandlerResult(event.type, identifier, "imported", [result.image_id], f"as {name!r}")


def _expire(event: HandlerEvent, target: Target, options: HandlerOptions) -> HandlerResult:
    identifier = event.field("DC_IDENTIFIER")
    # The current image only: a backup is a version that was endorsed, kept until retention prunes it.
    skip = {names.TAG_EXPIRED, names.TAG_PENDING, names.TAG_BACKUP}
    doomed = [i for i in target.managed() if str(i.get("hepix_image_id") or "") == identifier
              and not skip.intersection(i.get("tags") or ())]
    if not doomed:
        return HandlerResult(event.type, identifier, "nothing-to-expire", [], "no current image has this identifier")
    outcomes = [expire_image(target, image, options.on_expire, uuid=identifier) for image in doomed]
    failed = [o for o in outcomes if o.result == "failed"]
    if failed:
        raise GlancingError(f"could not expire {', '.join(str(o.image_id) for o in failed)}: {failed[0].why}")
    return HandlerResult(event.type, identifier, "expired", [str(o.image_id) for o in outcomes],
                         ", ".join(sorted({o.result for o in outcomes})))


def handle(event: HandlerEvent, connect: Any, options: HandlerOptions) -> HandlerResult:
    """Carry ``event`` out (``connect()`` opens the target only when the type needs it).
    Raises GlancingError (the import's or the expiry's), never for an unhandled type."""
    if event.type == ev.AVAILABLE_POSTFIX:
        return _available(event, connect(), options)
    if event.type == ev.EXPIRE_PREFIX:
        return _expire(event, connect(), options)
    return HandlerResult(event.type, event.field("DC_IDENTIFIER"), "acknowledged")


# -- the spool: events recorded now, carried out by the next sync --------------------------------

_NAME = "GLANCING_NAME"  # the Glance name the mapping gave at spool time (the sync has no mapping)


def spool(db: Any, event: HandlerEvent, mapping: Mapping[str, str]) -> int:
    """Record ``event`` for the next sync; its row id."""
    env = {**event.env, _NAME: glance_name(event, mapping)}
    with db.transaction() as conn:
        cursor = conn.execute("INSERT INTO vmcatcher_spool(type, env, created_at) VALUES (?, ?, ?)",
                              (event.type, json.dumps(env, sort_keys=True), stamp()))
    return int(cursor.lastrowid)


def process_spool(db: Any, connect: Any, options: HandlerOptions) -> List[HandlerResult]:
    """Carry out the spooled events not yet done, oldest first; a failure stays for the next run.
    Raises nothing but interrupts."""
    rows = db.conn.execute("SELECT id, env FROM vmcatcher_spool WHERE status != 'done' ORDER BY id").fetchall()
    results = []
    for row in rows:
        try:
            env = json.loads(row["env"])
            event = HandlerEvent.from_env(env)
            mapping = {event.field("DC_TITLE").strip(): env[_NAME]} if env.get(_NAME) else {}
            result = handle(event, connect, replace(options, mapping=mapping))
            status, error = "done", None
        except GlancingError as exc:
            result = HandlerResult("?", "", "failed", [], str(exc), exit_code(exc))
            status, error = "failed", str(exc)
            log.error("spooled vmcatcher event #%d failed and is kept: %s", row["id"], exc)
        with db.transaction() as conn:
            conn.execute("UPDATE vmcatcher_spool SET status = ?, attempts = attempts + 1, last_error = ?, "
                         "done_at = ? WHERE id = ?", (status, error, stamp() if error is None else None, row["id"]))
        results.append(result)
    return results


__all__ = ["HandlerEvent", "HandlerOptions", "HandlerResult", "REQUIRED", "event_properties", "glance_name",
           "handle", "image_spec", "process_spool", "read_mapping", "spool"]
