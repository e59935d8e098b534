# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The one-pass data path, fed by an in-memory stream: digests at both stages, verdicts, -f, -D, -k."""

import gzip
import hashlib
import os

import pytest

from glancing.dataflow import DataFlow, FlowOptions
from glancing.errors import DigestMismatch, IdentifierMismatch, SizeMismatch
from glancing.model import DigestScope, Expected

RAW = os.urandom(3 << 20) + b"\0" * (2 << 20)
GZ = gzip.compress(RAW, compresslevel=1)


class MemoryStream:
    def __init__(self, data, announce=True, piece=300_001):
        self.url = "mem://disk.img"
        self.name = "disk.img"
        self.size = len(data) if announce else None
        self._data = data
        self._piece = piece
        self.closed = False

    def chunks(self):
        for i in range(0, len(self._data), self._piece):
            yield self._data[i:i + self._piece]

    def close(self):
        self.closed = True


def h(alg, data):
    return hashlib.new(alg, data).hexdigest()


def read_all(flow, n=65536):
    out = []
    while True:
        piece = flow.read(n)
        if not piece:
            return b"".join(out)
        out.append(piece)


def test_uncompressed_as_given_every_digest_checked():
    expected = Expected(size=len(RAW), digests={"sha256": h("sha256", RAW), "sha1": h("sha1", RAW)})
    flow = DataFlow(MemoryStream(RAW), expected)
    assert flow.head(4096) == RAW[:4096]
    assert read_all(flow) == RAW
    flow.join()
    r = flow.result
    assert r.verified == ["size", "sha1", "sha256"]
    assert r.digests["md5"] == h("md5", RAW) and r.digests["sha512"] == h("sha512", RAW)
    assert r.compression is None and r.size == r.given_size == len(RAW)


def test_compressed_as_given_digests_describe_the_download_upload_digests_the_content():
    expected = Expected(size=len(GZ), digests={"sha512": h("sha512", GZ)}, scope=DigestScope.AS_GIVEN)
    flow = DataFlow(MemoryStream(GZ), expected)
    assert read_all(flow) == RAW
    r = flow.result
    assert r.compression == "gz" and r.verified == ["size", "sha512"]
    assert r.given_digests["sha512"] == h("sha512", GZ)
    assert r.digests == {"md5": h("md5", RAW), "sha512": h("sha512", RAW)}


def test_uncompressed_scope_checks_the_decompressed_bytes():
    expected = Expected(size=len(RAW), digests={"md5": h("md5", RAW)}, scope=DigestScope.UNCOMPRESSED)
    flow = DataFlow(MemoryStream(GZ), expected)
    assert flow.drain().verified == ["size", "md5"]


def test_mismatch_raises_in_the_last_read():
    flow = DataFlow(MemoryStream(RAW), Expected(digests={"sha256": "0" * 64}))
    with pytest.raises(DigestMismatch, match="sha256 expected 0000"):
        read_all(flow)
    assert isinstance(flow.error, DigestMismatch)


def test_announced_wrong_size_fails_before_reading():
    stream = MemoryStream(RAW)
    with pytest.raises(SizeMismatch, match="announced"):
        DataFlow(stream, Expected(size=len(RAW) - 1))
    assert stream.closed


def test_unannounced_stream_longer_than_expected_stops_early():
    flow = DataFlow(MemoryStream(RAW, announce=False), Expected(size=1000))
    with pytest.raises(SizeMismatch, match="at least"):
        flow.drain()


def test_force_reports_and_goes_on(caplog):
    flow = DataFlow(MemoryStream(RAW), Expected(digests={"md5": "0" * 32, "sha1": h("sha1", RAW)}),
                    FlowOptions(force=True))
    r = flow.drain()
    assert r.forced == ["md5"] and r.verified == ["sha1"]
    assert "FORCED" in caplog.text


def test_no_checksum_still_checks_the_size():
    flow = DataFlow(MemoryStream(RAW, announce=False), Expected(size=len(RAW) + 1, digests={"md5": "0" * 32}),
                    FlowOptions(check_digests=False))
    with pytest.raises(SizeMismatch):
        flow.drain()


