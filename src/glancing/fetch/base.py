# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What every fetcher returns: a named stream of chunks with a size when the source knows it."""

from __future__ import annotations

from typing import BinaryIO, Iterator, Optional, Protocol

from glancing.errors import SourceError

# 1 MiB: large enough that per-chunk costs (thread hand-offs to the hashers, glanceclient's
# reads) vanish, small enough that the bounded queues keep memory flat.
CHUNK_SIZE = 1 << 20


class ByteStream(Protocol):
    """An open image source. ``chunks()`` may be iterated once; ``close()`` is idempotent."""

    url: str
    name: str  # the file name users see (SUMS files list it)
    size: Optional[int]  # bytes as given, when the source says

    def chunks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


def read_chunks(f: BinaryIO, url: str) -> Iterator[bytes]:
    """CHUNK_SIZE pieces of an open file-like object until EOF; read errors become SourceError."""
    try:
        while True:
            chunk = f.read(CHUNK_SIZE)
            if not chunk:
                return
            yield chunk
    except OSError as e:
        raise SourceError(f"cannot read {url}: {e.strerror or e}") from e
