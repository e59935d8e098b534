# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""StratusLab record validation: the schema and constraint rules of formats.md 1.1-1.3.

``validate`` returns one ``"rule: detail"`` message per broken rule (empty list: valid). The rules
are those the marketplace applied on upload (the XSDs plus its constraint checker), stated
generally so that any record is judged the same way:

  xml            well-formed, safe XML (no DOCTYPE/entities, size cap)
  root           the document is rdf:RDF (or a <metadata> listing of rdf:RDF records)
  xml-base       rdf:RDF carries xml:base="http://mp.stratuslab.eu/"
  description    rdf:RDF holds exactly one rdf:Description, first
  signature      nothing follows the Description but at most one ds:Signature
  rdf-syntax     the record is valid RDF/XML
  required       identifier, bytes, checksum, endorsement and dcterms:type are present
  single-valued  terms of cardinality 0..1 or 1 are not repeated
  literal        plain-value terms hold text, not elements
  identifier     27 characters, first A-P (it encodes a 160-bit SHA-1)
  about          rdf:about is "#" + dcterms:identifier
  bytes, serial-number   non-negative integers
  parse-type     checksum, endorsement and endorser use rdf:parseType="Resource"
  checksum       each has one algorithm and one value; exactly one SHA-1
  checksum-value hexadecimal, as long as the algorithm's digest
  identifier-sha1  the identifier encodes the SHA-1 (compared as integers)
  endorsement, endorser, email   created date, endorser with email/subject/issuer; e-mail syntax
                 (an empty endorsement is an unsigned template: allowed only without a Signature)
  date           dates are strictly YYYY-MM-DDThh:mm:ssZ
  port, icmp     ports 0-65535, ICMP types 0-255
