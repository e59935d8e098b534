# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""StratusLab marketplace records: RDF/XML and RDF/JSON (formats.md section 1)."""
