# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager's command line without Glance: usage errors, the lock, and the cron/ files."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from glancing.cli.manager import build_parser, main
from glancing.manager.lock import RunLock
from manager_helpers import mpid

ROOT = Path(__file__).resolve().parent.parent


def test_missing_list_is_a_usage_error_before_anything(tmp_path, capsys):
    lock = tmp_path / "gm.lock"
    assert main(["-l", str(tmp_path / "nope.txt"), "--lock", str(lock)]) == 2
    assert "list file not found" in capsys.readouterr().err
    assert not lock.exists()  # nothing was done, not even the lock


def test_second_run_exits_with_the_lock_code(tmp_path, capsys):
    listing = tmp_path / "l.txt"
    listing.write_text(mpid("a") + "\n")
    lock = str(tmp_path / "gm.lock")
    with RunLock(lock):
        assert main(["-l", str(listing), "--lock", lock]) == 6
    assert "another glance_manager run holds" in capsys.readouterr().err


def test_bad_numbers_and_stray_arguments_are_usage_errors(tmp_path):
    listing = tmp_path / "l.txt"
    listing.write_text("")
    assert main(["-l", str(listing), "--jobs", "0"]) == 2
    assert main(["status", "extra"]) == 2
    assert main(["rollback", "--lock", str(tmp_path / "x.lock")]) == 2


def _command_args(text: str) -> list:
    words = shlex.split(text)
    start = words.index(next(w for w in words if w.endswith("glance_manager")))
    return [w for w in words[start + 1:] if not w.startswith(">>") and w != "2>&1"]


def test_cron_files_use_real_options():
    parser = build_parser([])
    cron_line = next(line for line in (ROOT / "cron" / "glance_manager.cron").read_text().splitlines()
                     if line and not line.startswith("#"))
    service = (ROOT / "cron" / "glance_manager.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*?)(?<!\\)$", service.replace("\\\n", " "), re.M).group(1)
    for command in (cron_line.split(None, 6)[6], exec_start):
        args = parser.parse_args(_command_args(command))
        assert args.list == ["/etc/glancing/img_list.txt"] and args.keep == 1
        assert args.lock == "/run/lock/glance_manager.lock" and args.metrics_file.endswith(".prom")
    timer = (ROOT / "cron" / "glance_manager.timer").read_text()
    assert "Unit=glance_manager.service" in timer and "OnCalendar=" in timer


def test_json_errors_for_usage_and_lock(tmp_path, capsys):
    import json

    assert main(["--json", "--bogus"]) == 2
    out = capsys.readouterr()
    assert json.loads(out.out)["exit_code"] == 2 and out.err.startswith("glance_manager: error: ")
    listing = tmp_path / "l.txt"
    listing.write_text(mpid("a") + "\n")
    lock = str(tmp_path / "gm.lock")
    with RunLock(lock):
        assert main(["-l", str(listing), "--lock", lock, "--json"]) == 6
    out = capsys.readouterr()
    assert json.loads(out.out) == {"status": "error", "exit_code": 6, "error": out.err.strip().split("error: ", 1)[1]}


def test_bad_metrics_path_is_a_usage_error_before_the_run(tmp_path, capsys):
    listing = tmp_path / "l.txt"
    listing.write_text(mpid("a") + "\n")
    lock = tmp_path / "gm.lock"
    for bad in (tmp_path / "no" / "dir.prom", tmp_path):
        assert main(["-l", str(listing), "--lock", str(lock), "--metrics", str(bad)]) == 2
        assert "--metrics" in capsys.readouterr().err
    assert not lock.exists()  # refused before the lock, the marketplace or Glance


def test_manager_settings_come_from_the_config_file(tmp_path, capsys):
    conf = tmp_path / "glancing.conf"
    conf.write_text("[manager]\njobs = 0\n")
    listing = tmp_path / "l.txt"
    listing.write_text("")
    assert main(["-l", str(listing), "--config", str(conf), "--lock", str(tmp_path / "x.lock")]) == 2
    assert "--jobs 1 or more" in capsys.readouterr().err
    conf.write_text("[manager]\njobs = many\n")
    assert main(["-l", str(listing), "--config", str(conf)]) == 7
    assert "[manager] jobs: expected a whole number" in capsys.readouterr().err
