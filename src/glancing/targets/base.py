# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The ``Target`` protocol: where a verified image goes. The pipeline and the manager talk to a
target through it and nothing else; ``targets.glance`` is the first implementation.

An image is handed around as a flat dict in Glance v2 shape (``id``, ``name``, ``status``,
``tags``, ``os_hidden``, ``created_at``, ``size``, ``checksum``, ``os_hash_algo``,
``os_hash_value``, ``visibility``, ``owner``, and every custom property as a top-level string).
A target that is not Glance maps its own records to that shape.

Payloads: Glance takes a byte stream; a target that registers an image from a URL or a local
path (OpenNebula) says so in ``accepts``, and the pipeline hands it a ``Payload`` with a URL or a
path instead of the stream.
"""

from __future__ import annotations

import datetime as _dt
import enum
import os
import socket
from dataclasses import dataclass, field
from typing import (Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Protocol, Sequence, Tuple,
                    runtime_checkable)

from glancing.errors import GlanceError, UsageError
from glancing.targets import names

Image = Dict[str, Any]


class Reader(Protocol):
    def read(self, size: int = -1) -> bytes: ...


class PayloadKind(enum.Enum):
    STREAM = "stream"  # bytes pushed by glancing (a verifying reader)
    URL = "url"        # the target fetches the image itself
    PATH = "path"      # a local file the target registers


@dataclass(frozen=True)
class Payload:
    """The bytes to store: exactly one of a stream, a URL or a local path."""

    stream: Optional[Reader] = None
    url: Optional[str] = None
    path: Optional[str] = None
    size: Optional[int] = None  # when known in advance; a stream may not know it

    @property
    def kind(self) -> PayloadKind:
        if self.stream is not None:
            return PayloadKind.STREAM
        return PayloadKind.URL if self.url else PayloadKind.PATH


class UploadInterrupted(GlanceError):
    """Sending the bytes failed transiently (a lost connection, a 5xx on the upload itself).

    The staged copy was discarded; only the caller can send the whole image again (a stream is
    consumed): the one failure a whole-image retry is for.
    """


@dataclass(frozen=True)
class Limits:
    """What a target accepts as a name, property and container format (known without asking it)."""

    name_max: int = 255
    property_key_max: int = 255
    property_value_max: int = 255
    container_formats: FrozenSet[str] = frozenset()

    def check_name(self, name: str) -> None:
        """Raise UsageError when the target would refuse ``name``."""
        if not name.strip():
            raise UsageError("the image name is empty")
        if len(name) > self.name_max:
            raise UsageError(f"the image name is {len(name)} characters long; the target allows {self.name_max}: "
                             f"{name[:40]}...")

    def check_container_format(self, value: str) -> None:
        if self.container_formats and value not in self.container_formats:
            raise UsageError(f"container format {value!r} is not one of {', '.join(sorted(self.container_formats))}")

    def fit(self, properties: Mapping[str, Any]) -> Dict[str, str]:
        """The non-empty properties as strings, long values cut to the limit with an ellipsis (a
        long DN or summary); a key over the limit is a UsageError."""
        fitted: Dict[str, str] = {}
        for key, value in properties.items():
            if value is None or str(value) == "":
                continue
            if len(key) > self.property_key_max:
                raise UsageError(f"property name {key[:40]}... is longer than {self.property_key_max} characters")
            text = str(value)
            if len(text) > self.property_value_max:
                text = text[:self.property_value_max - 1] + "\u2026"
            fitted[key] = text
        return fitted


@dataclass(frozen=True)
class PendingMark:
    """Who staged an upload: the command, the host, the process and when it started."""

    owner: str
    host: str
    pid: int
    started: _dt.datetime

    @classmethod
    def here(cls, owner: str, now: Optional[_dt.datetime] = None) -> "PendingMark":
        return cls(owner, socket.gethostname(), os.getpid(), now or _dt.datetime.now(_dt.timezone.utc))

    def properties(self, name: str) -> Dict[str, str]:
        return {names.PROP_PENDING_NAME: name, names.PROP_PENDING_OWNER: self.owner,
                names.PROP_PENDING_HOST: self.host, names.PROP_PENDING_PID: str(self.pid),
                names.PROP_PENDING_STARTED: names.stamp(self.started)}


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this host (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class LeftoverPolicy:
    """When a staged upload of our own kind is a dead run's leftover (see ``judge_leftover``)."""

    owner: str
    # Another host's upload of our kind (or one without a host) older than this is dead.
    foreign_after: _dt.timedelta = _dt.timedelta(days=1)
    host: str = field(default_factory=socket.gethostname)
    alive: Any = field(default=pid_alive, compare=False, repr=False)


