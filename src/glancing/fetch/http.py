# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""HTTP(S) downloads that stream, time out, retry transient failures and resume with Range.

The digests are computed on the bytes as served, so the request asks for no content coding
(``Accept-Encoding: identity``) and reads the raw body. A dropped connection resumes at the byte
where it stopped (``Range`` + ``If-Range``): the hashers already saw the earlier bytes, so a
restart from zero is never needed. Every transfer is bounded as a whole (``fetch.bounds``).

Redirects are followed here, hop by hop, so that each target is checked before it is asked:
only http and https are followed (a ``file://`` or ``ftp://`` target is an UnsafeLocation, as
a record naming one would be), and never from https down to plain http, since an https URL
promises what a SUMS file or an unsigned list fetched through it says was not altered in transit.
"""

from __future__ import annotations

import logging
import os
import posixpath
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, Mapping, Optional, TypeVar, Union
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3.exceptions

from glancing import __version__
from glancing.errors import SourceError, UnsafeLocation, UsageError
from glancing.fetch.bounds import Bounds, Watchdog, paced_chunks
from glancing.retry import RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")

_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_REDIRECT_STATUS = {301, 302, 303, 307, 308}
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
    """Every tunable of a download (the ``[fetch]`` settings); times in seconds.

    ``ca_file``/``tls_verify``/``proxy`` given here win over requests' own environment
    conventions (``REQUESTS_CA_BUNDLE``, ``https_proxy``), which still apply when these are unset.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # without a byte, on one read
    retries: int = 5  # further attempts of a request that failed transiently
    backoff: float = 0.5  # first pause; doubles each failed attempt, capped at max_pause
    max_pause: float = 30.0
    stall_timeout: float = Bounds.stall_timeout  # no net progress of the whole transfer (300 s)
    min_speed: float = Bounds.min_speed  # bytes/s, averaged over stall_timeout (1 KiB/s)
    max_reconnects: int = Bounds.max_reconnects  # reconnects in a row that bring no byte (10)
    max_redirects: int = 10
    ca_file: Optional[str] = None  # PEM bundle of the CAs that sign the mirrors' certificates
    tls_verify: bool = True
    proxy: Optional[str] = None  # e.g. http://proxy:3128, for http and https
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Values come from configuration files: a bad one is a one-line error, not a crash later.
        for key in ("connect_timeout", "read_timeout"):
            if not getattr(self, key) > 0:
                raise UsageError(f"[fetch] {key} must be a positive number of seconds, not {getattr(self, key)!r}")
        for key in ("retries", "backoff", "max_pause", "stall_timeout", "min_speed", "max_reconnects",
                    "max_redirects"):
            if not getattr(self, key) >= 0:
                raise UsageError(f"[fetch] {key} must not be negative, not {getattr(self, key)!r}")

    @property
    def retry(self) -> RetryPolicy:
        """The project's retry policy with this budget, sleep and clock."""
        return RetryPolicy(retries=self.retries, backoff=self.backoff, max_pause=self.max_pause,
                           sleep=self.sleep, clock=self.clock)

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.stall_timeout, self.min_speed, self.max_reconnects)

    def request_kwargs(self) -> Dict[str, object]:
        """``verify``/``proxies`` for requests, given per request so that they beat its
        environment variables (a session-level value loses to ``REQUESTS_CA_BUNDLE``)."""
        kwargs: Dict[str, object] = {"timeout": (self.connect_timeout, self.read_timeout)}
        verify: Union[bool, str] = (self.ca_file or True) if self.tls_verify else False
        if verify is not True:
            kwargs["verify"] = verify
        if self.proxy:
            kwargs["proxies"] = {"http": self.proxy, "https": self.proxy}
        return kwargs


def new_session(settings: Optional[HttpSettings] = None) -> requests.Session:
    """A requests session that asks for the bytes exactly as stored (and, given ``settings``,
    uses its CA file and proxy for callers that call ``session.get`` themselves)."""
    session = requests.Session()
    session.headers.update({"User-Agent": f"glancing/{__version__}", "Accept-Encoding": "identity"})
    if settings is not None:
        if not settings.tls_verify:
            session.verify = False
        elif settings.ca_file:
            session.verify = settings.ca_file
        if settings.proxy:
            session.proxies.update({"http": settings.proxy, "https": settings.proxy})
    return session


