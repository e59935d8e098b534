# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Mirrors with a private CA ([fetch] ca_file), downgrade redirects, and a [fetch] proxy, against
real loopback servers: an HTTPS one whose certificate a throw-away CA signed, and a plain one."""

import os
from dataclasses import replace

import pytest

from glancing.errors import SourceError, UnsafeLocation, UsageError
from glancing.fetch import HttpSettings, new_session, open_location, read_small
from glancing.model import Location
from glancing.sources.marketplace import fetch_listing
from httpserver import FaultyHTTPServer
from tlskit import make_mirror_pki

DATA = os.urandom(200_000)
MPID = "BtSKdXa2SvHlSVTvgBgj_ufVKhR"  # marketplace identifier shape
QUICK = HttpSettings(connect_timeout=2, read_timeout=2, retries=0, stall_timeout=5)


@pytest.fixture()
def pki(tmp_path):
    return make_mirror_pki(tmp_path)


@pytest.fixture()
def mirror(tmp_path, pki):
    root = tmp_path / "www"
    (root / "metadata").mkdir(parents=True)
    (root / "disk.img").write_bytes(DATA)
    (root / "SHA256SUMS").write_text("ab" * 32 + "  disk.img\n")
    (root / "metadata" / MPID).write_bytes(b"<metadata/>")
    srv = FaultyHTTPServer(root, tls=pki.server_context).start()
    yield srv
    srv.stop()


def download(url, settings):
    stream = open_location(Location(url), new_session(settings), settings, allow_local=False)
    try:
        return b"".join(stream.chunks())
    finally:
        stream.close()


def test_ca_file_trusts_a_private_mirror_and_beats_the_environment(mirror, pki, monkeypatch):
    # requests prefers REQUESTS_CA_BUNDLE to a session's CA file; the configured one must win.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    settings = replace(QUICK, ca_file=str(pki.ca_file))
    assert download(mirror.url("disk.img"), settings) == DATA
    assert read_small(mirror.url("SHA256SUMS"), new_session(), settings, limit=1000).startswith(b"abab")
    assert fetch_listing(MPID, mirror.url("metadata"), settings)[0] == b"<metadata/>"


def test_without_the_ca_the_mirror_is_refused_in_one_line(mirror):
    with pytest.raises(SourceError, match="TLS error: certificate verify failed") as caught:
        download(mirror.url("disk.img"), QUICK)
    assert "\n" not in str(caught.value)


def test_tls_verify_off_accepts_any_certificate(mirror):
    assert download(mirror.url("disk.img"), replace(QUICK, tls_verify=False)) == DATA


def test_a_missing_ca_file_is_a_configuration_error(mirror, tmp_path):
    with pytest.raises(UsageError, match=r"\[fetch\] ca_file .*no such file"):
        download(mirror.url("disk.img"), replace(QUICK, ca_file=str(tmp_path / "nope.pem")))


def test_a_redirect_from_https_down_to_http_is_refused(mirror, pki, tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "disk.img").write_bytes(DATA)
    plain = FaultyHTTPServer(tmp_path / "plain").start()
    try:
        mirror.redirect("down.img", plain.url("disk.img"))
        mirror.redirect("up.img", mirror.url("disk.img"))
        settings = replace(QUICK, ca_file=str(pki.ca_file))
        with pytest.raises(UnsafeLocation, match="redirected from https down to plain http"):
            download(mirror.url("down.img"), settings)
        assert plain.requests == []
        assert download(mirror.url("up.img"), settings) == DATA
    finally:
        plain.stop()


def test_proxy_carries_the_requests(tmp_path):
    (tmp_path / "disk.img").write_bytes(DATA)
    proxy = FaultyHTTPServer(tmp_path).start()  # answers absolute-form requests like a proxy would
    try:
        settings = replace(QUICK, proxy=f"http://127.0.0.1:{proxy.port}")
        assert download("http://127.0.0.1:9/disk.img", settings) == DATA  # nothing listens on port 9
        assert [r[1] for r in proxy.requests] == ["/disk.img"]
    finally:
        proxy.stop()
