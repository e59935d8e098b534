# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The trust policy the pipeline calls before it reads anything from a record or list.

``TrustPolicy`` verifies, in order: the signature (nothing else is read when it fails), the
binding of the signer to the endorser the content names (idem), then the chain and CRLs, the
trusted-endorser list and, for image lists, the dates and version. Failures of those later
stages are all reported in one message. ``UnsafeNoVerify`` is ``--no-signature``: it checks no
signature and says so in a warning on every use.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Protocol, Sequence

from cryptography import x509
from lxml import etree

from glancing.errors import GlancingError, RecordError
from glancing.trust import claims as cl
from glancing.trust import smime, xmldsig
from glancing.trust.chain import CADirectory, ChainResult, load_ca_dir, validate_chain
from glancing.trust.dn import DN, from_name
from glancing.trust.endorsers import Endorser, TrustedEndorsers
from glancing.trust.failures import ChainError, Unsigned
from glancing.trust.settings import TrustSettings, resolve

log = logging.getLogger(__name__)
# Shown even with -q: an unsafe mode is what a cron mail must show.
UNSAFE_LOG = logging.getLogger("glancing.unsafe")
Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Signer:
    """The certificate that signed, with its names parsed."""

    certificate: x509.Certificate
    subject: DN
    issuer: DN
    email: Optional[str]

    @classmethod
    def of(cls, cert: x509.Certificate) -> "Signer":
        """Describe a signer certificate."""
        return cls(cert, from_name(cert.subject), from_name(cert.issuer), cl.cert_email(cert))


@dataclass(frozen=True)
class VerifiedRecord:
    """A StratusLab record to parse from ``data``/``tree`` only (no comments, no Signature)."""

    what: str
    data: bytes
    tree: etree._Element
    verified: bool  # False: unsigned and allowed, or UnsafeNoVerify
    summary: str
    signer: Optional[Signer] = None
    endorsement: Optional[cl.RecordClaims] = None
    chain: Optional[ChainResult] = None
    endorser: Optional[Endorser] = None
    signed: bool = False  # it carried a Signature (checked only when ``verified``)


@dataclass(frozen=True)
class VerifiedList:
    """A HEPiX list's JSON as signed (``data``), parsed (``document``), and who endorsed it."""

    what: str
    data: bytes
    document: Mapping[str, Any]
    claims: cl.ListClaims
    verified: bool
    summary: str
    signer: Optional[Signer] = None
    chain: Optional[ChainResult] = None
    endorser: Optional[Endorser] = None


class Verifier(Protocol):
    """What sources need of a policy: TrustPolicy, or UnsafeNoVerify for --no-signature."""

    def verify_stratuslab_all(self, xml_bytes: bytes, what: str, *,
                              allow_unsigned: bool = False) -> List[VerifiedRecord]: ...

    def verify_stratuslab(self, xml: xmldsig.Document, what: str, *,
                          allow_unsigned: bool = False) -> VerifiedRecord: ...

    def verify_image_list(self, data: bytes, what: str, seen_version: Optional[str] = None, *,
                          seen_identifier: Optional[str] = None,
                          allow_unsigned: bool = False) -> VerifiedList: ...


class _Outcome:
    """Collects the passed and failed later stages of one verification."""

    def __init__(self, what: str, passed: Sequence[str]) -> None:
        self.what, self.passed, self.failed = what, list(passed), []  # type: ignore[var-annotated]

    def run(self, label: Callable[[Any], str], check: Callable[[], Any]) -> Any:
        try:
            result = check()
        except GlancingError as exc:
            self.failed.append(exc)
            return None
        self.passed.append(label(result))
        return result

    def settle(self) -> str:
        """Return the summary, or raise the first failure's type with every reason in it."""
        summary = ", ".join(self.passed)
        if not self.failed:
            return summary
        prefix = self.what + ": "
        reasons = "; ".join(e.message[len(prefix):] if e.message.startswith(prefix) else e.message
                            for e in self.failed)
        error = type(self.failed[0])(f"{self.what}: {summary}; {reasons}")
        error.failures = list(self.failed)  # type: ignore[attr-defined]
        raise error


def _chain_label(result: ChainResult) -> str:
    crl = "CRL checked" if result.crl_checked else "CRL NOT checked (--crl off)"
    return f"chain to {result.anchor} ({crl})"


