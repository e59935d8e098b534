# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Is the marketplace there at all? Asked once before a run touches anything.

Every listed ID's record comes from the same marketplace. When it is down, each ID would spend
the fetch layer's whole retry budget (~15 s) only to fail the same way; one probe ends the run
at once with exit status 3 and nothing changed. Any HTTP answer, even 404, counts as up.
"""

from __future__ import annotations

import logging
from typing import Optional

import requests

from glancing.errors import SourceError
from glancing.fetch.http import HttpSettings, new_session
from glancing.retry import RetryPolicy

log = logging.getLogger(__name__)


def check_reachable(base: str, http: HttpSettings = HttpSettings(), retry: Optional[RetryPolicy] = None) -> None:
    """Raise SourceError when ``base`` cannot be reached (connection refused, DNS, timeout).

    ``retry``: how often to ask again (default: twice, from the fetch backoff, no jitter)."""
    policy = retry or RetryPolicy(retries=2, backoff=http.backoff, jitter=False)
    session = new_session(http)

    def probe() -> None:
        session.get(base, timeout=(http.connect_timeout, http.read_timeout), stream=True).close()

    def unreachable(error: BaseException) -> bool:
        return isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))

    try:
        policy.call(probe, unreachable, f"marketplace {base}",
                    on_retry=lambda e, pause: log.warning("marketplace %s: %s; retrying in %.1f s",
                                                          base, _reason(e), pause))
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
        raise SourceError(f"the marketplace {base} cannot be reached ({_reason(e)}); nothing was done") from e
    finally:
        session.close()


def _reason(error: BaseException) -> str:
    return type(error).__name__ if not str(error) else str(error).splitlines()[0][:200]
