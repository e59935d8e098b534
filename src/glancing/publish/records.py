# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Publishing StratusLab records: build one for an image, sign it, upload it, deprecate it.

What stratus-build/sign/upload/deprecate-metadata did (publishing.md 2), as a library the
``glancing-metadata`` subcommands call:

* ``build``: the image is read once; compressed input (gzip, bzip2, xz, zip: told by magic bytes)
  is decompressed on the way, because a record's size and digests describe the UNCOMPRESSED
  image (formats.md 1.3); qemu-img names the disk format from the same bytes.
* ``sign``: the endorsement comes from the signer's checked certificate (trust.credentials) and
  the signature from trust.sign_xmldsig.
* ``upload``: ``POST <marketplace>/metadata`` as ``application/xml``; 201 with ``Location``, or
  202 when the marketplace wants the endorser to confirm by e-mail first.
* ``deprecate``: the endorser's latest record is fetched, its signature verified and its signer
  checked to be the one deprecating it (never re-sign what someone else or a network changed),
  ``slterms:deprecated`` added, then signed and uploaded like a new endorsement.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import urllib.parse
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import requests
from lxml import etree

from glancing.errors import FormatMismatch, RecordError, SourceError, UsageError
from glancing.fetch import read_small
from glancing.fetch.base import read_chunks
from glancing.fetch.http import HttpSettings, new_session
from glancing.formats.stratuslab.validate import EMAIL
from glancing.formats.stratuslab.write import RecordDraft, to_bytes, write_record
from glancing.formats.text import clean
from glancing.formats.vocab import DCTERMS_NS, RDF_NS, SLREQ_NS, SLTERMS_NS
from glancing.formats.xmlsafe import MAX_XML_BYTES
from glancing.transform import decompress, probe
from glancing.trust import xmldsig
from glancing.trust.claims import check_record_binding, record_claims
from glancing.trust.credentials import SigningCredentials
from glancing.trust.dn import from_name
from glancing.trust.sign_xmldsig import endorsement_for, sign_record
from glancing.verify.digests import MultiHasher

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
_CREATOR_EMAIL = re.compile(r"<([^<>\s]+@[^<>\s]+)>\s*$")


# -- build ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageFacts:
    """An image as a record describes it: the uncompressed bytes, and how the file was given."""

    size: int
    digests: dict
    disk_format: str
    compression: Optional[str]  # of the file read ('gz', 'bz2', 'xz', 'zip') or None


def _with_head(chunks: Iterator[bytes], keep: int, into: bytearray) -> Iterator[bytes]:
    for chunk in chunks:
        if len(into) < keep:
            into += chunk[: keep - len(into)]
        yield chunk


def describe_image(path: str) -> ImageFacts:
    """Size, digests and disk format of the image in ``path``, decompressed, in one read.

    Raises SourceError (unreadable), DecompressError, UnsafeImage / FormatMismatch / ProbeError
    (qemu-img's verdict), EnvironmentProblem (no qemu-img).
    """
    try:
        stream = open(path, "rb")
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None
    with stream:
        chunks = read_chunks(stream, path)
        first = next(chunks, b"")
        kind = decompress.sniff(first)
        data: Iterator[bytes] = itertools.chain([first], chunks)
        if kind is not None:
            data = decompress.decompress(data, kind)
        head = bytearray()
        hasher = MultiHasher(ALGORITHMS)
        try:
            for chunk in _with_head(data, probe.PROBE_BYTES, head):
                hasher.update(chunk)
        finally:
            hasher.close()
    disk_format = probe.detect(bytes(head), source=path)
    return ImageFacts(size=hasher.size, digests=hasher.hexdigests(), disk_format=disk_format, compression=kind)


@dataclass(frozen=True)
class BuildRequest:
    """What ``glancing-metadata build`` was asked to describe. ``compression`` is how the
    locations serve the file: None to take it from the file's content, 'none' for as is."""

    image: str
    locations: Tuple[str, ...]
    os: str
    os_version: str
    os_arch: str
    version: str
    author: Optional[str] = None
    email: Optional[str] = None
    compression: Optional[str] = None
    title: Optional[str] = None
    disk_format: Optional[str] = None
    hypervisor: Optional[str] = "kvm"
    valid: dt.timedelta = dt.timedelta(days=178)  # the StratusLab client's "half a year"
    comment: Optional[str] = None
    tag: Optional[str] = None


def _compression(request: BuildRequest, found: Optional[str]) -> Optional[str]:
    """The compression to declare. A compressed file says for itself; an uncompressed one may be
    served compressed (its digests are the uncompressed ones either way)."""
    asked = request.compression
    if found is not None and asked not in (None, found):
        raise UsageError(f"{request.image} is {decompress.NAMES[found]}-compressed, not "
                         f"{asked}: its locations must serve it as it is (--compression {found})")
    return found if asked is None else (None if asked == "none" else asked)


