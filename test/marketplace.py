# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A loopback StratusLab marketplace, and records and HEPiX lists made for images the tests make.

The real records point at hosts that are gone, so the tests publish their own: ``make_record``
describes an image file the way an endorser would (digests and size of the UNCOMPRESSED image,
identifier = f(SHA-1)), ``trustkit.sign_record`` signs it, and ``MarketplaceServer`` serves it:

    GET <base>/<ID>                    <metadata> wrapping every record published for ID
    GET <base>/<ID>/<email>/<created>  that one record, bare rdf:RDF
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape

import pytest

from glancing.verify.identifier import sha1_to_identifier

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def digests(path: Path) -> Dict[str, str]:
    data = path.read_bytes()
    return {alg: hashlib.new(alg, data).hexdigest() for alg in ("md5", "sha1", "sha256", "sha512")}


_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}


def make_record(image: Path, locations: Sequence[str], *, title: str = "", version: str = "1",
                compression: str = "", disk_format: str = "qcow2", created: Optional[dt.datetime] = None,
                valid: Optional[dt.datetime] = None, deprecated: Optional[str] = None,
                email: str = "endorser@example.org", subject: str = "CN=Good Endorser",
                issuer: str = "CN=Glancing Test CA", override: Optional[Dict[str, str]] = None,
                os_name: str = "Debian", os_version: str = "12", os_arch: str = "x86_64") -> bytes:
    """An unsigned RDF/XML record describing ``image`` (the uncompressed bytes).

    ``override`` replaces computed checksums (e.g. {"sha256": "00..."}) or the identifier
    ({"identifier": "..."}) to make broken records.
    """
    sums = digests(image)
    override = dict(override or {})
    identifier = override.pop("identifier", None) or sha1_to_identifier(sums["sha1"])
    sums.update(override)
    checksums = "".join(
        f'    <slreq:checksum rdf:parseType="Resource"><slreq:algorithm>{_NAMES[a]}</slreq:algorithm>'
        f"<slreq:value>{v}</slreq:value></slreq:checksum>\n" for a, v in sums.items())
    where = "".join(f"    <slterms:location>{escape(url)}</slterms:location>\n" for url in locations)
    extra = f"    <slterms:deprecated>{escape(deprecated)}</slterms:deprecated>\n" if deprecated is not None else ""
    created = created or NOW - DAY
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:dcterms="http://purl.org/dc/terms/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:slreq="http://mp.stratuslab.eu/slreq#" xmlns:slterms="http://mp.stratuslab.eu/slterms#" xml:base="http://mp.stratuslab.eu/">
  <rdf:Description rdf:about="#{identifier}">
    <dcterms:identifier>{identifier}</dcterms:identifier>
    <slreq:bytes>{image.stat().st_size}</slreq:bytes>
{checksums}    <slreq:endorsement rdf:parseType="Resource"><dcterms:created>{stamp(created)}</dcterms:created><slreq:endorser rdf:parseType="Resource"><slreq:email>{escape(email)}</slreq:email><slreq:subject>{escape(subject)}</slreq:subject><slreq:issuer>{escape(issuer)}</slreq:issuer></slreq:endorser></slreq:endorsement>
    <dcterms:type>machine</dcterms:type>
    <slterms:kind>machine</slterms:kind>
    <slterms:os>{os_name}</slterms:os>
    <slterms:os-version>{os_version}</slterms:os-version>
    <slterms:os-arch>{os_arch}</slterms:os-arch>
    <slterms:version>{escape(version)}</slterms:version>
    <slterms:hypervisor>kvm</slterms:hypervisor>
    <slterms:disks-bus>virtio</slterms:disks-bus>
    <dcterms:compression>{compression}</dcterms:compression>
{where}    <dcterms:format>{disk_format}</dcterms:format>
    <dcterms:created>{stamp(created)}</dcterms:created>
    <dcterms:valid>{stamp(valid or NOW + 365 * DAY)}</dcterms:valid>
    <dcterms:title>{escape(title)}</dcterms:title>
{extra}  </rdf:Description>
</rdf:RDF>
""".encode()


def signed_record(signer, image: Path, locations: Sequence[str], **kw) -> bytes:
    """``make_record`` endorsed by ``signer`` (a trustkit Identity) and signed by it."""
    import trustkit

    kw.setdefault("subject", signer.cert.subject.rfc4514_string())
    kw.setdefault("issuer", signer.cert.issuer.rfc4514_string())
    return trustkit.sign_record(make_record(image, locations, **kw), signer)


def image_list(signer, images: Sequence[Dict[str, object]], *, version: str = "20260101000000",
               identifier: str = "6b1e5f0e-2c1a-5d8e-9f00-0123456789ab",
               expires: Optional[dt.datetime] = None) -> bytes:
    """A HEPiX list JSON (unsigned) endorsed by ``signer``; each image dict gives at least
    ``path`` (the file as served), ``uri`` and ``id``; sizes and sha512 are of the file AS SERVED."""
    entries = []
    for img in images:
        path = Path(str(img["path"]))
        entry = {"dc:identifier": img["id"], "dc:title": img.get("title", f"test {img['id']}"),
                 "dc:description": "made by the glancing tests", "hv:uri": img["uri"],
                 "hv:size": img.get("size", path.stat().st_size),
                 "sl:checksum:sha512": img.get("sha512", digests(path)["sha512"]),
                 "hv:version": img.get("version", "1"), "hv:format": img.get("format", "qcow2"),
                 "sl:os": "Linux", "sl:osname": "Debian", "sl:osversion": "12", "sl:arch": "x86_64",
                 "hv:hypervisor": "QEMU,KVM"}
        if "expires" in img:
            entry["dc:date:expires"] = img["expires"]
        entries.append({"hv:image": entry})
    document = {"hv:imagelist": {
        "dc:date:created": stamp(NOW - DAY), "dc:date:expires": stamp(expires or NOW + 30 * DAY),
        "dc:identifier": identifier, "dc:title": "Glancing test list", "dc:description": "test",
        "dc:source": "example.org", "hv:uri": "https://lists.example.org/image.list", "hv:version": version,
        "hv:endorser": {"hv:x509": {"dc:creator": "Test", "hv:email": "endorser@example.org",
                                    "hv:dn": signer.subject_openssl, "hv:ca": signer.issuer_openssl}},
        "hv:images": entries}}
    return json.dumps(document, indent=2).encode() + b"\n"


_KEY = re.compile(rb"<dcterms:identifier>([^<]+)</dcterms:identifier>.*?<slreq:email>([^<]+)</slreq:email>"
                  rb".*?<dcterms:created>([^<]+)</dcterms:created>", re.S)
_DECL = re.compile(rb"^<\?xml[^>]*\?>\s*")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "MarketplaceServer"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        self.server.requests.append(path)
        status, ctype, body = self.server.answer(path)
        validators = self.server.validators(body) if status == 200 else {}
        if validators and self.server.not_modified(self.headers, validators):
            self.server.answered_304 += 1
            status, body = 304, b""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in validators.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class MarketplaceServer(ThreadingHTTPServer):
    """Serves published records under ``/metadata``; ``raw()`` serves any answer at a path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.records: Dict[str, List[Tuple[str, str, bytes]]] = {}
        self.raws: Dict[str, Tuple[int, str, bytes]] = {}
        self.requests: List[str] = []
        # HTTP validators (ETag, Last-Modified), as a real web server sends them; "none" sends
        # neither, "etag"/"last-modified" only that one.
        self.conditional = "both"
        self.answered_304 = 0
        self._lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/metadata"

    def publish(self, record: bytes) -> str:
        """Add a record (signed or not); returns its identifier."""
        found = _KEY.search(record)
        assert found, "record without identifier/email/created"
        identifier, email, created = (g.decode() for g in found.groups())
        with self._lock:
            self.records.setdefault(identifier, []).append((email, created, record))
        return identifier

    def raw(self, identifier: str, body: bytes, status: int = 200, ctype: str = "application/xml") -> None:
        """Answer ``GET <base>/<identifier>`` with exactly ``body``."""
        self.raws[f"/metadata/{identifier}"] = (status, ctype, body)

    def validators(self, body: bytes) -> Dict[str, str]:
        """The ETag (a digest of the body) and Last-Modified (fixed per body) of an answer."""
        found: Dict[str, str] = {}
        if self.conditional in ("both", "etag"):
            found["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.conditional in ("both", "last-modified"):
            seconds = int(hashlib.sha256(body).hexdigest()[:6], 16)  # moves when the body does
            found["Last-Modified"] = email.utils.formatdate(1700000000 + seconds, usegmt=True)
        return found

    def not_modified(self, headers: Any, validators: Dict[str, str]) -> bool:
        """Whether the request's If-None-Match / If-Modified-Since match this answer exactly."""
        if "ETag" in validators and headers.get("If-None-Match") is not None:
            return headers.get("If-None-Match") == validators["ETag"]
        if "Last-Modified" in validators and headers.get("If-Modified-Since") is not None:
            return headers.get("If-Modified-Since") == validators["Last-Modified"]
        return False

    def answer(self, path: str) -> Tuple[int, str, bytes]:
        if path in self.raws:
            return self.raws[path]
        parts = path.strip("/").split("/")
        if parts[0] != "metadata" or len(parts) not in (2, 4) or parts[1] not in self.records:
            return 404, "text/html", b"<html><body>no metadata matching query found</body></html>"
        entries = self.records[parts[1]]
        if len(parts) == 4:
            for email, created, record in entries:
                if (email, created) == (parts[2], parts[3]):
                    return 200, "application/xml", record
            return 404, "text/html", b"<html><body>not found</body></html>"
        inner = b"".join(_DECL.sub(b"", record) for _, _, record in entries)
        return 200, "application/xml", b"<metadata>" + inner + b"</metadata>"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def marketplace() -> Iterator[MarketplaceServer]:
    """A loopback marketplace, stopped after the test."""
    server = MarketplaceServer()
    yield server
    server.stop()
