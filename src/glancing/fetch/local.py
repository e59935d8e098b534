# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Reading a local file as a stream of chunks.

Plain ``read`` into fresh chunks, not ``mmap``: measured here, mapping saves ~0.06 s of CPU per
GiB over the copy (0.11 against 0.17 s), while a file truncated under a mapping (a ``cp`` over
the image) kills the process with SIGBUS instead of failing with a clear error.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO, Iterator, Optional

from glancing.errors import SourceError
from glancing.fetch.base import read_chunks


class LocalStream:
    """A regular local file (or block device), read once in CHUNK_SIZE pieces."""

    def __init__(self, path: str) -> None:
        self.url = path
        self.name = os.path.basename(path.rstrip("/"))
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise SourceError(f"cannot open {path}: {e.strerror}") from e
        info = os.fstat(fd)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISBLK(info.st_mode)):
            os.close(fd)
            raise SourceError(f"{path} is not a regular file")
        try:
            # Read once, front to back: a larger read-ahead window for an image not in the page cache.
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        except (AttributeError, OSError):
            pass  # only a hint (not on every OS or file system)
        self._file: Optional[BinaryIO] = os.fdopen(fd, "rb", buffering=0)
        self.size: Optional[int] = info.st_size if stat.S_ISREG(info.st_mode) else None

    def chunks(self) -> Iterator[bytes]:
        assert self._file is not None, "stream already closed"
        return read_chunks(self._file, self.url)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
