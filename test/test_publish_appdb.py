# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""EGI AppDB submission against a loopback HTTPS stub that requires the endorser's client
certificate (x509 authentication) and answers as AppDB does."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from lxml import etree

from glancing.fetch.http import HttpSettings
from glancing.publish.upload import UploadError, UploadSettings, upload_bytes
from tlskit import make_mirror_pki
from trustkit import Pki, pki  # noqa: F401


class _Stub(BaseHTTPRequestHandler):
    server: "AppDbStub"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        form = urllib.parse.parse_qs(body.decode())
        peer = self.connection.getpeercert()  # type: ignore[attr-defined]
        subject = dict(x[0] for x in peer["subject"]) if peer else {}
        self.server.posts.append({"path": self.path, "form": form, "client_cn": subject.get("commonName"),
                                  "type": self.headers.get("Content-Type")})
        reply = {"egiappdb": {"status": self.server.status, "details": "stub", "submission_id": 42,
                              "errors": [{"message": "list refused by the stub"}] if self.server.status != "success" else []}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class AppDbStub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Stub)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.posts: List[Dict[str, Any]] = []
        self.status = "success"


@pytest.fixture
def appdb(tmp_path: Path, pki: Pki) -> Iterator[Any]:
    mirror = make_mirror_pki(tmp_path)
    context = mirror.server_context
    context.verify_mode = ssl.CERT_REQUIRED  # x509 authentication: a client certificate of the grid CA
    context.load_verify_locations(str(pki.ca.cert_path))
    server = AppDbStub(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, mirror.ca_file
    server.shutdown()
    server.server_close()


def test_appdb_submission_posts_the_documented_form(appdb, pki: Pki) -> None:
    server, ca_file = appdb
    settings = UploadSettings(http=HttpSettings(retries=0, ca_file=str(ca_file)),
                              client_cert=(str(pki.signer.cert_path), str(pki.signer.key_path)))
    url = f"appdb+https://127.0.0.1:{server.server_address[1]}/vmlist/submit/x509/"
    upload_bytes(b"MIME-Version: 1.0\r\nsigned list\r\n", url, settings)
    [post] = server.posts
    assert post["path"] == "/vmlist/submit/x509/" and post["client_cn"] == "Signing Endorser"
    assert post["type"] == "application/x-www-form-urlencoded"
    root = etree.fromstring(post["form"]["data"][0].encode())
    assert root.tag == "appdbvmc" and [a.text for a in root.findall("action")] == ["insert", "enable"]
    assert (root.findtext("entity"), root.findtext("response"), root.findtext("user")) == ("imagelist", "json", "x509")
    assert base64.b64decode(root.findtext("imagelist")) == b"MIME-Version: 1.0\r\nsigned list\r\n"
    server.status = "error"
    with pytest.raises(UploadError, match="AppDB refused the list: error stub list refused by the stub"):
        upload_bytes(b"x", url, settings)


def test_appdb_without_client_certificate_fails(appdb) -> None:
    server, ca_file = appdb
    url = f"appdb+https://127.0.0.1:{server.server_address[1]}/vmlist/submit/x509/"
    with pytest.raises(UploadError, match="POST"):
        upload_bytes(b"x", url, UploadSettings(http=HttpSettings(retries=0, ca_file=str(ca_file))))
    assert server.posts == []
