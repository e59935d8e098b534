# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The verdict of a quarantine: every outcome of the built-in checks and the site scripts, and
what a rejected image carries as properties (the failed checks and their output, trimmed)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from glancing.errors import VerificationError
from glancing.quarantine.checks import Outcome, Status
from glancing.targets import names

# Glance keeps 255 characters per property value; the target's limits cut longer ones.
DETAIL_MAX = 255


@dataclass(frozen=True)
class Verdict:
    outcomes: Sequence[Outcome]

    @property
    def failed(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.status is Status.FAIL]

    @property
    def passed(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line: which checks failed, with the first one's output."""
        if self.passed:
            ran = [o.name for o in self.outcomes if o.status is Status.PASS]
            return f"passed {len(ran)} checks" + (f" ({', '.join(ran)})" if ran else "")
        first = self.failed[0]
        return f"failed {', '.join(o.name for o in self.failed)}: {first.detail}"

    def properties(self, when: Optional[_dt.datetime] = None) -> Dict[str, str]:
        """What a rejected image carries: the failed checks, when, and each one's output."""
        props = {names.PROP_REJECTED_CHECKS: ",".join(o.name for o in self.failed),
                 names.PROP_REJECTED_AT: names.stamp(when)}
        for outcome in self.failed:
            key = names.PROP_CHECK_PREFIX + outcome.name.replace(":", "_").replace("-", "_")
            props[key] = trim(outcome.detail or "failed")
        return props

    def to_json(self) -> Dict[str, Any]:
        return {"passed": self.passed, "checks": [o.to_dict() for o in self.outcomes]}


def trim(text: str, limit: int = DETAIL_MAX) -> str:
    """One line of at most ``limit`` characters (the end of a long output cut, marked)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1] + "\u2026"


def rejected_digests(images: Iterable[Mapping[str, Any]]) -> Dict[str, str]:
    """sha512 of the bytes as given (a list's or an event's) -> the id of the image the
    quarantine rejected with those bytes: what is not imported again until a person decides."""
    return {str(i[names.PROP_DIGEST_PREFIX + "sha512"]): str(i["id"]) for i in images
            if names.TAG_REJECTED in (i.get("tags") or ()) and i.get(names.PROP_DIGEST_PREFIX + "sha512")}


class QuarantineRejected(VerificationError):
    """An image failed the site's checks: it stays hidden in quarantine (exit 1)."""

    def __init__(self, image_id: str, verdict: Verdict) -> None:
        super().__init__(f"image {image_id} stays in quarantine: {verdict.summary()}")
        self.image_id = image_id
        self.verdict = verdict


__all__ = ["QuarantineRejected", "Verdict", "rejected_digests", "trim"]
