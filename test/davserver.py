# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A loopback server that takes uploads: HTTP PUT, and WebDAV MOVE and DELETE (the subset a
publisher uses), on top of FaultyHTTPServer's GET. ``webdav=False`` answers MOVE with 405 like a
plain PUT server; ``refuse_put(path_part, status)`` fails PUTs whose path contains
``path_part``; ``cut_puts_after(n)`` closes every PUT after ``n`` body bytes, leaving what
arrived on disk (a half-written file), as a crashed upload would."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any, Optional, Tuple

from httpserver import FaultyHTTPServer


def _receive(rfile: Any, target: Path, length: int) -> None:
    """Write ``length`` body bytes to ``target`` as they arrive (a cut leaves a partial file)."""
    with open(target, "wb") as out:
        while length:
            chunk = rfile.read(min(length, 65536))
            if not chunk:
                break
            out.write(chunk)
            length -= len(chunk)


def _dav_handler(base: Any) -> Any:
    class DavHandler(base):  # type: ignore[misc, valid-type]
        def _target(self, raw: str) -> Optional[Path]:
            path = urllib.parse.unquote(urllib.parse.urlsplit(raw).path)
            candidate = (self.server.root / path.lstrip("/")).resolve()
            if self.server.root not in candidate.parents:
                return None
            return candidate

        def do_PUT(self) -> None:
            srv = self.server
            srv.requests.append(("PUT", urllib.parse.urlsplit(self.path).path, self.headers))
            length = int(self.headers.get("Content-Length") or 0)
            refused = next((s for part, s in srv.put_refusals if part in self.path), None)
            target = self._target(self.path)
            if refused is not None or target is None or not target.parent.is_dir():
                self.rfile.read(length)
                return self._simple(refused or 409, "refused\n")
            _receive(self.rfile, target, length if srv.cut_after is None else min(length, srv.cut_after))
            if srv.cut_after is not None and length > srv.cut_after:
                self.close_connection = True
                self.connection.close()
                return
            self._simple(201, "created\n")

        def do_MOVE(self) -> None:
            srv = self.server
            srv.requests.append(("MOVE", urllib.parse.urlsplit(self.path).path, self.headers))
            if not srv.webdav:
                return self._simple(405, "method not allowed\n", {"Allow": "GET, HEAD, PUT"})
            source, dest = self._target(self.path), self._target(self.headers.get("Destination", ""))
            if source is None or dest is None or not source.is_file():
                return self._simple(404 if source is None or not source.exists() else 409, "no\n")
            existed = dest.exists()
            if existed and self.headers.get("Overwrite", "T") == "F":
                return self._simple(412, "exists\n")
            os.replace(source, dest)
            self._simple(204 if existed else 201, "moved\n")

        def do_DELETE(self) -> None:
            srv = self.server
            srv.requests.append(("DELETE", urllib.parse.urlsplit(self.path).path, self.headers))
            target = self._target(self.path)
            if target is None or not target.is_file():
                return self._simple(404, "not found\n")
            target.unlink()
            self._simple(204, "")

    return DavHandler


class DavServer(FaultyHTTPServer):
    """FaultyHTTPServer that also takes PUT, MOVE and DELETE under its root."""

    def __init__(self, root: Path, port: int = 0, webdav: bool = True) -> None:
        super().__init__(root, port)
        self.RequestHandlerClass = _dav_handler(self.RequestHandlerClass)
        self.webdav = webdav
        self.put_refusals: list[Tuple[str, int]] = []
        self.cut_after: Optional[int] = None

    def refuse_put(self, path_part: str, status: int = 507) -> None:
        self.put_refusals.append((path_part, status))

    def cut_puts_after(self, nbytes: Optional[int]) -> None:
        self.cut_after = nbytes

    def methods(self) -> list:
        return [(method, path) for method, path, _ in self.requests]
