# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The trust file format, the shipped example, and where settings come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from glancing.errors import EnvironmentProblem, UsageError
from glancing.trust.chain import CrlMode
from glancing.trust.dn import parse_dn
from glancing.trust.endorsers import TrustedEndorsers, hepix_line, parse_line, parse_trust_file
from glancing.trust.failures import UntrustedEndorser
from glancing.trust.settings import DEFAULT_TRUST_FILE, resolve

EXAMPLE = Path(__file__).parent.parent / "etc" / "trusted-endorsers.example"
EGI = "/DC=EU/DC=EGI/C=NL/O=Hosts/O=EGI.eu/CN=appdb.egi.eu"
SEE = "/DC=ORG/DC=SEE-GRID/CN=SEE-GRID CA 2013"


def test_shipped_example_parses_and_trusts_egi_for_its_list() -> None:
    trusted = TrustedEndorsers.load(EXAMPLE, required=True)
    assert [e.kind for e in trusted.endorsers] == ["hepix", "hepix", "stratuslab"]
    found = trusted.for_list(parse_dn(EGI), parse_dn(SEE), ["76fdee70-8119-5d33-9f40-3c57e1c60df1"], "l")
    assert found.origin.startswith(f"{EXAMPLE}:")
    with pytest.raises(UntrustedEndorser, match="trusted only for lists"):
        trusted.for_list(parse_dn(EGI), parse_dn(SEE), ["another-list"], "l")


def test_generated_line_round_trips() -> None:
    line = hepix_line(EGI, SEE, ["https://x.example/image.list"])
    endorser = parse_line(line, "t:1")
    assert endorser.subject == parse_dn(EGI) and endorser.lists == ("https://x.example/image.list",)


@pytest.mark.parametrize("line,why", [
    ("hepix dn=/CN=x", "needs ca"),
    ("nobody dn=/CN=x", "unknown endorser kind"),
    ("stratuslab email=a@b subject=CN=x issuer=CN=y list=z", "unexpected"),
    ('hepix dn="/CN=x ca=/CN=y', "No closing quotation"),
    ("any dn=/XX=1", "unknown attribute type"),
])
def test_bad_lines_name_the_line(line: str, why: str) -> None:
    with pytest.raises(UsageError, match=f"trust:3: .*{why}"):
        parse_trust_file(f"# c\n\n{line}\n", "trust")


def test_missing_explicit_trust_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read trust file"):
        TrustedEndorsers.load(tmp_path / "none", required=True)
    assert TrustedEndorsers.load(tmp_path / "none").endorsers == ()


def test_settings_precedence(tmp_path: Path) -> None:
    user, system = tmp_path / "user.conf", tmp_path / "system.conf"
    system.write_text("[trust]\nca_dir = /sys/ca\ntrust_file = /sys/trust\ncrl = off\n")
    user.write_text("[trust]\nca_dir = /user/ca\nat_signing_time = yes\n")
    files = [user, system]
    got = resolve(env={}, files=files)
    assert (str(got.ca_dir), str(got.trust_file), got.crl, got.at_signing_time) == \
        ("/user/ca", "/sys/trust", CrlMode.OFF, True)
    got = resolve(env={"GLANCING_CA_DIR": "/env/ca", "GLANCING_TRUST_FILE": "/env/t"}, files=files)
    assert (str(got.ca_dir), str(got.trust_file)) == ("/env/ca", "/env/t")
    got = resolve(ca_dir="/opt/ca", crl="require", env={"GLANCING_CA_DIR": "/env/ca"}, files=files)
    assert (str(got.ca_dir), got.crl) == ("/opt/ca", CrlMode.REQUIRE)
    defaults = resolve(env={}, files=[])
    assert defaults.trust_file == DEFAULT_TRUST_FILE and not defaults.trust_file_explicit
    assert str(defaults.ca_dir) == "/etc/grid-security/certificates"


def test_user_config_follows_xdg(tmp_path: Path) -> None:
    conf = tmp_path / "glancing" / "glancing.conf"
    conf.parent.mkdir()
    conf.write_text("[trust]\nca_dir = /xdg/ca\n")
    assert str(resolve(env={"XDG_CONFIG_HOME": str(tmp_path)}).ca_dir) == "/xdg/ca"


def test_bad_config_values_are_environment_problems(tmp_path: Path) -> None:
    conf = tmp_path / "c.conf"
    conf.write_text("[trust]\ncrl = maybe\n")
    with pytest.raises(EnvironmentProblem, match=r"\[trust\] crl: expected one of require, off"):
        resolve(env={}, files=[conf])
