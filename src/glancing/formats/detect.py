# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one way to recognise what a source is, from its content (never its name).

A record or list is a document: XML (a StratusLab record, any Unicode encoding, with a BOM or
a declaration), a JSON object (an RDF/JSON record, a HEPiX list), or a MIME message (an S/MIME
signed list). Disk images are recognised by their magic. Anything else is raw image data.
Disk magic is checked first: a VDI header starts with ``<<<``, which is no XML.

``glancing`` source resolution and every ``glancing-metadata`` command call ``detect``; a
document that then fails to parse is a refused record (exit 5), never an image.
"""

from __future__ import annotations

import codecs
import enum
import json
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from glancing.errors import RecordError
from glancing.formats.jsonsafe import json_type

# ISO 9660's volume descriptor sits at 32 KiB + 1: read that far to see it.
HEAD_BYTES = 0x8006
# A JSON scalar or array is read whole to tell it from raw data; documents stay below this.
MAX_SCALAR_BYTES = 1 << 20


class Kind(enum.Enum):
    """What a byte string is."""

    XML = "xml"
    HTML = "html"
    JSON = "json"  # a JSON object
    JSON_NOT_OBJECT = "json-not-object"  # valid JSON whose top level is not an object
    MIME = "mime"  # a MIME message: an S/MIME signed list
    EMPTY = "empty"
    DISK = "disk"  # a disk image recognised by its magic (``disk_format`` says which)
    RAW = "raw"  # nothing recognised: raw image data

    @property
    def is_document(self) -> bool:
        """Whether this kind is a record or list (or looks like one), not image data."""
        return self in (Kind.XML, Kind.HTML, Kind.JSON, Kind.JSON_NOT_OBJECT, Kind.MIME)


@dataclass(frozen=True)
class Detected:
    """The verdict: its kind, the text encoding of a document, the disk format of an image."""

    kind: Kind
    encoding: Optional[str] = None
    disk_format: Optional[str] = None
    detail: str = ""

    def describe(self) -> str:
        """A few words for messages: 'an XML document (utf-16)', 'a qcow2 disk image'."""
        if self.kind is Kind.DISK:
            return f"a {self.disk_format} disk image"
        names = {Kind.XML: "an XML document", Kind.HTML: "an HTML page", Kind.JSON: "a JSON object",
                 Kind.JSON_NOT_OBJECT: f"JSON whose top level is {self.detail}", Kind.MIME: "a MIME message",
                 Kind.EMPTY: "empty", Kind.RAW: "raw data"}
        text = names[self.kind]
        return f"{text} ({self.encoding})" if self.encoding and self.encoding != "utf-8" else text


# (offset, magic, disk format); VHD "conectix" at 0 is a dynamic VHD (a fixed one is raw + footer).
_DISK_MAGIC: Tuple[Tuple[int, bytes, str], ...] = (
    (0, b"QFI\xfb", "qcow2"), (0, b"KDMV", "vmdk"), (0, b"# Disk DescriptorFile", "vmdk"),
    (0, b"vhdxfile", "vhdx"), (0, b"conectix", "vhd"), (0x40, b"\x7f\x10\xda\xbe", "vdi"),
    (0, b"<<< Oracle VM VirtualBox Disk Image >>>", "vdi"), (0, b"<<< Sun xVM VirtualBox Disk Image >>>", "vdi"),
    (0x8001, b"CD001", "iso"), (0, b"WithoutFreeSpace", "ploop"), (0, b"WithouFreSpacExt", "ploop"),
)
# Byte-order marks, longest first (UTF-32 LE starts like UTF-16 LE).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# Without a BOM an XML document starts with "<" (a declaration or its root) in its encoding.
_NO_BOM = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"), (b"\x00<", "utf-16-be"),
           (b"<\x00", "utf-16-le"))
_JSON_SCALAR_START = tuple('["-0123456789tfn')


def disk_magic(head: bytes) -> Optional[str]:
    """The disk format a header's magic names, or None."""
    for offset, magic, fmt in _DISK_MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return fmt
    return None


def _text_head(head: bytes) -> Tuple[str, str]:
    """The head decoded (BOM or "<" pattern decides the encoding), and that encoding."""
    encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), None)
    if encoding is not None:
        start = next(len(bom) for bom, enc in _BOMS if head.startswith(bom))
    else:
        start, encoding = 0, next((enc for pat, enc in _NO_BOM if head.startswith(pat)), "utf-8")
    width = {"utf-16-le": 2, "utf-16-be": 2, "utf-32-le": 4, "utf-32-be": 4}.get(encoding, 1)
    body = head[start:start + 4096]
    body = body[:len(body) - len(body) % width]
    return body.decode(encoding, errors="replace"), encoding


def _is_mime(text: str) -> bool:
    first = text.split("\n", 1)[0].lower()
    return first.startswith(("mime-version:", "content-type:"))


def _scalar(whole: Optional[Callable[[], bytes]], text: str) -> Optional[Detected]:
    """JSON that is not an object (an array, a string, a number): read whole to be sure."""
    if not text.startswith(_JSON_SCALAR_START) or whole is None:
        return None
    data = whole()
    if len(data) > MAX_SCALAR_BYTES:
        return None
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # "[..." that does not parse still looks like a document; a stray digit does not.
        return Detected(Kind.JSON_NOT_OBJECT, detail="malformed") if text.startswith("[") else None
    return Detected(Kind.JSON_NOT_OBJECT, detail=json_type(value))


def detect(head: bytes, whole: Optional[Callable[[], bytes]] = None) -> Detected:
    """What ``head`` (the first HEAD_BYTES bytes, or everything) is. Raises nothing.

    ``whole`` returns the complete content; it is called only for a possible JSON scalar or
    array, which cannot be told from raw data by its first bytes.
    """
    head = bytes(head[:HEAD_BYTES])
    fmt = disk_magic(head)
    if fmt is not None:
        return Detected(Kind.DISK, disk_format=fmt)
    text, encoding = _text_head(head)
    text = text.lstrip(" \t\r\n")
    if not text:
        return Detected(Kind.EMPTY if not head else Kind.RAW)
    if text.startswith("<"):
        lower = text[:512].lower()
        if lower.startswith(("<!doctype html", "<html")) or "<html" in lower:
            return Detected(Kind.HTML, encoding)
        return Detected(Kind.XML, encoding)
    if text.startswith("{"):
        return Detected(Kind.JSON, encoding)
    if _is_mime(text):
        return Detected(Kind.MIME, encoding)
    return _scalar(whole, text) or Detected(Kind.RAW)


def refuse_non_object(found: Detected, what: str) -> None:
    """Raise RecordError for JSON whose top level is not an object, or an empty document."""
    if found.kind is Kind.JSON_NOT_OBJECT:
        raise RecordError(f"{what} is not a record or image list: its JSON top level is {found.detail}, "
                          "not an object")
    if found.kind is Kind.EMPTY:
        raise RecordError(f"{what} is empty")
