# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Put a signed list or an image file where subscribers read it, never half-written.

Every transport writes to a temporary name beside the destination, then renames it over the
old file, so a subscriber sees the previous file or the new one, never a part of it, and a
failed upload leaves the previous file in place:

* ``file:///dir/name`` (or a plain path): a temporary file in ``dir``, fsync, ``os.replace``.
* ``http(s)://``: PUT to a temporary URL beside it, then WebDAV ``MOVE`` (``Overwrite: T``). A
  server without MOVE (405/501 to it) gets a plain PUT of the final URL instead, and the
  temporary one is deleted: then atomicity is the server's business.
* ``sftp://user@host[:port]/abs/path``: OpenSSH's ``sftp`` client in batch mode: ``put`` to a
  temporary name, then ``rename`` (the posix-rename extension replaces the old file
  atomically). Key authentication only (``BatchMode``): the key, known_hosts, ProxyJump and
  agent of the endorser's own ssh setup apply, which is why the ssh client is used rather than
  a Python SSH library: no second host-key store to keep, and no new dependency.
* ``appdb+https://host/vmlist/submit/x509/``: EGI AppDB's form post (glancing.publish.appdb).

``rewrite`` applies vmcaster's ``uriMatch``/``uriReplace`` (a regular expression on ``hv:uri``)
to find where the public URL is written to.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Tuple
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import requests

from glancing.errors import EnvironmentProblem, SourceError, UsageError
from glancing.fetch.http import HttpSettings, new_session


class UploadError(SourceError):
    """An upload failed; the previous file at the destination is still the one served (exit 3)."""


@dataclass(frozen=True)
class UploadSettings:
    """Where and how uploads go (the ``[publish]`` settings)."""

    uri_match: Optional[str] = None  # a regular expression on the public URL (vmcaster's uriMatch)
    uri_replace: Optional[str] = None  # its replacement: the upload destination
    ssh_key: Optional[str] = None  # identity file for sftp (default: the ssh client's own)
    ssh_known_hosts: Optional[str] = None  # known_hosts file for sftp (default: the client's)
    ssh_options: Tuple[str, ...] = ()  # further "-o Key=Value" for sftp
    http: HttpSettings = field(default_factory=lambda: HttpSettings(retries=0))
    client_cert: Optional[Tuple[str, str]] = None  # (cert, key) PEM for appdb+https x509


def rewrite(uri: str, settings: UploadSettings) -> str:
    """The destination of public URL ``uri``: uri_match replaced by uri_replace, when it matches."""
    if not settings.uri_match or settings.uri_replace is None:
        return uri
    try:
        pattern = re.compile(settings.uri_match)
    except re.error as e:
        raise UsageError(f"[publish] uri_match {settings.uri_match!r} is not a regular expression: {e}") from None
    return pattern.sub(settings.uri_replace, uri, count=1) if pattern.search(uri) else uri


def _temp_name(name: str) -> str:
    return f".{name}.upload-{secrets.token_hex(6)}"


