# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What the fetcher tests share: a loopback server holding one file, and a whole download."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, List, Tuple

from glancing.fetch import HttpSettings, new_session, open_location
from glancing.fetch.base import ByteStream
from glancing.model import Location
from httpserver import FaultyHTTPServer


@contextlib.contextmanager
def disk_server(directory: Path, data: bytes) -> Iterator[FaultyHTTPServer]:
    """A faulty loopback server serving ``data`` as ``disk.img`` from ``directory`` (made if need be)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "disk.img").write_bytes(data)
    server = FaultyHTTPServer(directory).start()
    try:
        yield server
    finally:
        server.stop()


def fetch(url: str, settings: HttpSettings, allow_local: bool = False) -> Tuple[ByteStream, bytes]:
    """Open ``url``, read it whole, close it: the stream (for its size, name) and the bytes."""
    stream = open_location(Location(url), new_session(), settings, allow_local=allow_local)
    try:
        return stream, b"".join(stream.chunks())
    finally:
        stream.close()


def gets(server: FaultyHTTPServer) -> List[tuple]:
    return [r for r in server.requests if r[0] == "GET"]
