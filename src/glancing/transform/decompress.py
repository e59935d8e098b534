# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Streaming decompression of gzip, bzip2 and xz (all multi-stream) and single-member zip.

One layer only: an empty zip, or compressed data inside compressed data (gzip in gzip, zip in
zip), is refused rather than uploaded as a "raw" image that is no disk.

The kind is told by magic bytes, never by a file name. Output comes in bounded pieces
(``max_length``), so a decompression bomb cannot blow up memory: it only makes a long stream,
which the size check then refuses.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from typing import Any, Callable, Generator, Iterable, Iterator, List, Optional, Tuple

from glancing.errors import VerificationError
from glancing.fetch.base import CHUNK_SIZE

ZIP_MEMBER = b"PK\x03\x04"
ZIP_EMPTY = b"PK\x05\x06"  # an archive that is only its (empty) central directory
MAGIC = (
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (ZIP_MEMBER, "zip"),
    (ZIP_EMPTY, "zip"),
)
NAMES = {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "zip": "zip"}


def sniff(head: bytes) -> Optional[str]:
    """The compression of data starting with ``head`` ('gz', 'bz2', 'xz', 'zip') or None."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    return None


class DecompressError(VerificationError):
    """The compressed stream is corrupt or truncated."""


def _multistream(chunks: Iterable[bytes], new: Callable[[], Any], kind: str) -> Iterator[bytes]:
    """Run decompressor objects back to back: pbzip2, concatenated gzip and xz make several streams."""
    decomp = new()
    fed = False
    for chunk in chunks:
        data = chunk
        while True:
            if decomp.eof:
                if not data.strip(b"\x00"):  # zero padding after the last stream (a dd/tar habit)
                    break
                decomp = new()
            try:
                out = decomp.decompress(data, CHUNK_SIZE)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as e:
                raise DecompressError(f"corrupt {kind} data: {e}") from e
            fed = True
            if out:
                yield out
            if decomp.eof:
                data = decomp.unused_data
            elif decomp.needs_input:
                break
            else:
                data = b""  # output was capped: drain what the decompressor still holds
    if fed and not decomp.eof:
        raise DecompressError(f"truncated {kind} data: the stream ends before its end marker")


class _GzipMember:
    """zlib's gzip mode behind the bz2/lzma decompressor interface (eof, needs_input, max_length)."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""
        self._capped = False

    @property
    def eof(self) -> bool:
        return self._z.eof

    @property
    def unused_data(self) -> bytes:
        return self._z.unused_data

    @property
    def needs_input(self) -> bool:
        # A capped call may leave output inside zlib even with no input left over.
        return not self._tail and not self._capped

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._z.decompress(self._tail + data, max_length)
        self._tail = self._z.unconsumed_tail
        self._capped = len(out) == max_length
        return out


class _Reader:
    """Exact-size reads over a chunk iterator, for the zip headers; the rest is streamed on."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def need(self, n: int) -> bytes:
        while len(self._buf) < n:
            more = next(self._it, None)
            if more is None:
                raise DecompressError("truncated zip data")
            self._buf += more
        head, self._buf = self._buf[:n], self._buf[n:]
        return head

    def rest(self) -> Iterator[bytes]:
        if self._buf:
            buf, self._buf = self._buf, b""
            yield buf
        yield from self._it


def _zip_local_header(reader: _Reader) -> Tuple[int, int]:
    """(method, compressed size) of the first member; refuses what cannot be streamed."""
    signature = reader.need(4)
    if signature == ZIP_EMPTY:
        raise DecompressError("the zip archive is empty: it holds no file")
    if signature != ZIP_MEMBER:
        raise DecompressError("corrupt zip data: no file header at the start")
    (_ver, flags, method, _t, _d, _crc, csize, _usize, nlen, xlen) = struct.unpack("<HHHHHIIIHH", reader.need(26))
    reader.need(nlen + xlen)
    if flags & 0x1:
        raise DecompressError("encrypted zip members are not supported")
    if method not in (0, 8):
        raise DecompressError(f"zip compression method {method} is not supported (only stored and deflate)")
    if method == 0 and flags & 0x8:
        raise DecompressError("a stored zip member without its size in the header cannot be streamed")
    return method, csize


def _zip_stored(chunks: Iterator[bytes], remaining: int) -> Generator[bytes, None, bytes]:
    """A stored member's bytes; returns what follows it in the chunk it ends in."""
    if remaining == 0:
        return b""
    for chunk in chunks:
        take, extra = chunk[:remaining], chunk[remaining:]
        remaining -= len(take)
        if take:
            yield take
        if remaining == 0:
            return extra
    raise DecompressError("truncated zip data")


def _zip_deflated(chunks: Iterator[bytes]) -> Generator[bytes, None, bytes]:
    """A deflated member's bytes, in bounded pieces; returns what follows its end marker."""
    member = zlib.decompressobj(-zlib.MAX_WBITS)
    for chunk in chunks:
        data = chunk
        while data and not member.eof:
            out = member.decompress(data, CHUNK_SIZE)
            if out:
                yield out
            data = member.unconsumed_tail
        if member.eof:
            return member.unused_data
    raise DecompressError("truncated zip data")


def _zip_member(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The one member of a zip archive, read in stream order from its local header."""
    reader = _Reader(chunks)
    method, csize = _zip_local_header(reader)
    rest = reader.rest()
    trailer = yield from (_zip_stored(rest, csize) if method == 0 else _zip_deflated(rest))
    # What follows the member: an optional data descriptor, then the central directory. Another
    # local header would mean a second member, which we refuse rather than silently drop.
    after = trailer + b"".join(_take(rest, 2))
    if ZIP_MEMBER in after[: 16 + 4 + 8]:
        raise DecompressError("the zip archive holds more than one file; give the image itself")
    for _ in rest:  # drain so a download of the central directory completes (and is hashed)
        pass


def _take(it: Iterator[bytes], n: int) -> Iterator[bytes]:
    for _ in range(n):
        chunk = next(it, None)
        if chunk is None:
            return
        yield chunk


def _refuse_nested(chunks: Iterator[bytes], kind: str) -> Iterator[bytes]:
    """The decompressed chunks, unless they are compressed again (gzip in gzip, zip in zip, ...).

    glancing decompresses once: a second layer would be uploaded as a "raw" disk that is no disk.
    """
    held: List[bytes] = []
    head = b""
    for chunk in chunks:
        held.append(chunk)
        head += chunk[:16]
        if len(head) >= 16:
            break
    inner = sniff(head)
    if inner is not None:
        raise DecompressError(f"the {kind} data holds {NAMES[inner]} data again: nested compression is not "
                              "supported; give the image compressed once")
    yield from held
    yield from chunks


def decompress(chunks: Iterable[bytes], kind: str) -> Iterator[bytes]:
    """Decompressed chunks of ``chunks`` compressed as ``kind`` ('gz', 'bz2', 'xz', 'zip')."""
    if kind == "gz":
        out = _multistream(chunks, _GzipMember, "gzip")
    elif kind == "bz2":
        out = _multistream(chunks, bz2.BZ2Decompressor, "bzip2")
    elif kind == "xz":
        out = _multistream(chunks, lambda: lzma.LZMADecompressor(format=lzma.FORMAT_AUTO), "xz")
    elif kind == "zip":
        out = _zip_member(chunks)
    else:
        raise ValueError(f"unknown compression {kind!r}")
    return _refuse_nested(out, NAMES[kind])
