# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Names every format module shares, defined once: XML namespaces, identifier pattern, formats."""

from __future__ import annotations

import re

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DCTERMS_NS = "http://purl.org/dc/terms/"
SLREQ_NS = "http://mp.stratuslab.eu/slreq#"
SLTERMS_NS = "http://mp.stratuslab.eu/slterms#"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# Every StratusLab record's root carries this xml:base; RDF tools name the image from it.
STRATUSLAB_BASE = "http://mp.stratuslab.eu/"

# A marketplace identifier: 27 base-64 digits of a 160-bit SHA-1, so the two top bits are zero
# and the first digit is A-P (formats.md 1.3).
MARKETPLACE_ID = r"[A-P][A-Za-z0-9_-]{26}"
MARKETPLACE_ID_PATTERN = re.compile(rf"^{MARKETPLACE_ID}$")

# The disk formats Glance stores, plus OVA, an archive whose disk the pipeline imports
# (transform.ova). A record naming anything else is refused as malformed.
GLANCE_DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
KNOWN_DISK_FORMATS = GLANCE_DISK_FORMATS + ("ova",)
# Other names records and lists give those formats: qemu's (vpc), the HEPiX spec's, common spellings.
DISK_FORMAT_ALIASES = {"vpc": "vhd", "img": "raw", "qcow2": "qcow2", "qcow-2": "qcow2", "vmdk": "vmdk",
                       "vhd": "vhd", "vhdx": "vhdx", "vdi": "vdi", "raw": "raw", "iso": "iso", "ova": "ova"}


def normalize_disk_format(text: str) -> str:
    """A declared disk format in Glance's spelling (``VPC`` -> ``vhd``, ``QCOW2`` -> ``qcow2``);
    an unknown name comes back lower-cased, for the caller to refuse."""
    lowered = text.strip().lower()
    return DISK_FORMAT_ALIASES.get(lowered, lowered)
