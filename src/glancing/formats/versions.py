# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one version order: which of two versions of an appliance, or of an image list, is newer.

The rule (issue 5): versions that are numeric or dotted-numeric compare numerically
(``10`` > ``9``, ``1.10`` > ``1.9``); otherwise the endorsement date decides. Applied pairwise
that rule is not transitive when numeric and free-form versions mix (``2``/2019, ``1``/2021 and
``x``/2020 would form a cycle), so the rule is chosen once per *set* of versions: numerically
when every version in the set is numeric, by endorsement date otherwise. For two versions this is
exactly the issue's pairwise rule, and for any set it is a total order.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

_NUMERIC = re.compile(r"\d+(?:\.\d+)*")
# Missing dates sort as the oldest possible endorsement.
_NO_DATE = _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)


@dataclass(frozen=True)
class VersionInfo:
    """One appliance version: its version string (may be empty) and its endorsement date."""

    version: Optional[str]
    endorsed: Optional[_dt.datetime] = None


def numeric_parts(version: Optional[str]) -> Optional[Tuple[int, ...]]:
    """``"1.10"`` -> ``(1, 10)``; None when the version is not numeric or dotted-numeric.

    Trailing zero components are dropped so ``1.0`` and ``1`` are the same version.
    """
    text = (version or "").strip()
    if not _NUMERIC.fullmatch(text):
        return None
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def is_numeric(version: Optional[str]) -> bool:
    """True when ``version`` is numeric or dotted-numeric (compared numerically)."""
    return numeric_parts(version) is not None


def _date(info: VersionInfo) -> _dt.datetime:
    when = info.endorsed
    if when is None:
        return _NO_DATE
    # Naive datetimes are taken as UTC: record dates are UTC ("...Z") by the format's rules.
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


def _cmp(a: object, b: object) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


def _compare(a: VersionInfo, b: VersionInfo, numerically: bool) -> int:
    if numerically:
        by_number = _cmp(numeric_parts(a.version), numeric_parts(b.version))
        if by_number:
            return by_number
    by_date = _cmp(_date(a), _date(b))
    if by_date:
        return by_date
    # Last resort so the order stays total and deterministic; equal only when truly equal.
    return _cmp((a.version or "").strip(), (b.version or "").strip())


def compare_versions(a: VersionInfo, b: VersionInfo) -> int:
    """-1, 0 or 1 as ``a`` is older than, the same as, or newer than ``b``.

    Numeric when both versions are numeric or dotted (date breaks a numeric tie), else by
    endorsement date (a missing date is the oldest). Raises nothing.
    """
    return _compare(a, b, is_numeric(a.version) and is_numeric(b.version))


def sort_versions(items: Iterable[VersionInfo]) -> List[VersionInfo]:
    """Oldest first, by the rule chosen once for the whole set (a total order). Raises nothing."""
    listed = list(items)
    numerically = all(is_numeric(i.version) for i in listed)
    return sorted(listed, key=functools.cmp_to_key(lambda a, b: _compare(a, b, numerically)))


def comparable(a: VersionInfo, b: VersionInfo) -> bool:
    """True when the rule can really tell ``a`` and ``b`` apart (not just by the tie-breaker).

    Two numeric versions always can; otherwise both need an endorsement date.
    """
    if is_numeric(a.version) and is_numeric(b.version):
        return True
    return a.endorsed is not None and b.endorsed is not None


def is_downgrade(new: VersionInfo, seen: VersionInfo) -> bool:
    """Whether ``new`` is older than ``seen`` by the one order; False when it cannot tell.

    Used for image lists, whose subscription remembers the version last seen: two numeric
    versions compare numerically, others by their dates when both are known.
    """
    if is_numeric(new.version) and is_numeric(seen.version):
        # Only the numbers: "1" and "1.0" are one version, not ordered by a tie-breaker.
        return _cmp(numeric_parts(new.version), numeric_parts(seen.version)) < 0
    return new.endorsed is not None and seen.endorsed is not None and _date(new) < _date(seen)
