# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""StratusLab record syntaxes -> rdflib graphs: RDF/XML (bare or in <metadata>) and RDF/JSON.

Every syntax ends as one rdflib Graph per record, so the reader in ``stratuslab.py`` follows the
same triples whatever the marketplace served. Terms are matched by namespace URI (rdflib expands
prefixes), never by the prefix a document happens to use. RDF has no order, so each record also
carries the locations in document order, which the fetcher's "try each in turn" depends on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, List, Tuple

import rdflib
from lxml import etree
from rdflib import BNode, Literal, URIRef

from glancing.errors import RecordError
from glancing.sources.xmlsafe import parse_xml

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DCTERMS_NS = "http://purl.org/dc/terms/"
SLREQ_NS = "http://mp.stratuslab.eu/slreq#"
SLTERMS_NS = "http://mp.stratuslab.eu/slterms#"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
BASE = "http://mp.stratuslab.eu/"
MAX_JSON_BYTES = 4 * 1024 * 1024

# rdflib logs a traceback when a hostile rdf:parseType="Literal" value does not parse as XML;
# such values are refused with a RecordError by the reader, so the log line is only noise.
logging.getLogger("rdflib.term").setLevel(logging.ERROR)
LOCATION = SLTERMS_NS + "location"
LOCATION_TAG = f"{{{SLTERMS_NS}}}location"


@dataclass(frozen=True)
class RecordGraph:
    """One record as triples, plus what RDF loses: location order, and whether it was signed."""

    graph: rdflib.Graph
    location_order: Tuple[str, ...]
    signed: bool


def sniff(data: bytes) -> str:
    """'xml', 'json' or 'html' from the first significant bytes; raises RecordError otherwise."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if not head:
        raise RecordError("is empty")
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        raise RecordError("is an HTML page, not a record (an error or login page of the marketplace?)")
    if head[:1] == b"<":
        return "xml"
    if head[:1] in (b"{", b"["):
        return "json"
    raise RecordError("is neither XML nor JSON")


def graphs_from_xml(data: bytes, what: str) -> List[RecordGraph]:
    """Every record of an RDF/XML document: a bare ``rdf:RDF`` or a ``<metadata>`` listing."""
    root = parse_xml(data, what, remove_comments=True)
    if root.tag == f"{{{RDF_NS}}}RDF":
        elements = [root]
    elif etree.QName(root).localname == "metadata":
        elements = [el for el in root if isinstance(el.tag, str) and el.tag == f"{{{RDF_NS}}}RDF"]
        if not elements:
            raise RecordError(f"{what}: the marketplace listing holds no record "
                              "(no valid record for this identifier, or a wrong identifier?)")
    else:
        raise RecordError(f"{what} is not a StratusLab record: its root element is <{root.tag}>, "
                          "not rdf:RDF or <metadata>")
    return [_graph_of_element(el, what) for el in elements]


def _graph_of_element(rdf_el: etree._Element, what: str) -> RecordGraph:
    # Re-serialise the element alone: the in-scope namespaces and xml:base travel with it, and
    # rdflib's own XML reader never sees the original document (or any DTD). The ds:Signature is
    # not RDF (rdflib would read it as a malformed node), so it is left out of the graph.
    alone = parse_xml(etree.tostring(rdf_el), what, remove_comments=True)
    for sig in alone.findall(f"{{{DS_NS}}}Signature"):
        alone.remove(sig)
    document = etree.tostring(alone)
    graph = rdflib.Graph()
    try:
        graph.parse(data=document, format="xml", publicID=BASE)
    except Exception as e:  # rdflib raises assorted SAX and parser errors
        raise RecordError(f"{what} is not valid RDF/XML: {e}") from None
    order = tuple((el.text or "").strip() for el in rdf_el.iter(LOCATION_TAG))
    signed = any(isinstance(el.tag, str) and el.tag == f"{{{DS_NS}}}Signature" for el in rdf_el)
    return RecordGraph(graph, order, signed)



def _node(value: str) -> Any:
    if value.startswith("_:"):
        return BNode(value[2:])
    return URIRef(value)


def _json_object(item: Any, where: str) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("value"), str):
        raise RecordError(f"{where}: each value must be an object with a string 'value'")
    kind = item.get("type")
    if kind == "literal":
        datatype = item.get("datatype")
        return Literal(item["value"], lang=item.get("lang"), datatype=URIRef(datatype) if datatype else None)
    if kind == "uri":
        return URIRef(item["value"])
    if kind == "bnode":
        return _node(item["value"] if item["value"].startswith("_:") else "_:" + item["value"])
    raise RecordError(f"{where}: unknown value type {kind!r}")


def graph_from_json(data: bytes, what: str) -> RecordGraph:
    """A record in RDF/JSON (the Talis layout the marketplace serves with ?media=json)."""
    if len(data) > MAX_JSON_BYTES:
        raise RecordError(f"{what} refused: {len(data)} bytes is over the {MAX_JSON_BYTES}-byte limit")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise RecordError(f"{what} is not valid JSON: {e}") from None
    _refuse_listing(document, what)
    if not isinstance(document, dict) or not document:
        raise RecordError(f"{what} is not an RDF/JSON record (expected an object keyed by subject)")
    graph = rdflib.Graph()
    order: List[str] = []
    for subject, predicates in document.items():
        if not isinstance(predicates, dict):
            raise RecordError(f"{what}: subject {subject!r} must map predicates to value lists")
        for predicate, values in predicates.items():
            if not isinstance(values, list):
                raise RecordError(f"{what}: {predicate} of {subject!r} must be a list of values")
            for item in values:
                obj = _json_object(item, f"{what}: {predicate}")
                graph.add((_node(subject), URIRef(predicate), obj))
                if predicate == LOCATION:
                    order.append(str(obj).strip())
    return RecordGraph(graph, tuple(order), signed=False)


def _refuse_listing(document: Any, what: str) -> None:
    """Raise RecordError for the marketplace's DataTables summary, which is not a record."""
    if isinstance(document, dict) and ("aaData" in document or "rMsg" in document):
        rows = document.get("aaData") or []
        if not rows:
            raise RecordError(f"{what} is an empty marketplace listing (DataTables JSON): no record matched")
        raise RecordError(f"{what} is a marketplace listing (DataTables JSON, ?media=json), not a record: "
                          "fetch the record as XML (<base>/<id>) or as RDF/JSON (<base>/<id>/<email>/<created>)")


def record_graphs(data: bytes, what: str) -> List[RecordGraph]:
    """Detect the syntax of ``data`` and return one graph per record (raises RecordError)."""
    try:
        kind = sniff(data)
    except RecordError as e:
        raise RecordError(f"{what} {e}") from None
    if kind == "xml":
        return graphs_from_xml(data, what)
    return [graph_from_json(data, what)]
