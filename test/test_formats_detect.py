# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glancing.formats: one content detection, one cleaning of endorsed text, one version order."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from glancing.errors import RecordError
from glancing.formats import jsonsafe
from glancing.formats.detect import Kind, detect
from glancing.formats.text import clean
from glancing.formats.versions import VersionInfo, is_downgrade
from glancing.trust import claims

RECORD = '<?xml version="1.0" encoding="{enc}"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "utf-32-le", "utf-32-be"])
def test_xml_in_any_unicode_encoding_is_xml(encoding: str) -> None:
    declared = encoding.replace("-sig", "").upper()
    found = detect(RECORD.format(enc=declared).encode(encoding))
    assert found.kind is Kind.XML and found.kind.is_document


@pytest.mark.parametrize("data,kind,fmt", [
    (b"QFI\xfb\x00\x00\x00\x03" + bytes(100), Kind.DISK, "qcow2"),
    (b"KDMV" + bytes(100), Kind.DISK, "vmdk"),
    (b"# Disk DescriptorFile\nversion=1\n", Kind.DISK, "vmdk"),
    (b"vhdxfile" + bytes(100), Kind.DISK, "vhdx"),
    # A VDI header starts with "<<<": disk magic is tested before anything looks like XML.
    (b"<<< Oracle VM VirtualBox Disk Image >>>\n".ljust(0x40, b"\0") + b"\x7f\x10\xda\xbe", Kind.DISK, "vdi"),
    (bytes(0x8001) + b"CD001\x01", Kind.DISK, "iso"),
    (b"\xeb\x63\x90" + bytes(509), Kind.RAW, None),
    (b"MIME-Version: 1.0\nContent-Type: multipart/signed; protocol=...", Kind.MIME, None),
    (b'  {"hv:imagelist": {}}', Kind.JSON, None),
    ("{}".encode("utf-16"), Kind.JSON, None),
    (b"<!DOCTYPE html><html><body>login</body></html>", Kind.HTML, None),
    (b"", Kind.EMPTY, None),
])
def test_detect_by_content(data: bytes, kind: Kind, fmt) -> None:
    found = detect(data, lambda: data)
    assert found.kind is kind and found.disk_format == fmt


@pytest.mark.parametrize("text,detail", [("[1, 2]", "an array"), ('"a string"', "a string"),
                                         ("42", "a number"), ("true", "a boolean"), ("null", "null")])
def test_json_that_is_not_an_object_is_a_document_never_an_image(text: str, detail: str) -> None:
    found = detect(text.encode(), lambda: text.encode())
    assert found.kind is Kind.JSON_NOT_OBJECT and found.kind.is_document and found.detail == detail
    with pytest.raises(RecordError, match=f"top level is {detail}"):
        jsonsafe.load_object(text.encode(), "x.json", "image list")


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    with pytest.raises(RecordError):
        jsonsafe.load_object(b"[" * 100000 + b"]" * 100000, "deep.json")


def test_clean_keeps_one_value_on_one_line() -> None:
    hostile = "Ubuntu\nglancing: error: fake\r\x1b[31mred\x00\u202egnp.exe\u2028x\x9b\tz"
    cleaned = clean(hostile)
    assert cleaned == "Ubuntu glancing: error: fake [31mredgnp.exe x z"
    assert cleaned.isprintable()
    assert clean("Ünïcödé — fine") == "Ünïcödé — fine"


def test_list_downgrade_uses_the_manager_version_order() -> None:
    # 1 and 1.0 are one version under the manager's rule; the old list rule called 1 lower.
    assert not is_downgrade(VersionInfo("1"), VersionInfo("1.0"))
    assert is_downgrade(VersionInfo("1.9"), VersionInfo("1.10"))
    lst = claims.ListClaims(document={}, dn="", ca="", identifier="i", version="1", uri=None,
                            created=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
                            expires=dt.datetime(2999, 1, 1, tzinfo=dt.timezone.utc))
    claims.check_list_freshness(lst, dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc), "l", seen_version="1.0")


def test_importing_the_rdf_reader_leaves_logging_alone() -> None:
    code = ("import logging; import glancing.formats.stratuslab.graph, glancing.sources.stratuslab; "
            "print(logging.getLogger('rdflib.term').level)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


@pytest.mark.parametrize("qemu_format,disk_format", [("qcow2", "qcow2"), ("vmdk", "vmdk"), ("vdi", "vdi"),
                                                      ("vhdx", "vhdx"), ("vpc", "vhd")])
def test_real_disk_images_are_recognised_by_magic(tmp_path, qemu_format: str, disk_format: str) -> None:
    path = tmp_path / f"disk.{qemu_format}"
    subprocess.run(["qemu-img", "create", "-q", "-f", qemu_format, str(path), "1M"], check=True)
    found = detect(path.read_bytes())
    assert found.kind is Kind.DISK and found.disk_format == disk_format and not found.kind.is_document
