# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The optional VM template per image (``[opennebula] template = yes``), as cloudkeeper-one made
one: named like the image, booting it (``DISK = [ IMAGE_ID = N ]``), ``CPU 0.25``, one VCPU and
the record's RAM (1 GiB when it gives none). Releasing a new version replaces the template."""

from __future__ import annotations

from typing import Any, Mapping

from glancing.targets.opennebula import attrs

APPLIANCE = "GLANCING_APPLIANCE"
IMAGE_ID = "GLANCING_IMAGE_ID"


def _memory_mb(record: Mapping[str, str]) -> int:
    for key in ("min_ram", "vmcatcher_event_sl_ram", "ram"):
        value = str(record.get(key) or "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1024


def replace_template(client: Any, name: str, image_id: int, record: Mapping[str, str]) -> int:
    """Delete the appliance's previous templates, allocate the new one; its ID."""
    pool = client.call("templatepool.info", -3, -1, -1)
    for old in getattr(pool, "VMTEMPLATE", None) or []:
        template = getattr(old, "TEMPLATE", None) or {}
        if template.get(APPLIANCE) == name or old.NAME == name:
            client.call("template.delete", int(old.ID))
    text = attrs.template_text({"NAME": name, "CPU": "0.25", "VCPU": "1", "MEMORY": str(_memory_mb(record)),
                                APPLIANCE: name, IMAGE_ID: str(image_id)})
    return int(client.call("template.allocate", f"{text}\nDISK = [ IMAGE_ID = \"{image_id}\" ]"))
