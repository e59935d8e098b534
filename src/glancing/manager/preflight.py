# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Is the marketplace there at all? Asked once before a run touches anything.

Every listed ID's record comes from the same marketplace. When it is down, each ID would spend
the fetch layer's whole retry budget (~15 s) only to fail the same way; one probe ends the run
at once with exit status 3 and nothing changed. Any HTTP answer, even 404, counts as up.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import requests

from glancing.errors import SourceError
from glancing.fetch.http import HttpSettings, new_session

log = logging.getLogger(__name__)


def check_reachable(base: str, http: HttpSettings = HttpSettings(), attempts: int = 3,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """Raise SourceError when ``base`` cannot be reached (connection refused, DNS, timeout)."""
    session = new_session()
    reason = ""
    try:
        for attempt in range(attempts):
            try:
                session.get(base, timeout=(http.connect_timeout, http.read_timeout), stream=True).close()
                return
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
                reason = type(e).__name__ if not str(e) else str(e).splitlines()[0][:200]
                if attempt < attempts - 1:
                    pause = http.backoff * 2 ** attempt
                    log.warning("marketplace %s: %s; retrying in %.1f s", base, reason, pause)
                    sleep(pause)
    finally:
        session.close()
    raise SourceError(f"the marketplace {base} cannot be reached ({reason}); nothing was done")
