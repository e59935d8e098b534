# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Signer chains against a grid-style CA directory, with its CRLs (pyhanko-certvalidator).

The directory is what the IGTF bundle and fetch-crl leave in /etc/grid-security/certificates:
``<hash>.N`` CA certificates and ``<hash>.rN`` CRLs, PEM (DER is read too). Every CA certificate
there is a trust anchor. CRLs are required by default for every certificate in the path
("require" is the only pyhanko mode that uses a CRL for a certificate without a CRL
distribution point, libraries.md B.3); ``CrlMode.OFF`` skips revocation and logs a warning.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

from asn1crypto import pem
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as pv

from glancing.trust.dn import DN, from_name
from glancing.trust.failures import ChainError, ChainNotChecked

log = logging.getLogger(__name__)

DEFAULT_CA_DIR = Path("/etc/grid-security/certificates")
_CERT_FILE = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")
_CRL_FILE = re.compile(r"^[0-9a-f]{8}\.r[0-9]+$")
_MAX_DEPTH = 8
_DER = Encoding.DER


class CrlMode(enum.Enum):
    """Whether revocation is checked: always (default), or not at all (unsafe, warned)."""

    REQUIRE = "require"
    OFF = "off"


@dataclass(frozen=True)
class CADirectory:
    """The trust anchors and CRLs read from one directory."""

    path: Path
    anchors: Tuple[ax509.Certificate, ...]
    crls: Tuple[bytes, ...]  # DER, each one parsed once already
    unusable_crls: Tuple[str, ...] = ()  # "<file>: <why>" for CRL files that did not parse

    def subjects(self) -> List[DN]:
        """The subject of every CA certificate in the directory."""
        return [from_name(x509.load_der_x509_certificate(c.dump()).subject) for c in self.anchors]


def _der_blocks(data: bytes) -> List[bytes]:
    if pem.detect(data):
        return [der for _, _, der in pem.unarmor(data, multiple=True)]
    return [data]


def _crl_blocks(data: bytes, entry: Path) -> List[bytes]:
    """The DER CRLs of a ``.rN`` file, each parsed; ValueError for an empty or garbage file."""
    if not data.strip():
        raise ValueError("empty file")
    blocks = _der_blocks(data)
    for der in blocks:
        x509.load_der_x509_crl(der)  # parse now: pyhanko would fail later, with no file name
    return blocks


def load_ca_dir(path: Path) -> CADirectory:
    """Read ``<hash>.N`` certificates and ``<hash>.rN`` CRLs. Unreadable files are skipped
    with a warning (an unusable CRL is remembered: see validate_chain); a missing directory,
    or a path that is not a directory, raises ChainNotChecked."""
    if path.exists() and not path.is_dir():
        raise ChainNotChecked(f"chain not checked: CA directory {path} is a file, not a directory")
    if not path.is_dir():
        raise ChainNotChecked(f"chain not checked: CA directory {path} does not exist")
    anchors: List[ax509.Certificate] = []
    crls: List[bytes] = []
    unusable: List[str] = []
    for entry in sorted(path.iterdir()):
        if not (_CERT_FILE.match(entry.name) or _CRL_FILE.match(entry.name)):
            continue
        try:
            if _CERT_FILE.match(entry.name):
                for der in _der_blocks(entry.read_bytes()):
                    cert = ax509.Certificate.load(der)
                    _ = cert.native  # parse now: one broken file must not break every validation
                    anchors.append(cert)
            else:
                crls.extend(_crl_blocks(entry.read_bytes(), entry))
        except (OSError, ValueError) as exc:
            log.warning("skipping unreadable %s: %s", entry, exc)
            if _CRL_FILE.match(entry.name):
                unusable.append(f"{entry}: {exc}")
    return CADirectory(path=path, anchors=tuple(anchors), crls=tuple(crls), unusable_crls=tuple(unusable))


@dataclass(frozen=True)
class ChainResult:
    """A validated path, signer first, anchor last."""

    path: Tuple[DN, ...]
    moment: dt.datetime
    crl_checked: bool

    @property
    def anchor(self) -> DN:
        """The CA of the directory the path ends at."""
        return self.path[-1]


def _reaches_directory(cert: x509.Certificate, others: Sequence[x509.Certificate],
                       ca_dir: CADirectory) -> None:
    """Raise ChainNotChecked when no issuer chain by name leads into the directory."""
    known = set(ca_dir.subjects())
    by_subject = {from_name(c.subject): c for c in others}
    current = cert
    for _ in range(_MAX_DEPTH):
        subject, issuer = from_name(current.subject), from_name(current.issuer)
        if subject in known or issuer in known:
            return
        nxt = by_subject.get(issuer)
        if nxt is None or issuer == subject:
            break
        current = nxt
    raise ChainNotChecked(f"chain not checked: CA {from_name(current.issuer)} is not in {ca_dir.path}")


