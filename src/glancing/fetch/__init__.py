# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Fetching image bytes: open the first location that answers, as a stream of chunks."""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import replace
from typing import Iterable, Iterator, List, Optional
from urllib.parse import unquote, urlsplit

import requests

from glancing.errors import SourceError, UnsafeLocation
from glancing.fetch.base import ByteStream, read_chunks
from glancing.fetch.http import HttpSettings, HttpStream, new_session, url_basename
from glancing.fetch.local import LocalStream
from glancing.model import Location

log = logging.getLogger(__name__)

__all__ = ["ByteStream", "HttpSettings", "local_path", "new_session", "open_location", "open_first", "read_small"]


class FtpStream:
    """ftp:// through urllib (records from 2014 still list some); no resume."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.name = url_basename(url)
        try:
            self._response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (scheme checked)
        except OSError as e:
            raise SourceError(f"{url}: {e}") from e
        length = self._response.headers.get("Content-Length")
        self.size: Optional[int] = int(length) if length and length.isdigit() else None

    def chunks(self) -> Iterator[bytes]:
        return read_chunks(self._response, self.url)

    def close(self) -> None:
        self._response.close()


def local_path(url: str) -> Optional[str]:
    """The path a plain path or a ``file://`` URL names; None for any other scheme.

    Raises UnsafeLocation for a ``file://`` URL naming another host.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise UnsafeLocation(f"location {url!r} refused: file:// URLs on another host are not supported")
        return unquote(parts.path)
    return url if parts.scheme == "" else None


def open_location(location: Location, session: requests.Session, settings: HttpSettings,
                  allow_local: bool) -> ByteStream:
    """Open one location. Raises SourceError (unreachable) or UnsafeLocation (local not allowed)."""
    scheme = urlsplit(location.url).scheme.lower()
    if scheme in ("http", "https"):
        return HttpStream(location.url, session, settings)
    if scheme == "ftp":
        return FtpStream(location.url, settings.read_timeout)
    path = local_path(location.url)
    if path is None:
        raise UnsafeLocation(f"{location.url}: unsupported location scheme {scheme!r}")
    if not allow_local:
        raise UnsafeLocation(f"{location.url}: a remote record may not point at a local file")
    return LocalStream(path)


def open_first(locations: Iterable[Location], session: requests.Session, settings: HttpSettings,
               allow_local: bool) -> ByteStream:
    """Open the first location that answers; each failure is logged and the next one tried.

    Raises the location's own error when there was one location, UnsafeLocation when every
    location was unsafe, else SourceError naming the count and the last failure.
    """
    failures: List[Exception] = []
    todo = list(locations)
    # With mirrors left to try, a dead location is given one retry, not the full backoff
    # (15 s): the next mirror is the better bet. The last location gets every retry.
    quick = replace(settings, retries=min(1, settings.retries))
    for n, location in enumerate(todo):
        try:
            return open_location(location, session, quick if n < len(todo) - 1 else settings, allow_local)
        except (SourceError, UnsafeLocation) as e:
            log.warning("location failed: %s", e)
            failures.append(e)
    if not failures:
        raise SourceError("the source lists no location to download the image from")
    if len(failures) == 1:
        raise failures[0]
    if all(isinstance(e, UnsafeLocation) for e in failures):
        raise UnsafeLocation(f"all {len(failures)} locations are unsafe; first: {failures[0]}")
    raise SourceError(f"all {len(failures)} locations failed; last: {failures[-1]}")


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
