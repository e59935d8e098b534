# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What every fetcher returns: a named stream of chunks with a size when the source knows it."""

from __future__ import annotations

from typing import Iterator, Optional, Protocol

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
