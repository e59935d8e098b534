# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The trust settings as the verifiers need them, taken from the one settings object.

Precedence (``glancing.settings``): option, ``GLANCING_TRUST_*`` or the older ``GLANCING_CA_DIR``
/ ``GLANCING_TRUST_FILE`` environment, ``~/.config/glancing/glancing.conf``,
``/etc/glancing/glancing.conf`` (``[trust]`` section: ``ca_dir``, ``trust_file``,
``crl = require|off``, ``at_signing_time = yes|no``), then the defaults
``/etc/grid-security/certificates``, ``/etc/glancing/trusted-endorsers``, CRLs required,
certificates checked now.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

from glancing.settings import Settings
from glancing.trust.chain import DEFAULT_CA_DIR, CrlMode

DEFAULT_TRUST_FILE = Path("/etc/glancing/trusted-endorsers")


@dataclass(frozen=True)
class TrustSettings:
    """Resolved trust settings; ``trust_file_explicit`` says a missing file is an error."""

    ca_dir: Path = DEFAULT_CA_DIR
    trust_file: Path = DEFAULT_TRUST_FILE
    trust_file_explicit: bool = False
    endorsers: Tuple[str, ...] = ()
    crl: CrlMode = CrlMode.REQUIRE
    at_signing_time: bool = False


def from_settings(settings: Settings, endorsers: Sequence[str] = ()) -> TrustSettings:
    """The ``[trust]`` section of ``settings``, plus the endorsers named by --endorser."""
    return TrustSettings(
        ca_dir=Path(settings.get("trust", "ca_dir")),
        trust_file=Path(settings.get("trust", "trust_file")),
        trust_file_explicit=settings.given("trust", "trust_file"),
        endorsers=tuple(endorsers),
        crl=CrlMode(settings.get("trust", "crl")),
        at_signing_time=bool(settings.get("trust", "at_signing_time")))


def resolve(*, ca_dir: Optional[str] = None, trust_file: Optional[str] = None,
            endorsers: Sequence[str] = (), crl: Optional[str] = None,
            at_signing_time: Optional[bool] = None, env: Optional[Mapping[str, str]] = None,
            files: Optional[Sequence[Path]] = None) -> TrustSettings:
    """Trust settings from option values (None: not given), the environment and config files."""
    settings = Settings.load({"trust.ca_dir": ca_dir, "trust.trust_file": trust_file, "trust.crl": crl,
                              "trust.at_signing_time": at_signing_time}, env=env, files=files)
    return from_settings(settings, endorsers)
