# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Fetching image bytes: open the first location that answers, as a stream of chunks."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Iterable, Iterator, List, Optional, Sequence
from urllib.parse import unquote, urlsplit

import requests

from glancing.errors import SourceError, UnsafeLocation
from glancing.fetch.base import ByteStream
from glancing.fetch.ftp import FtpStream
from glancing.fetch.http import HttpSettings, HttpStream, new_session
from glancing.fetch.local import LocalStream
from glancing.model import Location

log = logging.getLogger(__name__)

__all__ = ["ByteStream", "HttpSettings", "local_path", "new_session", "open_location", "open_first", "read_small"]


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError as e:  # an unbalanced IPv6 bracket, a bad port
        raise SourceError(f"{url!r}: invalid URL ({e})") from e


def local_path(url: str) -> Optional[str]:
    """The path a plain path or a ``file://`` URL names; None for any other scheme.

    Raises UnsafeLocation for a ``file://`` URL naming another host.
    """
    _scheme(url)
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise UnsafeLocation(f"location {url!r} refused: file:// URLs on another host are not supported")
        return unquote(parts.path)
    return url if parts.scheme == "" else None


def open_location(location: Location, session: requests.Session, settings: HttpSettings,
                  allow_local: bool) -> ByteStream:
    """Open one location. Raises SourceError (unreachable) or UnsafeLocation (local not allowed)."""
    scheme = _scheme(location.url)
    if scheme in ("http", "https"):
        return HttpStream.open(location.url, session, settings)
    if scheme == "ftp":
        return FtpStream.open(location.url, settings)
    path = local_path(location.url)
    if path is None:
        raise UnsafeLocation(f"{location.url}: unsupported location scheme {scheme!r}")
    if not allow_local:
        raise UnsafeLocation(f"{location.url}: a remote record may not point at a local file")
    if "\0" in path:
        raise SourceError(f"{location.url!r}: no file name contains a NUL byte")
    return LocalStream(path)


def open_first(locations: Iterable[Location], session: requests.Session, settings: HttpSettings,
               allow_local: bool) -> ByteStream:
    """The first location that answers, as a stream that moves on to the next location when the
    current one fails (unreachable, refused, or past a bound of ``fetch.bounds``) before handing
    out its first byte. Once a byte was handed out, the hashers have seen it and a failure is
    final: the stream raises that location's SourceError (the caller's run fails with exit 3;
    glance_manager tries the image again on its next run). The last location is returned as
    itself, since there is nothing left to move on to.

    Raises the location's own error when there was one location, UnsafeLocation when every
    location was unsafe, else SourceError naming the count and the last failure.
    """
    chain = _FirstAnswering(list(locations), session, settings, allow_local)
    stream = chain.start()
    return chain if chain.has_more() else stream


class _FirstAnswering:
    """A ByteStream over the locations of one image, in order."""

    def __init__(self, locations: Sequence[Location], session: requests.Session, settings: HttpSettings,
                 allow_local: bool) -> None:
        self._todo = list(locations)
        self._session = session
        self._settings = settings
        self._allow_local = allow_local
        self._failures: List[Exception] = []
        self._stream: Optional[ByteStream] = None
        self._handed_out = False
        self.url = ""
        self.name = ""
        self.size: Optional[int] = None

    def start(self) -> ByteStream:
        """Open the first location that answers and return its stream."""
        self._next()
        assert self._stream is not None
        return self._stream

    def has_more(self) -> bool:
        return bool(self._todo)

    def _next(self) -> None:
        """Open the next location that answers, or raise the verdict over all of them."""
        while self._todo:
            location = self._todo.pop(0)
            # With mirrors left to try, a dead location is given one retry, not the full backoff
            # (15 s): the next mirror is the better bet. The last location gets every retry.
            quick = replace(self._settings, retries=min(1, self._settings.retries)) if self._todo else self._settings
            try:
                self._stream = open_location(location, self._session, quick, self._allow_local)
            except (SourceError, UnsafeLocation) as e:
                self._failed(e)
                continue
            self.url, self.name, self.size = self._stream.url, self._stream.name, self._stream.size
            return
        raise _verdict(self._failures)

    def _failed(self, error: Exception) -> None:
        log.warning("location failed: %s", error)
        self._failures.append(error)

    def chunks(self) -> Iterator[bytes]:
        while True:
            assert self._stream is not None, "stream already closed"
            try:
                for chunk in self._stream.chunks():
                    self._handed_out = self._handed_out or bool(chunk)
                    yield chunk
                return
            except (SourceError, UnsafeLocation) as e:
                if self._handed_out:
                    raise
                self._stream.close()
                self._failed(e)
                self._next()  # raises the verdict over all locations when none is left

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _verdict(failures: Sequence[Exception]) -> Exception:
    if not failures:
        return SourceError("the source lists no location to download the image from")
    if len(failures) == 1:
        return failures[0]
    if all(isinstance(e, UnsafeLocation) for e in failures):
        return UnsafeLocation(f"all {len(failures)} locations are unsafe; first: {failures[0]}")
    return SourceError(f"all {len(failures)} locations failed; last: {failures[-1]}")


def read_small(url: str, session: requests.Session, settings: HttpSettings, limit: int,
               allow_local: bool = True) -> bytes:
    """Read a small document (a SUMS file, a record, a list) whole, refusing more than ``limit`` bytes."""
    stream = open_location(Location(url), session, settings, allow_local)
    try:
        data = bytearray()
        for chunk in stream.chunks():
            data += chunk
            if len(data) > limit:
                raise SourceError(f"{url}: larger than {limit} bytes, refused")
        return bytes(data)
    finally:
        stream.close()
