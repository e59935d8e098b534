# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Issue 10 §3-§6 on the record side: recognition by content, clean fields, refused records,
unusable CRLs; and trust handing the reader the very tree it verified."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from glancing.cli import metadata
from glancing.errors import RecordError
from glancing.formats.stratuslab.validate import validate
from glancing.model import Origin
from glancing.sources import SourceSettings, resolve
from glancing.sources.hepix import image_to_spec, parse_image_list
from glancing.sources.stratuslab import parse_records, record_to_spec
from glancing.trust import xmldsig
from glancing.trust.chain import load_ca_dir, validate_chain
from glancing.trust.failures import ChainError, ChainNotChecked
from glancing.trust.policy import UnsafeNoVerify
from test_hepix import image, make_list
from test_stratuslab import to_rdf_json, without_signature
from trustkit import NOW, pki  # noqa: F401

FIX = Path(__file__).parent / "fixtures" / "stratuslab"
LHFK = "LHfKVPoHcv4oMirHU0KuOQc-TvI"
BTSK = FIX / "BtSKdXa2SvHlSVTvgFgivIYDq--.json"


def unsigned(**replace: str) -> bytes:
    """The real France Grilles record without its signature, with text replaced."""
    text = without_signature((FIX / f"{LHFK}.button.xml").read_bytes()).decode()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text.encode()


def settings() -> SourceSettings:
    return SourceSettings(policy=UnsafeNoVerify(), allow_expired=True, allow_deprecated=True)


def resolve_bytes(tmp_path: Path, data: bytes, name: str = "record"):
    path = tmp_path / name
    path.write_bytes(data)
    return resolve(str(path), settings())


def test_a_utf16_record_is_a_record_not_a_raw_image(tmp_path: Path) -> None:
    text = unsigned().decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    spec = resolve_bytes(tmp_path, text.encode("utf-16"))
    assert spec.origin is Origin.LOCAL_RECORD and spec.expected.identifier == LHFK


@pytest.mark.parametrize("text", ["[1, 2, 3]", '"an image?"', "42", "[ {\"hv:imagelist\": {}} ]"])
def test_json_whose_top_level_is_not_an_object_is_refused_not_uploaded(tmp_path: Path, text: str) -> None:
    with pytest.raises(RecordError, match="top level is"):
        resolve_bytes(tmp_path, text.encode(), "list.json")


def test_a_document_that_does_not_parse_is_refused_never_an_image(tmp_path: Path) -> None:
    with pytest.raises(RecordError):
        resolve_bytes(tmp_path, unsigned()[:700])


def test_control_characters_never_reach_a_name_or_property(tmp_path: Path) -> None:
    xml = unsigned(**{"FG_Cloud-Ubuntu-14.04-x86_64</dcterms:title>":
                      "FG&#10;glancing: error: forged&#x202E;&#x85;x</dcterms:title>"})
    spec = resolve_bytes(tmp_path, xml)
    assert spec.name == "FG glancing: error: forged x" and spec.name.isprintable()
    rdf_json = json.loads(to_rdf_json(unsigned()))
    for predicates in rdf_json.values():
        for value in predicates.get("http://purl.org/dc/terms/title", []):
            value["value"] = "a\u001b[2Jb\u0000c\nd"
    spec = resolve_bytes(tmp_path, json.dumps(rdf_json).encode(), "record.json")
    assert spec.name == "a[2Jbc d"
    lst = parse_image_list(make_list([image(**{"dc:title": "x\ny\x1b", "hv:version": "1\r\n2"})]))
    spec = image_to_spec(lst.images[0], lst, Origin.LOCAL_RECORD, str(tmp_path / "l"))
    assert spec.name == "x y" and spec.properties["version"] == "1  2"


def test_a_future_dated_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="endorsed in the future"):
        resolve_bytes(tmp_path, unsigned(**{"2016-05-17T06:39:18Z": "2090-01-01T00:00:00Z"}))


@pytest.mark.parametrize("value", ["", "[]", "12 bytes", "-1", "１２"])
def test_unusable_slreq_bytes_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(RecordError, match="slreq:bytes"):
        resolve_bytes(tmp_path, unsigned(**{"<slreq:bytes>259523072<": f"<slreq:bytes>{value}<"}))


def test_a_record_without_slreq_bytes_is_refused_at_import() -> None:
    rdf_json = json.loads(to_rdf_json(unsigned()))
    for predicates in rdf_json.values():
        predicates.pop("http://mp.stratuslab.eu/slreq#bytes", None)
    (record,) = parse_records(json.dumps(rdf_json).encode(), "r.json")
    with pytest.raises(RecordError, match="no slreq:bytes"):
        record_to_spec(record, Origin.LOCAL_RECORD, "/tmp/r.json")


def test_an_unknown_disk_format_is_a_refused_record(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="not a known disk format"):
        resolve_bytes(tmp_path, unsigned(**{"<dcterms:format>qcow2<": "<dcterms:format>floppy<"}))
    lst = parse_image_list(make_list([image(**{"hv:format": "floppy.gz"})]))
    with pytest.raises(RecordError, match="not a known disk format"):
        image_to_spec(lst.images[0], lst, Origin.LOCAL_RECORD, str(tmp_path / "l"))


