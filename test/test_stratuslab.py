# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""StratusLab records: every syntax gives one record; selection, safety, locations, ImageSpec."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import rdflib

from glancing.errors import IdentifierMismatch, RecordDeprecated, RecordError, RecordExpired, UnsafeLocation
from glancing.model import DigestScope, Location, Origin
from glancing.sources.locations import check_locations
from glancing.sources.stratuslab import default_name, parse_records, record_to_spec, select_record

FIXTURES = Path(__file__).parent / "fixtures" / "stratuslab"
LHFK = "LHfKVPoHcv4oMirHU0KuOQc-TvI"
UTC = dt.timezone.utc


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def one(data: bytes, what: str = "record"):
    records = parse_records(data, what)
    assert len(records) == 1
    return records[0]


def to_rdf_json(xml: bytes) -> bytes:
    """The Talis RDF/JSON layout the marketplace served, built from an RDF/XML record."""
    graph = rdflib.Graph().parse(data=xml, format="xml", publicID="http://mp.stratuslab.eu/")
    out: dict = {}
    for s, p, o in graph:
        key = f"_:{s}" if isinstance(s, rdflib.BNode) else str(s)
        if isinstance(o, rdflib.BNode):
            value = {"type": "bnode", "value": f"_:{o}"}
        else:
            value = {"type": "uri" if isinstance(o, rdflib.URIRef) else "literal", "value": str(o)}
        out.setdefault(key, {}).setdefault(str(p), []).append(value)
    return json.dumps(out).encode()


def without_signature(data: bytes) -> bytes:
    start = data.index(b"<Signature")
    return data[:start] + data[data.index(b"</Signature>") + len(b"</Signature>"):]


def test_bare_wrapped_and_rdf_json_give_the_same_record() -> None:
    bare = one(read(f"{LHFK}.button.xml"))
    wrapped = one(read(f"{LHFK}.wget.xml"))
    from_json = one(to_rdf_json(without_signature(read(f"{LHFK}.button.xml"))))
    assert bare == wrapped
    assert dataclasses.replace(bare, signed=False) == from_json
    assert bare.identifier == LHFK and bare.bytes == 259523072 and bare.signed
    assert bare.checksums["sha1"] == "b1df2953e81dcbf8a0c8ab1d4d0ab8e41cf93bc8"
    assert sorted(bare.checksums) == ["md5", "sha1", "sha256", "sha512"]
    assert (bare.os, bare.os_version, bare.os_arch, bare.format) == ("Ubuntu", "14.04", "x86_64", "qcow2")
    assert bare.endorser_email == "jerome.pansanel@iphc.cnrs.fr"
    assert bare.endorser_subject == "CN=Jerome Pansanel,OU=IPHC,O=CNRS,C=FR,O=GRID-FR"
    assert bare.endorser_issuer == "CN=GRID2-FR,O=CNRS,C=FR"
    assert bare.endorsement_created == dt.datetime(2016, 5, 17, 6, 39, 18, tzinfo=UTC)
    assert bare.valid == dt.datetime(2016, 10, 9, 14, 22, 21, tzinfo=UTC)
    assert bare.compression is None and bare.deprecated is None


def test_real_rdf_json_records_gz_and_bz2() -> None:
    gz = one(read("BtSKdXa2SvHlSVTvgFgivIYDq--.json"))
    assert (gz.compression, gz.format, gz.bytes, gz.version) == ("gz", "raw", 102400000, "1.0")
    assert gz.endorser_email == "images@stratuslab.eu" and len(gz.checksums) == 4
    bz2 = one(read("ME4iRTemHRwhABKV5AgrkQfDerA.json"))
    assert bz2.compression == "bz2" and bz2.locations[0].endswith(".img.bz2")


def test_dangling_checksum_references_give_no_checksums() -> None:
    record = one(read("cirros_no_cksum.json"))
    assert record.checksums == {}
    with pytest.raises(RecordError, match="no SHA-1"):
        record_to_spec(record, Origin.REMOTE, "http://127.0.0.1/x")


def test_terms_are_read_by_namespace_uri_not_prefix() -> None:
    original = read("metadata/valid-full.xml")
    renamed = (original.decode().replace("dcterms:", "d:").replace("xmlns:dcterms", "xmlns:d")
               .replace("slterms:", "t:").replace("xmlns:slterms", "xmlns:t")
               .replace("slreq:", "q:").replace("xmlns:slreq", "xmlns:q")
               .replace("rdf:", "r:").replace("xmlns:rdf", "xmlns:r"))
    assert "<dcterms:" not in renamed and "<slreq:" not in renamed
    assert one(renamed.encode()) == one(original)
    # And default-namespace declarations, as the Java signer writes inside the endorsement.
    defaulted = original.decode().replace(
        "<slreq:email>jane.tester@example.org</slreq:email>",
        '<email xmlns="http://mp.stratuslab.eu/slreq#">jane.tester@example.org</email>')
    assert one(defaulted.encode()).endorser_email == "jane.tester@example.org"
    wrong_ns = original.decode().replace("http://mp.stratuslab.eu/slterms#", "http://example.org/other#")
    assert one(wrong_ns.encode()).os is None  # same prefix, other namespace: not the term


