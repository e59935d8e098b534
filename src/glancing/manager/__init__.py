# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager: list files, version order, the per-image plan, retention, the run lock, the
run report and the metrics file (pure, but ``lock`` and the ``metrics`` writer); ``run`` carries
one sync out against a ``targets.base.Target``; ``service`` holds the commands (sync, status,
rollback) the CLI calls."""
