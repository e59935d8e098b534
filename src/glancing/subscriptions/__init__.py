# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""HEPiX image-list subscriptions (issue 11): the database, list updates, the commands."""
