# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The installed ``glancing-metadata`` console script: validate, show, id, help and errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from glancing.verify.identifier import sha1_to_identifier

FIXTURES = Path(__file__).parent / "fixtures" / "stratuslab"
LHFK = "LHfKVPoHcv4oMirHU0KuOQc-TvI"


def test_help_lists_subcommands_and_exit_codes(run_cli) -> None:
    result = run_cli("glancing-metadata", "--help")
    assert result.returncode == 0
    for word in ("validate", "show", "id", "exit codes:", "record refused"):
        assert word in result.stdout


def test_validate_valid_and_invalid(run_cli) -> None:
    good = str(FIXTURES / "metadata" / "valid-full.xml")
    result = run_cli("glancing-metadata", "validate", good)
    assert result.returncode == 0 and result.stderr == ""
    bad = str(FIXTURES / "metadata" / "invalid-email.xml")
    result = run_cli("glancing-metadata", "validate", good, bad)
    assert result.returncode == 5
    lines = result.stderr.strip().splitlines()
    assert f"{bad}: email: 'jane.tester_at_example.org' is not an e-mail address" in lines
    assert all(line.startswith(f"{bad}: ") for line in lines)


def test_show_file_prints_normalised_json(run_cli) -> None:
    result = run_cli("glancing-metadata", "show", str(FIXTURES / "BtSKdXa2SvHlSVTvgFgivIYDq--.json"))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)["records"][0]
    assert record["identifier"] == "BtSKdXa2SvHlSVTvgFgivIYDq--" and record["compression"] == "gz"
    assert record["bytes"] == 102400000 and record["endorsement_created"] == "2014-09-07T08:36:48Z"


def test_show_id_fetches_from_the_marketplace(run_cli, http_server, tmp_path: Path) -> None:
    (tmp_path / "metadata").mkdir()
    shutil.copy(FIXTURES / f"{LHFK}.wget.xml", tmp_path / "metadata" / LHFK)
    srv = http_server(tmp_path)
    result = run_cli("glancing-metadata", "show", LHFK, "-u", srv.url("metadata"))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["source"] == srv.url(f"metadata/{LHFK}") and shown["records"][0]["identifier"] == LHFK
    by_env = run_cli("glancing-metadata", "show", LHFK, env={"GLANCING_MARKETPLACE_URL": srv.url("metadata")})
    assert by_env.returncode == 0 and json.loads(by_env.stdout) == shown


def test_show_refuses_a_datatables_listing(run_cli) -> None:
    result = run_cli("glancing-metadata", "show", str(FIXTURES / f"{LHFK}?media=json"))
    assert result.returncode == 5
    assert len(result.stderr.strip().splitlines()) == 1 and "DataTables" in result.stderr
    assert "Traceback" not in result.stderr


def test_id_prints_the_identifier_of_an_image(run_cli, tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(b"\x00" * 3_000_000 + b"glancing")
    result = run_cli("glancing-metadata", "id", str(image))
    assert result.returncode == 0
    assert result.stdout.strip() == sha1_to_identifier(hashlib.sha1(image.read_bytes()).hexdigest())


def test_missing_file_is_one_line_and_exit_3(run_cli, tmp_path: Path) -> None:
    result = run_cli("glancing-metadata", "id", str(tmp_path / "nope.img"))
    assert result.returncode == 3 and result.stderr.count("\n") == 1 and "nope.img" in result.stderr
    verbose = run_cli("glancing-metadata", "-v", "id", str(tmp_path / "nope.img"))
    assert verbose.returncode == 3 and "Traceback" in verbose.stderr


def test_json_results_and_errors(run_cli, tmp_path: Path) -> None:
    import json

    bad = tmp_path / "bad.xml"
    bad.write_text("<rdf:RDF")
    res = run_cli("glancing-metadata", "--json", "validate", str(bad), lab_env=False)
    out = json.loads(res.stdout)
    assert res.returncode == 5 and out["status"] == "invalid" and out["files"][0]["valid"] is False
    res = run_cli("glancing-metadata", "--json", "frobnicate", lab_env=False)
    assert res.returncode == 2 and json.loads(res.stdout)["exit_code"] == 2
    assert len(res.stderr.strip().splitlines()) == 1
    res = run_cli("glancing-metadata", "--json", "id", str(tmp_path / "missing.img"), lab_env=False)
    assert res.returncode == 3 and json.loads(res.stdout)["status"] == "error"
