# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Which download locations a record may point the tool at, decided by who gave the record.

* Any origin may use ``http://``, ``https://`` and ``ftp://`` URLs (with a host).
* A record fetched from a remote marketplace or list (Origin.REMOTE) may never make the tool read
  a local file: a local path or a ``file://`` URL in such a record refuses the whole record, since
  a remote party naming ``/etc/passwd`` is hostile, not merely broken.
* A record file the user gave (Origin.LOCAL_RECORD) and a path on the command line (Origin.USER)
  may also use a local path or a ``file://`` URL on this host: the user could have named that
  file on the command line anyway. A relative path in a record file resolves against the
  record's own directory (records are kept next to their images), never against the current
  directory; a relative path from the command line resolves against the current directory.
* Other schemes (``pdisk:...``, oddities like ``https:host:uuid``) name nothing we can download:
  they are skipped, and a record left with no usable location is refused.
"""

from __future__ import annotations

import os
from typing import Iterable, List, Optional, Tuple
from urllib.parse import urlsplit

from glancing.errors import RecordError, UnsafeLocation
from glancing.fetch import local_path
from glancing.model import Location, Origin

REMOTE_SCHEMES = ("http", "https", "ftp")


def _is_remote_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in REMOTE_SCHEMES and bool(parts.netloc)


def _resolve(path: str, origin: Origin, record_path: Optional[str]) -> str:
    path = os.path.expanduser(path) if origin is Origin.USER else path
    if os.path.isabs(path):
        return os.path.normpath(path)
    base = os.getcwd()
    if origin is Origin.LOCAL_RECORD and record_path:
        base = os.path.dirname(os.path.abspath(record_path))
    return os.path.normpath(os.path.join(base, path))


def check_locations(urls: Iterable[str], origin: Origin, record_path: Optional[str] = None,
                    what: str = "record") -> Tuple[Location, ...]:
    """Return the usable locations of ``urls``, in order, for a record of ``origin``.

    ``record_path`` is the record file (LOCAL_RECORD), used to resolve relative paths.
    Raises UnsafeLocation naming the URL when a remote record points at a local file or when no
    usable location is left, RecordError when the record gives no location at all.
    """
    given = [u.strip() for u in urls if u and u.strip()]
    if not given:
        raise RecordError(f"{what} gives no location to download the image from")
    usable: List[Location] = []
    skipped: List[str] = []
    for url in given:
        if _is_remote_url(url):
            usable.append(Location(url))
            continue
        path = local_path(url)
        if path is None:
            skipped.append(url)
        elif origin is Origin.REMOTE:
            raise UnsafeLocation(f"{what} refused: location {url!r} is a local file, and a record from a "
                                 "remote source may only point to http, https or ftp URLs")
        else:
            usable.append(Location(_resolve(path, origin, record_path)))
    if not usable:
        raise UnsafeLocation(f"{what} has no usable location: {', '.join(repr(u) for u in skipped)} "
                             f"{'is' if len(skipped) == 1 else 'are'} not http, https or ftp URLs")
    return tuple(usable)
