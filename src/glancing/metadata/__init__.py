# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Tools for people who publish or check StratusLab records (``glancing-metadata``)."""
