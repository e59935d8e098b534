# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""SUMS files (``-S``): what each of them lists for the image, as expected digests.

A SUMS file is read whole (paths and ``file://`` allowed: the user named it), through the same
fetcher, bounds, retry policy, CA file and redirect checks as the image; the session it uses is
closed on every path.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

from glancing.fetch import HttpSettings, new_session, read_small
from glancing.verify import digests as _digests

# Real SUMS files list hundreds of images in a few kB; 16 MiB leaves room and bounds memory.
MAX_SUMS_BYTES = 16 << 20


def expected_from_sums(locations: Sequence[str], image_name: str, http: HttpSettings = HttpSettings(),
                       known: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``known`` (e.g. the ``-s`` digests) plus every digest each SUMS file lists for ``image_name``.

    Each file must list the image. Raises SourceError or UnsafeLocation (a file cannot be read),
    VerificationError (a file lists no line for the image), UsageError (a malformed line, or two
    values for one algorithm, across files or against ``known``).
    """
    found = dict(known or {})
    if not locations:
        return found
    session = new_session(http)
    try:
        for location in locations:
            data = read_small(location, session, http, MAX_SUMS_BYTES, allow_local=True)
            listed = _digests.parse_sums_file(data.decode("utf-8", "replace"), image_name, location)
            for algorithm, value in listed.items():
                _digests.add_expected(found, algorithm, value, location)
    finally:
        session.close()
    return found