def creator(author: Optional[str], email: Optional[str]) -> Optional[str]:
    """dcterms:creator: the author, with the e-mail as ``Name <address>`` when given."""
    if author and email:
        return f"{author} <{email}>"
    return author or (f"<{email}>" if email else None)


def build(request: BuildRequest, now: dt.datetime) -> Tuple[bytes, ImageFacts]:
    """The unsigned record of ``request.image`` and what was found in the image.

    Raises what describe_image raises, FormatMismatch when ``disk_format`` disagrees with the
    content, UsageError for contradicting options.
    """
    if request.email is not None and not EMAIL.match(request.email):
        raise UsageError(f"--email {request.email!r} is not an e-mail address")
    facts = describe_image(request.image)
    disk_format = (request.disk_format or facts.disk_format).lower()
    if disk_format != facts.disk_format:
        raise FormatMismatch(f"--format {disk_format} but qemu-img finds {facts.disk_format} in {request.image}")
    now = now.replace(microsecond=0)
    draft = RecordDraft(
        size=facts.size, checksums=facts.digests, created=now, valid=now + request.valid,
        locations=request.locations, disk_format=disk_format, compression=_compression(request, facts.compression),
        os=request.os, os_version=request.os_version, os_arch=request.os_arch, version=request.version,
        title=request.title, description=request.comment, creator=creator(request.author, request.email),
        hypervisor=request.hypervisor, tag=request.tag)
    return write_record(draft), facts


def default_name(request: BuildRequest) -> str:
    """``<os>-<os-version>-<arch>-base-<version>.xml``, the StratusLab client's file name."""
    name = f"{request.os}-{request.os_version}-{request.os_arch}-base-{request.version}.xml"
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


# -- sign -------------------------------------------------------------------------------------

def _record_email(root: etree._Element) -> Optional[str]:
    """The e-mail a record already names: its endorser's, else the address in dcterms:creator."""
    desc = root.find(f"{{{RDF_NS}}}Description")
    if desc is None:
        return None
    endorser = desc.findtext(f"{{{SLREQ_NS}}}endorsement/{{{SLREQ_NS}}}endorser/{{{SLREQ_NS}}}email")
    if endorser and endorser.strip():
        return endorser.strip()
    found = _CREATOR_EMAIL.search(desc.findtext(f"{{{DCTERMS_NS}}}creator") or "")
    return found.group(1) if found else None


def choose_email(given: Optional[str], signer: SigningCredentials, data: bytes, what: str) -> str:
    """slreq:email: ``given``, else the certificate's, else the record's. The marketplace refuses
    a record whose e-mail differs from the certificate's, so that is refused here already."""
    if given is not None and signer.email is not None and given.casefold() != signer.email.casefold():
        raise UsageError(f"--email {given} is not the certificate's e-mail {signer.email}; the "
                         "marketplace refuses a record whose slreq:email differs from it")
    roots = xmldsig.record_roots(data, what)
    email = given or signer.email or _record_email(roots[0])
    if not email:
        raise UsageError("give --email: neither the certificate nor the record names the endorser's e-mail")
    if not EMAIL.match(email):
        raise UsageError(f"endorser e-mail {email!r} is not an e-mail address")
    return email


def sign(data: bytes, signer: SigningCredentials, what: str, now: dt.datetime,
         email: Optional[str] = None, sha256: bool = False) -> bytes:
    """``data`` endorsed by ``signer`` at ``now`` and signed (see trust.sign_xmldsig)."""
    chosen = choose_email(email, signer, data, what)
    return sign_record(data, signer, endorsement_for(signer, chosen, now), what, sha256=sha256)


# -- upload -----------------------------------------------------------------------------------

def endpoint(marketplace: str) -> str:
    """``<base>/metadata`` of a marketplace given with or without its ``/metadata`` (the same
    value as ``[sources] marketplace_url`` then works for both reading and publishing)."""
    if not marketplace.startswith(("http://", "https://")):
        raise UsageError(f"marketplace URL {marketplace!r} must be an http:// or https:// URL")
    base = marketplace.rstrip("/")
    return base if base.endswith("/metadata") else base + "/metadata"


@dataclass(frozen=True)
class Uploaded:
    """The marketplace's answer: 'created' (with the record's URL) or 'pending' confirmation."""

    status: str
    location: Optional[str]
    http_status: int
    endpoint: str


