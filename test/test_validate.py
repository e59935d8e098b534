# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Record validation: every valid-* passes, every invalid-* fails on the rule it breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from glancing.formats.stratuslab.validate import validate

FIXTURES = Path(__file__).parent / "fixtures" / "stratuslab"
VALID = sorted(p for d in ("metadata", "marketplace", "client") for p in (FIXTURES / d).glob("valid-*.xml"))
VALID += [FIXTURES / "marketplace" / "invalid-special-characters-signature.xml",  # valid, see SOURCES.md
          FIXTURES / "LHfKVPoHcv4oMirHU0KuOQc-TvI.button.xml", FIXTURES / "LHfKVPoHcv4oMirHU0KuOQc-TvI.wget.xml"]
# The rule each upstream negative file breaks (upstream names one rule per file).
INVALID = {
    "invalid-bad-about-id.xml": "about", "invalid-bad-checksum-parsetype.xml": "parse-type",
    "invalid-bad-element-for-signature.xml": "signature", "invalid-bad-endorsement-parsetype.xml": "parse-type",
    "invalid-bad-icmp-value.xml": "icmp", "invalid-bad-inbound-port.xml": "port",
    "invalid-bad-serial-number.xml": "serial-number", "invalid-bad-xml-base.xml": "xml-base",
    "invalid-checksum-value.xml": "checksum-value", "invalid-created-date-1.xml": "date",
    "invalid-dcterms-type.xml": "literal", "invalid-email.xml": "email",
    "invalid-inconsistent-checksum.xml": "identifier-sha1", "invalid-multiple-deprecated.xml": "single-valued",
    "invalid-multiple-os-version.xml": "single-valued", "invalid-multiple-os.xml": "single-valued",
    "invalid-multiple-versions.xml": "single-valued", "invalid-no-content.xml": "description",
    "invalid-no-endorsement.xml": "required", "invalid-no-endorser.xml": "endorser",
    "invalid-rdf-attribute.xml": "rdf-syntax", "invalid-valid-date-1.xml": "date",
    "partial-multiple-endorsements.xml": "single-valued", "partial-multiple-signatures.xml": "signature",
    "autogen-endorsement-done.xml": "required", "autogen-endorsement-not-done.xml": "xml-base",
}


def rules(messages: list) -> set:
    return {m.split(":", 1)[0] for m in messages}


def test_every_invalid_fixture_is_listed() -> None:
    on_disk = {p.name for p in (FIXTURES / "metadata").glob("*.xml") if not p.name.startswith("valid-")}
    assert on_disk == set(INVALID)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_records_pass(path: Path) -> None:
    assert validate(path.read_bytes(), path.name) == []


@pytest.mark.parametrize("name,rule", sorted(INVALID.items()))
def test_invalid_records_fail_on_their_rule(name: str, rule: str) -> None:
    messages = validate((FIXTURES / "metadata" / name).read_bytes(), name)
    assert rule in rules(messages), messages


def minimal() -> str:
    return (FIXTURES / "metadata" / "valid-minimal.xml").read_text()


@pytest.mark.parametrize("old,new,rule", [
    ("2011-01-24T09:59:42Z", "2011-01-24T09:59:42.5Z", "date"),
    ("2011-01-24T09:59:42Z", "2011-02-30T09:59:42Z", "date"),
    ("<slreq:value>c319bbd5", "<slreq:value>19bbd5", "checksum-value"),
    ("<slreq:algorithm>SHA-1</slreq:algorithm>", "<slreq:algorithm>MD5</slreq:algorithm>", "checksum"),
    ("MMZu9WvwKIro-rtBQfDk4PsKO7_", "ZMZu9WvwKIro-rtBQfDk4PsKO7_", "identifier"),
    ("<dcterms:type>machine</dcterms:type>", "<dcterms:type>machine</dcterms:type>"
     "<slterms:outbound-port>70000</slterms:outbound-port>", "port"),
    ("<dcterms:type>machine</dcterms:type>", "<dcterms:type>machine</dcterms:type><slreq:bytes>1</slreq:bytes>",
     "single-valued"),
    ("<slreq:bytes>100</slreq:bytes>", "<slreq:bytes>1e3</slreq:bytes>", "bytes"),
    ("</slreq:endorser>", "</slreq:endorser>", None),
])
def test_general_rules_on_variants(old: str, new: str, rule) -> None:
    text = minimal()
    assert old in text
    messages = validate(text.replace(old, new).encode(), "variant")
    assert (rule in rules(messages)) if rule else messages == []


def test_leading_zero_sha1_is_valid() -> None:
    assert validate(minimal().replace("<slreq:value>c319", "<slreq:value>0c319").encode(), "r") == []


def test_empty_endorsement_only_without_signature() -> None:
    text = (FIXTURES / "metadata" / "valid-minimal-empty-endorsement.xml").read_text()
    assert validate(text.encode(), "r") == []
    signature = '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>'
    signed = text.replace("</rdf:Description>", "</rdf:Description>" + signature)
    assert "endorsement" in rules(validate(signed.encode(), "r"))


def test_unsafe_and_non_records() -> None:
    evil = minimal().replace("?>", '?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1)
    assert rules(validate(evil.encode(), "evil")) == {"xml"}
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
             "<r>&x;</r>").encode("utf-16")
    assert "entity declarations are not allowed" in validate(utf16, "evil16")[0]
    assert rules(validate(b"<html/>", "page")) == {"root"}
    assert rules(validate(b"not xml", "junk")) == {"xml"}


def test_listing_is_validated_record_by_record() -> None:
    body = minimal().split("?>", 1)[1]
    broken = body.replace("jane.tester@example.org", "nobody")
    messages = validate(f"<metadata>{body}{broken}</metadata>".encode(), "listing")
    assert messages and all(m.startswith("record 2: ") for m in messages)
