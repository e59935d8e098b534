# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The endorser's publishing side: writing and uploading image lists and records (a later issue).

Importing into a cloud is not publishing: that is ``glancing.targets``."""
