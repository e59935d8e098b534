#!/usr/bin/env python3
# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The 2016 entry point, kept so ``./src/glancing.py URL -s MD5`` and ``PYTHONPATH=src`` cron
lines run from a checkout (with the dependencies installed): the same command as ``glancing``."""

import os
import sys

# Run as a script, sys.path[0] is src/ and "import glancing" finds the package beside this file
# (a package directory wins over a module of the same name).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from glancing.cli.glancing import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
