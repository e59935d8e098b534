# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Uploads through real loopback servers: a directory, an HTTP PUT/WebDAV server, a plain PUT
server, and OpenSSH's sftp. A failed upload leaves the previous file served and no temporary
file behind; a reader never sees a half-written list."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator, List

import pytest

from davserver import DavServer
from glancing.errors import UsageError
from glancing.fetch.http import HttpSettings
from glancing.publish.upload import UploadError, UploadSettings, rewrite, upload_bytes
from sshkit import Sshd, running_sshd

HTTP = UploadSettings(http=HttpSettings(retries=0, connect_timeout=5, read_timeout=5))


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    (tmp_path / "www" / "lists").mkdir(parents=True)
    server = DavServer(tmp_path / "www").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def _sftp(sshd: Sshd) -> UploadSettings:
    return UploadSettings(ssh_key=str(sshd.user_key), ssh_known_hosts=str(sshd.known_hosts))


def test_file_upload_replaces_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "pub").mkdir()
    target = tmp_path / "pub" / "image.list"
    upload_bytes(b"one\n", target.as_uri(), UploadSettings())
    upload_bytes(b"two\n", str(target), UploadSettings())
    assert target.read_bytes() == b"two\n" and [p.name for p in target.parent.iterdir()] == ["image.list"]
    assert target.stat().st_mode & 0o777 == 0o644
    with pytest.raises(UploadError, match="does not exist"):
        upload_bytes(b"x", (tmp_path / "missing" / "image.list").as_uri(), UploadSettings())


def test_webdav_put_to_a_temporary_name_then_move(dav: DavServer) -> None:
    url = dav.url("lists/image.list")
    upload_bytes(b"version 1\n", url, HTTP)
    upload_bytes(b"version 2\n", url, HTTP)
    assert (dav.root / "lists" / "image.list").read_bytes() == b"version 2\n"
    methods = dav.methods()
    assert [m for m, _ in methods] == ["PUT", "MOVE", "PUT", "MOVE"]
    assert methods[0][1].startswith("/lists/.image.list.upload-") and methods[1][1] == methods[0][1]
    assert sorted(p.name for p in (dav.root / "lists").iterdir()) == ["image.list"]


def test_plain_put_server_gets_the_final_url_after_move_is_refused(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    server = DavServer(tmp_path / "www", webdav=False).start()
    try:
        upload_bytes(b"plain\n", server.url("image.list"), HTTP)
        assert (tmp_path / "www" / "image.list").read_bytes() == b"plain\n"
        assert [m for m, _ in server.methods()] == ["PUT", "MOVE", "DELETE", "PUT"]
        assert [p.name for p in (tmp_path / "www").iterdir()] == ["image.list"]
    finally:
        server.stop()


def test_failed_http_uploads_leave_the_previous_list(dav: DavServer) -> None:
    url = dav.url("lists/image.list")
    upload_bytes(b"good\n", url, HTTP)
    dav.refuse_put(".upload-", 507)
    with pytest.raises(UploadError, match="507"):
        upload_bytes(b"new\n", url, HTTP)
    dav.put_refusals.clear()
    dav.cut_puts_after(3)  # the connection dies mid-body: a partial temporary file on the server
    with pytest.raises(UploadError):
        upload_bytes(b"a much longer new version\n", url, HTTP)
    assert (dav.root / "lists" / "image.list").read_bytes() == b"good\n"
    assert sorted(p.name for p in (dav.root / "lists").iterdir()) == ["image.list"]  # temp deleted


def test_uri_match_and_replace_find_the_destination() -> None:
    settings = UploadSettings(uri_match=r"^https://www\.example\.org/", uri_replace="sftp://me@host/var/www/")
    assert rewrite("https://www.example.org/lists/image.list", settings) == "sftp://me@host/var/www/lists/image.list"
    assert rewrite("https://other.example.org/x", settings) == "https://other.example.org/x"
    assert rewrite("https://x/y", UploadSettings()) == "https://x/y"
    with pytest.raises(UsageError, match="not a regular expression"):
        rewrite("x", UploadSettings(uri_match="(", uri_replace="y"))


def test_unknown_scheme_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cannot upload to gopher://"):
        upload_bytes(b"x", "gopher://host/x", UploadSettings())


def test_sftp_upload_replaces_the_list(sshd: Sshd, tmp_path: Path) -> None:
    (tmp_path / "pub").mkdir()
    target = tmp_path / "pub" / "image.list"
    upload_bytes(b"one\n", sshd.url(str(target)), _sftp(sshd))
    upload_bytes(b"two\n", sshd.url(str(target)), _sftp(sshd))
    assert target.read_bytes() == b"two\n" and [p.name for p in target.parent.iterdir()] == ["image.list"]


def test_sftp_failure_leaves_the_old_list_and_no_temporary(sshd: Sshd, tmp_path: Path) -> None:
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "image.list").mkdir()  # the rename cannot replace a directory
    (tmp_path / "pub" / "old.list").write_bytes(b"old\n")
    with pytest.raises(UploadError, match="sftp upload to .* failed"):
        upload_bytes(b"new\n", sshd.url(str(tmp_path / "pub" / "image.list")), _sftp(sshd))
    assert sorted(p.name for p in (tmp_path / "pub").iterdir()) == ["image.list", "old.list"]
    with pytest.raises(UploadError, match="failed"):  # an unknown host key: never trusted blindly
        upload_bytes(b"x", sshd.url(str(tmp_path / "pub" / "x.list")),
                     UploadSettings(ssh_key=str(sshd.user_key), ssh_known_hosts=str(tmp_path / "none")))


