# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Processes of the lab: the file lock, starting gunicorn masters, stopping them by pidfile.

Servers are found only through the pidfiles their gunicorn masters write, and a pid counts as
ours only when its working directory is inside the lab, so a recycled pid is never signalled.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence


class LabError(Exception):
    """A lab step failed; the message is one line, the log tail (if any) is printed separately."""

    def __init__(self, message: str, log: Optional[Path] = None) -> None:
        super().__init__(message)
        self.log = log


@contextmanager
def locked(path: Path, timeout: float = 900.0) -> Iterator[None]:
    """Hold an exclusive flock on `path`; raises LabError when another holder keeps it too long.

    The kernel drops the lock when the holder dies, so a killed `up` never wedges the next one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told:
                    fh.seek(0)
                    holder = fh.read().strip() or "?"
                    print(f"lab: waiting for the lab lock held by pid {holder}", flush=True)
                    told = True
                if time.monotonic() > deadline:
                    raise LabError(f"the lab lock {path} is still held after {timeout:.0f} s")
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    # A zombie still answers kill(0) but is gone for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _cwd_inside(pid: int, root: Path) -> bool:
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False
    return cwd == root or root in cwd.parents


def our_pid(pidfile: Path, root: Path) -> Optional[int]:
    """The live lab process named by `pidfile`, or None (a stale pidfile is removed)."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        if pidfile.exists():
            pidfile.unlink(missing_ok=True)
        return None
    if _alive(pid) and _cwd_inside(pid, root):
        return pid
    pidfile.unlink(missing_ok=True)
    return None


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            kids.append(int(stat.parent.name))
    return kids


def stop_pid(pid: int, timeout: float = 15.0) -> bool:
    """SIGTERM a gunicorn master, SIGKILL it and its workers after `timeout`. True if it had to kill."""
    workers = _children(pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid) and not any(_alive(w) for w in workers):
            return False
        time.sleep(0.1)
    for victim in [pid, *workers]:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def listener(port: int) -> str:
    """Who listens on 127.0.0.1:`port`: "pid N (cwd DIR)", or "an unknown process"."""
    want = f"0100007F:{port:04X}"
    inodes = set()
    try:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[1] in (want, f"00000000:{port:04X}") and cols[3] == "0A":
                inodes.add(f"socket:[{cols[9]}]")
    except OSError:
        return "an unknown process"
    for fd in sorted(Path("/proc").glob("[0-9]*/fd/*"), key=lambda f: int(f.parts[2])):
        try:
            if os.readlink(fd) in inodes:
                pid = fd.parts[2]
                return f"pid {pid} (cwd {os.readlink(f'/proc/{pid}/cwd')})"
        except OSError:
            continue
    return "an unknown process"


def spawn(argv: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a server detached from our session and terminal, output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        out.flush()
        return subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )


def run(argv: Sequence[str], env: dict[str, str], log: Path, what: str) -> None:
    """Run a setup command to completion, output appended to `log`; raises LabError on failure."""
    proc = spawn(argv, log.parent, env, log)
    if proc.wait() != 0:
        raise LabError(f"{what} failed (exit {proc.returncode})", log)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """Our environment without OS_* (a user's cloud settings must not leak into the servers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(extra)
    return env


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
