#!/usr/bin/env python3
# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A real Glance + Keystone (from PyPI, gunicorn, SQLite, file store) on 127.0.0.1 for tests and demos.

usage: lab.py {install,up,down,status,env,reset}

  install  venv at $LAB/venv with glance, keystone, gunicorn, python-glanceclient (idempotent)
  up       configure and start keystone (:15000) and glance (:19292); nothing if already healthy
  down     stop both servers by their gunicorn masters' pidfiles
  status   say what runs; exit 0 healthy, 3 nothing runs, 1 partly up or unhealthy
  env      print `export OS_...` lines for the demo user (also written to $LAB/openrc)
  reset    stop, then wipe the glance and keystone data and logs (keeps the venv and the cache)

$LAB is $GLANCING_LAB or <repo>/.lab. Stdlib only: runs with the system python3.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import labconf as C  # noqa: E402
import labidentity as K  # noqa: E402
from labproc import (  # noqa: E402
    LabError, clean_env, listener, locked, our_pid, port_open, run, spawn, stop_pid, tail,
)

START_TIMEOUT = 90.0


def installed_versions(p: C.Paths) -> Optional[dict[str, str]]:
    """Versions of the required distributions in the lab venv, or None when it is unusable."""
    py = p.bin("python")
    if not py.exists():
        return None
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for d in sys.argv[1:]:\n"
            "    try: out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    res = subprocess.run([str(py), "-c", code, *C.REQUIRED], capture_output=True, text=True)
    return json.loads(res.stdout) if res.returncode == 0 else None


def _install_ok(versions: Optional[dict[str, str]]) -> bool:
    return versions is not None and all(
        name in versions and (want is None or versions[name] == want)
        for name, want in C.REQUIRED.items())


def cmd_install(p: C.Paths) -> None:
    with locked(p.lock):
        ensure_installed(p, quiet=False)


def ensure_installed(p: C.Paths, quiet: bool = True) -> None:
    """Create or complete the venv (caller holds the lock); raises LabError."""
    if _install_ok(installed_versions(p)):
        if not quiet:
            print(f"lab: venv ready at {p.venv} (glance {C.GLANCE_VERSION}, keystone {C.KEYSTONE_VERSION})")
        return
    t0 = time.monotonic()
    log = p.root / "install.log"
    if not p.bin("python").exists():
        shutil.rmtree(p.venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(p.venv)], clean_env({}), log, "python3 -m venv")
    pkgs = [f"{name}=={want}" if want else name for name, want in C.REQUIRED.items()]
    print(f"lab: installing {' '.join(pkgs)} into {p.venv} (log: {log})", flush=True)
    run([str(p.bin("python")), "-m", "pip", "install", "--disable-pip-version-check",
         "-c", str(C.CONSTRAINTS), *pkgs], clean_env({}), log, "pip install")
    if not _install_ok(installed_versions(p)):
        raise LabError("the venv does not have the required versions after pip install", log)
    print(f"lab: installed in {time.monotonic() - t0:.0f} s")


def write_configs(p: C.Paths) -> None:
    """(Re)write every config file; they depend only on the lab root, so this is idempotent."""
    for d in (p.glance_etc, p.keystone_etc, p.keystone_run, p.pids, *C.glance_dirs(p)):
        d.mkdir(parents=True, exist_ok=True)
    (p.keystone_etc / "keystone.conf").write_text(C.keystone_conf(p))
    (p.keystone_run / "gunicorn.conf.py").write_text(C.keystone_gunicorn_conf(p))
    (p.glance_etc / "glance-api.conf").write_text(C.glance_api_conf(p))
    paste = p.venv / "etc" / "glance" / "glance-api-paste.ini"
    if not paste.is_file():
        raise LabError(f"{paste} is missing: run `lab.py install`")
    shutil.copyfile(paste, p.glance_etc / "glance-api-paste.ini")
    write_credentials(p)


def write_credentials(p: C.Paths) -> None:
    p.clouds_yaml.write_text(C.clouds_yaml_text())
    p.clouds_yaml.chmod(0o600)
    p.openrc.write_text(C.openrc_text())


