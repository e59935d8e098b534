# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""OpenNebula as a target: ``client`` (the only module calling pyone, with its error mapping),
``target`` (the Target protocol over one image datastore), ``attrs`` (properties as template
attributes), ``vmtemplate`` (the optional VM template per image), ``errors``."""

from __future__ import annotations

from glancing.targets.opennebula.client import OneClient
from glancing.targets.opennebula.target import LIMITS, OneSettings, OpenNebulaTarget


def connect(settings: OneSettings) -> OpenNebulaTarget:
    """The OpenNebula the settings describe (nothing is called until the first request)."""
    return OpenNebulaTarget(OneClient(settings.endpoint, settings.session, settings.request_timeout), settings)


__all__ = ["LIMITS", "OneClient", "OneSettings", "OpenNebulaTarget", "connect"]
