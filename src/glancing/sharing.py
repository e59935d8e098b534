# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Sharing a released image with projects: names resolved to ids through Keystone
(python-keystoneclient), memberships accepted where the credentials allow, and the VO map
(``[sharing] vo_map``: a list's ``ad:vo`` to projects, the JSON cloudkeeper-os and atrope keep).

Accepting a membership is the member project's act: glancing's own credentials do it when they
are an admin's; else a ``clouds.yaml`` entry of that project (``[sharing] member_clouds``) does.
What could not be accepted is reported, never an error: the image is shared either way, and the
member can still accept it (``openstack image set --accept ID``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from glancing.errors import EnvironmentProblem, GlanceError, UsageError

log = logging.getLogger(__name__)

_ID = re.compile(r"^[0-9a-f]{32}$")


def read_vo_map(path: str) -> Dict[str, Tuple[str, ...]]:
    """``{"vo": "project" | ["project", ...]}`` -> VO -> projects. EnvironmentProblem when unusable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise EnvironmentProblem(f"[sharing] vo_map {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise EnvironmentProblem(f"[sharing] vo_map {path}: not JSON: {e}") from None
    if not isinstance(data, dict):
        raise EnvironmentProblem(f"[sharing] vo_map {path}: expected a JSON object of VO name to projects")
    mapped: Dict[str, Tuple[str, ...]] = {}
    for vo, projects in data.items():
        items = [projects] if isinstance(projects, str) else projects
        if not isinstance(items, list) or not all(isinstance(p, str) and p.strip() for p in items):
            raise EnvironmentProblem(f"[sharing] vo_map {path}: VO {vo!r}: expected a project or a list of projects")
        mapped[str(vo)] = tuple(p.strip() for p in items)
    return mapped


def vo_projects(vo_map: Mapping[str, Sequence[str]], vo: Optional[str]) -> Tuple[str, ...]:
    """The projects of ``vo`` (none when the map does not name it)."""
    return tuple(vo_map.get(vo or "", ())) if vo else ()


@dataclass
class Member:
    """One cloud's credentials: the project they act for, and how they accept a membership."""

    project_id: str
    project_name: str
    accept: Callable[[str], None]  # image id -> accept this project's membership


@dataclass
class Resolver:
    """Project names to ids: the member clouds' own projects first, then Keystone's listing
    (which needs a role allowed to list projects). ``keystone`` lists projects by name."""

    members: Sequence[Member] = ()
    keystone: Optional[Callable[[str], List[str]]] = None
    cache: Dict[str, str] = field(default_factory=dict)

    def resolve(self, wanted: str) -> str:
        if _ID.match(wanted):
            return wanted
        if wanted in self.cache:
            return self.cache[wanted]
        found = [m.project_id for m in self.members if m.project_name == wanted]
        if not found and self.keystone is not None:
            found = self.keystone(wanted)
        if len(set(found)) != 1:
            why = "no project" if not found else f"{len(set(found))} projects"
            raise UsageError(f"cannot share with {wanted!r}: Keystone shows {why} of that name to these "
                             "credentials; give the project id")
        self.cache[wanted] = found[0]
        return found[0]

    def resolve_all(self, wanted: Sequence[str]) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(self.resolve(w) for w in wanted))


def accept_all(image_id: str, projects: Sequence[str], own: Callable[[str, str], None],
               members: Sequence[Member]) -> Dict[str, str]:
    """Accept each project's membership: with its member cloud's credentials when there is one,
    else with ours (an admin may). project id -> "accepted" or why not."""
    by_project = {m.project_id: m for m in members}
    verdicts: Dict[str, str] = {}
    for project in projects:
        try:
            if project in by_project:
                by_project[project].accept(image_id)
            else:
                own(image_id, project)
            verdicts[project] = "accepted"
        except GlanceError as e:
            verdicts[project] = f"not accepted: {e}"
            log.warning("image %s is shared with %s, but its membership could not be accepted (%s); the project "
                        "can accept it: openstack image set --accept %s", image_id, project, e, image_id)
    return verdicts


def keystone_lookup(session: Any) -> Callable[[str], List[str]]:
    """A Keystone project-name lookup over a keystoneauth1 session."""
    from keystoneauth1 import exceptions as ks_errors
    from keystoneclient.v3 import client as ks_client

    keystone = ks_client.Client(session=session)

    def lookup(name: str) -> List[str]:
        try:
            return [p.id for p in keystone.projects.list(name=name)]
        except ks_errors.Forbidden:
            # Not allowed to list projects: the ones these credentials belong to, at least.
            return [p.id for p in keystone.projects.list(user=session.get_user_id()) if p.name == name]
        except ks_errors.ClientException as e:
            raise GlanceError(f"Keystone: cannot look up project {name!r}: {e}") from e
    return lookup


def resolved(target: Any, properties: Mapping[str, str], options: Any) -> Any:
    """The import options with the sharing policy's projects (the record's VO's too) and the
    quarantine's test project as ids; unknown projects fail here, before any upload."""
    if options.sharing is None:
        return options
    share = tuple(dict.fromkeys([*options.share, *options.sharing.members_for(target, properties)]))
    quarantine = options.quarantine
    if quarantine is not None and quarantine.test_project:
        quarantine = replace(quarantine, test_project=options.sharing.test_project(target, quarantine.test_project))
    return replace(options, share=share, quarantine=quarantine)


def members(target: Any, old: Sequence[Mapping[str, Any]], share: Sequence[str], visibility: str) -> Tuple[str, ...]:
    """Who a new image is shared with: the projects asked for and those of the image it replaces
    (a new version reaches the same users). A public or community image has none."""
    if visibility not in ("private", "shared"):
        if share:
            log.warning("a %s image has no members: not shared with %s", visibility, ", ".join(share))
        return ()
    inherited: List[str] = []
    if old and old[0].get("visibility") == "shared" and hasattr(target, "member_ids"):
        inherited = target.member_ids(old[0]["id"])
    return tuple(dict.fromkeys([*share, *inherited]))


__all__ = ["Member", "Resolver", "accept_all", "keystone_lookup", "members", "read_vo_map", "resolved",
           "vo_projects"]
