# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Helpers shared by the glance_manager tests: plain-data builders for the unit tests, and for
the lab tests and bench/manager.py a request-counting Glance proxy and a fleet of managed images."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import io
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Tuple

from glancing.manager.images import ManagedImage, from_glance

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def mpid(seed: str) -> str:
    """A valid marketplace ID: the 27-digit base64url encoding of SHA-1(seed) (formats.md 1.3)."""
    number = int(hashlib.sha1(seed.encode()).hexdigest(), 16)
    digits = []
    for _ in range(27):
        number, digit = divmod(number, 64)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def when(day: int, hour: int = 0) -> dt.datetime:
    """2024-01-<day> <hour>:00 UTC."""
    return dt.datetime(2024, 1, day, hour, tzinfo=dt.timezone.utc)


def glance_dict(image_id: str, name: str, **extra: Any) -> Dict[str, Any]:
    """A Glance v2 image dict as glanceclient returns it, managed by glancing."""
    image: Dict[str, Any] = {
        "id": image_id, "name": name, "status": "active", "os_hidden": False,
        "tags": ["glancing"], "checksum": None, "os_hash_algo": "sha512", "os_hash_value": None,
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "size": 1024, "visibility": "private", "disk_format": "qcow2", "container_format": "bare",
    }
    image.update(extra)
    return image


def image(image_id: str, name: str, **extra: Any) -> ManagedImage:
    """A ManagedImage built through from_glance, like the store will build it."""
    return from_glance(glance_dict(image_id, name, **extra))


def backup(image_id: str, title: str, version: str, day: int, **extra: Any) -> ManagedImage:
    """A retired image of appliance ``title``, renamed ``title (version)``, hidden and tagged."""
    fields: Dict[str, Any] = {
        "tags": ["glancing", "glancing-backup"], "os_hidden": True, "version": version,
        "created_at": when(day).strftime("%Y-%m-%dT%H:%M:%SZ"), "glancing_replaced_by": "someone",
    }
    fields.update(extra)
    return image(image_id, f"{title} ({version})", **fields)


# ---- against the real Glance: a request-counting proxy and a fleet of managed images ----

class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "CountingProxy"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _forward(self) -> None:
        srv = self.server
        with srv.lock:
            srv.requests.append((self.command, self.path))
            refuse = self.command == "DELETE" and srv.fail_deletes > 0
            if refuse:
                srv.fail_deletes -= 1
        if refuse:  # a Glance still finishing an aborted upload answers like this
            self.send_error(500, "injected: the first DELETEs fail")
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # Only no-op runs go through this proxy: an upload here is itself a failure.
            self.send_error(501, "the counting proxy does not forward chunked uploads")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn = http.client.HTTPConnection(srv.target[0], srv.target[1], timeout=120)
        try:
            conn.request(self.command, self.path, body, headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


class CountingProxy(ThreadingHTTPServer):
    """A loopback HTTP proxy in front of Glance that records every request (method, path).

    Point a command at it with OS_IMAGE_ENDPOINT_OVERRIDE=<proxy.url>; Keystone is not proxied.
    ``fail_deletes``: that many DELETEs are answered 500 without reaching Glance.
    """

    daemon_threads = True

    def __init__(self, target_url: str) -> None:
        parts = urllib.parse.urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.requests: List[Tuple[str, str]] = []
        self.lock = threading.Lock()
        self.fail_deletes = 0
        super().__init__(("127.0.0.1", 0), _CountingHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def build_fleet(glance: Any, marketplace: Any, signer: Any, workdir: Path, count: int, prefix: str) -> List[str]:
    """``count`` appliances already imported the way glance_manager leaves them, built directly
    with glanceclient (tiny distinct raw images, tag glancing, mpid/version/appliance properties),
    and their signed records published on ``marketplace``. Returns the marketplace IDs in order.
    """
    from marketplace import signed_record  # test module: only the Glance tests and bench need it

    workdir.mkdir(parents=True, exist_ok=True)
    made: List[Tuple[str, str, Path]] = []
    for n in range(count):
        title = f"{prefix} {n:04d}"
        path = workdir / f"fleet-{n:04d}.img"
        path.write_bytes(hashlib.sha512(f"{prefix}/{n}".encode()).digest() * 64)  # 4 KiB, distinct
        record = signed_record(signer, path, [f"http://127.0.0.1:9/{path.name}"], title=title,
                               version="1", disk_format="raw")
        made.append((title, marketplace.publish(record), path))

    for title, ident, path in made:
        # One at a time, each step retried: the lab's SQLite Glance answers 500 to colliding writes.
        image = _patiently(lambda: glance.images.create(
            name=title, disk_format="raw", container_format="bare", visibility="private", tags=["glancing"],
            mpid=ident, version="1", glancing_appliance=title))
        _patiently(lambda: glance.images.upload(image["id"], io.BytesIO(path.read_bytes()),
                                                image_size=path.stat().st_size))
    return [ident for _, ident, _ in made]


def _patiently(call: Any, attempts: int = 6) -> Any:
    from glanceclient import exc

    for attempt in range(attempts):
        try:
            return call()
        except exc.HTTPInternalServerError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
