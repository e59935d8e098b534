# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What a glance_manager run verified, kept for the next run (table ``verified_records``).

Verifying a marketplace record (signature, chain, CRL) costs 25-50 ms; a cron run over hundreds
of unchanged IDs paid that for every ID on every run. Here a verified listing is remembered with
every input its verdict depended on, and reused only while none of them moved:

- the bytes: fetched conditionally (If-None-Match / If-Modified-Since); a 304, or a 200 whose
  sha512 is the one verified, is the same listing;
- the trust inputs (``trust_fingerprint``): names, sizes and mtimes of the CA directory's
  certificates and CRLs, the trust file's size and mtime, the endorser pins, the CRL mode and
  the date options;
- time: the signer's certificate near its end (``near_expiry``), the next update of its issuer's
  CRL, and every date at which the listing's selection would change (a record expiring, a
  record endorsed ahead of the clock becoming current), plus ``max_age`` as a last bound.

Anything else re-verifies from the bytes, exactly as without a database. Rows are read once per
run and written when the run ends (``close``): the fetches run in worker threads and an sqlite3
connection belongs to the thread that opened it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

import requests

from glancing.errors import EnvironmentProblem, GlancingError
from glancing.fetch.http import new_session
from glancing.model import DigestScope, Expected, ImageSpec, Location, Origin
from glancing.sources import CheckedListing, SourceSettings, check_listing, marketplace_spec
from glancing.sources import marketplace
from glancing.targets.names import parse_stamp, stamp

log = logging.getLogger(__name__)

_CA_FILE = re.compile(r"^[0-9a-f]{8}\.r?[0-9]+$")
_MAX_LISTING = 8 << 20


@dataclass(frozen=True)
class CacheOptions:
    """How long a verdict may be reused (``[manager] verified_near_expiry``, ``verified_max_age``)."""

    near_expiry: _dt.timedelta = _dt.timedelta(days=1)  # re-verify when the signer expires sooner
    max_age: _dt.timedelta = _dt.timedelta(days=1)  # re-verify at least this often


@dataclass(frozen=True)
class Entry:
    """One row of ``verified_records``."""

    mpid: str
    url: str
    etag: Optional[str]
    last_modified: Optional[str]
    data_sha512: str
    record: Mapping[str, Any]  # the spec (``spec_to_json``) and ``recheck_at``
    summary: str
    signer_not_after: Optional[str]
    crl_fingerprint: str  # the trust fingerprint (see the module docstring), not only the CRLs
    verified_at: str

    @property
    def recheck_at(self) -> Optional[_dt.datetime]:
        """When the verdict must be checked again, whatever the bytes."""
        return parse_stamp(self.record.get("recheck_at"))


def _file_state(path: Path) -> List[Any]:
    try:
        st = path.stat()
    except OSError:
        return [str(path), None]
    return [str(path), st.st_size, st.st_mtime_ns]


def trust_fingerprint(settings: SourceSettings) -> str:
    """A digest of every trust input a verdict depends on (one directory listing). Raises nothing."""
    policy = settings.policy
    trust = policy.settings
    files: List[Any] = []
    try:
        with os.scandir(trust.ca_dir) as entries:
            files = sorted([e.name, e.stat().st_size, e.stat().st_mtime_ns]
                           for e in entries if _CA_FILE.match(e.name))
    except OSError as exc:
        files = [f"unreadable: {exc.strerror}"]
    state = {"ca_dir": str(trust.ca_dir), "files": files, "trust_file": _file_state(trust.trust_file),
             "endorsers": list(trust.endorsers), "crl": trust.crl.value,
             "at_signing_time": trust.at_signing_time, "allow_expired": settings.allow_expired,
             "allow_deprecated": settings.allow_deprecated}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def spec_to_json(spec: ImageSpec) -> Dict[str, Any]:
    """The ImageSpec as plain JSON, to rebuild it without parsing or verifying the record again."""
    e = spec.expected
    return {"locations": [loc.url for loc in spec.locations], "origin": spec.origin.value,
            "expected": {"size": e.size, "digests": dict(e.digests), "scope": e.scope.value,
                         "identifier": e.identifier},
            "name": spec.name, "compression": spec.compression, "disk_format": spec.disk_format,
            "version": spec.version, "expires": stamp(spec.expires) if spec.expires else None,
            "deprecated": spec.deprecated, "properties": dict(spec.properties),
            "described_by": spec.described_by}


