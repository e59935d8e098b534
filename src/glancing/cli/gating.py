# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Quarantine and sharing options (issue 14), shared by glancing and glance_manager: the
``[quarantine]`` and ``[sharing]`` settings turned into what the pipeline takes, and the member
clouds that accept memberships."""

from __future__ import annotations

import argparse
import logging
import os
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from glancing.errors import UsageError
from glancing.quarantine import checks as _checks
from glancing.quarantine.gate import QuarantinePolicy
from glancing.quarantine.inspect import InspectOptions, available
from glancing.settings import Settings
from glancing.sharing import Member, Resolver, accept_all, keystone_lookup, read_vo_map, vo_projects

log = logging.getLogger(__name__)

def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("quarantine and sharing")
    group.add_argument("--quarantine", action="store_const", const=True, default=None,
                       help="hold the verified image hidden until the [quarantine] checks pass "
                            "([quarantine] enabled); a failure leaves it there tagged glancing-rejected (exit 1)")
    group.add_argument("--share", action="append", default=[], metavar="PROJECT",
                       help="share the released image with PROJECT (name or id; repeatable) [[sharing] projects]")
    group.add_argument("--protected", action="store_const", const=True, default=None,
                       help="set Glance's protected flag on release ([glance] protected)")


def quarantine_policy(settings: Settings, env: Mapping[str, str], tmp_dir: Optional[str] = None,
                      dry_run: bool = False) -> Optional[QuarantinePolicy]:
    """The quarantine the settings ask for (None when disabled). Unknown check names are a usage
    error; missing libguestfs an environment problem, raised before anything is uploaded."""
    if not settings.get("quarantine", "enabled"):
        return None
    try:
        enabled = _checks.parse_checks(" ".join(settings.get("quarantine", "checks")))
    except ValueError as e:
        raise UsageError(f"[quarantine] checks: {e}") from None
    scripts = settings.get("quarantine", "scripts")
    if scripts and not os.path.isdir(scripts):
        raise UsageError(f"[quarantine] scripts: {scripts} is not a directory")
    inspect = InspectOptions(tcg=settings.get("quarantine", "tcg"), timeout=settings.get("quarantine", "inspect_timeout"),
                             python=settings.get("quarantine", "python"),
                             agents=tuple(settings.get("quarantine", "agents")), tmp_dir=tmp_dir)
    if enabled and not dry_run:
        available(inspect)
    return QuarantinePolicy(checks=enabled, scripts=scripts, script_timeout=settings.get("quarantine", "script_timeout"),
                            test_project=settings.get("quarantine", "test_project"), inspect=inspect,
                            spool_dir=tmp_dir, env=dict(env))


def member_clouds(names: Sequence[str]) -> List[Member]:
    """The member projects whose clouds.yaml entries are configured: their ids, names, and an
    accept with their own credentials."""
    from glancing.targets.glance.auth import glance_client
    from glancing.targets.glance.store import GlanceStore, MemberStore

    found: List[Member] = []
    for name in names:
        store = GlanceStore(glance_client(argparse.Namespace(openstack_dests=("os_cloud",)), cloud=name))
        session = store.session
        access = session.auth.get_access(session)
        project = str(access.project_id)
        members = MemberStore(store)
        found.append(Member(project, str(access.project_name),
                            lambda image_id, m=members, p=project: m.set_status(image_id, p, "accepted")))
    return found


class Sharing:
    """The pipeline's sharing policy: --share (else [sharing] projects) and the VO map's projects
    for the record's VO, resolved to ids; memberships accepted after the release. The member
    clouds are connected on first use, once (the manager's jobs share it)."""

    def __init__(self, settings: Settings, names: Sequence[str] = (), vo: Optional[str] = None) -> None:
        self.names = tuple(names) or tuple(settings.get("sharing", "projects"))
        path = settings.get("sharing", "vo_map")
        self.vo_map = read_vo_map(path) if path else {}  # a bad map fails before anything is done
        self.vo = vo
        self.clouds = tuple(settings.get("sharing", "member_clouds"))
        self._lock = threading.Lock()
        self._members: Optional[List[Member]] = None
        self._resolver: Optional[Resolver] = None

    def _ready(self, target: Any) -> Resolver:
        if not hasattr(target, "members"):
            raise UsageError("sharing with projects (--share, [sharing]) is Glance's: an OpenNebula image "
                             "reaches users through [opennebula] group and permissions")
        with self._lock:
            if self._resolver is None:
                self._members = member_clouds(self.clouds)
                session = target.store.session
                self._resolver = Resolver(self._members, keystone_lookup(session) if session is not None else None)
            return self._resolver

    def members_for(self, target: Any, properties: Mapping[str, str]) -> Tuple[str, ...]:
        """The projects to share with, as ids; ``properties``: the record's (its VO)."""
        vo = self.vo or properties.get("vmcatcher_event_vo")
        wanted = [*self.names, *vo_projects(self.vo_map, vo)]
        if vo and self.vo_map and not vo_projects(self.vo_map, vo):
            log.info("VO %s is not in the VO map: shared with no VO project", vo)
        return self._ready(target).resolve_all(wanted) if wanted else ()

    def test_project(self, target: Any, name: str) -> str:
        return self._ready(target).resolve(name)

    def accept(self, target: Any, image_id: str, projects: Sequence[str]) -> Dict[str, str]:
        self._ready(target)
        own = lambda image, project: target.members.set_status(image, project, "accepted")  # noqa: E731
        return accept_all(image_id, projects, own, self._members or [])


__all__ = ["Sharing", "add_options", "member_clouds", "quarantine_policy"]
