# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Sign a list: the endorser check, the version bump, the dates, the S/MIME detached signature.

The list's endorser is the first certificate that signed it (``hv:endorser``: ``hv:dn``,
``hv:ca``, ``hv:email``, ``dc:creator``). A certificate with another subject or issuer is
refused, with the reason: a HEPiX list has ONE endorser. vmcaster wrote an array for two, which
vmcatcher cannot read (vmcatcher.md 3), and an S/MIME list carries one signature (this
project's and vmcatcher's verifiers require exactly one signer), so a second endorser could
never be verified. A renewed certificate with the same names signs on.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Dict, Optional

from glancing.errors import RecordError, UsageError
from glancing.formats.dates import as_utc, format_date
from glancing.formats.hepix.read import HepixList, read_image_list
from glancing.formats.hepix.write import write_image_list
from glancing.publish import store
from glancing.subscriptions.db import Database
from glancing.trust.credentials import CredentialError, SigningCredentials
from glancing.trust.dn import parse_dn
from glancing.trust.sign_smime import sign_detached

FIRST_VERSION = "0.0.0"


def bump_version(version: Optional[str]) -> str:
    """vmcaster's patch bump: the last number goes up by one ("0.0.9" -> "0.0.10").

    A version with no trailing number gets ".1" appended, so it still sorts after the old one.
    """
    text = (version or FIRST_VERSION).strip()
    match = re.search(r"(\d+)$", text)
    if match is None:
        return f"{text}.1"
    return text[:match.start()] + str(int(match.group(1)) + 1)


def _common_name(creds: SigningCredentials) -> str:
    for rdn in reversed(creds.subject_dn.rdns):
        for oid, value in rdn:
            if oid == "2.5.4.3":
                return value
    return creds.subject


def check_endorser(row: store.ListRow, creds: SigningCredentials) -> None:
    """Refuse a certificate that is not the list's endorser (CredentialError, with why)."""
    if not row.endorser_dn:
        return
    same = (parse_dn(row.endorser_dn) == creds.subject_dn
            and parse_dn(row.endorser_ca or "") == creds.issuer_dn)
    if not same:
        raise CredentialError(
            f"list {row.id} is endorsed by {row.endorser_dn} (CA {row.endorser_ca}), not by "
            f"{creds.subject_openssl}: a HEPiX list has one endorser (vmcatcher reads one "
            "hv:endorser, and a list carries one signature); publish a second list instead")


def build_list(db: Database, row: store.ListRow, endorser: Dict[str, Optional[str]], version: str,
               created: dt.datetime) -> HepixList:
    """The list as it will be signed, read back through the HEPiX reader (so it is valid)."""
    entries = [{"hv:image": image.entry} for image in store.images(db, row.id)]
    body: Dict[str, Any] = {
        "dc:identifier": row.id, "dc:title": row.title, "dc:description": row.description,
        "dc:source": row.source or "", "hv:uri": row.uri, "hv:version": version,
        "dc:date:created": format_date(created),
        "dc:date:expires": format_date(created + dt.timedelta(seconds=row.lifetime)),
        "hv:endorser": {"hv:x509": {"hv:dn": endorser["dn"], "hv:ca": endorser["ca"],
                                    "hv:email": endorser["email"] or "", "dc:creator": endorser["name"] or ""}},
        "hv:images": entries}
    if row.vo:
        body["ad:vo"] = row.vo
    try:
        return read_image_list({"hv:imagelist": body}, f"list {row.id}")
    except RecordError as e:
        raise UsageError(f"cannot sign: {e} (glancing-publish image set / image upload)") from None


def sign_list(db: Database, ident: str, creds: SigningCredentials, *, now: dt.datetime,
              email: Optional[str] = None) -> store.SignedRow:
    """Sign the list's next version and keep it as its latest signed version.

    Raises UsageError for an unknown list or an incomplete image entry, CredentialError for a
    certificate that is not the list's endorser.
    """
    row = store.get_list(db, ident)
    check_endorser(row, creds)
    first = not row.endorser_dn
    endorser = {"dn": row.endorser_dn, "ca": row.endorser_ca, "email": row.endorser_email,
                "name": row.endorser_name}
    if first:
        endorser = {"dn": creds.subject_openssl, "ca": creds.issuer_openssl,
                    "email": email or creds.email, "name": _common_name(creds)}
    elif email:
        endorser["email"] = email
    version = bump_version(row.version)
    created = as_utc(now).replace(microsecond=0)
    payload = write_image_list(build_list(db, row, endorser, version, created))
    data = sign_detached(payload, creds)
    return store.add_signed(db, row.id, version, data, endorser if first or email else None)
