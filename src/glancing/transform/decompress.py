# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Streaming decompression of gzip, bzip2 and xz (all multi-stream) and single-member zip.

The kind is told by magic bytes, never by a file name. Output comes in bounded pieces
(``max_length``), so a decompression bomb cannot blow up memory: it only makes a long stream,
which the size check then refuses.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from typing import Any, Callable, Iterable, Iterator, Optional

from glancing.errors import VerificationError
from glancing.fetch.base import CHUNK_SIZE

MAGIC = (
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
)


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


def _zip_member(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The one member of a zip archive, read in stream order from its local header."""
    it = iter(chunks)
    buf = b""

    def need(n: int) -> bytes:
        nonlocal buf
        while len(buf) < n:
            more = next(it, None)
            if more is None:
                raise DecompressError("truncated zip data")
            buf += more
        head, buf = buf[:n], buf[n:]
        return head

    header = need(30)
    (_sig, _ver, flags, method, _t, _d, _crc, csize, _usize, nlen, xlen) = struct.unpack("<IHHHHHIIIHH", header)
    need(nlen + xlen)
    if flags & 0x1:
        raise DecompressError("encrypted zip members are not supported")
    if method not in (0, 8):
        raise DecompressError(f"zip compression method {method} is not supported (only stored and deflate)")
    if method == 0:
        if flags & 0x8:
            raise DecompressError("a stored zip member without its size in the header cannot be streamed")
        remaining = csize
        rest = [buf] if buf else []
        buf = b""
        for chunk in _chain(rest, it):
            take, extra = chunk[:remaining], chunk[remaining:]
            remaining -= len(take)
            if take:
                yield take
            if remaining == 0:
                trailer = extra
                break
        else:
            raise DecompressError("truncated zip data")
    else:
        member = zlib.decompressobj(-zlib.MAX_WBITS)
        trailer = b""
        for chunk in _chain([buf] if buf else [], it):
            data = chunk
            while data and not member.eof:
                out = member.decompress(data, CHUNK_SIZE)
                if out:
                    yield out
                data = member.unconsumed_tail
            if member.eof:
                trailer = member.unused_data
                break
        if not member.eof:
            raise DecompressError("truncated zip data")
    # What follows the member: an optional data descriptor, then the central directory. Another
    # local header would mean a second member, which we refuse rather than silently drop.
    rest_data = trailer + b"".join(_take(it, 2))
    if b"PK\x03\x04" in rest_data[: 16 + 4 + 8]:
        raise DecompressError("the zip archive holds more than one file; give the image itself")
    for _ in it:  # drain so a download of the central directory completes (and is hashed)
        pass


def _chain(first: Iterable[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


def _take(it: Iterator[bytes], n: int) -> Iterator[bytes]:
    for _ in range(n):
        chunk = next(it, None)
        if chunk is None:
            return
        yield chunk


def decompress(chunks: Iterable[bytes], kind: str) -> Iterator[bytes]:
    """Decompressed chunks of ``chunks`` compressed as ``kind`` ('gz', 'bz2', 'xz', 'zip')."""
    if kind == "gz":
        return _multistream(chunks, _GzipMember, "gzip")
    if kind == "bz2":
        return _multistream(chunks, bz2.BZ2Decompressor, "bzip2")
    if kind == "xz":
        return _multistream(chunks, lambda: lzma.LZMADecompressor(format=lzma.FORMAT_AUTO), "xz")
    if kind == "zip":
        return _zip_member(chunks)
    raise ValueError(f"unknown compression {kind!r}")
