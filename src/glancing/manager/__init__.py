# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager's building blocks: list files, version order, the per-image plan, retention,
the run lock, the run report and the metrics file. Everything here but ``lock`` and the
writers in ``metrics`` is pure: no Glance, no network."""
