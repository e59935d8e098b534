# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""EGI AppDB's submission form for signed image lists (publishing.md 1).

``appdb+https://host/vmlist/submit/x509/`` posts, form-encoded, one field ``data`` holding
``<appdbvmc>`` with the actions (``insert`` and ``enable``, vmcaster's defaults), ``entity``
``imagelist``, ``response`` ``json``, ``user`` ``x509`` and the base64 of the signed list.
x509 authentication is the TLS client certificate (the endorser's, unencrypted key). The reply
is ``{"egiappdb": {"status", "details", "submission_id", "errors"}}``; anything but status
``success`` is a failed upload.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit

from lxml import etree

from glancing.fetch.http import new_session
from glancing.publish.upload import UploadError, UploadSettings

ACTIONS = ("insert", "enable")


def form_data(signed: bytes, actions: Sequence[str] = ACTIONS, user: str = "x509") -> str:
    """The ``data`` field: the <appdbvmc> document."""
    root = etree.Element("appdbvmc")
    for action in actions:
        etree.SubElement(root, "action").text = action
    for tag, text in (("entity", "imagelist"), ("response", "json"), ("user", user),
                      ("imagelist", base64.b64encode(signed).decode("ascii"))):
        etree.SubElement(root, tag).text = text
    return etree.tostring(root, xml_declaration=True, encoding="utf-8").decode("utf-8")


def _reply(text: str, url: str) -> Any:
    try:
        reply = json.loads(text)["egiappdb"]
        status = reply["status"]
    except (ValueError, KeyError, TypeError):
        raise UploadError(f"AppDB at {url} answered something that is not its JSON reply") from None
    if status != "success":
        details = reply.get("details") or ""
        problems = reply.get("errors") or []
        messages = [e.get("message") for e in problems if isinstance(e, dict) and e.get("message")]
        raise UploadError(f"AppDB refused the list: {status} {details} {'; '.join(messages)}".strip())
    return reply


def submit(signed: bytes, destination: str, settings: UploadSettings) -> Any:
    """POST the signed list to AppDB; return its reply. Raises UploadError."""
    parts = urlsplit(destination)
    url = urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[1]))
    session = new_session(settings.http)
    kwargs = settings.http.request_kwargs()
    if settings.client_cert:
        kwargs["cert"] = settings.client_cert
    try:
        response = session.post(url, data={"data": form_data(signed)}, **kwargs)  # type: ignore[arg-type]
    except Exception as e:  # noqa: BLE001 - requests and ssl errors alike fail the upload
        raise UploadError(f"POST {url} failed: {type(e).__name__}: {e}") from None
    if not response.ok:
        raise UploadError(f"POST {url}: HTTP {response.status_code} {response.reason}")
    return _reply(response.text, url)
