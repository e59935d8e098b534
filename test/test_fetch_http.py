# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The HTTP fetcher against a real loopback server: resume with Range, retries, refusals."""

import hashlib
import os

import pytest

from glancing.errors import SourceError, UnsafeLocation, UsageError
from glancing.fetch import HttpSettings, new_session, open_first, read_small
from glancing.model import Location
import fetchkit

DATA = os.urandom(5 * 1024 * 1024 + 123)
FAST = HttpSettings(connect_timeout=2, read_timeout=5, retries=3, backoff=0.01)


@pytest.fixture()
def server(tmp_path):
    with fetchkit.disk_server(tmp_path, DATA) as srv:
        yield srv


def fetch(url, settings=FAST):
    return fetchkit.fetch(url, settings)


gets = fetchkit.gets


def test_plain_download_knows_its_size(server):
    stream, body = fetch(server.url("disk.img"))
    assert body == DATA and stream.size == len(DATA) and stream.name == "disk.img"


def test_dropped_connection_resumes_with_range_not_from_zero(server):
    server.drop_after("disk.img", 1_500_000, times=2)
    _, body = fetch(server.url("disk.img"))
    assert hashlib.sha256(body).digest() == hashlib.sha256(DATA).digest()
    ranges = [dict(r[2]).get("Range") for r in gets(server)]
    assert ranges[0] is None and len(ranges) == 3
    assert all(r and r.startswith("bytes=") and not r.startswith("bytes=0-") for r in ranges[1:])


def test_resume_without_range_support_skips_what_was_read(server):
    server.no_range()
    server.drop_after("disk.img", 2_000_000)
    _, body = fetch(server.url("disk.img"))
    assert body == DATA


def test_transient_errors_are_retried(server):
    server.fail("disk.img", 503, times=2)
    _, body = fetch(server.url("disk.img"))
    assert body == DATA and len(gets(server)) == 3


def test_not_found_is_not_retried(server):
    with pytest.raises(SourceError, match="HTTP 404"):
        fetch(server.url("missing.img"))
    assert len(gets(server)) == 1


def test_retries_are_bounded(server):
    server.fail("disk.img", 500, times=100)
    with pytest.raises(SourceError, match="gave up after 4 attempts"):
        fetch(server.url("disk.img"))


def test_dead_server_is_a_source_error():
    with pytest.raises(SourceError, match="refused"):
        fetch("http://127.0.0.1:9/disk.img", HttpSettings(connect_timeout=1, retries=1, backoff=0.01))


def test_unknown_length_streams_to_the_end(server):
    server.no_length("disk.img")
    stream, body = fetch(server.url("disk.img"))
    assert stream.size is None and body == DATA


def test_first_location_dead_moves_to_the_next(server):
    locations = [Location("http://127.0.0.1:9/x.img"), Location(server.url("disk.img"))]
    stream = open_first(locations, new_session(), HttpSettings(connect_timeout=1, retries=0), allow_local=False)
    assert b"".join(stream.chunks()) == DATA
    stream.close()


def test_remote_records_may_not_read_local_files(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("x")
    for url in (str(secret), f"file://{secret}"):
        with pytest.raises(UnsafeLocation):
            open_first([Location(url)], new_session(), FAST, allow_local=False)
    with pytest.raises(UnsafeLocation):
        open_first([Location("gopher://x/y")], new_session(), FAST, allow_local=True)


def test_read_small_caps_the_size(server):
    with pytest.raises(SourceError, match="larger than"):
        read_small(server.url("disk.img"), new_session(), FAST, limit=1000)


def test_retries_follow_the_injected_policy_without_waiting(server):
    pauses = []
    settings = HttpSettings(connect_timeout=2, read_timeout=5, retries=3, backoff=4, max_pause=8,
                            sleep=pauses.append)
    server.fail("disk.img", 503, times=3)
    _, body = fetch(server.url("disk.img"), settings)
    assert body == DATA and len(pauses) == 3
    assert 2 <= pauses[0] <= 6 and all(p <= 12 for p in pauses)  # 4 s doubling, capped at 8, +-50% jitter


def test_ftp_opening_is_retried_by_the_same_policy():
    pauses = []
    settings = HttpSettings(connect_timeout=1, retries=2, backoff=1, sleep=pauses.append)
    with pytest.raises(SourceError, match="refused"):
        fetch("ftp://127.0.0.1:9/disk.img", settings)
    assert len(pauses) == 2


def test_constructing_a_stream_does_no_io():
    from glancing.fetch.http import HttpStream

    stream = HttpStream("http://127.0.0.1:9/never.img", new_session())
    assert stream.size is None and stream.name == "never.img"
    stream.close()


@pytest.mark.parametrize("bad", [{"read_timeout": 0}, {"connect_timeout": -1}, {"retries": -1},
                                 {"min_speed": float("nan")}, {"stall_timeout": -5}])
def test_bad_settings_are_a_one_line_usage_error(bad):
    with pytest.raises(UsageError, match=r"\[fetch\] "):
        HttpSettings(**bad)
