# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The built-in checks and the verdict on RECORDED inspections (test/fixtures/inspections, from
real libguestfs runs): the logic is tested in milliseconds, the launch itself in
test_quarantine_glance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import pytest

from glancing.errors import VerificationError
from glancing.quarantine.checks import CHECKS, Claims, Outcome, Status, locked, parse_checks, run_checks
from glancing.quarantine.inspect import Inspection
from glancing.quarantine.verdict import QuarantineRejected, Verdict, trim

HERE = Path(__file__).resolve().parent / "fixtures" / "inspections"
DEBIAN = Claims("debian", "12", "x86_64")


def _recorded(name: str) -> Inspection:
    return Inspection.from_json(json.loads((HERE / f"{name}.json").read_text()))


def _by_name(found: Inspection, claims: Claims = DEBIAN) -> Dict[str, Outcome]:
    return {o.name: o for o in run_checks(found, claims, tuple(CHECKS))}


def test_clean_image_passes_every_check() -> None:
    outcomes = _by_name(_recorded("debian12-clean"))
    assert {n: o.status for n, o in outcomes.items()} == {n: Status.PASS for n in CHECKS}
    assert "cloud-init" in outcomes["cloud-init"].detail
    assert Verdict(list(outcomes.values())).passed


def test_dirty_image_fails_each_check_for_its_own_reason() -> None:
    outcomes = _by_name(_recorded("debian12-dirty"))
    assert outcomes["no-passwords"].status is Status.FAIL and outcomes["no-passwords"].detail.endswith(": root")
    assert "/root/.ssh/authorized_keys" in outcomes["no-authorized-keys"].detail
    assert "/etc/ssh/ssh_host_ed25519_key" in outcomes["no-host-keys"].detail
    # The empty /root/.bash_history is no history; /home/debian's is.
    assert outcomes["no-history"].detail == "shell history left in: /home/debian/.bash_history"
    assert outcomes["cloud-init"].status is Status.FAIL
    assert outcomes["os-matches"].status is Status.PASS
    assert "$6$" not in json.dumps([o.to_dict() for o in outcomes.values()])  # hashes never reported


def test_debian_locked_forms_are_not_passwords() -> None:
    assert all(locked(p) for p in ("*", "!", "!!", "!*", "!$6$abc$def", "*LK*"))
    assert not any(locked(p) for p in ("", "$6$abc$def", "$y$j9T$abc", "abcdefghijklm"))


def test_linux_only_checks_do_not_apply_without_a_recognised_os() -> None:
    outcomes = _by_name(_recorded("no-os"))
    assert all(o.status is Status.NA for o in outcomes.values())
    assert Verdict(list(outcomes.values())).passed
    windows = Inspection(os={"type": "windows", "distro": "windows", "major": 10, "minor": 0, "arch": "x86_64"})
    got = _by_name(windows, Claims("windows", "10", "x86_64"))
    assert got["os-matches"].status is Status.PASS
    assert [n for n, o in got.items() if o.status is Status.NA] == [n for n in CHECKS if n != "os-matches"]


@pytest.mark.parametrize("claims, wrong", [
    (Claims("ubuntu", "22.04", "x86_64"), "distribution, version"),
    (Claims("debian", "11", None), "version"),
    (Claims("debian", "12.4", None), "version"),
    (Claims(None, None, "aarch64"), "architecture"),
])
def test_os_matches_names_what_differs(claims: Claims, wrong: str) -> None:
    outcome = _by_name(_recorded("debian12-clean"), claims)["os-matches"]
    assert outcome.status is Status.FAIL and outcome.detail.startswith(f"{wrong} differ")


def test_os_claims_come_from_the_record_properties() -> None:
    claims = Claims.from_properties({"os_distro": "Debian", "os_version": "12.5", "architecture": "amd64"})
    assert claims == Claims("debian", "12.5", "x86_64")
    assert _by_name(_recorded("debian12-clean"), claims)["os-matches"].status is Status.PASS
    assert _by_name(_recorded("debian12-clean"), Claims())["os-matches"].status is Status.NA


def test_parse_checks() -> None:
    assert parse_checks("all") == tuple(CHECKS)
    assert parse_checks("none") == ()
    assert parse_checks("no-passwords, os-matches no-passwords") == ("no-passwords", "os-matches")
    with pytest.raises(ValueError, match="unknown checks no-such"):
        parse_checks("no-such no-history")


def test_rejected_properties_name_the_failed_checks_trimmed() -> None:
    long = "x" * 1000
    verdict = Verdict([Outcome("no-passwords", Status.FAIL, "accounts: root"), Outcome("cloud-init", Status.PASS),
                       Outcome("script:site-check", Status.FAIL, long)])
    props = verdict.properties()
    assert props["glancing_rejected_checks"] == "no-passwords,script:site-check"
    assert props["glancing_check_no_passwords"] == "accounts: root"
    assert len(props["glancing_check_script_site_check"]) == 255
    error = QuarantineRejected("img-1", verdict)
    assert isinstance(error, VerificationError) and error.exit_code == 1
    assert str(error) == "image img-1 stays in quarantine: failed no-passwords, script:site-check: accounts: root"
    assert trim("a\n  b") == "a b"
