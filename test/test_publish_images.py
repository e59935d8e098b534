# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Image entries from files: the digest of the bytes as served, reproducible compression, the
format qemu-img finds inside, vmcaster's no-op update, and the hostile disks refused."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from glancing.errors import UnsafeImage, UsageError
from glancing.publish import service, store
from glancing.publish.db import open_db
from glancing.publish.images import describe_file
from images import compress, make_qcow2, make_raw, qcow2_with_backing


def test_compressed_copy_is_hashed_and_reproducible(tmp_path: Path) -> None:
    disk = make_qcow2(tmp_path / "d.qcow2", seed=b"x", size_mib=1)
    first = describe_file(disk, "gz")
    served = Path(first.path)
    assert served.name == "d.qcow2.gz" and first.format == "qcow2.gz"
    assert first.sha512 == hashlib.sha512(served.read_bytes()).hexdigest() and first.size == served.stat().st_size
    assert gzip.decompress(served.read_bytes()) == disk.read_bytes()
    assert describe_file(disk, "gz").sha512 == first.sha512  # no timestamp in the gzip header
    assert describe_file(disk, "xz").format == "qcow2.xz" and describe_file(disk, "bz2").format == "qcow2.bz2"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_compressed_file_is_served_as_it_is(tmp_path: Path) -> None:
    raw = compress(make_raw(tmp_path / "r.img", size_mib=1), "xz")
    found = describe_file(raw)
    assert found.format == "raw.xz" and found.path == str(raw)
    assert found.sha512 == hashlib.sha512(raw.read_bytes()).hexdigest()
    with pytest.raises(UsageError, match="leave out --compress"):
        describe_file(raw, "gz")


def test_a_disk_referencing_other_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeImage):
        describe_file(qcow2_with_backing(tmp_path / "b.qcow2", "/etc/passwd"))


def test_update_is_a_no_op_for_the_same_bytes_and_keeps_the_compression(tmp_path: Path) -> None:
    disk = make_qcow2(tmp_path / "d.qcow2", seed=b"1", size_mib=1)
    with open_db(str(tmp_path / "p.db")) as db:
        row = store.create_list(db, title="t", uri="https://x/image.list", lifetime=60)
        image = service.add_image(db, row.id, disk, service.ImageFields(title="D", version="1.9"), "gz")
        same, changed = service.update_image(db, row.id, image.uuid, disk)
        assert not changed and same.entry == image.entry
        make_qcow2(disk, seed=b"2", size_mib=1)
        new, changed = service.update_image(db, row.id, image.uuid[:6], disk)
        assert changed and new.entry["hv:version"] == "1.10" and new.entry["hv:format"] == "qcow2.gz"
        assert new.entry["sl:checksum:sha512"] != image.entry["sl:checksum:sha512"]
        packed = compress(make_qcow2(tmp_path / "e.qcow2", seed=b"3", size_mib=1), "gz")
        third, changed = service.update_image(db, row.id, image.uuid, packed, version="3")
        assert changed and third.entry["hv:version"] == "3" and third.file == str(packed.resolve())
        assert [i.uuid for i in store.images(db, row.id)] == [image.uuid]