def listing(*names: str) -> bytes:
    bodies = [read(n).decode().split("?>", 1)[1] for n in names]
    return ('<?xml version="1.0" encoding="UTF-8"?><metadata>' + "".join(bodies) + "</metadata>").encode()


def test_metadata_listing_picks_the_newest_acceptable_record() -> None:
    data = listing("marketplace/valid-indate-newer-signature.xml", "marketplace/valid-indate-signature.xml",
                   "marketplace/valid-indate-deprecated-signature.xml")
    records = parse_records(data, "listing")
    assert len(records) == 3
    chosen = select_record(records, dt.datetime(2015, 1, 1, tzinfo=UTC), identifier="BEE8-MMAw-Lk_IgsEExAy3d9R8h")
    assert chosen.endorsement_created == dt.datetime(2014, 3, 8, 14, 23, 18, tzinfo=UTC)
    # The newest one withdrawn: the next newest acceptable one wins.
    newest_deprecated = [dataclasses.replace(r, deprecated="bad") if r is chosen else r for r in records]
    second = select_record(newest_deprecated, dt.datetime(2015, 1, 1, tzinfo=UTC))
    assert second.endorsement_created == dt.datetime(2014, 3, 8, 14, 10, 40, tzinfo=UTC)
    with pytest.raises(RecordError, match="no record for identifier"):
        select_record(records, dt.datetime(2015, 1, 1, tzinfo=UTC), identifier="A" * 27)


def test_expired_and_deprecated_are_refused_with_the_reason() -> None:
    expired = one(read("marketplace/valid-expired-signature.xml"))
    with pytest.raises(RecordExpired, match="expired on 2011-09-10T11:23:02Z"):
        select_record([expired], dt.datetime(2020, 1, 1, tzinfo=UTC))
    assert select_record([expired], dt.datetime(2020, 1, 1), allow_expired=True) is expired
    deprecated = one(read("marketplace/valid-indate-deprecated-signature.xml"))
    with pytest.raises(RecordDeprecated, match="This is a test of deprecation"):
        select_record([deprecated], dt.datetime(2015, 1, 1, tzinfo=UTC))
    assert select_record([deprecated], dt.datetime(2015, 1, 1), allow_deprecated=True) is deprecated
    both = parse_records(read("client/valid-multiple-entries.xml"), "listing")
    with pytest.raises(RecordDeprecated, match="none of the 2 records"):
        select_record(both, dt.datetime(2011, 2, 1, tzinfo=UTC))


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    '<!DOCTYPE r [<!ENTITY c SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE r [<!ENTITY c SYSTEM "http://127.0.0.1:9/x">]>',
])
def test_billion_laughs_and_xxe_are_refused(doctype: str) -> None:
    text = read("metadata/valid-minimal.xml").decode()
    evil = text.replace("?>", "?>" + doctype, 1).replace("<slterms:", "<slterms:", 1)
    evil = evil.replace("<dcterms:type>machine", "<dcterms:type>&c;machine")
    with pytest.raises(RecordError, match="entity declarations are not allowed"):
        parse_records(evil.encode(), "evil.xml")


@pytest.mark.parametrize("data,message", [
    (FIXTURES.joinpath(f"{LHFK}?media=json"), "DataTables"),
    (b'{"sEcho":0,"iTotalRecords":0,"iTotalDisplayRecords":0,"rMsg":"none","aaData":[]}', "empty marketplace"),
    (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "HTML page"),
    (b"<html><head><title>Error</title></head></html>", "HTML page"),
    (b'<?xml version="1.0"?><metadata></metadata>', "holds no record"),
    (b"", "empty"),
    (b"Not found", "neither XML nor JSON"),
    (b"<foo/>", "not a StratusLab record"),
])
def test_non_records_are_refused_clearly(data, message: str) -> None:
    payload = data.read_bytes() if isinstance(data, Path) else data
    with pytest.raises(RecordError, match=message):
        parse_records(payload, "answer")


def test_record_to_spec_remote() -> None:
    record = one(read(f"{LHFK}.wget.xml"))
    spec = record_to_spec(record, Origin.REMOTE, f"http://127.0.0.1:8/metadata/{LHFK}", "http://127.0.0.1:8/metadata")
    assert spec.expected.scope is DigestScope.UNCOMPRESSED
    assert spec.expected.identifier == LHFK and spec.expected.size == 259523072
    assert spec.expected.digests == dict(record.checksums)
    assert spec.name == "FG_Cloud-Ubuntu-14.04-x86_64" and spec.disk_format == "qcow2"
    assert spec.compression is None and spec.version == "20160411"
    assert spec.locations == (Location(record.locations[0]),)
    props = spec.properties
    assert props["mpid"] == LHFK and props["version"] == "20160411"
    assert (props["os_distro"], props["os_version"], props["architecture"]) == ("ubuntu", "14.04", "x86_64")
    assert (props["hypervisor_type"], props["hw_disk_bus"]) == ("kvm", "ide")
    assert props["endorser_email"] == "jerome.pansanel@iphc.cnrs.fr"
    assert props["endorser_dn"].startswith("CN=Jerome Pansanel") and props["endorser_ca"].startswith("CN=GRID2-FR")
    assert props["valid_until"] == "2016-10-09T14:22:21Z"
    assert props["marketplace_url"] == "http://127.0.0.1:8/metadata"


