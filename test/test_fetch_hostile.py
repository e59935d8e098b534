# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Redirects are checked hop by hop, and every fetcher fed a broken server or URL ends in a
GlancingError with a one-line message: never another exception (exit 70)."""

import os

import pytest

from glancing.errors import GlancingError, SourceError, UnsafeLocation, exit_code
from glancing.fetch import HttpSettings, new_session, open_first, open_location, read_small
from glancing.model import Location
import fetchkit

DATA = os.urandom(300_000)
QUICK = HttpSettings(connect_timeout=1, read_timeout=1, retries=1, backoff=0.01, max_pause=0.05,
                     stall_timeout=3, max_reconnects=2)


@pytest.fixture()
def server(tmp_path):
    with fetchkit.disk_server(tmp_path, DATA) as srv:
        yield srv


def download(url, settings=QUICK):
    return fetchkit.fetch(url, settings, allow_local=True)[1]


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1:9/disk.img", "gopher://x/y",
                                    "data:text/plain,hello"])
def test_a_redirect_out_of_http_is_a_refused_location(server, target):
    server.redirect("disk.img", target)
    for fetch in (download, lambda url: read_small(url, new_session(), QUICK, limit=1 << 20)):
        with pytest.raises(UnsafeLocation, match="redirected to a .* URL .* refused") as caught:
            fetch(server.url("disk.img"))
        assert exit_code(caught.value) == 5


def test_a_refused_redirect_moves_on_to_the_next_location(server):
    server.redirect("disk.img", "file:///etc/passwd")
    (server.root / "copy.img").write_bytes(DATA)
    stream = open_first([Location(server.url("disk.img")), Location(server.url("copy.img"))],
                        new_session(), QUICK, allow_local=False)
    assert b"".join(stream.chunks()) == DATA
    stream.close()


def test_a_relative_redirect_is_followed_and_resumes_through_it(server):
    server.redirect("latest.img", "/disk.img", status=307)
    server.drop_after("disk.img", 100_000)
    assert download(server.url("latest.img")) == DATA
    assert [r[1] for r in server.requests] == ["/latest.img", "/disk.img", "/latest.img", "/disk.img"]


def test_a_redirect_loop_ends(server):
    server.redirect("a", server.url("b"))
    server.redirect("b", server.url("a"))
    with pytest.raises(SourceError, match="more than 10 redirects"):
        download(server.url("a"))
    assert len(server.requests) == 11


def bad_servers(server):
    """(label, url) of servers that answer, but badly."""
    server.fail("500.img", 500, times=1000)
    server.garbage_chunks("garbage.img")
    (server.root / "ranged.img").write_bytes(DATA)
    server.drop_after("ranged.img", 1000, times=1000)
    server.bad_content_range("ranged.img")
    server.redirect("loop", server.url("loop"))
    server.redirect("nowhere", "http://[::1/x")
    server.redirect("300", "", status=300)
    (server.root / "liar.img").write_bytes(DATA)
    server.lie_length("liar.img", 10)
    return [server.url(p) for p in ("missing.img", "500.img", "garbage.img", "ranged.img", "loop", "nowhere",
                                    "300", "liar.img")]


BAD_URLS = ["http://127.0.0.1:9/x.img", "https://127.0.0.1:9/x.img", "ftp://127.0.0.1:9/x.img", "http:///x",
            "http://[::1/x", "http://127.0.0.1:99999/x", "http://127.0.0.1:0/x", "http:// 127.0.0.1/x",
            "gopher://127.0.0.1/x", "javascript:alert(1)", "file://otherhost/etc/passwd", "ftp:///x",
            "https://[fe80::1%25eth0]:1/x", "http://user@:1/x", "", "\x00"]


def test_every_fetcher_ends_broken_input_in_a_one_line_glancing_error(server):
    urls = bad_servers(server) + BAD_URLS
    fetchers = {
        "open_location": download,
        "read_small": lambda url: read_small(url, new_session(), QUICK, limit=1 << 20, allow_local=False),
        "open_first": lambda url: b"".join(open_first([Location(url)], new_session(), QUICK,
                                                      allow_local=False).chunks()),
    }
    for name, fetch in fetchers.items():
        for url in urls:
            try:
                fetch(url)
            except GlancingError as e:
                assert exit_code(e) in (3, 5) and str(e) and "\n" not in str(e), (name, url, str(e))
            else:
                pytest.fail(f"{name}({url!r}) did not fail")
