# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Every download ends in bounded time, whatever a server that answers each request does.

Real loopback servers (test/httpserver.py) lie about the length and close, stall mid-body,
trickle; the bounds are set small so each case ends in a few seconds, and the number of
requests the fetcher sent is asserted too (today's bug was hundreds of reconnects a second).
"""

import os
import time
from dataclasses import replace

import pytest

from glancing.errors import SourceError
from glancing.fetch import HttpSettings, new_session, open_first
from glancing.fetch.bounds import Bounds, Watchdog
from glancing.model import Location
import fetchkit

DATA = os.urandom(3 * 1024 * 1024 + 77)
TIGHT = HttpSettings(connect_timeout=1, read_timeout=0.5, retries=2, backoff=0.05, max_pause=0.2,
                     stall_timeout=2, min_speed=1024, max_reconnects=4)


@pytest.fixture()
def server(tmp_path):
    with fetchkit.disk_server(tmp_path, DATA) as srv:
        yield srv


gets = fetchkit.gets


def download(url, settings=TIGHT):
    return fetchkit.fetch(url, settings, allow_local=False)[1]


def timed_failure(url, match, settings=TIGHT):
    start = time.monotonic()
    with pytest.raises(SourceError, match=match) as caught:
        download(url, settings)
    elapsed = time.monotonic() - start
    assert "\n" not in str(caught.value)
    return elapsed


def test_a_length_that_lies_on_every_request_ends_at_the_reconnect_cap(server):
    server.lie_length("disk.img", 1000)
    elapsed = timed_failure(server.url("disk.img"), r"reconnects in a row brought no byte.*max_reconnects")
    assert elapsed < 5
    # the first request, one reconnect that made progress... then max_reconnects idle ones
    assert len(gets(server)) <= TIGHT.max_reconnects + 2
    assert all(dict(r[2]).get("Range") == f"bytes={len(DATA)}-" for r in gets(server)[1:])


def test_a_length_that_lies_ends_at_the_stall_timeout_when_the_cap_is_high(server):
    server.lie_length("disk.img", 1000)
    settings = HttpSettings(connect_timeout=1, read_timeout=0.5, retries=2, backoff=0.2, max_pause=0.3,
                            stall_timeout=1.5, max_reconnects=1000)
    elapsed = timed_failure(server.url("disk.img"), r"stalled: no progress for 1.5 s \(\[fetch\] stall_timeout\)",
                            settings)
    assert elapsed < 4 and len(gets(server)) <= 20


def test_a_server_stalling_mid_body_on_every_resume_is_given_up(server):
    server.stall_at("disk.img", 1_000_000)
    elapsed = timed_failure(server.url("disk.img"), r"stall_timeout|max_reconnects")
    assert elapsed < 5 and len(gets(server)) <= 8


def test_a_trickling_server_is_too_slow(server):
    server.trickle("disk.img", 0.5)
    # each byte comes well within read_timeout: only the average speed can tell
    elapsed = timed_failure(server.url("disk.img"), r"too slow: \d bytes/s over 2 s, below 1024 bytes/s "
                                                    r"\(\[fetch\] min_speed\)", replace(TIGHT, read_timeout=3))
    assert elapsed < 5 and len(gets(server)) == 1


def test_a_stall_before_the_first_byte_moves_on_to_the_next_location(server, tmp_path):
    server.stall_at("disk.img", 0)
    with fetchkit.disk_server(tmp_path / "mirror", DATA) as mirror:
        stream = open_first([Location(server.url("disk.img")), Location(mirror.url("disk.img"))],
                            new_session(), TIGHT, allow_local=False)
        assert b"".join(stream.chunks()) == DATA
        stream.close()
        assert len(gets(mirror)) == 1


def test_a_stall_after_bytes_were_handed_out_is_final(server, tmp_path):
    server.stall_at("disk.img", 2_000_000)
    with fetchkit.disk_server(tmp_path / "mirror", DATA) as mirror:
        stream = open_first([Location(server.url("disk.img")), Location(mirror.url("disk.img"))],
                            new_session(), TIGHT, allow_local=False)
        got = bytearray()
        with pytest.raises(SourceError, match="stall_timeout|max_reconnects"):
            for chunk in stream.chunks():
                got += chunk
        stream.close()
        # the hashers saw the first bytes: a mirror's bytes may not continue them unverified
        assert bytes(got) == DATA[:len(got)] and len(got) >= 1_000_000 and gets(mirror) == []


def test_healthy_drops_still_resume_under_the_bounds(server):
    server.drop_after("disk.img", 700_000, times=3)
    assert download(server.url("disk.img")) == DATA
    assert len(gets(server)) == 4


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_watchdog_names_each_bound():
    clock = FakeClock()
    dog = Watchdog("u", Bounds(stall_timeout=10, min_speed=1000, max_reconnects=2), clock)
    clock.now += 9
    dog.advance(5000)  # 5000 bytes in 9 s: the window is not over yet
    clock.now += 2
    with pytest.raises(SourceError, match=r"too slow: 455 bytes/s over 11 s, below 1000 bytes/s"):
        dog.advance(0)
    dog = Watchdog("u", Bounds(stall_timeout=10, min_speed=1000), clock)
    clock.now += 10
    dog.advance(20_000)  # 2000 bytes/s over the first window: a new window starts
    clock.now += 9
    dog.advance(1)
    dog = Watchdog("u", Bounds(stall_timeout=10, min_speed=0, max_reconnects=2), clock)
    clock.now += 10
    with pytest.raises(SourceError, match="stalled: no progress for 10 s"):
        dog.advance(0)


def test_watchdog_counts_reconnects_without_progress_only():
    clock = FakeClock()
    dog = Watchdog("u", Bounds(stall_timeout=0, max_reconnects=2), clock)
    assert [dog.reconnecting(), dog.reconnecting()] == [1, 2]
    dog.advance(1)
    assert dog.reconnecting() == 0
    dog.reconnecting()
    dog.reconnecting()
    with pytest.raises(SourceError, match="3 reconnects in a row"):
        dog.reconnecting()


def test_watchdog_refuses_to_sleep_into_a_stall():
    clock = FakeClock()
    dog = Watchdog("u", Bounds(stall_timeout=10), clock)
    dog.pause_ok(9)
    with pytest.raises(SourceError, match="stalled"):
        dog.pause_ok(10)


def test_a_server_silent_past_read_timeout_names_the_bound(server):
    server.delay(1.5)
    settings = replace(TIGHT, read_timeout=0.3, retries=1)
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"no byte for 0.3 s \(\[fetch\] read_timeout\) \(gave up after 2 attempts\)"):
        download(server.url("disk.img"), settings)
    assert time.monotonic() - start < 3 and len(gets(server)) == 2


def test_when_every_location_stalls_the_verdict_names_them_all(server):
    server.stall_at("disk.img", 0)
    (server.root / "copy.img").write_bytes(DATA)
    server.stall_at("copy.img", 0)
    stream = open_first([Location(server.url("disk.img")), Location(server.url("copy.img"))],
                        new_session(), replace(TIGHT, stall_timeout=1), allow_local=False)
    with pytest.raises(SourceError, match=r"all 2 locations failed; last: .*copy.img stalled"):
        b"".join(stream.chunks())
    stream.close()
