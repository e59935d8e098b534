# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Where marketplace records are fetched from: ``<base>/<ID>`` answers a <metadata> listing.

The public StratusLab marketplace (the historical default below) has been gone since about
2017; sites that run their own give ``-u/--url`` or ``GLANCING_MARKETPLACE_URL``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Tuple

from glancing.errors import UsageError
from glancing.fetch import read_small
from glancing.fetch.http import HttpSettings, new_session
from glancing.formats.xmlsafe import MAX_XML_BYTES
from glancing.formats.vocab import MARKETPLACE_ID_PATTERN

if TYPE_CHECKING:
    from glancing.sources.stratuslab import StratusLabRecord

DEFAULT_MARKETPLACE_URL = "https://marketplace.stratuslab.eu/marketplace/metadata"


def marketplace_base(url: Optional[str]) -> str:
    """The base URL ([sources] marketplace_url, which -u and $GLANCING_MARKETPLACE_URL set), else the
    historical default. Raises UsageError for a URL that is not http(s)."""
    base = url or DEFAULT_MARKETPLACE_URL
    if not base.startswith(("http://", "https://")):
        raise UsageError(f"marketplace URL {base!r} must be an http:// or https:// URL")
    return base.rstrip("/")


def is_identifier(text: str) -> bool:
    """Whether ``text`` has the shape of a marketplace identifier (27 characters, first A-P)."""
    return bool(MARKETPLACE_ID_PATTERN.match(text))


def record_url(base: str, identifier: str) -> str:
    """The listing URL of an identifier (every endorser's latest record)."""
    return f"{base.rstrip('/')}/{identifier}"


def fetch_listing(identifier: str, base: str, settings: HttpSettings = HttpSettings()) -> Tuple[bytes, str]:
    """Fetch the raw listing of ``identifier`` (for signature checks); return (bytes, url).

    Raises SourceError when the marketplace is unreachable or answers an HTTP error.
    """
    url = record_url(base, identifier)
    session = new_session(settings)
    session.headers["Accept"] = "application/xml"
    try:
        return read_small(url, session, settings, MAX_XML_BYTES, allow_local=False), url
    finally:
        session.close()


def fetch_records(identifier: str, base: str,
                  settings: HttpSettings = HttpSettings()) -> Tuple[List["StratusLabRecord"], str]:
    """Fetch and parse the listing of ``identifier``; return (records, url).

    Raises SourceError (unreachable, HTTP error) or RecordError (an HTML page, an empty or
    DataTables listing, a malformed record).
    """
    from glancing.sources.stratuslab import parse_records  # rdflib: only when records are read

    data, url = fetch_listing(identifier, base, settings)
    return parse_records(data, url), url
