# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""`glancing` with StratusLab marketplace IDs and records, through the loopback marketplace, into
the real Glance: what a record promises is enforced, and every refusal leaves Glance unchanged.

Shared with test_hepix_glance and test_trust_glance: ``Site``, the ``site`` and ``guard`` fixtures,
``assert_refused`` and ``imported``.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List

import pytest

from images import compress, digest, make_ova, make_qcow2, stream_vmdk
from marketplace import DAY, NOW, make_record, signed_record, stamp
from test_stratuslab import to_rdf_json

from glancing.verify.identifier import sha1_to_identifier

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens there on the lab machines
FIXTURES = Path(__file__).parent / "fixtures" / "stratuslab"
DATATABLES = FIXTURES / "LHfKVPoHcv4oMirHU0KuOQc-TvI?media=json"
RDF_JSON = FIXTURES / "BtSKdXa2SvHlSVTvgFgivIYDq--.json"


@dataclass
class Site:
    """An image server over ``www``, and the trust options naming the test CA and good endorser."""

    www: Path
    server: Any  # httpserver.FaultyHTTPServer
    trust: List[str]
    tmp: Path

    def image(self, name: str = "appliance.qcow2", size_mib: int = 1) -> Path:
        return make_qcow2(self.www / name, seed=name.encode(), size_mib=size_mib)

    def url(self, path: Path) -> str:
        return self.server.url(path.name)

    def gets(self, path: Path) -> int:
        """How many GET requests the image server answered for ``path``."""
        return sum(1 for method, p, _ in self.server.requests if method == "GET" and p == f"/{path.name}")


@pytest.fixture
def site(tmp_path, http_server, pki) -> Site:
    www = tmp_path / "www"
    www.mkdir()
    empty = tmp_path / "no-trust-file"
    empty.write_text("")
    trust = ["--ca-dir", str(pki.ca_dirs["valid"]), "--endorser", pki.good.subject_openssl,
             "--trust", str(empty)]
    return Site(www, http_server(www), trust, tmp_path)


class Guard:
    """What a refused import must leave alone, in a lab that other test sessions share.

    Comparing every image of the project before and after would see the other sessions' work, so
    the check covers what this run could touch: an image already holding the name the refused
    import would publish under (it would be retired), and every image, hidden ones included,
    carrying that name (a pending upload is called "NAME [glancing upload ...]").
    """

    def __init__(self, glance: Any) -> None:
        self.glance = glance
        self.name = f"guard-{uuid.uuid4().hex[:10]}"
        self.existing = glance.images.create(name=self.name, disk_format="qcow2", container_format="bare",
                                             visibility="private", guard_note="must survive refusals")["id"]
        self.before = self.snapshot()

    def snapshot(self) -> dict:
        """id -> (name, status, hidden, updated_at) of every image carrying the name."""
        images = list(self.glance.images.list()) + list(self.glance.images.list(filters={"os_hidden": True}))
        return {i["id"]: (i["name"], i["status"], i.get("os_hidden"), i["updated_at"])
                for i in images if self.name in i["name"]}

    @property
    def args(self) -> List[str]:
        return ["-n", self.name]

    def unchanged(self) -> bool:
        after = self.snapshot()
        assert after == self.before, f"{self.before} became {after}"
        return True


@pytest.fixture
def guard(glance, glance_cleanup) -> Guard:
    return Guard(glance)


def assert_refused(res: subprocess.CompletedProcess, code: int, *words: str, prog: str = "glancing") -> str:
    """Exit ``code``, exactly one error line on stderr (no traceback) containing every word."""
    assert res.returncode == code, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    for word in words:
        assert word.lower() in errors[0].lower(), errors[0]
    return errors[0]


def imported(res: subprocess.CompletedProcess, glance: Any) -> dict:
    assert res.returncode == 0, res.stderr
    return glance.images.get(json.loads(res.stdout)["image_id"])


@pytest.fixture
def from_marketplace(run_cli, marketplace, site) -> Callable[..., subprocess.CompletedProcess]:
    """run glancing -u MARKETPLACE TRUST --json ARGS..."""
    return lambda *args: run_cli("glancing", "-u", marketplace.base, *site.trust, "--json", *args)


