# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The glancing command line without Glance: usage errors, help, dry runs, output channels."""

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from images import compress, digest, make_qcow2

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return make_qcow2(tmp_path_factory.mktemp("img") / "disk.qcow2", size_mib=2)


def test_help_documents_every_exit_code(run_cli):
    res = run_cli("glancing", "--help", lab_env=False)
    assert res.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "130"):
        assert f"\n  {code}" in res.stdout
    assert "--os-cloud" in res.stdout and "UNCOMPRESSED" in res.stdout and "AS DOWNLOADED" in res.stdout


@pytest.mark.parametrize("args,message", [
    ([], "SOURCE is required"),
    (["-s", "1234", "x"], "matches no algorithm"),
    (["-s", "zz" * 16, "x"], "not hexadecimal"),
    (["--digest", "sha256:00", "x"], "64 hex digits"),
    (["-d", "-f", "x"], "cannot be used together"),
    (["--property", "novalue", "-d", "x"], None),
])
def test_usage_errors_exit_2_with_one_line(run_cli, args, message):
    res = run_cli("glancing", *args, lab_env=False)
    assert res.returncode == 2
    if message:
        assert message in res.stderr
    assert res.stdout == "" and "Traceback" not in res.stderr


def test_dry_run_compressed_local_file_json(run_cli, image):
    packed = compress(image, "bz2")
    res = run_cli("glancing", "-d", "--json", "-s", digest(packed), str(packed), lab_env=False)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "dry-run" and out["compression"] == "bz2" and out["disk_format"] == "qcow2"
    assert out["digests"]["md5"] == digest(image, "md5") and out["size"] == image.stat().st_size
    assert out["verified"] == ["sha256"] and out["name"] == "disk"


def test_dry_run_mismatch_json_error_object(run_cli, image):
    res = run_cli("glancing", "-d", "--json", "-s", "0" * 64, str(image), lab_env=False)
    assert res.returncode == 1
    out = json.loads(res.stdout)
    assert out["status"] == "error" and out["exit_code"] == 1 and "sha256" in out["error"]


def test_sums_before_source_the_2016_habit(run_cli, image, tmp_path):
    sums = tmp_path / "SHA1SUMS"
    sums.write_text(f"{digest(image, 'sha1')}  ./disk.qcow2\n")
    res = run_cli("glancing", "-d", "-S", str(sums), str(image), lab_env=False)
    assert res.returncode == 0, res.stderr
    assert "verified: sha1" in res.stdout


def test_quiet_prints_nothing_on_success(run_cli, image, tmp_path):
    sums = tmp_path / "SHA1SUMS"
    sums.write_text(f"{digest(image, 'sha1')}  ./disk.qcow2\n")
    res = run_cli("glancing", "-d", "-q", "-S", str(sums), str(image), lab_env=False)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    res = run_cli("glancing", "-d", "-q", "--json", "-S", str(sums), str(image), lab_env=False)
    assert "sha1" in json.loads(res.stdout)["verified"]


def test_quiet_still_shows_unsafe_mode_warnings(run_cli, image):
    res = run_cli("glancing", "-d", "-q", "-D", str(image), lab_env=False)
    assert res.returncode == 0 and res.stdout == ""
    assert "-D: the image digests will not be checked" in res.stderr


@pytest.mark.parametrize("argv", [["--bogus", "x"], [], ["-d", "--visibility", "everyone", "x"]])
def test_usage_errors_are_json_too(run_cli, argv):
    res = run_cli("glancing", "--json", *argv, lab_env=False)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("glancing: error: ")
    out = json.loads(res.stdout)
    assert out["status"] == "error" and out["exit_code"] == 2


def test_2016_entry_points_run_from_a_checkout(image, tmp_path):
    """`./src/glancing.py` and `python -m glancing`, as the 2016 README and cron lines run them."""
    src = Path(__file__).resolve().parent.parent / "src"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(src), "HOME": str(tmp_path)}
    for argv in ([sys.executable, str(src / "glancing.py")], [sys.executable, "-m", "glancing"]):
        res = subprocess.run([*argv, "--dry-run", "--verbose", "--no-checksum", str(image)],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("dry run: disk: qcow2")
    res = subprocess.run([sys.executable, str(src / "glance_manager.py"), "--help"], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0 and "--vmlist" in res.stdout


def test_missing_file_is_exit_3(run_cli, tmp_path):
    res = run_cli("glancing", "-d", str(tmp_path / "nope.img"), lab_env=False)
    assert res.returncode == 3 and "no such file" in res.stderr


def test_keep_temps_keeps_the_bytes_as_given(run_cli, image, tmp_path):
    packed = compress(image, "xz")
    res = run_cli("glancing", "-d", "-k", "--json", str(packed), env={"TMPDIR": str(tmp_path)}, lab_env=False)
    assert res.returncode == 0, res.stderr
    kept = json.loads(res.stdout)["kept_file"]
    assert Path(kept).parent == tmp_path and Path(kept).read_bytes() == packed.read_bytes()


def test_no_temp_files_left_without_k(run_cli, image, tmp_path):
    res = run_cli("glancing", "-d", "-s", "0" * 32, str(image), env={"TMPDIR": str(tmp_path)}, lab_env=False)
    assert res.returncode == 1
    assert list(tmp_path.iterdir()) == []


def _run_on_tty(args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    master, slave = pty.openpty()
    proc = subprocess.run([str(BIN / "glancing"), *args], stdout=subprocess.PIPE, stderr=slave,
                          stdin=subprocess.DEVNULL, env=env, timeout=60)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc, b"".join(chunks).decode()


def test_progress_only_on_a_terminal_and_never_with_q(image):
    proc, tty = _run_on_tty(["-d", str(image)])
    assert proc.returncode == 0 and "MiB/s" in tty
    proc, tty = _run_on_tty(["-d", "-q", str(image)])
    assert proc.returncode == 0 and "MiB/s" not in tty


def test_progress_not_shown_when_stderr_is_a_pipe(run_cli, image):
    res = run_cli("glancing", "-d", str(image), lab_env=False)
    assert res.returncode == 0 and "MiB/s" not in res.stderr
