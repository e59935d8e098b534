# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""vmcatcher-compatible events, never lost (vmcatcher.md section 5).

Each event is written to the database (status ``pending``) BEFORE its command runs, then marked
``done`` or ``failed``; a failed or overrun handler stays in the database and ``replay()`` (every
later run, or ``glance_manager events --replay``) runs it again. The command runs through the
shell, as vmcatcher's did, with the caller's environment plus the event's variables; it runs in
its own process group so that a timeout kills the handler and everything it started.

Only the event's own variables are stored, never the parent environment (it may hold secrets):
a replay hands the handler the environment of the run that replays it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from glancing.procs import kill_group
from glancing.targets.names import stamp

log = logging.getLogger(__name__)

# The types vmcatcher emits, in the order one cache run emits them.
PROCESS_PREFIX = "ProcessPrefix"
AVAILABLE_PREFIX = "AvailablePrefix"
AVAILABLE_POSTFIX = "AvailablePostfix"
EXPIRE_PREFIX = "ExpirePrefix"
EXPIRE_POSTFIX = "ExpirePostfix"  # not the seed README's "ExpirePosfix"
PROCESS_POSTFIX = "ProcessPostfix"
SUBSCRIPTION_IMAGE_NEW = "SubscriptionImageNew"
TYPES = (PROCESS_PREFIX, AVAILABLE_PREFIX, AVAILABLE_POSTFIX, EXPIRE_PREFIX, EXPIRE_POSTFIX, PROCESS_POSTFIX,
         SUBSCRIPTION_IMAGE_NEW)

PREFIX = "VMCATCHER_EVENT_"
GLANCE_ID = "GLANCING_EVENT_GLANCE_ID"
STATUS = "GLANCING_EVENT_STATUS"
# The variables vmcatcher sets from an image (VMCATCHER_EVENT_ + these), when not empty.
IMAGE_FIELDS = ("DC_IDENTIFIER", "DC_TITLE", "DC_DESCRIPTION", "HV_URI", "HV_SIZE", "HV_VERSION",
                "HV_HYPERVISOR", "HV_FORMAT", "SL_ARCH", "SL_OS", "SL_OSVERSION", "SL_COMMENTS",
                "SL_CHECKSUM_SHA512", "AD_MPURI", "VO", "IL_DC_IDENTIFIER", "FILENAME")
# SubscriptionImageNew carries only the raw list keys.
_NOT_IN_NEW = frozenset({"HV_FORMAT", "AD_MPURI", "VO", "IL_DC_IDENTIFIER", "FILENAME"})
_LIST_KEYS = {"DC_IDENTIFIER": "dc:identifier", "DC_TITLE": "dc:title", "DC_DESCRIPTION": "dc:description",
              "HV_URI": "hv:uri", "HV_SIZE": "hv:size", "HV_VERSION": "hv:version",
              "HV_HYPERVISOR": "hv:hypervisor", "HV_FORMAT": "hv:format", "SL_ARCH": "sl:arch",
              "SL_OS": "sl:os", "SL_OSVERSION": "sl:osversion", "SL_COMMENTS": "sl:comments",
              "SL_CHECKSUM_SHA512": "sl:checksum:sha512", "AD_MPURI": "ad:mpuri"}


def image_fields(entry: Mapping[str, Any], list_identifier: Optional[str] = None, vo: Optional[str] = None,
                 filename: Optional[str] = None) -> Dict[str, str]:
    """The event fields of a list entry (``hv:image`` keys), as emit() takes them."""
    fields = {name: str(entry.get(key)) for name, key in _LIST_KEYS.items() if entry.get(key) not in (None, "")}
    for name, value in (("IL_DC_IDENTIFIER", list_identifier), ("VO", vo), ("FILENAME", filename)):
        if value:
            fields[name] = value
    return fields


def event_env(type_: str, session: str, fields: Mapping[str, Optional[str]]) -> Dict[str, str]:
    """The variables an event sets. ``fields`` keys are vmcatcher's suffixes (``DC_TITLE``) or
    full ``GLANCING_EVENT_*`` names; empty values are left out, as vmcatcher does."""
    env = {PREFIX + "TYPE": type_, PREFIX + "UUID_SESSION": session}
    for key, value in fields.items():
        if value is None or str(value) == "":
            continue
        if type_ == SUBSCRIPTION_IMAGE_NEW and key in _NOT_IN_NEW:
            continue
        name = key if key.startswith(("GLANCING_EVENT_", PREFIX, "VMCATCHER_CACHE_", "VMCATCHER_RDBMS")) \
            else PREFIX + key
        env[name] = str(value)
    return env


