# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one date parser: both formats write UTC timestamps exactly as ``YYYY-MM-DDThh:mm:ssZ``.

The StratusLab server refused anything else, and so do we: a lenient parser would let two
readers of one record disagree about when it expires.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from glancing.errors import RecordError

DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# Signers' clocks are not ours: a date this little ahead of now is not "from the future".
CLOCK_SKEW = dt.timedelta(minutes=5)


def is_strict_date(text: str) -> bool:
    """Whether ``text`` is exactly ``YYYY-MM-DDThh:mm:ssZ`` and a real instant."""
    if not isinstance(text, str) or not _DATE.match(text):
        return False
    try:
        dt.datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        return False
    return True


def parse_date(text: Optional[str], where: str) -> Optional[dt.datetime]:
    """Parse a strict UTC timestamp into an aware datetime; None for None/empty.

    Raises RecordError naming ``where`` when the value is not ``YYYY-MM-DDThh:mm:ssZ``.
    """
    if text is None or not str(text).strip():
        return None
    value = str(text).strip()
    if not is_strict_date(value):
        raise RecordError(f"{where}: {value!r} is not a date of the form YYYY-MM-DDThh:mm:ssZ")
    return dt.datetime.strptime(value, DATE_FORMAT).replace(tzinfo=dt.timezone.utc)


def require_date(text: Optional[str], where: str) -> dt.datetime:
    """Like parse_date, but a missing or empty value is a RecordError too."""
    when = parse_date(text, where)
    if when is None:
        raise RecordError(f"{where}: the date is missing")
    return when


def format_date(when: Optional[dt.datetime]) -> Optional[str]:
    """The strict ``YYYY-MM-DDThh:mm:ssZ`` form of an aware datetime (None stays None)."""
    if when is None:
        return None
    return as_utc(when).strftime(DATE_FORMAT)


def as_utc(when: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def is_future(when: Optional[dt.datetime], now: dt.datetime,
              skew: dt.timedelta = CLOCK_SKEW) -> bool:
    """Whether ``when`` lies beyond ``now`` by more than the allowed clock skew."""
    return when is not None and as_utc(when) > as_utc(now) + skew
