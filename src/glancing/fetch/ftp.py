# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""ftp:// through urllib (records from 2014 still list some): no resume, but the same retry
policy for opening and the same whole-transfer bounds as HTTP."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from typing import Any, Iterator, Optional

from glancing.errors import SourceError
from glancing.fetch.bounds import Watchdog, paced_chunks
from glancing.fetch.http import HttpSettings, url_basename

_TRANSIENT = (ConnectionError, TimeoutError, socket.timeout)


def _transient(error: BaseException) -> bool:
    reason = getattr(error, "reason", error)
    return isinstance(error, _TRANSIENT) or isinstance(reason, _TRANSIENT) or (
        isinstance(error, urllib.error.URLError) and "timed out" in str(reason))


class FtpStream:
    """One ftp:// URL; ``FtpStream.open`` connects, the constructor does no I/O."""

    def __init__(self, url: str, settings: HttpSettings = HttpSettings()) -> None:
        self.url = url
        self.name = url_basename(url)
        self.size: Optional[int] = None
        self._settings = settings
        self._response: Optional[Any] = None
        self._watch = Watchdog(url, settings.bounds, settings.clock)

    @classmethod
    def open(cls, url: str, settings: HttpSettings = HttpSettings()) -> "FtpStream":
        """Connect and start the transfer; raise SourceError when that fails."""
        stream = cls(url, settings)
        timeout = stream._timeout()
        try:
            stream._response = settings.retry.call(
                lambda: urllib.request.urlopen(url, timeout=timeout),  # noqa: S310 (scheme checked)
                _transient, url)
        except (OSError, ValueError, EOFError) as e:
            raise SourceError(f"{url}: {getattr(e, 'reason', None) or e}") from e
        length = stream._response.headers.get("Content-Length")
        stream.size = int(length) if length and length.isdigit() else None
        return stream

    def chunks(self) -> Iterator[bytes]:
        response = self._response
        assert response is not None, "stream not open or already closed"
        read1 = getattr(response, "read1", response.read)
        try:
            yield from paced_chunks(read1, self._watch)
        except TimeoutError as e:  # socket.timeout is TimeoutError since Python 3.10
            raise SourceError(f"{self.url}: no byte for {self._timeout():g} s ([fetch] read_timeout)") from e
        except (OSError, EOFError) as e:
            raise SourceError(f"cannot read {self.url}: {getattr(e, 'strerror', None) or e}") from e
        if self.size is not None and self._watch.total < self.size:
            raise SourceError(f"{self.url}: connection closed after {self._watch.total} of {self.size} bytes")

    def _timeout(self) -> float:
        # urllib has one timeout for connecting and reading, control and data connections alike
        return max(self._settings.connect_timeout, self._settings.read_timeout)

    def close(self) -> None:
        if self._response is not None:
            # urllib waits for the server's end-of-transfer reply before it closes the data
            # connection, and a server still sending never gives one (a read_timeout per abort):
            # close the data connection first (response.fp is urllib's close hook, its fp the socket file).
            data = getattr(getattr(self._response, "fp", None), "fp", None)
            if data is not None:
                data.close()
            self._response.close()
            self._response = None
