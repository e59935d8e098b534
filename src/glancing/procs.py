# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Child processes glancing starts in a session of their own (event commands, site check
scripts, the libguestfs agent): stopped with everything they started."""

from __future__ import annotations

import os
import signal
import subprocess


def kill_group(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """Kill ``proc``'s whole process group (a shell's children, the appliance's qemu) and reap
    it; its pipes, if any, are drained so the wait cannot block on a full one."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.communicate()


__all__ = ["kill_group"]
