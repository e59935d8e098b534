# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Where the lab keeps its state, the identities it creates, and the config files it writes.

Stdlib only: lab.py runs with the system python3, before any venv exists.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
GLANCE_PORT = 19292
KEYSTONE_PORT = 15000
GLANCE_URL = f"http://{HOST}:{GLANCE_PORT}"
KEYSTONE_URL = f"http://{HOST}:{KEYSTONE_PORT}"
AUTH_URL = f"{KEYSTONE_URL}/v3"
REGION = "RegionOne"

GLANCE_VERSION = "33.0.0"
KEYSTONE_VERSION = "30.0.0"
# Distribution name -> required version (None: any version the constraints allow).
REQUIRED = {
    "glance": GLANCE_VERSION,
    "keystone": KEYSTONE_VERSION,
    "gunicorn": None,
    "python-glanceclient": None,
}

ADMIN = {"username": "admin", "password": "adminpass", "project": "admin"}
DEMO = {"username": "demo", "password": "demopass", "project": "demo"}
# A second project with its own member: image sharing (members), and a second cloud for fan-out.
SECOND = {"username": "second", "password": "secondpass", "project": "second"}
GLANCE_SVC = {"username": "glance", "password": "glancepass", "project": "service"}
# user -> (project, roles); admin itself is made by keystone-manage bootstrap.
GRANTS = {
    "glance": ("service", ("admin", "service")),
    "demo": ("demo", ("member", "reader")),
    "second": ("second", ("member", "reader")),
}
PASSWORDS = {"glance": GLANCE_SVC["password"], "demo": DEMO["password"], "second": SECOND["password"]}
# Glance multi-store: two file stores; images land in the first unless told otherwise.
STORES = ("fs", "fs2")

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = Path(__file__).resolve().parent / "constraints.txt"


def lab_root() -> Path:
    """The lab directory: $GLANCING_LAB, else <repo>/.lab."""
    return Path(os.environ.get("GLANCING_LAB") or REPO / ".lab").resolve()


@dataclass(frozen=True)
class Paths:
    """Every file and directory of one lab, derived from its root."""

    root: Path

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    @property
    def glance(self) -> Path:
        return self.root / "glance"

    @property
    def glance_etc(self) -> Path:
        return self.glance / "etc"

    @property
    def glance_data(self) -> Path:
        return self.glance / "data"

    @property
    def keystone(self) -> Path:
        return self.root / "keystone"

    @property
    def keystone_etc(self) -> Path:
        return self.keystone / "etc"

    @property
    def keystone_data(self) -> Path:
        return self.keystone / "data"

    @property
    def keystone_run(self) -> Path:
        """Working directory of keystone's gunicorn (holds gunicorn.conf.py)."""
        return self.keystone / "gunicorn"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def lock(self) -> Path:
        return self.root / "lab.lock"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    @property
    def openrc(self) -> Path:
        return self.root / "openrc"


def demo_env(who: dict[str, str] = DEMO) -> dict[str, str]:
    """The OS_* variables of the demo user (or of ``who``)."""
    return {
        "OS_AUTH_URL": AUTH_URL,
        "OS_USERNAME": who["username"],
        "OS_PASSWORD": who["password"],
        "OS_PROJECT_NAME": who["project"],
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_REGION_NAME": REGION,
        "OS_INTERFACE": "public",
    }


def openrc_text() -> str:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in demo_env().items())


def _cloud_yaml(name: str, who: dict[str, str]) -> str:
    return (
        f"  {name}:\n"
        "    auth:\n"
        f"      auth_url: {AUTH_URL}\n"
        f"      username: {who['username']}\n"
        f"      password: {who['password']}\n"
        f"      project_name: {who['project']}\n"
        "      user_domain_name: Default\n"
        "      project_domain_name: Default\n"
        "    identity_api_version: 3\n"
        f"    region_name: {REGION}\n"
        "    interface: public\n"
    )


def clouds_yaml_text() -> str:
    """`lab` is the demo user (what the tests use); `lab-second` the member of the second project
    (sharing, a second cloud); `lab-admin` the admin (copy-image, inspection)."""
    return ("clouds:\n" + _cloud_yaml("lab", DEMO) + _cloud_yaml("lab-second", SECOND)
            + _cloud_yaml("lab-admin", ADMIN))


def keystone_conf(p: Paths) -> str:
    # bcrypt's default cost makes every password check ~0.35 s; 4 rounds is plenty for a lab.
    return f"""[DEFAULT]
log_file = {p.keystone}/keystone.log
[database]
connection = sqlite:///{p.keystone_data}/keystone.sqlite
[token]
provider = fernet
[fernet_tokens]
key_repository = {p.keystone_data}/fernet-keys
[credential]
key_repository = {p.keystone_data}/credential-keys
[identity]
password_hash_rounds = 4
"""


def keystone_gunicorn_conf(p: Paths) -> str:
    # keystone parses sys.argv with oslo.config, so gunicorn must get no command-line arguments.
    return f"""wsgi_app = "keystone.wsgi.api:application"
bind = "{HOST}:{KEYSTONE_PORT}"
workers = 1
threads = 8
timeout = 120
control_socket_disable = True
accesslog = "{p.keystone}/access.log"
errorlog = "{p.keystone}/gunicorn.log"
pidfile = "{p.pids}/keystone.pid"
"""


def glance_api_conf(p: Paths) -> str:
    d = p.glance_data
    return f"""[DEFAULT]
debug = false
log_file = {p.glance}/glance-api.log
enabled_backends = {", ".join(f"{s}:file" for s in STORES)}
worker_self_reference_url = {GLANCE_URL}
public_endpoint = {GLANCE_URL}
image_cache_dir = {d}/cache
enabled_import_methods = [glance-direct,web-download,copy-image]

[database]
# A writer waits up to 30 s for another (pysqlite's default is 5 s): uploads hold write locks
# while several clients (glance_manager --jobs 4) create and update images.
connection = sqlite:///{d}/glance.sqlite?timeout=30

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = {d}/images
filesystem_store_chunk_size = 1048576

[fs2]
filesystem_store_datadir = {d}/images2
filesystem_store_chunk_size = 1048576

[os_glance_staging_store]
filesystem_store_datadir = {d}/staging

[os_glance_tasks_store]
filesystem_store_datadir = {d}/tasks

[oslo_concurrency]
lock_path = {d}/locks

[paste_deploy]
flavor = keystone
config_file = {p.glance_etc}/glance-api-paste.ini

[wsgi]
python_interpreter = {p.bin("python")}

[import_filtering_opts]
allowed_ports = [80,443,18080]
allowed_hosts = [{HOST}]

[keystone_authtoken]
www_authenticate_uri = {KEYSTONE_URL}
auth_url = {KEYSTONE_URL}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = {GLANCE_SVC["project"]}
username = {GLANCE_SVC["username"]}
password = {GLANCE_SVC["password"]}
"""


def glance_dirs(p: Paths) -> list[Path]:
    d = p.glance_data
    return [d / "images", d / "images2", d / "staging", d / "tasks", d / "cache", d / "locks"]


def keystone_cache_key() -> str:
    """Names the keystone data tarball: anything that changes what is inside makes a new one."""
    spec = repr((KEYSTONE_VERSION, KEYSTONE_PORT, GLANCE_URL, REGION, ADMIN, GRANTS, PASSWORDS))
    template = keystone_conf(Paths(Path("/"))).encode()
    return hashlib.sha256(spec.encode() + template).hexdigest()[:12]
