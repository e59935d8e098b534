# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Who may endorse: the trusted-endorsers file plus ``--endorser DN`` options.

File format (example in etc/trusted-endorsers.example): one endorser per line, ``#`` starts a
comment, values with spaces are double-quoted, DNs in either form (OpenSSL ``/DC=org/CN=x`` or
RFC 2253 ``CN=x,DC=org``)::

    hepix      dn="/DC=org/DC=ex/CN=lists.ex.org"  ca="/DC=org/DC=ex/CN=Example CA"  [list=ID-OR-URL]...
    stratuslab email=a@ex.org  subject="CN=A,O=Ex,C=EU"  issuer="CN=Example CA,O=Ex,C=EU"
    any        dn="/DC=org/DC=ex/CN=Someone"   [ca=...]

``hepix`` lines trust a list signer; with ``list=`` only for the lists whose ``dc:identifier``,
``hv:uri`` or source URL is one of the values. ``stratuslab`` lines trust a record signer.
``any`` (what ``--endorser DN`` adds) trusts a subject for both formats, under any CA the
chain check accepts unless ``ca=`` narrows it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from glancing.errors import RecordError, UsageError
from glancing.trust.dn import DN, parse_dn
from glancing.trust.failures import UntrustedEndorser

_KEYS = {"hepix": {"dn", "ca", "list"}, "stratuslab": {"email", "subject", "issuer"},
         "any": {"dn", "ca"}}
_REQUIRED = {"hepix": {"dn", "ca"}, "stratuslab": {"email", "subject", "issuer"}, "any": {"dn"}}


@dataclass(frozen=True)
class Endorser:
    """One trusted endorser, and where it was declared (for messages)."""

    kind: str  # "hepix", "stratuslab" or "any"
    subject: DN
    issuer: Optional[DN] = None
    email: Optional[str] = None
    lists: Tuple[str, ...] = ()
    origin: str = ""  # "FILE:LINE" or "--endorser"


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "/=.,@:_-+" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hepix_line(dn: str, ca: str, lists: Sequence[str] = ()) -> str:
    """The trust-file line that trusts a HEPiX list signer."""
    extra = "".join(f" list={_quote(item)}" for item in lists)
    return f"hepix dn={_quote(dn)} ca={_quote(ca)}{extra}"


def stratuslab_line(email: str, subject: str, issuer: str) -> str:
    """The trust-file line that trusts a StratusLab record signer."""
    return f"stratuslab email={_quote(email)} subject={_quote(subject)} issuer={_quote(issuer)}"


def _dn_value(text: str, where: str) -> DN:
    try:
        return parse_dn(text)
    except RecordError as exc:
        raise UsageError(f"{where}: {exc}") from None


def parse_line(line: str, where: str) -> Optional[Endorser]:
    """Parse one trust-file line; None for blank and comment lines. Raises UsageError."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
    if not tokens:
        return None
    kind, fields, lists = tokens[0], {}, []
    if kind not in _KEYS:
        raise UsageError(f"{where}: unknown endorser kind {kind!r} (hepix, stratuslab or any)")
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep or key not in _KEYS[kind] or (key in fields and key != "list"):
            raise UsageError(f"{where}: unexpected {token!r} for a {kind} endorser")
        if key == "list":
            lists.append(value)
        fields[key] = value
    missing = _REQUIRED[kind] - set(fields)
    if missing:
        raise UsageError(f"{where}: {kind} endorser needs {', '.join(sorted(missing))}")
    subject = fields.get("dn", fields.get("subject", ""))
    issuer = fields.get("ca", fields.get("issuer"))
    return Endorser(kind=kind, subject=_dn_value(subject, where),
                    issuer=_dn_value(issuer, where) if issuer else None,
                    email=fields.get("email"), lists=tuple(lists), origin=where)


def parse_trust_file(text: str, name: str) -> List[Endorser]:
    """Parse a whole trust file. Raises UsageError naming the line at fault."""
    found = (parse_line(line, f"{name}:{n}") for n, line in enumerate(text.splitlines(), 1))
    return [e for e in found if e is not None]


@dataclass(frozen=True)
class TrustedEndorsers:
    """The endorsers a policy accepts, and the file new ones should be added to."""

    endorsers: Tuple[Endorser, ...]
    file: Optional[Path] = None

    @classmethod
    def load(cls, file: Optional[Path], extra_dns: Iterable[str] = (),
             required: bool = False) -> "TrustedEndorsers":
        """Read ``file`` (skipped when absent unless ``required``) and add ``--endorser`` DNs.

        Raises UsageError for an unreadable or malformed file or DN.
        """
        found: List[Endorser] = []
        if file is not None and (required or file.exists()):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read trust file {file}: {exc}") from None
            found.extend(parse_trust_file(text, str(file)))
        for dn in extra_dns:
            found.append(Endorser(kind="any", subject=_dn_value(dn, "--endorser"), origin="--endorser"))
        return cls(tuple(found), file)

    def _where(self) -> str:
        return f"add this line to {self.file}" if self.file else "add this line to a trust file"

    def for_list(self, subject: DN, issuer: DN, keys: Iterable[str], what: str) -> Endorser:
        """The endorser trusting this list signer for one of ``keys`` (identifier, URIs).

        Raises UntrustedEndorser naming the endorser and the line to add.
        """
        keys = [k for k in keys if k]
        named = [e for e in self.endorsers if e.kind in ("hepix", "any") and e.subject == subject
                 and (e.issuer is None or e.issuer == issuer)]
        for endorser in named:
            if not endorser.lists or set(endorser.lists) & set(keys):
                return endorser
        line = hepix_line(subject.openssl(), issuer.openssl(), keys[:1])
        if named:
            bound = ", ".join(sorted({item for e in named for item in e.lists}))
            raise UntrustedEndorser(f"{what}: endorser {subject} is trusted only for lists "
                                    f"{bound} ({named[0].origin}), not this one; to trust it "
                                    f"for this list too, {self._where()}: {line}")
        raise UntrustedEndorser(f"{what}: endorser {subject} (CA {issuer}) is not trusted; "
                                f"{self._where()}: {line}")

    def for_record(self, subject: DN, issuer: DN, email: str, what: str) -> Endorser:
        """The endorser trusting this record signer. Raises UntrustedEndorser with the line to add."""
        for endorser in self.endorsers:
            if (endorser.kind in ("stratuslab", "any") and endorser.subject == subject
                    and (endorser.issuer is None or endorser.issuer == issuer)
                    and (endorser.email is None or endorser.email.casefold() == email.casefold())):
                return endorser
        line = stratuslab_line(email, subject.rfc2253(), issuer.rfc2253())
        raise UntrustedEndorser(f"{what}: endorser {email} {subject.rfc2253()} is not trusted; "
                                f"{self._where()}: {line}")
