# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Where the checks read the image: the local file when it holds exactly the stored bytes (a
path source, a cache file), else a temporary spool of the stored image, removed on every path."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest

from glancing.dataflow import FlowResult
from glancing.model import ImageSpec, Location, Origin
from glancing.quarantine.gate import Held, Spooler, local_copy


def _spec(*urls: str) -> ImageSpec:
    return ImageSpec(locations=tuple(Location(u) for u in urls), origin=Origin.USER)


def test_local_uncompressed_file_of_the_stored_size_is_read_in_place(tmp_path: Path) -> None:
    image = tmp_path / "cache-file"
    image.write_bytes(b"x" * 100)
    assert local_copy(_spec(str(image)), FlowResult(size=100)) == str(image)
    assert local_copy(_spec(f"file://{image}"), FlowResult(size=100)) == str(image)
    assert local_copy(_spec(str(image)), FlowResult(size=100, compression="xz")) is None  # stored != file
    assert local_copy(_spec(str(image)), FlowResult(size=99)) is None  # changed since
    assert local_copy(_spec("https://example.org/x.img"), FlowResult(size=100)) is None
    assert local_copy(_spec(str(image), str(image)), FlowResult(size=100)) is None


def _held(local: str = "") -> Held:
    return Held("img-1", "name", "qcow2", {}, local or None)


def test_spool_holds_the_downloaded_bytes_and_is_removed_after(tmp_path: Path) -> None:
    seen: List[str] = []
    spooler = Spooler(lambda image_id: iter([b"ab", b"cd"]))
    with spooler.spool(_held(), str(tmp_path)) as path:
        seen.append(path)
        assert Path(path).read_bytes() == b"abcd" and Path(path).parent == tmp_path
    assert not Path(seen[0]).exists() and list(tmp_path.iterdir()) == []


def test_spool_is_removed_when_the_download_or_the_checks_fail(tmp_path: Path) -> None:
    def broken(image_id: str) -> Iterator[bytes]:
        yield b"ab"
        raise OSError("connection lost")

    with pytest.raises(OSError, match="connection lost"):
        with Spooler(broken).spool(_held(), str(tmp_path)):
            pass
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        with Spooler(lambda image_id: iter([b"ab"])).spool(_held(), str(tmp_path)):
            raise RuntimeError("a check blew up")
    assert list(tmp_path.iterdir()) == []


def test_a_local_copy_is_used_as_is_and_never_removed(tmp_path: Path) -> None:
    image = tmp_path / "image.qcow2"
    image.write_bytes(b"data")
    with Spooler(lambda image_id: pytest.fail("no download")).spool(_held(str(image)), str(tmp_path)) as path:
        assert path == str(image)
    assert image.read_bytes() == b"data"
