# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""HEPiX image lists: the real CernVM and EGI lists, S/MIME extraction, entry -> ImageSpec."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from glancing.errors import RecordError, UnsafeLocation
from glancing.model import DigestScope, Origin
from glancing.sources.hepix import find_image, image_to_spec, parse_image_list
from glancing.trust.smime import unverified_content

FIXTURES = Path(__file__).parent / "fixtures" / "hepix"
UTC = dt.timezone.utc


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def make_list(images: list, **top: object) -> bytes:
    body = {"dc:identifier": "11111111-2222-3333-4444-555555555555", "dc:date:created": "2020-01-01T00:00:00Z",
            "dc:date:expires": "2030-01-01T00:00:00Z", "hv:version": "7",
            "hv:endorser": {"hv:x509": {"hv:dn": "/CN=me", "hv:ca": "/CN=ca", "hv:email": "me@example.org"}},
            "hv:images": [{"hv:image": i} for i in images]}
    body.update(top)
    return json.dumps({"hv:imagelist": body}).encode()


def image(**extra: object) -> dict:
    entry = {"dc:identifier": "aaaaaaaa-0000-0000-0000-000000000001", "dc:title": "Tiny",
             "hv:uri": "http://127.0.0.1:1/tiny.img", "hv:size": 1024, "hv:version": "1.2",
             "sl:checksum:sha512": "ab" * 64, "sl:arch": "x86_64", "sl:os": "Linux", "sl:osversion": "9"}
    entry.update(extra)
    return entry


def test_cernvm_list_parses_all_30_entries() -> None:
    lst = parse_image_list(read("hepix_signed_image_list"), "cernvm")
    assert len(lst.images) == 30
    assert lst.identifier == "e55c1afe-0a62-4d31-a8d7-fb8c825f92a2" and lst.version == "1"
    assert lst.endorser_dn == "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=buncic/CN=379010/CN=Predrag Buncic"
    assert lst.endorser_ca == "/DC=ch/DC=cern/CN=CERN Trusted Certification Authority"
    assert lst.expires == dt.datetime(2014, 4, 16, tzinfo=UTC)
    first = lst.images[0]
    assert first.identifier == "623b0bc7-abc2-4961-8700-53e358772a96" and first.size == 404994202
    assert first.uri == "https://cernvm.cern.ch/releases/25/cernvm-batch-node-2.7.2-1-2-x86_64.hdd.gz"
    assert first.checksums["sha512"].startswith("4083adb6a438dedf") and first.version == "2.7.2-1-2"
    assert all(i.uri.endswith(".gz") and len(i.checksums["sha512"]) == 128 for i in lst.images)
    assert len({i.identifier for i in lst.images}) == 30


def test_egi_list_parses_all_11_entries_with_string_sizes() -> None:
    lst = parse_image_list(read("image.list"), "egi")
    assert len(lst.images) == 11
    assert lst.vo == "fedcloud.egi.eu" and lst.endorser_dn == "/DC=EU/DC=EGI/C=NL/O=Hosts/O=EGI.eu/CN=appdb.egi.eu"
    first = lst.images[0]
    assert first.size == 121243136 and first.format == "OVA" and first.osname == "Scientific Linux"
    assert first.mpuri == "https://appdb.egi.eu/store/vo/image/c0482bc2-bf41-5d49-a85f-a750174a186b:484/"
    assert all(i.format.lower() == "ova" and isinstance(i.size, int) for i in lst.images)


@pytest.mark.parametrize("signed,payload", [("hepix_signed_image_list.originale", "hepix_signed_image_list"),
                                            ("image.list.originale", "image.list")])
def test_smime_file_parses_as_its_payload(signed: str, payload: str) -> None:
    assert unverified_content(read(signed), signed) == read(payload)
    assert parse_image_list(read(signed)) == parse_image_list(read(payload))


def test_not_an_image_list_is_refused() -> None:
    with pytest.raises(RecordError, match="not a HEPiX image list"):
        parse_image_list(b'{"something": 1}')