@pytest.mark.parametrize("kind", ["gz", "bz2"])
def test_compressed_record_imports_uncompressed_image_with_properties(
        lab, glance, glance_cleanup, marketplace, site, pki, from_marketplace, kind):
    img = site.image()
    packed = compress(img, kind)
    valid = NOW + 100 * DAY
    record = signed_record(pki.good, img, [site.url(packed)], title=f"Glancing Appliance {kind}",
                           compression=kind, version="3", valid=valid)
    mpid = marketplace.publish(record)
    res = from_marketplace(mpid)
    image = imported(res, glance)
    out = json.loads(res.stdout)
    assert out["compression"] == kind and out["source_size"] == packed.stat().st_size
    assert set(out["verified"]) >= {"size", "md5", "sha1", "sha256", "sha512", "identifier"}
    # The record's digests are of the uncompressed image, and that is what Glance holds.
    assert image["size"] == img.stat().st_size and image["os_hash_value"] == digest(img, "sha512")
    assert image["disk_format"] == "qcow2"
    expected = {
        "name": f"Glancing Appliance {kind}", "mpid": mpid, "version": "3", "os_distro": "debian",
        "os_version": "12", "architecture": "x86_64", "hypervisor_type": "kvm", "hw_disk_bus": "virtio",
        "endorser_email": "endorser@example.org", "endorser_dn": pki.good.cert.subject.rfc4514_string(),
        "endorser_ca": pki.good.cert.issuer.rfc4514_string(), "valid_until": stamp(valid),
        "marketplace_url": f"{marketplace.base}/{mpid}",
    }
    assert {k: image.get(k) for k in expected} == expected


def test_dead_first_location_moves_on_to_the_next(lab, glance, glance_cleanup, marketplace, site, pki,
                                                  from_marketplace):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.good, img, [f"{DEAD}/{img.name}", site.url(img)],
                                             title="two locations"))
    image = imported(from_marketplace(mpid), glance)
    assert image["os_hash_value"] == digest(img, "sha512") and site.gets(img) == 1


def test_newest_valid_non_deprecated_endorsement_wins(lab, glance, glance_cleanup, marketplace, site, pki,
                                                      from_marketplace):
    img = site.image()
    records = [("2", 3 * DAY, None), ("3", 2 * DAY, None), ("1", 4 * DAY, None),
               ("4", 1 * DAY, "withdrawn: broken network setup")]
    for version, age, deprecated in records:
        mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)], version=version,
                                                 created=NOW - age, deprecated=deprecated))
    image = imported(from_marketplace(mpid), glance)
    assert image["version"] == "3"  # the newest endorsement that is not deprecated


@pytest.mark.parametrize("case, record_kw, allow", [
    ("expired", {"valid": NOW - DAY}, "--allow-expired"),
    ("deprecated", {"deprecated": "superseded by a newer release"}, "--allow-deprecated"),
])
def test_expired_and_deprecated_are_refused_unless_allowed(lab, glance, guard, marketplace, site, pki,
                                                           from_marketplace, case, record_kw, allow):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)], title=case, **record_kw))
    assert_refused(from_marketplace(*guard.args, mpid), 5, case, allow)
    assert guard.unchanged() and site.gets(img) == 0
    image = imported(from_marketplace(allow, mpid), glance)
    assert image["name"] == case and image["mpid"] == mpid


def test_wrong_sha256_is_refused_after_download(lab, glance, guard, marketplace, site, pki,
                                                from_marketplace):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)], override={"sha256": "0" * 64}))
    assert_refused(from_marketplace(*guard.args, mpid), 1, "sha256", "0" * 64)
    assert guard.unchanged()  # the hidden upload was removed too


def test_identifier_not_encoding_the_sha1_is_refused_before_download(lab, glance, guard, marketplace, site, pki,
                                                                     from_marketplace):
    img = site.image()
    other = sha1_to_identifier(digest(img, "sha1")[::-1])
    mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)], override={"identifier": other}))
    assert mpid == other
    assert_refused(from_marketplace(*guard.args, mpid), 1, "identifier", other)
    assert guard.unchanged() and site.gets(img) == 0


@pytest.mark.parametrize("where", ["/etc/passwd", "file:///etc/passwd", "fifo"])
def test_remote_record_naming_a_local_file_reads_nothing(lab, glance, guard, marketplace, site, pki, from_marketplace,
                                                         where):
    img = site.image()
    if where == "fifo":
        # Opening a FIFO with no writer blocks: a tool that tried to read it would hang here.
        os.mkfifo(site.tmp / "pipe")
        where = str(site.tmp / "pipe")
    mpid = marketplace.publish(signed_record(pki.good, img, [where, site.url(img)]))
    assert_refused(from_marketplace(*guard.args, mpid), 5, "local file", where)
    assert guard.unchanged() and site.gets(img) == 0


_XXE = """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [<!ENTITY leak SYSTEM "file:///etc/passwd"><!ENTITY probe SYSTEM "{probe}">]>
<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:dcterms="http://purl.org/dc/terms/"><rdf:Description rdf:about="#{mpid}">
<dcterms:identifier>{mpid}</dcterms:identifier><dcterms:title>&leak;&probe;</dcterms:title>
</rdf:Description></rdf:RDF></metadata>"""

