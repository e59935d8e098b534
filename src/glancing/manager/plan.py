# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The decision glance_manager takes for one listed ID, from the record and a snapshot of Glance.

Pure: ``plan_image`` reads a ``Candidate`` (what the checked record describes) and the run's
``Snapshot``; the caller carries the decision out. An appliance is the Glance name (the record
title); a new image version has a new marketplace ID, because the ID is the image's SHA-1.
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from glancing.errors import RecordError
from glancing.manager.images import ManagedImage, Snapshot, parse_timestamp
from glancing.formats.versions import VersionInfo, comparable, compare_versions
from glancing.model import DigestScope, ImageSpec
from glancing.targets import names

# Digests strong enough to take a hand-uploaded image for the listed one.
_WEAK = frozenset({"md5", "sha1"})


class Action(enum.Enum):
    """What to do for one listed ID."""

    NOTHING = "nothing"    # already current, same mpid and digest
    IMPORT = "import"      # first import of the appliance
    UPGRADE = "upgrade"    # import the new version, verify it, then retire the current one
    RESTORE = "restore"    # the newer version is already kept as a backup: promote it, no upload
    ADOPT = "adopt"        # an unmanaged image has the same digest: manage it, no upload
    REFUSE = "refuse"      # downgrade, rolled-back version, or a conflict a human must resolve


@dataclass(frozen=True)
class Candidate:
    """The image a checked record describes, as far as the plan needs it."""

    mpid: str
    appliance: str
    version: Optional[str] = None
    endorsed: Optional[_dt.datetime] = None
    digests: Mapping[str, str] = field(default_factory=dict)  # of the bytes stored in Glance
    size: Optional[int] = None

    @property
    def version_info(self) -> VersionInfo:
        """Version and endorsement date, for ``versions.compare_versions``."""
        return VersionInfo(self.version, self.endorsed)

    @property
    def label(self) -> str:
        """``appliance version (mpid)`` for log lines."""
        version = f" {self.version}" if self.version else ""
        return f"{self.appliance}{version} ({self.mpid})"

    @classmethod
    def from_spec(cls, spec: ImageSpec, mpid: str) -> "Candidate":
        """The candidate for a record fetched for ``mpid``.

        Digests are kept only when they describe the uncompressed image (StratusLab records),
        i.e. the bytes Glance stores. Raises RecordError when the record yields no image name.
        """
        if not spec.name:
            raise RecordError(f"record {mpid} gives no image name (no title, no os/version/arch)")
        uploaded = spec.expected.scope is DigestScope.UNCOMPRESSED
        return cls(
            mpid=mpid,
            appliance=spec.name,
            version=spec.version or None,
            endorsed=parse_timestamp(spec.properties.get(names.PROP_ENDORSED)),
            digests={k.lower(): v.lower() for k, v in spec.expected.digests.items()} if uploaded else {},
            size=spec.expected.size if uploaded else None,
        )


@dataclass(frozen=True)
class Decision:
    """The plan for one ID: the action, why, and the Glance images it involves."""

    action: Action
    candidate: Candidate
    reason: str
    target: Optional[ManagedImage] = None   # the existing image kept, promoted or adopted
    retire: Optional[ManagedImage] = None   # the current image to retire once the new one is in

    @property
    def uploads(self) -> bool:
        """True when carrying the decision out uploads an image."""
        return self.action in (Action.IMPORT, Action.UPGRADE)

    def describe(self) -> str:
        """One log line: ``<action> <appliance> <version> (<mpid>): <reason>``."""
        return f"{self.action.value} {self.candidate.label}: {self.reason}"


def digest_match(image: ManagedImage, digests: Mapping[str, str], size: Optional[int] = None) -> Optional[bool]:
    """Whether Glance's own digests of ``image`` agree with ``digests``.

    True when every digest both sides know agrees (md5 with ``checksum``, the ``os_hash_algo``
    one with ``os_hash_value``, the ``glancing_<alg>`` and ``glancing_original_<alg>`` properties;
    only these for a converted image), False when one differs or the sizes differ, None when
    nothing can be compared. Raises nothing.
    """
    pairs = []
    # A converted disk or an OVA's disk: Glance's size and digests are of other bytes than the
    # source's; only the digests glancing verified and recorded describe the source.
    if not any(image.properties.get(p) for p in names.TRANSFORMED_PROPS):
        if size is not None and image.size is not None and size != image.size:
            return False
        if image.checksum and "md5" in digests:
            pairs.append((image.checksum, digests["md5"]))
        algo = (image.os_hash_algo or "").lower()
        if image.os_hash_value and algo in digests:
            pairs.append((image.os_hash_value, digests[algo]))
    pairs.extend((image.properties[names.PROP_ORIGINAL_PREFIX + alg], value) for alg, value in digests.items()
                 if image.properties.get(names.PROP_ORIGINAL_PREFIX + alg))
    # The import pipeline records the digests it verified as glancing_<alg> properties.
    pairs.extend((image.properties[names.PROP_DIGEST_PREFIX + alg], value) for alg, value in digests.items()
                 if image.properties.get(names.PROP_DIGEST_PREFIX + alg))
    if not pairs:
        return None
    return all(a.lower() == b.lower() for a, b in pairs)


def _strong_match(image: ManagedImage, candidate: Candidate) -> bool:
    algo = (image.os_hash_algo or "").lower()
    strong = bool(image.os_hash_value) and algo not in _WEAK and algo in candidate.digests
    return strong and image.status == "active" and digest_match(image, candidate.digests, candidate.size) is True