def test_size_as_string_or_integer() -> None:
    lst = parse_image_list(make_list([image(**{"hv:size": "2048"}), image(**{"dc:identifier": "b", "hv:size": 2048})]))
    assert [i.size for i in lst.images] == [2048, 2048]
    for bad in ("12MB", -1, 1.5, None, True):
        with pytest.raises(RecordError, match="hv:size"):
            parse_image_list(make_list([image(**{"hv:size": bad})]))


def test_image_to_spec_is_as_downloaded() -> None:
    lst = parse_image_list(make_list([image(**{"sl:checksum:md5": "CD" * 16, "hv:format": "raw.gz"})]))
    spec = image_to_spec(lst.images[0], lst, Origin.REMOTE, "http://127.0.0.1:1/image.list")
    assert spec.expected.scope is DigestScope.AS_GIVEN and spec.expected.size == 1024
    assert spec.expected.digests == {"sha512": "ab" * 64, "md5": "cd" * 16}
    assert (spec.disk_format, spec.compression, spec.name) == ("raw", "gz", "Tiny")
    assert spec.expires == dt.datetime(2030, 1, 1, tzinfo=UTC)
    props = spec.properties
    assert props["hepix_image_id"] == "aaaaaaaa-0000-0000-0000-000000000001"
    assert props["hepix_list_id"] == lst.identifier and props["version"] == "1.2"
    assert props["vmcatcher_event_il_dc_identifier"] == lst.identifier
    assert props["vmcatcher_event_sl_checksum_sha512"] == "ab" * 64
    assert props["architecture"] == "x86_64" and props["endorser_dn"] == "/CN=me"


def test_egi_entry_keeps_ova_and_appdb_properties() -> None:
    lst = parse_image_list(read("image.list"))
    spec = image_to_spec(lst.images[0], lst, Origin.REMOTE, "https://appdb.example/image.list")
    assert spec.disk_format == "ova" and spec.compression is None
    assert spec.properties["vmcatcher_event_ad_mpuri"] == lst.images[0].mpuri
    assert spec.properties["vmcatcher_event_vo"] == "fedcloud.egi.eu"
    assert spec.properties["os_distro"] == "scientific" and spec.properties["vmcatcher_event_hv_size"] == "121243136"
    assert spec.expires == dt.datetime(2499, 12, 31, 22, tzinfo=UTC)


def test_image_expiry_overrides_the_lists() -> None:
    lst = parse_image_list(make_list([image(**{"dc:date:expires": "2021-06-01T00:00:00Z"})]))
    assert image_to_spec(lst.images[0], lst, Origin.REMOTE, "x").expires == dt.datetime(2021, 6, 1, tzinfo=UTC)


def test_find_image_and_near_matches() -> None:
    lst = parse_image_list(read("hepix_signed_image_list"))
    assert find_image(lst, "623B0BC7-abc2-4961-8700-53e358772a96").size == 404994202
    with pytest.raises(RecordError, match="did you mean 623b0bc7-abc2-4961-8700-53e358772a96"):
        find_image(lst, "623b0bc7-abc2-4961-8700-53e358772a9")


def test_remote_list_may_not_point_at_local_files() -> None:
    lst = parse_image_list(make_list([image(**{"hv:uri": "file:///etc/passwd"})]))
    with pytest.raises(UnsafeLocation, match="passwd"):
        image_to_spec(lst.images[0], lst, Origin.REMOTE, "http://127.0.0.1:1/image.list")
    local = image_to_spec(lst.images[0], lst, Origin.LOCAL_RECORD, "/srv/lists/image.list")
    assert local.locations[0].url == "/etc/passwd"


def test_missing_required_keys_are_refused() -> None:
    entry = image()
    del entry["sl:checksum:sha512"]
    with pytest.raises(RecordError, match="sha512 is missing"):
        parse_image_list(make_list([entry]))
    with pytest.raises(RecordError, match="YYYY-MM-DDThh:mm:ssZ"):
        parse_image_list(make_list([image()], **{"dc:date:expires": "2030-01-01"}))