def test_trust_hands_the_reader_the_tree_it_verified() -> None:
    data = (FIX / f"{LHFK}.wget.xml").read_bytes()
    (root,) = xmldsig.record_roots(data, "wget")
    verified = UnsafeNoVerify().verify_stratuslab(root, "wget")
    assert verified.tree is root and verified.signed
    assert not list(root.iter("{http://www.w3.org/2000/09/xmldsig#}Signature"))


def test_validate_accepts_rdf_json_records() -> None:
    assert validate(BTSK.read_bytes(), BTSK.name) == []
    assert validate(to_rdf_json(unsigned()), "lhfk.json") == []
    broken = json.loads(to_rdf_json(unsigned()))
    for predicates in broken.values():
        predicates.pop("http://mp.stratuslab.eu/slreq#bytes", None)
    assert validate(json.dumps(broken).encode(), "x.json") == ["required: slreq:bytes is missing"]
    assert validate(b"[1]", "a.json")[0].startswith("xml: a.json is JSON whose top level is an array")


def test_metadata_validate_cli_accepts_the_real_rdf_json_fixture(capsys) -> None:
    assert metadata.main(["validate", str(BTSK)]) == 0
    assert capsys.readouterr().out.strip().endswith("valid")


def _ca_dir_with(pki, tmp_path: Path, crl: bytes) -> Path:
    target = tmp_path / "ca"
    shutil.copytree(pki.ca_dirs["valid"], target)
    (r0,) = target.glob("*.r0")
    r0.write_bytes(crl)
    return target


@pytest.mark.parametrize("garbage", [b"", b"\x00garbage\xff" * 10,
                                     b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"])
def test_an_unusable_crl_is_a_refusal_naming_the_file(pki, tmp_path: Path, garbage: bytes) -> None:
    ca_dir = load_ca_dir(_ca_dir_with(pki, tmp_path, garbage))
    with pytest.raises(ChainError, match=r"unusable CRL: .*\.r0"):
        validate_chain(pki.good.cert, (), ca_dir, moment=NOW)


def test_a_ca_directory_that_is_a_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "certificates"
    path.write_text("not a directory")
    with pytest.raises(ChainNotChecked, match="is a file, not a directory"):
        load_ca_dir(path)


def test_verify_cli_reads_every_kind_by_content(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    out = io.StringIO()
    args = metadata.build_parser().parse_args(["verify", str(BTSK), str(array), "--ca-dir", str(tmp_path)])
    assert args.func(args, out=out) == 5
    first, second = out.getvalue().splitlines()
    assert "unsigned" in first and "RDF/JSON record" in first and "image list" not in first
    assert "top level is an array" in second


def test_verify_checks_a_records_dates_as_a_lists(pki, tmp_path: Path) -> None:
    from trustkit import DAY, record, sign_record

    future = tmp_path / "future.xml"
    future.write_bytes(sign_record(record(pki.good, created=NOW + 365 * 70 * DAY), pki.good))
    valid_until = b"<dcterms:valid>2001-01-01T00:00:00Z</dcterms:valid>\n    <dcterms:title>"
    expired = tmp_path / "expired.xml"
    expired.write_bytes(sign_record(record(pki.good).replace(b"<dcterms:title>", valid_until), pki.good))
    fine = tmp_path / "fine.xml"
    fine.write_bytes(sign_record(record(pki.good), pki.good))
    out = io.StringIO()
    args = metadata.build_parser().parse_args(
        ["verify", str(future), str(expired), str(fine), "--ca-dir", str(pki.ca_dirs["valid"]),
         "--endorser", pki.good.subject_openssl])
    assert args.func(args, out=out) == 5
    lines = out.getvalue().splitlines()
    assert "REFUSED" in lines[0] and "endorsed in the future" in lines[0]
    assert "REFUSED" in lines[1] and "expired on 2001-01-01" in lines[1]
    assert ": OK: signature valid" in lines[2]


def test_a_trust_policy_reads_nothing_until_asked(tmp_path: Path) -> None:
    from glancing.errors import UsageError
    from glancing.trust.endorsers import TrustedEndorsers
    from glancing.trust.policy import TrustPolicy
    from glancing.trust.settings import TrustSettings

    bad = tmp_path / "trusted-endorsers"
    bad.write_text("this is not a trust file line\n")
    settings = TrustSettings(ca_dir=tmp_path / "missing", trust_file=bad, trust_file_explicit=True)
    policy = TrustPolicy(settings, TrustedEndorsers(()))
    assert policy.endorsers.endorsers == ()
    with pytest.raises(UsageError):
        TrustPolicy.load(settings)


def test_a_utf16_json_list_is_an_unsigned_list_not_a_broken_signature(tmp_path: Path) -> None:
    from glancing.sources import list_entry_spec

    path = tmp_path / "list.json"
    path.write_bytes(make_list([image()]).decode().encode("utf-16"))
    from glancing.trust.endorsers import TrustedEndorsers
    from glancing.trust.policy import TrustPolicy
    from glancing.trust.settings import TrustSettings

    policy = TrustPolicy(TrustSettings(ca_dir=tmp_path), TrustedEndorsers(()))
    spec = list_entry_spec(str(path), "aaaaaaaa-0000-0000-0000-000000000001", SourceSettings(policy=policy))
    assert spec.properties["glancing_signature"] == "NOT verified"
    assert spec.properties["hepix_list_id"] == "11111111-2222-3333-4444-555555555555"
