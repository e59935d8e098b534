# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The pytest harness: the real Glance + Keystone lab, the CLI runner, the loopback HTTP server.

Fixtures: `lab` (session), `glance`, `glance_cleanup`, `run_cli`, `http_server`.
Any test that uses `lab` (directly or through another fixture) is marked `glance`, so
`pytest -m "not glance"` runs without the lab. The lab is never a reason to skip: it is started.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from httpserver import FaultyHTTPServer

# Fixtures shared by many modules: the throw-away PKI (trustkit) and the loopback marketplace.
pytest_plugins = ["trustkit", "marketplace"]

HERE = Path(__file__).resolve().parent
LAB_PY = HERE / "lab" / "lab.py"
BIN = Path(sys.executable).parent


def _load_labconf() -> Any:
    # labconf is stdlib-only and lives beside lab.py, which is a script rather than a package.
    spec = importlib.util.spec_from_file_location("glancing_labconf", HERE / "lab" / "labconf.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


labconf = _load_labconf()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A CI timeout or `kill` sends SIGTERM: turn it into Ctrl-C so fixture teardown (which stops
    # the lab this session started) still runs. Left alone when someone else handles SIGTERM.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
    # Also declared in pyproject.toml; repeated so the mark is known wherever pytest is run from.
    config.addinivalue_line("markers", "glance: needs the real Glance + Keystone of test/lab")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.glance)


@pytest.fixture(autouse=True, scope="session")
def _no_site_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the machine's and the user's glancing settings out of every test, in-process and in
    the commands the tests run: one empty config file, and no GLANCING_* variables (but the harness's own GLANCING_LAB)."""
    empty = tmp_path_factory.mktemp("settings") / "glancing.conf"
    empty.write_text("")
    saved = {k: v for k, v in os.environ.items() if k.startswith("GLANCING_") and k != "GLANCING_LAB"}
    for key in saved:
        del os.environ[key]
    os.environ["GLANCING_CONFIG"] = str(empty)
    # Run as root, glance_manager would otherwise keep its state in /var/lib/glancing.
    os.environ["GLANCING_MANAGER_DATABASE"] = str(empty.parent / "state" / "glancing.db")
    os.environ["GLANCING_PUBLISH_DATABASE"] = str(empty.parent / "state" / "publish.db")
    yield
    os.environ.pop("GLANCING_CONFIG", None)
    os.environ.pop("GLANCING_MANAGER_DATABASE", None)
    os.environ.pop("GLANCING_PUBLISH_DATABASE", None)
    os.environ.update(saved)


def _lab_cmd(command: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, str(LAB_PY), command], capture_output=True, text=True)
    if check and res.returncode != 0:
        pytest.exit(f"lab.py {command} failed (exit {res.returncode}):\n{res.stdout}{res.stderr}",
                    returncode=3)
    return res


def _keystone_session(who: dict[str, str]) -> Any:
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=labconf.AUTH_URL, username=who["username"], password=who["password"],
                       project_name=who["project"], user_domain_name="Default",
                       project_domain_name="Default")
    return session.Session(auth=auth)


class Lab:
    """A running lab: URLs, the demo user's OS_* environment, and glanceclient factories."""

    glance_url = labconf.GLANCE_URL
    auth_url = labconf.AUTH_URL

    def __init__(self, lab_dir: Path) -> None:
        self.lab_dir = lab_dir
        self.env = {**labconf.demo_env(), "OS_CLIENT_CONFIG_FILE": str(lab_dir / "clouds.yaml")}

    def glance(self) -> Any:
        """A glanceclient v2 client as the demo user (project demo, roles member+reader)."""
        from glanceclient import Client

        return Client("2", session=_keystone_session(labconf.DEMO))

    def admin_glance(self) -> Any:
        """A glanceclient v2 client as admin (project admin): sees every project's images."""
        from glanceclient import Client

        return Client("2", session=_keystone_session(labconf.ADMIN))


class _LabOwner:
    """Stops the lab once, at session end or interpreter exit, if this session started it.

    Every session using the lab leaves a file named by its pid in $LAB/users; the starting
    session leaves the lab running while another live session is still registered there.
    """

    def __init__(self, lab_dir: Path, say: Callable[[str], None]) -> None:
        self.started = False
        self.say = say
        self.users = lab_dir / "users"
        self.me = self.users / str(os.getpid())

    def register(self) -> None:
        self.users.mkdir(parents=True, exist_ok=True)
        self.me.touch()

    def _others_alive(self) -> list[str]:
        alive = []
        for entry in self.users.glob("[0-9]*"):
            try:
                os.kill(int(entry.name), 0)
                alive.append(entry.name)
            except ProcessLookupError:
                entry.unlink(missing_ok=True)
            except PermissionError:
                alive.append(entry.name)
        return alive

    def stop(self) -> None:
        self.me.unlink(missing_ok=True)
        if not self.started:
            return
        self.started = False
        others = self._others_alive()
        if others:
            self.say(f"lab: left running for other test sessions (pids {', '.join(others)})")
            return
        res = _lab_cmd("down", check=False)
        self.say((res.stdout + res.stderr).strip())


