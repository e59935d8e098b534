# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glancing-metadata build`` and ``sign``: records for real qemu-img images, signed with the
throw-away PKI, checked by the independent oracle ``xmlsec1 --verify`` (chain to the test CA)
and by this project's own reader, validator and verifier.

Shared with the upload and lab tests: ``build_args``, ``built``, ``signed``, ``xmlsec1_verify``,
``trust_args``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import List, Tuple

import pytest
from lxml import etree

from images import compress, digest, make_qcow2, make_raw
from trustkit import write_p12

from glancing.cli.metadata_publish import duration
from glancing.formats.stratuslab.read import parse_records
from glancing.formats.stratuslab.validate import validate
from glancing.formats.stratuslab.write import RecordDraft, write_record
from glancing.publish import records
from glancing.trust.credentials import load_signer
from glancing.verify.identifier import sha1_to_identifier

DS = "{http://www.w3.org/2000/09/xmldsig#}"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def build_args(image: Path, location: str, *extra: str) -> List[str]:
    return ["build", str(image), "--author", "Jane Endorser", "--email", "jane@example.org", "--os", "Debian",
            "--os-version", "12", "--os-arch", "x86_64", "--image-version", "1.2", "--location", location, *extra]


def built(run_cli, image: Path, location: str, *extra: str) -> Path:
    out = image.with_name(image.name + ".xml")
    result = run_cli("glancing-metadata", *build_args(image, location, *extra), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def signed(run_cli, record: Path, identity, *extra: str) -> Path:
    out = record.with_name(record.stem + ".signed.xml")
    result = run_cli("glancing-metadata", "sign", str(record), "-o", str(out), "--cert", str(identity.cert_path),
                     "--key", str(identity.key_path), *extra)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{out}: signed (")
    return out


def xmlsec1_verify(path: Path, ca: Path) -> subprocess.CompletedProcess:
    """The independent oracle: the signature, and the signer's chain to the test CA."""
    return subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(ca), "--enabled-key-data", "x509", str(path)],
                          capture_output=True, text=True)


def trust_args(pki, identity) -> List[str]:
    return ["--ca-dir", str(pki.ca_dirs["valid"]), "--endorser", identity.subject_openssl]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_qcow2(tmp_path / "appliance.qcow2", seed=b"publish", size_mib=1)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, pki) -> Tuple[bytes, bytes]:
    """One record built and signed (by pki.signer) in-process: (unsigned, signed) bytes."""
    tmp = tmp_path_factory.mktemp("made")
    img = make_qcow2(tmp / "made.qcow2", seed=b"made", size_mib=1)
    request = records.BuildRequest(image=str(img), locations=("http://images.example.org/a",), os="Debian",
                                   os_version="12", os_arch="x86_64", version="1", email="jane@example.org")
    unsigned, _ = records.build(request, NOW)
    signer = load_signer(pki.signer.cert_path, pki.signer.key_path)
    return unsigned, records.sign(unsigned, signer, "made", NOW)


def unsigned_file(made, tmp_path: Path) -> Path:
    path = tmp_path / "record.xml"
    path.write_bytes(made[0])
    return path


@pytest.mark.parametrize("kind", [None, "gz", "bz2", "xz"])
def test_build_describes_the_uncompressed_image(run_cli, image: Path, kind) -> None:
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    given = compress(image, kind) if kind else image
    record = built(run_cli, given, "http://images.example.org/a")
    data = record.read_bytes()
    assert validate(data, str(record)) == []
    read = parse_records(data, str(record))[0]
    assert read.identifier == sha1_to_identifier(digest(image, "sha1"))
    assert read.checksums == {alg: digest(image, alg) for alg in ("md5", "sha1", "sha256", "sha512")}
    assert read.bytes == image.stat().st_size and read.format == "qcow2" and read.compression == kind
    assert (read.os, read.os_version, read.os_arch, read.version) == ("Debian", "12", "x86_64", "1.2")
    assert read.creator == "Jane Endorser <jane@example.org>" and read.hypervisor == "kvm"
    assert read.valid - read.created == dt.timedelta(days=178)
    assert before <= read.created <= dt.datetime.now(dt.timezone.utc)  # stamped when built
    assert read.endorsement_created is None and not read.signed  # endorsed only when signed


