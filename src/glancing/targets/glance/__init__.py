# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""OpenStack Glance as a target: ``store`` (the only module calling glanceclient, with its retry
policy), ``target`` (the Target protocol: stage, verify, release, retire, discard, leftovers),
``auth`` (credentials as every OpenStack CLI takes them)."""

from __future__ import annotations

import argparse
import logging
from typing import Any, Optional

from glancing.targets.glance.importer import ImportWait, check_stores
from glancing.targets.glance.store import GlanceStore
from glancing.targets.glance.target import COMPUTES, LIMITS, GlanceSettings, GlanceTarget

log = logging.getLogger(__name__)


def connect(args: argparse.Namespace, settings: GlanceSettings = GlanceSettings(),
            cloud: Optional[str] = None) -> GlanceTarget:
    """The Glance the OpenStack options and environment describe, scoped to the session's project
    (every visible image when the session has none, e.g. a bare token); ``cloud`` names the
    clouds.yaml entry when several were given. Raises GlanceError or UsageError."""
    from glancing.targets.glance.auth import glance_client

    return connect_client(glance_client(args, cloud), settings)


def connect_client(client: Any, settings: GlanceSettings = GlanceSettings()) -> GlanceTarget:
    """A GlanceTarget over a glanceclient v2 client; the stores named in ``settings`` must exist."""
    store = GlanceStore(client, settings.request_policy())
    project = store.project_id()
    if not project:
        log.warning("no project in the Keystone session: images of every project visible to it count as ours")
    check_stores(store, settings.stores)
    return GlanceTarget(store, project, settings.discard_policy(), settings.stores,
                        ImportWait(timeout=settings.import_timeout))


__all__ = ["COMPUTES", "LIMITS", "GlanceSettings", "GlanceStore", "GlanceTarget", "ImportWait", "connect",
           "connect_client"]
