# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one settings object: every tunable of every command, with one precedence rule.

For each key, the first of these that gives a value wins:

1. the command-line option (when the command has one for that key);
2. the environment: ``GLANCING_<SECTION>_<KEY>`` (e.g. ``GLANCING_FETCH_STALL_TIMEOUT``), and the
   older short names kept for existing sites (``GLANCING_CA_DIR``, ``GLANCING_TRUST_FILE``,
   ``GLANCING_BACKUP_DIR``, ``GLANCING_MARKETPLACE_URL``);
3. ``$XDG_CONFIG_HOME/glancing/glancing.conf`` (default ``~/.config/glancing/glancing.conf``);
4. ``/etc/glancing/glancing.conf``;
5. the default below.

``--config FILE`` (or ``GLANCING_CONFIG``) names the one file to read instead of 3 and 4, so a
cron job or a test is not influenced by whoever's home directory it runs in. Every key is
documented in ``etc/glancing.conf.example``; ``glancing config`` prints the effective values and
where each came from. Only this module reads the environment and the config files.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from glancing.errors import EnvironmentProblem, UsageError

SYSTEM_CONFIG = Path("/etc/glancing/glancing.conf")
ENV_CONFIG = "GLANCING_CONFIG"


def _text(value: str) -> str:
    return value


def _path(value: str) -> str:
    return str(Path(value).expanduser())


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"expected a number of 0 or more, not {value!r}")
    return number


def _count(value: str) -> int:
    if not value.strip().isdigit():
        raise ValueError(f"expected a whole number of 0 or more, not {value!r}")
    return int(value)


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("yes", "true", "1", "on"):
        return True
    if lowered in ("no", "false", "0", "off"):
        return False
    raise ValueError(f"expected yes or no, not {value!r}")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip().lower() not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, not {value!r}")
        return value.strip().lower()
    return parse


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str) -> int:
    """Seconds from ``28d``, ``12h``, ``90m``, ``3600s`` or a bare number of seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", value.lower())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration such as 28d, 12h or 3600, not {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def _octal(value: str) -> str:
    if not re.fullmatch(r"[0-7]{3}", value.strip()):
        raise ValueError(f"expected three octal digits like 640, not {value!r}")
    return value.strip()


def read_one_auth(path: str) -> str:
    """The ``user:password`` of an OpenNebula auth file (``ONE_AUTH``, ``~/.one/one_auth``): its
    first line. Raises EnvironmentProblem when it is missing, unreadable or not of that form."""
    where = Path(path).expanduser()
    try:
        line = where.read_text(encoding="utf-8").splitlines()[0].strip() if where.stat().st_size else ""
    except OSError as e:
        raise EnvironmentProblem(f"cannot read the OpenNebula auth file {where}: {e.strerror or e} "
                                 "([opennebula] auth_file, $ONE_AUTH)") from None
    if ":" not in line:
        raise EnvironmentProblem(f"the OpenNebula auth file {where} does not start with a user:password line")
    return line


def _words(value: str) -> Tuple[str, ...]:
    """A list: words separated by commas or blanks."""
    return tuple(w for w in value.replace(",", " ").split() if w)


def parse_disk_formats(value: str) -> Tuple[str, ...]:
    """A list of Glance disk formats, comma- or space-separated, in the site's order of preference."""
    from glancing.formats.vocab import GLANCE_DISK_FORMATS, normalize_disk_format

    formats = tuple(dict.fromkeys(normalize_disk_format(f) for f in re.split(r"[,\s]+", value) if f))
    unknown = [f for f in formats if f not in GLANCE_DISK_FORMATS]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a Glance disk format ({', '.join(GLANCE_DISK_FORMATS)})")
    return formats


_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(value: str) -> Optional[int]:
    """Bytes, or a number with a K/M/G/T/P suffix (powers of 1024); 0 means no limit (None)."""
    match = re.match(r"^(\d+)\s*([kmgtp]?)i?b?$", value.strip().lower())
    if not match:
        raise ValueError(f"expected a size such as 1099511627776, 500G or 1T, not {value!r}")
    size = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    return size or None


def _names(value: str) -> Tuple[str, ...]:
    """A comma- or space-separated list of names (stores, clouds), in order, none twice."""
    names = tuple(dict.fromkeys(n for n in re.split(r"[,\s]+", value.strip()) if n))
    if not names:
        raise ValueError("expected one or more names separated by commas")
    return names


@dataclass(frozen=True)
class Key:
    """One setting: ``[section] name``, how its text is parsed, its default and its meaning."""

    section: str
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    legacy_env: Optional[str] = None
    secret: bool = False

    @property
    def env(self) -> str:
        return f"GLANCING_{self.section}_{self.name}".upper()

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"


