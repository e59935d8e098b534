# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""How glancing's image properties live in an OpenNebula image template, and how an OpenNebula
image is shown in the Glance v2 shape the Target protocol hands around.

Attribute names (oned upper-cases them): ``vmcatcher_event_*`` and ``glancing_*`` properties
keep their name (``VMCATCHER_EVENT_DC_IDENTIFIER``, as vmcatcher_eventHndlExpl_ON wrote them,
so site scripts keep working; ``GLANCING_SHA512``); any other property ``p`` is ``GLANCING_P_P``
(an OpenNebula template has its own ``SOURCE``, ``TYPE``, ``DESCRIPTION``...). Glancing's own
state: ``GLANCING_TAGS`` (comma-separated), ``GLANCING_HIDDEN`` (yes/no), ``GLANCING_SIZE``
(bytes registered; oned's SIZE is in MB).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Dict, Iterable, List, Mapping, Tuple

from glancing.targets import names

TAGS, HIDDEN, SIZE = "GLANCING_TAGS", "GLANCING_HIDDEN", "GLANCING_SIZE"
OWN = (TAGS, HIDDEN, SIZE)
_KEPT_PREFIXES = ("vmcatcher_event_", "glancing_")
_OTHER = "GLANCING_P_"
READY, USED, DISABLED, LOCKED, ERROR = 1, 2, 3, 4, 5
# Image states (oned's numbers) as Glance statuses: what callers test (active, deactivated).
STATUS = {0: "queued", READY: "active", USED: "active", DISABLED: "deactivated", LOCKED: "saving", ERROR: "killed",
          6: "saving", 7: "pending_delete", 8: "active", 9: "saving", 10: "saving"}
PERMISSION_BITS = 9
MIB = 1 << 20


def attribute(key: str) -> str:
    """The template attribute of property ``key``."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", key)
    if key.lower().startswith(_KEPT_PREFIXES):
        return clean.upper()
    return _OTHER + clean.upper()


def property_of(attr: str) -> str:
    """The property an attribute holds ("" for one glancing did not write)."""
    if attr in OWN:
        return ""
    if attr.startswith(_OTHER):
        return attr[len(_OTHER):].lower()
    if attr.startswith(("VMCATCHER_EVENT_", "GLANCING_")):
        return attr.lower()
    return ""


def attributes(properties: Mapping[str, Any]) -> Dict[str, str]:
    return {attribute(k): str(v) for k, v in properties.items() if v is not None and str(v) != ""}


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def template_text(attrs: Mapping[str, str]) -> str:
    """``KEY = "value"`` lines, values quoted and escaped as oned's template parser reads them."""
    return "\n".join(f"{k} = {quote(str(v))}" for k, v in attrs.items())


def parse_permissions(text: str) -> Tuple[int, ...]:
    """Octal ``640`` as oned's nine bits (owner U M A, group U M A, other U M A)."""
    if not re.fullmatch(r"[0-7]{3}", text.strip()):
        raise ValueError(f"expected three octal digits like 640, not {text!r}")
    bits: List[int] = []
    for digit in text.strip():
        value = int(digit)
        bits += [(value >> 2) & 1, (value >> 1) & 1, value & 1]
    return tuple(bits)


def permission_bits(obj: Any) -> Tuple[int, ...]:
    perms = obj.PERMISSIONS
    return tuple(int(getattr(perms, n)) for n in ("OWNER_U", "OWNER_M", "OWNER_A", "GROUP_U", "GROUP_M",
                                                      "GROUP_A", "OTHER_U", "OTHER_M", "OTHER_A"))


def visibility(bits: Iterable[int]) -> str:
    owner_u, _, _, group_u, _, _, other_u, _, _ = tuple(bits)
    return "public" if other_u else "shared" if group_u else "private"


def as_image(obj: Any, template: Mapping[str, str]) -> Dict[str, Any]:
    """An OpenNebula image (pyone's IMAGE) in the Glance v2 shape (targets.base)."""
    state = int(obj.STATE)
    image: Dict[str, Any] = {
        "id": str(obj.ID), "name": str(obj.NAME), "status": STATUS.get(state, "queued"), "one_state": state,
        "one_running_vms": int(obj.RUNNING_VMS or 0), "owner": str(obj.UID), "group": str(obj.GNAME),
        "visibility": visibility(permission_bits(obj)), "created_at": names.stamp(_dt.datetime.fromtimestamp(
            int(obj.REGTIME), _dt.timezone.utc)),
        "tags": [t for t in template.get(TAGS, "").split(",") if t], "os_hidden": template.get(HIDDEN) == "yes",
        "disk_format": template.get("DRIVER") or None, "container_format": "bare",
        "size": int(template[SIZE]) if template.get(SIZE, "").isdigit() else int(obj.SIZE or 0) * MIB,
    }
    for attr, value in template.items():
        key = property_of(attr)
        if key:
            image[key] = value
    # The digests glancing verified of the bytes it registered: OpenNebula computes none itself.
    sha512, md5 = image.get(names.PROP_DIGEST_PREFIX + "sha512"), image.get(names.PROP_DIGEST_PREFIX + "md5")
    image.update(checksum=md5, os_hash_algo="sha512" if sha512 else None, os_hash_value=sha512)
    return image
