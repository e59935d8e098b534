# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""HEPiX virtual machine image lists (formats.md section 2)."""