KEYS: Tuple[Key, ...] = (
    Key("glance", "backup_dir", _path, None, "download the image being replaced here before retiring it (-b)",
        legacy_env="GLANCING_BACKUP_DIR"),
    Key("glance", "visibility", _choice("private", "shared", "community", "public"), None,
        "visibility of new images (default: that of the image replaced, else private)"),
    Key("glance", "container_format", _text, "bare", "container format of new images"),
    Key("glance", "retries", _count, 3, "further attempts of a Glance request that failed transiently"),
    Key("glance", "backoff", _number, 0.5, "first pause (s) before retrying a Glance request; doubles"),
    Key("glance", "discard_timeout", _number, 120.0,
        "seconds spent deleting a refused upload that Glance will not delete yet"),
    Key("glance", "clean_leftovers", _flag, True, "remove uploads that dead runs of this command left staged"),
    Key("glance", "stale_upload_after", _number, 86400.0,
        "seconds after which another host's staged upload counts as dead"),
    Key("glance", "disk_formats", parse_disk_formats, ("qcow2", "raw"),
        "disk formats the site runs: others (and OVA disks) are converted to the first (--disk-formats)"),
    Key("glance", "max_virtual_size", parse_size, 1 << 40,
        "refuse an image whose virtual size is larger (bytes, or 500G, 2T; 0: no limit)"),
    Key("glance", "import_method", _choice("upload", "web-download", "auto"), "upload",
        "how the bytes reach Glance: upload (through this host), web-download (Glance fetches the URL), auto"),
    Key("glance", "stores", _names, None,
        "Glance multi-store backends: upload to the first, then Glance copies to the others (copy-image)"),
    Key("glance", "clouds", _names, None,
        "clouds.yaml entries to import into, all from one read (default: --os-cloud, else OS_*)"),
    Key("glance", "import_timeout", _number, 3600.0,
        "seconds to wait for Glance's web-download or copy-image task before failing"),
    Key("trust", "ca_dir", _path, "/etc/grid-security/certificates",
        "grid CA directory (<hash>.0 certificates, <hash>.r0 CRLs)", legacy_env="GLANCING_CA_DIR"),
    Key("trust", "trust_file", _path, "/etc/glancing/trusted-endorsers", "trusted endorsers file",
        legacy_env="GLANCING_TRUST_FILE"),
    Key("trust", "crl", _choice("require", "off"), "require", "CRL checking"),
    Key("trust", "at_signing_time", _flag, False, "check certificates at the signing time"),
    Key("trust", "clock_skew", _number, 300.0, "seconds a record's endorsement date may lie in the future"),
    Key("sources", "marketplace_url", _text, "https://marketplace.stratuslab.eu/marketplace/metadata",
        "StratusLab marketplace metadata URL", legacy_env="GLANCING_MARKETPLACE_URL"),
    Key("fetch", "connect_timeout", _number, 10.0, "seconds to wait for a connection"),
    Key("fetch", "read_timeout", _number, 60.0, "seconds without a byte before a read gives up"),
    Key("fetch", "stall_timeout", _number, 300.0,
        "seconds without net progress of a whole transfer (across reconnects and resumes)"),
    Key("fetch", "min_speed", _number, 1024.0, "bytes/s averaged over stall_timeout, else the transfer fails"),
    Key("fetch", "max_reconnects", _count, 10, "reconnects in a row that bring no byte, else the transfer fails"),
    Key("fetch", "retries", _count, 5, "further attempts of a download that make no progress"),
    Key("fetch", "backoff", _number, 0.5, "first pause (s) before retrying a download; doubles, max 30 s"),
    Key("fetch", "ca_file", _path, None,
        "CA bundle for https mirrors, lists and marketplaces (not for Glance/Keystone: --os-cacert)"),
    Key("fetch", "tls_verify", _flag, True, "check https certificates of downloads (no is UNSAFE)"),
    Key("fetch", "proxy", _text, None, "proxy URL for downloads (default: the http(s)_proxy environment)",
        secret=True),
    Key("fetch", "tmp_dir", _path, None,
        "where -k keeps downloaded bytes and disks are spooled for conversion (default: $TMPDIR, else /tmp)"),
    Key("manager", "keep", _count, 1, "backups kept per appliance"),
    Key("manager", "jobs", _count, 1, "images handled in parallel"),
    Key("manager", "lock", _path, None, "lock file (default: $XDG_RUNTIME_DIR or /run/lock)"),
    Key("manager", "metrics", _path, None, "Prometheus text-file collector output"),
    Key("manager", "image_retries", _count, 2, "times a whole image is sent again after an interrupted upload"),
    Key("manager", "image_backoff", _number, 1.0, "first pause (s) before sending an image again"),
    Key("manager", "database", _path, "/var/lib/glancing/glancing.db",
        "subscriptions, image lists, events and verified records (created 0600)"),
    Key("manager", "on_expire", _choice("hide", "deactivate", "delete"), "deactivate",
        "what happens to an image its list no longer endorses"),
    Key("manager", "verified_max_age", _number, 86400.0,
        "seconds a kept marketplace verdict is reused at most before the record is verified again"),
    Key("manager", "verified_near_expiry", _number, 86400.0,
        "verify a record again on every run once its signer's certificate ends within these seconds"),
    Key("cache", "dir", _path, None, "vmcatcher-compatible image cache (none: images stream into the target)"),
    Key("cache", "keep_expired", _count, 3, "expired cache files kept"),
    Key("cache", "verify", _flag, False, "re-hash every cached file each run (else only when size/mtime changed)"),
    Key("events", "command", _text, None, "shell command run for each vmcatcher event ($VMCATCHER_CACHE_EVENT too)"),
    Key("events", "timeout", _number, 60.0, "seconds an event command may run before its process group is killed"),
    Key("publish", "database", _path, "~/.local/share/glancing/publish.db",
        "glancing-publish's lists, images and signed versions (created 0600)"),
    Key("publish", "lifetime", parse_duration, 28 * 86400, "how long a signed list is valid (dc:date:expires)"),
    Key("publish", "uri_match", _text, None, "regular expression on a public URL (vmcaster's uriMatch)"),
    Key("publish", "uri_replace", _text, None, "its replacement: where that URL is uploaded to (uriReplace)"),
    Key("publish", "ssh_key", _path, None, "identity file for sftp:// uploads (default: ssh's own)"),
    Key("publish", "ssh_known_hosts", _path, None, "known_hosts file for sftp:// uploads (default: ssh's own)"),
    Key("target", "kind", _choice("glance", "opennebula"), "glance", "where images go (--target)"),
    Key("opennebula", "endpoint", _text, "http://localhost:2633/RPC2", "oned's XML-RPC endpoint",
        legacy_env="ONE_XMLRPC"),
    Key("opennebula", "auth_file", _path, "~/.one/one_auth", "file holding user:password", legacy_env="ONE_AUTH"),
    Key("opennebula", "datastore", _text, "default", "image datastore (name or ID)"),
    Key("opennebula", "path_prefix", _path, None,
        "directory shared with the front-end where verified images are spooled (default: [fetch] tmp_dir)"),
    Key("opennebula", "register_from", _choice("path", "url"), "path",
        "hand oned the verified file (path) or the source URL it then downloads itself (url)"),
    Key("opennebula", "permissions", _octal, "640", "permissions of released images (octal; public adds other use)"),
    Key("opennebula", "group", _text, None, "group (name or ID) released images are given to"),
    Key("opennebula", "ready_timeout", _number, 10800.0, "seconds a registered image may take to become READY"),
    Key("opennebula", "poll", _number, 1.0, "first pause (s) between image state polls; doubles, max 60 s"),
    Key("opennebula", "template", _flag, False, "also make a VM template per image, replaced with it"),
    Key("glance", "protected", _flag, False, "set Glance's protected flag on a released image (--protected)"),
    Key("quarantine", "enabled", _flag, False, "hold a verified image hidden until the checks pass (--quarantine)"),
    Key("quarantine", "test_project", _text, None, "the one project a held image is shared with (name or id)"),
    Key("quarantine", "checks", _words, ("all",), "built-in checks run on a held image: names, all or none"),
    Key("quarantine", "scripts", _path, None, "directory of site check scripts (each executable: exit 0 passes)"),
    Key("quarantine", "script_timeout", _number, 600.0, "seconds a site script may run before its process group is killed"),
    Key("quarantine", "agents", _words, ("cloud-init",), "contextualisation agents the cloud-init check accepts"),
    Key("quarantine", "tcg", _choice("auto", "yes", "no"), "auto",
        "libguestfs software emulation: auto (when KVM is unusable or fails), yes, no"),
    Key("quarantine", "inspect_timeout", _number, 900.0, "seconds one libguestfs inspection may take"),
    Key("quarantine", "python", _path, "/usr/bin/python3", "the python3 that has the guestfs binding (python3-guestfs)"),
    Key("sharing", "projects", _words, (), "projects (names or ids) a released image is shared with (--share)"),
    Key("sharing", "vo_map", _path, None, "JSON object: VO name -> project or list of projects (ad:vo sharing)"),
    Key("sharing", "member_clouds", _words, (),
        "clouds.yaml entries of member projects, used to accept their memberships"),
)
# Accepted in config files so a site can prepare them; their keys come with the issues that use them.
RESERVED_SECTIONS: Tuple[str, ...] = ()
_BY_NAME: Dict[Tuple[str, str], Key] = {(k.section, k.name): k for k in KEYS}


