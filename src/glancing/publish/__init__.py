# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The endorser's publishing side: HEPiX image lists kept in a database (db, store), images
described from their files (images), lists signed (sign) and uploaded (upload, appdb), and
signed lists imported after verification (service). ``glancing-publish`` is the CLI.

Importing into a cloud is not publishing: that is ``glancing.targets``."""
