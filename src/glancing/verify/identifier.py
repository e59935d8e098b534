# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Marketplace identifiers: the image's SHA-1 written as 27 base-64 digits (formats.md 1.3).

The SHA-1 is read as a 160-bit integer and written most-significant digit first over the
URL-safe alphabet, left-padded with 'A' (zero). It is NOT base64url of the digest bytes, which
pads at the other end. Identifiers and SHA-1 values are compared as integers, as the marketplace
server does, so a SHA-1 written with a leading zero (41 hex digits) still matches.
"""

from __future__ import annotations

import hashlib
import re
from typing import Optional

from glancing.errors import RecordError, SourceError
from glancing.formats.vocab import MARKETPLACE_ID_PATTERN

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
IDENTIFIER_LENGTH = 27
IDENTIFIER_PATTERN = MARKETPLACE_ID_PATTERN  # defined once, in glancing.formats.vocab
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_CHUNK = 1024 * 1024


def sha1_int(sha1_hex: str) -> int:
    """The SHA-1 as an integer; raises RecordError if it is not hex or needs over 160 bits."""
    value = sha1_hex.strip()
    if not _HEX.match(value):
        raise RecordError(f"{sha1_hex!r} is not a hexadecimal SHA-1")
    number = int(value, 16)
    if number >> 160:
        raise RecordError(f"{sha1_hex!r} is longer than a SHA-1 (160 bits)")
    return number


def sha1_to_identifier(sha1_hex: str) -> str:
    """The 27-character marketplace identifier of a SHA-1 given in hex (raises RecordError)."""
    number = sha1_int(sha1_hex)
    digits = []
    for _ in range(IDENTIFIER_LENGTH):
        number, digit = divmod(number, 64)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def identifier_to_int(identifier: str) -> Optional[int]:
    """The integer an identifier encodes, or None when it is not a well-formed identifier."""
    if not IDENTIFIER_PATTERN.match(identifier or ""):
        return None
    number = 0
    for char in identifier:
        number = number * 64 + _VALUE[char]
    return number


def identifier_to_sha1(identifier: str) -> str:
    """The 40-hex-digit SHA-1 an identifier encodes (zero-padded); raises RecordError."""
    number = identifier_to_int(identifier)
    if number is None:
        raise RecordError(f"{identifier!r} is not a marketplace identifier (27 characters A-Z a-z 0-9 - _)")
    return f"{number:040x}"


def identifier_matches(identifier: str, sha1_hex: str) -> bool:
    """Whether ``identifier`` encodes ``sha1_hex``, compared as integers; False if either is malformed."""
    number = identifier_to_int(identifier)
    if number is None:
        return False
    try:
        return number == sha1_int(sha1_hex)
    except RecordError:
        return False


def identifier_of_file(path: str) -> str:
    """The identifier of the image file at ``path``, read once; raises SourceError if unreadable."""
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None
    return sha1_to_identifier(digest.hexdigest())
