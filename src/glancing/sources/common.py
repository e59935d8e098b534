# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Rules shared by every record format: the Glance name, strict dates, standard Glance keys."""

from __future__ import annotations

import datetime as dt
import re
from typing import Dict, Mapping, Optional

from glancing.errors import RecordError

# Both formats write UTC timestamps exactly so; the StratusLab server refuses anything else.
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def default_name(title: Optional[str], os: Optional[str], os_version: Optional[str],
                 os_arch: Optional[str]) -> Optional[str]:
    """The Glance name a record suggests: its title, else ``<os>-<os-version>-<os-arch>``.

    Missing parts are left out of the fallback; None when the record gives none of them.
    ``glancing`` and ``glance_manager`` both use this, so an appliance keeps one name.
    """
    if title and title.strip():
        return title.strip()
    parts = [p.strip() for p in (os, os_version, os_arch) if p and p.strip()]
    return "-".join(parts) or None


def is_strict_date(text: str) -> bool:
    """Whether ``text`` is exactly ``YYYY-MM-DDThh:mm:ssZ`` and a real instant."""
    if not _DATE.match(text):
        return False
    try:
        dt.datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        return False
    return True


def parse_date(text: Optional[str], where: str) -> Optional[dt.datetime]:
    """Parse a strict UTC timestamp into an aware datetime; None for None/empty.

    Raises RecordError naming ``where`` when the value is not ``YYYY-MM-DDThh:mm:ssZ``.
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    if not is_strict_date(value):
        raise RecordError(f"{where}: {value!r} is not a date of the form YYYY-MM-DDThh:mm:ssZ")
    return dt.datetime.strptime(value, DATE_FORMAT).replace(tzinfo=dt.timezone.utc)


def format_date(when: Optional[dt.datetime]) -> Optional[str]:
    """The strict ``YYYY-MM-DDThh:mm:ssZ`` form of an aware datetime (None stays None)."""
    if when is None:
        return None
    return when.astimezone(dt.timezone.utc).strftime(DATE_FORMAT)


def as_utc(when: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


# Glance's documented os_distro values, keyed by what records write.
_DISTRO = {
    "redhat": "rhel", "red hat": "rhel", "red hat enterprise linux": "rhel",
    "scientific linux": "scientific", "sl": "scientific", "suse": "sles", "opensuse": "opensuse",
    "ms windows": "windows", "microsoft windows": "windows",
}
# Nova's canonical architecture names.
_ARCH = {"amd64": "x86_64", "x64": "x86_64", "x86-64": "x86_64", "x86": "i686", "i386": "i686",
         "i486": "i686", "i586": "i686", "arm64": "aarch64"}


def os_distro(name: Optional[str]) -> Optional[str]:
    """Glance ``os_distro`` for an OS name: lowercase, known aliases mapped (CentOS -> centos)."""
    if not name or not name.strip():
        return None
    key = name.strip().lower()
    return _DISTRO.get(key, key.replace(" ", ""))


def architecture(arch: Optional[str]) -> Optional[str]:
    """Glance/Nova ``architecture``: x86 -> i686, amd64 -> x86_64, others lowercased."""
    if not arch or not arch.strip():
        return None
    key = arch.strip().lower()
    return _ARCH.get(key, key)


def hypervisor_type(name: Optional[str]) -> Optional[str]:
    """Glance ``hypervisor_type``: 'QEMU,KVM' / 'QEMU-KVM' -> kvm, others lowercased."""
    if not name or not name.strip():
        return None
    key = name.strip().lower()
    for known in ("kvm", "xen", "vmware", "hyperv", "lxc"):
        if known in key:
            return known
    return "vbox" if "virtualbox" in key else key


def drop_empty(properties: Mapping[str, Optional[str]]) -> Dict[str, str]:
    """Keep only properties with a non-empty value, as strings."""
    return {k: str(v) for k, v in properties.items() if v is not None and str(v) != ""}