def spec_from_json(data: Mapping[str, Any]) -> ImageSpec:
    """The inverse of ``spec_to_json``."""
    e = data["expected"]
    return ImageSpec(
        locations=tuple(Location(u) for u in data["locations"]), origin=Origin(data["origin"]),
        expected=Expected(size=e["size"], digests=dict(e["digests"]), scope=DigestScope(e["scope"]),
                          identifier=e["identifier"]),
        name=data["name"], compression=data["compression"], disk_format=data["disk_format"],
        version=data["version"], expires=parse_stamp(data["expires"]), deprecated=data["deprecated"],
        properties=dict(data["properties"]), described_by=data["described_by"])


def selection_changes(records: Iterable[Any], now: _dt.datetime, skew: _dt.timedelta) -> Optional[_dt.datetime]:
    """The first moment after ``now`` at which a record of the listing expires or stops being
    "endorsed in the future": the selection may differ from then on."""
    moments = []
    for record in records:
        if record.valid is not None and record.valid > now:
            moments.append(record.valid)
        created = record.endorsement_created
        if created is not None and created - skew > now:
            moments.append(created - skew)
    return min(moments) if moments else None


def crl_next_update(ca_dir: Path, issuer: Any) -> Optional[_dt.datetime]:
    """The earliest nextUpdate of the CRLs in ``ca_dir`` issued by ``issuer`` (an x509.Name)."""
    from cryptography import x509

    from asn1crypto import pem

    found: List[_dt.datetime] = []
    try:
        names = [p for p in ca_dir.iterdir() if re.match(r"^[0-9a-f]{8}\.r[0-9]+$", p.name)]
    except OSError:
        return None
    for path in names:
        try:
            data = path.read_bytes()
            for der in ([d for _, _, d in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]):
                crl = x509.load_der_x509_crl(der)
                if crl.issuer == issuer and crl.next_update_utc is not None:
                    found.append(crl.next_update_utc)
        except (OSError, ValueError):
            continue
    return min(found) if found else None


def _not_after(signer: Any) -> Optional[_dt.datetime]:
    return signer.certificate.not_valid_after_utc if signer is not None else None


@dataclass(frozen=True)
class Fetched:
    """One conditional GET: ``data`` is None for a 304."""

    data: Optional[bytes]
    etag: Optional[str]
    last_modified: Optional[str]


def conditional_get(url: str, entry: Optional[Entry], settings: SourceSettings,
                    session: requests.Session) -> Fetched:
    """GET ``url`` with the validators of ``entry`` (when given). Raises requests exceptions or
    GlancingError for an answer other than 200/304 (the caller then takes the ordinary path)."""
    headers = {"Accept": "application/xml"}
    if entry is not None and entry.etag:
        headers["If-None-Match"] = entry.etag
    if entry is not None and entry.last_modified:
        headers["If-Modified-Since"] = entry.last_modified
    answer = session.get(url, headers=headers, allow_redirects=False, stream=True,
                         **settings.http.request_kwargs())
    # A body read to its end lets the connection serve the next ID (keep-alive).
    with answer:
        if answer.status_code == 304 and entry is not None:
            _ = answer.content
            return Fetched(None, answer.headers.get("ETag") or entry.etag,
                           answer.headers.get("Last-Modified") or entry.last_modified)
        if answer.status_code != 200:
            raise GlancingError(f"{url}: HTTP {answer.status_code}")
        data = bytearray()
        for chunk in answer.iter_content(1 << 16):
            data += chunk
            if len(data) > _MAX_LISTING:
                raise GlancingError(f"{url}: larger than {_MAX_LISTING} bytes")
        return Fetched(bytes(data), answer.headers.get("ETag"), answer.headers.get("Last-Modified"))


