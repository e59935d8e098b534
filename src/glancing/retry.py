# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one retry policy: every layer that sends something again (HTTP downloads, Glance calls,
a whole image import in the manager) asks a ``RetryPolicy`` how long to wait and when to stop.

Attempts never multiply across layers because each layer gets its budget from the same settings
(``[fetch] retries``/``backoff``, ``[glance] retries``/``backoff``), and the clock and the sleep
are injected so tests run without waiting.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` further attempts after the first, paused ``backoff`` * 2**n seconds (capped at
    ``max_pause``, jittered by +-50% so parallel jobs that collided do not collide again), and
    never past ``deadline`` seconds from the first attempt when one is set."""

    retries: int = 5
    backoff: float = 0.5
    max_pause: float = 30.0
    jitter: bool = True
    deadline: Optional[float] = None
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)
    rand: Callable[[float, float], float] = field(default=random.uniform, compare=False, repr=False)

    def pauses(self) -> Iterator[float]:
        """The pause before each further attempt, in order (``retries`` of them)."""
        for n in range(self.retries):
            yield self.pause(n)

    def pause(self, n: int) -> float:
        """The pause before further attempt ``n`` (0-based), for callers that count attempts
        themselves (a download's reconnects, whose budget resets whenever bytes arrive)."""
        pause = min(self.backoff * (2 ** min(n, 64)), self.max_pause)  # 2**n of a huge n overflows a float
        return pause * self.rand(0.5, 1.5) if self.jitter else pause

    def call(self, fn: Callable[[], T], retry_if: Callable[[BaseException], bool], what: str = "request",
             on_retry: Optional[Callable[[BaseException, float], None]] = None) -> T:
        """``fn()`` until it returns; an exception that ``retry_if`` rejects, or the last one once
        the budget or the deadline is spent, propagates unchanged."""
        start = self.clock()
        pauses = self.pauses()
        while True:
            try:
                return fn()
            except Exception as e:  # noqa: BLE001 - filtered by retry_if, re-raised otherwise
                if not retry_if(e):
                    raise
                pause = next(pauses, None)
                if pause is None or (self.deadline is not None and self.clock() - start + pause > self.deadline):
                    raise
                if on_retry is not None:
                    on_retry(e, pause)
                else:
                    log.warning("%s: %s; retrying in %.1f s", what, e, pause)
                self.sleep(pause)


NO_RETRY = RetryPolicy(retries=0)

__all__ = ["NO_RETRY", "RetryPolicy"]
