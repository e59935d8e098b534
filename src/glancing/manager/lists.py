# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager list files: one marketplace ID per line, ``#`` comments, blank lines.

A duplicate ID (within or across files) and a malformed line are warnings naming ``file:line``;
the first occurrence wins and IDs keep their file order. A missing or unreadable list file is a
usage error raised before anything is read, so a typo never turns into a partial run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from glancing.errors import UsageError

# formats.md 1.3: 27 base64url digits of a 160-bit SHA-1, so the first digit is at most 15 ('P').
_IDENTIFIER = re.compile(r"[A-P][A-Za-z0-9_-]{26}")


@dataclass(frozen=True)
class ListEntry:
    """One marketplace ID and where it was listed."""

    mpid: str
    path: str
    line: int

    @property
    def where(self) -> str:
        """``file:line``, for messages."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ListWarning:
    """A line that was skipped, and why."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class ImageList:
    """The IDs to process, in order, and the warnings found while reading them."""

    entries: Tuple[ListEntry, ...]
    warnings: Tuple[ListWarning, ...]
    paths: Tuple[str, ...] = ()  # the list files read, an emptied one included

    @property
    def ids(self) -> List[str]:
        """The marketplace IDs in processing order."""
        return [e.mpid for e in self.entries]


def is_marketplace_id(text: str) -> bool:
    """True when ``text`` can be a marketplace identifier (27 chars encoding a SHA-1)."""
    return _IDENTIFIER.fullmatch(text) is not None


def _strip_comment(line: str) -> str:
    # '#' is not in the identifier alphabet, so cutting at the first one is always safe.
    return line.split("#", 1)[0].strip()


def _why_malformed(text: str) -> str:
    if len(text.split()) > 1:
        return f"malformed line (one ID per line expected): {text!r}"
    if len(text) != 27:
        return f"malformed ID {text!r}: a marketplace ID has 27 characters, not {len(text)}"
    return f"malformed ID {text!r}: not the base64url encoding of a SHA-1"


def parse_lists(files: Sequence[Tuple[str, str]]) -> ImageList:
    """Parse ``(path, text)`` pairs in order into one de-duplicated list. Raises nothing."""
    entries: List[ListEntry] = []
    warnings: List[ListWarning] = []
    first_seen: Dict[str, ListEntry] = {}
    for path, text in files:
        for number, raw in enumerate(text.splitlines(), start=1):
            token = _strip_comment(raw)
            if not token:
                continue
            if not is_marketplace_id(token):
                warnings.append(ListWarning(path, number, _why_malformed(token)))
                continue
            if token in first_seen:
                where = first_seen[token].where
                warnings.append(ListWarning(path, number, f"duplicate ID {token} (first at {where})"))
                continue
            entry = ListEntry(token, path, number)
            first_seen[token] = entry
            entries.append(entry)
    return ImageList(tuple(entries), tuple(warnings), tuple(path for path, _ in files))


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read list file {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"list file {path} is not UTF-8 text (byte {exc.start})") from exc


def read_lists(paths: Sequence[str]) -> ImageList:
    """Read and parse list files in order.

    Raises UsageError when no file is given, or when any file is missing, is a directory or
    cannot be read; every file is checked before any is parsed.
    """
    if not paths:
        raise UsageError("no image list given (use -l LIST, repeatable)")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise UsageError(f"list file not found: {', '.join(missing)}")
    return parse_lists([(p, _read_text(p)) for p in paths])
