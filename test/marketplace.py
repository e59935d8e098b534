# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A loopback StratusLab marketplace, and records and HEPiX lists made for images the tests make.

The real records point at hosts that are gone, so the tests publish their own: ``make_record``
describes an image file the way an endorser would (digests and size of the UNCOMPRESSED image,
identifier = f(SHA-1)), ``trustkit.sign_record`` signs it, and ``MarketplaceServer`` serves it
by the routes of formats.md 1.5:

    GET <base>                         <metadata> wrapping every matching record
    GET <base>/<a>[/<b>]               the same, each argument an e-mail, a date (created) or an ID
    GET <base>/<ID>/<email>/<created>  that one record, bare rdf:RDF
    GET <root>/tag/<email>/<tag>       the endorser's latest non-deprecated record tagged so
                                       (dcterms:alternative); also <base>/<email>?tag=<tag>
    POST <base>                        upload a signed record (application/xml or rdf+xml): 201 with
                                       Location <base>/<ID>/<email>/<created>

Listings take ``?status=valid|expired|deprecated`` (anything else: all) and ``?identifier=``,
``?email=``, ``?created=``. Two choices of the real server are switches, because the consumer tests
need the other behaviour: ``latest_only`` (the real one lists only each endorser's latest record of
an ID; the default lists every record published, so a test can publish an endorser's history) and
``default_status`` (the real one hides deprecated and expired records unless ``?status=`` says
otherwise; the default "all" shows them, so that the consumer's refusal can be seen).

An upload is checked as the real marketplace checks it: ``xmlsec1 --verify`` with the signer
certificate of KeyInfo, the signer's subject and issuer equal to slreq:subject and slreq:issuer,
and not older than the endorser's latest record of that ID. ``upload_mode`` makes it answer 202
(e-mail confirmation needed: stored but not published), 403 (a read-only replica) or 500.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import json
import re
import subprocess
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape

import pytest
from cryptography import x509
from lxml import etree

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
_EMAIL = re.compile(r"^[^@/]+@[^@/]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "dc": "http://purl.org/dc/terms/",
       "slreq": "http://mp.stratuslab.eu/slreq#", "slterms": "http://mp.stratuslab.eu/slterms#",
       "ds": "http://www.w3.org/2000/09/xmldsig#"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


def _root(record: bytes) -> Optional[etree._Element]:
    try:
        return etree.fromstring(record, _PARSER)
    except etree.XMLSyntaxError:
        return None


def _record_key(record: bytes) -> Optional[Tuple[str, str, str]]:
    """(identifier, endorser e-mail, endorsement date) read by namespace, None if unreadable."""
    root = _root(record)
    if root is None:
        return None
    values = [root.xpath(f"string({path})", namespaces=_NS).strip() for path in (
        "rdf:Description/dc:identifier", "rdf:Description/slreq:endorsement/slreq:endorser/slreq:email",
        "rdf:Description/slreq:endorsement/dc:created")]
    return (values[0], values[1], values[2]) if all(values) else None


def _status(record: bytes, now: dt.datetime) -> str:
    """'deprecated', 'expired' or 'valid', as the marketplace's status filter sees a record."""
    root = _root(record)
    if root is None:
        return "valid"
    if root.find("rdf:Description/slterms:deprecated", _NS) is not None:
        return "deprecated"
    valid = root.findtext("rdf:Description/dc:valid", namespaces=_NS) or ""
    return "expired" if _DATE.match(valid.strip()) and valid.strip() <= stamp(now) else "valid"


def upload_problem(record: bytes) -> Optional[str]:
    """Why the marketplace would refuse this upload (formats.md 1.4), None if it accepts it."""
    root = _root(record)
    if root is None or _record_key(record) is None:
        return "not a record with identifier, endorser e-mail and endorsement date"
    if root.xpath("string(ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm)", namespaces=_NS) != RSA_SHA1:
        return "cannot find validation key"  # what the Java validator says of anything but rsa-sha1
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(record)
        f.flush()
        done = subprocess.run(["xmlsec1", "--verify", "--enabled-key-data", "x509", "--insecure", f.name],
                              capture_output=True, text=True)
    if done.returncode != 0:
        return "invalid signature"
    der = "".join(root.findtext("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=_NS).split())
    cert = x509.load_der_x509_certificate(base64.b64decode(der))
    endorser = "rdf:Description/slreq:endorsement/slreq:endorser/slreq:"
    for name, value in (("subject", cert.subject), ("issuer", cert.issuer)):
        if root.findtext(endorser + name, namespaces=_NS).strip() != value.rfc4514_string():
            return f"slreq:{name} is not the signer's {name}"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "MarketplaceServer"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _send(self, status: int, ctype: str, body: bytes, headers: Dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        self.server.requests.append(path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query).items()}
        status, ctype, body = self.server.answer(path, query)
        validators = self.server.validators(body) if status == 200 else {}
        if validators and self.server.not_modified(self.headers, validators):
            self.server.answered_304 += 1
            status, body = 304, b""
        self._send(status, ctype, body, validators)

    def do_POST(self) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, text = self.server.receive(path, self.headers.get("Content-Type", ""), body)
        self._send(status, "text/html", f"<html><body>{escape(text)}</body></html>".encode(), headers)


class MarketplaceServer(ThreadingHTTPServer):
    """Serves published records under ``/metadata``; ``raw()`` serves any answer at a path."""

    daemon_threads = True

    def __init__(self, latest_only: bool = False, default_status: str = "all") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.records: Dict[str, List[Tuple[str, str, bytes]]] = {}
        self.raws: Dict[str, Tuple[int, str, bytes]] = {}
        self.requests: List[str] = []
        self.latest_only, self.default_status = latest_only, default_status
        self.upload_mode = "created"  # or "pending" (202), "readonly" (403), "error" (500)
        self.uploads: List[Tuple[int, bytes]] = []  # (status answered, body) of every POST
        self.pending: List[bytes] = []  # accepted with 202, waiting for a confirmation
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
        key = _record_key(record)
        if key is None:
            found = _KEY.search(record)
            assert found, "record without identifier/email/created"
            key = tuple(g.decode() for g in found.groups())
        identifier, email, created = key
        with self._lock:
            self.records.setdefault(identifier, []).append((email, created, record))
        return identifier

    def receive(self, path: str, ctype: str, body: bytes) -> Tuple[int, Dict[str, str], str]:
        """Answer an upload: (status, headers, message)."""
        answer = self._receive(path, ctype, body)
        self.uploads.append((answer[0], body))
        return answer

    def _receive(self, path: str, ctype: str, body: bytes) -> Tuple[int, Dict[str, str], str]:
        if path.rstrip("/") != "/metadata":
            return 404, {}, "not found"
        if self.upload_mode in ("readonly", "error"):
            return (403, {}, "read-only replica") if self.upload_mode == "readonly" else (500, {}, "internal error")
        if ctype.split(";")[0].strip() not in ("application/xml", "application/rdf+xml"):
            return 415, {}, f"unsupported media type {ctype}"
        problem = upload_problem(body)
        if problem:
            return 400, {}, problem
        identifier, email, created = _record_key(body)
        with self._lock:
            if any(e == email and c >= created for e, c, _ in self.records.get(identifier, [])):
                return 400, {}, f"a record of {identifier} by {email} is not older than {created}"
            if self.upload_mode == "pending":
                self.pending.append(body)
                return 202, {}, "confirmation e-mail sent"
            self.records.setdefault(identifier, []).append((email, created, body))
        return 201, {"Location": f"{self.base}/{identifier}/{email}/{created}"}, "created"

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

    def listing(self, args: Sequence[str], query: Dict[str, str]) -> List[Tuple[str, str, str, bytes]]:
        """(identifier, email, created, record) matching the path arguments and query, in order."""
        wanted = {k: query[k] for k in ("identifier", "email", "created") if k in query}
        for arg in args:
            wanted["email" if _EMAIL.match(arg) else "created" if _DATE.match(arg) else "identifier"] = arg
        found = [(i, e, c, r) for i, entries in self.records.items() for e, c, r in entries
                 if all(v == {"identifier": i, "email": e, "created": c}[k] for k, v in wanted.items())]
        if self.latest_only and "created" not in wanted:
            latest = {}
            for entry in found:
                if entry[:2] not in latest or entry[2] > latest[entry[:2]][2]:
                    latest[entry[:2]] = entry
            found = [entry for entry in found if latest[entry[:2]] is entry]
        status = query.get("status", self.default_status)
        if status in ("valid", "expired", "deprecated"):
            found = [entry for entry in found if _status(entry[3], dt.datetime.now(dt.timezone.utc)) == status]
        return found

    def tagged(self, email: str, tag: str) -> Tuple[int, str, bytes]:
        """Among the endorser's latest record of each ID: the newest undeprecated one with the tag."""
        latest = [max((c, r) for e, c, r in entries if e == email) for entries in self.records.values()
                  if any(e == email for e, _, _ in entries)]
        found = [(c, r) for c, r in latest if _status(r, dt.datetime.now(dt.timezone.utc)) != "deprecated"
                 and _root(r).findtext("rdf:Description/dc:alternative", namespaces=_NS) == tag]
        if not found:
            return 404, "text/html", b"<html><body>no metadata matching query found</body></html>"
        return 200, "application/xml", max(found)[1]

    def answer(self, path: str, query: Optional[Dict[str, str]] = None) -> Tuple[int, str, bytes]:
        if path in self.raws:
            return self.raws[path]
        parts = path.strip("/").split("/")
        if parts[0] == "tag" and len(parts) == 3:
            return self.tagged(parts[1], parts[2])
        if len(parts) == 2 and "tag" in (query or {}):
            return self.tagged(parts[1], (query or {})["tag"])
        if parts[0] != "metadata" or len(parts) > 4:
            return 404, "text/html", b"<html><body>no metadata matching query found</body></html>"
        if len(parts) == 4:
            for email, created, record in self.records.get(parts[1], []):
                if (email, created) == (parts[2], parts[3]):
                    return 200, "application/xml", record
            return 404, "text/html", b"<html><body>not found</body></html>"
        found = self.listing([p for p in parts[1:] if p], query or {})
        if not found:
            return 404, "text/html", b"<html><body>no metadata matching query found</body></html>"
        inner = b"".join(_DECL.sub(b"", record) for _, _, _, record in found)
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
