# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The images glance_manager looks after, as plain data.

The target lists the managed images once per run (tag ``glancing``) and hands the image
dicts to ``from_glance``; ``Snapshot`` then groups them by appliance. Nothing here talks to Glance.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from glancing.formats.versions import VersionInfo
from glancing.targets import names

# A time from a target or a record as aware UTC (one parser, in targets.names).
parse_timestamp = names.parse_stamp

# Glance's own image attributes; every other key of an image dict is a user property.
_CORE_KEYS = frozenset({
    "id", "name", "status", "tags", "os_hidden", "checksum", "os_hash_algo", "os_hash_value",
    "created_at", "updated_at", "size", "virtual_size", "visibility", "owner", "protected",
    "min_disk", "min_ram", "disk_format", "container_format", "file", "schema", "self",
    "direct_url", "locations", "stores",
})


@dataclass(frozen=True)
class ManagedImage:
    """One Glance image as glance_manager sees it."""

    id: str
    name: str
    mpid: Optional[str]
    version: Optional[str]
    checksum: Optional[str]  # Glance's md5 of the stored bytes
    os_hash_value: Optional[str]
    status: str
    hidden: bool
    tags: Tuple[str, ...]
    created_at: Optional[_dt.datetime]
    properties: Mapping[str, str] = field(default_factory=dict)
    os_hash_algo: Optional[str] = None
    size: Optional[int] = None

    @property
    def managed(self) -> bool:
        """True when glancing manages this image (tag ``glancing``)."""
        return names.TAG_MANAGED in self.tags

    @property
    def is_backup(self) -> bool:
        """True for a retired previous version (tag ``glancing-backup``)."""
        return names.TAG_BACKUP in self.tags

    @property
    def appliance(self) -> str:
        """The appliance key: the name of a current image, the pre-retirement name of a backup."""
        explicit = self.properties.get(names.PROP_APPLIANCE)
        if explicit:
            return explicit
        if self.is_backup and self.name.endswith(")") and " (" in self.name:
            return self.name.rpartition(" (")[0]
        return self.name

    @property
    def endorsed(self) -> Optional[_dt.datetime]:
        """The endorsement date of the record the image came from, when recorded."""
        return parse_timestamp(self.properties.get(names.PROP_ENDORSED))

    @property
    def version_info(self) -> VersionInfo:
        """The image's version and endorsement date, for ``versions.compare_versions``."""
        return VersionInfo(self.version, self.endorsed)

    @property
    def unpublished(self) -> bool:
        """True for an upload not yet verified and published (it belongs to no appliance yet)."""
        return names.TAG_PENDING in self.tags and names.PROP_PENDING_NAME in self.properties

    @property
    def rolled_back(self) -> bool:
        """True when a rollback demoted this image (it must not come back by itself)."""
        return bool(self.properties.get(names.PROP_ROLLED_BACK))


def _optional_int(value: Any) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def from_glance(image: Mapping[str, Any]) -> ManagedImage:
    """Build a ManagedImage from a Glance v2 image dict (glanceclient model or plain dict).

    Custom properties are the keys Glance does not define, as strings. Raises KeyError when the
    dict has no ``id`` (not an image).
    """
    props: Dict[str, str] = {
        str(k): str(v) for k, v in image.items() if k not in _CORE_KEYS and v is not None
    }
    hidden = image.get("os_hidden")
    return ManagedImage(
        id=str(image["id"]),
        name=str(image.get("name") or ""),
        mpid=props.get(names.PROP_MPID) or None,
        version=props.get(names.PROP_VERSION) or None,
        checksum=(image.get("checksum") or None),
        os_hash_value=(image.get("os_hash_value") or None),
        status=str(image.get("status") or ""),
        hidden=hidden is True or str(hidden).lower() == "true",
        tags=tuple(str(t) for t in (image.get("tags") or ())),
        created_at=parse_timestamp(image.get("created_at")),
        properties=props,
        os_hash_algo=(image.get("os_hash_algo") or None),
        size=_optional_int(image.get("size")),
    )


@dataclass(frozen=True)
class Appliance:
    """The managed images of one appliance: its current image(s) and its backups."""

    name: str
    current: Tuple[ManagedImage, ...]  # normally one; several is a conflict the plan reports
    backups: Tuple[ManagedImage, ...]


class Snapshot:
    """The managed images of one run, indexed by appliance and by marketplace ID."""

    def __init__(self, images: Iterable[ManagedImage]) -> None:
        # An unpublished upload has a temporary name and no record properties: never an appliance's;
        # an expired image is no longer any appliance's either (a re-listed ID is imported anew).
        # A quarantined image (held or rejected) is no appliance's either; a rejected one is kept
        # aside: its record is not imported again until a person decides (see rejected_for).
        images = tuple(images)
        self.rejected: Tuple[ManagedImage, ...] = tuple(i for i in images if i.managed
                                                        and names.TAG_REJECTED in i.tags)
        self.images: Tuple[ManagedImage, ...] = tuple(i for i in images if i.managed and not i.unpublished
                                                      and names.TAG_EXPIRED not in i.tags
                                                      and names.TAG_QUARANTINE not in i.tags)
        groups: Dict[str, Tuple[List[ManagedImage], List[ManagedImage]]] = {}
        for image in self.images:
            current, backups = groups.setdefault(image.appliance, ([], []))
            (backups if image.is_backup else current).append(image)
        self._appliances = {
            name: Appliance(name, tuple(_by_age(c)), tuple(_by_age(b)))
            for name, (c, b) in groups.items()
        }

    def appliance(self, name: str) -> Appliance:
        """The images of appliance ``name`` (empty when it is not managed yet). Raises nothing."""
        return self._appliances.get(name, Appliance(name, (), ()))

    def appliances(self) -> List[Appliance]:
        """Every managed appliance, by name."""
        return [self._appliances[n] for n in sorted(self._appliances)]

    def rejected_for(self, mpid: Optional[str], digests: Mapping[str, str]) -> Optional[ManagedImage]:
        """The rejected image of the same record (marketplace ID) or the same stored bytes."""
        for image in self.rejected:
            if mpid and image.mpid == mpid:
                return image
            if image.os_hash_algo and image.os_hash_value and digests.get(image.os_hash_algo) == image.os_hash_value:
                return image
        return None

    def with_mpid(self, mpid: str) -> List[ManagedImage]:
        """The managed images carrying marketplace ID ``mpid``, oldest first."""
        return _by_age(i for i in self.images if i.mpid == mpid)


def _by_age(images: Iterable[ManagedImage]) -> List[ManagedImage]:
    epoch = _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)
    return sorted(images, key=lambda i: (i.created_at or epoch, i.id))
