# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""StratusLab record syntaxes -> rdflib graphs: RDF/XML (bare or in <metadata>) and RDF/JSON.

Every syntax ends as one rdflib Graph per record, so the reader in ``stratuslab.py`` follows the
same triples whatever the marketplace served. Terms are matched by namespace URI (rdflib expands
prefixes), never by the prefix a document happens to use. RDF has no order, so each record also
carries the locations in document order, which the fetcher's "try each in turn" depends on.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from dataclasses import dataclass
from typing import Any, Iterator, List, Mapping, Tuple

import rdflib
from lxml import etree
from rdflib import BNode, Literal, URIRef

from glancing.errors import RecordError
from glancing.formats import jsonsafe
from glancing.formats.detect import Kind, detect
from glancing.formats.vocab import DS_NS, RDF_NS, SLTERMS_NS
from glancing.formats.vocab import STRATUSLAB_BASE as BASE
from glancing.formats.xmlsafe import parse_xml

MAX_JSON_BYTES = 4 * 1024 * 1024
LOCATION = SLTERMS_NS + "location"
LOCATION_TAG = f"{{{SLTERMS_NS}}}location"
RDF_TAG = f"{{{RDF_NS}}}RDF"
SIGNATURE_TAG = f"{{{DS_NS}}}Signature"


class _DropLiteralWarnings(logging.Filter):
    """rdflib logs a traceback when a hostile rdf:parseType="Literal" value is not XML; the
    reader refuses such values itself, so during our parse the log line is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet_rdflib() -> Iterator[None]:
    # A filter for the duration of one parse, not a changed level: importing or using this
    # module must leave the application's logging configuration as it found it.
    logger, quiet = logging.getLogger("rdflib.term"), _DropLiteralWarnings()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


@dataclass(frozen=True)
class RecordGraph:
    """One record as triples, plus what RDF loses: location order, and whether it was signed."""

    graph: rdflib.Graph
    location_order: Tuple[str, ...]
    signed: bool


def sniff(data: bytes) -> str:
    """'xml' or 'json' (glancing.formats.detect decides); RecordError for anything else."""
    found = detect(data, lambda: data)
    if found.kind is Kind.EMPTY:
        raise RecordError("is empty")
    if found.kind is Kind.JSON_NOT_OBJECT:
        raise RecordError(f"is not a record: its JSON top level is {found.detail}, not an object")
    if found.kind is Kind.HTML:
        raise RecordError("is an HTML page, not a record (an error or login page of the marketplace?)")
    if found.kind is Kind.XML:
        return "xml"
    if found.kind is Kind.JSON:
        return "json"
    raise RecordError(f"is neither XML nor JSON ({found.describe()})")


def record_elements(root: etree._Element, what: str) -> List[etree._Element]:
    """The rdf:RDF records of a parsed document: the root itself, or those of a <metadata> listing."""
    if root.tag == RDF_TAG:
        return [root]
    if etree.QName(root).localname == "metadata":
        elements = [el for el in root if isinstance(el.tag, str) and el.tag == RDF_TAG]
        if not elements:
            raise RecordError(f"{what}: the marketplace listing holds no record "
                              "(no valid record for this identifier, or a wrong identifier?)")
        return elements
    raise RecordError(f"{what} is not a StratusLab record: its root element is <{root.tag}>, "
                      "not rdf:RDF or <metadata>")


def graphs_from_xml(data: bytes, what: str) -> List[RecordGraph]:
    """Every record of an RDF/XML document: a bare ``rdf:RDF`` or a ``<metadata>`` listing."""
    root = parse_xml(data, what, remove_comments=True)
    return [graph_of_element(el, what) for el in record_elements(root, what)]


def graph_of_element(rdf_el: etree._Element, what: str, signed: bool = False) -> RecordGraph:
    """The graph of one comment-free rdf:RDF element (its ds:Signature, if any, is skipped).

    ``signed`` says the record carried a Signature that the caller already removed.
    """
    # Serialised alone: the in-scope namespaces and xml:base travel with it, and rdflib's own
    # XML reader never sees the original document (or any DTD). The ds:Signature is not RDF
    # (rdflib would read it as a malformed node), so the graph is made without it.
    signatures = [el for el in rdf_el if isinstance(el.tag, str) and el.tag == SIGNATURE_TAG]
    if signatures:
        rdf_el = copy.deepcopy(rdf_el)  # a copy, not a parse: the caller's tree stays whole
        for sig in rdf_el.findall(SIGNATURE_TAG):
            rdf_el.remove(sig)
    document = etree.tostring(rdf_el)
    graph = rdflib.Graph()
    try:
        with _quiet_rdflib():
            graph.parse(data=document, format="xml", publicID=BASE)
    except Exception as e:  # rdflib raises assorted SAX and parser errors
        raise RecordError(f"{what} is not valid RDF/XML: {e}") from None
    order = tuple((el.text or "").strip() for el in rdf_el.iter(LOCATION_TAG))
    return RecordGraph(graph, order, signed or bool(signatures))


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
    return graph_from_document(jsonsafe.load_object(data, what, "RDF/JSON record", MAX_JSON_BYTES), what)


def graph_from_document(document: Mapping[str, Any], what: str) -> RecordGraph:
    """A record from its parsed RDF/JSON object (subject -> predicate -> list of values)."""
    _refuse_listing(document, what)
    if not document:
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