@dataclass(frozen=True)
class Event:
    """One recorded event."""

    id: int
    session: str
    type: str
    env: Mapping[str, str]
    status: str
    attempts: int
    last_error: Optional[str]
    created_at: str
    done_at: Optional[str]

    def to_dict(self) -> Dict[str, Any]:
        return {"id": self.id, "session": self.session, "type": self.type, "env": dict(self.env),
                "status": self.status, "attempts": self.attempts, "last_error": self.last_error,
                "created_at": self.created_at, "done_at": self.done_at}


def _event(row: Any) -> Event:
    return Event(row["id"], row["session"], row["type"], json.loads(row["env"]), row["status"], row["attempts"],
                 row["last_error"], row["created_at"], row["done_at"])


def run_handler(command: str, env: Mapping[str, str], timeout: float) -> Optional[str]:
    """Run ``command`` through the shell; None when it exited 0, else why it failed (one line).
    On timeout its whole process group is killed. Raises nothing."""
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(command, shell=True, env=dict(env), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        except OSError as e:
            return f"cannot run the event command: {e.strerror or e}"
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return f"the event command ran longer than {timeout:g} s and was killed"
        if code == 0:
            return None
        errors.seek(0)
        lines = [ln for ln in errors.read()[-4096:].decode("utf-8", "replace").splitlines() if ln.strip()]
        said = f": {lines[-1].strip()[:200]}" if lines else ""
        return f"the event command exited with status {code}{said}"



class EventLog:
    """Records and runs the events of one run (``session``). Without a command, nothing is
    recorded: there is nobody to tell. ``base_env`` is the environment handlers inherit (the CLI
    passes its own; library code reads none)."""

    def __init__(self, db: Any, command: Optional[str], timeout: float = 60.0, session: Optional[str] = None,
                 base_env: Optional[Mapping[str, str]] = None, extra: Optional[Mapping[str, str]] = None) -> None:
        self.db, self.command, self.timeout = db, command or None, timeout
        self.session = session or str(uuid.uuid1())
        self.base_env = dict(base_env or {})
        self.extra = dict(extra or {})  # added to every event (VMCATCHER_CACHE_DIR_*, VMCATCHER_RDBMS)
        self.failures = 0

    @property
    def enabled(self) -> bool:
        return self.command is not None

    def emit(self, type_: str, fields: Optional[Mapping[str, Optional[str]]] = None) -> Optional[Event]:
        """Record the event, then run the handler; a failing handler is recorded, never raised."""
        if not self.enabled:
            return None
        env = event_env(type_, self.session, {**self.extra, **(fields or {})})
        with self.db.transaction() as conn:
            cursor = conn.execute("INSERT INTO events(session, type, env, created_at) VALUES (?, ?, ?, ?)",
                                  (self.session, type_, json.dumps(env, sort_keys=True), stamp()))
        return self._run(int(cursor.lastrowid))

    def _run(self, event_id: int) -> Event:
        row = self.db.conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        event = _event(row)
        assert self.command is not None
        error = run_handler(self.command, {**self.base_env, **event.env}, self.timeout)
        status = "done" if error is None else "failed"
        with self.db.transaction() as conn:
            conn.execute("UPDATE events SET status = ?, attempts = attempts + 1, last_error = ?, done_at = ? "
                         "WHERE id = ?", (status, error, stamp() if error is None else None, event_id))
        if error is not None:
            self.failures += 1
            log.warning("event %s (%s, #%d) failed and is kept for a later run: %s", event.type,
                        event.env.get(PREFIX + "DC_IDENTIFIER", "-"), event_id, error)
        return _event(self.db.conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone())

    def replay(self) -> List[Event]:
        """Run every pending or failed event of earlier runs again, oldest first."""
        if not self.enabled:
            return []
        rows = self.db.conn.execute("SELECT id FROM events WHERE status != 'done' AND session != ? ORDER BY id",
                                    (self.session,)).fetchall()
        return [self._run(int(row["id"])) for row in rows]


def undone(db: Any) -> List[Event]:
    """The pending and failed events, oldest first."""
    rows = db.conn.execute("SELECT * FROM events WHERE status != 'done' ORDER BY id").fetchall()
    return [_event(row) for row in rows]


__all__ = ["AVAILABLE_POSTFIX", "AVAILABLE_PREFIX", "EXPIRE_POSTFIX", "EXPIRE_PREFIX", "Event", "EventLog",
           "GLANCE_ID", "IMAGE_FIELDS", "PROCESS_POSTFIX", "PROCESS_PREFIX", "STATUS", "SUBSCRIPTION_IMAGE_NEW",
           "TYPES", "event_env", "image_fields", "run_handler", "undone"]