def _explain(exc: Exception, ca_dir: CADirectory, moment: dt.datetime) -> ChainError:
    """Turn a pyhanko failure into the one-line reason an operator can act on."""
    when = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(exc, pv.RevokedError):
        return ChainError(f"certificate revoked ({exc})")
    if isinstance(exc, pv.StaleRevinfoError):
        return ChainError(f"CRL in {ca_dir.path} has expired (run fetch-crl): {exc}")
    if isinstance(exc, pv.InsufficientRevinfoError):
        return ChainError(f"no valid CRL in {ca_dir.path} for the chain{_unusable(ca_dir)} (run "
                          f"fetch-crl, or --crl off, which is unsafe): {exc}")
    if isinstance(exc, pv.ExpiredError):
        return ChainError(f"certificate expired at {when} ({exc}); --at-signing-time checks "
                          "archived records at their signing time")
    if isinstance(exc, pv.NotYetValidError):
        return ChainError(f"certificate not yet valid at {when} ({exc})")
    if isinstance(exc, pv.PathBuildingError):
        return ChainNotChecked(f"chain not checked: no path to a CA in {ca_dir.path} ({exc})")
    return ChainError(f"chain invalid: {exc}")


def _unusable(ca_dir: CADirectory) -> str:
    """Name the CRL files that could not be used: a failed fetch-crl run leaves such files."""
    return f" (unusable CRL: {'; '.join(ca_dir.unusable_crls)})" if ca_dir.unusable_crls else ""


def validate_chain(cert: x509.Certificate, others: Sequence[x509.Certificate], ca_dir: CADirectory,
                   *, moment: dt.datetime, crl: CrlMode = CrlMode.REQUIRE,
                   retroactive: bool = False) -> ChainResult:
    """Validate ``cert`` (with the certificates the message carried) at ``moment``.

    ``retroactive`` accepts CRLs issued after ``moment``: needed when checking an archived
    signature at its signing time with today's CRLs. Raises ChainNotChecked when the issuing CA is
    not in the directory, ChainError for any other failure (revoked, expired, no or stale CRL).
    """
    _reaches_directory(cert, others, ca_dir)
    if crl is CrlMode.REQUIRE and not ca_dir.crls:
        raise ChainError(f"no CRL in {ca_dir.path}{_unusable(ca_dir)} (run fetch-crl, or --crl off, "
                         "which is unsafe)")
    if crl is CrlMode.OFF:
        logging.getLogger("glancing.unsafe").warning("CRL checking is off (--crl off): a revoked signer would be accepted")
    ee = ax509.Certificate.load(cert.public_bytes(_DER))
    inter = [ax509.Certificate.load(c.public_bytes(_DER)) for c in others if c != cert]
    context = ValidationContext(
        trust_roots=list(ca_dir.anchors), moment=moment, allow_fetching=False,
        crls=list(ca_dir.crls) if crl is CrlMode.REQUIRE else [],
        revocation_mode="require" if crl is CrlMode.REQUIRE else "soft-fail",
        # SHA-1 signed grid certificates are still common; md2 and md5 are not accepted.
        weak_hash_algos={"md2", "md5"}, retroactive_revinfo=retroactive)
    validator = CertificateValidator(ee, intermediate_certs=inter, validation_context=context)
    try:
        path = asyncio.run(validator.async_validate_usage(set()))
    except (pv.PathValidationError, pv.PathBuildingError, pv.ValidationError, ValueError) as exc:
        raise _explain(exc, ca_dir, moment) from None
    certs = [x509.load_der_x509_certificate(c.dump()) for c in path.iter_certs(include_root=True)]
    if crl is CrlMode.REQUIRE and retroactive:
        _refuse_ever_revoked(certs, ca_dir)
    names = tuple(from_name(c.subject) for c in reversed(certs))
    return ChainResult(path=names, moment=moment, crl_checked=crl is CrlMode.REQUIRE)


def _refuse_ever_revoked(path: Sequence[x509.Certificate], ca_dir: CADirectory) -> None:
    """Refuse a certificate revoked at any time, even after the moment checked.

    Checking at the signing time would accept a signature made before the revocation; but the
    signing time is the signer's own claim, and a compromised key can claim any time.
    """
    crls = []
    for der in ca_dir.crls:
        try:
            crls.append(x509.load_der_x509_crl(der))
        except ValueError:
            continue
    issuers = {c.subject: c for c in path}
    for cert in path:
        issuer = issuers.get(cert.issuer)
        for crl in crls:
            if issuer is None or crl.issuer != cert.issuer or not crl.is_signature_valid(issuer.public_key()):
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None:
                raise ChainError(f"certificate revoked on {entry.revocation_date_utc:%Y-%m-%d} "
                                 f"({from_name(cert.subject)}); a revoked key cannot vouch for "
                                 "its own signing time")
