# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one HEPiX image list writer: HepixList -> the JSON vmcaster wrote (formats.md 2.1-2.2).

What it writes reads back through glancing.formats.hepix.read into the same HepixList. The
keys hepixvmitrust requires of every list and image (vmcatcher drops an image that lacks one,
silently) are always written, empty when unknown. ``hv:endorser`` is one object: vmcatcher
cannot read the array vmcaster wrote for two endorsers (vmcatcher.md 3). The layout is
vmcaster's: sorted keys, an indent of 4.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from glancing.formats.dates import format_date
from glancing.formats.hepix.read import HepixImage, HepixList

# Required by hepixvmitrust's decoder (formats.md 2.2); written even when empty.
REQUIRED_IMAGE_TEXT = ("dc:title", "dc:description", "hv:version", "hv:hypervisor", "sl:arch",
                       "sl:os", "sl:osversion", "sl:comments")
REQUIRED_LIST_TEXT = ("dc:title", "dc:description", "dc:source", "hv:uri", "hv:version")


def _put(out: Dict[str, Any], key: str, value: Optional[Any]) -> None:
    if value is not None:
        out[key] = value


def image_entry(image: HepixImage) -> Dict[str, Any]:
    """The ``hv:image`` object: ``entry``'s extra keys, then every typed field over them."""
    out: Dict[str, Any] = dict(image.entry)
    for key in REQUIRED_IMAGE_TEXT:
        out.setdefault(key, "")
    out.update({"dc:identifier": image.identifier, "hv:uri": image.uri, "hv:size": image.size})
    for algorithm, digest in image.checksums.items():
        out[f"sl:checksum:{algorithm}"] = digest
    for key, value in (("dc:title", image.title), ("dc:description", image.description),
                       ("hv:version", image.version), ("hv:hypervisor", image.hypervisor),
                       ("hv:format", image.format), ("sl:arch", image.arch), ("sl:os", image.os),
                       ("sl:osname", image.osname), ("sl:osversion", image.osversion),
                       ("sl:comments", image.comments), ("ad:mpuri", image.mpuri),
                       ("dc:date:expires", format_date(image.expires))):
        _put(out, key, value)
    return out


def list_document(lst: HepixList) -> Dict[str, Any]:
    """The whole ``{"hv:imagelist": {...}}`` document of ``lst``."""
    body: Dict[str, Any] = {key: "" for key in REQUIRED_LIST_TEXT}
    body["dc:identifier"] = lst.identifier
    for key, value in (("dc:title", lst.title), ("dc:description", lst.description),
                       ("dc:source", lst.source), ("hv:uri", lst.uri), ("hv:version", lst.version),
                       ("ad:vo", lst.vo), ("dc:date:created", format_date(lst.created)),
                       ("dc:date:expires", format_date(lst.expires))):
        _put(body, key, value)
    body["hv:endorser"] = {"hv:x509": {
        "dc:creator": lst.endorser_name or "", "hv:ca": lst.endorser_ca or "",
        "hv:dn": lst.endorser_dn or "", "hv:email": lst.endorser_email or ""}}
    body["hv:images"] = [{"hv:image": image_entry(image)} for image in lst.images]
    return {"hv:imagelist": body}


def write_image_list(lst: HepixList) -> bytes:
    """The list as UTF-8 JSON, as vmcaster laid it out, ending with a newline."""
    text = json.dumps(list_document(lst), sort_keys=True, indent=4, ensure_ascii=False)
    return text.encode("utf-8") + b"\n"
