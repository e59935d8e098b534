# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Broken inputs never crash: every reader raises a GlancingError, no command exits 70.

The corpus: truncated and malformed XML, wrong encodings, deep nesting, a huge attribute, JSON
of every top-level type, binary garbage, an empty file, and every real fixture cut at several
offsets and with bytes flipped. Readers run in-process; ``glancing-metadata`` runs through
``main`` for speed, and a handful through the real console script.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List

import pytest

from glancing import errors
from glancing.cli import metadata
from glancing.errors import GlancingError
from glancing.formats.detect import detect
from glancing.formats.stratuslab.validate import validate
from glancing.sources import SourceSettings, resolve
from glancing.sources.hepix import parse_image_list
from glancing.sources.stratuslab import parse_records
from glancing.trust import claims
from glancing.trust.policy import UnsafeNoVerify
from trustkit import image_list, pki, sign_list  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"
RDF = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xml:base="http://mp.stratuslab.eu/">'
       '<rdf:Description rdf:about="#A">{}</rdf:Description></rdf:RDF>')


def _synthetic() -> Dict[str, bytes]:
    deep = "<a>" * 5000 + "</a>" * 5000
    return {
        "empty": b"", "space": b"   \n", "nul": bytes(64), "garbage": bytes(range(256)) * 8,
        "truncated-xml": (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                          b"<rdf:Des"),
        "utf16-declared-utf8": RDF.format("x").encode("utf-16"),
        "utf8-declared-utf16": b'<?xml version="1.0" encoding="UTF-16"?>' + RDF.format("x").encode(),
        "latin1-declared-utf8": b'<?xml version="1.0" encoding="UTF-8"?>' + RDF.format("\xe9").encode("latin-1"),
        "bad-encoding-name": b'<?xml version="1.0" encoding="no-such"?><a/>',
        "deep-xml": deep.encode(), "deep-rdf": RDF.format(deep).encode(),
        "huge-attribute": f'<a b="{"x" * (3 << 20)}"/>'.encode(),
        "too-big-xml": b"<a>" + b"x" * (5 << 20) + b"</a>",
        "parse-type-literal": RDF.format('<x:y xmlns:x="urn:x" rdf:parseType="Literal"><a></x:y>').encode(),
        "bad-rdf": RDF.format('<rdf:li rdf:resource="::"/><rdf:Description/>').encode(),
        "entity": b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
        "html": b"<html><body>502</body></html>",
        "json-array": b"[1, 2]", "json-string": b'"x"', "json-number": b"3.5", "json-true": b"true",
        "json-null": b"null", "json-object": b"{}", "json-deep": b"[" * 50000 + b"]" * 50000,
        "json-deep-object": b'{"a":' * 50000 + b"1" + b"}" * 50000, "json-truncated": b'{"hv:imagelist": {"hv:',
        "json-list-wrong-types": b'{"hv:imagelist": {"hv:images": {"x": 1}, "dc:identifier": 5}}',
        "json-list-entries": b'{"hv:imagelist": {"dc:identifier": "i", "hv:images": [1, {"hv:image": []}]}}',
        "rdf-json-wrong-types": b'{"s": {"p": [1]}, "t": []}',
        "rdf-json-bnode": b'{"_:b": {"http://purl.org/dc/terms/identifier": [{"type": "bnode", "value": 1}]}}',
        "mime-garbage": b"MIME-Version: 1.0\nContent-Type: multipart/signed; boundary=\"x\"\n\n--x\n{}\n--x--\n",
        "mime-no-boundary": b"Content-Type: multipart/signed\n\n{}",
        "qcow2-magic": b"QFI\xfb" + bytes(60),
    }