def url_basename(url: str) -> str:
    """The last path segment of ``url``, unquoted ('' when the path ends with '/')."""
    return unquote(posixpath.basename(urlsplit(url).path))


def check_ca_file(settings: HttpSettings) -> None:
    """A configured CA file that is not there is a configuration mistake, said before any I/O."""
    if settings.tls_verify and settings.ca_file and not os.path.isfile(settings.ca_file):
        raise UsageError(f"[fetch] ca_file {settings.ca_file!r}: no such file")


class _Retry(Exception):
    """Internal: an attempt failed in a way worth retrying."""


class HttpStream:
    """One URL's body. ``HttpStream.open`` sends the first request (so a dead location fails
    before any byte is used); the constructor does no I/O."""

    def __init__(self, url: str, session: requests.Session, settings: HttpSettings = HttpSettings()) -> None:
        self.url = url
        self.name = url_basename(url)
        self.size: Optional[int] = None
        self._session = session
        self._settings = settings
        self._response: Optional[requests.Response] = None
        self._validator: Optional[str] = None
        self._skip = 0  # bytes to drop after a resume the server answered with the whole body
        self._base = 0  # where the body starts (open_at)
        self._watch = Watchdog(url, settings.bounds, settings.clock)

    @classmethod
    def open(cls, url: str, session: requests.Session, settings: HttpSettings = HttpSettings()) -> "HttpStream":
        """Request ``url``; raise SourceError (unreachable, HTTP error) or UnsafeLocation (redirect)."""
        check_ca_file(settings)
        stream = cls(url, session, settings)
        response = stream._retrying(lambda: stream._request(0))
        length = response.headers.get("Content-Length")
        stream.size = int(length) if length and length.isdigit() else None
        stream._validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        stream._response = response
        return stream

    @classmethod
    def open_at(cls, url: str, offset: int, session: requests.Session,
                settings: HttpSettings = HttpSettings()) -> "HttpStream":
        """Like ``open``, but the body from byte ``offset`` on (a partial file kept by an earlier
        run); a server without Range support sends it whole and the first bytes are dropped."""
        if offset <= 0:
            return cls.open(url, session, settings)
        check_ca_file(settings)
        stream = cls(url, session, settings)
        response = stream._retrying(lambda: stream._resume(offset))
        length = response.headers.get("Content-Length")
        if length and length.isdigit():
            stream.size = int(length) + (offset if response.status_code == 206 else 0)
        stream._validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        stream._response, stream._base = response, offset
        return stream

    def _retrying(self, attempt: Callable[[], T]) -> T:
        def on_retry(error: BaseException, pause: float) -> None:
            self._watch.pause_ok(pause)
            log.warning("%s: %s; retrying in %.1f s", self.url, error, pause)

        try:
            return self._settings.retry.call(attempt, lambda e: isinstance(e, _Retry), self.url, on_retry)
        except _Retry as e:
            raise SourceError(f"{self.url}: {e} (gave up after {self._settings.retries + 1} attempts)") from e

    def _request(self, offset: int) -> requests.Response:
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self._validator:
                headers["If-Range"] = self._validator
        response = self._follow(headers)
        if response.status_code in _TRANSIENT_STATUS:
            response.close()
            raise _Retry(f"HTTP {response.status_code}")
        if not 200 <= response.status_code < 300:
            response.close()
            # The reason phrase is the server's text: printable characters only, kept short.
            reason = "".join(c for c in (response.reason or "")[:80] if c.isprintable())
            raise SourceError(f"{self.url}: HTTP {response.status_code} {reason}".rstrip())
        return response

    def _follow(self, headers: Mapping[str, str]) -> requests.Response:
        """GET, following redirects hop by hop; each target is checked before it is asked."""
        url = self.url
        for _ in range(self._settings.max_redirects + 1):
            response = self._send(url, headers)
            target = response.headers.get("Location")
            if response.status_code not in _REDIRECT_STATUS or not target:
                return response
            response.close()
            try:
                target = urljoin(url, target)
            except ValueError as e:
                raise SourceError(f"{self.url}: redirected to an invalid URL {target!r}") from e
            _check_redirect(self.url, url, target)
            url = target
        raise SourceError(f"{self.url}: more than {self._settings.max_redirects} redirects")

    def _send(self, url: str, headers: Mapping[str, str]) -> requests.Response:
        try:
            return self._session.get(url, headers=headers, stream=True, allow_redirects=False,
                                     **self._settings.request_kwargs())  # type: ignore[arg-type]
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema, ValueError) as e:
            # requests parses a redirect's target even when not following it: name both
            raise SourceError(f"{self.url}: invalid URL {url!r}, or an invalid redirect from it") from e
        except requests.exceptions.SSLError as e:
            raise SourceError(f"{self.url}: TLS error: {_reason(e)}") from e
        except requests.exceptions.ProxyError as e:
            raise SourceError(f"{self.url}: proxy error: {_reason(e)}") from e
        except requests.exceptions.ConnectTimeout as e:
            raise _Retry(f"no connection within {self._settings.connect_timeout:g} s ([fetch] connect_timeout)") from e
        except requests.exceptions.ReadTimeout as e:
            raise _Retry(self._silent()) from e
        except _TRANSIENT_ERRORS as e:
            raise _Retry(_reason(e)) from e
        except requests.RequestException as e:
            raise SourceError(f"{self.url}: {_reason(e)}") from e

    def _resume(self, offset: int) -> requests.Response:
        response = self._request(offset)
        if offset == 0:
            return response
        if response.status_code == 206:
            start = response.headers.get("Content-Range", "").split(" ")[-1].split("-")[0]
            if start != str(offset):
                response.close()
                raise SourceError(f"{self.url}: server resumed at byte {start[:20]!r}, not {offset}")
            return response
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if self._validator and validator and validator != self._validator:
            response.close()
            raise SourceError(f"{self.url} changed on the server while it was being downloaded")
        # No Range support: read the body again and drop what was already hashed.
        log.warning("%s: server ignored the Range request; skipping %d bytes already read", self.url, offset)
        self._skip = offset
        return response

    def _reconnect(self, offset: int) -> requests.Response:
        """Resume at ``offset``, paused more the more reconnects in a row brought nothing."""
        pause = self._settings.retry.pause(self._watch.reconnecting())
        self._watch.pause_ok(pause)
        self._settings.sleep(pause)
        return self._retrying(lambda: self._resume(offset))

    def chunks(self) -> Iterator[bytes]:
        offset = self._base
        while True:
            response = self._response
            assert response is not None, "stream not open or already closed"
            skip, self._skip = self._skip, 0
            try:
                read1 = response.raw.read1
                for chunk in paced_chunks(lambda n: read1(n, decode_content=False), self._watch, skip):
                    offset += len(chunk)
                    yield chunk
                if self.size is not None and offset < self.size:
                    raise urllib3.exceptions.IncompleteRead(offset, self.size - offset)
                return
            except _TRANSIENT_ERRORS as e:
                why = self._silent() if isinstance(e, urllib3.exceptions.ReadTimeoutError) else _reason(e)
                log.warning("%s: connection lost at byte %d (%s); resuming", self.url, offset, why)
                response.close()
                self._response = None
                self._response = self._reconnect(offset)
            except (urllib3.exceptions.HTTPError, requests.RequestException) as e:
                raise SourceError(f"{self.url}: {_reason(e)} at byte {offset}") from e

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def _silent(self) -> str:
        return f"no byte for {self._settings.read_timeout:g} s ([fetch] read_timeout)"


def _check_redirect(origin: str, current: str, target: str) -> None:
    """Refuse a redirect to anything but http(s), and from https down to http."""
    scheme = urlsplit(target).scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeLocation(f"{origin}: redirected to a {scheme or 'relative'} URL {target!r}, refused "
                             "(only http and https are followed)")
    if scheme == "http" and urlsplit(current).scheme.lower() == "https":
        raise UnsafeLocation(f"{origin}: redirected from https down to plain http ({target!r}), refused")


def _reason(error: BaseException) -> str:
    """A short reason from requests' deeply nested connection errors."""
    text = str(error)
    for marker in ("Connection refused", "timed out", "Name or service not known", "Connection reset",
                   "IncompleteRead", "Connection broken", "Temporary failure in name resolution",
                   "CERTIFICATE_VERIFY_FAILED", "certificate verify failed"):
        if marker in text:
            return marker.lower().replace("_", " ")
    return type(error).__name__
