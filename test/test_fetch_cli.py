# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""End to end through `glancing -d`: a hostile mirror is a one-line error with its documented
exit code, never exit 70, and a SUMS file without the image is a verification failure."""

import hashlib
import os

DATA = os.urandom(70_000)


def serve(http_server, tmp_path):
    (tmp_path / "disk.img").write_bytes(DATA)
    (tmp_path / "SHA256SUMS").write_text(f"{'5' * 64}  other.img\n")
    return http_server(tmp_path)


def one_line_error(res, code):
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == code, res.stderr
    assert len(lines) >= 1 and "Traceback" not in res.stderr
    return lines[-1]


def test_a_redirect_to_a_local_file_is_refused_not_a_crash(run_cli, http_server, tmp_path):
    server = serve(http_server, tmp_path)
    server.redirect("evil.img", "file:///etc/passwd")
    res = run_cli("glancing", "-d", "-q", "-s", hashlib.sha256(DATA).hexdigest(), server.url("evil.img"),
                  lab_env=False)
    assert "redirected to a file URL" in one_line_error(res, 5)


def test_a_redirected_sums_file_is_refused_not_a_crash(run_cli, http_server, tmp_path):
    server = serve(http_server, tmp_path)
    server.redirect("SUMS", "ftp://127.0.0.1:9/SHA256SUMS")
    res = run_cli("glancing", "-d", "-q", "-S", server.url("SUMS"), server.url("disk.img"), lab_env=False)
    assert "redirected to a ftp URL" in one_line_error(res, 5)


def test_a_sums_file_without_the_image_is_exit_1(run_cli, http_server, tmp_path):
    server = serve(http_server, tmp_path)
    res = run_cli("glancing", "-d", "-q", "-S", server.url("SHA256SUMS"), server.url("disk.img"), lab_env=False)
    assert "lists no digest for 'disk.img'" in one_line_error(res, 1)