def _mutants() -> Dict[str, bytes]:
    found: Dict[str, bytes] = {}
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".md"):
        data, name = path.read_bytes(), str(path.relative_to(FIXTURES))
        if len(data) > 200_000:
            continue
        for cut in (1, len(data) // 3, len(data) // 2, len(data) - 2):
            found[f"{name}@cut{cut}"] = data[:cut]
        for at in (len(data) // 5, len(data) // 2, (len(data) * 4) // 5):
            flipped = bytearray(data)
            flipped[at] ^= 0x55
            found[f"{name}@flip{at}"] = bytes(flipped)
    return found


CORPUS = {**_synthetic(), **_mutants()}
SETTINGS = SourceSettings(policy=UnsafeNoVerify(), allow_expired=True, allow_deprecated=True)

READERS: Dict[str, Callable[[bytes, Path], object]] = {
    "detect": lambda data, path: detect(data, lambda: data),
    "parse_records": lambda data, path: parse_records(data, "corpus"),
    "validate": lambda data, path: validate(data, "corpus"),
    "parse_image_list": lambda data, path: parse_image_list(data, "corpus"),
    "list_claims": lambda data, path: claims.list_claims(data, "corpus"),
    "verify_stratuslab_all": lambda data, path: UnsafeNoVerify().verify_stratuslab_all(data, "corpus"),
    "verify_image_list": lambda data, path: UnsafeNoVerify().verify_image_list(data, "corpus"),
    "resolve": lambda data, path: resolve(str(path), SETTINGS),
}


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) > 300 and sum(1 for n in CORPUS if "@flip" in n) > 100


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_raises_only_glancing_errors(reader: str, tmp_path: Path) -> None:
    crashes: List[str] = []
    for name, data in CORPUS.items():
        path = tmp_path / "input"
        path.write_bytes(data)
        try:
            READERS[reader](data, path)
        except GlancingError as e:
            assert "\n" not in str(e), f"{name}: a message of several lines: {e!r}"
        except Exception as e:  # noqa: BLE001 - the very thing this test looks for
            crashes.append(f"{name}: {type(e).__name__}: {e}"[:300])
    assert not crashes, "\n".join(crashes)


@pytest.mark.parametrize("command", ["validate", "show", "verify"])
def test_no_metadata_command_exits_70(command: str, tmp_path: Path, capsys) -> None:
    extra = ["--ca-dir", str(tmp_path)] if command == "verify" else []
    bad: List[str] = []
    for name, data in CORPUS.items():
        path = tmp_path / "input"
        path.write_bytes(data)
        code = metadata.main([command, str(path), *extra])
        err = capsys.readouterr().err
        if code == errors.INTERNAL or "internal error" in err or "Traceback" in err:
            bad.append(f"{name}: {code}: {err.strip()[:200]}")
        elif code not in (errors.OK, errors.RECORD_REFUSED):
            bad.append(f"{name}: unexpected exit {code}: {err.strip()[:200]}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", ["empty", "garbage", "json-array", "deep-xml", "utf16-declared-utf8"])
def test_the_console_script_refuses_broken_input_with_exit_5(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(CORPUS[name])
    script = Path(sys.executable).with_name("glancing-metadata")
    for command in ("validate", "show"):
        res = subprocess.run([str(script), command, str(path)], capture_output=True, text=True, timeout=60)
        assert res.returncode == errors.RECORD_REFUSED, (command, res.stderr)
        assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) >= 1



@pytest.mark.parametrize("crl", [b"", b"\x30\x03garbage", b"-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----\n"])
def test_a_broken_ca_directory_never_exits_70(pki, crl: bytes, tmp_path: Path, capsys) -> None:  # noqa: F811
    ca_dir = tmp_path / "ca"
    shutil.copytree(pki.ca_dirs["valid"], ca_dir)
    (r0,) = ca_dir.glob("*.r0")
    r0.write_bytes(crl)
    (ca_dir / "0badc0de.0").write_bytes(b"not a certificate")
    signed = tmp_path / "list.signed"
    signed.write_bytes(sign_list(image_list(pki.good), pki.good, tmp_path))
    code = metadata.main(["verify", str(signed), "--ca-dir", str(ca_dir), "--endorser", pki.good.subject_openssl])
    out = capsys.readouterr().out
    assert code == errors.RECORD_REFUSED and "unusable CRL" in out and r0.name in out
    as_file = tmp_path / "file-not-dir"
    as_file.write_text("x")
    assert metadata.main(["verify", str(signed), "--ca-dir", str(as_file)]) == errors.RECORD_REFUSED
    assert "is a file, not a directory" in capsys.readouterr().out
