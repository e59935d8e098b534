# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Helpers for the OpenNebula target's tests: a simulated front-end per test (``one_sim``), the
target connected to it, and an auth file as OpenNebula's tools read it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

import pytest

from glancing.targets.opennebula import OneSettings, OpenNebulaTarget, connect
from onesim import OneSim


@pytest.fixture
def one_sim(tmp_path: Path) -> Iterator[OneSim]:
    sim = OneSim(str(tmp_path / "oned")).start()
    yield sim
    sim.stop()


def one_target(sim: OneSim, spool: Path, **changes: Any) -> OpenNebulaTarget:
    """The target on ``sim`` as oneadmin, polling fast; ``changes`` override OneSettings fields."""
    spool.mkdir(parents=True, exist_ok=True)
    settings = OneSettings(endpoint=sim.url, session="oneadmin:opennebula", poll=0.01, ready_timeout=10,
                           path_prefix=str(spool))
    return connect(dataclasses.replace(settings, **changes))


def auth_file(tmp_path: Path, line: str = "oneadmin:opennebula") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "one_auth"
    path.write_text(line + "\n")
    path.chmod(0o600)
    return path


def one_env(sim: OneSim, tmp_path: Path, line: str = "oneadmin:opennebula") -> dict:
    """The environment OpenNebula's own CLI would use to reach ``sim``."""
    return {"ONE_XMLRPC": sim.url, "ONE_AUTH": str(auth_file(tmp_path, line)), "GLANCING_TARGET_KIND": "opennebula"}
