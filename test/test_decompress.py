# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
import bz2
import gzip
import io
import lzma
import os
import zipfile

import pytest

from glancing.transform.decompress import DecompressError, decompress, sniff

DATA = os.urandom(2 << 20) + b"\0" * (3 << 20) + os.urandom(999)


def chunked(data, size=200_003):
    return [data[i:i + size] for i in range(0, len(data), size)]


def zipped(members, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


CASES = {
    "gz": gzip.compress(DATA),
    "gz-multi": gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:]),
    "bz2-multi": bz2.compress(DATA[:3 << 20]) + bz2.compress(DATA[3 << 20:]),  # pbzip2-style
    "xz": lzma.compress(DATA),
    "zip": zipped([("disk.img", DATA)]),
    "zip-stored": zipped([("disk.img", DATA)], zipfile.ZIP_STORED),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_streaming_decompression_restores_the_bytes(case):
    data = CASES[case]
    kind = sniff(data)
    assert kind == case.split("-")[0]
    out = list(decompress(chunked(data), kind))
    assert b"".join(out) == DATA
    assert max(map(len, out)) <= 1 << 20  # bounded pieces: memory stays flat


def test_magic_bytes_not_names():
    assert sniff(b"QFI\xfb\x00\x00\x00\x03") is None
    assert sniff(b"\x1f\x8b\x08") == "gz"


def test_bomb_is_streamed_in_bounded_pieces():
    bomb = gzip.compress(b"\0" * (64 << 20))
    assert len(bomb) < 100_000
    sizes = [len(c) for c in decompress([bomb], "gz")]
    assert sum(sizes) == 64 << 20 and max(sizes) <= 1 << 20


@pytest.mark.parametrize("kind", ["gz", "bz2-multi", "xz"])
def test_truncated_stream_is_an_error(kind):
    data = CASES[kind if kind != "bz2-multi" else "bz2-multi"][:-50]
    with pytest.raises(DecompressError, match="truncated|corrupt"):
        b"".join(decompress(chunked(data), sniff(data)))


def test_corrupt_stream_is_an_error():
    data = bytearray(CASES["gz"])
    data[5000:5100] = b"\xff" * 100
    with pytest.raises(DecompressError):
        b"".join(decompress(chunked(bytes(data)), "gz"))


def test_zip_with_two_members_is_refused():
    with pytest.raises(DecompressError, match="more than one"):
        b"".join(decompress(chunked(zipped([("a", b"x" * 100), ("b", b"y")])), "zip"))


def test_trailing_zero_padding_after_the_last_stream_is_accepted():
    data = gzip.compress(b"hello") + b"\0" * 4096
    assert b"".join(decompress([data], "gz")) == b"hello"


def test_empty_zip_is_refused():
    empty = zipped([])
    assert sniff(empty) == "zip"
    with pytest.raises(DecompressError, match="empty"):
        b"".join(decompress(chunked(empty), "zip"))


def test_an_empty_member_is_an_empty_image():
    assert b"".join(decompress(chunked(zipped([("disk.img", b"")], zipfile.ZIP_STORED)), "zip")) == b""


@pytest.mark.parametrize("outer,inner,data", [
    ("gz", "gzip", gzip.compress(gzip.compress(DATA))),
    ("zip", "zip", zipped([("disk.zip", zipped([("disk.img", DATA)]))])),
    ("zip", "zip", zipped([("disk.zip", zipped([]))], zipfile.ZIP_STORED)),
    ("bz2", "xz", bz2.compress(lzma.compress(DATA[:4096]))),
    ("xz", "gzip", lzma.compress(gzip.compress(DATA[:4096]))),
])
def test_nested_compression_is_refused(outer, inner, data):
    assert sniff(data) == outer
    with pytest.raises(DecompressError, match=f"holds {inner} data again: nested compression"):
        b"".join(decompress(chunked(data, 7), outer))


def test_refused_before_the_inner_stream_is_passed_on():
    out = decompress(chunked(gzip.compress(gzip.compress(DATA))), "gz")
    with pytest.raises(DecompressError):
        next(out)  # not a single byte of the inner archive comes out


def test_cli_dry_run_refuses_nested_compression(run_cli, tmp_path):
    path = tmp_path / "disk.img.gz.gz"
    path.write_bytes(gzip.compress(gzip.compress(b"\xeb\x63\x90" + DATA)))
    res = run_cli("glancing", "-d", "--allow-unverified", str(path), lab_env=False)
    assert res.returncode == 1 and "nested compression" in res.stderr and "Traceback" not in res.stderr
    assert f"{path}: the gzip data holds gzip data again" in res.stderr
