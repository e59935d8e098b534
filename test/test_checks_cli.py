# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""How glancing refuses a quarantine it cannot run: before any upload, one line, the right code."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1M"], check=True)
    return path


def test_unknown_check_name_is_a_usage_error(run_cli, tmp_path: Path) -> None:
    conf = tmp_path / "glancing.conf"
    conf.write_text("[quarantine]\nchecks = no-passwords no-such-check\n")
    res = run_cli("glancing", "-d", "--quarantine", "--config", str(conf), str(_image(tmp_path)))
    assert res.returncode == 2
    assert res.stderr.strip().endswith("[quarantine] checks: unknown checks no-such-check; known: no-passwords, "
                                       "no-authorized-keys, no-host-keys, no-history, cloud-init, os-matches, all, none")


def test_missing_guestfs_binding_is_an_environment_problem_before_glance(run_cli, tmp_path: Path) -> None:
    conf = tmp_path / "glancing.conf"
    conf.write_text(f"[quarantine]\nenabled = yes\npython = {tmp_path / 'no-python'}\n")
    # No credentials at all: the quarantine is refused before Glance is even looked for.
    res = run_cli("glancing", "--config", str(conf), str(_image(tmp_path)))
    assert res.returncode == 7 and "Traceback" not in res.stderr
    assert "python3-guestfs" in res.stderr


def test_missing_scripts_directory_is_a_usage_error(run_cli, tmp_path: Path) -> None:
    conf = tmp_path / "glancing.conf"
    conf.write_text(f"[quarantine]\nenabled = yes\nchecks = none\nscripts = {tmp_path / 'nowhere'}\n")
    res = run_cli("glancing", "-d", "--config", str(conf), str(_image(tmp_path)))
    assert res.returncode == 2 and "is not a directory" in res.stderr


def test_manager_help_lists_the_quarantine_commands(run_cli) -> None:
    res = run_cli("glance_manager", "--help")
    assert res.returncode == 0
    for line in ("glance_manager quarantine ", "glance_manager release ID [--force]"):
        assert line in res.stdout
