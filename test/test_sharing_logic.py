# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The VO map, project name resolution and acceptance bookkeeping (pure logic; the Glance side
is test_sharing_glance)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from glancing.errors import EnvironmentProblem, GlanceError, UsageError
from glancing.sharing import Member, Resolver, accept_all, read_vo_map, vo_projects

ROOT = Path(__file__).resolve().parent.parent
ID_A = "a" * 32


def test_vo_map_example_reads_and_maps() -> None:
    mapped = read_vo_map(str(ROOT / "etc" / "vo-projects.json.example"))
    assert mapped["cms"] == ("cms-prod", "cms-test") and mapped["atlas"] == ("atlas-project",)
    assert vo_projects(mapped, "cms") == ("cms-prod", "cms-test")
    assert vo_projects(mapped, "unknown.vo") == () and vo_projects(mapped, None) == ()


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "expected a JSON object"),
    ('{"atlas": 3}', "VO 'atlas': expected a project or a list"),
    ('{"atlas": ["ok", ""]}', "VO 'atlas'"),
    ("{nope", "not JSON"),
])
def test_bad_vo_map_is_an_environment_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "vo.json"
    path.write_text(text)
    with pytest.raises(EnvironmentProblem, match=message):
        read_vo_map(str(path))
    with pytest.raises(EnvironmentProblem, match="No such file"):
        read_vo_map(str(tmp_path / "missing.json"))


def test_resolver_ids_member_clouds_then_keystone() -> None:
    asked: List[str] = []

    def keystone(name: str) -> List[str]:
        asked.append(name)
        return {"ops": ["b" * 32], "twice": ["c" * 32, "d" * 32]}.get(name, [])

    resolver = Resolver([Member(ID_A, "second", lambda image: None)], keystone)
    assert resolver.resolve_all([ID_A, "second", "ops", "ops"]) == (ID_A, "b" * 32)
    assert asked == ["ops"]  # an id and a member cloud's project need no lookup; answers are kept
    for name, why in (("nobody", "no project"), ("twice", "2 projects")):
        with pytest.raises(UsageError, match=f"cannot share with '{name}': Keystone shows {why}"):
            resolver.resolve(name)


def test_accept_uses_member_credentials_else_ours_and_reports_failures() -> None:
    done: List[str] = []

    def own(image: str, project: str) -> None:
        if project == "c" * 32:
            raise GlanceError("403 Forbidden")
        done.append(f"own:{project[:1]}")

    members = [Member(ID_A, "second", lambda image: done.append("member:a"))]
    verdicts = accept_all("img", [ID_A, "b" * 32, "c" * 32], own, members)
    assert done == ["member:a", "own:b"]
    assert verdicts == {ID_A: "accepted", "b" * 32: "accepted", "c" * 32: "not accepted: 403 Forbidden"}
    assert json.dumps(verdicts)
