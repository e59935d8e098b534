# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager with [quarantine] enabled, on the real lab and the loopback marketplace: a
rejected record is not retried; a person lists, releases (--force) or rejects it. A site script
decides here (checks = none): no libguestfs launch is needed for the manager's part."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from test_manager_glance import Site


@pytest.fixture
def site(tmp_path, http_server, marketplace, pki, run_cli, lab, glance, glance_cleanup, monkeypatch) -> Site:
    (tmp_path / "www").mkdir()
    checks = tmp_path / "checks.d"
    checks.mkdir()
    script = checks / "10-policy"
    script.write_text("#!/bin/sh\necho 'image refused by site policy'\nexit 1\n")
    script.chmod(0o755)
    conf = tmp_path / "glancing.conf"
    conf.write_text(f"[quarantine]\nenabled = yes\nchecks = none\nscripts = {checks}\n")
    monkeypatch.setenv("GLANCING_CONFIG", str(conf))  # the commands run_cli starts read it
    return Site(tmp_path, http_server(tmp_path / "www"), marketplace, pki, run_cli, lab, glance)


def _manager(site: Site, *args: str) -> Any:
    return site._run_cli("glance_manager", *args, "--lock", str(site.lock))


def _rejected(site: Site, name: str) -> List[Dict[str, Any]]:
    return [i for i in site.images(name) if "glancing-rejected" in i["tags"]]


def test_rejected_record_is_not_retried_until_a_person_releases_it(site: Site) -> None:
    mpid = site.publish("Quar", "1")
    out = site.report(ids=[mpid], code=8)
    assert "stays in quarantine: failed script:10-policy" in out["images"][0]["message"], out
    [held] = _rejected(site, "Quar")
    assert held["os_hidden"] and held["visibility"] == "private" and held["mpid"] == mpid
    assert held["glancing_check_script_10_policy"] == "exit status 1. image refused by site policy"

    gets = site.image_gets()
    again = site.report(ids=[mpid], code=8)
    assert again["images"][0]["status"] == "refused", again
    assert f"failed quarantine (script:10-policy)" in again["images"][0]["message"]
    assert site.image_gets() == gets  # not downloaded again

    listing = _manager(site, "quarantine", "--json")
    assert listing.returncode == 0, listing.stderr
    mine = [r for r in json.loads(listing.stdout) if r["id"] == held["id"]]
    assert mine == [{"id": held["id"], "name": site.title("Quar"), "state": "rejected",
                     "failed": "script:10-policy", "since": held["glancing_rejected_at"]}]

    refused = _manager(site, "release", held["id"])
    assert refused.returncode == 2 and "--force" in refused.stderr
    forced = _manager(site, "release", held["id"], "--force")
    assert forced.returncode == 0, forced.stderr
    image = site.glance.images.get(held["id"])
    assert (image["name"], image["os_hidden"], image["status"]) == (site.title("Quar"), False, "active")
    assert "glancing-rejected" not in image["tags"] and image["glancing_quarantine_decided"].startswith("released")
    # Now it is the appliance's current image: the next run has nothing to do.
    done = site.report(ids=[mpid])
    assert done["images"][0]["action"] == "nothing", done


def test_reject_deactivates_and_keeps_the_record_out(site: Site) -> None:
    mpid = site.publish("Nope", "1")
    site.report(ids=[mpid], code=8)
    [held] = _rejected(site, "Nope")
    res = _manager(site, "reject", held["id"])
    assert res.returncode == 0, res.stderr
    image = site.glance.images.get(held["id"])
    assert image["status"] == "deactivated" and image["glancing_quarantine_decided"].startswith("rejected")
    again = site.report(ids=[mpid], code=8)
    assert again["images"][0]["status"] == "refused"
    not_held = _manager(site, "reject", "00000000-0000-0000-0000-000000000000")
    assert not_held.returncode == 4
