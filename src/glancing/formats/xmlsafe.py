# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one way glancing parses XML: no entities, no DTD, no network, bounded size.

Records come from marketplaces nobody controls any more, so an XML document is hostile until
parsed: a billion-laughs record must not eat the memory, an XXE record must not make us read
``/etc/passwd`` or a URL. StratusLab records never carry a DOCTYPE, so any DOCTYPE is refused
outright instead of being half-trusted.
"""

from __future__ import annotations

from lxml import etree

from glancing.errors import RecordError

# A real record is 3-12 KiB; a marketplace listing of every endorser's record stays far below.
MAX_XML_BYTES = 4 * 1024 * 1024


def _parser(remove_comments: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=remove_comments,
        remove_pis=True,
    )


def _refuse_doctype(tree: etree._ElementTree, what: str) -> None:
    """Raise RecordError if the parsed document declared a DTD (internal or external)."""
    info = tree.docinfo
    dtd = info.internalDTD
    if dtd is not None and (list(dtd.iterentities()) or list(dtd.elements())):
        raise RecordError(f"{what} refused: XML entity declarations are not allowed")
    if info.system_url or info.public_id or info.doctype:
        raise RecordError(f"{what} refused: XML document type declarations are not allowed")


def parse_xml(data: bytes, what: str, remove_comments: bool = False,
              max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse ``data`` safely and return the root element.

    ``what`` names the document in messages. Raises RecordError when the document is larger
    than ``max_bytes``, declares a DOCTYPE (entities, external DTD) or is not well-formed XML.
    With ``remove_comments`` comments are dropped, so ``.text`` sees a value whole.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_xml takes bytes")
    if len(data) > max_bytes:
        raise RecordError(f"{what} refused: {len(data)} bytes is over the {max_bytes}-byte limit for XML")
    # Cheap early refusal; the docinfo check below also catches UTF-16 and other encodings.
    if b"<!ENTITY" in data:
        raise RecordError(f"{what} refused: XML entity declarations are not allowed")
    try:
        root = etree.fromstring(bytes(data), _parser(remove_comments))
    except etree.XMLSyntaxError as e:
        raise RecordError(f"{what} is not well-formed XML: {e}") from None
    if root is None:
        raise RecordError(f"{what} is not well-formed XML: no document element")
    _refuse_doctype(root.getroottree(), what)
    return root
