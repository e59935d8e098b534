# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``python -m glancing SOURCE``: the same command as ``glancing``."""

import sys

from glancing.cli.glancing import main

sys.exit(main())