def _bound(what: str, check: Callable[[], None]) -> None:
    """Run a binding check; on failure say the signature itself was fine."""
    try:
        check()
    except GlancingError as exc:
        prefix = what + ": "
        text = exc.message[len(prefix):] if exc.message.startswith(prefix) else exc.message
        raise type(exc)(f"{what}: signature valid, but {text}") from None


class TrustPolicy:
    """Verify records and lists against a CA directory and the trusted endorsers."""

    def __init__(self, settings: TrustSettings, endorsers: TrustedEndorsers, *,
                 clock: Clock = _utcnow) -> None:
        """A policy over loaded endorsers; reads nothing (the CA directory is read on first use)."""
        self.settings = settings
        self.endorsers = endorsers
        self._clock = clock
        self._ca_dir: Optional[CADirectory] = None

    @classmethod
    def load(cls, settings: TrustSettings, *, clock: Clock = _utcnow) -> "TrustPolicy":
        """Read the trust file now, so a malformed one is a UsageError before any download."""
        endorsers = TrustedEndorsers.load(settings.trust_file, settings.endorsers,
                                          required=settings.trust_file_explicit)
        return cls(settings, endorsers, clock=clock)

    @classmethod
    def from_options(cls, *, clock: Clock = _utcnow, **options: Any) -> "TrustPolicy":
        """Build from CLI values (see glancing.trust.settings.resolve for the keywords)."""
        return cls.load(resolve(**options), clock=clock)

    def _chain(self, cert: x509.Certificate, others: Sequence[x509.Certificate],
               signed_at: Optional[dt.datetime], what: str) -> ChainResult:
        if self._ca_dir is None:
            self._ca_dir = load_ca_dir(self.settings.ca_dir)
        moment = self._clock()
        if self.settings.at_signing_time:
            if signed_at is None:
                raise ChainError(f"{what}: no signing time to check the certificates at")
            moment = signed_at
        return validate_chain(cert, others, self._ca_dir, moment=moment, crl=self.settings.crl,
                              retroactive=self.settings.at_signing_time)

    def verify_stratuslab_all(self, xml_bytes: bytes, what: str, *,
                              allow_unsigned: bool = False) -> List[VerifiedRecord]:
        """Verify every rdf:RDF of a record or a <metadata> wrapper; all must pass."""
        docs = xmldsig.record_roots(xml_bytes, what)
        if len(docs) == 1:
            return [self._record(docs[0], what, allow_unsigned)]
        return [self._record(doc, f"{what} (record {n})", allow_unsigned)
                for n, doc in enumerate(docs, 1)]

    def verify_stratuslab(self, xml: xmldsig.Document, what: str, *,
                          allow_unsigned: bool = False) -> VerifiedRecord:
        """Verify one StratusLab record (bare or in a one-record <metadata> wrapper).

        ``xml`` is the document's bytes or one root from xmldsig.record_roots (verified and
        cleaned in place, not parsed again). ``allow_unsigned`` accepts an unsigned record (for
        local files), unverified. Raises SignatureError subclasses (glancing.trust.failures) or
        RecordError.
        """
        if isinstance(xml, etree._Element):
            return self._record(xml, what, allow_unsigned)
        docs = xmldsig.record_roots(xml, what)
        if len(docs) != 1:
            raise RecordError(f"{what}: {len(docs)} records in one document; verify_stratuslab_all "
                              "reads them one by one")
        return self._record(docs[0], what, allow_unsigned)

    def _record(self, doc: etree._Element, what: str, allow_unsigned: bool) -> VerifiedRecord:
        try:
            signed = xmldsig.verify_enveloped(doc, what)
        except Unsigned:
            if not allow_unsigned:
                raise
            log.info("%s: record is not signed; read without verification", what)
            data, tree = xmldsig.strip(doc, what)
            return VerifiedRecord(what, data, tree, verified=False, summary="unsigned")
        signer = Signer.of(signed.certificate)
        endorsement = cl.record_claims(signed.tree, what)
        _bound(what, lambda: cl.check_record_binding(endorsement, signed.certificate, what))
        outcome = _Outcome(what, ["signature valid", "endorser bound"])
        chain = outcome.run(_chain_label, lambda: self._chain(
            signed.certificate, (), endorsement.created, what))
        endorser = outcome.run(lambda e: f"endorser trusted ({e.origin})",
                               lambda: self.endorsers.for_record(signer.subject, signer.issuer,
                                                                 endorsement.email, what))
        summary = outcome.settle()
        return VerifiedRecord(what, signed.data, signed.tree, True, summary, signer, endorsement,
                              chain, endorser, signed=True)

    def verify_image_list(self, data: bytes, what: str, seen_version: Optional[str] = None, *,
                          seen_identifier: Optional[str] = None,
                          allow_unsigned: bool = False) -> VerifiedList:
        """Verify a HEPiX list (S/MIME detached or opaque) and return its JSON and signer.

        ``seen_version``/``seen_identifier`` come from the subscription: a lower version or
        another identifier is refused. ``allow_unsigned`` accepts a bare JSON list (local files),
        unverified but still date-checked. Raises SignatureError subclasses, RecordExpired or
        RecordError.
        """
        try:
            message = smime.verify_smime(data, what)
        except Unsigned:
            if not allow_unsigned:
                raise
            log.info("%s: image list is not signed; read without verification", what)
            return _unverified_list(data, what, self._clock(), seen_version, seen_identifier)
        claims = cl.list_claims(message.content, what)
        signer = Signer.of(message.certificate)
        _bound(what, lambda: cl.check_list_binding(claims, message.certificate, what))
        outcome = _Outcome(what, [f"signature valid ({message.digest_algorithm})", "endorser bound"])
        chain = outcome.run(_chain_label, lambda: self._chain(
            message.certificate, message.certificates, message.signing_time or claims.created, what))
        keys = [claims.identifier, claims.uri or "", what]
        endorser = outcome.run(lambda e: f"endorser trusted ({e.origin})",
                               lambda: self.endorsers.for_list(signer.subject, signer.issuer, keys, what))
        outcome.run(lambda _: f"dates and version {claims.version} current", lambda: cl.check_list_freshness(
            claims, self._clock(), what, seen_version=seen_version, seen_identifier=seen_identifier))
        summary = outcome.settle()
        return VerifiedList(what, message.content, claims.document, claims, True, summary, signer,
                            chain, endorser)