def _wait(check: Callable[[], bool], proc: Optional[subprocess.Popen], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not check():
        if proc is not None and proc.poll() is not None:
            raise LabError(f"{what} exited with status {proc.returncode} while starting", log)
        if time.monotonic() > deadline:
            raise LabError(f"{what} did not answer within {START_TIMEOUT:.0f} s", log)
        time.sleep(0.2)


class Service:
    """One gunicorn-served API of the lab."""

    def __init__(self, p: C.Paths, name: str, port: int, answers: Callable[[], bool]) -> None:
        self.p, self.name, self.port, self.answers = p, name, port, answers
        self.pidfile = p.pids / f"{name}.pid"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def home(self) -> Path:
        return self.p.root / self.name.split("-")[0]

    @property
    def log(self) -> Path:
        return self.home / "gunicorn.log"

    def pid(self) -> Optional[int]:
        return our_pid(self.pidfile, self.p.root)

    def argv_env(self) -> tuple[list[str], dict[str, str], Path]:
        gunicorn = str(self.p.bin("gunicorn"))
        if self.name == "keystone":
            return [gunicorn], clean_env({"OS_KEYSTONE_CONFIG_DIR": str(self.p.keystone_etc)}), self.p.keystone_run
        argv = [gunicorn, "--bind", f"{C.HOST}:{self.port}", "--workers", "1", "--threads", "8",
                "--timeout", "600", "--no-control-socket", "--access-logfile",
                str(self.home / "access.log"), "--error-logfile", str(self.log),
                "--pid", str(self.pidfile), "--pythonpath", str(HERE), "glance_app:application"]
        return argv, clean_env({"OS_GLANCE_CONFIG_DIR": str(self.p.glance_etc)}), self.home

    def start(self) -> None:
        """Spawn the master unless ours already runs; raises LabError if the port is taken."""
        pid = self.pid()
        if pid is not None:
            return
        if port_open(self.port):
            raise LabError(f"port {self.port} is in use by {listener(self.port)}, "
                           f"not by this lab ({self.p.root})")
        argv, env, cwd = self.argv_env()
        self.proc = spawn(argv, cwd, env, self.home / "stdout.log")

    def wait(self) -> None:
        _wait(self.answers, self.proc, self.name, self.log)

    def stop(self) -> Optional[str]:
        """Stop our master (by pidfile, else the process we spawned); returns what was done."""
        pid = self.pid() or (self.proc.pid if self.proc and self.proc.poll() is None else None)
        if pid is None:
            return None
        killed = stop_pid(pid)
        if self.proc is not None:
            self.proc.wait()
        self.pidfile.unlink(missing_ok=True)
        return f"{self.name} (pid {pid}){' killed' if killed else ''}"


def services(p: C.Paths) -> tuple[Service, Service]:
    return (Service(p, "keystone", C.KEYSTONE_PORT, K.keystone_answers),
            Service(p, "glance-api", C.GLANCE_PORT, K.glance_answers))


def prepare_keystone(p: C.Paths) -> str:
    """Make sure keystone has data: 'existing', 'restored' (from the cache) or 'fresh'."""
    ready = p.keystone_data / ".ready"
    if ready.exists():
        return "existing"
    if K.restore_cache(p):
        ready.touch()
        return "restored"
    shutil.rmtree(p.keystone_data, ignore_errors=True)
    p.keystone_data.mkdir(parents=True)
    K.bootstrap(p, clean_env({}))
    return "fresh"


def prepare_glance(p: C.Paths, wipe: bool) -> None:
    """Create glance's DB once; wiped when keystone is new (image owners are keystone project ids)."""
    synced = p.glance_data / ".db_synced"
    if wipe:
        shutil.rmtree(p.glance_data, ignore_errors=True)
    for d in C.glance_dirs(p):
        d.mkdir(parents=True, exist_ok=True)
    if not synced.exists():
        (p.glance_data / "glance.sqlite").unlink(missing_ok=True)
        run([str(p.bin("glance-manage")), "--config-file", str(p.glance_etc / "glance-api.conf"),
             "db_sync"], clean_env({}), p.glance / "manage.log", "glance-manage db_sync")
        synced.touch()
    # WAL (kept in the file): readers no longer block the writer, so concurrent clients stop
    # getting "database is locked" (HTTP 500) from Glance's SQLite.
    with contextlib.closing(sqlite3.connect(p.glance_data / "glance.sqlite")) as db:
        db.execute("PRAGMA journal_mode=WAL")


def _bring_up(p: C.Paths, keystone: Service, glance: Service) -> None:
    keystone_state = prepare_keystone(p)
    keystone.start()
    # glance's db_sync (~2.5 s) overlaps keystone's start-up.
    prepare_glance(p, wipe=keystone_state == "fresh")
    if keystone_state == "fresh":
        keystone.wait()
        K.register(p)
        K.save_cache(p)
        (p.keystone_data / ".ready").touch()
    glance.start()
    keystone.wait()
    glance.wait()
    ok, why = K.healthy()
    if not ok:
        raise LabError(f"the lab started but is not healthy: {why}", glance.log)


def cmd_up(p: C.Paths) -> None:
    """Start what is not running; on failure stop what this call started and raise LabError."""
    with locked(p.lock):
        ok, _ = K.healthy()
        keystone, glance = services(p)
        if ok:
            write_credentials(p)
            if keystone.pid() and glance.pid():
                print(f"lab: already up at {C.GLANCE_URL} (keystone {C.AUTH_URL}), lab dir {p.root}")
            else:
                # Same ports, same identities: another checkout's lab serves us just as well,
                # and it is not ours to stop.
                print(f"lab: a lab of another directory is up at {C.GLANCE_URL}; using it "
                      f"(glance: {listener(C.GLANCE_PORT)}, keystone: {listener(C.KEYSTONE_PORT)})")
            return
        ensure_installed(p)
        t0 = time.monotonic()
        write_configs(p)
        try:
            _bring_up(p, keystone, glance)
        except BaseException:
            for svc in (glance, keystone):
                if svc.proc is not None:
                    svc.stop()
            raise
        started = [s.name for s in (keystone, glance) if s.proc is not None]
        print(f"lab: started {', '.join(started) or 'nothing'} in {time.monotonic() - t0:.1f} s: "
              f"glance {C.GLANCE_URL}, keystone {C.AUTH_URL}, lab dir {p.root}")
        print(f"lab: credentials: source {p.openrc}  (or OS_CLIENT_CONFIG_FILE={p.clouds_yaml} OS_CLOUD=lab)")


def cmd_down(p: C.Paths) -> None:
    with locked(p.lock):
        stopped = [s for s in (svc.stop() for svc in reversed(services(p))) if s]
        print(f"lab: stopped {', '.join(stopped)}" if stopped else "lab: nothing was running")


def cmd_status(p: C.Paths) -> int:
    running = 0
    for svc in services(p):
        pid = svc.pid()
        answers = svc.answers()
        running += pid is not None
        print(f"{svc.name:11} pid {pid or '-':>7}  port {svc.port} "
              f"{'answers' if answers else 'silent'}")
    ok, why = K.healthy()
    if ok and running == 0:
        why += f", served by another lab dir (glance: {listener(C.GLANCE_PORT)})"
    print(f"lab dir {p.root}: {why}")
    if ok:
        return 0
    return 3 if running == 0 and not any(port_open(s.port) for s in services(p)) else 1


def cmd_reset(p: C.Paths) -> None:
    cmd_down(p)
    with locked(p.lock):
        for d in (p.glance, p.keystone, p.pids):
            shutil.rmtree(d, ignore_errors=True)
        print(f"lab: wiped glance and keystone data under {p.root} (kept venv and cache)")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("install", "up", "down", "status", "env", "reset"):
        print(__doc__, file=sys.stderr)
        return 2
    p = C.Paths(C.lab_root())
    p.root.mkdir(parents=True, exist_ok=True)
    try:
        if argv[0] == "status":
            return cmd_status(p)
        if argv[0] == "env":
            write_credentials(p)
            sys.stdout.write(C.openrc_text())
            return 0
        {"install": cmd_install, "up": cmd_up, "down": cmd_down, "reset": cmd_reset}[argv[0]](p)
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        if exc.log is not None:
            print(f"---- last lines of {exc.log} ----\n{tail(exc.log)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
