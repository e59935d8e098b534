# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""One exception hierarchy; ``exit_code`` is the only place an error becomes a process status.

Every error carries a one-line, user-facing message (its ``str``). The CLIs print that line on
stderr and exit with the class's code; tracebacks are shown only with ``-v``.
"""

from __future__ import annotations

from typing import Mapping, Optional

# Exit codes, documented in every CLI's --help (see EXIT_CODES_HELP).
OK = 0
VERIFY_FAILED = 1
USAGE = 2
SOURCE_UNREACHABLE = 3
GLANCE_FAILED = 4
RECORD_REFUSED = 5
LOCKED = 6
ENVIRONMENT = 7
PARTIAL = 8
INTERNAL = 70
INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    verification failed: size, digest, identifier or disk format did not match
  2    usage error: bad option or argument
  3    source unreachable: file missing, network or HTTP error, every location failed
  4    Glance or Keystone error: authentication, upload refused, server-side digest mismatch
  5    record refused: malformed, unsafe, expired, deprecated, unsigned or untrusted
  6    another run holds the lock (glance_manager)
  7    environment problem: a required tool (qemu-img) or configuration file is missing or unusable
  8    partial failure: some images (glance_manager) or clouds (glancing) failed, the others were handled
  70   internal error (a bug: please report it with the -v traceback)
  130  interrupted (Ctrl-C or SIGTERM)"""


class GlancingError(Exception):
    """Base of every error glancing raises on purpose. ``str(e)`` is the one-line message."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(GlancingError):
    """The command line or a configuration value is wrong."""

    exit_code = USAGE


class VerificationError(GlancingError):
    """The image bytes are not what the source promised."""

    exit_code = VERIFY_FAILED


class SizeMismatch(VerificationError):
    """The number of bytes differs from the expected size."""

    def __init__(self, expected: int, got: int, what: str = "image") -> None:
        super().__init__(f"size mismatch for {what}: expected {expected} bytes, got {got}")
        self.expected = expected
        self.got = got


class DigestMismatch(VerificationError):
    """One or more expected digests differ from the computed ones (all are reported)."""

    def __init__(self, expected: Mapping[str, str], got: Mapping[str, str], what: str = "image") -> None:
        bad = sorted(alg for alg in expected if expected[alg] != got.get(alg))
        detail = "; ".join(f"{alg} expected {expected[alg]} got {got.get(alg)}" for alg in bad)
        super().__init__(f"digest mismatch for {what}: {detail}")
        self.expected = dict(expected)
        self.got = dict(got)
        self.algorithms = bad


class IdentifierMismatch(VerificationError):
    """A marketplace identifier does not encode the SHA-1 it should."""


class FormatMismatch(VerificationError):
    """The detected disk format differs from the declared or requested one."""


class UnsafeImage(VerificationError):
    """The disk image references other files (a backing file, an external data file, VMDK extents)."""


class SourceError(GlancingError):
    """The image or its record could not be read: missing file, network or HTTP error."""

    exit_code = SOURCE_UNREACHABLE


class GlanceError(GlancingError):
    """Glance or Keystone refused or failed a request."""

    exit_code = GLANCE_FAILED


class ServerDigestMismatch(GlanceError):
    """Glance's own checksum or os_hash_value differs from what was sent."""


class RecordError(GlancingError):
    """A record or image list is malformed, unsafe, expired, deprecated or untrusted."""

    exit_code = RECORD_REFUSED


class RecordExpired(RecordError):
    """The record or list is past its validity date."""


class RecordDeprecated(RecordError):
    """The endorser withdrew the record."""


class UnsafeLocation(RecordError):
    """A location points somewhere a record of that origin may not make the tool read."""


class SignatureError(RecordError):
    """A signature is missing, invalid, or its signer is not trusted."""


class EnvironmentProblem(GlancingError):
    """This host lacks something glancing needs: a tool (qemu-img), a readable config file."""

    exit_code = ENVIRONMENT


class LockHeld(GlancingError):
    """Another run holds the lock."""

    exit_code = LOCKED


def exit_code(error: Optional[BaseException]) -> int:
    """Map an exception (or None) to the documented process exit status."""
    if error is None:
        return OK
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(error, GlancingError):
        return error.exit_code
    return INTERNAL
