# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Targets: where a verified image goes. ``base`` is the one Target protocol the pipeline and the
manager use; ``names`` spells every tag and property once; ``glance`` is OpenStack Glance."""
