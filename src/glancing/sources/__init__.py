# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Where an image comes from: turn what the user typed into an ImageSpec.

In order: an http(s)/ftp URL; a file:// URL or an existing local path (a record file when its
content is one, else the image itself); with -c, an entry of a HEPiX image list; a 27-character
StratusLab marketplace ID.
"""

from __future__ import annotations

import argparse
import os

from glancing.errors import SourceError
from glancing.model import ImageSpec
from glancing.sources import plain


def resolve(text: str, args: argparse.Namespace) -> ImageSpec:
    """The ImageSpec for SOURCE as typed on the command line. Raises SourceError or RecordError."""
    if plain.is_url(text):
        return plain.spec_for(text, {})
    path = plain.path_of(text)
    if path is not None and os.path.exists(path):
        return plain.spec_for(path, {})
    raise SourceError(f"{text}: no such file, and not a URL")
