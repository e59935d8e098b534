# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Options the commands share, and the one place a command line becomes a ``Settings``.

An option that has a settings key defaults to None ("not given"), so the settings object can
fall back to the environment, the config files, then the key's default (``glancing.settings``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import threading
from typing import Any, Callable, Dict, Optional

from glancing.cli import common
from glancing.settings import Settings
from glancing.sources import SourceSettings

# argparse dest -> settings key: how an option overrides a key.
OPTION_KEYS: Dict[str, str] = {
    "backup_dir": "glance.backup_dir", "visibility": "glance.visibility",
    "container_format": "glance.container_format",
    "ca_dir": "trust.ca_dir", "trust_file": "trust.trust_file", "crl": "trust.crl",
    "at_signing_time": "trust.at_signing_time", "url": "sources.marketplace_url",
    "ca_file": "fetch.ca_file", "keep": "manager.keep", "jobs": "manager.jobs", "lock": "manager.lock",
    "metrics_file": "manager.metrics", "db": "manager.database", "target": "target.kind",
    "quarantine": "quarantine.enabled", "protected": "glance.protected", "disk_formats": "glance.disk_formats",
    "method": "glance.import_method", "stores": "glance.stores", "os_cloud": "glance.clouds",
}


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="read settings from FILE only, instead of ~/.config/glancing/glancing.conf "
                             "and /etc/glancing/glancing.conf [$GLANCING_CONFIG]")


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings of this run: the options given, then environment, config files, defaults."""
    given = {key: getattr(args, dest) for dest, key in OPTION_KEYS.items() if hasattr(args, dest)}
    return Settings.load(given, config=getattr(args, "config", None))


def add_record_options(parser: argparse.ArgumentParser, image_list: bool = True) -> None:
    group = parser.add_argument_group("records and image lists")
    group.add_argument("-u", "--url", metavar="URL",
                       help="StratusLab marketplace metadata URL [[sources] marketplace_url, "
                            "$GLANCING_MARKETPLACE_URL; the 2016 default marketplace is gone since 2017]")
    if image_list:
        group.add_argument("-c", "--cern-list", "--image-list", dest="image_list", metavar="LIST",
                           help="a HEPiX image list (path or URL, S/MIME-signed or JSON): SOURCE is then "
                                "the dc:identifier of an image in it")
    group.add_argument("--allow-expired", action="store_true",
                       help="import a record or list past its validity date (dcterms:valid, dc:date:expires)")
    group.add_argument("--allow-deprecated", action="store_true",
                       help="import a record its endorser withdrew (slterms:deprecated)")


def add_fetch_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "downloads",
        "Images, SUMS files, records and lists are downloaded with these bounds ([fetch] section):\n"
        "a connection within connect_timeout (10 s); a byte within read_timeout (60 s); net progress\n"
        "of the whole transfer within stall_timeout (300 s, counted across reconnects and resumes);\n"
        "at least min_speed (1024 bytes/s) averaged over stall_timeout; retries (5) attempts in a\n"
        "row without progress. Exceeding one is exit 3 naming it, and the next location is tried.")
    group.add_argument("--ca-file", metavar="FILE",
                       help="CA bundle for https mirrors, SUMS files, lists and marketplaces "
                            "([fetch] ca_file; Glance and Keystone use --os-cacert instead)")


def add_trust_options(parser: argparse.ArgumentParser, no_signature: bool = True) -> None:
    group = parser.add_argument_group(
        "signatures and trust",
        "Records and lists read from a remote source must be signed by a trusted endorser whose\n"
        "certificate chains to a CA of the grid CA directory, with current CRLs. Defaults come from\n"
        "[trust] in the config files ($GLANCING_CA_DIR and $GLANCING_TRUST_FILE too), else\n"
        "/etc/grid-security/certificates and /etc/glancing/trusted-endorsers.")
    group.add_argument("--ca-dir", metavar="DIR", help="grid CA directory (<hash>.0 certificates, <hash>.r0 CRLs)")
    group.add_argument("--trust", dest="trust_file", metavar="FILE", help="trusted endorsers file")
    group.add_argument("--endorser", action="append", default=[], metavar="DN",
                       help="also trust the endorser with this certificate subject (either DN form; repeatable)")
    group.add_argument("--crl", choices=("require", "off"), help="CRL checking (default: require)")
    group.add_argument("--at-signing-time", action="store_const", const=True, default=None,
                       help="check certificates at the signing time (archived records whose signer "
                            "certificate has since expired); revocation still applies")
    if no_signature:  # not for a command whose whole job is checking signatures
        group.add_argument("--no-signature", action="store_true",
                           help="UNSAFE: read records and lists without checking any signature (warned on every use)")


def http_settings(settings: Settings) -> Any:
    """The ``[fetch]`` section as the fetchers take it (fields the fetcher does not know are left out)."""
    from glancing.fetch import HttpSettings

    known = {f.name for f in dataclasses.fields(HttpSettings)}
    values = {name: settings.get("fetch", name) for name in
              ("connect_timeout", "read_timeout", "stall_timeout", "min_speed", "max_reconnects", "retries",
               "backoff", "ca_file", "tls_verify", "proxy") if name in known}
    if values.get("tls_verify") is False:
        common.UNSAFE.warning("[fetch] tls_verify is off: https downloads accept any certificate")
    return HttpSettings(**values)


def conversion_settings(settings: Settings) -> Any:
    """The site's disk formats and virtual-size cap ([glance] disk_formats, max_virtual_size)."""
    from glancing.transform.convert import ConvertOptions

    return ConvertOptions(disk_formats=settings.get("glance", "disk_formats"),
                          max_virtual_size=settings.get("glance", "max_virtual_size"))


