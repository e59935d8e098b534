# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The chain of trust: signatures, signer chains and CRLs, and trusted endorsers.

The pipeline needs only :class:`TrustPolicy` (or :class:`UnsafeNoVerify` for
``--no-signature``) and :func:`resolve` for its settings.
"""

from glancing.trust.policy import Signer, TrustPolicy, UnsafeNoVerify, VerifiedList, VerifiedRecord, Verifier
from glancing.trust.settings import TrustSettings, resolve

__all__ = ["Signer", "TrustPolicy", "TrustSettings", "UnsafeNoVerify", "VerifiedList",
           "VerifiedRecord", "Verifier", "resolve"]
