# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Retirement policy that holds for every target: how a backup is named, and the local copy of
an image (``-b DIR``) taken before it is retired. How a target retires an image is the target's
(``targets.glance.publish``)."""
