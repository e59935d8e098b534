# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""HTTP(S) downloads that stream, time out, retry transient failures and resume with Range.

The digests are computed on the bytes as served, so the request asks for no content coding
(``Accept-Encoding: identity``) and reads the raw body. A dropped connection resumes at the byte
where it stopped (``Range`` + ``If-Range``): the hashers already saw the earlier bytes, so a
restart from zero is never needed.
"""

from __future__ import annotations

import logging
import posixpath
import time
from dataclasses import dataclass
from typing import Iterator, Optional
from urllib.parse import unquote, urlsplit

import requests
import urllib3.exceptions

from glancing import __version__
from glancing.errors import SourceError
from glancing.fetch.base import CHUNK_SIZE

log = logging.getLogger(__name__)

_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    urllib3.exceptions.IncompleteRead,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts (seconds) and the retry budget: attempts in a row that make no progress."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5  # first pause; doubles each failed attempt, capped at 30 s


def new_session() -> requests.Session:
    """A requests session that asks for the bytes exactly as stored."""
    session = requests.Session()
    session.headers.update({"User-Agent": f"glancing/{__version__}", "Accept-Encoding": "identity"})
    return session


def url_basename(url: str) -> str:
    """The last path segment of ``url``, unquoted ('' when the path ends with '/')."""
    return unquote(posixpath.basename(urlsplit(url).path))


class _Retry(Exception):
    """Internal: an attempt failed in a way worth retrying."""


class HttpStream:
    """One URL, opened on construction (so a dead location fails before any byte is used)."""

    def __init__(self, url: str, session: requests.Session, settings: HttpSettings = HttpSettings()) -> None:
        self.url = url
        self.name = url_basename(url)
        self._session = session
        self._settings = settings
        self._response: Optional[requests.Response] = None
        self._validator: Optional[str] = None
        self._skip = 0  # bytes to drop after a resume the server answered with the whole body
        self.size: Optional[int] = None
        self._response = self._with_retries(lambda: self._request(0))
        length = self._response.headers.get("Content-Length")
        self.size = int(length) if length and length.isdigit() else None
        self._validator = self._response.headers.get("ETag") or self._response.headers.get("Last-Modified")

    def _with_retries(self, attempt_fn):  # type: ignore[no-untyped-def]
        failures = 0
        while True:
            try:
                return attempt_fn()
            except _Retry as e:
                failures += 1
                if failures > self._settings.retries:
                    raise SourceError(f"{self.url}: {e} (gave up after {failures} attempts)") from e
                pause = min(self._settings.backoff * (2 ** (failures - 1)), 30.0)
                log.warning("%s: %s; retrying in %.1f s", self.url, e, pause)
                time.sleep(pause)

    def _request(self, offset: int) -> requests.Response:
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self._validator:
                headers["If-Range"] = self._validator
        try:
            response = self._session.get(
                self.url, headers=headers, stream=True, allow_redirects=True,
                timeout=(self._settings.connect_timeout, self._settings.read_timeout))
        except requests.exceptions.InvalidURL as e:
            raise SourceError(f"{self.url}: invalid URL") from e
        except requests.exceptions.TooManyRedirects as e:
            raise SourceError(f"{self.url}: too many redirects") from e
        except requests.exceptions.SSLError as e:
            raise SourceError(f"{self.url}: TLS error: {e}") from e
        except _TRANSIENT_ERRORS as e:
            raise _Retry(_reason(e)) from e
        if response.status_code in _TRANSIENT_STATUS:
            response.close()
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            response.close()
            raise SourceError(f"{self.url}: HTTP {response.status_code} {response.reason}")
        return response

    def _resume(self, offset: int) -> requests.Response:
        response = self._request(offset)
        if response.status_code == 206:
            start = response.headers.get("Content-Range", "").split(" ")[-1].split("-")[0]
            if start != str(offset):
                response.close()
                raise SourceError(f"{self.url}: server resumed at byte {start}, not {offset}")
            return response
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if self._validator and validator and validator != self._validator:
            response.close()
            raise SourceError(f"{self.url} changed on the server while it was being downloaded")
        # No Range support: read the body again and drop what was already hashed.
        log.warning("%s: server ignored the Range request; skipping %d bytes already read", self.url, offset)
        self._skip = offset
        return response

    def chunks(self) -> Iterator[bytes]:
        offset = 0
        while True:
            response = self._response
            assert response is not None, "stream already closed"
            skip, self._skip = self._skip, 0
            try:
                for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                    if skip:
                        drop = min(skip, len(chunk))
                        chunk, skip = chunk[drop:], skip - drop
                        if not chunk:
                            continue
                    offset += len(chunk)
                    yield chunk
                if self.size is not None and offset < self.size:
                    raise urllib3.exceptions.IncompleteRead(offset, self.size - offset)
                return
            except _TRANSIENT_ERRORS as e:
                log.warning("%s: connection lost at byte %d (%s); resuming", self.url, offset, _reason(e))
                response.close()
                resume_at = offset
                self._response = self._with_retries(lambda: self._resume(resume_at))

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None


def _reason(error: BaseException) -> str:
    """A short reason from requests' deeply nested connection errors."""
    text = str(error)
    for marker in ("Connection refused", "timed out", "Name or service not known", "Connection reset",
                   "IncompleteRead", "Connection broken", "Temporary failure in name resolution"):
        if marker in text:
            return marker.lower()
    return type(error).__name__
