# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""OpenNebula's error codes as glancing errors. Every one is a target failure (exit 4, as for
Glance: ``errors.GlanceError``); the class tells callers which refusal it was, and the message
names the XML-RPC call and quotes oned."""

from __future__ import annotations

from typing import Optional

from glancing.errors import GlanceError

AUTHENTICATION = 0x100
AUTHORIZATION = 0x200
NO_EXISTS = 0x400
ACTION = 0x800


class OneError(GlanceError):
    """OpenNebula refused or failed a call; ``code`` is oned's error code when it gave one."""

    def __init__(self, message: str, code: Optional[int] = None, call: str = "") -> None:
        super().__init__(message)
        self.code, self.call = code, call


class OneAuthError(OneError):
    """256 (the session is not valid) or 512 (the user may not do that)."""


class OneMissing(OneError):
    """1024: no such image, datastore, template, user or group."""


class OneWrongState(OneError):
    """2048: not in this state, e.g. deleting an image VMs use."""


class OneTimeout(OneError):
    """An image was not READY within ``[opennebula] ready_timeout``, or oned did not answer."""


class OneUnreachable(OneError):
    """No answer from the endpoint (connection refused, reset, HTTP error): worth a retry."""


def for_code(code: Optional[int]) -> type:
    return {AUTHENTICATION: OneAuthError, AUTHORIZATION: OneAuthError, NO_EXISTS: OneMissing,
            ACTION: OneWrongState}.get(code or 0, OneError)
