# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glancing-publish end to end through its console script: lists and images in the database,
signing with every kind of credential (and the refusals), uploads to a loopback WebDAV server,
the version recorded only after a successful upload, and import after verification."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization

from davserver import DavServer
from glancing import errors
from glancing.cli.publish import main
from images import make_qcow2
from test_publish_sign import openssl_smime_verify
from trustkit import Pki, image_list, pki, sign_list, write_p12  # noqa: F401

Run = Callable[..., subprocess.CompletedProcess]


class Publisher:
    """glancing-publish with one database, and the PKI's signing endorser: run through its
    console script, or (``in_process``, 1 s less per call) through ``main`` in this process."""

    def __init__(self, run_cli: Run, tmp: Path, pki: Pki, in_process: bool = False) -> None:
        self.run_cli, self.tmp, self.pki, self.in_process = run_cli, tmp, pki, in_process
        self.db = tmp / "state" / "publish.db"

    def __call__(self, *args: Any) -> subprocess.CompletedProcess:
        argv = ["--db", str(self.db), *map(str, args)]
        if not self.in_process:
            return self.run_cli("glancing-publish", *argv)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

    def ok(self, *args: Any) -> str:
        done = self(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def show(self, list_id: str) -> Any:
        return json.loads(self.ok("--json", "list", "show", list_id))

    def sign_args(self) -> list:
        return ["--cert", self.pki.signer.cert_path, "--key", self.pki.signer.key_path]


@pytest.fixture
def pub(run_cli: Run, tmp_path: Path, pki: Pki) -> Publisher:
    return Publisher(run_cli, tmp_path, pki, in_process=True)


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    (tmp_path / "www" / "lists").mkdir(parents=True)
    server = DavServer(tmp_path / "www").start()
    yield server
    server.stop()


def test_create_add_sign_upload_and_show(run_cli: Run, pki: Pki, dav: DavServer, tmp_path: Path) -> None:
    pub = Publisher(run_cli, tmp_path, pki)  # the console script itself
    url = dav.url("lists/image.list")
    list_id = pub.ok("list", "create", "--title", "My images", "--uri", url, "--lifetime", "7d", "--vo", "vo.x")
    disk = make_qcow2(tmp_path / "disk.qcow2", seed=b"cli", size_mib=1)
    image = pub.ok("image", "add", list_id, disk, "--title", "Disk", "--version", "1", "--compress", "xz",
                   "--os", "Linux", "--arch", "x86_64")
    uri = pub.ok("image", "upload", list_id, image, "--to", (tmp_path / "www").as_uri())
    assert uri.startswith(f"{url.rsplit('/', 1)[0]}/{image}_") and uri.endswith(".qcow2.xz")
    served = tmp_path / "www" / uri.rsplit("/", 1)[1]
    assert served.read_bytes() == (tmp_path / "disk.qcow2.xz").read_bytes()
    assert "version 0.0.1" in pub.ok("sign", list_id, *pub.sign_args(), "-o", tmp_path / "out.list")
    assert pub.show(list_id)["version"] is None  # signed, not yet published
    assert pub.ok("upload", list_id) == f"uploaded list {list_id} version 0.0.1 to {url}"
    shown = pub.show(list_id)
    assert shown["version"] == "0.0.1" and shown["latest_signed"]["uploaded_to"] == url
    entry = shown["images"][0]["entry"]
    assert entry["hv:format"] == "qcow2.xz" and entry["hv:uri"] == uri and entry["hv:size"] == served.stat().st_size
    published = (dav.root / "lists" / "image.list").read_bytes()
    assert published == (tmp_path / "out.list").read_bytes()
    assert openssl_smime_verify(published, pub.pki.ca_dirs["valid"], tmp_path).returncode == 0
    listed = json.loads(pub.ok("--json", "list", "ls"))
    assert [(x["id"], x["version"], x["images"]) for x in listed] == [(list_id, "0.0.1", 1)]


def test_update_set_remove(pub: Publisher, tmp_path: Path) -> None:
    list_id = pub.ok("list", "create", "--title", "L", "--uri", "https://x.example/image.list")
    disk = make_qcow2(tmp_path / "d.qcow2", seed=b"1", size_mib=1)
    image = pub.ok("image", "add", list_id, disk, "--title", "D", "--version", "1.0")
    assert pub.ok("image", "update", list_id, image, disk) == f"{image}: unchanged (same SHA-512)"
    make_qcow2(disk, seed=b"2", size_mib=1)
    assert pub.ok("image", "update", list_id, image, disk) == f"{image}: version 1.1"
    pub.ok("image", "set", list_id, image[:8], "sl:osversion=12", "dc:description=")
    entry = pub.show(list_id)["images"][0]["entry"]
    assert entry["sl:osversion"] == "12" and "dc:description" not in entry
    done = pub("image", "set", list_id, image, "sl:checksum:sha512=00")
    assert done.returncode == errors.USAGE and "image update" in done.stderr
    pub.ok("image", "remove", list_id, image)
    assert pub.show(list_id)["images"] == []


def test_signing_refusals_and_passwords(pub: Publisher, tmp_path: Path) -> None:
    list_id = pub.ok("list", "create", "--title", "L", "--uri", "https://x.example/image.list")
    for who, reason in ((pub.pki.nosign, "digitalSignature"), (pub.pki.expired, "expired on")):
        done = pub("sign", list_id, "--cert", who.cert_path, "--key", who.key_path)
        assert done.returncode == errors.USAGE and reason in done.stderr
        assert done.stderr.count("\n") == 1  # one line, no traceback
    key = tmp_path / "enc.key"
    key.write_bytes(pub.pki.signer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.BestAvailableEncryption(b"pw")))
    done = pub("sign", list_id, "--cert", pub.pki.signer.cert_path, "--key", key)
    assert done.returncode == errors.USAGE and "--password-file" in done.stderr  # no terminal to ask
    (tmp_path / "pw").write_text("pw\n")
    pub.ok("sign", list_id, "--cert", pub.pki.signer.cert_path, "--key", key, "--password-file", tmp_path / "pw")
    p12 = write_p12(pub.pki.signer, tmp_path / "e.p12", b"pw")
    pub.ok("sign", list_id, "--p12", p12, "--password-file", tmp_path / "pw")
    done = pub("sign", list_id, "--cert", pub.pki.good.cert_path, "--key", pub.pki.good.key_path)
    assert done.returncode == errors.USAGE and "one endorser" in done.stderr
    done = pub("--json", "sign", "no-such-list", *pub.sign_args())
    assert done.returncode == errors.USAGE and json.loads(done.stdout)["exit_code"] == errors.USAGE


