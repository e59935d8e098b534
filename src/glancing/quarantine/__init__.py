# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The quarantine (issue 14): a verified image held hidden until the site's checks pass.

``inspect`` runs ONE libguestfs inspection per image (``agent`` under the system python3),
``checks`` judges it offline, ``scripts`` runs the site's check scripts, ``verdict`` sums up, and
``gate`` does it all between the stored-copy check and the release (see ``pipeline``).
"""
