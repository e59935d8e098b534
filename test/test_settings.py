# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one settings object: precedence, origins, errors, the example file, `glancing config`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from glancing.errors import ENVIRONMENT, USAGE, EnvironmentProblem, UsageError
from glancing.settings import KEYS, Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "etc" / "glancing.conf.example"


def _files(tmp_path: Path, user: str, system: str) -> list[Path]:
    (tmp_path / "user.conf").write_text(user)
    (tmp_path / "system.conf").write_text(system)
    return [tmp_path / "user.conf", tmp_path / "system.conf"]


def test_precedence_option_env_user_system_default(tmp_path: Path) -> None:
    files = _files(tmp_path, "[fetch]\nread_timeout = 20\nretries = 2\n",
                   "[fetch]\nread_timeout = 30\nretries = 3\nstall_timeout = 99\nconnect_timeout = 4\n")
    env = {"GLANCING_FETCH_RETRIES": "7", "GLANCING_FETCH_CONNECT_TIMEOUT": "8"}
    s = Settings.load({"fetch.connect_timeout": 1.5}, env=env, files=files)
    assert (s.get("fetch", "connect_timeout"), s.origin("fetch", "connect_timeout")) == (1.5, "option")
    assert (s.get("fetch", "retries"), s.origin("fetch", "retries")) == (7, "env:GLANCING_FETCH_RETRIES")
    assert (s.get("fetch", "read_timeout"), s.origin("fetch", "read_timeout")) == (20.0, f"file:{files[0]}")
    assert (s.get("fetch", "stall_timeout"), s.origin("fetch", "stall_timeout")) == (99.0, f"file:{files[1]}")
    assert (s.get("fetch", "min_speed"), s.origin("fetch", "min_speed")) == (1024.0, "default")


def test_older_environment_names_still_work(tmp_path: Path) -> None:
    s = Settings.load(env={"GLANCING_CA_DIR": "/ca", "GLANCING_BACKUP_DIR": "/b"}, files=[])
    assert s.get("trust", "ca_dir") == "/ca" and s.origin("trust", "ca_dir") == "env:GLANCING_CA_DIR"
    assert s.get("glance", "backup_dir") == "/b"


def test_user_file_follows_xdg_and_glancing_config_replaces_both(tmp_path: Path) -> None:
    conf = tmp_path / "glancing" / "glancing.conf"
    conf.parent.mkdir()
    conf.write_text("[manager]\nkeep = 3\n")
    assert Settings.load(env={"XDG_CONFIG_HOME": str(tmp_path)}).get("manager", "keep") == 3
    only = tmp_path / "only.conf"
    only.write_text("[manager]\njobs = 2\n")
    s = Settings.load(env={"XDG_CONFIG_HOME": str(tmp_path), "GLANCING_CONFIG": str(only)})
    assert (s.get("manager", "keep"), s.get("manager", "jobs")) == (1, 2)
    assert s.files == (only,)


@pytest.mark.parametrize("text, message", [
    ("[fetch]\nread_timeout = soon\n", r"\[fetch\] read_timeout: expected a number"),
    ("[fetch]\nreed_timeout = 3\n", "unknown key 'reed_timeout' in \\[fetch\\]"),
    ("[fecth]\nread_timeout = 3\n", r"unknown section \[fecth\]"),
    ("not an ini file\n", "cannot read config file"),
    ("[trust]\ncrl = maybe\n", "expected one of require, off"),
])
def test_bad_files_are_environment_problems(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.conf").write_text(text)
    with pytest.raises(EnvironmentProblem, match=message):
        Settings.load(env={}, files=[tmp_path / "bad.conf"])


def test_missing_named_config_is_an_error_missing_default_is_not(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="no such file"):
        Settings.load(env={}, config=str(tmp_path / "none.conf"))
    assert Settings.load(env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}).get("manager", "keep") == 1


def test_bad_environment_value_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"\$GLANCING_MANAGER_JOBS: expected a whole number"):
        Settings.load(env={"GLANCING_MANAGER_JOBS": "-1"}, files=[])


def test_example_documents_every_key_and_loads() -> None:
    text = EXAMPLE.read_text()
    sections = re.split(r"^\[(\w+)\]$", text, flags=re.M)
    documented = {(sections[i], m) for i in range(1, len(sections), 2)
                  for m in re.findall(r"^# (\w+) =", sections[i + 1], flags=re.M)}
    assert {(k.section, k.name) for k in KEYS} == documented
    assert Settings.load(env={}, files=[EXAMPLE]).get("fetch", "stall_timeout") == 300.0


def _config_cli(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "glancing", "config", *args], capture_output=True, text=True,
                          env={**base, **env}, cwd=tmp_path)


def test_glancing_config_shows_origins_and_masks_secrets(tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_text("[fetch]\nproxy = http://alice:s3cret@proxy.example:3128\nread_timeout = 9\n")
    res = _config_cli(tmp_path, "--config", str(conf), env={"GLANCING_CA_DIR": "/ca"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(re.fullmatch(rf"file:{re.escape(str(conf))}\s+fetch\.read_timeout=9\.0", l) for l in lines)
    assert any(re.fullmatch(r"env:GLANCING_CA_DIR\s+trust\.ca_dir=/ca", l) for l in lines)
    assert any(re.fullmatch(r"default\s+manager\.keep=1", l) for l in lines)
    assert "s3cret" not in res.stdout and "http://alice:****@proxy.example:3128" in res.stdout
    res = _config_cli(tmp_path, "--json", "--config", str(conf), env={})
    got = {e["key"]: e for e in json.loads(res.stdout)["settings"]}
    assert got["fetch.proxy"]["value"] == "http://alice:****@proxy.example:3128"
    assert got["fetch.read_timeout"] == {"key": "fetch.read_timeout", "value": 9.0, "origin": f"file:{conf}"}


def test_glancing_config_errors_have_codes(tmp_path: Path) -> None:
    (tmp_path / "bad.conf").write_text("[fetch]\nread_timeout = x\n")
    res = _config_cli(tmp_path, "--json", "--config", str(tmp_path / "bad.conf"), env={})
    assert res.returncode == ENVIRONMENT
    assert len(res.stderr.strip().splitlines()) == 1 and "read_timeout" in res.stderr
    assert json.loads(res.stdout)["exit_code"] == ENVIRONMENT
    res = _config_cli(tmp_path, "--bogus", env={})
    assert res.returncode == USAGE and "unrecognized arguments: --bogus" in res.stderr