_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">{levels}]>
<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:dcterms="http://purl.org/dc/terms/"><rdf:Description rdf:about="#{mpid}">
<dcterms:title>&lol9;</dcterms:title></rdf:Description></rdf:RDF></metadata>"""


def _hostile(kind: str, mpid: str, probe: str) -> bytes:
    if kind == "xxe":
        return _XXE.format(mpid=mpid, probe=probe).encode()
    levels = "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";" if n > 1 else "&lol;") * 10}">'
                     for n in range(1, 10))
    return _LAUGHS.format(mpid=mpid, levels=levels).encode()


@pytest.mark.parametrize("kind", ["xxe", "billion-laughs"])
def test_hostile_xml_answers_are_refused(lab, glance, guard, marketplace, site, from_marketplace, kind):
    img = site.image()
    mpid = sha1_to_identifier(digest(img, "sha1"))
    marketplace.raw(mpid, _hostile(kind, mpid, site.server.url("xxe-probe")))
    assert_refused(from_marketplace(*guard.args, mpid), 5, "entity")
    assert guard.unchanged()
    assert not site.server.requests  # no external entity was fetched, no image either


@pytest.mark.parametrize("answer, ctype, words", [
    (b"<html><head><title>Maintenance</title></head><body>back soon</body></html>", "text/html", ["html"]),
    (DATATABLES.read_bytes(), "application/json", ["DataTables"]),
    (b"<metadata></metadata>", "application/xml", ["holds no rdf:RDF"]),
    (RDF_JSON.read_bytes(), "application/json", ["RDF/JSON", "no signature"]),  # a record, but unverifiable
])
def test_answers_that_are_not_records_are_refused(lab, glance, guard, marketplace, site, from_marketplace,
                                                  answer, ctype, words):
    mpid = "LHfKVPoHcv4oMirHU0KuOQc-TvI"
    marketplace.raw(mpid, answer, ctype=ctype)
    assert_refused(from_marketplace(*guard.args, mpid), 5, *words)
    assert guard.unchanged()


def test_unknown_identifier_names_the_http_error(lab, glance, guard, marketplace, site, from_marketplace):
    assert_refused(from_marketplace(*guard.args, "LHfKVPoHcv4oMirHU0KuOQc-TvI"), 3, "404", marketplace.base)
    assert guard.unchanged()


def test_dead_marketplace_is_unreachable(lab, glance, guard, run_cli, site):
    res = run_cli("glancing", *guard.args, "-u", f"{DEAD}/metadata", *site.trust, "LHfKVPoHcv4oMirHU0KuOQc-TvI")
    assert_refused(res, 3, "127.0.0.1:9")
    assert guard.unchanged()


@pytest.mark.parametrize("syntax", ["rdf-xml", "rdf-json"])
def test_local_record_file_may_point_at_a_local_image(lab, glance, glance_cleanup, run_cli, site, syntax):
    img = site.image("local.qcow2")
    # Absolute in one, relative in the other: a relative location resolves against the
    # record's own directory (site.tmp), not the current directory of the test run.
    where = str(img) if syntax == "rdf-xml" else "www/local.qcow2"
    record = make_record(img, [where], title=f"local {syntax}", version="7")
    path = site.tmp / ("record.xml" if syntax == "rdf-xml" else "record.json")
    path.write_bytes(record if syntax == "rdf-xml" else to_rdf_json(record))
    image = imported(run_cli("glancing", *site.trust, "--json", str(path)), glance)
    assert image["name"] == f"local {syntax}" and image["version"] == "7"
    assert image["mpid"] == sha1_to_identifier(digest(img, "sha1"))
    assert image["os_hash_value"] == digest(img, "sha512") and "marketplace_url" not in image
    assert site.gets(img) == 0


@pytest.mark.parametrize("title, option, expected", [
    ("Record Title", ["-n", "Chosen Name"], "Chosen Name"),
    ("Record Title", [], "Record Title"),
    ("", [], "Debian-12-x86_64"),
])
def test_name_rule(lab, glance, glance_cleanup, marketplace, site, pki, from_marketplace, title, option, expected):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)], title=title))
    assert imported(from_marketplace(*option, mpid), glance)["name"] == expected


def test_ova_record_is_imported_as_the_sites_format(lab, glance, glance_cleanup, marketplace, site, pki,
                                                    from_marketplace):
    disk = stream_vmdk(site.image("src.qcow2"), site.tmp / "disk1.vmdk")
    ova = make_ova(site.www / "appliance.ova", [disk])
    mpid = marketplace.publish(signed_record(pki.good, ova, [site.url(ova)], disk_format="OVA"))
    image = imported(from_marketplace(mpid), glance)
    assert image["disk_format"] == "qcow2" and image["glancing_ova_disk"] == "disk1.vmdk"
    assert image["glancing_converted_from"] == "vmdk" and image["mpid"] == mpid


def test_record_declaring_ova_for_a_disk_is_refused(lab, glance, guard, marketplace, site, pki, from_marketplace):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)], disk_format="ova"))
    assert_refused(from_marketplace(*guard.args, mpid), 1, "says ova", "content is qcow2")
    assert guard.unchanged()


def test_declared_format_must_match_what_qemu_img_detects(lab, glance, guard, marketplace, site, pki,
                                                          from_marketplace):
    img = site.image()
    mpid = marketplace.publish(signed_record(pki.good, img, [site.url(img)], disk_format="raw"))
    assert_refused(from_marketplace(*guard.args, mpid), 1, "qcow2", "raw")
    assert guard.unchanged()