class VerifiedRecords:
    """A ``FetchSpec`` (marketplace ID -> ImageSpec) that reuses the verdicts of earlier runs.

    ``conn`` is read here (one SELECT) and written by ``close()`` in the thread that built this
    object; ``spec`` may run in any thread. Counters say what each ID cost, for reports and tests.
    """

    def __init__(self, conn: sqlite3.Connection, settings: SourceSettings,
                 options: CacheOptions = CacheOptions()) -> None:
        self.conn, self.settings, self.options = conn, settings, options
        self.base = marketplace.marketplace_base(settings.marketplace_url)
        self.fingerprint = trust_fingerprint(settings)
        self.entries = {row["mpid"]: _entry(row) for row in conn.execute("SELECT * FROM verified_records")}
        self._writes: Dict[str, Optional[Entry]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self.counts = {"reused": 0, "not_modified": 0, "verified": 0, "uncached": 0}

    def __call__(self, mpid: str) -> ImageSpec:
        return self.spec(mpid)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = new_session(self.settings.http)
        return session

    def usable(self, entry: Optional[Entry], url: str, now: _dt.datetime) -> Optional[Entry]:
        """``entry`` when every input of its verdict is unchanged at ``now``, else None."""
        if entry is None or entry.url != url or entry.crl_fingerprint != self.fingerprint:
            return None
        recheck = entry.recheck_at
        return entry if recheck is not None and now < recheck else None

    def spec(self, mpid: str) -> ImageSpec:
        """The spec of ``mpid``'s record: reused when unchanged, else fetched and verified.
        Raises what ``sources.marketplace_spec`` raises."""
        url = marketplace.record_url(self.base, mpid)
        now = self.settings.now()
        with self._lock:
            entry = self.usable(self.entries.get(mpid), url, now)
        try:
            fetched = conditional_get(url, entry, self.settings, self._session())
        except (requests.RequestException, GlancingError) as exc:
            # The ordinary path retries, bounds and explains the failure; the verdict is dropped.
            log.debug("%s: conditional fetch failed (%s); fetching as usual", mpid, exc)
            self._forget(mpid)
            self._count("uncached")
            return marketplace_spec(mpid, self.settings)
        if entry is not None and fetched.data is None:
            self._count("not_modified")
            return self._reuse(entry, fetched)
        assert fetched.data is not None
        digest = hashlib.sha512(fetched.data).hexdigest()
        if entry is not None and entry.data_sha512 == digest:
            self._count("reused")
            return self._reuse(entry, fetched)
        return self._verify(mpid, url, fetched, digest, now)

    def _reuse(self, entry: Entry, fetched: Fetched) -> ImageSpec:
        if (fetched.etag, fetched.last_modified) != (entry.etag, entry.last_modified):
            self._store(replace(entry, etag=fetched.etag, last_modified=fetched.last_modified))
        return spec_from_json(entry.record["spec"])

    def _verify(self, mpid: str, url: str, fetched: Fetched, digest: str, now: _dt.datetime) -> ImageSpec:
        assert fetched.data is not None
        self._forget(mpid)  # a refusal leaves no verdict behind
        checked = check_listing(mpid, fetched.data, url, self.settings)
        self._count("verified")
        if checked.signer is not None:  # an unverified record (--no-signature) is never kept
            self._store(self._entry_of(mpid, url, fetched, digest, checked, now))
        return checked.spec

    def _entry_of(self, mpid: str, url: str, fetched: Fetched, digest: str, checked: CheckedListing,
                  now: _dt.datetime) -> Entry:
        not_after = _not_after(checked.signer)
        bounds = [now + self.options.max_age,
                  selection_changes(checked.records, now, self.settings.clock_skew),
                  not_after - self.options.near_expiry if not_after else None]
        if self.settings.policy.settings.crl.value == "require":
            bounds.append(crl_next_update(self.settings.policy.settings.ca_dir, checked.signer.certificate.issuer))
        recheck = min(b for b in bounds if b is not None)
        summary = checked.spec.properties.get("glancing_signature", "")
        return Entry(mpid, url, fetched.etag, fetched.last_modified, digest,
                     {"spec": spec_to_json(checked.spec), "recheck_at": stamp(recheck)}, summary,
                     stamp(not_after) if not_after else None, self.fingerprint, stamp(now))

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _store(self, entry: Entry) -> None:
        with self._lock:
            self.entries[entry.mpid] = entry
            self._writes[entry.mpid] = entry

    def _forget(self, mpid: str) -> None:
        with self._lock:
            if self.entries.pop(mpid, None) is not None:
                self._writes[mpid] = None

    def close(self) -> None:
        """Write what this run verified or dropped (one transaction). Raises nothing."""
        with self._lock:
            writes, self._writes = dict(self._writes), {}
        if not writes:
            return
        try:
            self._write(writes)
        except sqlite3.Error as exc:  # a cache: losing it costs the next run time, never safety
            log.warning("could not keep this run's verified records: %s", exc)

    def _write(self, writes: Mapping[str, Optional[Entry]]) -> None:
        with self.conn:
            for mpid, entry in writes.items():
                self.conn.execute("DELETE FROM verified_records WHERE mpid = ?", (mpid,))
                if entry is not None:
                    self.conn.execute(
                        "INSERT INTO verified_records(mpid, url, etag, last_modified, data_sha512, record, "
                        "summary, signer_not_after, crl_fingerprint, verified_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (entry.mpid, entry.url, entry.etag, entry.last_modified, entry.data_sha512,
                         json.dumps(entry.record, sort_keys=True), entry.summary, entry.signer_not_after,
                         entry.crl_fingerprint, entry.verified_at))


