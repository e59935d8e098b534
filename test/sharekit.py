# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What the quarantine and sharing lab tests both need: glancing run with a config file of the
test's own, and a Glance client of the lab's second project (the member side of a share)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
LABCONF = sys.modules["glancing_labconf"]


def run_glancing(lab: Any, config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``glancing ARGS`` as the demo user, with ``config`` as its only config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(lab.env, GLANCING_CONFIG=str(config))
    return subprocess.run([str(BIN / "glancing"), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def second_glance() -> Any:
    """A glanceclient v2 client as the lab's second user, in its own project."""
    from glanceclient import Client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    who = LABCONF.SECOND
    auth = v3.Password(auth_url=LABCONF.AUTH_URL, username=who["username"], password=who["password"],
                       project_name=who["project"], user_domain_name="Default", project_domain_name="Default")
    return Client("2", session=session.Session(auth=auth))


__all__ = ["run_glancing", "second_glance"]
