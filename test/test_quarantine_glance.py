# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glancing --quarantine against the real Glance lab, with real libguestfs inspections.

libguestfs costs 30-80 s a launch here, so the suite inspects TWO images, once each (module
fixtures): a clean Debian-like root (released, shared, accepted) and a dirty one (a root password
hash, an authorized_keys, a host key, shell history, no cloud-init: rejected). Each check's own
pass/fail logic is tested on recorded inspections in test_checks_verdict. Site scripts run here
without inspection (checks = none): they need no appliance.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from guestkit import PASSWORD_SHADOW, linux_tree, qcow2_of
from sharekit import run_glancing, second_glance

def _glancing(lab: Any, config: Path, *args: str) -> subprocess.CompletedProcess:
    return run_glancing(lab, config, *args, timeout=900)  # two libguestfs launches at most


def _named(admin: Any, name: str) -> List[Dict[str, Any]]:
    found = list(admin.images.list(filters={"name": name}))
    found += list(admin.images.list(filters={"name": name, "os_hidden": True}))
    return [dict(i) for i in found]


def _members(admin: Any, image_id: str) -> Dict[str, str]:
    return {m["member_id"]: m["status"] for m in admin.image_members.list(image_id)}


def _tagged(admin: Any, tag: str) -> List[Dict[str, Any]]:
    return [dict(i) for i in admin.images.list(filters={"tag": [tag], "os_hidden": True})]


class Run:
    def __init__(self, name: str, old_id: str, result: subprocess.CompletedProcess) -> None:
        self.name, self.old_id, self.result = name, old_id, result


def _current(lab: Any, config: Path, tmp: Path, name: str, *extra: str) -> str:
    old = tmp / "old.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(old), "1M"], check=True)
    res = _glancing(lab, config, "-q", "-n", name, "--visibility", "private", *extra, str(old))
    assert res.returncode == 0, res.stderr
    return [i for i in _named(lab.admin_glance(), name) if not i["os_hidden"]][0]["id"]


def _cleanup(lab: Any, name: str, old_id: str) -> None:
    """Delete what one module fixture made: its images of that name, the retired one, the held one."""
    admin = lab.admin_glance()
    held = [i for i in _tagged(admin, "glancing-quarantine") if i.get("glancing_quarantine_name") == name]
    for image_id in {old_id, *(i["id"] for i in _named(admin, name) + held)}:
        admin.images.update(image_id, protected=False)
        admin.images.delete(image_id)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("quarantine") / "glancing.conf"
    path.write_text("[quarantine]\ntcg = yes\ntest_project = second\n[sharing]\nmember_clouds = lab-second\n")
    return path