def judge_leftover(image: Mapping[str, Any], policy: LeftoverPolicy, now: _dt.datetime) -> str:
    """``remove``: a dead run of our kind left it; ``live``: a run may still be sending it;
    ``other``: another command's (never ours to remove); ``stale-other``: another command's,
    older than ``foreign_after`` (worth a warning). Raises nothing."""
    started = names.parse_stamp(image.get(names.PROP_PENDING_STARTED)) or names.parse_stamp(image.get("created_at"))
    old = started is not None and now - started > policy.foreign_after
    if image.get(names.PROP_PENDING_OWNER) != policy.owner:
        return "stale-other" if old else "other"
    host, pid = image.get(names.PROP_PENDING_HOST), str(image.get(names.PROP_PENDING_PID) or "")
    if host == policy.host and pid.isdigit():
        # Same host: the process says it all (a reused pid keeps it, the safe mistake).
        return "live" if int(pid) == os.getpid() or policy.alive(int(pid)) else "remove"
    return "remove" if old else "live"


@dataclass(frozen=True)
class Staged:
    """A hidden upload the target holds, not yet released."""

    id: str
    name: str  # the target's temporary name


@dataclass(frozen=True)
class StoredCopy:
    """What the target itself measured of the bytes it stored."""

    id: str
    status: str
    size: Optional[int]
    digests: Mapping[str, str]  # algorithm -> hex digest, for each algorithm the target computed


@dataclass(frozen=True)
class Release:
    """How a staged upload becomes the image users see."""

    name: str
    visibility: str
    properties: Mapping[str, str] = field(default_factory=dict)
    members: Tuple[str, ...] = ()  # project ids it is shared with (visibility becomes shared)
    protected: bool = False        # the target's deletion protection (Glance's protected flag)


@dataclass(frozen=True)
class StageRequest:
    name: str  # the name it will be released under
    disk_format: str
    container_format: str
    mark: PendingMark


@runtime_checkable
class Target(Protocol):
    """A place images are imported into. Every failure is a GlanceError (exit code 4)."""

    limits: Limits
    computes: Tuple[str, ...]          # digests the target computes of what it stores
    accepts: FrozenSet[PayloadKind]
    project: Optional[str]             # whose images this target manages (None: every visible one)

    def current(self, name: str) -> List[Image]:
        """The visible images called ``name`` that this project owns (what a new one replaces)."""

    def managed(self) -> List[Image]:
        """Every image glancing manages here (tag ``glancing``), hidden or not, staged ones too."""

    def with_digest(self, algorithm: str, value: str) -> List[Image]:
        """This project's images whose stored bytes have that digest (managed or not)."""

    def get(self, image_id: str) -> Image:
        """One image as it is now."""

    def stage(self, request: StageRequest, payload: Payload) -> Staged:
        """Store the payload hidden under a temporary name, marked as ``request.mark``'s; on any
        failure the partial copy is discarded before the error propagates."""

    def stored(self, staged: Staged) -> StoredCopy:
        """What the target verified of the stored bytes (size, its own digests)."""

    def download(self, image_id: str) -> Iterator[bytes]:
        """The stored bytes of an image."""

    def release(self, staged: Staged, release: Release) -> Image:
        """Give a staged upload its name, visibility and properties; it stops being pending."""

    def retire(self, image: Mapping[str, Any], replaced_by: str, appliance: Optional[str] = None,
               when: Optional[_dt.datetime] = None) -> Image:
        """Keep ``image`` as a hidden backup of ``replaced_by`` (renamed, tagged, still usable)."""

    def adopt(self, image: Mapping[str, Any], name: str, properties: Mapping[str, str]) -> None:
        """Make an unmanaged image a managed current one."""

    def promote(self, image: Mapping[str, Any], name: str) -> None:
        """Make a backup current again under ``name``."""

    def annotate(self, image_id: str, properties: Mapping[str, str]) -> None:
        """Set properties on an image."""

    def expire(self, image: Mapping[str, Any], how: str, when: Optional[_dt.datetime] = None) -> Tuple[str, str]:
        """Retire an image no longer endorsed: hidden and tagged ``glancing-expired`` always, then
        ``how`` = "hide" (nothing more), "deactivate" or "delete" (deactivated when deletion is
        refused). ("hidden" | "deactivated" | "deleted" | "failed", why). Raises nothing."""

    def prune(self, image_id: str) -> Tuple[str, str]:
        """Delete an old backup, or make it unusable when deletion is refused: ("deleted" |
        "deactivated" | "failed", why). Raises nothing."""

    def discard(self, image_id: str) -> bool:
        """Delete a staged upload, retrying transient refusals for a bounded time; False (and a
        clear log line) when it is still there. Raises nothing."""

    def clean_leftovers(self, policy: LeftoverPolicy, images: Optional[Sequence[Mapping[str, Any]]] = None,
                        now: Optional[_dt.datetime] = None) -> List[Tuple[Image, str]]:
        """Remove staged uploads dead runs of ``policy.owner`` left behind (from ``images``, else
        from a listing); every pending upload with its verdict (``judge_leftover``, or
        ``removed``/``failed``)."""
