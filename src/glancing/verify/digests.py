# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Expected digests (parsing what users and SUMS files give) and computing many digests in one read.

Rule: EVERY expected digest must match, and so must the size when it is known. That is the
opposite of pip's "any one matches", on purpose: a site wants an image that agrees with all
that its endorser published.
"""

from __future__ import annotations

import functools
import hashlib
import os
import queue
import re
import threading
import time
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from glancing.errors import DigestMismatch, SizeMismatch, UsageError, VerificationError

# Only these may be guessed from a hex length: under Python 3, 64 hex digits could also be
# sha3_256 or blake2s, so any other algorithm must be named (--digest ALG:HEX).
ALGORITHM_BY_LENGTH = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}

_HEX = re.compile(r"^[0-9a-fA-F]+$")


def normalize_algorithm(name: str) -> str:
    """Map 'SHA-256', 'sha256', 'SHA256' to hashlib's 'sha256'; raise UsageError if unknown."""
    candidate = name.strip().lower().replace("-", "")
    aliases = {"sha3256": "sha3_256", "sha3384": "sha3_384", "sha3512": "sha3_512", "sha3224": "sha3_224"}
    candidate = aliases.get(candidate, candidate)
    if candidate not in hashlib.algorithms_available or candidate.startswith("shake"):
        raise UsageError(f"unknown or variable-length digest algorithm {name!r}")
    return candidate


def digest_length(algorithm: str) -> int:
    """Hex length of ``algorithm``'s digest."""
    return hashlib.new(algorithm).digest_size * 2


def _check_hex(algorithm: str, value: str, where: str) -> str:
    value = value.strip().lower()
    if not _HEX.match(value) or len(value) != digest_length(algorithm):
        raise UsageError(f"{where}: {value!r} is not a {algorithm} digest ({digest_length(algorithm)} hex digits)")
    return value


def add_expected(into: Dict[str, str], algorithm: str, value: str, where: str) -> None:
    """Add one expectation; a different value for an algorithm already expected is a UsageError."""
    previous = into.get(algorithm)
    if previous is not None and previous != value:
        raise UsageError(f"conflicting expected {algorithm} digests: {previous} and {value} ({where})")
    into[algorithm] = value


def parse_sums_option(text: str) -> Dict[str, str]:
    """Parse ``-s`` (colon-separated hex digests; algorithm guessed from the fixed length table).

    Empty items between colons are tolerated (a trailing ``:`` from a script), but an option
    with no digest at all (``-s ''``, ``-s :``) is a UsageError: it must never mean "no check".
    """
    result: Dict[str, str] = {}
    for item in text.split(":"):
        item = item.strip()
        if not item:
            continue
        if not _HEX.match(item):
            raise UsageError(f"-s: {item!r} is not hexadecimal")
        algorithm = ALGORITHM_BY_LENGTH.get(len(item))
        if algorithm is None:
            raise UsageError(
                f"-s: a digest of {len(item)} hex digits matches no algorithm "
                "(md5/sha1/sha224/sha256/sha384/sha512); name it with --digest ALG:HEX")
        add_expected(result, algorithm, item.lower(), "-s")
    if not result:
        raise UsageError(f"-s {text!r} gives no digest: expected HEX[:HEX...]")
    return result


def parse_digest_option(text: str) -> Tuple[str, str]:
    """Parse ``--digest ALG:HEX`` (any fixed-length hashlib algorithm)."""
    algorithm, sep, value = text.partition(":")
    if not sep:
        raise UsageError(f"--digest {text!r}: expected ALG:HEX, e.g. sha3_256:ab12...")
    algorithm = normalize_algorithm(algorithm)
    return algorithm, _check_hex(algorithm, value, f"--digest {algorithm}")


_BSD_LINE = re.compile(r"^(?P<alg>[A-Za-z0-9_-]+) ?\((?P<name>.*)\) ?= ?(?P<hex>[0-9a-fA-F]+)$")
_GNU_LINE = re.compile(r"^\\?(?P<hex>[0-9a-fA-F]+) [ *](?P<name>.+)$")


def _same_file(listed: str, image_name: str) -> bool:
    listed = listed.strip()
    if listed.startswith("./"):
        listed = listed[2:]
    return listed == image_name or listed.rsplit("/", 1)[-1] == image_name


def parse_sums_file(text: str, image_name: str, where: str) -> Dict[str, str]:
    """Digests a SUMS file lists for ``image_name`` (GNU ``HASH  name``/``HASH *name``, BSD tags).

    Raises VerificationError when the file lists no line for the image (what was to be verified
    against it cannot be: never a silent pass), UsageError for a malformed or conflicting line.
    """
    found: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        bsd = _BSD_LINE.match(line)
        if bsd:
            if _same_file(bsd["name"], image_name):
                algorithm = normalize_algorithm(bsd["alg"])
                add_expected(found, algorithm, _check_hex(algorithm, bsd["hex"], where), where)
            continue
        gnu = _GNU_LINE.match(line)
        if gnu and _same_file(gnu["name"], image_name):
            algorithm = ALGORITHM_BY_LENGTH.get(len(gnu["hex"]))
            if algorithm is None:
                raise UsageError(f"{where}: cannot tell the algorithm of a {len(gnu['hex'])}-digit digest")
            add_expected(found, algorithm, gnu["hex"].lower(), where)
    if not found:
        raise VerificationError(f"{where} lists no digest for {image_name!r}")
    return found


