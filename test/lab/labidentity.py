# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Keystone for the lab: data set-up (or restore from the cache tarball), registration, health.

Talks to Keystone and Glance with urllib only (no venv needed to check the lab's health).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

import labconf as C
from labproc import LabError, run

JSON = {"Content-Type": "application/json"}


def http(method: str, url: str, body: Any = None, headers: Optional[dict] = None,
         timeout: float = 5.0) -> tuple[int, dict[str, str], Any]:
    """One request; returns (status, headers, parsed JSON or None). Network errors give status 0."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={**JSON, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
    except (OSError, ValueError):
        return 0, {}, None
    try:
        return status, hdrs, json.loads(raw) if raw else None
    except ValueError:
        return status, hdrs, None


def token(who: dict[str, str]) -> Optional[str]:
    """A project-scoped token for `who`, or None when Keystone refuses or is not there."""
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": who["username"], "domain": {"id": "default"}, "password": who["password"]}}},
        "scope": {"project": {"name": who["project"], "domain": {"id": "default"}}},
    }}
    status, hdrs, _ = http("POST", f"{C.AUTH_URL}/auth/tokens", body)
    return hdrs.get("X-Subject-Token") if status == 201 else None


def keystone_answers() -> bool:
    return http("GET", C.AUTH_URL)[0] == 200


def glance_answers() -> bool:
    return http("GET", f"{C.GLANCE_URL}/healthcheck")[0] == 200


def healthy() -> tuple[bool, str]:
    """True when a demo token works against Glance's image API; else False and why not."""
    if not keystone_answers():
        return False, "keystone does not answer"
    tok = token(C.DEMO)
    if not tok:
        return False, "keystone gives no token to the demo user"
    if not glance_answers():
        return False, "glance /healthcheck does not answer 200"
    status = http("GET", f"{C.GLANCE_URL}/v2/images?limit=1", headers={"X-Auth-Token": tok})[0]
    if status != 200:
        return False, f"glance answers {status} to an authenticated image list"
    return True, "healthy"


# ---- data: bootstrap once, then restore from the cache ----

def _manage(p: C.Paths, *args: str) -> list[str]:
    return [str(p.bin("keystone-manage")), "--config-file", str(p.keystone_etc / "keystone.conf"), *args]


def bootstrap(p: C.Paths, env: dict[str, str]) -> None:
    """Run keystone-manage (db, keys, bootstrap); raises LabError. The key setups overlap db_sync."""
    log = p.keystone / "manage.log"
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    owner = ["--keystone-user", user, "--keystone-group", group]
    with open(log, "ab") as out:
        keys = [subprocess.Popen(_manage(p, step, *owner), env=env, stdout=out, stderr=out,
                                 stdin=subprocess.DEVNULL)
                for step in ("fernet_setup", "credential_setup")]
        try:
            run(_manage(p, "db_sync"), env, log, "keystone-manage db_sync")
        finally:
            codes = [k.wait() for k in keys]
    if any(codes):
        raise LabError("keystone-manage fernet_setup/credential_setup failed", log)
    url = f"{C.KEYSTONE_URL}/v3/"
    run(_manage(p, "bootstrap", "--bootstrap-password", C.ADMIN["password"],
                "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
                "--bootstrap-public-url", url, "--bootstrap-region-id", C.REGION),
        env, log, "keystone-manage bootstrap")


def _api(method: str, path: str, tok: str, body: Any = None) -> Any:
    status, _, data = http(method, f"{C.AUTH_URL}{path}", body, {"X-Auth-Token": tok}, timeout=30)
    if status not in (200, 201, 204):
        raise LabError(f"keystone {method} {path} answered {status}: {data}")
    return data


def _role_id(tok: str, name: str) -> str:
    found = _api("GET", f"/roles?name={name}", tok)["roles"]
    if found:
        return found[0]["id"]
    return _api("POST", "/roles", tok, {"role": {"name": name}})["role"]["id"]


def register(p: C.Paths) -> None:
    """Create the glance service and endpoints, projects, users and grants; raises LabError."""
    tok = token(C.ADMIN)
    if not tok:
        raise LabError("keystone gives no token to admin after bootstrap", p.keystone / "keystone.log")
    svc = _api("POST", "/services", tok,
               {"service": {"type": "image", "name": "glance", "enabled": True}})["service"]["id"]
    for iface in ("public", "internal", "admin"):
        _api("POST", "/endpoints", tok, {"endpoint": {
            "service_id": svc, "interface": iface, "url": C.GLANCE_URL, "region_id": C.REGION}})
    projects = {}
    for user, (project, roles) in C.GRANTS.items():
        if project not in projects:
            projects[project] = _api("POST", "/projects", tok, {"project": {
                "name": project, "domain_id": "default"}})["project"]["id"]
        uid = _api("POST", "/users", tok, {"user": {
            "name": user, "password": C.PASSWORDS[user], "domain_id": "default",
            "default_project_id": projects[project]}})["user"]["id"]
        for role in roles:
            _api("PUT", f"/projects/{projects[project]}/users/{uid}/roles/{_role_id(tok, role)}", tok)


def cache_file(p: C.Paths) -> Path:
    return p.cache / f"keystone-{C.KEYSTONE_VERSION}-{C.keystone_cache_key()}.tar.gz"


def save_cache(p: C.Paths) -> None:
    """Tar the keystone data (a consistent sqlite copy plus the key repositories)."""
    p.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=p.cache) as tmp:
        db_copy = Path(tmp) / "keystone.sqlite"
        with sqlite3.connect(p.keystone_data / "keystone.sqlite") as src, \
                sqlite3.connect(db_copy) as dst:
            src.backup(dst)
        part = Path(tmp) / "data.tar.gz"
        with tarfile.open(part, "w:gz") as tar:
            tar.add(db_copy, "keystone.sqlite")
            for keys in ("fernet-keys", "credential-keys"):
                tar.add(p.keystone_data / keys, keys)
        os.replace(part, cache_file(p))


def restore_cache(p: C.Paths) -> bool:
    """Unpack the cached keystone data into an empty data dir; False when there is no cache."""
    src = cache_file(p)
    if not src.is_file():
        return False
    shutil.rmtree(p.keystone_data, ignore_errors=True)
    p.keystone_data.mkdir(parents=True)
    try:
        with tarfile.open(src) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(p.keystone_data, filter="data")
            else:
                tar.extractall(p.keystone_data)
    except (OSError, tarfile.TarError):
        # A broken cache is just a cache miss: bootstrap again and rewrite it.
        src.unlink(missing_ok=True)
        shutil.rmtree(p.keystone_data, ignore_errors=True)
        return False
    # The key repositories must not be group/world readable for keystone to stay quiet.
    for keys in ("fernet-keys", "credential-keys"):
        (p.keystone_data / keys).chmod(0o700)
    return True
