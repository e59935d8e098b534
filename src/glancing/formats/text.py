# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Values read from endorsed content, made safe to print, log and send.

A title is written by whoever signed the record, and "signed" says nothing about being
well-behaved: a newline in a title fakes a second ``glancing: error:`` line, an ESC sequence
rewrites the operator's terminal, a bidi override shows a name other than the one stored. The
readers pass every string value through ``clean`` once, so nothing downstream needs to care.
"""

from __future__ import annotations

import unicodedata

# Line and paragraph separators end a line as surely as "\n" does on most terminals and logs.
_BREAKS = {"\u2028", "\u2029", "\u0085"}


def _unsafe(char: str) -> bool:
    if char in _BREAKS:
        return True
    # Cc: C0 and C1 controls (NUL, ESC, CR, LF, DEL...); Cf: format characters, which hold the
    # bidi overrides and isolates and zero-width joiners that disguise what a name says.
    return unicodedata.category(char) in ("Cc", "Cf")


def clean(value: str) -> str:
    """``value`` on one line: tabs and line breaks become a space, other controls are dropped."""
    if value.isprintable():
        return value  # the common case, and a cheap test
    out = []
    for char in value:
        if char in "\t\n\r" or char in _BREAKS:
            out.append(" ")
        elif not _unsafe(char):
            out.append(char)
    return "".join(out)
