# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The pure logic of "Glance moves the bytes": when web-download applies, the verdict on Glance's
digests, the import wait's bound, the tee of the fan-out, the exit code of several clouds."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import pytest

from glancing import errors
from glancing.dataflow import DataFlow
from glancing.errors import DigestMismatch, GlanceError, SizeMismatch, UsageError
from glancing.fanout import CloudOutcome, FanoutResult, Tee
from glancing.fetch.local import LocalStream
from glancing.model import DigestScope, Expected, ImageSpec, Location, Origin
from glancing.pipeline import ImportOptions
from glancing.settings import Settings
from glancing.targets.base import StoredCopy
from glancing.targets.glance.importer import ImportWait, check_stores, wait_for
from glancing.webdownload import head_reason, judge, static_reason

URL = "https://mirror.example.org/img.qcow2"
MD5, SHA512, SHA256 = "a" * 32, "b" * 128, "c" * 64


def spec(url: str = URL, **expected: Any) -> ImageSpec:
    return ImageSpec(locations=(Location(url),), origin=Origin.USER, expected=Expected(**expected))


@pytest.mark.parametrize("the_spec, options, reason", [
    (spec(digests={"sha512": SHA512}), ImportOptions(), None),
    (spec(digests={"md5": MD5, "sha512": SHA512}, size=10), ImportOptions(), None),
    (spec("/srv/img.qcow2", digests={"md5": MD5}), ImportOptions(), "not an http(s) URL"),
    (spec("ftp://h/img", digests={"md5": MD5}), ImportOptions(), "not an http(s) URL"),
    (spec(digests={"sha256": SHA256}), ImportOptions(), "no expected md5 or sha512"),
    (spec(digests={"sha256": SHA256, "md5": MD5}), ImportOptions(), "does not compute sha256"),
    (spec(digests={"md5": MD5}, identifier="x" * 27), ImportOptions(), "marketplace identifier"),
    (spec(digests={"md5": MD5}), ImportOptions(force=True), "-f needs"),
    (spec(digests={"md5": MD5}), ImportOptions(check_digests=False), "-D needs"),
    (spec(digests={"md5": MD5}), ImportOptions(keep_temps=True), "-k needs"),
])
def test_when_web_download_applies(the_spec, options, reason):
    found = static_reason(the_spec, options, None)
    assert found is None if reason is None else reason in found


def test_declared_compression_and_compressed_heads_are_not_web_downloaded():
    packed = ImageSpec(locations=(Location(URL),), origin=Origin.USER, compression="xz",
                       expected=Expected(digests={"md5": MD5}))
    assert "xz-compressed" in static_reason(packed, ImportOptions(), None)
    assert "gzip-compressed" in head_reason(b"\x1f\x8b\x08" + b"\0" * 100)
    assert head_reason(b"QFI\xfb" + b"\0" * 100) is None


def stored(size: int = 5, **digests: str) -> StoredCopy:
    return StoredCopy("id-1", "active", size, digests or {"md5": MD5, "sha512": SHA512})


def test_glance_digests_are_the_verdict():
    flow = judge(stored(), spec(digests={"sha512": SHA512}, size=5), URL)
    assert flow.verified == ["size", "sha512"] and flow.digests["md5"] == MD5 and flow.size == 5
    with pytest.raises(DigestMismatch, match="as downloaded by Glance"):
        judge(stored(), spec(digests={"md5": "0" * 32}), URL)
    with pytest.raises(SizeMismatch):
        judge(stored(size=6), spec(digests={"md5": MD5}, size=5), URL)
    with pytest.raises(GlanceError, match="os_hash_algo"):
        judge(stored(md5=MD5, sha256=SHA256), spec(digests={"sha512": SHA512}), URL)
    with pytest.raises(GlanceError, match="not active"):
        judge(StoredCopy("id-1", "queued", None, {}), spec(digests={"md5": MD5}), URL)