"""

from __future__ import annotations

import re
from typing import List, Optional

import rdflib
from lxml import etree

from glancing.errors import RecordError
from glancing.formats.dates import is_strict_date
from glancing.formats.detect import Kind, detect
from glancing.formats.jsonsafe import load_object
from glancing.formats.vocab import DCTERMS_NS, DS_NS, MARKETPLACE_ID_PATTERN, RDF_NS, SLREQ_NS, SLTERMS_NS, XML_NS
from glancing.formats.vocab import STRATUSLAB_BASE as BASE
from glancing.formats.xmlsafe import parse_xml
from glancing.verify.identifier import identifier_matches
# Clark notation prefixes ("{uri}local"), as lxml names elements.
DC, SLREQ, SLTERMS = f"{{{DCTERMS_NS}}}", f"{{{SLREQ_NS}}}", f"{{{SLTERMS_NS}}}"
_PREFIX = {DCTERMS_NS: "dcterms", SLREQ_NS: "slreq", SLTERMS_NS: "slterms", RDF_NS: "rdf", DS_NS: "ds"}
SINGLE = [DC + t for t in ("identifier", "title", "alternative", "description", "creator", "created",
                                   "valid", "publisher", "type", "format", "compression", "isReplacedBy",
                                   "replaces", "isVersionOf")]
SINGLE += [SLREQ + "bytes", SLREQ + "endorsement"]
SINGLE += [SLTERMS + t for t in ("kind", "os", "os-version", "os-arch", "version", "serial-number",
                                    "hypervisor", "disks-bus", "deprecated")]
MULTI_LITERAL = [SLTERMS + t for t in ("location", "inbound-port", "outbound-port", "icmp")]
REQUIRED = [DC + "identifier", SLREQ + "bytes", SLREQ + "checksum", SLREQ + "endorsement",
            DC + "type"]
HEX_LENGTH = {"MD5": 32, "SHA-1": 40, "SHA-224": 56, "SHA-256": 64, "SHA-384": 96, "SHA-512": 128}
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
# Attributes RDF/XML allows on a property element that has content.
_SYNTAX_ATTRS = {f"{{{RDF_NS}}}{a}" for a in ("parseType", "datatype", "ID", "resource", "nodeID", "about")}
_SYNTAX_ATTRS |= {f"{{{XML_NS}}}lang", f"{{{XML_NS}}}base"}


def _label(tag: str) -> str:
    qname = etree.QName(tag)
    prefix = _PREFIX.get(qname.namespace or "")
    return f"{prefix}:{qname.localname}" if prefix else tag


def _children(el: etree._Element, tag: Optional[str] = None) -> List[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and (tag is None or c.tag == tag)]


def _text(el: etree._Element) -> str:
    return "".join(el.itertext()).strip()


def _is_resource(el: etree._Element) -> bool:
    return el.get(f"{{{RDF_NS}}}parseType") == "Resource"


def _one_text(parent: etree._Element, tag: str, rule: str, out: List[str]) -> Optional[str]:
    found = _children(parent, tag)
    if len(found) != 1:
        out.append(f"{rule}: {_label(parent.tag)} needs exactly one {_label(tag)}, found {len(found)}")
        return None
    return _text(found[0])


def _check_structure(rdf_el: etree._Element, out: List[str]) -> Optional[etree._Element]:
    if rdf_el.get(f"{{{XML_NS}}}base") != BASE:
        out.append(f"xml-base: rdf:RDF must carry xml:base=\"{BASE}\", found {rdf_el.get(f'{{{XML_NS}}}base')!r}")
    children = _children(rdf_el)
    if not children or children[0].tag != f"{{{RDF_NS}}}Description":
        out.append("description: rdf:RDF must hold one rdf:Description as its first element")
        return None
    rest = children[1:]
    if len(rest) > 1 or any(c.tag != f"{{{DS_NS}}}Signature" for c in rest):
        found = ", ".join(_label(c.tag) for c in rest)
        out.append(f"signature: only one ds:Signature may follow the rdf:Description, found {found}")
    return children[0]


def _check_rdf(rdf_el: etree._Element, out: List[str]) -> None:
    alone = parse_xml(etree.tostring(rdf_el), "record", remove_comments=True)
    for sig in _children(alone, f"{{{DS_NS}}}Signature"):
        alone.remove(sig)
    try:
        rdflib.Graph().parse(data=etree.tostring(alone), format="xml", publicID=BASE)
    except Exception as e:  # rdflib raises assorted SAX and parser errors
        out.append(f"rdf-syntax: not valid RDF/XML: {e}")
    for prop in alone.iter():
        if not isinstance(prop.tag, str) or prop.getparent() is None or prop.tag == f"{{{RDF_NS}}}Description":
            continue
        extra = [a for a in prop.attrib if a not in _SYNTAX_ATTRS]
        has_content = bool(_children(prop)) or bool((prop.text or "").strip())
        if extra and has_content and prop.getparent().tag != f"{{{RDF_NS}}}RDF":
            out.append(f"rdf-syntax: {_label(prop.tag)} has property attribute {_label(extra[0])}, "
                       "allowed only on an empty property element")


def _check_terms(desc: etree._Element, out: List[str]) -> None:
    for tag in REQUIRED:
        if not _children(desc, tag):
            out.append(f"required: {_label(tag)} is missing")
    for tag in SINGLE:
        count = len(_children(desc, tag))
        if count > 1:
            out.append(f"single-valued: {_label(tag)} appears {count} times; it may appear once")
    for tag in SINGLE + MULTI_LITERAL:
        if tag == SLREQ + "endorsement":
            continue
        for el in _children(desc, tag):
            if _children(el):
                out.append(f"literal: {_label(tag)} must be a plain value, it holds elements")


def _check_identifier(desc: etree._Element, out: List[str]) -> Optional[str]:
    ids = _children(desc, DC + "identifier")
    identifier = _text(ids[0]) if ids else None
    about = desc.get(f"{{{RDF_NS}}}about")
    if identifier is not None and not MARKETPLACE_ID_PATTERN.match(identifier):
        out.append(f"identifier: {identifier!r} is not 27 characters [A-Za-z0-9_-] starting with A-P")
    if identifier is not None and about != "#" + identifier:
        out.append(f"about: rdf:about {about!r} must be '#' followed by the identifier {identifier!r}")
    return identifier


def _check_checksums(desc: etree._Element, identifier: Optional[str], out: List[str]) -> None:
    sha1 = []
    for node in _children(desc, SLREQ + "checksum"):
        if not _is_resource(node):
            out.append('parse-type: slreq:checksum must have rdf:parseType="Resource"')
            continue
        algorithm = _one_text(node, SLREQ + "algorithm", "checksum", out)
        value = _one_text(node, SLREQ + "value", "checksum", out)
        if algorithm is None or value is None:
            continue
        if not _HEX.match(value):
            out.append(f"checksum-value: {algorithm} value {value!r} is not hexadecimal")
            continue
        length = HEX_LENGTH.get(algorithm.upper())
        if length and (len(value) < length or value[: len(value) - length].strip("0")):
            out.append(f"checksum-value: {algorithm} value has {len(value)} hex digits, expected {length}")
        if algorithm.upper() == "SHA-1":
            sha1.append(value)
    if len(sha1) != 1:
        out.append(f"checksum: exactly one SHA-1 checksum is required, found {len(sha1)}")
    elif identifier and not identifier_matches(identifier, sha1[0]):
        out.append(f"identifier-sha1: identifier {identifier!r} does not encode the SHA-1 {sha1[0]}")


def _check_endorsement(desc: etree._Element, signed: bool, out: List[str]) -> None:
    for node in _children(desc, SLREQ + "endorsement")[:1]:
        if not _is_resource(node):
            out.append('parse-type: slreq:endorsement must have rdf:parseType="Resource"')
            return
        if not _children(node):
            if signed:
                out.append("endorsement: a signed record needs a filled endorsement (created, endorser)")
            return
        created = _one_text(node, DC + "created", "endorsement", out)
        if created is not None and not is_strict_date(created):
            out.append(f"date: endorsement dcterms:created {created!r} is not YYYY-MM-DDThh:mm:ssZ")
        endorsers = _children(node, SLREQ + "endorser")
        if len(endorsers) != 1:
            out.append(f"endorser: slreq:endorsement needs exactly one slreq:endorser, found {len(endorsers)}")
            continue
        if not _is_resource(endorsers[0]):
            out.append('parse-type: slreq:endorser must have rdf:parseType="Resource"')
            continue
        email = _one_text(endorsers[0], SLREQ + "email", "endorser", out)
        if email is not None and not EMAIL.match(email):
            out.append(f"email: {email!r} is not an e-mail address")
        _one_text(endorsers[0], SLREQ + "subject", "endorser", out)
        if not _children(endorsers[0], SLREQ + "issuer"):
            out.append("endorser: slreq:endorser needs at least one slreq:issuer")


def _check_values(desc: etree._Element, out: List[str]) -> None:
    for tag in (DC + "created", DC + "valid"):
        for el in _children(desc, tag):
            if not is_strict_date(_text(el)):
                out.append(f"date: {_label(tag)} {_text(el)!r} is not YYYY-MM-DDThh:mm:ssZ")
    ranges = [(SLREQ + "bytes", "bytes", None), (SLTERMS + "serial-number", "serial-number", None),
              (SLTERMS + "inbound-port", "port", 65535), (SLTERMS + "outbound-port", "port", 65535),
              (SLTERMS + "icmp", "icmp", 255)]
    for tag, rule, top in ranges:
        for el in _children(desc, tag):
            value = _text(el)
            if not value.isdigit() or (top is not None and int(value) > top):
                limit = "a non-negative integer" if top is None else f"an integer from 0 to {top}"
                out.append(f"{rule}: {_label(tag)} {value!r} is not {limit}")


def _validate_record(rdf_el: etree._Element) -> List[str]:
    out: List[str] = []
    desc = _check_structure(rdf_el, out)
    _check_rdf(rdf_el, out)
    if desc is None:
        return out
    signed = bool(_children(rdf_el, f"{{{DS_NS}}}Signature"))
    _check_terms(desc, out)
    identifier = _check_identifier(desc, out)
    _check_checksums(desc, identifier, out)
    _check_endorsement(desc, signed, out)
    _check_values(desc, out)
    return out


def _validate_json(data: bytes, what: str) -> List[str]:
    """The rules that survive the RDF/JSON syntax (no element order, parse types or xml:base)."""
    from glancing.formats.stratuslab.read import record_from_document

    try:
        record = record_from_document(load_object(data, what, "RDF/JSON record"), what)
    except RecordError as e:
        return [f"rdf-syntax: {e}"]
    out: List[str] = []
    present = {"dcterms:identifier": record.identifier, "slreq:bytes": record.bytes,
               "slreq:endorsement": record.endorsement_created, "dcterms:type": record.type}
    out += [f"required: {term} is missing" for term, value in present.items() if value in (None, "")]
    if record.identifier and not MARKETPLACE_ID_PATTERN.match(record.identifier):
        out.append(f"identifier: {record.identifier!r} is not 27 characters [A-Za-z0-9_-] starting with A-P")
    sha1 = record.checksums.get("sha1")
    if not sha1:
        out.append("checksum: exactly one SHA-1 checksum is required, found 0")
    elif record.identifier and not identifier_matches(record.identifier, sha1):
        out.append(f"identifier-sha1: identifier {record.identifier!r} does not encode the SHA-1 {sha1}")
    if record.endorser_email is not None and not EMAIL.match(record.endorser_email):
        out.append(f"email: {record.endorser_email!r} is not an e-mail address")
    return out


def validate(data: bytes, what: str) -> List[str]:
    """Return one ``"rule: detail"`` message per broken rule of the record(s) in ``data``.

    RDF/XML and RDF/JSON records are recognised by content (glancing.formats.detect). A
    ``<metadata>`` listing is validated record by record (messages prefixed ``record N:``).
    Never raises for a bad document; an empty list means valid.
    """
    found = detect(data, lambda: data)
    if found.kind is Kind.JSON:
        return _validate_json(data, what)
    if found.kind not in (Kind.XML, Kind.HTML):
        return [f"xml: {what} is {found.describe()}, not a StratusLab record (RDF/XML or RDF/JSON)"]
    try:
        root = parse_xml(data, what, remove_comments=True)
    except RecordError as e:
        return [f"xml: {e}"]
    if root.tag == f"{{{RDF_NS}}}RDF":
        return _validate_record(root)
    if etree.QName(root).localname == "metadata":
        records = _children(root, f"{{{RDF_NS}}}RDF")
        if not records:
            return ["root: the <metadata> listing holds no rdf:RDF record"]
        return [f"record {i + 1}: {m}" for i, el in enumerate(records) for m in _validate_record(el)]
    return [f"root: the document element must be rdf:RDF (or a <metadata> listing), found {_label(root.tag)}"]
