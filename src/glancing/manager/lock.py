# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The run lock: an ``flock`` on a lock file, so the kernel releases it when the process dies.

The holder writes its PID and start time into the file, so a second run can name it. The file
is never deleted: unlinking a lock file lets two runs lock two different inodes.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Optional, Type

from glancing.errors import LockHeld, UsageError
from glancing.targets.names import stamp


def default_lock_path() -> str:
    """``/run/lock/glance_manager.lock`` when writable (root, cron), else a per-user path."""
    system = Path("/run/lock")
    if system.is_dir() and os.access(system, os.W_OK):
        return str(system / "glance_manager.lock")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path.home() / ".cache" / "glancing"
    return str(base / "glance_manager.lock")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    # Empty: the holder locked but has not written yet (a few microseconds), or an old format.
    return text or "unknown holder (still starting)"


class RunLock:
    """A held run lock; use as a context manager or call ``release``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: Optional[int] = None

    def acquire(self) -> "RunLock":
        """Take the lock without waiting.

        Raises LockHeld naming the holder when another process holds it, UsageError when the
        lock file cannot be created or opened.
        """
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # os.open fds are not inherited by subprocesses (PEP 446), so a qemu-img child that
            # outlives us cannot keep the lock held.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"cannot open lock file {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise LockHeld(f"another glance_manager run holds {self.path}: {holder}") from None
        except OSError as exc:
            os.close(fd)
            raise UsageError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        self._fd = fd
        self._write_holder()
        return self

    def _write_holder(self) -> None:
        assert self._fd is not None
        started = stamp()
        text = f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n"
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text.encode("utf-8"), 0)

    def release(self) -> None:
        """Clear the holder line and unlock; safe to call twice. Raises nothing."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # still locked here, so no other run can be reading a stale line
        except OSError:
            pass
        os.close(fd)  # closing the last descriptor drops the flock

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> "RunLock":
        return self.acquire() if self._fd is None else self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.release()
