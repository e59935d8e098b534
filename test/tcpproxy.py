# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A loopback TCP proxy that can cut a connection mid-request: Glance failing during an upload."""

from __future__ import annotations

import socket
import threading
from typing import Optional


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``cut_uploads_after(n)`` kills the next connection
    whose client-to-server bytes pass ``n`` (the request body of an upload)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._cut_after: Optional[int] = None
        self.cuts = 0
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_uploads_after(self, nbytes: int) -> None:
        with self._lock:
            self._cut_after = nbytes

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, upward: bool) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                sent += len(data)
                if upward:
                    with self._lock:
                        limit = self._cut_after
                        if limit is not None and sent > limit:
                            self._cut_after = None
                            self.cuts += 1
                            raise ConnectionAbortedError
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()
