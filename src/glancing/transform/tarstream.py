# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Reading a tar archive (an OVA) as a stream, one member after the other, never onto disk by name.

``tarfile.extractall`` on an untrusted archive writes wherever its member names point (``../``,
absolute paths, links to ``/etc``). Here a member is only ever a name to compare and bytes to
read: the caller decides where (if anywhere) the bytes go. Anything but a plain file is refused,
and so is a name that would escape a directory if someone did extract it: such an archive is
malformed or hostile, and an OVA never needs one.

Headers are decoded with ``tarfile.TarInfo.frombuf`` (checksums, base-256 sizes, the ustar
prefix); pax and GNU long names are applied here, so the name checked is the name a tar tool
would use.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Protocol

from glancing.errors import UnsafeImage
from glancing.fetch.base import CHUNK_SIZE
from glancing.transform.safety import printable

BLOCK = 512
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_KINDS = {tarfile.LNKTYPE: "hard link", tarfile.SYMTYPE: "symbolic link", tarfile.CHRTYPE: "character device",
          tarfile.BLKTYPE: "block device", tarfile.DIRTYPE: "directory", tarfile.FIFOTYPE: "FIFO",
          tarfile.GNUTYPE_SPARSE: "sparse file"}
# A pax or GNU long-name header carries a few hundred bytes; more is not a name.
MAX_META = 64 << 10


class Reader(Protocol):
    def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class Member:
    """One plain file of the archive: its name as written (never a path to open) and its size."""

    name: str
    size: int


def refuse(source: str, reason: str) -> UnsafeImage:
    return UnsafeImage(f"refused: {source}: {reason}; the archive is malformed or hostile")


def check_name(name: str, source: str) -> None:
    """Refuse a member name that is absolute, climbs with '..', or is empty."""
    shown = printable(name, 120)
    if not name or name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        raise refuse(source, f"member name {shown!r} is empty or absolute")
    if ".." in name.replace("\\", "/").split("/"):
        raise refuse(source, f"member name {shown!r} contains '..'")
    if any(ord(c) < 32 for c in name):
        raise refuse(source, f"member name {shown!r} contains control characters")


class TarStream:
    """The members of a tar read from ``reader``, in order: ``next()``, then ``chunks()`` or nothing."""

    def __init__(self, reader: Reader, source: str) -> None:
        self._reader, self.source = reader, source
        self._left = 0  # bytes of the current member not read yet
        self._pad = 0  # padding after the current member
        self.ended = False
        self.offset = 0  # bytes of the archive read so far

    def _exact(self, size: int) -> bytes:
        parts, got = [], 0
        while got < size:
            piece = self._reader.read(size - got)
            if not piece:
                raise refuse(self.source, f"the tar archive is truncated at byte {self.offset + got}")
            parts.append(piece)
            got += len(piece)
        self.offset += got
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _skip(self, size: int) -> None:
        while size > 0:
            size -= len(self._exact(min(size, CHUNK_SIZE)))

    def next(self) -> Optional[Member]:
        """The next plain-file member (the previous one's unread bytes are skipped); None at the end."""
        self._skip(self._left + self._pad)
        self._left = self._pad = 0
        if self.ended:
            return None
        overrides: Dict[str, str] = {}
        while True:
            info = self._header()
            if info is None:
                self.ended = True
                return None
            if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME):
                self._meta(info, overrides)
                continue
            break
        name = overrides.get("path", info.name)
        size = int(overrides["size"]) if "size" in overrides else info.size
        check_name(name, self.source)
        if info.type not in _REGULAR:
            kind = _KINDS.get(info.type, f"member of type {info.type!r}")
            raise refuse(self.source, f"{printable(name, 120)!r} is a {kind}, not a plain file")
        self._left, self._pad = size, -size % BLOCK
        return Member(name, size)

    def _header(self) -> Optional[tarfile.TarInfo]:
        block = self._exact(BLOCK)
        if block == bytes(BLOCK):
            return None  # the end-of-archive marker
        try:
            return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            raise refuse(self.source, f"bad tar header at byte {self.offset - BLOCK} ({e})") from None

    def _meta(self, info: tarfile.TarInfo, into: Dict[str, str]) -> None:
        """Apply a pax header (path, size) or a GNU long name to the member that follows."""
        if info.size > MAX_META:
            raise refuse(self.source, f"a {info.size}-byte tar extended header")
        data = self._exact(info.size)
        self._skip(-info.size % BLOCK)
        if info.type == tarfile.GNUTYPE_LONGNAME:
            into["path"] = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            return
        for key, value in _pax_records(data, self.source):
            if key in ("path", "size", "linkpath"):
                if info.type == tarfile.XGLTYPE:
                    raise refuse(self.source, f"a global pax header sets {key}")
                if key == "size" and not value.isdigit():
                    raise refuse(self.source, f"pax size {printable(value, 40)!r} is not a number")
                into[key] = value

    def chunks(self) -> Iterator[bytes]:
        """The current member's bytes, in pieces of at most CHUNK_SIZE."""
        while self._left > 0:
            piece = self._reader.read(min(self._left, CHUNK_SIZE))
            if not piece:
                raise refuse(self.source, f"the tar archive is truncated at byte {self.offset}")
            self.offset += len(piece)
            self._left -= len(piece)
            yield piece

    def read_member(self, limit: int) -> bytes:
        """The current member whole (a descriptor); refused past ``limit`` bytes."""
        if self._left > limit:
            raise refuse(self.source, f"a {self._left}-byte member where at most {limit} are expected")
        return b"".join(self.chunks())

    def drain(self) -> int:
        """Read the rest of the archive (padding after the end marker) so the stream's verdict is
        given; returns the bytes skipped."""
        self._skip(self._left + self._pad)
        self._left = self._pad = 0
        skipped = 0
        while True:
            piece = self._reader.read(CHUNK_SIZE)
            if not piece:
                return skipped
            skipped += len(piece)
            self.offset += len(piece)


def _pax_records(data: bytes, source: str) -> Iterator[tuple]:
    """(key, value) of each "LEN key=value\\n" record."""
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0 or not data[pos:space].isdigit():
            raise refuse(source, "malformed pax header")
        length = int(data[pos:space])
        record = data[space + 1:pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n") or b"=" not in record:
            raise refuse(source, "malformed pax header")
        key, _, value = record[:-1].partition(b"=")
        yield key.decode("utf-8", "replace"), value.decode("utf-8", "surrogateescape")
        pos += length
