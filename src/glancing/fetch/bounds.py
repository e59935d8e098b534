# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Time bounds of one whole download, which a server that answers every request cannot defeat.

A socket timeout alone bounds only one read: a server that trickles a byte just before each
timeout, that stalls and lets every resume stall again, or that closes each connection short of
its announced length, keeps a download alive forever. The ``Watchdog`` therefore judges the
transfer as a whole, across reconnects and resumes, on net progress (bytes the caller did not
already have), the way curl's ``--speed-limit``/``--speed-time`` do:

- ``stall_timeout``: no net byte for this many seconds;
- ``min_speed``: fewer than this many bytes/s on average over a window of ``stall_timeout``;
- ``max_reconnects``: this many reconnects in a row that brought no byte.

Each is a ``SourceError`` (exit 3) naming the bound and its ``[fetch]`` setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, List

from glancing.errors import SourceError
from glancing.fetch.base import CHUNK_SIZE


@dataclass(frozen=True)
class Bounds:
    """The limits a Watchdog enforces; ``stall_timeout <= 0`` turns the time bounds off."""

    stall_timeout: float = 300.0
    min_speed: float = 1024.0
    max_reconnects: int = 10


class Watchdog:
    """Net progress of one transfer. ``advance`` after every network read, ``reconnecting``
    before every new request after the first; both raise SourceError past a bound."""

    def __init__(self, url: str, bounds: Bounds, clock: Callable[[], float]) -> None:
        self._url = url
        self._bounds = bounds
        self._clock = clock
        now = clock()
        self.total = 0  # net bytes so far
        self._last_progress = now
        self._window_start, self._window_bytes = now, 0
        self._total_at_reconnect = 0
        self.idle_reconnects = 0  # reconnects in a row that brought no byte

    def advance(self, nbytes: int) -> None:
        """Count ``nbytes`` of net progress (0 after a read that brought none) and check."""
        now = self._clock()
        if nbytes:
            self.total += nbytes
            self._last_progress = now
        self.check(now)

    def check(self, now: float, ahead: float = 0.0) -> None:
        """Raise when a bound is passed at ``now`` (or would be after waiting ``ahead`` s)."""
        stall = self._bounds.stall_timeout
        if stall <= 0:
            return
        idle = now + ahead - self._last_progress
        if idle >= stall:
            raise SourceError(f"{self._url} stalled: no progress for {stall:g} s ([fetch] stall_timeout)")
        span = now - self._window_start
        if span < stall:
            return
        got = self.total - self._window_bytes
        if got < self._bounds.min_speed * span:
            raise SourceError(f"{self._url} too slow: {got / span:.0f} bytes/s over {span:.0f} s, below "
                              f"{self._bounds.min_speed:g} bytes/s ([fetch] min_speed)")
        self._window_start, self._window_bytes = now, self.total

    def reconnecting(self) -> int:
        """Count one reconnect; return how many in a row brought no byte (0: the last one did)."""
        if self.total > self._total_at_reconnect:
            self.idle_reconnects = 0
        else:
            self.idle_reconnects += 1
        self._total_at_reconnect = self.total
        if self.idle_reconnects > self._bounds.max_reconnects:
            raise SourceError(f"{self._url}: {self.idle_reconnects} reconnects in a row brought no byte "
                              f"([fetch] max_reconnects = {self._bounds.max_reconnects})")
        return self.idle_reconnects

    def pause_ok(self, pause: float) -> None:
        """Raise now rather than sleep ``pause`` seconds into a bound that would then be passed."""
        self.check(self._clock(), ahead=pause)


def paced_chunks(read1: Callable[[int], bytes], watchdog: Watchdog, skip: int = 0) -> Iterator[bytes]:
    """CHUNK_SIZE pieces from ``read1`` (one network read each, b"" at the end).

    Reading a whole MiB at once would block as long as a trickling server likes; reading what
    each network read brings lets the watchdog see every one. The first ``skip`` bytes are
    dropped (a resume the server answered from byte 0) and are no progress. Bytes read before
    an error are still yielded, so the caller's offset stays exact for the next resume.
    """
    parts: List[bytes] = []
    have = 0
    try:
        while True:
            data = read1(CHUNK_SIZE - have)
            if skip and data:
                drop = min(skip, len(data))
                data, skip = data[drop:], skip - drop
                watchdog.advance(0)
                if not data:
                    continue
            watchdog.advance(len(data))
            if not data:
                break
            parts.append(data)
            have += len(data)
            if have >= CHUNK_SIZE:
                yield parts[0] if len(parts) == 1 else b"".join(parts)
                parts, have = [], 0
    except Exception:
        if parts:
            yield b"".join(parts)
        raise
    if parts:
        yield b"".join(parts)