def _unverified_list(data: bytes, what: str, now: dt.datetime, seen_version: Optional[str],
                     seen_identifier: Optional[str]) -> VerifiedList:
    """Read a list without verifying any signature; its dates and version are still checked."""
    content = data
    if smime.looks_signed(data):
        content = smime.unverified_content(data, what)
    claims = cl.list_claims(content, what)
    cl.check_list_freshness(claims, now, what, seen_version=seen_version,
                            seen_identifier=seen_identifier)
    return VerifiedList(what, content, claims.document, claims, verified=False,
                        summary="NOT verified")


class UnsafeNoVerify:
    """``--no-signature``: read records and lists without checking who signed them.

    Every call logs a warning. Dates and versions of image lists are still checked: the flag
    is about signatures only.
    """

    def __init__(self, *, clock: Clock = _utcnow) -> None:
        self._clock = clock

    def verify_stratuslab_all(self, xml_bytes: bytes, what: str, **_: Any) -> List[VerifiedRecord]:
        """Split and clean every record; no signature is checked."""
        UNSAFE_LOG.warning("%s: signature NOT verified (--no-signature): anyone could have changed it", what)
        return [_unchecked(doc, what) for doc in xmldsig.record_roots(xml_bytes, what)]

    def verify_stratuslab(self, xml: xmldsig.Document, what: str, **_: Any) -> VerifiedRecord:
        """Clean one record; no signature is checked. Raises RecordError for several records."""
        if isinstance(xml, etree._Element):
            UNSAFE_LOG.warning("%s: signature NOT verified (--no-signature): anyone could have changed it", what)
            return _unchecked(xml, what)
        records = self.verify_stratuslab_all(xml, what)
        if len(records) != 1:
            raise RecordError(f"{what}: {len(records)} records in one document")
        return records[0]

    def verify_image_list(self, data: bytes, what: str, seen_version: Optional[str] = None, *,
                          seen_identifier: Optional[str] = None, **_: Any) -> VerifiedList:
        """Read a list, signed or not, without verifying it; dates and version are checked."""
        UNSAFE_LOG.warning("%s: signature NOT verified (--no-signature): anyone could have changed it", what)
        return _unverified_list(data, what, self._clock(), seen_version, seen_identifier)


def _unchecked(doc: etree._Element, what: str) -> VerifiedRecord:
    signed = any(isinstance(el.tag, str) and el.tag == f"{{{xmldsig.DS}}}Signature" for el in doc)
    data, tree = xmldsig.strip(doc, what)
    return VerifiedRecord(what, data, tree, verified=False, summary="NOT verified", signed=signed)
