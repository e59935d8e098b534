# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""How the inspection agent is run: the libguestfs environment, the TCG fallback, the timeout,
the missing binding. A stand-in interpreter (a shell script) plays the agent, so this needs no
appliance launch; the real agent runs in test_quarantine_glance."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from glancing.errors import EnvironmentProblem
from glancing.quarantine.inspect import InspectionFailed, InspectOptions, available, inspect

REPORT = json.dumps({"roots": 1, "os": {"type": "linux", "distro": "debian", "major": 12, "minor": 5,
                                       "arch": "x86_64"}, "shadow": [], "agents": ["cloud-init"]})


def _agent(tmp_path: Path, body: str) -> str:
    """A stand-in for python3: called as ``python3 agent.py DISK FORMAT AGENTS...``."""
    path = tmp_path / "python3"
    path.write_text(f"#!/bin/sh\necho \"$LIBGUESTFS_BACKEND $LIBGUESTFS_BACKEND_SETTINGS $*\" >> {tmp_path / 'calls'}\n"
                    + body)
    path.chmod(0o755)
    return str(path)


def _calls(tmp_path: Path) -> list:
    return (tmp_path / "calls").read_text().splitlines()


def test_forced_tcg_runs_once_with_force_tcg_and_reads_the_report(tmp_path: Path) -> None:
    python = _agent(tmp_path, f"echo '{REPORT}'\n")
    found = inspect("/images/disk", "qcow2", InspectOptions(tcg="yes", python=python, agents=("cloud-init", "waagent")))
    assert found.is_linux and found.agents == ("cloud-init",) and found.os["major"] == 12
    [call] = _calls(tmp_path)
    assert call.startswith("direct force_tcg ") and call.endswith("/images/disk qcow2 cloud-init waagent")


def test_no_tcg_failure_names_the_last_libguestfs_line(tmp_path: Path) -> None:
    python = _agent(tmp_path, "echo 'libguestfs: error: appliance closed the connection' >&2\nexit 1\n")
    with pytest.raises(InspectionFailed, match="^libguestfs: error: appliance closed the connection$"):
        inspect("/d", "raw", InspectOptions(tcg="no", python=python))
    [call] = _calls(tmp_path)  # one attempt, without force_tcg
    assert call.split()[0] == "direct" and "force_tcg" not in call and call.endswith("/d raw cloud-init")


def test_auto_falls_back_to_tcg_when_the_kvm_launch_fails(tmp_path: Path) -> None:
    python = _agent(tmp_path, 'test "$LIBGUESTFS_BACKEND_SETTINGS" = force_tcg || { echo kvm: MSR >&2; exit 1; }\n'
                              f"echo '{REPORT}'\n")
    assert inspect("/d", "raw", InspectOptions(tcg="auto", python=python)).is_linux
    calls = _calls(tmp_path)
    # With a usable /dev/kvm, KVM is tried first; without one, only TCG.
    assert "force_tcg" in calls[-1] and len(calls) == (2 if Path("/dev/kvm").exists() else 1)


def test_overrun_inspection_is_killed(tmp_path: Path) -> None:
    python = _agent(tmp_path, "sleep 60\n")
    started = time.monotonic()
    with pytest.raises(InspectionFailed, match="longer than 1 s"):
        inspect("/d", "raw", InspectOptions(tcg="yes", python=python, timeout=1))
    assert time.monotonic() - started < 10


def test_missing_binding_is_an_environment_problem(tmp_path: Path) -> None:
    python = _agent(tmp_path, "echo 'the guestfs Python binding is missing (Debian python3-guestfs)' >&2\nexit 3\n")
    with pytest.raises(EnvironmentProblem, match="python3-guestfs"):
        inspect("/d", "raw", InspectOptions(tcg="yes", python=python))
    with pytest.raises(EnvironmentProblem, match="python3-guestfs"):
        available(InspectOptions(python=str(tmp_path / "nowhere")))
