# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Finer kinds of trust refusal; all are SignatureError (exit code 5, "record refused").

The pipeline needs only SignatureError; the subclasses let it tell an unsigned document (which
``--no-signature`` or a local, unsigned file may accept) from a broken or untrusted one.
"""

from __future__ import annotations

from glancing.errors import SignatureError


class Unsigned(SignatureError):
    """The record or list carries no signature at all."""


class BadSignature(SignatureError):
    """The signature is malformed, uses a refused algorithm, or does not verify."""


class BindingMismatch(SignatureError):
    """The signer certificate is not the endorser the signed content names."""


class ChainError(SignatureError):
    """The signer certificate does not chain to a trusted CA, is revoked, or lacks a CRL."""


class ChainNotChecked(ChainError):
    """The chain could not be checked: the issuing CA is not in the CA directory."""


class UntrustedEndorser(SignatureError):
    """A valid signature from an endorser the trust file and --endorser do not list."""


class StaleList(SignatureError):
    """An image list that is from the future, older than one already seen, or another list."""