@functools.lru_cache(maxsize=None)
def hash_cost(algorithm: str) -> float:
    """Seconds to hash 1 MiB here (best of three): relative costs differ by CPU (SHA-NI makes sha256
    cheaper than md5). Only a hint for grouping when threads are fewer than algorithms."""
    best = float("inf")
    for _ in range(3):
        h = hashlib.new(algorithm)
        start = time.perf_counter()
        h.update(_PROBE)
        best = min(best, time.perf_counter() - start)
    return best


_PROBE = bytes(1 << 20)


def plan_threads(algorithms: Sequence[str], workers: int) -> List[List[str]]:
    """Split the algorithms into at most ``workers`` groups of about equal cost (longest first)."""
    groups: List[List[str]] = [[] for _ in range(max(1, min(workers, len(algorithms))))]
    if len(groups) == len(algorithms):
        return [[alg] for alg in sorted(algorithms)]  # one each: no cost to measure
    loads = [0.0] * len(groups)
    for alg in sorted(algorithms, key=lambda a: (-hash_cost(a), a)):
        i = loads.index(min(loads))
        groups[i].append(alg)
        loads[i] += hash_cost(alg)
    return [g for g in groups if g]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class MultiHasher:
    """Feeds every chunk to one hashlib object per algorithm, on all cores.

    hashlib releases the GIL on buffers over 2 KiB, so the algorithms run in parallel while the
    caller goes on downloading, decompressing and uploading. On a multi-core host each algorithm
    gets its own thread and the kernel balances them: a static split of four hashes over two
    cores is never even (md5+sha256 against sha512+sha1 leaves one core idle ~15% of the time),
    and a split planned from a timing taken on a busy host can be far worse. ``workers`` caps the
    threads (grouped by measured cost). Queues are bounded, so memory stays flat: a slow hasher
    slows the stream instead of buffering it.
    """

    _DONE = None

    def __init__(self, algorithms: Iterable[str], depth: int = 8, workers: Optional[int] = None) -> None:
        self.algorithms = sorted(set(algorithms))
        self.size = 0
        self._hashes = {alg: hashlib.new(alg) for alg in self.algorithms}
        self._queues: List["queue.Queue[Optional[bytes]]"] = []
        self._threads: List[threading.Thread] = []
        self._closed = False
        if workers is None:
            workers = len(self.algorithms) if _cores() > 1 else 1
        groups = plan_threads(self.algorithms, workers) if self.algorithms else []
        if len(groups) > 1:
            for group in groups:
                q: "queue.Queue[Optional[bytes]]" = queue.Queue(maxsize=depth)
                hashes = [self._hashes[alg] for alg in group]
                t = threading.Thread(target=self._work, args=(hashes, q), daemon=True,
                                     name=f"hash-{'+'.join(group)}")
                t.start()
                self._queues.append(q)
                self._threads.append(t)

    @staticmethod
    def _work(hashes: List["hashlib._Hash"], q: "queue.Queue[Optional[bytes]]") -> None:
        while True:
            chunk = q.get()
            if chunk is None:
                return
            for h in hashes:
                h.update(chunk)

    def update(self, chunk: bytes) -> None:
        """Hash ``chunk`` with every algorithm (in the hasher threads when there are several)."""
        self.size += len(chunk)
        if not self._queues:
            for h in self._hashes.values():
                h.update(chunk)
            return
        for q in self._queues:
            q.put(chunk)

    def close(self) -> None:
        """Wait for the hashers to finish; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        for q in self._queues:
            q.put(self._DONE)
        for t in self._threads:
            t.join()

    def hexdigests(self) -> Dict[str, str]:
        """The final digests (closes the hasher)."""
        self.close()
        return {alg: h.hexdigest() for alg, h in self._hashes.items()}


def hash_chunks(chunks: Iterable[bytes], algorithms: Iterable[str]) -> Tuple[int, Dict[str, str]]:
    """Size and digests of a chunk stream, in one read."""
    hasher = MultiHasher(algorithms)
    try:
        for chunk in chunks:
            hasher.update(chunk)
    finally:
        hasher.close()
    return hasher.size, hasher.hexdigests()


def check(expected_size: Optional[int], expected: Mapping[str, str], size: int,
          computed: Mapping[str, str], what: str) -> None:
    """Raise SizeMismatch or DigestMismatch (naming every differing digest) unless all agree."""
    if expected_size is not None and expected_size != size:
        raise SizeMismatch(expected_size, size, what)
    if any(computed.get(alg) != value for alg, value in expected.items()):
        raise DigestMismatch(expected, computed, what)
