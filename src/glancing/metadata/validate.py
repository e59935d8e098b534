# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Record validation moved to glancing.formats.stratuslab.validate; this name stays for callers."""

from glancing.formats.stratuslab.validate import validate

__all__ = ["validate"]
