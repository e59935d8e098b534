# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The run lock: exclusive, names its holder, released by the kernel when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from glancing.errors import LOCKED, LockHeld, UsageError, exit_code
from glancing.manager.lock import RunLock, default_lock_path

HOLDER = """
import sys, time
from glancing.manager.lock import RunLock
RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_second_run_is_refused_with_the_holder_named(tmp_path):
    path = str(tmp_path / "gm.lock")
    with RunLock(path) as first:
        assert first.held
        with open(path, encoding="utf-8") as handle:
            assert handle.read().startswith(f"pid {os.getpid()} on ")
        with pytest.raises(LockHeld) as info:
            RunLock(path).acquire()
        assert f"pid {os.getpid()}" in str(info.value) and "started 20" in str(info.value)
        assert exit_code(info.value) == LOCKED
    assert not first.held
    with RunLock(path):  # released on exit: the next run gets it
        pass
    assert os.path.exists(path)  # never unlinked: see lock.py


def test_lock_of_a_killed_process_is_released_by_the_kernel(tmp_path):
    path = str(tmp_path / "sub" / "gm.lock")  # the directory is created
    child = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=f"pid {child.pid} "):
            RunLock(path).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    lock = RunLock(path).acquire()
    assert lock.held
    lock.release()
    lock.release()  # twice is harmless


def test_unusable_lock_path_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot open lock file"):
        RunLock(str(blocker / "gm.lock")).acquire()


def test_default_lock_path_is_absolute_and_named():
    path = default_lock_path()
    assert os.path.isabs(path) and path.endswith("glance_manager.lock")
