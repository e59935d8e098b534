# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
import hashlib
import os
import threading

import pytest

from glancing.errors import DigestMismatch, SizeMismatch, UsageError, VerificationError
from glancing.verify import digests as d

DATA = os.urandom(3 * 1024 * 1024 + 17)


def test_sums_option_guesses_only_the_fixed_table():
    md5 = hashlib.md5(DATA).hexdigest()
    sha512 = hashlib.sha512(DATA).hexdigest()
    assert d.parse_sums_option(f":{md5.upper()}::{sha512}:") == {"md5": md5, "sha512": sha512}


@pytest.mark.parametrize("bad", ["1234", "zz" * 16, "a" * 33, "a" * 64 + "g"])
def test_sums_option_rejects_unknown_lengths_and_non_hex(bad):
    with pytest.raises(UsageError):
        d.parse_sums_option(bad)


@pytest.mark.parametrize("empty", ["", ":", " : ", "::"])
def test_sums_option_without_any_digest_is_a_usage_error(empty):
    with pytest.raises(UsageError, match="gives no digest"):
        d.parse_sums_option(empty)


def test_sums_option_conflicting_values_are_an_error():
    with pytest.raises(UsageError, match="conflicting"):
        d.parse_sums_option("a" * 32 + ":" + "b" * 32)


def test_digest_option_names_any_fixed_length_algorithm():
    value = hashlib.sha3_256(b"x").hexdigest()
    assert d.parse_digest_option(f"SHA3-256:{value}") == ("sha3_256", value)
    assert d.parse_digest_option(f"blake2b:{hashlib.blake2b(b'x').hexdigest()}")[0] == "blake2b"
    for bad in ("sha256", "sha256:abc", "shake_128:00", "nope:00"):
        with pytest.raises(UsageError):
            d.parse_digest_option(bad)


def test_sums_files_gnu_bsd_star_and_dot_slash():
    md5 = hashlib.md5(b"a").hexdigest()
    sha256 = hashlib.sha256(b"a").hexdigest()
    sha1 = hashlib.sha1(b"a").hexdigest()
    text = (f"{md5} *./images/disk.img\n# comment\n{sha1}  other.img\n"
            f"SHA256 (disk.img) = {sha256}\n\\{sha1}  disk.img\n")
    assert d.parse_sums_file(text, "disk.img", "SUMS") == {"md5": md5, "sha256": sha256, "sha1": sha1}


def test_sums_file_without_the_image_is_an_error_not_a_pass():
    with pytest.raises(VerificationError, match="lists no digest"):
        d.parse_sums_file(f"{'a' * 64}  other.img\n", "disk.img", "SHA256SUMS")


def test_multihasher_matches_hashlib_in_one_read():
    algorithms = ["md5", "sha1", "sha256", "sha512", "sha3_256"]
    chunks = [DATA[i:i + 65536] for i in range(0, len(DATA), 65536)]
    size, got = d.hash_chunks(chunks, algorithms)
    assert size == len(DATA)
    assert got == {a: hashlib.new(a, DATA).hexdigest() for a in algorithms}


def test_multihasher_single_algorithm_runs_inline():
    hasher = d.MultiHasher(["sha256"])
    hasher.update(DATA)
    assert hasher.hexdigests() == {"sha256": hashlib.sha256(DATA).hexdigest()}


def test_check_reports_every_mismatching_digest():
    computed = {"md5": "1" * 32, "sha256": "2" * 64, "sha1": "3" * 40}
    with pytest.raises(DigestMismatch) as e:
        d.check(None, {"md5": "1" * 32, "sha256": "f" * 64, "sha1": "e" * 40}, 5, computed, "x")
    assert e.value.algorithms == ["sha1", "sha256"]
    with pytest.raises(SizeMismatch):
        d.check(4, {}, 5, computed, "x")
    d.check(5, {"md5": "1" * 32}, 5, computed, "x")


def test_threads_are_planned_one_per_core_balanced_by_cost():
    groups = d.plan_threads(["md5", "sha1", "sha256", "sha512"], 2)
    assert len(groups) == 2 and sorted(sum(groups, [])) == ["md5", "sha1", "sha256", "sha512"]
    # the two most expensive never share a thread when there are two
    heavy = sorted(["md5", "sha1", "sha256", "sha512"], key=d.hash_cost)[-2:]
    assert not any(set(heavy) <= set(g) for g in groups)
    assert sorted(d.plan_threads(["md5", "sha1"], 8)) == [["md5"], ["sha1"]]  # never more threads than hashes
    [single] = d.plan_threads(["md5", "sha1", "sha256"], 1)
    assert sorted(single) == ["md5", "sha1", "sha256"]


def test_multihasher_default_is_one_thread_per_algorithm_on_many_cores():
    before = set(threading.enumerate())
    hasher = d.MultiHasher(["md5", "sha1", "sha256", "sha512"])
    try:
        names = sorted(t.name for t in set(threading.enumerate()) - before)
        if len(os.sched_getaffinity(0)) > 1:
            assert names == ["hash-md5", "hash-sha1", "hash-sha256", "hash-sha512"]
        else:
            assert names == []
    finally:
        hasher.close()


def test_multihasher_grouped_threads_match_hashlib():
    chunks = [DATA[i:i + 100_000] for i in range(0, len(DATA), 100_000)]
    for workers in (1, 2, 3):
        hasher = d.MultiHasher(["md5", "sha1", "sha256", "sha512", "blake2b"], workers=workers)
        for chunk in chunks:
            hasher.update(chunk)
        assert hasher.hexdigests() == {a: hashlib.new(a, DATA).hexdigest()
                                       for a in ("md5", "sha1", "sha256", "sha512", "blake2b")}


@pytest.mark.parametrize("empty", ["", ":"])
def test_cli_empty_sums_option_exits_2(run_cli, empty):
    res = run_cli("glancing", "-d", "-s", empty, "x", lab_env=False)
    assert res.returncode == 2 and "gives no digest" in res.stderr and "Traceback" not in res.stderr