def _detail(response: requests.Response) -> str:
    """The gist of an error page: its text without markup, on one line, bounded."""
    text = re.sub(r"<[^>]*>", " ", response.text or "")
    text = " ".join(clean(text).split())
    return text[:300] + ("..." if len(text) > 300 else "") if text else (response.reason or "no detail")


def _answer(response: requests.Response, url: str) -> Uploaded:
    code = response.status_code
    if code == 202:
        return Uploaded("pending", response.headers.get("Location"), code, url)
    if 200 <= code < 300:
        location = response.headers.get("Location")
        return Uploaded("created", urllib.parse.urljoin(url, location) if location else None, code, url)
    detail = _detail(response)
    if code in (404, 405):
        raise SourceError(f"{url}: HTTP {code}: no marketplace upload here ({detail}); check the "
                          "marketplace URL")
    if code == 403:
        raise RecordError(f"{url} refused the upload: HTTP 403 (a read-only replica, or this endorser "
                          f"may not publish there): {detail}")
    if 400 <= code < 500:
        raise RecordError(f"{url} refused the record: HTTP {code}: {detail}")
    raise SourceError(f"{url}: HTTP {code} (marketplace error): {detail}")


def upload(data: bytes, marketplace: str, http: HttpSettings = HttpSettings()) -> Uploaded:
    """POST a signed record to the marketplace. Sent once: a second POST of the same record
    would only be refused as not newer than the first. Raises SourceError (unreachable, server
    error, not a marketplace) or RecordError (the marketplace refused the record)."""
    url = endpoint(marketplace)
    session = new_session(http)
    try:
        response = session.post(url, data=data, headers={"Content-Type": "application/xml"},
                                allow_redirects=False, **http.request_kwargs())
    except requests.RequestException as exc:
        raise SourceError(f"cannot upload to {url}: {type(exc).__name__}: {exc}") from None
    finally:
        session.close()
    return _answer(response, url)


# -- deprecate --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Latest:
    """The endorser's latest record, verified: the comment- and signature-free tree to re-sign."""

    tree: etree._Element
    created: dt.datetime
    deprecated: Optional[str]
    url: str


def fetch_latest(identifier: str, email: str, marketplace: str, signer: SigningCredentials,
                 http: HttpSettings = HttpSettings()) -> Latest:
    """The latest record of ``identifier`` endorsed by ``email``, whatever its status, verified
    and signed by the same subject as ``signer``. Raises SourceError (unreachable, none found),
    SignatureError (a record that does not verify), RecordError (another endorser's record)."""
    quoted = "/".join(urllib.parse.quote(part, safe="@") for part in (identifier, email))
    url = f"{endpoint(marketplace)}/{quoted}?status=all"
    session = new_session(http)
    session.headers["Accept"] = "application/xml"
    try:
        data = read_small(url, session, http, MAX_XML_BYTES, allow_local=False)
    finally:
        session.close()
    found: List[Tuple[dt.datetime, xmldsig.SignedXml]] = []
    for root in xmldsig.record_roots(data, url):
        verified = xmldsig.verify_enveloped(root, url)
        claims = record_claims(verified.tree, url)
        check_record_binding(claims, verified.certificate, url)
        if claims.email.casefold() == email.casefold() and claims.created is not None:
            found.append((claims.created, verified))
    if not found:
        raise SourceError(f"{url}: no record of {identifier} endorsed by {email}")
    created, latest = max(found, key=lambda pair: pair[0])
    if from_name(latest.certificate.subject) != signer.subject_dn:
        raise RecordError(f"{url}: the latest record is signed by {from_name(latest.certificate.subject).rfc2253()}, "
                          f"not by this certificate's subject {signer.subject}: only its endorser deprecates it")
    desc = latest.tree.find(f"{{{RDF_NS}}}Description")
    reason = desc.findtext(f"{{{SLTERMS_NS}}}deprecated") if desc is not None else None
    return Latest(tree=latest.tree, created=created, deprecated=reason, url=url)


def deprecated_record(latest: Latest, reason: str, now: dt.datetime) -> bytes:
    """The latest record's content with ``slterms:deprecated`` = ``reason`` (unsigned)."""
    if now.replace(microsecond=0) <= latest.created:
        raise RecordError(f"{latest.url}: the latest record is endorsed at {latest.created:%Y-%m-%dT%H:%M:%SZ}, "
                          "not before now: a deprecation must be newer (check this host's clock)")
    desc = latest.tree.find(f"{{{RDF_NS}}}Description")
    for old in desc.findall(f"{{{SLTERMS_NS}}}deprecated"):
        desc.remove(old)
    etree.SubElement(desc, f"{{{SLTERMS_NS}}}deprecated").text = clean(reason).strip()
    return to_bytes(latest.tree)
