# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A loopback FTP server for tests: anonymous, passive mode, RETR of one directory's files.

Just enough of RFC 959 for urllib's ftp:// client (USER, PASS, TYPE, CWD, PASV, RETR, QUIT),
with the faults a download must survive: stall at a byte offset, trickle one byte at a time.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from pathlib import Path
from typing import Optional


class _Control(socketserver.StreamRequestHandler):
    server: "LoopbackFTPServer"

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._data: Optional[socket.socket] = None
        self._reply("220 loopback ftp")
        for raw in self.rfile:
            verb, _, arg = raw.decode("latin-1").strip().partition(" ")
            verb = verb.upper()
            self.server.commands.append(f"{verb} {arg}".strip())
            if verb == "QUIT":
                return self._reply("221 bye")
            if verb == "RETR":
                self._retr(arg)
            elif verb == "PASV":
                self._pasv()
            elif verb == "CWD" and arg not in ("", ".", "/"):
                self._reply("550 no such directory")
            else:
                self._reply({"USER": "331 any password", "PASS": "230 in", "TYPE": "200 ok",
                             "CWD": "250 ok", "PWD": '257 "/"'}.get(verb, "502 not implemented"))

    def _pasv(self) -> None:
        self._data = socket.socket()
        self._data.bind(("127.0.0.1", 0))
        self._data.listen(1)
        port = self._data.getsockname()[1]
        self._reply(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")

    def _retr(self, name: str) -> None:
        path = self.server.root / name.lstrip("/")
        if self._data is None or not path.is_file():
            return self._reply("550 no such file")
        data = path.read_bytes()
        self._reply(f"150 Opening BINARY mode data connection for {name} ({len(data)} bytes)")
        conn, _ = self._data.accept()
        self._data.close()
        self._data = None
        with conn:
            self._send(conn, data)
        self._reply("226 done")

    def _send(self, conn: socket.socket, data: bytes) -> None:
        srv = self.server
        for offset in range(0, len(data), 1 if srv.trickle else 65536):
            if srv.stall is not None and offset >= srv.stall:
                srv.stopping.wait(60)
                return
            if srv.trickle and srv.stopping.wait(srv.trickle):
                return
            try:
                conn.sendall(data[offset:offset + (1 if srv.trickle else 65536)])
            except OSError:
                return


class LoopbackFTPServer(socketserver.ThreadingTCPServer):
    """Serves `root` on 127.0.0.1; `stall` (byte offset) and `trickle` (seconds a byte) are faults."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Control)
        self.root = Path(root)
        self.commands: list[str] = []
        self.stall: Optional[int] = None
        self.trickle: float = 0.0
        self.stopping = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"ftp://127.0.0.1:{self.server_address[1]}/{name}"

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
