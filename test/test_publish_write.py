# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The HEPiX writer round-trips through the one reader: real lists (CernVM, EGI AppDB,
cloudkeeper) and a list with every field read back into the same HepixList."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from glancing.formats.hepix.read import HepixImage, HepixList, parse_list_json, read_image_list
from glancing.formats.hepix.write import REQUIRED_IMAGE_TEXT, list_document, write_image_list

FIX = Path(__file__).parent / "fixtures" / "hepix"
UTC = dt.timezone.utc


@pytest.mark.parametrize("name", ["hepix_signed_image_list", "image.list", "cloudkeeper/imagelist01.unsigned"])
def test_real_lists_round_trip(name: str) -> None:
    original = parse_list_json((FIX / name).read_bytes(), name)
    written = write_image_list(original)
    assert parse_list_json(written, name) == original
    # vmcaster's layout: sorted keys, indent 4; stable when written again
    assert written == write_image_list(parse_list_json(written, name))
    assert written.startswith(b'{\n    "hv:imagelist": {')


def _full() -> HepixList:
    image = HepixImage(
        identifier="488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d", uri="https://images.example.org/d.qcow2.xz",
        size=12345, checksums={"sha512": "ab" * 64}, title="Débian 12 «cloud»", description="d",
        version="1.2", hypervisor="QEMU,KVM", format="qcow2.xz", arch="x86_64", os="Linux",
        osname="Debian", osversion="12", comments="", mpuri="https://appdb.example.org/x:1/",
        expires=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        entry={"ad:user:fullname": "Ann Endorser", "hv:ram_minimum": "512"})
    return HepixList(identifier="6b1e5f0e-2c1a-5d8e-9f00-0123456789ab", images=(image,), version="0.0.7",
                     created=dt.datetime(2029, 1, 1, tzinfo=UTC), expires=dt.datetime(2029, 1, 29, tzinfo=UTC),
                     title="T", description="D", source="example.org", uri="https://example.org/image.list",
                     vo="vo.example.org", endorser_dn="/DC=org/CN=Ann", endorser_ca="/DC=org/CN=CA",
                     endorser_email="ann@example.org", endorser_name="Ann")


def test_every_field_round_trips_and_extra_keys_are_kept() -> None:
    lst = _full()
    back = parse_list_json(write_image_list(lst), "full")
    assert back.images[0].entry["ad:user:fullname"] == "Ann Endorser"
    assert back.images[0].entry["hv:ram_minimum"] == "512"
    # the reader keeps every key as text in ``entry``: compare all else field by field
    for field in ("identifier", "uri", "size", "checksums", "title", "version", "format", "osname", "expires"):
        assert getattr(back.images[0], field) == getattr(lst.images[0], field)
    assert back.identifier == lst.identifier and back.version == lst.version and back.vo == lst.vo
    assert (back.created, back.expires) == (lst.created, lst.expires)
    assert (back.endorser_dn, back.endorser_ca, back.endorser_email, back.endorser_name) == \
        ("/DC=org/CN=Ann", "/DC=org/CN=CA", "ann@example.org", "Ann")
    assert parse_list_json(write_image_list(back), "again") == back


def test_size_is_an_integer_and_endorser_one_object() -> None:
    document = json.loads(write_image_list(_full()))
    body = document["hv:imagelist"]
    assert isinstance(body["hv:endorser"], dict) and set(body["hv:endorser"]) == {"hv:x509"}
    assert body["hv:images"][0]["hv:image"]["hv:size"] == 12345
    assert body["dc:date:created"] == "2029-01-01T00:00:00Z"


def test_required_keys_are_written_even_when_unknown() -> None:
    bare = HepixImage(identifier="u", uri="https://x/y", size=1, checksums={"sha512": "0" * 128})
    lst = HepixList(identifier="l", images=(bare,))
    entry = list_document(lst)["hv:imagelist"]["hv:images"][0]["hv:image"]
    assert all(entry[key] == "" for key in REQUIRED_IMAGE_TEXT)
    body = list_document(lst)["hv:imagelist"]
    assert body["hv:endorser"]["hv:x509"]["hv:dn"] == "" and body["dc:title"] == ""
    assert read_image_list(list_document(lst)).images[0].size == 1
