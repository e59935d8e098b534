#!/usr/bin/env python3
# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The 2016 entry point, kept so ``glance_manager.py -v -l img_list.txt`` cron lines run from a
checkout (with the dependencies installed): the same command as ``glance_manager``."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from glancing.cli.manager import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