def test_failed_upload_keeps_the_published_version_and_list(pub: Publisher, dav: DavServer, tmp_path: Path) -> None:
    url = dav.url("lists/image.list")
    list_id = pub.ok("list", "create", "--title", "L", "--uri", url)
    assert pub("upload", list_id).returncode == errors.USAGE  # nothing signed yet
    pub.ok("sign", list_id, *pub.sign_args())
    pub.ok("upload", list_id)
    first = (dav.root / "lists" / "image.list").read_bytes()
    pub.ok("sign", list_id, *pub.sign_args())
    dav.refuse_put("image.list", 507)
    done = pub("upload", list_id)
    assert done.returncode == errors.SOURCE_UNREACHABLE and "507" in done.stderr
    assert pub.show(list_id)["version"] == "0.0.1"
    assert (dav.root / "lists" / "image.list").read_bytes() == first
    dav.put_refusals.clear()
    pub.ok("upload", list_id)
    assert pub.show(list_id)["version"] == "0.0.2"


def _trust(pub: Publisher) -> Path:
    trust = pub.tmp / "trusted-endorsers"
    trust.write_text(f'hepix dn="{pub.pki.good.subject_openssl}" ca="{pub.pki.good.issuer_openssl}"\n')
    return trust


def test_import_verifies_like_a_subscriber(pub: Publisher, tmp_path: Path) -> None:
    signed = sign_list(image_list(pub.pki.good, version="20240101000000"), pub.pki.good, tmp_path)
    (tmp_path / "vmcaster.list").write_bytes(signed)
    (tmp_path / "tampered.list").write_bytes(signed.replace(b"Glancing test list", b"Glancing evil list"))
    trust = ["--ca-dir", pub.pki.ca_dirs["valid"], "--trust", _trust(pub)]
    done = pub("import", tmp_path / "tampered.list", *trust)
    assert done.returncode == errors.RECORD_REFUSED and "digest mismatch" in done.stderr
    done = pub("import", tmp_path / "vmcaster.list", "--ca-dir", pub.pki.ca_dirs["valid"],
               "--trust", _empty(tmp_path))
    assert done.returncode == errors.RECORD_REFUSED  # a valid signature of an untrusted endorser
    assert json.loads(pub.ok("--json", "list", "ls")) == []
    assert "version 20240101000000" in pub.ok("import", tmp_path / "vmcaster.list", *trust)
    shown = pub.show("6b1e5f0e")
    assert shown["endorser"]["dn"] == pub.pki.good.subject_openssl and len(shown["images"]) == 1
    # the imported list is the published one: the next signature is its successor
    pub.ok("image", "set", "6b1e5f0e", "488dcdc4", "dc:title=renamed")
    signed_next = pub("sign", "6b1e5f0e", "--cert", pub.pki.good.cert_path, "--key", pub.pki.good.key_path)
    assert signed_next.returncode == 0 and "version 20240101000001" in signed_next.stdout
    assert pub("import", tmp_path / "vmcaster.list", *trust).returncode == errors.USAGE  # exists already


def _empty(tmp: Path) -> Path:
    path = tmp / "nobody-trusted"
    path.write_text("")
    return path
