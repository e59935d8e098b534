# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The marketplace probe: any HTTP answer is up, no connection is down (loopback only)."""

from __future__ import annotations

import socket

import pytest

from glancing.errors import SourceError
from glancing.manager.preflight import check_reachable
from glancing.retry import RetryPolicy


def test_any_http_answer_counts_as_reachable(http_server, tmp_path):
    server = http_server(tmp_path)
    check_reachable(server.url("metadata"))  # 404: the server is there
    assert [r[1] for r in server.requests] == ["/metadata"]


def test_nothing_listening_is_unreachable_after_the_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pauses = []
    with pytest.raises(SourceError, match="cannot be reached.*nothing was done"):
        check_reachable(f"http://127.0.0.1:{port}/metadata",
                        retry=RetryPolicy(retries=2, backoff=0.5, jitter=False, sleep=pauses.append))
    assert pauses == [0.5, 1.0]