@dataclass(frozen=True)
class Value:
    key: Key
    value: Any
    origin: str  # "option", "env:NAME", "file:PATH" or "default"

    @property
    def shown(self) -> str:
        """The value as printed: secrets masked (a proxy URL's password)."""
        if self.value is None:
            return ""
        text = " ".join(self.value) if isinstance(self.value, tuple) else str(self.value)
        if self.key.secret:
            text = re.sub(r"(//[^:/@]+:)[^@]+@", r"\1****@", text)
        return text.lower() if isinstance(self.value, bool) else text


def config_files(env: Mapping[str, str], explicit: Optional[str] = None) -> Tuple[Path, ...]:
    """The files read, most important first."""
    chosen = explicit or env.get(ENV_CONFIG)
    if chosen:
        return (Path(chosen).expanduser(),)
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or "~").expanduser() / ".config")
    return (Path(xdg) / "glancing" / "glancing.conf", SYSTEM_CONFIG)


def _read_file(path: Path, required: bool) -> Dict[Tuple[str, str], str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        if required:
            raise EnvironmentProblem(f"config file {path}: no such file") from None
        return {}
    except (OSError, configparser.Error, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e).splitlines()[0]
        raise EnvironmentProblem(f"cannot read config file {path}: {reason}") from None
    found: Dict[Tuple[str, str], str] = {}
    for section in parser.sections():
        known = section in RESERVED_SECTIONS or any(k.section == section for k in KEYS)
        if not known:
            raise EnvironmentProblem(f"config file {path}: unknown section [{section}]")
        for name, text in parser.items(section):
            if (section, name) not in _BY_NAME and section not in RESERVED_SECTIONS:
                raise EnvironmentProblem(f"config file {path}: unknown key {name!r} in [{section}]")
            found[(section, name)] = text
    return found


class Settings:
    """The effective value of every key, and where it came from."""

    def __init__(self, values: Mapping[Tuple[str, str], Value], files: Sequence[Path]) -> None:
        self._values = dict(values)
        self.files = tuple(files)

    @classmethod
    def load(cls, options: Optional[Mapping[str, Any]] = None, env: Optional[Mapping[str, str]] = None,
             config: Optional[str] = None, files: Optional[Sequence[Path]] = None) -> "Settings":
        """Resolve every key. ``options`` maps "section.key" to a command-line value (None: not
        given); ``files`` replaces the config files looked for (tests). Raises
        EnvironmentProblem for an unreadable file or a bad value in one, and UsageError for a bad
        value in an option or the environment."""
        env = os.environ if env is None else env
        options = options or {}
        unknown = [name for name in options if tuple(name.split(".", 1)) not in _BY_NAME]
        if unknown:
            raise ValueError(f"no such settings: {', '.join(unknown)}")  # a bug in a CLI's table
        explicit = bool(config or env.get(ENV_CONFIG))
        files = tuple(files) if files is not None else config_files(env, config)
        layers = [(path, _read_file(path, explicit)) for path in files]
        values = {(k.section, k.name): _resolve(k, options.get(k.dotted), env, layers) for k in KEYS}
        return cls(values, files)

    def get(self, section: str, name: str) -> Any:
        return self._values[(section, name)].value

    def origin(self, section: str, name: str) -> str:
        return self._values[(section, name)].origin

    def given(self, section: str, name: str) -> bool:
        """True when the value does not come from the default (e.g. a trust file named on purpose)."""
        return self.origin(section, name) != "default"

    def __iter__(self) -> Iterator[Value]:
        return iter(self._values[(k.section, k.name)] for k in KEYS)

    def describe(self) -> List[Dict[str, Any]]:
        """The --json form of ``glancing config``."""
        return [{"key": v.key.dotted, "value": v.shown if v.key.secret else v.value, "origin": v.origin}
                for v in self]


def _resolve(key: Key, option: Any, env: Mapping[str, str],
             layers: Sequence[Tuple[Path, Mapping[Tuple[str, str], str]]]) -> Value:
    if option is not None:
        return Value(key, option, "option")
    for name in (key.env, key.legacy_env):
        if name and env.get(name):
            return Value(key, _parse(key, env[name], f"${name}", UsageError), f"env:{name}")
    for path, found in layers:
        if (key.section, key.name) in found:
            text = found[(key.section, key.name)]
            return Value(key, _parse(key, text, f"{path} [{key.section}] {key.name}", EnvironmentProblem),
                         f"file:{path}")
    return Value(key, key.default, "default")


def _parse(key: Key, text: str, where: str, error: type) -> Any:
    try:
        return key.parse(text.strip())
    except ValueError as e:
        raise error(f"{where}: {e}") from None


__all__ = ["KEYS", "Key", "RESERVED_SECTIONS", "Settings", "Value", "config_files", "parse_disk_formats",
           "parse_duration", "parse_size", "read_one_auth"]