def test_build_options_and_default_name(run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default name is written in the current directory
    raw = make_raw(tmp_path / "disk.img")
    args = build_args(raw, "http://a/disk.img.gz", "--location", "ftp://b/d.gz")
    result = run_cli("glancing-metadata", "--json", *args,
                     "--compression", "gz", "--title", "Disk", "--valid", "2w", "--tag", "stable", "--comment", "a\nb",
                     "--format", "raw", "--hypervisor", "xen")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["record"] == "Debian-12-x86_64-base-1.2.xml" and shown["format"] == "raw"
    read = parse_records((tmp_path / shown["record"]).read_bytes(), "r")[0]
    assert read.locations == ("http://a/disk.img.gz", "ftp://b/d.gz") and read.compression == "gz"
    assert (read.title, read.alternative, read.description, read.hypervisor) == ("Disk", "stable", "a b", "xen")
    assert read.valid - read.created == dt.timedelta(weeks=2) and read.identifier == shown["identifier"]


@pytest.mark.parametrize("extra, code, words", [
    (["--compression", "none"], 2, "gzip-compressed, not none"),
    (["--compression", "bz2"], 2, "gzip-compressed, not bz2"),
    (["--format", "raw"], 1, "--format raw but qemu-img finds qcow2"),
    (["--valid", "0d"], 2, "not a positive duration"),
    (["--email", "not-an-address"], 2, "not an e-mail address"),
])
def test_build_refuses_contradictions(run_cli, image: Path, extra, code, words) -> None:
    result = run_cli("glancing-metadata", *build_args(compress(image, "gz"), "http://a/b", *extra), "-o",
                     str(image.with_suffix(".xml")))
    assert result.returncode == code and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not image.with_suffix(".xml").exists()


def test_build_refuses_a_disk_naming_a_backing_file(run_cli, tmp_path: Path) -> None:
    from images import qcow2_with_backing

    bad = qcow2_with_backing(tmp_path / "bad.qcow2", "/etc/passwd")
    result = run_cli("glancing-metadata", *build_args(bad, "http://a/b"), "-o", str(tmp_path / "r.xml"))
    assert result.returncode == 1 and "backing" in result.stderr and not (tmp_path / "r.xml").exists()


def test_written_record_reads_back_every_term() -> None:
    sums = {"sha1": "b1df2953e81dcbf8a0c8ab1d4d0ab8e41cf93bc8", "md5": "0" * 32}
    draft = RecordDraft(size=12, checksums=sums, created=NOW, valid=NOW + dt.timedelta(days=1),
                        locations=("https://x/1", "https://x/2"), disk_format="raw", compression="bz2", os="Ubuntu",
                        os_version="14.04", os_arch="x86_64", version="3", title="T <&>", description="D",
                        creator="C", hypervisor="kvm", disks_bus="virtio", tag="tag", extra={"deprecated": "old"})
    data = write_record(draft)
    assert validate(data, "draft") == []
    read = parse_records(data, "draft")[0]
    assert read.identifier == "LHfKVPoHcv4oMirHU0KuOQc-TvI" and read.checksums == sums and read.bytes == 12
    assert (read.title, read.disks_bus, read.alternative, read.deprecated, read.type, read.kind) == \
        ("T <&>", "virtio", "tag", "old", "base", "machine")
    assert (read.created, read.valid) == (NOW, NOW + dt.timedelta(days=1))
    assert read.locations == ("https://x/1", "https://x/2")


def test_duration_units() -> None:
    assert duration("178d") == duration("178") == dt.timedelta(days=178)
    assert (duration("12h"), duration("2w"), duration("90m")) == \
        (dt.timedelta(hours=12), dt.timedelta(weeks=2), dt.timedelta(minutes=90))


def test_sign_fills_the_endorsement_and_verifies_independently(run_cli, image: Path, pki) -> None:
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    record = built(run_cli, image, "http://images.example.org/a")
    out = signed(run_cli, record, pki.signer)
    data = out.read_bytes()
    assert xmlsec1_verify(out, pki.ca.cert_path).returncode == 0
    assert xmlsec1_verify(out, pki.other_ca.cert_path).returncode != 0  # the chain is checked too
    assert validate(data, str(out)) == []
    read = parse_records(data, str(out))[0]
    assert read.signed and read.endorser_email == "signer@example.org"  # the certificate's e-mail
    assert read.endorser_subject == "CN=Signing Endorser,OU=Endorsers,DC=example,DC=org"
    assert read.endorser_issuer == "CN=Glancing Test CA,DC=example,DC=org"
    assert before <= read.endorsement_created <= dt.datetime.now(dt.timezone.utc)  # stamped when signed
    sig = etree.fromstring(data).find(f"{DS}Signature")
    assert sig.find(f"{DS}SignedInfo/{DS}SignatureMethod").get("Algorithm").endswith("#rsa-sha1")
    assert sig.find(f"{DS}SignedInfo/{DS}Reference/{DS}DigestMethod").get("Algorithm").endswith("#sha1")
    verdict = run_cli("glancing-metadata", "verify", str(out), *trust_args(pki, pki.signer))
    assert verdict.returncode == 0 and ": OK: " in verdict.stdout, verdict.stdout + verdict.stderr


def _flip_content(text: str) -> str:
    return text.replace("http://images.example.org/a", "http://images.example.org/b", 1)


def _flip_signature(text: str) -> str:
    at = text.index("<SignatureValue>") + len("<SignatureValue>") + 5
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


@pytest.mark.parametrize("flip", [_flip_content, _flip_signature])
def test_one_changed_byte_fails_both_verifiers(run_cli, made, tmp_path: Path, pki, flip) -> None:
    out = tmp_path / "signed.xml"
    text = made[1].decode()
    changed = flip(text)
    assert len(changed) == len(text) and sum(a != b for a, b in zip(text, changed)) == 1
    out.write_text(changed)
    assert xmlsec1_verify(out, pki.ca.cert_path).returncode != 0
    verdict = run_cli("glancing-metadata", "verify", str(out), *trust_args(pki, pki.signer))
    assert verdict.returncode == 5 and "REFUSED" in verdict.stdout


def test_sha256_signs_rsa_sha256_and_resigning_keeps_one_signature(run_cli, made, tmp_path: Path, pki) -> None:
    first = tmp_path / "first.xml"
    first.write_bytes(made[1].replace(b"<dcterms:type", b"<!-- a comment --><dcterms:type"))
    again = signed(run_cli, first, pki.good, "--sha256", "--email", "good@example.org")
    root = etree.fromstring(again.read_bytes())
    sigs = root.findall(f"{DS}Signature")
    assert len(sigs) == 1 and not root.xpath("//comment()")
    assert sigs[0].find(f"{DS}SignedInfo/{DS}SignatureMethod").get("Algorithm").endswith("#rsa-sha256")
    assert sigs[0].find(f"{DS}SignedInfo/{DS}Reference/{DS}DigestMethod").get("Algorithm").endswith("#sha256")
    assert xmlsec1_verify(again, pki.ca.cert_path).returncode == 0
    read = parse_records(again.read_bytes(), "again")[0]
    assert read.endorser_email == "good@example.org" and read.endorser_subject.startswith("CN=Good Endorser,")


def test_sign_takes_the_e_mail_from_the_record_and_a_p12(run_cli, made, pki, tmp_path: Path) -> None:
    p12 = write_p12(pki.good, tmp_path / "good.p12", b"s3cret")
    (tmp_path / "pw").write_text("s3cret\n")
    record = unsigned_file(made, tmp_path)
    out = tmp_path / "out.xml"
    result = run_cli("glancing-metadata", "sign", str(record), "-o", str(out), "--p12", str(p12),
                     "--password-file", str(tmp_path / "pw"))
    assert result.returncode == 0, result.stderr
    assert parse_records(out.read_bytes(), "out")[0].endorser_email == "jane@example.org"  # build's --email
    assert xmlsec1_verify(out, pki.ca.cert_path).returncode == 0


@pytest.mark.parametrize("who, extra, words", [
    ("nosign", [], "lacks digitalSignature"),
    ("expired", [], "certificate expired on"),
    ("signer", ["--email", "someone@else.org"], "is not the certificate's e-mail signer@example.org"),
])
def test_sign_refuses_unusable_credentials(run_cli, made, tmp_path: Path, pki, who, extra, words) -> None:
    record = unsigned_file(made, tmp_path)
    identity = getattr(pki, who)
    out = record.with_name("never.xml")
    result = run_cli("glancing-metadata", "sign", str(record), "-o", str(out), "--cert", str(identity.cert_path),
                     "--key", str(identity.key_path), *extra)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_sign_refuses_a_key_of_another_certificate(run_cli, made, tmp_path: Path, pki) -> None:
    record = unsigned_file(made, tmp_path)
    result = run_cli("glancing-metadata", "sign", str(record), "-o", str(record.with_name("x.xml")),
                     "--cert", str(pki.signer.cert_path), "--key", str(pki.good.key_path))
    assert result.returncode == 2 and "not the key of certificate" in result.stderr


def test_sign_help_says_which_algorithm_to_choose(run_cli) -> None:
    result = run_cli("glancing-metadata", "sign", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "the only one the marketplace's Java validator accepts" in text and "--sha256" in text
    assert "cannot find validation key" in text


def test_an_ec_key_signs_only_ecdsa_sha256(made, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from glancing.errors import UsageError

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EC Endorser")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "ec.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ec.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    signer = load_signer(tmp_path / "ec.pem", tmp_path / "ec.key")
    with pytest.raises(UsageError, match="an EC key can only sign with --sha256"):
        records.sign(made[0], signer, "ec", NOW)
    out = tmp_path / "ec.xml"
    out.write_bytes(records.sign(made[0], signer, "ec", NOW, sha256=True))
    assert xmlsec1_verify(out, tmp_path / "ec.pem").returncode == 0
    method = etree.fromstring(out.read_bytes()).find(f"{DS}Signature/{DS}SignedInfo/{DS}SignatureMethod")
    assert method.get("Algorithm").endswith("#ecdsa-sha256")
