# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Where the CA directory and trust file come from.

Precedence, first found wins, separately for each setting:

1. the command-line option (``--ca-dir``, ``--trust``, ``--crl``, ``--at-signing-time``);
2. the environment: ``GLANCING_CA_DIR``, ``GLANCING_TRUST_FILE``;
3. ``$XDG_CONFIG_HOME/glancing/glancing.conf`` (default ``~/.config/glancing/glancing.conf``);
4. ``/etc/glancing/glancing.conf``;
5. the defaults: ``/etc/grid-security/certificates``, ``/etc/glancing/trusted-endorsers``,
   CRLs required, certificates checked now.

Both config files are INI files with a ``[trust]`` section: ``ca_dir``, ``trust_file``,
``crl = require|off`` and ``at_signing_time = yes|no``.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

from glancing.errors import UsageError
from glancing.trust.chain import DEFAULT_CA_DIR, CrlMode

DEFAULT_TRUST_FILE = Path("/etc/glancing/trusted-endorsers")
SYSTEM_CONFIG = Path("/etc/glancing/glancing.conf")


@dataclass(frozen=True)
class TrustSettings:
    """Resolved trust settings; ``trust_file_explicit`` says a missing file is an error."""

    ca_dir: Path = DEFAULT_CA_DIR
    trust_file: Path = DEFAULT_TRUST_FILE
    trust_file_explicit: bool = False
    endorsers: Tuple[str, ...] = ()
    crl: CrlMode = CrlMode.REQUIRE
    at_signing_time: bool = False


def config_files(env: Mapping[str, str]) -> Tuple[Path, ...]:
    """The config files in precedence order (user first)."""
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return (Path(xdg) / "glancing" / "glancing.conf", SYSTEM_CONFIG)


def _read_config(paths: Sequence[Path]) -> dict:
    """Merge the [trust] sections, earlier files winning. Raises UsageError when malformed."""
    merged: dict = {}
    for path in reversed(paths):
        parser = configparser.ConfigParser()
        try:
            if not parser.read(path, encoding="utf-8"):
                continue
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        if parser.has_section("trust"):
            merged.update({k: (v, path) for k, v in parser.items("trust")})
    return merged


def _crl_mode(value: str, where: str) -> CrlMode:
    try:
        return CrlMode(value.strip().lower())
    except ValueError:
        raise UsageError(f"{where}: crl must be 'require' or 'off', not {value!r}") from None


def _flag(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("yes", "no", "true", "false", "1", "0", "on", "off"):
        raise UsageError(f"{where}: at_signing_time must be yes or no, not {value!r}")
    return lowered in ("yes", "true", "1", "on")


def resolve(*, ca_dir: Optional[str] = None, trust_file: Optional[str] = None,
            endorsers: Sequence[str] = (), crl: Optional[str] = None,
            at_signing_time: Optional[bool] = None, env: Optional[Mapping[str, str]] = None,
            files: Optional[Sequence[Path]] = None) -> TrustSettings:
    """Combine options, environment and config files (see the module docstring).

    ``None`` means "not given on the command line". Raises UsageError for bad values.
    """
    env = os.environ if env is None else env
    conf = _read_config(config_files(env) if files is None else files)

    def pick(option: Optional[str], env_name: Optional[str], key: str) -> Tuple[Optional[str], str]:
        if option is not None:
            return option, "option"
        if env_name and env.get(env_name):
            return env[env_name], env_name
        if key in conf:
            return conf[key][0], f"{conf[key][1]} [trust] {key}"
        return None, "default"

    ca, _ = pick(ca_dir, "GLANCING_CA_DIR", "ca_dir")
    trust, trust_src = pick(trust_file, "GLANCING_TRUST_FILE", "trust_file")
    mode, mode_src = pick(crl, None, "crl")
    at_time = at_signing_time
    if at_time is None and "at_signing_time" in conf:
        at_time = _flag(conf["at_signing_time"][0], str(conf["at_signing_time"][1]))
    return TrustSettings(
        ca_dir=Path(ca).expanduser() if ca else DEFAULT_CA_DIR,
        trust_file=Path(trust).expanduser() if trust else DEFAULT_TRUST_FILE,
        trust_file_explicit=trust_src != "default",
        endorsers=tuple(endorsers),
        crl=_crl_mode(mode, mode_src) if mode else CrlMode.REQUIRE,
        at_signing_time=bool(at_time))
