# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""ftp:// locations against a real loopback FTP server: read whole, size known, and bounded."""

import os
import time

import pytest

from glancing.errors import SourceError
from glancing.fetch import HttpSettings, new_session, open_location
from glancing.model import Location
from ftpserver import LoopbackFTPServer

DATA = os.urandom(2 * 1024 * 1024 + 5)
TIGHT = HttpSettings(connect_timeout=1, read_timeout=3, retries=0, stall_timeout=2, min_speed=1024)


@pytest.fixture()
def ftp(tmp_path):
    (tmp_path / "disk.img").write_bytes(DATA)
    srv = LoopbackFTPServer(tmp_path)
    yield srv
    srv.stop()


def download(url, settings=TIGHT):
    stream = open_location(Location(url), new_session(), settings, allow_local=False)
    try:
        return stream, b"".join(stream.chunks())
    finally:
        stream.close()


def test_an_ftp_image_is_read_whole_with_its_size(ftp):
    stream, body = download(ftp.url("disk.img"))
    assert body == DATA and stream.size == len(DATA) and stream.name == "disk.img"
    assert "RETR disk.img" in ftp.commands


def test_a_missing_ftp_file_is_a_source_error(ftp):
    with pytest.raises(SourceError, match="550"):
        download(ftp.url("missing.img"))


def test_a_trickling_ftp_server_is_too_slow(ftp):
    ftp.trickle = 0.3
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"too slow: .*\(\[fetch\] min_speed\)"):
        download(ftp.url("disk.img"))
    assert time.monotonic() - start < 5


def test_a_stalling_ftp_server_hits_the_read_timeout(ftp):
    ftp.stall = 1_000_000
    with pytest.raises(SourceError, match=r"no byte for 1 s \(\[fetch\] read_timeout\)"):
        download(ftp.url("disk.img"), HttpSettings(connect_timeout=0.5, read_timeout=1, retries=0))
