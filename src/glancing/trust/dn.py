# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Distinguished names in the two textual forms endorsers use, compared as names.

HEPiX lists write DNs in OpenSSL's one-line "compat" form (``/DC=org/DC=x/CN=name``, encoding
order); StratusLab records in RFC 2253 form (``CN=name,DC=x,DC=org``, reversed order). Both parse
to a :class:`DN`, and two DNs are equal when their RDNs are, attribute by attribute: types
compare by OID (``E``, ``email`` and ``emailAddress`` are one type), values with RFC 5280 §7.1
caseIgnoreMatch (case-folded, surrounding and repeated inner white space ignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Tuple

from cryptography import x509
from cryptography.x509.oid import NameOID

from glancing.errors import RecordError

# OID -> the short name OpenSSL prints with -nameopt compat (and accepts back).
_SHORT: Dict[str, str] = {
    NameOID.COMMON_NAME.dotted_string: "CN",
    NameOID.COUNTRY_NAME.dotted_string: "C",
    NameOID.LOCALITY_NAME.dotted_string: "L",
    NameOID.STATE_OR_PROVINCE_NAME.dotted_string: "ST",
    NameOID.STREET_ADDRESS.dotted_string: "street",
    NameOID.ORGANIZATION_NAME.dotted_string: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME.dotted_string: "OU",
    NameOID.SERIAL_NUMBER.dotted_string: "serialNumber",
    NameOID.SURNAME.dotted_string: "SN",
    NameOID.GIVEN_NAME.dotted_string: "GN",
    NameOID.TITLE.dotted_string: "title",
    NameOID.INITIALS.dotted_string: "initials",
    NameOID.GENERATION_QUALIFIER.dotted_string: "generationQualifier",
    NameOID.X500_UNIQUE_IDENTIFIER.dotted_string: "x500UniqueIdentifier",
    NameOID.DN_QUALIFIER.dotted_string: "dnQualifier",
    NameOID.PSEUDONYM.dotted_string: "pseudonym",
    NameOID.USER_ID.dotted_string: "UID",
    NameOID.DOMAIN_COMPONENT.dotted_string: "DC",
    NameOID.EMAIL_ADDRESS.dotted_string: "emailAddress",
    NameOID.BUSINESS_CATEGORY.dotted_string: "businessCategory",
    NameOID.POSTAL_CODE.dotted_string: "postalCode",
    "2.5.4.41": "name",
    "2.5.4.13": "description",
}
# Attribute type names accepted on input (case-insensitive) -> OID.
_ALIASES: Dict[str, str] = {short.lower(): oid for oid, short in _SHORT.items()}
_ALIASES.update({
    "e": NameOID.EMAIL_ADDRESS.dotted_string,
    "email": NameOID.EMAIL_ADDRESS.dotted_string,
    "userid": NameOID.USER_ID.dotted_string,
    "s": NameOID.STATE_OR_PROVINCE_NAME.dotted_string,
    "sn": NameOID.SURNAME.dotted_string,
    "gn": NameOID.GIVEN_NAME.dotted_string,
    "givenname": NameOID.GIVEN_NAME.dotted_string,
    "surname": NameOID.SURNAME.dotted_string,
})
# In the compat form neither "/" nor "+" is escaped, so a separator is one only when an
# attribute type and "=" follow it; a value may legitimately contain either character.
_ONELINE_SPLIT = re.compile(r"/(?=[A-Za-z][A-Za-z0-9.-]*=)")
_RDN_SPLIT = re.compile(r"\+(?=[A-Za-z][A-Za-z0-9.-]*=)")
_OID_TEXT = re.compile(r"^[0-9]+(\.[0-9]+)+$")

Attribute = Tuple[str, str]  # (dotted OID, value as written)


def _fold(value: str) -> str:
    """RFC 5280 §7.1 caseIgnoreMatch, simplified: case-fold and squeeze white space."""
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class DN:
    """A distinguished name: RDNs in encoding order (most general first), values as written."""

    rdns: Tuple[Tuple[Attribute, ...], ...]

    def _key(self) -> Tuple[FrozenSet[Attribute], ...]:
        return tuple(frozenset((oid, _fold(v)) for oid, v in rdn) for rdn in self.rdns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DN):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def openssl(self) -> str:
        """The OpenSSL ``-nameopt compat`` one-line form HEPiX lists use."""
        return "".join("/" + "+".join(f"{_short(o)}={v}" for o, v in rdn) for rdn in self.rdns)

    def rfc2253(self) -> str:
        """The RFC 2253 form StratusLab records use (most specific RDN first)."""
        parts = []
        for rdn in reversed(self.rdns):
            parts.append("+".join(f"{_short(o)}={_escape_2253(v)}" for o, v in rdn))
        return ",".join(parts)

    def __str__(self) -> str:
        return self.openssl()


def _short(oid: str) -> str:
    return _SHORT.get(oid, oid)


def _escape_2253(value: str) -> str:
    out = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    if out[:1] in ("#", " "):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def _oid_of(attr_type: str, text: str) -> str:
    name = attr_type.strip()
    if _OID_TEXT.match(name):
        return name
    oid = _ALIASES.get(name.lower())
    if oid is None:
        raise RecordError(f"unknown attribute type {name!r} in DN {text!r}")
    return oid


def parse_openssl(text: str) -> DN:
    """Parse the ``/A=v/B=w`` one-line form. Raises RecordError when it is not one."""
    if not text.startswith("/") or "=" not in text:
        raise RecordError(f"not an OpenSSL one-line DN: {text!r}")
    rdns = []
    for chunk in _ONELINE_SPLIT.split(text[1:]):
        attrs = []
        for part in _RDN_SPLIT.split(chunk):
            attr_type, sep, value = part.partition("=")
            if not sep:
                raise RecordError(f"malformed RDN {part!r} in DN {text!r}")
            attrs.append((_oid_of(attr_type, text), value))
        rdns.append(tuple(attrs))
    return DN(tuple(rdns))


def _split_unescaped(text: str, seps: str) -> List[str]:
    """Split at separator characters not preceded by a backslash escape."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if ch in seps:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(value: str, text: str) -> str:
    """Undo RFC 4514 escapes: ``\\,`` and friends, and ``\\hh`` UTF-8 byte pairs."""
    if value.startswith("#"):
        raise RecordError(f"BER-encoded value {value!r} in DN {text!r} is not supported")
    out, i = bytearray(), 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            pair = value[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            out.extend(value[i + 1].encode())
            i += 2
            continue
        out.extend(value[i].encode())
        i += 1
    return out.decode("utf-8", errors="replace")


def parse_rfc2253(text: str) -> DN:
    """Parse the ``CN=x,O=y`` form (RFC 2253 / 4514; spaces after commas are tolerated).

    Raises RecordError when malformed.
    """
    rdns = []
    for chunk in _split_unescaped(text.strip(), ",;"):
        attrs = []
        for part in _split_unescaped(chunk, "+"):
            attr_type, sep, value = part.partition("=")
            if not sep or not attr_type.strip():
                raise RecordError(f"not an RFC 2253 DN: {text!r}")
            # Unescaped leading and trailing spaces are not part of the value (RFC 4514 2.4).
            attrs.append((_oid_of(attr_type, text), _unescape(value.strip(), text)))
        rdns.append(tuple(attrs))
    return DN(tuple(reversed(rdns)))


def parse_dn(text: str) -> DN:
    """Parse a DN in either form: a leading "/" means OpenSSL one-line, else RFC 2253."""
    stripped = text.strip()
    if stripped.startswith("/"):
        return parse_openssl(stripped)
    return parse_rfc2253(stripped)


def from_name(name: x509.Name) -> DN:
    """Turn a certificate's subject or issuer into a DN (encoding order kept)."""
    rdns = []
    for rdn in name.rdns:
        attrs = []
        for attr in rdn:
            value = attr.value if isinstance(attr.value, str) else attr.value.hex()
            attrs.append((attr.oid.dotted_string, value))
        rdns.append(tuple(attrs))
    return DN(tuple(rdns))