def test_sftp_reader_never_sees_a_half_written_list(sshd: Sshd, tmp_path: Path) -> None:
    (tmp_path / "pub").mkdir()
    target = tmp_path / "pub" / "image.list"
    old, new = b"A" * (8 << 20), b"B" * (8 << 20)
    upload_bytes(old, sshd.url(str(target)), _sftp(sshd))
    seen: List[bytes] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            seen.append(data[:1] + str(len(data)).encode() if data in (old, new) else b"torn")

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        upload_bytes(new, sshd.url(str(target)), _sftp(sshd))
    finally:
        stop.set()
        watcher.join()
    assert target.read_bytes() == new
    assert set(seen) <= {b"A" + str(len(old)).encode(), b"B" + str(len(new)).encode()} and len(seen) > 1


def test_cli_uploads_image_and_list_over_sftp_by_uri_rewrite(run_cli, sshd: Sshd, tmp_path: Path) -> None:
    from images import make_qcow2
    from trustkit import make_pki

    pki = make_pki(tmp_path / "pki")
    (tmp_path / "site" / "lists").mkdir(parents=True)
    db = tmp_path / "p.db"
    rewrite_args = ["--uri-match", r"^https://www\.example\.org/", "--uri-replace", sshd.url(str(tmp_path / "site")) + "/",
                    "--ssh-key", sshd.user_key, "--ssh-known-hosts", sshd.known_hosts]

    def ok(*args: object) -> str:
        done = run_cli("glancing-publish", "--db", db, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    list_id = ok("list", "create", "--title", "sftp", "--uri", "https://www.example.org/lists/image.list")
    image = ok("image", "add", list_id, make_qcow2(tmp_path / "d.qcow2", seed=b"sftp", size_mib=1),
               "--title", "D", "--version", "1")
    uri = ok("image", "upload", list_id, image, *rewrite_args)
    assert uri.startswith(f"https://www.example.org/lists/{image}_") and uri.endswith(".qcow2")
    assert (tmp_path / "site" / "lists" / uri.rsplit("/", 1)[1]).read_bytes() == (tmp_path / "d.qcow2").read_bytes()
    ok("sign", list_id, "--cert", pki.signer.cert_path, "--key", pki.signer.key_path)
    assert ok("upload", list_id, *rewrite_args).endswith(f"to {sshd.url(str(tmp_path / 'site'))}/lists/image.list")
    assert b"multipart/signed" in (tmp_path / "site" / "lists" / "image.list").read_bytes()
    done = run_cli("glancing-publish", "--db", db, "upload", list_id, "--to",
                   sshd.url(str(tmp_path / "nowhere" / "image.list")), "--ssh-key", sshd.user_key,
                   "--ssh-known-hosts", sshd.known_hosts)
    assert done.returncode == 3 and "No such file" in done.stderr
