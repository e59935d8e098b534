# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What the simulator sends: the XML-RPC envelope exactly as OpenNebula 5's Xmlrpc-c server
writes it (CRLF, ``<boolean>``, ``<i4>``, only ``& < >`` escaped), and the object XML of images
and datastores in OpenNebula 5's element order, strings in CDATA where it puts them.

The element lists below are read from the recorded responses in test/fixtures/opennebula/.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\r\n<methodResponse>\r\n<params>\r\n<param><value><array><data>\r\n'
TAIL = '</data></array></value></param>\r\n</params>\r\n</methodResponse>\r\n'
PERMISSION_NAMES = ("OWNER_U", "OWNER_M", "OWNER_A", "GROUP_U", "GROUP_M", "GROUP_A", "OTHER_U", "OTHER_M", "OTHER_A")
MIB = 1 << 20


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def value(item: Any) -> str:
    """One ``<value>`` of the response array."""
    if isinstance(item, bool):
        return f"<value><boolean>{int(item)}</boolean></value>\r\n"
    if isinstance(item, int):
        return f"<value><i4>{item}</i4></value>\r\n"
    return f"<value><string>{escape(str(item))}</string></value>\r\n"


def response(ok: bool, body: Any, code: int = 0) -> bytes:
    """``[success, body or message, error code]``: every OpenNebula call answers this array."""
    return (HEAD + value(ok) + value(body) + value(code) + TAIL).encode("utf-8")


def cdata(text: str) -> str:
    return f"<![CDATA[{text}]]>"


def element(tag: str, inner: Any) -> str:
    return f"<{tag}>{inner}</{tag}>"


def permissions(bits: Sequence[int]) -> str:
    return element("PERMISSIONS", "".join(element(n, b) for n, b in zip(PERMISSION_NAMES, bits)))


def template(attributes: Mapping[str, str]) -> str:
    # OpenNebula keeps a template as a multimap sorted by name: that is the order it answers in.
    return element("TEMPLATE", "".join(element(k, cdata(v)) for k, v in sorted(attributes.items())))


def ids(tag: str, values: Iterable[int]) -> str:
    return element(tag, "".join(element("ID", v) for v in values))


def size_mb(size: int) -> int:
    """OpenNebula's SIZE: megabytes, rounded up (a 1-byte image is 1)."""
    return max(1, math.ceil(size / MIB))


def image_xml(image: Mapping[str, Any]) -> str:
    parts = [element(k, image[k]) for k in ("ID", "UID", "GID", "UNAME", "GNAME", "NAME")]
    parts.append(permissions(image["PERMISSIONS"]))
    parts += [element(k, image[k]) for k in ("TYPE", "DISK_TYPE", "PERSISTENT", "REGTIME")]
    parts += [element(k, cdata(image[k])) for k in ("SOURCE", "PATH", "FSTYPE")]
    parts += [element(k, image[k]) for k in ("SIZE", "STATE", "RUNNING_VMS", "CLONING_OPS", "CLONING_ID",
                                                "TARGET_SNAPSHOT", "DATASTORE_ID", "DATASTORE")]
    parts += [ids("VMS", image["VMS"]), ids("CLONES", ()), ids("APP_CLONES", ()), template(image["TEMPLATE"]),
              element("SNAPSHOTS", "")]
    return element("IMAGE", "".join(parts))


def datastore_xml(ds: Mapping[str, Any], images: Sequence[int]) -> str:
    parts = [element(k, ds[k]) for k in ("ID", "UID", "GID", "UNAME", "GNAME", "NAME")]
    parts.append(permissions(ds["PERMISSIONS"]))
    parts += [element(k, cdata(ds[k])) for k in ("DS_MAD", "TM_MAD", "BASE_PATH")]
    parts += [element(k, ds[k]) for k in ("TYPE", "DISK_TYPE", "STATE")]
    parts.append(ids("CLUSTERS", (0,)))
    parts += [element(k, ds[k]) for k in ("TOTAL_MB", "FREE_MB", "USED_MB")]
    parts += [ids("IMAGES", images), template(ds["TEMPLATE"])]
    return element("DATASTORE", "".join(parts))


def group_xml(group_id: int, name: str, users: Sequence[int]) -> str:
    # Not recorded: the elements of OpenNebula 5's GROUP that pyone's binding reads.
    return element("GROUP", element("ID", group_id) + element("NAME", name) + element("TEMPLATE", "")
                   + ids("USERS", users) + ids("ADMINS", ()))


def template_object_xml(tpl: Mapping[str, Any]) -> str:
    parts = [element(k, tpl[k]) for k in ("ID", "UID", "GID", "UNAME", "GNAME", "NAME")]
    parts += [permissions(tpl["PERMISSIONS"]), element("REGTIME", tpl["REGTIME"]), template(tpl["TEMPLATE"])]
    return element("VMTEMPLATE", "".join(parts))


# -- reading what the simulator is sent, and the recorded objects it is seeded with

_NAME = re.compile(r"\s*([A-Za-z0-9_\-]+)\s*=\s*")


def parse_template(text: str) -> Dict[str, str]:
    """An OpenNebula template (``KEY = "value"`` lines; quotes escaped ``\\"``; bare values end at
    the line's end) as a dict with upper-cased names, as oned stores them. Raises ValueError."""
    found: Dict[str, str] = {}
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        match = _NAME.match(text, pos)
        if not match:
            raise ValueError(f"syntax error near {text[pos:pos + 20]!r}")
        pos = match.end()
        if text.startswith("[", pos):  # a vector attribute (DISK = [ IMAGE_ID = "3" ]): kept as written
            end = text.find("]", pos)
            if end < 0:
                raise ValueError("unterminated vector attribute")
            found[match.group(1).upper()] = text[pos + 1:end].strip()
            pos = end + 1
        elif text.startswith('"', pos):
            chars: List[str] = []
            pos += 1
            while pos < len(text) and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < len(text):
                    pos += 1
                chars.append(text[pos])
                pos += 1
            if pos >= len(text):
                raise ValueError("unterminated quoted value")
            pos += 1
            found[match.group(1).upper()] = "".join(chars)
        else:
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            found[match.group(1).upper()] = text[pos:end].strip()
            pos = end
    return found


def leaf_values(xml: str) -> List[Tuple[str, str]]:
    """(tag, text) of every leaf element of an object XML, CDATA unwrapped, in document order."""
    return [(m.group(1), m.group(3) if m.group(3) is not None else m.group(4))
            for m in re.finditer(r"<([A-Z_0-9]+)>(<!\[CDATA\[(.*?)\]\]>|([^<]*))</\1>", xml, re.S)]


def first(xml: str, tag: str) -> Optional[str]:
    match = re.search(rf"<{tag}>(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))</{tag}>", xml, re.S)
    if not match:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)