def test_compression_declared_none_or_from_the_location_suffix() -> None:
    assert record_to_spec(one(read("BtSKdXa2SvHlSVTvgFgivIYDq--.json")), Origin.REMOTE, "x").compression == "gz"
    record = one(read("metadata/valid-full.xml"))
    for url, expected in (("http://h/a.img.bz2", "bz2"), ("http://h/a.img.gz", "gz"), ("http://h/a.img", None)):
        assert record_to_spec(dataclasses.replace(record, locations=(url,)), Origin.REMOTE, "x").compression == expected
    assert one(read("cirros.xml")).compression is None  # dcterms:compression 'none'


def test_identifier_not_matching_its_sha1_is_refused() -> None:
    record = one(read("cirros.xml"))
    with pytest.raises(IdentifierMismatch, match="does not encode"):
        record_to_spec(record, Origin.LOCAL_RECORD, str(FIXTURES / "cirros.xml"))


def test_leading_zero_sha1_record(tmp_path: Path) -> None:
    text = read("metadata/valid-minimal.xml").decode()
    text = text.replace("<slreq:value>c319", "<slreq:value>0c319")
    record = one(text.encode())
    assert record.checksums["sha1"] == "c319bbd5afc0a22ba3eaed0507c39383ec28eeff"
    spec = record_to_spec(dataclasses.replace(record, locations=("http://h/i",)), Origin.REMOTE, "x")
    assert spec.expected.digests["sha1"] == record.checksums["sha1"]


def test_locations_keep_document_order_and_remote_rules(tmp_path: Path) -> None:
    text = read("metadata/valid-full.xml").decode()
    many = "".join(f"<slterms:location>{u}</slterms:location>"
                   for u in ("http://c.example/i", "pdisk:1.2.3.4:8445:abc", "ftp://a.example/i",
                             "https://b.example/i"))
    text = text.replace("<slterms:location>http://example.org/...</slterms:location>", many)
    record = one(text.encode())
    assert record.locations[0] == "http://c.example/i" and record.locations[-1] == "https://b.example/i"
    spec = record_to_spec(record, Origin.REMOTE, "x")
    assert [loc.url for loc in spec.locations] == ["http://c.example/i", "ftp://a.example/i", "https://b.example/i"]
    for evil in ("/etc/passwd", "file:///etc/passwd", "../../etc/passwd"):
        with pytest.raises(UnsafeLocation, match="passwd"):
            record_to_spec(dataclasses.replace(record, locations=("http://ok/i", evil)), Origin.REMOTE, "x")


def test_location_rules_for_local_records(tmp_path: Path) -> None:
    record_file = tmp_path / "records" / "r.xml"
    resolved = check_locations(["./images/a.img", "file:///srv/b.img", "http://h/c"], Origin.LOCAL_RECORD,
                               str(record_file))
    assert [loc.url for loc in resolved] == [str(tmp_path / "records" / "images" / "a.img"), "/srv/b.img", "http://h/c"]
    with pytest.raises(UnsafeLocation, match="another host"):
        check_locations(["file://elsewhere/x"], Origin.LOCAL_RECORD, str(record_file))
    with pytest.raises(UnsafeLocation, match="no usable location"):
        check_locations(["pdisk:1.2.3.4:8445:abc", "https:onehost:uuid"], Origin.REMOTE)
    with pytest.raises(RecordError, match="no location"):
        check_locations([], Origin.REMOTE)


def test_default_name_rule() -> None:
    assert default_name("FG_Cloud", "Ubuntu", "14.04", "x86_64") == "FG_Cloud"
    assert default_name("", "Ubuntu", "14.04", "x86_64") == "Ubuntu-14.04-x86_64"
    assert default_name(None, "coreos", "stable", None) == "coreos-stable"
    assert default_name(None, None, None, None) is None
    record = one(read("BtSKdXa2SvHlSVTvgFgivIYDq--.json"))  # empty title
    assert record_to_spec(record, Origin.REMOTE, "x").name == "ttylinux-16.1-x86_64"


def test_repeated_single_term_and_bad_values_are_refused() -> None:
    text = read("metadata/valid-minimal.xml").decode()
    twice = text.replace("<dcterms:type>machine</dcterms:type>",
                         "<dcterms:type>machine</dcterms:type><slterms:os>a</slterms:os><slterms:os>b</slterms:os>")
    with pytest.raises(RecordError, match="slterms:os appears 2 times"):
        parse_records(twice.encode(), "r")
    with pytest.raises(RecordError, match="not a non-negative integer"):
        parse_records(text.replace("<slreq:bytes>100", "<slreq:bytes>-1").encode(), "r")
    with pytest.raises(RecordError, match="YYYY-MM-DDThh:mm:ssZ"):
        parse_records(text.replace("2011-01-24T09:59:42Z", "2011-01-24T09:59:42+01:00").encode(), "r")
