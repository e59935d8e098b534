# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Site check scripts, run for real: pass, fail with output, timeout (the whole process group
killed), the environment they get, which files count as scripts."""

from __future__ import annotations

import os
import time
from pathlib import Path

from glancing.quarantine.checks import Status
from glancing.quarantine.gate import script_fields
from glancing.quarantine.scripts import ScriptContext, run_scripts, scripts_in

BASE_ENV = {"PATH": "/usr/bin:/bin"}


def _script(directory: Path, name: str, body: str, executable: bool = True) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755 if executable else 0o644)
    return path


def _context(tmp_path: Path) -> ScriptContext:
    image = tmp_path / "image.qcow2"
    image.write_bytes(b"QFI\xfb")
    fields = script_fields({"vmcatcher_event_vo": "atlas", "os_distro": "debian"})
    return ScriptContext(str(image), "1234-abcd", "qcow2", fields)


def test_scripts_get_the_image_its_id_and_the_record_fields(tmp_path: Path) -> None:
    checks = tmp_path / "checks.d"
    checks.mkdir()
    out = tmp_path / "seen"
    _script(checks, "10-env", f'echo "$1|$GLANCING_IMAGE_PATH|$GLANCING_IMAGE_ID|$GLANCING_DISK_FORMAT|'
                              f'$VMCATCHER_EVENT_VO|$GLANCING_PROPERTY_OS_DISTRO" > {out}\necho fine\n')
    outcomes = run_scripts(str(checks), _context(tmp_path), 10, BASE_ENV)
    image = str(tmp_path / "image.qcow2")
    assert out.read_text().strip() == f"{image}|{image}|1234-abcd|qcow2|atlas|debian"
    assert [(o.name, o.status, o.detail) for o in outcomes] == [("script:10-env", Status.PASS, "fine")]


def test_failing_script_reports_status_and_output_others_still_run(tmp_path: Path) -> None:
    checks = tmp_path / "checks.d"
    checks.mkdir()
    _script(checks, "20-fail", "echo 'swap partition found' >&2\nexit 3\n")
    _script(checks, "30-pass", "exit 0\n")
    _script(checks, "40-not-executable", "exit 1\n", executable=False)
    _script(checks, "50-backup~", "exit 1\n")
    _script(checks, ".hidden", "exit 1\n")
    assert [p.name for p in scripts_in(str(checks))] == ["20-fail", "30-pass"]
    outcomes = run_scripts(str(checks), _context(tmp_path), 10, BASE_ENV)
    assert [(o.name, o.status) for o in outcomes] == [("script:20-fail", Status.FAIL), ("script:30-pass", Status.PASS)]
    assert outcomes[0].detail == "exit status 3. swap partition found"


def test_script_over_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    checks = tmp_path / "checks.d"
    checks.mkdir()
    pidfile = tmp_path / "child.pid"
    _script(checks, "slow", f"sleep 60 &\necho $! > {pidfile}\necho started\nwait\n")
    started = time.monotonic()
    outcomes = run_scripts(str(checks), _context(tmp_path), 1.0, BASE_ENV)
    assert time.monotonic() - started < 10
    assert outcomes[0].status is Status.FAIL
    assert outcomes[0].detail == "ran longer than 1 s and was killed. started"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_no_directory_no_scripts(tmp_path: Path) -> None:
    assert run_scripts(None, _context(tmp_path), 1, BASE_ENV) == []
    assert os.path.exists(_context(tmp_path).path)