def test_identifier_is_checked_against_the_sha1():
    from glancing.verify.identifier import sha1_to_identifier

    good = sha1_to_identifier(h("sha1", RAW))
    flow = DataFlow(MemoryStream(GZ), Expected(identifier=good, scope=DigestScope.UNCOMPRESSED))
    assert "identifier" in flow.drain().verified
    flow = DataFlow(MemoryStream(GZ), Expected(identifier="A" * 27, scope=DigestScope.UNCOMPRESSED))
    with pytest.raises(IdentifierMismatch):
        flow.drain()


def test_keep_temps_writes_the_bytes_as_given(tmp_path):
    flow = DataFlow(MemoryStream(GZ), Expected(), FlowOptions(keep_dir=str(tmp_path)))
    r = flow.drain()
    assert open(r.kept_file, "rb").read() == GZ


def test_close_stops_the_producer_midway():
    stream = MemoryStream(RAW * 4, piece=65536)
    flow = DataFlow(stream, Expected())
    flow.read(10)
    flow.close()
    assert not flow._thread.is_alive() and stream.closed


def test_digests_glance_computes_are_left_to_it_only_when_they_describe_the_uploaded_bytes():
    expected = Expected(digests={"md5": "0" * 32, "sha256": h("sha256", RAW)})
    flow = DataFlow(MemoryStream(RAW), expected, FlowOptions(server_checks=("md5", "sha512")))
    r = flow.drain()  # the wrong md5 is not judged here: Glance's value will be
    assert r.deferred == ["md5"] and r.verified == ["sha256"]
    assert "md5" not in r.digests and r.digests["sha512"] == h("sha512", RAW)
    # Compressed as given: Glance hashes other bytes than the expected digests describe.
    flow = DataFlow(MemoryStream(GZ), Expected(digests={"md5": h("md5", GZ)}),
                    FlowOptions(server_checks=("md5", "sha512")))
    r = flow.drain()
    assert r.deferred == [] and r.verified == ["md5"] and r.digests["md5"] == h("md5", RAW)


def test_reads_of_any_size_after_the_head_give_the_exact_bytes():
    expected = Expected(size=len(RAW), digests={"sha256": h("sha256", RAW)})
    flow = DataFlow(MemoryStream(RAW, piece=1 << 20), expected)
    assert flow.head(3000) == RAW[:3000]
    sizes = [1, 7, 65536, 300_001, 1 << 20, 5 << 20, 1_048_577]
    out, i = [], 0
    while True:
        piece = flow.read(sizes[i % len(sizes)])
        assert len(piece) <= sizes[i % len(sizes)]
        if not piece:
            break
        out.append(piece)
        i += 1
    assert b"".join(out) == RAW and flow.read(10) == b""
    flow.join()
    assert flow.result.verified == ["size", "sha256"]


class RecordingStream(MemoryStream):
    def __init__(self, data, piece):
        super().__init__(data, piece=piece)
        self.sent = []

    def chunks(self):
        for chunk in super().chunks():
            self.sent.append(chunk)
            yield chunk


def test_whole_chunks_are_handed_over_without_a_copy():
    stream = RecordingStream(RAW, piece=1 << 20)
    flow = DataFlow(stream, Expected())
    first, second = flow.read(1 << 20), flow.read(1 << 20)
    assert first is stream.sent[0] and second is stream.sent[1]
    flow.close()


def test_bytes_unpacked_later_get_only_the_expected_digests_none_left_to_the_target():
    expected = Expected(digests={"sha512": h("sha512", RAW)})
    options = FlowOptions(server_checks=("md5", "sha512"), unpacked_later=lambda first: True)
    flow = DataFlow(MemoryStream(RAW), expected, options)
    assert read_all(flow) == RAW
    assert flow.result.deferred == [] and set(flow.result.digests) == {"sha512"}
    assert flow.result.verified == ["sha512"]
    wrong = DataFlow(MemoryStream(RAW), Expected(digests={"sha512": "0" * 128}), options)
    with pytest.raises(DigestMismatch):
        read_all(wrong)
