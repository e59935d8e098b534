# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The records that flow through the pipeline: what a source promises, and what was done.

Every source (a path, a URL, a StratusLab record, a HEPiX list entry) becomes an ``ImageSpec``;
everything downstream reads only that.
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple


class Origin(enum.Enum):
    """Who handed us the description of the image; it decides which locations may be read."""

    USER = "user"      # named on the command line: any path or URL the user could type
    LOCAL_RECORD = "local-record"  # a record file the user gave: local paths allowed, see sources
    REMOTE = "remote"  # fetched from a marketplace or list URL: never a local path or file://


class DigestScope(enum.Enum):
    """Which bytes the expected size and digests describe."""

    AS_GIVEN = "as-given"          # the bytes as read or downloaded (URLs, paths, HEPiX lists)
    UNCOMPRESSED = "uncompressed"  # the bytes after decompression (StratusLab records)


@dataclass(frozen=True)
class Location:
    """One place the image bytes can be read from, tried in order."""

    url: str  # http(s)://, ftp://, file:// or a plain local path


@dataclass(frozen=True)
class Expected:
    """What the image bytes must be. Digests are hashlib names -> lowercase hex."""

    size: Optional[int] = None
    digests: Mapping[str, str] = field(default_factory=dict)
    scope: DigestScope = DigestScope.AS_GIVEN
    # A marketplace identifier must equal the 27-character encoding of the SHA-1 of the
    # uncompressed image (formats.md 1.3).
    identifier: Optional[str] = None


@dataclass(frozen=True)
class ImageSpec:
    """Everything a source says about one image, normalised across formats."""

    locations: Tuple[Location, ...]
    origin: Origin
    expected: Expected = field(default_factory=Expected)
    name: Optional[str] = None  # the Glance name the source suggests (title, or os-version-arch)
    compression: Optional[str] = None  # declared: 'gz', 'bz2', 'xz', 'zip'; None: sniff magic bytes
    disk_format: Optional[str] = None  # declared by the source; checked against qemu-img probing
    version: Optional[str] = None
    expires: Optional[_dt.datetime] = None
    deprecated: Optional[str] = None  # the withdrawal reason when withdrawn
    # Glance properties the source contributes (mpid, version, os_distro, endorser, ...).
    properties: Mapping[str, str] = field(default_factory=dict)
    # Where the description itself came from (a record URL or path), for messages and properties.
    described_by: Optional[str] = None

    @property
    def source(self) -> str:
        """The first location, as users know the image."""
        return self.locations[0].url if self.locations else ""
