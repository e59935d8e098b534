# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Marketplace identifier <-> SHA-1 (formats.md 1.3), on worked examples and real fixtures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from glancing.errors import RecordError, SourceError
from glancing.sources.stratuslab import parse_records
from glancing.verify.identifier import (identifier_matches, identifier_of_file, identifier_to_sha1,
                                        sha1_to_identifier)

FIXTURES = Path(__file__).parent / "fixtures" / "stratuslab"

WORKED = [
    ("b1df2953e81dcbf8a0c8ab1d4d0ab8e41cf93bc8", "LHfKVPoHcv4oMirHU0KuOQc-TvI"),
    ("c319bbd5afc0a22ba3eaed0507c39383ec28eeff", "MMZu9WvwKIro-rtBQfDk4PsKO7_"),
    ("ff28c688f279b8f766f6c279fe186f91caf94389", "P8oxojyebj3ZvbCef4Yb5HK-UOJ"),
    ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "No5o-5ea0sNMlW_75VgGJCv2AcJ"),
    ("1104f3e30c030f8b93f220b04131032dddf51f21", "BEE8-MMAw-Lk_IgsEExAy3d9R8h"),
    ("0" * 40, "A" * 27),
    ("f" * 40, "P" + "_" * 26),
]


@pytest.mark.parametrize("sha1,identifier", WORKED)
def test_worked_examples_both_ways(sha1: str, identifier: str) -> None:
    assert sha1_to_identifier(sha1) == identifier
    assert identifier_to_sha1(identifier) == sha1
    assert identifier_matches(identifier, sha1)
    assert identifier_matches(identifier, sha1.upper())


def test_not_base64url_of_the_digest_bytes() -> None:
    # formats.md: base64url of the same 20 bytes is EQTz4wwDD4uT8iCwQTEDLd31HyE=
    assert sha1_to_identifier("1104f3e30c030f8b93f220b04131032dddf51f21") != "EQTz4wwDD4uT8iCwQTEDLd31HyE"


def test_leading_zero_sha1_compares_as_integer() -> None:
    sha1 = "00" + "1b5229d5dad92bc7952553be01608af2180eafbe"[2:]
    assert len(sha1) == 40
    identifier = sha1_to_identifier(sha1)
    assert identifier.startswith("A")
    assert identifier_to_sha1(identifier) == sha1  # zero-padded back to 40 digits
    assert identifier_matches(identifier, "0" + sha1)  # 41 digits, as the marketplace accepts
    assert identifier_matches(identifier, sha1.lstrip("0"))


def test_mismatches_and_malformed_values() -> None:
    assert not identifier_matches("MMZu9WvwKIro-rtBQfDk4PsKO7_", "c319bbd5afc0a22ba3eaed0507c39383ec28eefe")
    assert not identifier_matches("CIRROS", "ff28c688f279b8f766f6c279fe186f91caf94389")
    assert not identifier_matches("Q" + "A" * 26, "0" * 40)  # first digit above P: over 160 bits
    assert not identifier_matches("LHfKVPoHcv4oMirHU0KuOQc-TvI", "not hex")
    with pytest.raises(RecordError):
        sha1_to_identifier("1" * 41)  # 164 bits
    with pytest.raises(RecordError):
        identifier_to_sha1("CIRROS")


@pytest.mark.parametrize("name", ["LHfKVPoHcv4oMirHU0KuOQc-TvI.button.xml", "BtSKdXa2SvHlSVTvgFgivIYDq--.json",
                                  "ME4iRTemHRwhABKV5AgrkQfDerA.json", "marketplace/valid.xml",
                                  "metadata/valid-minimal.xml", "marketplace/valid-expired-signature.xml"])
def test_real_records_satisfy_id_equals_f_sha1(name: str) -> None:
    record = parse_records((FIXTURES / name).read_bytes(), name)[0]
    assert sha1_to_identifier(record.checksums["sha1"]) == record.identifier


def test_hand_made_cirros_record_does_not() -> None:
    record = parse_records((FIXTURES / "cirros.xml").read_bytes(), "cirros.xml")[0]
    assert not identifier_matches(record.identifier, record.checksums["sha1"])


def test_identifier_of_file_reads_the_whole_file(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    data = bytes(range(256)) * 9000  # over 2 MiB: several 1 MiB chunks
    image.write_bytes(data)
    assert identifier_of_file(str(image)) == sha1_to_identifier(hashlib.sha1(data).hexdigest())
    with pytest.raises(SourceError):
        identifier_of_file(str(tmp_path / "missing.img"))
