# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""DNs in OpenSSL one-line and RFC 2253 form compare as names."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from glancing.errors import RecordError
from glancing.trust.dn import from_name, parse_dn

CERN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=buncic/CN=379010/CN=Predrag Buncic"


def test_both_forms_of_one_name_are_equal() -> None:
    rfc = "CN=Predrag Buncic,CN=379010,CN=buncic,OU=Users,OU=Organic Units,DC=cern,DC=ch"
    assert parse_dn(CERN) == parse_dn(rfc)
    assert parse_dn(rfc).openssl() == CERN
    assert parse_dn(CERN).rfc2253() == rfc


def test_order_matters() -> None:
    assert parse_dn("/DC=org/DC=example/CN=x") != parse_dn("/DC=example/DC=org/CN=x")


def test_attribute_aliases_case_and_spaces_do_not_matter() -> None:
    assert parse_dn("/O=Ex/emailAddress=a@ex.org") == parse_dn("E=a@ex.org, O=Ex")
    assert parse_dn("/o=Ex/cn=Jane  Tester") == parse_dn("CN=jane tester,O=ex")


def test_different_values_differ() -> None:
    assert parse_dn("/DC=org/CN=Jane") != parse_dn("/DC=org/CN=John")
    assert parse_dn("/DC=org/CN=Jane") != parse_dn("/DC=org/OU=Jane")


def test_slash_and_plus_inside_values_and_multivalued_rdns() -> None:
    dn = parse_dn("/DC=org/CN=host/vm.example.org+UID=42")
    assert dn.rdns[-1] == (("2.5.4.3", "host/vm.example.org"), ("0.9.2342.19200300.100.1.1", "42"))
    assert dn == parse_dn("UID=42+CN=host/vm.example.org,DC=org")


def test_escaped_comma_in_rfc2253() -> None:
    dn = parse_dn(r"CN=Doe\, Jane,O=Ex")
    assert dn.openssl() == "/O=Ex/CN=Doe, Jane"
    assert parse_dn(dn.rfc2253()) == dn


def test_from_certificate_name_keeps_encoding_order() -> None:
    name = x509.Name([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "EU"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "appdb.egi.eu")])
    assert from_name(name).openssl() == "/DC=EU/C=NL/CN=appdb.egi.eu"
    assert from_name(name) == parse_dn("CN=appdb.egi.eu,C=NL,DC=EU")


@pytest.mark.parametrize("bad", ["", "/", "/CN", "/XX=1", "CN", "no equals here"])
def test_malformed_dns_are_refused(bad: str) -> None:
    with pytest.raises(RecordError):
        parse_dn(bad)
