# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The manager's version order is the project's one order, defined in glancing.formats.versions."""

from glancing.formats.versions import (VersionInfo, comparable, compare_versions, is_numeric, numeric_parts,
                                       sort_versions)

__all__ = ["VersionInfo", "comparable", "compare_versions", "is_numeric", "numeric_parts", "sort_versions"]