def _to_file(source: Path, target: Path) -> None:
    if not target.parent.is_dir():
        raise UploadError(f"cannot upload to {target}: directory {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=_temp_name(target.name), dir=str(target.parent))
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the list from the web server
        os.replace(tmp, target)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise UploadError(f"cannot upload to {target}: {e.strerror or e}") from None


def _http_call(session: requests.Session, method: str, url: str, settings: HttpSettings,
               **kw: object) -> requests.Response:
    try:
        return session.request(method, url, allow_redirects=False, **settings.request_kwargs(), **kw)  # type: ignore[arg-type]
    except requests.RequestException as e:
        raise UploadError(f"{method} {url} failed: {type(e).__name__}: {e}") from None


def _put(session: requests.Session, url: str, source: Path, settings: HttpSettings) -> requests.Response:
    with open(source, "rb") as body:
        return _http_call(session, "PUT", url, settings, data=body,
                          headers={"Content-Length": str(source.stat().st_size)})


def _refused(response: requests.Response, what: str) -> UploadError:
    return UploadError(f"{what}: HTTP {response.status_code} {response.reason}")


def _forget(session: requests.Session, temp: str, settings: HttpSettings) -> None:
    """Best effort: delete what a failed upload may have left at the temporary URL."""
    try:
        _http_call(session, "DELETE", temp, settings)
    except UploadError:
        pass


def _to_http(source: Path, url: str, settings: HttpSettings) -> None:
    parts = urlsplit(url)
    directory, _, name = parts.path.rpartition("/")
    if not name:
        raise UsageError(f"{url} names a directory, not a file")
    temp = urlunsplit(parts._replace(path=f"{directory}/{_temp_name(name)}", query="", fragment=""))
    session = new_session(settings)
    try:
        put = _put(session, temp, source, settings)
        if not put.ok:
            raise _refused(put, f"PUT {temp}")
        move = _http_call(session, "MOVE", temp, settings, headers={"Destination": url, "Overwrite": "T"})
    except UploadError:
        _forget(session, temp, settings)
        raise
    if move.ok:
        return
    _forget(session, temp, settings)
    if move.status_code not in (405, 501):
        raise _refused(move, f"MOVE {temp} to {url}")
    final = _put(session, url, source, settings)  # no WebDAV: a plain PUT replaces the file
    if not final.ok:
        raise _refused(final, f"PUT {url}")


def _sftp_quote(path: str) -> str:
    if any(c in path for c in '"\\\n\r'):
        raise UsageError(f"sftp path {path!r} contains a quote, backslash or line break")
    return f'"{path}"'


def _sftp(batch: str, parts: SplitResult, settings: UploadSettings) -> subprocess.CompletedProcess:
    exe = shutil.which("sftp")
    if exe is None:
        raise EnvironmentProblem("sftp not found: install openssh-client")
    cmd = [exe, "-b", "-", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20"]
    if parts.port:
        cmd += ["-P", str(parts.port)]
    if settings.ssh_key:
        cmd += ["-i", settings.ssh_key, "-o", "IdentitiesOnly=yes"]
    if settings.ssh_known_hosts:
        cmd += ["-o", f"UserKnownHostsFile={settings.ssh_known_hosts}", "-o", "StrictHostKeyChecking=yes"]
    for option in settings.ssh_options:
        cmd += ["-o", option]
    host = parts.hostname or ""
    cmd.append(f"{unquote(parts.username)}@{host}" if parts.username else host)
    return subprocess.run(cmd, input=batch, capture_output=True, text=True, timeout=3600, check=False)


def _to_sftp(source: Path, url: str, settings: UploadSettings) -> None:
    parts = urlsplit(url)
    path = unquote(parts.path)
    directory, _, name = path.rpartition("/")
    if not name or not parts.hostname:
        raise UsageError(f"{url}: an sftp destination is sftp://user@host[:port]/path/file")
    temp = f"{directory}/{_temp_name(name)}"
    done = _sftp(f"put {_sftp_quote(str(source))} {_sftp_quote(temp)}\n"
                 f"rename {_sftp_quote(temp)} {_sftp_quote(path)}\n", parts, settings)
    if done.returncode != 0:
        _sftp(f"-rm {_sftp_quote(temp)}\n", parts, settings)  # best effort: a partial temp file
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise UploadError(f"sftp upload to {url} failed: {lines[-1] if lines else f'exit {done.returncode}'}")


def upload_file(source: Path, destination: str, settings: UploadSettings) -> None:
    """Write the file ``source`` to ``destination`` (temporary name, then rename).

    Raises UploadError when it failed (the previous file stays), UsageError for a destination
    this cannot write to, EnvironmentProblem when the sftp client is missing.
    """
    scheme = urlsplit(destination).scheme.lower()
    if scheme in ("", "file"):
        _to_file(source, Path(unquote(urlsplit(destination).path) if scheme else destination))
    elif scheme in ("http", "https"):
        _to_http(source, destination, settings.http)
    elif scheme == "sftp":
        _to_sftp(source, destination, settings)
    elif scheme.startswith("appdb+"):
        from glancing.publish.appdb import submit

        submit(source.read_bytes(), destination, settings)
    else:
        raise UsageError(f"cannot upload to {destination}: use file://, http(s)://, sftp:// or appdb+https://")


def upload_bytes(data: bytes, destination: str, settings: UploadSettings) -> None:
    """``upload_file`` for bytes in memory (a signed list)."""
    with tempfile.TemporaryDirectory(prefix="glancing-publish-") as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        upload_file(path, destination, settings)
