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

# The disk formats Glance stores, plus OVA, which a record may declare and the pipeline
# reports on itself. A record naming anything else is refused as malformed.
GLANCE_DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
KNOWN_DISK_FORMATS = GLANCE_DISK_FORMATS + ("ova",)