def _teller(config: pytest.Config) -> Callable[[str], None]:
    """Print past pytest's capture: through the terminal reporter, or stderr once it is gone."""

    def say(text: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None and not getattr(config, "_glancing_done", False):
            with capture.global_and_fixture_disabled():
                # Start on a fresh line even in the middle of a row of progress dots.
                if getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0):
                    reporter.write("\n")
                reporter.write_line(text)
        else:
            sys.stderr.write(text + "\n")

    return say


def pytest_unconfigure(config: pytest.Config) -> None:
    config._glancing_done = True  # the atexit stop must not write to a closed reporter


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> Lab:
    """The real Glance + Keystone: reused when already healthy (and left running), else started
    here and stopped when the session ends, also on failure or Ctrl-C."""
    lab_dir = labconf.lab_root()
    owner = _LabOwner(lab_dir, _teller(request.config))
    owner.register()
    request.addfinalizer(owner.stop)
    atexit.register(owner.stop)
    if _lab_cmd("status", check=False).returncode != 0:
        # Marked before `up` so that an interrupted start is still stopped.
        owner.started = True
        owner.say(_lab_cmd("up").stdout.strip())
    return Lab(lab_dir)


@pytest.fixture
def glance(lab: Lab) -> Any:
    """A demo-user glanceclient v2 client."""
    return lab.glance()


def _all_image_ids(client: Any) -> set[str]:
    # Hidden images do not appear in a plain listing; ask for them separately.
    ids = {img["id"] for img in client.images.list()}
    ids |= {img["id"] for img in client.images.list(filters={"os_hidden": True})}
    return ids


class ImageSweeper:
    """Remembers the images that existed before a test and deletes any others on `sweep()`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.before = _all_image_ids(client)

    def sweep(self) -> list[str]:
        """Delete every image created since construction; returns their ids."""
        from glanceclient import exc

        new = sorted(_all_image_ids(self.client) - self.before)
        for image_id in new:
            try:
                self.client.images.delete(image_id)
            except (exc.HTTPNotFound, exc.HTTPBadRequest):
                pass  # already deleted (400: "deleted to deleted", a delete SQLite half-applied)
        return new


@pytest.fixture
def glance_cleanup(lab: Lab) -> Iterator[ImageSweeper]:
    """Deletes, after the test, every image created during it (hidden ones included).

    Works as admin so images made with other credentials are caught too. Another session running
    tests against the same lab at the same moment could lose its new images to this sweep.
    """
    sweeper = ImageSweeper(lab.admin_glance())
    yield sweeper
    sweeper.sweep()


@pytest.fixture
def run_cli(request: pytest.FixtureRequest) -> Callable[..., subprocess.CompletedProcess]:
    """Factory: run_cli(name, *args, env=None, input=None, timeout=300, lab_env=None).

    Runs the console script `name` from this venv's bin dir with text output captured. OS_* from
    the outer environment are never passed on; the lab's are merged when `lab_env` is true (by
    default: when the test uses the `lab` fixture). `env` entries override; a None value removes.
    """

    def run(name: str, *args: str, env: Optional[dict[str, Optional[str]]] = None,
            input: Optional[str] = None, timeout: float = 300,
            lab_env: Optional[bool] = None) -> subprocess.CompletedProcess:
        exe = BIN / name
        if not exe.exists():
            pytest.fail(f"console script {exe} is not installed (pip install -e . in this venv)")
        full = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        if lab_env is None:
            lab_env = "lab" in request.fixturenames
        if lab_env:
            if "lab" not in request.fixturenames:
                pytest.fail("run_cli(lab_env=True) needs the test to request the `lab` fixture")
            full.update(request.getfixturevalue("lab").env)
        for key, value in (env or {}).items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        return subprocess.run([str(exe), *map(str, args)], env=full, input=input, text=True,
                              capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL if input is None else None)

    return run


@pytest.fixture
def http_server() -> Iterator[Callable[..., FaultyHTTPServer]]:
    """Factory: http_server(directory, port=0) starts a FaultyHTTPServer on 127.0.0.1.

    Every server started is stopped at teardown.
    """
    servers: list[FaultyHTTPServer] = []

    def start(directory: Path, port: int = 0) -> FaultyHTTPServer:
        srv = FaultyHTTPServer(Path(directory), port).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
