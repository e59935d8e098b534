# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Sources that are just bytes: a local path, a file:// URL, or an http(s) URL the user named."""

from __future__ import annotations

import os
from typing import Mapping, Optional
from urllib.parse import urlsplit

from glancing.fetch import local_path
from glancing.fetch.http import url_basename
from glancing.model import DigestScope, Expected, ImageSpec, Location, Origin


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https", "ftp")


path_of = local_path  # the local path a plain path or file:// URL names, else None


def file_name(text: str) -> str:
    """The file name a SUMS file would list for this source."""
    return url_basename(text) if is_url(text) else os.path.basename((path_of(text) or text).rstrip("/"))


def spec_for(text: str, digests: Mapping[str, str], size: Optional[int] = None) -> ImageSpec:
    """An ImageSpec for a path or URL the user named; ``digests`` describe the bytes as given."""
    location = text if is_url(text) else (path_of(text) or text)
    return ImageSpec(locations=(Location(location),), origin=Origin.USER,
                     expected=Expected(size=size, digests=dict(digests), scope=DigestScope.AS_GIVEN))