def _conflict(candidate: Candidate, image: ManagedImage) -> Decision:
    return Decision(Action.REFUSE, candidate, (
        f"Glance image {image.id} ({image.name}) carries this mpid but its digest or size differs "
        "from the record; inspect it and delete or re-tag it by hand"), target=image)


def _from_current(candidate: Candidate, image: ManagedImage, snapshot: Snapshot) -> Decision:
    if digest_match(image, candidate.digests, candidate.size) is False:
        return _conflict(candidate, image)
    where = "" if image.name == candidate.appliance else f" (named {image.name!r})"
    others = [i for i in snapshot.appliance(image.appliance).current if i.id != image.id]
    if len(others) == 1 and compare_versions(others[0].version_info, candidate.version_info) <= 0:
        # A run killed between publishing the new image and retiring the old one left both current.
        return Decision(Action.NOTHING, candidate, (
            f"present as {image.id}{where}; retiring {others[0].id}, left current by an interrupted run"),
            target=image, retire=others[0])
    return Decision(Action.NOTHING, candidate, f"present as {image.id}{where}", target=image)


def _from_backup(candidate: Candidate, backup: ManagedImage, current: Optional[ManagedImage]) -> Decision:
    if backup.rolled_back:
        return Decision(Action.REFUSE, candidate, (
            f"rolled back from (backup {backup.id}); remove the ID from the list, or clear the "
            f"property glancing_rolled_back on {backup.id} to allow it again"), target=backup)
    if digest_match(backup, candidate.digests, candidate.size) is False:
        return _conflict(candidate, backup)
    if backup.status != "active":
        return Decision(Action.REFUSE, candidate, (
            f"kept as backup {backup.id} but it is {backup.status or 'not active'}; "
            "delete it to allow a fresh import"), target=backup)
    if current is None:
        return Decision(Action.RESTORE, candidate, f"no current image; promoting backup {backup.id}",
                        target=backup)
    order = compare_versions(candidate.version_info, current.version_info)
    if comparable(candidate.version_info, current.version_info) and order > 0:
        return Decision(Action.RESTORE, candidate, (
            f"newer than current {_version_of(current)} ({current.id}); promoting backup {backup.id}"),
            target=backup, retire=current)
    return Decision(Action.REFUSE, candidate, (
        f"downgrade refused: already retired as backup {backup.id}, current is "
        f"{_version_of(current)} ({current.id})"), target=backup)


def _version_of(image: ManagedImage) -> str:
    return f"version {image.version}" if image.version else "unversioned"


def _versus_current(candidate: Candidate, current: ManagedImage, adopt: Optional[ManagedImage]) -> Decision:
    mine, theirs = candidate.version_info, current.version_info
    order = compare_versions(mine, theirs)
    if not comparable(mine, theirs):
        why = f"replaces {current.id}: versions cannot be ordered (no endorsement date), the listed ID wins"
    elif order > 0:
        why = f"newer than current {_version_of(current)} ({current.id})"
    elif order < 0:
        return Decision(Action.REFUSE, candidate, (
            f"downgrade refused: current {_version_of(current)} ({current.id}) is newer"))
    else:
        return Decision(Action.REFUSE, candidate, (
            f"same version and endorsement date as current {current.id} but a different image; "
            "refusing to replace it"))
    if adopt is not None:
        return Decision(Action.ADOPT, candidate, f"{why}; adopting unmanaged image {adopt.id} (same digest)",
                        target=adopt, retire=current)
    return Decision(Action.UPGRADE, candidate, why, retire=current)


def plan_image(candidate: Candidate, snapshot: Snapshot, unmanaged: Sequence[ManagedImage] = ()) -> Decision:
    """Decide what to do for one listed ID. Raises nothing: conflicts are REFUSE decisions.

    ``unmanaged`` holds the images without the ``glancing`` tag that the store found with the
    record's digest; one of them is adopted only when a strong digest (not md5/sha1) matches.
    """
    rejected = snapshot.rejected_for(candidate.mpid, candidate.digests)
    if rejected is not None:
        failed = rejected.properties.get(names.PROP_REJECTED_CHECKS) or "checks"
        return Decision(Action.REFUSE, candidate, (
            f"image {rejected.id} of this record failed quarantine ({failed}): not retried until the record "
            f"changes, or a person runs glance_manager release {rejected.id} --force, or reject {rejected.id}"))
    same = snapshot.with_mpid(candidate.mpid)
    currents = [i for i in same if not i.is_backup]
    if currents:
        return _from_current(candidate, currents[-1], snapshot)
    appliance = snapshot.appliance(candidate.appliance)
    if len(appliance.current) > 1:
        ids = ", ".join(i.id for i in appliance.current)
        return Decision(Action.REFUSE, candidate, (
            f"several current images named {candidate.appliance!r} ({ids}); keep one by hand"))
    current = appliance.current[0] if appliance.current else None
    if same:
        return _from_backup(candidate, same[-1], current)
    adopt = next((i for i in unmanaged if not i.managed and _strong_match(i, candidate)), None)
    if current is not None:
        return _versus_current(candidate, current, adopt)
    if adopt is not None:
        return Decision(Action.ADOPT, candidate, f"first import: adopting unmanaged image {adopt.id} "
                        "(same digest)", target=adopt)
    return Decision(Action.IMPORT, candidate, "first import")
