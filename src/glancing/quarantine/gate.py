# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The quarantine gate, between "the stored copy is exactly what was verified" and the release.

The staged upload is held (hidden, tagged ``glancing-quarantine``, shared with no one but the
test project), spooled to a local file once, inspected once, handed to the site scripts; all pass
and the pipeline releases it as usual; any fails and it is marked rejected and stays where it is,
hidden and unshared, and ``QuarantineRejected`` (exit 1) is raised: the current image stays
current. Any other failure here propagates and the pipeline discards the upload.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from glancing.dataflow import FlowResult
from glancing.model import ImageSpec
from glancing.quarantine import checks as _checks
from glancing.quarantine import inspect as _inspect
from glancing.quarantine.checks import Claims, Outcome, Status
from glancing.quarantine.scripts import ScriptContext, run_scripts
from glancing.quarantine.verdict import QuarantineRejected, Verdict
from glancing.targets.base import Staged

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuarantinePolicy:
    """``[quarantine]`` as the pipeline takes it (built by the CLIs from Settings)."""

    checks: Tuple[str, ...] = tuple(_checks.CHECKS)
    scripts: Optional[str] = None          # directory of site check scripts
    script_timeout: float = 600.0
    test_project: Optional[str] = None     # the one project a held image is shared with
    inspect: _inspect.InspectOptions = _inspect.InspectOptions()
    spool_dir: Optional[str] = None        # where the temporary spool goes (None: the system's)
    env: Mapping[str, str] = field(default_factory=dict)  # the environment scripts and libguestfs inherit


@dataclass(frozen=True)
class Held:
    """What the gate needs of an import: the staged image and what the record says."""

    image_id: str
    name: str
    disk_format: str
    properties: Mapping[str, str]          # the image's properties as it would be released
    local_file: Optional[str] = None       # the bytes as stored, already on local disk (a cache file)


class Spooler:
    """Where the checks read the image: a local file holding exactly the stored bytes."""

    def __init__(self, download: Any) -> None:
        self.download = download  # image id -> iterator of bytes (the target's download)

    @contextmanager
    def spool(self, held: Held, spool_dir: Optional[str]) -> Iterator[str]:
        if held.local_file:
            yield held.local_file
            return
        fd, path = tempfile.mkstemp(prefix="glancing-quarantine-", suffix=f".{held.disk_format}", dir=spool_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.download(held.image_id):
                    out.write(chunk)
            yield path
        finally:
            os.unlink(path)


def local_copy(spec: ImageSpec, flow: FlowResult) -> Optional[str]:
    """The local file (a path source, a cache file) holding exactly the stored bytes, if any:
    the checks then read it instead of a spool downloaded back."""
    if len(spec.locations) != 1 or flow.compression is not None:
        return None
    url = spec.locations[0].url
    path = url[len("file://"):] if url.startswith("file://") else url
    if "://" in path or not os.path.isfile(path) or os.path.getsize(path) != flow.size:
        return None
    return path


def builtin_outcomes(path: str, held: Held, policy: QuarantinePolicy) -> List[Outcome]:
    """The built-in checks on ONE inspection of the image."""
    if not policy.checks:
        return []
    try:
        found = _inspect.inspect(path, held.disk_format, policy.inspect, base_env=policy.env)
    except _inspect.InspectionFailed as e:
        return [Outcome("inspection", Status.FAIL, f"libguestfs could not inspect the image: {e}")]
    log.info("inspected %s: %s %s", held.image_id, found.os_type, dict(found.os or {}))
    return _checks.run_checks(found, Claims.from_properties(held.properties), policy.checks)


def script_fields(properties: Mapping[str, str]) -> dict:
    """The record's fields as the scripts see them: the image's ``vmcatcher_event_*`` properties
    under their VMCATCHER_EVENT_* names, and every property as GLANCING_PROPERTY_<KEY>."""
    fields = {}
    for key, value in properties.items():
        if key.startswith("vmcatcher_event_"):
            fields[key.upper()] = value
        safe = "".join(c if c.isalnum() else "_" for c in key).upper()
        fields[f"GLANCING_PROPERTY_{safe}"] = value
    return fields


def judge(target: Any, held: Held, policy: QuarantinePolicy) -> Verdict:
    """Hold, spool, inspect, run the scripts: the verdict. Raises QuarantineRejected (after
    marking the image rejected) when a check failed; any other error propagates."""
    target.hold(Staged(held.image_id, held.name), policy.test_project)
    with Spooler(target.download).spool(held, policy.spool_dir) as path:
        outcomes = builtin_outcomes(path, held, policy)
        context = ScriptContext(path, held.image_id, held.disk_format, script_fields(held.properties))
        outcomes += run_scripts(policy.scripts, context, policy.script_timeout, policy.env)
    verdict = Verdict(outcomes)
    for outcome in outcomes:
        log.info("quarantine check %s: %s %s", outcome.name, outcome.status.value, outcome.detail)
    if not verdict.passed:
        target.reject(held.image_id, held.name, {**held.properties, **verdict.properties()})
        raise QuarantineRejected(held.image_id, verdict)
    return verdict


def quarantine(target: Any, held: Held, policy: Optional[QuarantinePolicy]) -> Optional[Verdict]:
    """The verdict on a staged image, None when there is no quarantine."""
    if policy is None:
        return None
    return judge(target, held, policy)


__all__ = ["Held", "quarantine", "QuarantinePolicy", "Spooler", "builtin_outcomes", "judge", "local_copy", "script_fields"]
