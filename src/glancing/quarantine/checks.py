# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The built-in offline checks: each a pure function of one ``Inspection`` (and the record's
claims), so the verdict logic is tested on recorded inspections without booting anything.

A check passes, fails, or does not apply: the Linux-only checks on Windows or an image whose
operating system was not recognised are ``n/a``, never ``pass``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from glancing.quarantine.inspect import Inspection
from glancing.sources.common import architecture, os_distro


class Status(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    NA = "n/a"


@dataclass(frozen=True)
class Outcome:
    """One check's result, with what it saw (never a password hash: only account names)."""

    name: str
    status: Status
    detail: str = ""

    def to_dict(self) -> Dict[str, str]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail}


@dataclass(frozen=True)
class Claims:
    """What the record or list says the image is (Glance property forms: os_distro, os_version,
    architecture); None where it says nothing."""

    distro: Optional[str] = None
    version: Optional[str] = None
    arch: Optional[str] = None

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> "Claims":
        return cls(os_distro(props.get("os_distro")), (props.get("os_version") or "").strip() or None,
                   architecture(props.get("architecture")))


def _linux_only(name: str, found: Inspection) -> Optional[Outcome]:
    if found.is_linux:
        return None
    return Outcome(name, Status.NA, f"not a Linux image (operating system: {found.os_type})")


def locked(password: str) -> bool:
    """True when a shadow password field allows no password login: ``*``, ``!``, ``!!``, ``!...``
    (a locked hash), ``*...``; an EMPTY field allows a login without any password."""
    return password.startswith(("!", "*"))


def no_passwords(found: Inspection, claims: Claims) -> Outcome:
    name = "no-passwords"
    na = _linux_only(name, found)
    if na:
        return na
    if found.shadow is None:
        return Outcome(name, Status.PASS, "no /etc/shadow")
    usable = [a["user"] for a in found.shadow if not locked(a.get("password", ""))]
    if usable:
        return Outcome(name, Status.FAIL, "accounts with a usable or empty password: " + ", ".join(usable))
    return Outcome(name, Status.PASS, f"{len(found.shadow)} accounts, all locked")


def _with_content(entries: Sequence[Mapping[str, object]]) -> List[str]:
    return [str(e["path"]) for e in entries if int(str(e.get("size") or 0)) > 0]


def no_authorized_keys(found: Inspection, claims: Claims) -> Outcome:
    name = "no-authorized-keys"
    na = _linux_only(name, found)
    if na:
        return na
    keys = _with_content(found.authorized_keys)
    if keys:
        return Outcome(name, Status.FAIL, "baked-in SSH keys: " + ", ".join(keys))
    return Outcome(name, Status.PASS, f"none in {len(found.homes)} home directories")


def no_host_keys(found: Inspection, claims: Claims) -> Outcome:
    name = "no-host-keys"
    na = _linux_only(name, found)
    if na:
        return na
    if found.host_keys:
        return Outcome(name, Status.FAIL, "SSH host private keys every instance would share: "
                       + ", ".join(found.host_keys))
    return Outcome(name, Status.PASS, "no ssh_host_*_key")


def no_history(found: Inspection, claims: Claims) -> Outcome:
    name = "no-history"
    na = _linux_only(name, found)
    if na:
        return na
    files = _with_content(found.history)
    if files:
        return Outcome(name, Status.FAIL, "shell history left in: " + ", ".join(files))
    return Outcome(name, Status.PASS, "no history file with content")


def cloud_init(found: Inspection, claims: Claims) -> Outcome:
    name = "cloud-init"
    na = _linux_only(name, found)
    if na:
        return na
    if found.agents:
        return Outcome(name, Status.PASS, "found " + ", ".join(found.agents))
    return Outcome(name, Status.FAIL, "no contextualisation agent installed (looked for the site's agents)")


def _version_matches(claimed: str, major: object, minor: object) -> bool:
    parts = claimed.split(".")
    if not parts[0].isdigit() or str(major) != str(int(parts[0])):
        return False
    return len(parts) < 2 or not parts[1].isdigit() or str(minor) == str(int(parts[1]))


def os_matches(found: Inspection, claims: Claims) -> Outcome:
    name = "os-matches"
    if found.os is None:
        return Outcome(name, Status.NA, "no operating system recognised")
    seen = found.os
    said = f"record says {claims.distro or '-'} {claims.version or '-'} {claims.arch or '-'}"
    saw = f"image is {seen.get('distro')} {seen.get('major')}.{seen.get('minor')} {seen.get('arch')}"
    if claims == Claims():
        return Outcome(name, Status.NA, "the record names no operating system")
    wrong = []
    if claims.distro and claims.distro != os_distro(str(seen.get("distro") or "")):
        wrong.append("distribution")
    if claims.version and not _version_matches(claims.version, seen.get("major"), seen.get("minor")):
        wrong.append("version")
    if claims.arch and claims.arch != architecture(str(seen.get("arch") or "")):
        wrong.append("architecture")
    if wrong:
        return Outcome(name, Status.FAIL, f"{', '.join(wrong)} differ: {said}; {saw}")
    return Outcome(name, Status.PASS, saw)


CHECKS: Dict[str, Callable[[Inspection, Claims], Outcome]] = {
    "no-passwords": no_passwords, "no-authorized-keys": no_authorized_keys, "no-host-keys": no_host_keys,
    "no-history": no_history, "cloud-init": cloud_init, "os-matches": os_matches,
}


def parse_checks(text: str) -> Tuple[str, ...]:
    """``[quarantine] checks``: names separated by commas or spaces; ``all`` or ``none``."""
    words = [w for w in text.replace(",", " ").split() if w]
    if words == ["all"]:
        return tuple(CHECKS)
    if words in (["none"], []):
        return ()
    unknown = [w for w in words if w not in CHECKS]
    if unknown:
        raise ValueError(f"unknown checks {', '.join(unknown)}; known: {', '.join(CHECKS)}, all, none")
    return tuple(dict.fromkeys(words))


def run_checks(found: Inspection, claims: Claims, enabled: Sequence[str]) -> List[Outcome]:
    return [CHECKS[name](found, claims) for name in enabled]


__all__ = ["CHECKS", "Claims", "Outcome", "Status", "locked", "parse_checks", "run_checks"]
