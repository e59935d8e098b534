# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Rules shared by every record format: the Glance name and standard Glance keys (dates: formats.dates)."""

from __future__ import annotations

from typing import Dict, Mapping, Optional

from glancing.formats.dates import DATE_FORMAT, as_utc, format_date, is_strict_date, parse_date

__all__ = ["DATE_FORMAT", "as_utc", "format_date", "is_strict_date", "parse_date", "default_name", "os_distro",
           "architecture", "hypervisor_type", "drop_empty"]


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