def _entry(row: Any) -> Entry:
    try:
        record = json.loads(row["record"])
    except ValueError:
        record = {}  # unreadable: no recheck_at, so never reused
    return Entry(row["mpid"], row["url"] or "", row["etag"], row["last_modified"], row["data_sha512"],
                 record, row["summary"] or "", row["signer_not_after"], row["crl_fingerprint"] or "",
                 row["verified_at"])


class _OwnedRecords(VerifiedRecords):
    """VerifiedRecords over a database it opened itself, and closes."""

    def __init__(self, database: Any, settings: SourceSettings, options: CacheOptions) -> None:
        super().__init__(database.conn, settings, options)
        self.database = database

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.database.conn.close()


def for_run(settings: SourceSettings, database: str, explicit: bool,
            options: CacheOptions = CacheOptions()) -> Callable[[str], ImageSpec]:
    """The run's FetchSpec: verdicts kept in ``database`` when it can be opened, else every record
    verified as before.

    A database the user named (``explicit``: --db, [manager] database, the environment) must open,
    else EnvironmentProblem. The default one is optional: a user without write access to
    /var/lib/glancing runs as before, told so once at info level. --no-signature keeps nothing.
    """
    from glancing.subscriptions.db import Database
    from glancing.trust.policy import TrustPolicy

    if not isinstance(settings.policy, TrustPolicy):  # --no-signature: nothing verified to keep
        return lambda mpid: marketplace_spec(mpid, settings)
    try:
        db = Database.open(database)
    except EnvironmentProblem as exc:
        if explicit:
            raise
        log.info("no database (%s): every record is verified again on every run", exc)
        return lambda mpid: marketplace_spec(mpid, settings)
    try:
        return _OwnedRecords(db, settings, options)
    except BaseException:
        db.conn.close()
        raise