def glance_settings(settings: Settings) -> Any:
    """The ``[glance]`` tunables of the Glance target."""
    from glancing.targets.glance import GlanceSettings

    return GlanceSettings(retries=settings.get("glance", "retries"), backoff=settings.get("glance", "backoff"),
                          discard_timeout=settings.get("glance", "discard_timeout"),
                          stores=tuple(settings.get("glance", "stores") or ()),
                          import_timeout=settings.get("glance", "import_timeout"))


def add_scale_options(group: Any) -> None:
    """Where Glance moves the bytes itself: --method and --stores (see README, "Glance moves the bytes")."""
    from glancing.settings import KEYS

    parse_names = next(k.parse for k in KEYS if k.dotted == "glance.stores")
    group.add_argument("--method", choices=("upload", "web-download", "auto"),
                       help="how the bytes reach Glance: upload through this host, web-download (Glance "
                            "fetches the URL; needs an expected md5 or sha512), auto ([glance] import_method, "
                            "default upload)")
    group.add_argument("--stores", type=_argtype(parse_names), metavar="STORE[,STORE...]",
                       help="Glance multi-store backends: upload to the first, copy to the others, publish "
                            "once every store holds it ([glance] stores)")


def _argtype(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def trust_policy(args: argparse.Namespace, settings: Optional[Settings] = None) -> Any:
    """The policy the options and settings describe; UsageError for a bad trust file."""
    from glancing.trust.policy import TrustPolicy, UnsafeNoVerify
    from glancing.trust.settings import from_settings

    if getattr(args, "no_signature", False):
        return UnsafeNoVerify()
    return TrustPolicy.load(from_settings(settings or load_settings(args), args.endorser))


class LazyPolicy:
    """The trust policy, built on first use: a plain file or URL never pays for loading the crypto
    stack and the trust file (about 0.12 s of every such run)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build: Optional[Callable[[], Any]] = build
        self._policy: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._build is not None:
                self._policy, self._build = self._build(), None
        return getattr(self._policy, name)


def source_settings(args: argparse.Namespace, settings: Optional[Settings] = None,
                    lazy: bool = False) -> SourceSettings:
    """What resolving a source needs. ``lazy``: the trust policy is built on first use (for
    ``glancing``, whose SOURCE is often a plain file); callers that inspect the policy's type
    (the manager's kept verdicts, subscriptions) take it built."""
    settings = settings or load_settings(args)
    resolved = settings
    policy = LazyPolicy(lambda: trust_policy(args, resolved)) if lazy else trust_policy(args, settings)
    return SourceSettings(policy=policy, marketplace_url=settings.get("sources", "marketplace_url"),
                          image_list=getattr(args, "image_list", None), allow_expired=args.allow_expired,
                          allow_deprecated=args.allow_deprecated, http=http_settings(settings),
                          clock_skew=datetime.timedelta(seconds=settings.get("trust", "clock_skew")))


def add_target_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", choices=("glance", "opennebula"),
                        help="where images go: OpenStack Glance (the --os-* options) or OpenNebula "
                             "($ONE_XMLRPC, $ONE_AUTH, [opennebula]) [[target] kind, default glance]")


def one_settings(settings: Settings) -> Any:
    """The ``[opennebula]`` section, with the session read from its auth file."""
    from glancing.settings import read_one_auth
    from glancing.targets.opennebula import OneSettings
    from glancing.targets.opennebula.attrs import parse_permissions

    get = lambda name: settings.get("opennebula", name)  # noqa: E731
    return OneSettings(endpoint=get("endpoint"), session=read_one_auth(get("auth_file")), datastore=get("datastore"),
                       permissions=parse_permissions(get("permissions")), group=get("group"),
                       ready_timeout=get("ready_timeout"), poll=get("poll"), vm_template=get("template"),
                       path_prefix=get("path_prefix") or settings.get("fetch", "tmp_dir"),
                       register_from=get("register_from"))


def connect_target(args: argparse.Namespace, settings: Settings, cloud: Optional[str] = None) -> Any:
    """The target ``[target] kind`` names (--target), connected; ``cloud``: the clouds.yaml entry
    of a Glance when several were given. Raises GlanceError or UsageError."""
    if settings.get("target", "kind") == "opennebula":
        from glancing.targets.opennebula import connect as one

        return one(one_settings(settings))
    from glancing.targets.glance import connect as glance

    return glance(args, glance_settings(settings), cloud=cloud)


def add_signer_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The endorser's signing credentials (a PEM pair or PKCS#12), as every signing command takes them."""
    group = p.add_argument_group("signing credentials (the endorser's grid certificate)")
    group.add_argument("--cert", metavar="FILE", help="certificate, PEM or DER (e.g. ~/.globus/usercert.pem); "
                       "further certificates in it are sent as the chain")
    group.add_argument("--key", metavar="FILE", help="its private key (default: in --cert)")
    group.add_argument("--p12", metavar="FILE", help="PKCS#12 file holding both, instead of --cert/--key")
    group.add_argument("--password-file", metavar="FILE",
                       help="first line: the password of an encrypted key or PKCS#12 (else asked on a terminal)")
    return group


def load_signer(args: argparse.Namespace, now: Optional[datetime.datetime] = None) -> Any:
    """The credentials ``add_signer_options`` names, loaded and checked; the password of an
    encrypted key is asked only on a terminal (trust.credentials says what to give otherwise)."""
    import getpass
    import sys
    from pathlib import Path

    from glancing.trust.credentials import load_signer as load

    def path(value: Optional[str]) -> Optional[Path]:
        return Path(value).expanduser() if value else None

    return load(path(args.cert), path(args.key), p12=path(args.p12), password_file=path(args.password_file),
                prompt=getpass.getpass if sys.stdin.isatty() else None, now=now)
