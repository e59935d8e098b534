# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one JSON loader for records and lists: bounded size, any Unicode encoding, an object on top."""

from __future__ import annotations

import json
from typing import Any, Dict

from glancing.errors import RecordError

# A VO list of a few hundred images, or an RDF/JSON record, stays far below.
MAX_JSON_BYTES = 16 * 1024 * 1024


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    for kind, name in ((dict, "an object"), (list, "an array"), (str, "a string"), (bool, "a boolean"),
                       (int, "a number"), (float, "a number")):
        if isinstance(value, kind):
            return name
    return "null"


def load_object(data: bytes, what: str, kind: str = "document",
                max_bytes: int = MAX_JSON_BYTES) -> Dict[str, Any]:
    """Parse ``data`` (UTF-8/16/32, with or without BOM) as a JSON object.

    ``kind`` names the expected document in messages ("image list", "RDF/JSON record").
    Raises RecordError for an oversized, too deeply nested or malformed document, or one
    whose top level is not an object.
    """
    if len(data) > max_bytes:
        raise RecordError(f"{what} refused: {len(data)} bytes is over the {max_bytes}-byte limit for JSON")
    try:
        document = json.loads(bytes(data))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # deep nesting: RecursionError
        raise RecordError(f"{what} is not valid JSON ({kind}): {e}") from None
    if not isinstance(document, dict):
        raise RecordError(f"{what} is not a {kind}: its JSON top level is {json_type(document)}, "
                          "not an object")
    return document
