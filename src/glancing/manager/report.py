# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The run report: one outcome per listed ID plus pruning, rendered as JSON or a human summary.

Messages pass through ``redact`` so a URL with credentials never reaches a log or report.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from glancing.errors import OK, PARTIAL, GlancingError, exit_code
from glancing.manager.plan import Action, Decision
from glancing.targets.names import stamp

_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_SECRET_PARAM = re.compile(r"(?i)\b((?:password|passwd|token|secret|api[_-]?key|sig)=)[^&\s]+")


def redact(text: str) -> str:
    """``text`` with URL user:password parts and secret-looking query values masked."""
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


class Status(enum.Enum):
    """How one listed ID ended."""

    OK = "ok"            # done (or planned, in a dry run), including "nothing to do"
    REFUSED = "refused"  # a decision not to act that needs a human (downgrade, conflict)
    FAILED = "failed"    # an error: bad record, dead source, Glance failure


@dataclass
class ImageOutcome:
    """What happened to one listed ID."""

    mpid: str
    status: Status
    action: str  # an Action value, or "error" when it failed before a decision
    message: str = ""
    appliance: Optional[str] = None
    version: Optional[str] = None
    where: Optional[str] = None  # the list's file:line
    image_id: Optional[str] = None    # the image now current for it
    retired_id: Optional[str] = None  # the image retired as a backup
    bytes_uploaded: int = 0
    seconds: float = 0.0
    error_code: Optional[int] = None  # the exit code of the error, for failures

    @classmethod
    def from_decision(cls, decision: Decision, where: Optional[str] = None, **done: Any) -> "ImageOutcome":
        """The outcome of a decision carried out (or planned); ``done`` sets image_id etc."""
        refused = decision.action is Action.REFUSE
        target = decision.target.id if decision.target and not refused else None
        outcome = cls(
            mpid=decision.candidate.mpid, status=Status.REFUSED if refused else Status.OK,
            action=decision.action.value, message=redact(decision.reason),
            appliance=decision.candidate.appliance, version=decision.candidate.version,
            where=where, image_id=target,
            retired_id=decision.retire.id if decision.retire else None)
        for key, value in done.items():
            setattr(outcome, key, value)
        return outcome

    @classmethod
    def from_error(cls, mpid: str, error: BaseException, where: Optional[str] = None,
                   decision: Optional[Decision] = None) -> "ImageOutcome":
        """The outcome of an ID whose processing raised ``error``."""
        text = str(error) if isinstance(error, GlancingError) else f"{type(error).__name__}: {error}"
        return cls(
            mpid=mpid, status=Status.FAILED,
            action=decision.action.value if decision else "error", message=redact(text),
            appliance=decision.candidate.appliance if decision else None,
            version=decision.candidate.version if decision else None,
            where=where, error_code=exit_code(error))


@dataclass
class PruneOutcome:
    """What happened to one backup beyond --keep."""

    image_id: str
    appliance: str
    result: str  # "deleted", "deactivated" (deletion refused, e.g. in use), "failed", "planned"
    message: str = ""


def _iso(when: Optional[_dt.datetime]) -> Optional[str]:
    return stamp(when) if when else None


