# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one-pass data path: fetch -> hash (as given) -> decompress -> hash (as uploaded) -> reader.

A producer thread pulls the source, so download, decompression, the hashers (each in its own
thread) and the consumer (glanceclient's upload, or a dry-run drain) all overlap. Every queue is
bounded: memory stays flat whatever the image size.

The verdict is given at the end of the stream, inside the last ``read``: a mismatch raises there,
so glanceclient's upload fails and Glance never marks a wrong image active.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Set

from glancing.errors import IdentifierMismatch, SizeMismatch, VerificationError
from glancing.fetch.base import ByteStream
from glancing.model import DigestScope, Expected
from glancing.transform import decompress as _decompress
from glancing.transform.probe import PROBE_BYTES
from glancing.verify import digests as _digests

log = logging.getLogger(__name__)


@dataclass
class FlowResult:
    """What went through: sizes and digests at both stages, and what was checked."""

    given_size: int = 0
    given_digests: Dict[str, str] = field(default_factory=dict)
    size: int = 0  # bytes uploaded (after decompression)
    digests: Dict[str, str] = field(default_factory=dict)  # of the uploaded bytes
    compression: Optional[str] = None
    verified: List[str] = field(default_factory=list)  # 'size', 'sha256', 'identifier', ...
    forced: List[str] = field(default_factory=list)  # mismatches let through by -f
    # Expected digests left to Glance: it hashes the uploaded bytes itself, and the caller checks
    # its values against the expected ones (see FlowOptions.server_checks).
    deferred: List[str] = field(default_factory=list)
    kept_file: Optional[str] = None

    def scope_digests(self, scope: DigestScope) -> Dict[str, str]:
        return self.given_digests if scope is DigestScope.AS_GIVEN else self.digests


@dataclass(frozen=True)
class FlowOptions:
    check_digests: bool = True  # False with -D: the size is still checked
    force: bool = False  # -f: report mismatches loudly, go on
    keep_dir: Optional[str] = None  # -k: also write the bytes as given to a file there
    # The digests the target computes of what it stores (Target.computes; the pipeline passes
    # them), hashed here too so its values can be checked. The default is Glance's.
    upload_algorithms: Iterable[str] = ("md5", "sha512")
    # Algorithms the target computes on what it stores. When an expected digest of one of them
    # describes exactly the uploaded bytes, hashing it here too would be the same work done twice:
    # it is left to Glance, whose value the caller compares with the expected one. Empty for a
    # dry run (nobody else hashes) and with -f (a mismatch must be told from a transfer error).
    server_checks: Iterable[str] = ()
    progress: Optional[Callable[[int, Optional[int]], None]] = None  # (bytes read, total)
    sniff_compression: bool = True  # False: the bytes are uploaded as read (glancing's own conversion)
    # True for a first chunk that is never uploaded as it is (an OVA, which the transform step
    # unpacks): only the expected digests are computed on it, none is left to the target.
    unpacked_later: Optional[Callable[[bytes], bool]] = None


_END = object()


class DataFlow:
    """A file-like reader (``read(n)``) over the verified, decompressed image bytes."""

    def __init__(self, stream: ByteStream, expected: Expected, options: FlowOptions = FlowOptions()) -> None:
        self.stream = stream
        self.expected = expected
        self.options = options
        self.result = FlowResult()
        self.error: Optional[BaseException] = None
        self._queue: "queue.Queue[Any]" = queue.Queue(maxsize=8)
        self._stop = threading.Event()
        self._buffer: Deque[bytes] = collections.deque()
        self._offset = 0  # already read from self._buffer[0]
        self._buffered = 0  # bytes in the buffer not read yet
        self._eof = False
        self._given_hasher: Optional[_digests.MultiHasher] = None
        self._out_hasher: Optional[_digests.MultiHasher] = None
        self._check_early_size()
        self._thread = threading.Thread(target=self._produce, name="glancing-dataflow", daemon=True)
        self._thread.start()

    # -- producer side -------------------------------------------------------------------------

    def _expected_algorithms(self) -> Set[str]:
        if not self.options.check_digests:
            return set()
        wanted = set(self.expected.digests)
        if self.expected.identifier:
            wanted.add("sha1")
        return wanted

    def _check_early_size(self) -> None:
        """A Content-Length that already contradicts the expected size fails before the download."""
        size, wanted = self.stream.size, self.expected.size
        if (self.expected.scope is DigestScope.AS_GIVEN and size is not None and wanted is not None
                and size != wanted and not self.options.force):
            self.stream.close()
            raise SizeMismatch(wanted, size, f"{self.stream.url} (announced by the server)")

    def _given(self, keep: Optional[BinaryIO]) -> Iterator[bytes]:
        total = self.stream.size
        limit = self.expected.size if self.expected.scope is DigestScope.AS_GIVEN else None
        for chunk in self.stream.chunks():
            if self._stop.is_set():
                return
            self.result.given_size += len(chunk)
            if limit is not None and self.result.given_size > limit and not self.options.force:
                raise SizeMismatch(limit, self.result.given_size, f"{self.stream.url} (at least)")
            if keep is not None:
                keep.write(chunk)
            if self._given_hasher is not None:
                self._given_hasher.update(chunk)
            if self.options.progress:
                self.options.progress(self.result.given_size, total)
            yield chunk

    def _setup_hashers(self, compression: Optional[str], first: bytes) -> None:
        expected = self._expected_algorithms()
        uploaded = set(self.options.upload_algorithms)
        if compression is None and self.options.unpacked_later and self.options.unpacked_later(first):
            self._out_hasher = _digests.MultiHasher(expected)
            return
        if compression is None or self.expected.scope is DigestScope.UNCOMPRESSED:
            deferred = set(self.options.server_checks) & set(self.expected.digests) & expected
            self.result.deferred = sorted(deferred)
            uploaded -= deferred
            expected -= deferred
        if compression is None:
            # Same bytes at both stages: one set of hashers serves both.
            self._out_hasher = _digests.MultiHasher(uploaded | expected)
            return
        if self.expected.scope is DigestScope.AS_GIVEN:
            self._given_hasher = _digests.MultiHasher(expected)
            self._out_hasher = _digests.MultiHasher(uploaded)
        else:
            self._out_hasher = _digests.MultiHasher(uploaded | expected)

    def _produce(self) -> None:
        keep = self._open_keep_file()
        try:
            for chunk in self._decompressed(self._given(keep)):
                if self._stop.is_set():
                    return
                self._put(chunk)
            self._finish()
            self._put(_END)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer thread
            self._put(e)
        finally:
            self.stream.close()
            for hasher in (self._given_hasher, self._out_hasher):
                if hasher is not None:
                    hasher.close()
            if keep is not None:
                keep.close()

    def _decompressed(self, given: Iterator[bytes]) -> Iterator[bytes]:
        first = next(given, b"")
        while 0 < len(first) < 512:  # a few servers (and FTP) send tiny first chunks
            more = next(given, b"")
            if not more:
                break
            first += more
        compression = _decompress.sniff(first) if self.options.sniff_compression else None
        self.result.compression = compression
        self._setup_hashers(compression, first)
        if compression and self._given_hasher is not None:
            self._given_hasher.update(first)
        chunks = _prepend(first, given)
        out = self._named(_decompress.decompress(chunks, compression)) if compression else chunks
        limit = self.expected.size if self.expected.scope is DigestScope.UNCOMPRESSED else None
        assert self._out_hasher is not None
        for chunk in out:
            if not chunk:
                continue
            self._out_hasher.update(chunk)
            if limit is not None and self._out_hasher.size > limit and not self.options.force:
                raise SizeMismatch(limit, self._out_hasher.size, f"{self.stream.url} uncompressed (at least)")
            yield chunk

    def _named(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """``chunks``, with a decompression error naming the source."""
        try:
            yield from chunks
        except _decompress.DecompressError as e:
            raise _decompress.DecompressError(f"{self.stream.url}: {e}") from None

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _open_keep_file(self) -> Optional[BinaryIO]:
        if not self.options.keep_dir:
            return None
        fd, path = tempfile.mkstemp(prefix=f"glancing-{self.stream.name or 'image'}-", dir=self.options.keep_dir)
        self.result.kept_file = path
        return os.fdopen(fd, "wb")

    # -- the verdict ------------------------------------------------------------------------------

    def _finish(self) -> None:
        assert self._out_hasher is not None
        result = self.result
        result.digests = self._out_hasher.hexdigests()
        result.size = self._out_hasher.size
        if self._given_hasher is not None:
            result.given_digests = self._given_hasher.hexdigests()
        else:
            result.given_digests = dict(result.digests) if result.compression is None else {}
        scope = self.expected.scope
        size = result.given_size if scope is DigestScope.AS_GIVEN else result.size
        what = self.stream.url + (" uncompressed" if scope is DigestScope.UNCOMPRESSED and result.compression else "")
        self._judge("size", lambda: _digests.check(self.expected.size, {}, size, {}, what),
                    self.expected.size is not None)
        if self.options.check_digests:
            computed = result.scope_digests(scope)
            for alg in sorted(set(self.expected.digests) - set(result.deferred)):
                self._judge(alg, lambda a=alg: _digests.check(None, {a: self.expected.digests[a]}, size, computed, what))
            if self.expected.identifier:
                self._judge("identifier", lambda: self._check_identifier(result.digests["sha1"]))

    def _check_identifier(self, sha1: str) -> None:
        from glancing.verify.identifier import identifier_matches, sha1_to_identifier

        if not identifier_matches(self.expected.identifier or "", sha1):
            raise IdentifierMismatch(
                f"identifier {self.expected.identifier} does not encode the image's SHA-1 {sha1} "
                f"(it encodes to {sha1_to_identifier(sha1)})")

    def _judge(self, what: str, check: Callable[[], None], applies: bool = True) -> None:
        if not applies:
            return
        try:
            check()
        except VerificationError as e:
            if not self.options.force:
                raise
            log.error("FORCED (-f): %s; going on anyway", e)
            self.result.forced.append(what)
            return
        self.result.verified.append(what)

    # -- consumer side ----------------------------------------------------------------------------

    def _pull(self) -> bool:
        """Move one item from the producer into the buffer; False at the end of the stream."""
        if self._eof:
            return False
        item = self._queue.get()
        if item is _END:
            self._eof = True
            return False
        if isinstance(item, BaseException):
            self._eof = True
            self.error = item
            raise item
        self._buffer.append(item)
        self._buffered += len(item)
        return True

    def head(self, size: int = PROBE_BYTES) -> bytes:
        """The first ``size`` bytes of the output (fewer at EOF), kept for the following reads."""
        while self._buffered < size and self._pull():
            pass
        return b"".join(self._buffer)[self._offset:self._offset + size]

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (at least one unless at the end); raises the verdict at the end.

        A whole chunk is handed over as it is; a partial one is sliced from an offset, so a reader
        asking for less than a chunk costs one copy per byte, not a copy of the rest per call.
        """
        if size is None or size < 0:
            size = 1 << 62
        while not self._buffer and self._pull():
            pass
        out: List[bytes] = []
        taken = 0
        while self._buffer and taken < size:
            chunk = self._buffer[0]
            end = min(len(chunk), self._offset + size - taken)
            piece = chunk if self._offset == 0 and end == len(chunk) else chunk[self._offset:end]
            if end == len(chunk):
                self._buffer.popleft()
                self._offset = 0
            else:
                self._offset = end
            out.append(piece)
            taken += len(piece)
        self._buffered -= taken
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)

    def drain(self) -> FlowResult:
        """Read everything (dry run) and return the result; raises the verdict."""
        self._buffer.clear()
        while self._pull():
            self._buffer.clear()  # nothing consumes the bytes: drop them without copying
        self._buffered = self._offset = 0
        self.join()
        return self.result

    def join(self) -> None:
        self._thread.join()

    def close(self) -> None:
        """Stop the producer (after an error elsewhere); idempotent."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=30)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


__all__ = ["DataFlow", "FlowOptions", "FlowResult"]