@dataclass
class ImportingGlance:
    """Just the two calls the import wait makes: the image as it goes, and its tasks."""

    states: List[Dict[str, Any]]
    tasks_: List[Dict[str, Any]] = field(default_factory=list)
    stores_: List[Dict[str, Any]] = field(default_factory=list)

    def get(self, image_id: str) -> Dict[str, Any]:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def tasks(self, image_id: str) -> List[Dict[str, Any]]:
        return self.tasks_

    def stores(self) -> List[Dict[str, Any]]:
        return self.stores_


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: List[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def wait(clock: Clock, timeout: float = 60.0) -> ImportWait:
    return ImportWait(timeout=timeout, poll=0.5, max_poll=4.0, sleep=clock.sleep, clock=lambda: clock.now)


def test_the_wait_ends_when_every_store_holds_the_image():
    clock = Clock()
    glance = ImportingGlance([{"status": "importing"}, {"status": "active", "stores": "fs"},
                              {"status": "active", "stores": "fs,fs2"}])
    image = wait_for(glance, "i", ["fs", "fs2"], "the copy", wait(clock))  # type: ignore[arg-type]
    assert image["stores"] == "fs,fs2" and clock.slept == [0.5, 1.0]


def test_the_wait_reports_glances_task_error():
    glance = ImportingGlance([{"status": "importing", "os_glance_importing_to_stores": "fs2"},
                              {"status": "active", "stores": "fs", "os_glance_failed_import": "fs2"}],
                             tasks_=[{"status": "success", "updated_at": "2026-01-02"},
                                     {"status": "failure", "message": "disk full\nmore", "updated_at": "2026-01-01"}])
    with pytest.raises(GlanceError, match="could not import it into store fs2: disk full$"):
        wait_for(glance, "i", ["fs", "fs2"], "the copy", wait(Clock()))  # type: ignore[arg-type]


def test_a_failed_single_store_web_download_is_told_by_its_task():
    glance = ImportingGlance([{"status": "queued"}], tasks_=[{"status": "failure", "message": "404 Not Found"}])
    with pytest.raises(GlanceError, match="failed: 404 Not Found"):
        wait_for(glance, "i", [], "the web-download", wait(Clock()))  # type: ignore[arg-type]


def test_the_wait_is_bounded_by_import_timeout():
    clock = Clock()
    glance = ImportingGlance([{"status": "importing"}])
    with pytest.raises(GlanceError, match=r"did not finish within 30 s \(\[glance\] import_timeout\)"):
        wait_for(glance, "i", [], "the web-download", wait(clock, timeout=30))  # type: ignore[arg-type]
    assert clock.now <= 30 and max(clock.slept) == 4.0


def test_stores_are_checked_against_glance():
    glance = ImportingGlance([{}], stores_=[{"id": "fs", "default": True}, {"id": "fs2"}])
    check_stores(glance, ("fs2", "fs"))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no store ceph; it has fs, fs2"):
        check_stores(glance, ("fs", "ceph"))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no multi-store"):
        check_stores(ImportingGlance([{}]), ("fs",))  # type: ignore[arg-type]


def test_store_and_cloud_lists_in_settings():
    loaded = Settings.load(env={"GLANCING_GLANCE_STORES": "fs, fs2 fs", "GLANCING_GLANCE_CLOUDS": "a,b",
                                "GLANCING_GLANCE_IMPORT_METHOD": "Auto"}, files=())
    assert loaded.get("glance", "stores") == ("fs", "fs2") and loaded.get("glance", "clouds") == ("a", "b")
    assert loaded.get("glance", "import_method") == "auto"
    with pytest.raises(UsageError):
        Settings.load(env={"GLANCING_GLANCE_IMPORT_METHOD": "ftp"}, files=())
    with pytest.raises(UsageError):
        Settings.load(env={"GLANCING_GLANCE_STORES": " , "}, files=())


def test_tee_gives_every_reader_the_same_bytes_and_skips_a_closed_one(tmp_path: Path):
    data = bytes(range(256)) * 20000  # ~5 MiB
    path = tmp_path / "img"
    path.write_bytes(data)
    flow = DataFlow(LocalStream(str(path)), Expected(digests={"sha256": hashlib.sha256(data).hexdigest()}))
    tee = Tee(flow, 3)
    got: List[bytearray] = [bytearray(), bytearray(), bytearray()]

    def consume(i: int) -> None:
        while True:
            chunk = tee.readers[i].read(65536 if i else 1000)
            if not chunk:
                return
            got[i] += chunk
            if i == 2 and len(got[2]) > 100000:
                tee.readers[2].closed.set()  # this cloud's upload ended: the others go on
                return
    readers = [threading.Thread(target=consume, args=(i,)) for i in range(3)]
    for r in readers:
        r.start()
    assert tee.pump() is True
    for r in readers:
        r.join(10)
    flow.join()
    assert bytes(got[0]) == data and bytes(got[1]) == data and len(got[2]) < len(data)
    assert flow.result.verified == ["sha256"]


def test_tee_hands_the_verdict_to_every_reader(tmp_path: Path):
    path = tmp_path / "img"
    path.write_bytes(b"x" * 300000)
    flow = DataFlow(LocalStream(str(path)), Expected(digests={"md5": "0" * 32}, scope=DigestScope.AS_GIVEN))
    tee = Tee(flow, 2)
    seen: List[BaseException] = []

    def consume(i: int) -> None:
        try:
            while tee.readers[i].read(65536):
                pass
        except DigestMismatch as e:
            seen.append(e)
    readers = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
    for r in readers:
        r.start()
    tee.pump()
    for r in readers:
        r.join(10)
    assert len(seen) == 2 and flow.error is seen[0]


def test_fanout_exit_codes_and_report():
    ok = CloudOutcome("a")
    bad = CloudOutcome("b", error=GlanceError("401"))
    verdict = [CloudOutcome(c, error=DigestMismatch({"md5": "0"}, {"md5": "1"})) for c in "ab"]
    assert FanoutResult([CloudOutcome("a", error=GlanceError("x")), bad]).exit_code() == errors.GLANCE_FAILED
    assert FanoutResult(verdict).exit_code() == errors.VERIFY_FAILED
    assert FanoutResult([CloudOutcome("a", error=UsageError("u")), bad]).exit_code() == errors.PARTIAL
    partial = FanoutResult([ok, bad])
    ok.result = None
    assert partial.exit_code() == errors.PARTIAL and partial.failed == ["b"]
    report = FanoutResult([bad]).as_json()
    assert report["status"] == "error" and report["clouds"] == [
        {"cloud": "b", "status": "error", "error": "401", "exit_code": 4}]


def test_dry_run_judges_the_method_as_the_import_would(run_cli, http_server, tmp_path: Path):
    from images import compress, digest, make_qcow2

    www = tmp_path / "www"
    www.mkdir()
    server = http_server(www)
    img = make_qcow2(www / "disk.qcow2", seed=b"dry")
    packed = compress(img, "gz")
    res = run_cli("glancing", "-d", "--method", "web-download", "-s", digest(packed, "sha512"),
                  server.url(packed.name))
    assert res.returncode == 2 and "gzip-compressed" in res.stderr
    res = run_cli("glancing", "-d", "--method", "web-download", "-s", digest(img, "sha256"), server.url(img.name))
    assert res.returncode == 2 and "no expected md5 or sha512" in res.stderr
    res = run_cli("glancing", "-d", "--method", "web-download", "--json", "-s", digest(img, "sha512"),
                  server.url(img.name))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "dry-run" and json.loads(res.stdout)["verified"] == ["sha512"]
    res = run_cli("glancing", "-d", "--method", "teleport", str(img))
    assert res.returncode == 2 and "--method" in res.stderr


def test_manager_status_refuses_several_clouds(run_cli, tmp_path: Path):
    clouds = tmp_path / "clouds.yaml"
    entry = ("    auth:\n      auth_url: http://127.0.0.1:9/v3\n      username: u\n      password: p\n"
             "      project_name: p\n")
    clouds.write_text("clouds:\n  one:\n" + entry + "  two:\n" + entry)
    res = run_cli("glance_manager", "--os-cloud", "one", "--os-cloud", "two", "status",
                  env={"OS_CLIENT_CONFIG_FILE": str(clouds)})
    assert res.returncode == 2 and "works on one cloud; 2 are given" in res.stderr
