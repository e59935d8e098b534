# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A loopback HTTP/1.1 file server for tests, with Range support and fault injection.

Serves one directory (GET, HEAD) with Content-Length, ETag, Last-Modified, `bytes=N-`,
`bytes=N-M` and `bytes=-N` ranges (206 + Content-Range, 416 when unsatisfiable) and If-Range.
Faults: drop the connection mid-body, fail with a status, delay, ignore Range, omit the length;
and the hostile ones a download must survive in bounded time: announce more bytes than exist and
close (every request, ranged ones too), stall at a byte offset, trickle, redirect anywhere, send
garbage chunked framing or a wrong Content-Range. Conditional GETs (If-None-Match,
If-Modified-Since) get 304; ``require_auth`` demands HTTP basic auth. ``tls=`` serves HTTPS with a given SSLContext.
"""

from __future__ import annotations

import base64
import email.utils
import re
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

CHUNK = 64 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class Faults:
    """Fault switches, shared with the handler threads (guarded by `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    drops: dict[str, list[int]] = field(default_factory=dict)  # path -> [nbytes, times left]
    fails: dict[str, list[int]] = field(default_factory=dict)  # path -> [status, times left]
    delay: float = 0.0
    ranges: bool = True
    no_length: dict[str, bool] = field(default_factory=dict)  # path -> chunked?
    lies: dict[str, int] = field(default_factory=dict)  # path -> bytes announced beyond the file
    stalls: dict[str, int] = field(default_factory=dict)  # path -> file offset where sending stops
    trickles: dict[str, float] = field(default_factory=dict)  # path -> seconds between bytes
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (status, Location)
    garbage_chunked: set[str] = field(default_factory=set)
    bad_ranges: set[str] = field(default_factory=set)  # 206 with a Content-Range of the wrong start
    auth: Optional[str] = None  # the Authorization header every request must carry (basic auth)
    stopping: threading.Event = field(default_factory=threading.Event)

    def take(self, table: dict[str, list[int]], path: str) -> Optional[int]:
        """The fault's value for `path` if it still has uses left (one use is consumed)."""
        with self.lock:
            entry = table.get(path)
            if not entry or entry[1] <= 0:
                return None
            entry[1] -= 1
            return entry[0]


def _norm(path: str) -> str:
    return "/" + urllib.parse.unquote(urllib.parse.urlsplit(path).path).lstrip("/")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "FaultyHTTPServer"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # the request list is the log; stderr noise would clutter pytest output

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        srv = self.server
        path = _norm(self.path)
        with srv.faults.lock:
            srv.requests.append((self.command, path, self.headers))
            delay = srv.faults.delay
        if delay:
            time.sleep(delay)
        if srv.faults.auth is not None and self.headers.get("Authorization") != srv.faults.auth:
            return self._simple(401, "authentication required\n", {"WWW-Authenticate": 'Basic realm="test"'})
        status = srv.faults.take(srv.faults.fails, path)
        if status is not None:
            return self._simple(status, f"injected failure {status}\n")
        with srv.faults.lock:
            redirect = srv.faults.redirects.get(path)
            garbage = path in srv.faults.garbage_chunked
            lie = srv.faults.lies.get(path, 0)
            chunked = srv.faults.no_length.get(path)
        if redirect is not None:
            return self._simple(redirect[0], "moved\n", {"Location": redirect[1]})
        if garbage:
            return self._garbage()
        file = srv.resolve(path)
        if file is None:
            return self._simple(404, "not found\n")
        st = file.stat()
        size = st.st_size + lie
        etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
        modified = email.utils.formatdate(st.st_mtime, usegmt=True)
        if self._not_modified(etag, st.st_mtime):
            return self._simple(304, "", {"ETag": etag, "Last-Modified": modified})
        start, end, code = self._range(size, etag, modified)
        if code == 416:
            return self._simple(416, "range not satisfiable\n", {"Content-Range": f"bytes */{size}"})
        self._file_headers(code, etag, modified, (start, end, size), chunked, path in srv.faults.bad_ranges)
        if body:
            drop = srv.faults.take(srv.faults.drops, path)
            if lie:  # the announced bytes beyond the file never come: close after the real ones
                drop = max(0, min(drop if drop is not None else end, st.st_size - start))
            self._body(file, start, min(end, st.st_size), drop, bool(chunked))

    def _not_modified(self, etag: str, mtime: float) -> bool:
        """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
        match = self.headers.get("If-None-Match")
        if match is not None:
            return etag in [m.strip() for m in match.split(",")] or match.strip() == "*"
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return int(mtime) <= email.utils.parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False

    def _file_headers(self, code: int, etag: str, modified: str, span: tuple[int, int, int],
                      chunked: Optional[bool], wrong_range: bool) -> None:
        start, end, size = span
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", modified)
        if self.server.faults.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range", "bytes 0-0/1" if wrong_range else f"bytes {start}-{end - 1}/{size}")
        if chunked is None:
            self.send_header("Content-Length", str(end - start))
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _range(self, size: int, etag: str, modified: str) -> tuple[int, int, int]:
        """(start, end exclusive, status) for this request: 200 whole, 206 part or 416."""
        header = self.headers.get("Range")
        if not header or not self.server.faults.ranges:
            return 0, size, 200
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range.strip() not in (etag, modified):
            return 0, size, 200
        m = _RANGE.match(header.strip())
        if not m or m.group(1) == m.group(2) == "":
            return 0, size, 200  # multi-range or malformed: RFC 9110 lets us ignore it
        first, last = m.group(1), m.group(2)
        if first == "":
            start, end = max(0, size - int(last)), size
        else:
            start = int(first)
            end = size if last == "" else min(size, int(last) + 1)
            if last != "" and int(last) < start:
                return 0, size, 200
        if start >= size or start >= end:
            return 0, 0, 416
        return start, end, 206

    def _body(self, file: Path, start: int, end: int, drop: Optional[int], chunked: bool) -> None:
        sent = 0
        path = _norm(self.path)
        with self.server.faults.lock:
            stall = self.server.faults.stalls.get(path)
            trickle = self.server.faults.trickles.get(path)
        with open(file, "rb") as fh:
            fh.seek(start)
            while start + sent < end:
                want = min(CHUNK, end - start - sent)
                if drop is not None:
                    want = min(want, drop - sent)
                    if want <= 0:
                        return self._cut()
                if stall is not None:
                    if start + sent >= stall:
                        return self._hold()
                    want = min(want, stall - start - sent)
                if trickle is not None:
                    want = 1
                    if self.server.faults.stopping.wait(trickle):
                        return self._cut()
                data = fh.read(want)
                if not data:
                    break
                try:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    return
                sent += len(data)
        if drop is not None and drop <= sent:
            return self._cut()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _hold(self) -> None:
        """Keep the connection open and silent until the server stops."""
        try:
            self.wfile.flush()
        except OSError:
            pass
        self.server.faults.stopping.wait(120)
        self._cut()

    def _garbage(self) -> None:
        """A chunked body whose framing is not hexadecimal: no client can make sense of it."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"zz-not-hex\r\nhello\r\n0\r\n\r\n")
        self.close_connection = True

    def _cut(self) -> None:
        """Close the connection mid-body, as a dying server or a broken link would."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _simple(self, status: int, text: str, headers: Optional[dict[str, str]] = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class FaultyHTTPServer(ThreadingHTTPServer):
    """Serves `root` on 127.0.0.1; see the module docstring for the switches."""

    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, tls: Optional[ssl.SSLContext] = None) -> None:
        self.root = Path(root).resolve()
        self.faults = Faults()
        self.requests: list[tuple[str, str, object]] = []
        super().__init__(("127.0.0.1", port), _Handler)
        self.scheme = "http"
        if tls is not None:
            # The handshake happens in the handler thread: a client refusing the certificate
            # must not stall the accept loop.
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
            self.scheme = "https"
        self._thread: Optional[threading.Thread] = None

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # refused handshakes and cut connections are what the faults are for

    def resolve(self, path: str) -> Optional[Path]:
        """The regular file under root that `path` names, or None (never escapes root)."""
        candidate = (self.root / path.lstrip("/")).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            return None
        return candidate if candidate.is_file() else None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str = "") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{urllib.parse.quote(path.lstrip('/'))}"

    def start(self) -> "FaultyHTTPServer":
        self._thread = threading.Thread(target=self.serve_forever, name=f"http-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.faults.stopping.set()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ---- fault injection ----
    def drop_after(self, path: str, nbytes: int, times: int = 1) -> None:
        """Close the connection after `nbytes` of the body of `path`, `times` times."""
        with self.faults.lock:
            self.faults.drops[_norm(path)] = [nbytes, times]

    def require_auth(self, user: str, password: str) -> None:
        """Answer 401 to every request without these basic-auth credentials."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        with self.faults.lock:
            self.faults.auth = f"Basic {token}"

    def fail(self, path: str, status: int, times: int = 1) -> None:
        """Answer `status` to the next `times` requests for `path`."""
        with self.faults.lock:
            self.faults.fails[_norm(path)] = [status, times]

    def delay(self, seconds: float) -> None:
        """Wait `seconds` before answering every request (0 turns it off)."""
        with self.faults.lock:
            self.faults.delay = seconds

    def no_range(self) -> None:
        """Ignore Range headers and stop advertising Accept-Ranges."""
        with self.faults.lock:
            self.faults.ranges = False

    def no_length(self, path: str, chunked: bool = True) -> None:
        """Serve `path` without Content-Length: chunked, or delimited by closing the connection."""
        with self.faults.lock:
            self.faults.no_length[_norm(path)] = chunked

    def lie_length(self, path: str, extra: int) -> None:
        """Announce `extra` bytes more than `path` has, on every request, and close after the real ones."""
        with self.faults.lock:
            self.faults.lies[_norm(path)] = extra

    def stall_at(self, path: str, offset: int) -> None:
        """Stop sending `path` at file `offset`, on every request, holding the connection open."""
        with self.faults.lock:
            self.faults.stalls[_norm(path)] = offset

    def trickle(self, path: str, interval: float) -> None:
        """Send the body of `path` one byte every `interval` seconds."""
        with self.faults.lock:
            self.faults.trickles[_norm(path)] = interval

    def redirect(self, path: str, target: str, status: int = 302) -> None:
        """Answer every request for `path` with a redirect to `target` (any scheme)."""
        with self.faults.lock:
            self.faults.redirects[_norm(path)] = (status, target)

    def garbage_chunks(self, path: str) -> None:
        """Answer `path` with broken chunked framing."""
        with self.faults.lock:
            self.faults.garbage_chunked.add(_norm(path))

    def bad_content_range(self, path: str) -> None:
        """Answer ranged requests for `path` with a Content-Range that starts at the wrong byte."""
        with self.faults.lock:
            self.faults.bad_ranges.add(_norm(path))
