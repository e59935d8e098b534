# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Fetching a subscribed list: one conditional GET, basic auth from a password file.

An unchanged list must cost one request and nothing else, so the validators the server gave
last time (ETag, Last-Modified) are sent back and a 304 ends the update before any
verification. A local path or ``file://`` URL is read whole (no validators: always "changed").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from urllib.parse import unquote, urlsplit

import requests

from glancing.errors import SourceError, UnsafeLocation, UsageError
from glancing.fetch.http import HttpSettings, new_session
from glancing.formats.hepix.read import MAX_LIST_BYTES

_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class Credentials:
    """HTTP basic auth: the password is read from ``password_file`` when a request needs it."""

    username: str
    password_file: str

    def pair(self) -> Tuple[str, str]:
        try:
            text = Path(self.password_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the password file {self.password_file}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
        # One line: a trailing newline from an editor is not part of the password.
        return self.username, text.rstrip("\r\n")


@dataclass(frozen=True)
class Fetched:
    """A list as the server answered: ``data`` None means 304 (unchanged)."""

    data: Optional[bytes]
    etag: Optional[str] = None
    last_modified: Optional[str] = None

    @property
    def unchanged(self) -> bool:
        return self.data is None


def local_path(url: str) -> Optional[Path]:
    """The file a subscription URL names when it is a path or ``file://`` URL, else None."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme in ("http", "https"):
        return None
    if parts.scheme and len(parts.scheme) > 1:
        raise UsageError(f"{url}: only http, https and local files can be subscribed")
    return Path(url)


def _read_local(path: Path) -> Fetched:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_LIST_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror}") from None
    if len(data) > MAX_LIST_BYTES:
        raise SourceError(f"{path}: larger than {MAX_LIST_BYTES} bytes, refused")
    return Fetched(data)


def _headers(etag: Optional[str], last_modified: Optional[str]) -> Dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _get(session: requests.Session, url: str, headers: Dict[str, str], http: HttpSettings,
         auth: Optional[Tuple[str, str]], grid_ca_dir: Optional[str]) -> requests.Response:
    def attempt(verify: Any) -> requests.Response:
        kwargs = http.request_kwargs()
        if verify is not None:
            kwargs["verify"] = verify
        response = session.get(url, headers=headers, auth=auth, stream=True, **kwargs)  # type: ignore[arg-type]
        if response.status_code >= 500:
            response.close()
            raise SourceError(f"{url}: HTTP {response.status_code} {response.reason}")
        return response

    def transient(error: BaseException) -> bool:
        if isinstance(error, requests.exceptions.SSLError):
            return False  # a certificate does not get better by asking again
        return isinstance(error, _TRANSIENT) or (isinstance(error, SourceError) and " HTTP 5" in str(error))

    try:
        try:
            return http.retry.call(lambda: attempt(None), transient, what=url)
        except requests.exceptions.SSLError:
            if not (http.tls_verify and grid_ca_dir and os.path.isdir(grid_ca_dir)):
                raise
            # The list host may carry an IGTF certificate, as vmcatcher's hosts did: the grid CA
            # directory that anchors the lists' signatures anchors their host's TLS too.
            return http.retry.call(lambda: attempt(grid_ca_dir), transient, what=url)
    except requests.exceptions.SSLError as exc:
        raise SourceError(f"{url}: TLS error: {exc}") from None
    except requests.RequestException as exc:
        raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from None


def _body(response: requests.Response, url: str) -> bytes:
    data = bytearray()
    try:
        for chunk in response.iter_content(64 * 1024):
            data += chunk
            if len(data) > MAX_LIST_BYTES:
                raise SourceError(f"{url}: larger than {MAX_LIST_BYTES} bytes, refused")
    except requests.RequestException as exc:
        raise SourceError(f"{url}: {type(exc).__name__} while reading the list") from None
    finally:
        response.close()
    return bytes(data)


def fetch_list(url: str, http: HttpSettings, *, etag: Optional[str] = None,
               last_modified: Optional[str] = None, credentials: Optional[Credentials] = None,
               session: Optional[requests.Session] = None, grid_ca_dir: Optional[str] = None) -> Fetched:
    """GET ``url``, conditionally when validators are given. TLS is verified against the system
    CAs (or ``[fetch] ca_file``), else against ``grid_ca_dir``. Raises SourceError (unreachable,
    HTTP or TLS error, refused authentication), UsageError (unreadable password file)."""
    path = local_path(url)
    if path is not None:
        return _read_local(path)
    auth = credentials.pair() if credentials else None
    session = session or new_session(http)
    response = _get(session, url, _headers(etag, last_modified), http, auth, grid_ca_dir)
    if urlsplit(url).scheme == "https" and urlsplit(response.url).scheme != "https":
        response.close()
        raise UnsafeLocation(f"{url}: redirected from https down to {response.url}, refused")
    if response.status_code == 304:
        response.close()
        return Fetched(None, etag, last_modified)
    if response.status_code in (401, 403):
        response.close()
        hint = "wrong user or password" if credentials else "give --user and --password-file"
        raise SourceError(f"{url}: HTTP {response.status_code} {response.reason} ({hint})")
    if response.status_code != 200:
        response.close()
        raise SourceError(f"{url}: HTTP {response.status_code} {response.reason}")
    validators = (response.headers.get("ETag"), response.headers.get("Last-Modified"))
    return Fetched(_body(response, url), *validators)
