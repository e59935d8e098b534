# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A stateful OpenNebula 5 XML-RPC front-end on loopback, for the OpenNebula target's tests.

No oned can be installed on these machines, so this stands in for one: ``world`` keeps the
images and their states, ``methods`` answers the calls, ``wire`` writes the answers in the exact
shapes of the recorded traffic in test/fixtures/opennebula/ (test_one_sim.py replays every
recording against it). Knobs for tests: ``world.lock_polls``, ``world.fail_next``,
``world.never_ready``, ``world.attach_vm(id)``.
"""

from __future__ import annotations

import threading
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

from onesim.methods import dispatch
from onesim.world import World

__all__ = ["OneSim", "World"]


class _Handler(BaseHTTPRequestHandler):
    server_version = "Xmlrpc-c_Abyss/1.40.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            params, method = xmlrpc.client.loads(body)
            answer = dispatch(self.server.world, method or "", params)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - a malformed call is the client's fault: a 400, not a crash
            self.send_error(400, f"bad XML-RPC call: {e}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        return


class OneSim:
    """``OneSim(root).start()``: serves ``url`` until ``stop()``; ``root`` holds the datastores."""

    def __init__(self, root: str, world: Optional[World] = None) -> None:
        self.world = world or World(root)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.world = self.world  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="onesim", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/RPC2"

    def start(self) -> "OneSim":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
