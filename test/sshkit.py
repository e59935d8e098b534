# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""A real OpenSSH server (Debian openssh-server) on a loopback port, for sftp upload tests.

It runs as the current user with throw-away host and user keys made by ssh-keygen, key
authentication only, the internal sftp server, and its own known_hosts file, so the client
side needs nothing of ~/.ssh. Stopped (by its pid) when the context ends.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    """A running sshd: where it listens, who may log in, and the client's key and known_hosts."""

    port: int
    user: str
    user_key: Path
    known_hosts: Path
    process: subprocess.Popen

    def url(self, path: str) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}/{str(path).lstrip('/')}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   capture_output=True)


def _wait(port: int, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited {process.returncode}: {process.stderr.read() if process.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if s.recv(4).startswith(b"SSH-"):
                return
        time.sleep(0.05)
    raise RuntimeError("sshd did not answer within 10 s")


@contextlib.contextmanager
def running_sshd(tmp: Path) -> Iterator[Sshd]:
    """Start sshd for the current user on a free loopback port (``make deps`` installs it)."""
    if not os.path.exists(SSHD):
        raise RuntimeError("sshd is missing: make deps installs openssh-server")
    tmp.mkdir(parents=True, exist_ok=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    host_key, user_key = tmp / "host_ed25519", tmp / "user_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    shutil.copy(f"{user_key}.pub", tmp / "authorized_keys")
    port, user = _free_port(), getpass.getuser()
    config = tmp / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}", f"PidFile {tmp / 'sshd.pid'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "StrictModes no", "PermitRootLogin prohibit-password", f"AllowUsers {user}",
        "Subsystem sftp internal-sftp", "LogLevel ERROR", ""]))
    known = tmp / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {Path(f'{host_key}.pub').read_text().split(' ', 2)[0]} "
                     f"{Path(f'{host_key}.pub').read_text().split(' ', 2)[1]}\n")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        _wait(port, process, time.monotonic() + 10)
        yield Sshd(port, user, user_key, known, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