@dataclass
class RunReport:
    """Everything one glance_manager run did. Safe to fill from several worker threads."""

    started: _dt.datetime
    dry_run: bool = False
    keep: int = 1
    finished: Optional[_dt.datetime] = None
    outcomes: List[ImageOutcome] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    pruned: List[PruneOutcome] = field(default_factory=list)
    pruning_skipped: Optional[str] = None
    expired: List[PruneOutcome] = field(default_factory=list)  # images whose ID left the lists
    fatal: Optional[str] = None  # why the run stopped before handling every ID (e.g. Glance down)
    fatal_code: Optional[int] = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: ImageOutcome) -> None:
        """Record one ID's outcome."""
        with self._lock:
            self.outcomes.append(outcome)

    def warn(self, message: str) -> None:
        """Record a warning (a list file line, a skipped step)."""
        with self._lock:
            self.warnings.append(redact(message))

    def add_prune(self, outcome: PruneOutcome) -> None:
        """Record what happened to one backup beyond --keep."""
        with self._lock:
            self.pruned.append(outcome)

    def abort(self, error: BaseException) -> None:
        """Record the error that stopped the whole run."""
        self.fatal = redact(str(error))
        self.fatal_code = exit_code(error)

    def finish(self, when: Optional[_dt.datetime] = None) -> None:
        """Stamp the end of the run."""
        self.finished = when or _dt.datetime.now(_dt.timezone.utc)

    @property
    def had_failures(self) -> bool:
        """True when an image failed: the rule that holds back pruning."""
        return any(o.status is Status.FAILED for o in self.outcomes)

    @property
    def duration(self) -> float:
        """Seconds from start to finish (to now when not finished)."""
        end = self.finished or _dt.datetime.now(_dt.timezone.utc)
        return max((end - self.started).total_seconds(), 0.0)

    @property
    def bytes_uploaded(self) -> int:
        """Bytes uploaded to Glance in this run."""
        return sum(o.bytes_uploaded for o in self.outcomes)

    def count(self, status: Optional[Status] = None, action: Optional[str] = None) -> int:
        """How many outcomes have this status and/or action."""
        return sum(1 for o in self.outcomes
                   if (status is None or o.status is status) and (action is None or o.action == action))

    @property
    def succeeded(self) -> bool:
        """True when every ID ended OK and no backup failed to be pruned."""
        return (self.fatal is None and self.count(Status.OK) == len(self.outcomes)
                and not any(p.result == "failed" for p in self.pruned + self.expired))

    def exit_code(self) -> int:
        """0 when everything succeeded, the fatal error's code (nothing could be done), else
        errors.PARTIAL (some images failed or were refused, the others were handled)."""
        if self.fatal_code is not None:
            return self.fatal_code
        return OK if self.succeeded else PARTIAL

    def counts(self) -> Dict[str, int]:
        """The numbers the summary, the JSON and the metrics share."""
        ok = Status.OK
        return {
            "checked": len(self.outcomes),
            "unchanged": self.count(ok, Action.NOTHING.value),
            "imported": self.count(ok, Action.IMPORT.value) + self.count(ok, Action.UPGRADE.value),
            "restored": self.count(ok, Action.RESTORE.value),
            "adopted": self.count(ok, Action.ADOPT.value),
            "refused": self.count(Status.REFUSED),
            "failed": self.count(Status.FAILED),
            "backups_deleted": sum(1 for p in self.pruned if p.result == "deleted"),
            "backups_deactivated": sum(1 for p in self.pruned if p.result == "deactivated"),
            "backups_prune_failed": sum(1 for p in self.pruned if p.result == "failed"),
        }

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict (stable keys, ISO UTC times)."""
        def plain(obj: Any) -> Dict[str, Any]:
            return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in vars(obj).items()}
        return {
            "started": _iso(self.started), "finished": _iso(self.finished),
            "duration_seconds": round(self.duration, 3), "dry_run": self.dry_run, "keep": self.keep,
            "ok": self.succeeded, "exit_code": self.exit_code(), "counts": self.counts(),
            "bytes_uploaded": self.bytes_uploaded,
            "images": [plain(o) for o in self.outcomes], "warnings": list(self.warnings),
            "pruned": [plain(p) for p in self.pruned], "pruning_skipped": self.pruning_skipped,
            "expired": [plain(p) for p in self.expired],
            "fatal": self.fatal,
        }

    def to_json(self) -> str:
        """The report as one JSON document."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def summary(self) -> str:
        """A few human lines: the counts, what was held back, and every failure and refusal."""
        c = self.counts()
        head = "dry run, nothing changed; the plan: " if self.dry_run else ""
        lines = [
            f"{head}{c['checked']} checked, {c['imported']} imported, {c['restored']} restored, "
            f"{c['adopted']} adopted, {c['unchanged']} unchanged, {c['refused']} refused, "
            f"{c['failed']} failed; {human_bytes(self.bytes_uploaded)} uploaded in {self.duration:.1f}s",
        ]
        if self.pruned:
            lines.append(f"backups: {c['backups_deleted']} deleted, {c['backups_deactivated']} "
                         f"deactivated (in use), {c['backups_prune_failed']} could not be pruned")
        if self.expired:
            lines.append("no longer listed, expired: " + ", ".join(
                f"{p.appliance} ({p.image_id}: {p.result})" for p in self.expired))
        if self.fatal:
            lines.append(f"run aborted: {self.fatal}")
        if self.pruning_skipped:
            lines.append(f"pruning skipped: {self.pruning_skipped}")
        for o in self.outcomes:
            if o.status is not Status.OK:
                where = f" [{o.where}]" if o.where else ""
                lines.append(f"{o.status.value.upper()} {o.mpid}{where}: {o.message}")
        lines.extend(f"FAILED prune of {p.image_id} ({p.appliance}): {p.message}"
                     for p in self.pruned if p.result == "failed")
        return "\n".join(lines)


def human_bytes(count: int) -> str:
    """``1536`` -> ``1.5 KiB``."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"