@pytest.fixture(scope="module")
def released(lab: Any, config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("clean")
    name = f"quar-clean-{uuid.uuid4().hex[:8]}"
    old_id = _current(lab, config, tmp, name, "--protected")
    image = qcow2_of(linux_tree(tmp / "root"), tmp / "clean.qcow2")
    res = _glancing(lab, config, "--json", "--quarantine", "--share", "second", "--protected", "-n", name,
                    "--property", "os_distro=debian", "--property", "os_version=12", str(image))
    yield Run(name, old_id, res)
    _cleanup(lab, name, old_id)


@pytest.fixture(scope="module")
def rejected(lab: Any, config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("dirty")
    name = f"quar-dirty-{uuid.uuid4().hex[:8]}"
    old_id = _current(lab, config, tmp, name)
    tree = linux_tree(tmp / "root", {"etc/shadow": PASSWORD_SHADOW, "root/.ssh/authorized_keys": "ssh-ed25519 AAAA x\n",
                                     "etc/ssh/ssh_host_ed25519_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
                                     "home/debian/.bash_history": "sudo -i\n"}, cloud_init=False)
    image = qcow2_of(tree, tmp / "dirty.qcow2")
    res = _glancing(lab, config, "--quarantine", "--share", "second", "-n", name, str(image))
    yield Run(name, old_id, res)
    _cleanup(lab, name, old_id)


def test_clean_image_passes_and_is_released_shared_and_accepted(lab: Any, released: Run) -> None:
    import json

    assert released.result.returncode == 0, released.result.stderr
    out = json.loads(released.result.stdout)
    assert out["checks"]["passed"] is True
    assert {c["name"]: c["status"] for c in out["checks"]["checks"]} == {
        "no-passwords": "pass", "no-authorized-keys": "pass", "no-host-keys": "pass", "no-history": "pass",
        "cloud-init": "pass", "os-matches": "pass"}
    admin = lab.admin_glance()
    new = dict(admin.images.get(out["image_id"]))
    second_id = second_glance().http_client.get_project_id()
    assert (new["name"], new["visibility"], new["os_hidden"], new["protected"]) == (released.name, "shared", False, True)
    assert "glancing-quarantine" not in new["tags"] and "glancing-pending" not in new["tags"]
    # Shared with the second project only (the test project is that same project here), accepted
    # with its own clouds.yaml credentials, and visible in its listing.
    assert _members(admin, new["id"]) == {second_id: "accepted"}
    assert out["acceptance"] == {second_id: "accepted"}
    assert new["id"] in {i["id"] for i in second_glance().images.list(filters={"name": released.name})}


def test_released_image_retires_the_old_one_unprotected(lab: Any, released: Run) -> None:
    old = dict(lab.admin_glance().images.get(released.old_id))
    assert old["os_hidden"] is True and old["protected"] is False and "glancing-backup" in old["tags"]
    assert old["status"] == "active"


def test_dirty_image_is_rejected_and_kept_hidden_private_unshared(lab: Any, rejected: Run) -> None:
    res = rejected.result
    assert res.returncode == 1, res.stderr
    assert "stays in quarantine: failed no-passwords, no-authorized-keys, no-host-keys, no-history, cloud-init" \
        in res.stderr
    admin = lab.admin_glance()
    held = [i for i in _tagged(admin, "glancing-rejected") if i.get("glancing_quarantine_name") == rejected.name]
    assert len(held) == 1
    image = held[0]
    assert (image["visibility"], image["os_hidden"], image["status"]) == ("private", True, "active")
    assert set(image["tags"]) == {"glancing", "glancing-quarantine", "glancing-rejected"}
    assert not any(k.startswith("glancing_pending") for k in image)  # never cleaned up as a leftover
    assert image["glancing_rejected_checks"] == "no-passwords,no-authorized-keys,no-host-keys,no-history,cloud-init"
    assert image["glancing_check_no_host_keys"].endswith("/etc/ssh/ssh_host_ed25519_key")
    from glanceclient import exc

    with pytest.raises(exc.HTTPNotFound):  # the test project no longer sees it: private, no members
        second_glance().images.get(image["id"])
    # The current image stays current, and nothing else of that name appeared.
    visible = [i for i in _named(admin, rejected.name) if not i["os_hidden"]]
    assert [i["id"] for i in visible] == [rejected.old_id]


def _script_config(tmp_path: Path, body: str, timeout: float = 30) -> Path:
    checks = tmp_path / "checks.d"
    checks.mkdir()
    script = checks / "10-site"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    conf = tmp_path / "glancing.conf"
    conf.write_text(f"[quarantine]\nchecks = none\nscripts = {checks}\nscript_timeout = {timeout}\n")
    return conf


@pytest.mark.parametrize("body, timeout, verdict", [
    ('test -s "$1" && test -n "$GLANCING_IMAGE_ID"\n', 30, None),
    ("echo 'site policy: no swap allowed'\nexit 4\n", 30, "exit status 4. site policy: no swap allowed"),
    ("sleep 30\n", 1, "ran longer than 1 s and was killed"),
])
def test_site_script_decides(lab: Any, glance_cleanup: Any, tmp_path: Path, body: str, timeout: float,
                             verdict: Any) -> None:
    name = f"quar-script-{uuid.uuid4().hex[:8]}"
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "2M"], check=True)
    res = _glancing(lab, _script_config(tmp_path, body, timeout), "--quarantine", "-n", name, str(image))
    admin = lab.admin_glance()
    if verdict is None:
        assert res.returncode == 0, res.stderr
        assert [i["os_hidden"] for i in _named(admin, name)] == [False]
        return
    assert res.returncode == 1 and "failed script:10-site" in res.stderr
    held = [i for i in _tagged(admin, "glancing-rejected") if i.get("glancing_quarantine_name") == name]
    assert len(held) == 1 and held[0]["glancing_check_script_10_site"].startswith(verdict)
    assert _named(admin, name) == []


def test_held_image_is_hidden_and_shared_with_the_test_project_alone_until_rejected(lab: Any) -> None:
    import io

    from glancing.targets.base import Payload, PendingMark, StageRequest
    from labtarget import lab_target, remove

    target = lab_target(lab)
    second_id = second_glance().http_client.get_project_id()
    name = f"quar-held-{uuid.uuid4().hex[:8]}"
    try:
        staged = target.stage(StageRequest(name, "raw", "bare", PendingMark.here("glancing")),
                              Payload(stream=io.BytesIO(b"\0" * 4096)))
        target.hold(staged, second_id)
        image = target.get(staged.id)
        assert (image["visibility"], image["os_hidden"]) == ("shared", True)
        assert "glancing-quarantine" in image["tags"] and "glancing-pending" in image["tags"]
        assert target.member_ids(staged.id) == [second_id]
        target.reject(staged.id, name, {"glancing_rejected_checks": "no-history"})
        image = target.get(staged.id)
        assert (image["visibility"], image["os_hidden"], image["glancing_quarantine_name"]) == ("private", True, name)
        assert target.member_ids(staged.id) == []
    finally:
        remove(lab.admin_glance(), target.store.created)
