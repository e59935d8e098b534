# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""SUMS files through the library: local and served, refusals with the right class (exit code)."""

import hashlib
import os

import pytest

from glancing.errors import SourceError, UnsafeLocation, UsageError, VerificationError, exit_code
from glancing.fetch import HttpSettings
from glancing.verify.sums import expected_from_sums
from httpserver import FaultyHTTPServer

DATA = os.urandom(1000)
SHA256 = hashlib.sha256(DATA).hexdigest()
SHA512 = hashlib.sha512(DATA).hexdigest()
QUICK = HttpSettings(connect_timeout=1, read_timeout=1, retries=0, stall_timeout=3)


@pytest.fixture()
def server(tmp_path):
    (tmp_path / "SHA256SUMS").write_text(f"{SHA256} *disk.img\n{'3' * 64}  other.img\n")
    (tmp_path / "CHECKSUMS").write_text(f"SHA512 (disk.img) = {SHA512}\n")
    (tmp_path / "OTHER").write_text(f"{'4' * 64}  other.img\n")
    srv = FaultyHTTPServer(tmp_path).start()
    yield srv
    srv.stop()


def test_digests_from_served_and_local_files_add_up(server, tmp_path):
    found = expected_from_sums([server.url("SHA256SUMS"), str(tmp_path / "CHECKSUMS")], "disk.img", QUICK,
                               known={"sha256": SHA256})
    assert found == {"sha256": SHA256, "sha512": SHA512}


def test_no_sums_file_reads_nothing():
    assert expected_from_sums([], "disk.img", QUICK, known={"md5": "x"}) == {"md5": "x"}


def test_a_file_without_the_image_is_a_verification_failure(server):
    with pytest.raises(VerificationError, match="lists no digest for 'disk.img'") as caught:
        expected_from_sums([server.url("OTHER")], "disk.img", QUICK)
    assert exit_code(caught.value) == 1


def test_conflicting_values_are_a_usage_error(server):
    with pytest.raises(UsageError, match="conflicting expected sha256"):
        expected_from_sums([server.url("SHA256SUMS")], "disk.img", QUICK, known={"sha256": "0" * 64})


def test_unreachable_or_redirected_sums_files_are_refused(server):
    with pytest.raises(SourceError, match="HTTP 404"):
        expected_from_sums([server.url("MISSING")], "disk.img", QUICK)
    server.redirect("SUMS", "file:///etc/passwd")
    with pytest.raises(UnsafeLocation, match="refused"):
        expected_from_sums([server.url("SUMS")], "disk.img", QUICK)
