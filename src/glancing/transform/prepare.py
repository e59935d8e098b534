# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The transform step: from the verified stream to the stream to upload (as is, converted, or a
disk taken out of an OVA).

Order, for an OVA or a disk in a format the site does not run:

1. the source streams through the ``DataFlow`` as usual: the size and every expected digest are
   judged on the bytes as given, at the end of the stream, before anything is converted;
2. the disk (the whole image, or the chosen OVA member) is spooled into a private directory,
   its head checked by the hostile-disk guard BEFORE qemu-img reads it, every other OVA disk's
   head too; the whole spool is checked again by ``qemu-img info`` (backing files, data files,
   extents) and its virtual size against ``[glance] max_virtual_size``;
3. ``qemu-img convert`` writes the site's format next to it;
4. the converted file is read by a second ``DataFlow``: its bytes are hashed as they stream to
   the target, so the target's checksums are checked against them as for any upload.

Expected digests the first flow left to the target (``FlowResult.deferred``) cannot be judged
by a target that never sees those bytes: they are hashed here as the spool is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Dict, Iterable, Iterator, Optional, Tuple

from glancing.dataflow import DataFlow, FlowOptions
from glancing.errors import DigestMismatch
from glancing.fetch.local import LocalStream
from glancing.model import Expected
from glancing.targets.names import PROP_CONVERTED_FROM, PROP_ORIGINAL_PREFIX, PROP_OVA_DISK
from glancing.transform import convert as _convert
from glancing.transform import ova as _ova
from glancing.transform import probe
from glancing.transform.convert import ConvertOptions, Workspace
from glancing.transform.tarstream import Member
from glancing.verify.digests import MultiHasher

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """What to upload: a reader with its own ``result`` (the bytes the target gets), its format,
    the properties it adds, and what ``close`` cleans up."""

    reader: DataFlow
    disk_format: str
    properties: Dict[str, str] = field(default_factory=dict)
    converted_from: Optional[str] = None
    workspace: Optional[Workspace] = None
    path: Optional[str] = None  # the file holding exactly the bytes uploaded, when transformed

    @property
    def transformed(self) -> bool:
        return self.workspace is not None

    def describe(self) -> Optional[Dict[str, object]]:
        """The --json form of what was done, None for an upload as given."""
        if self.workspace is None:
            return None
        return {"from": self.converted_from, "to": self.disk_format,
                "ova_disk": self.properties.get(PROP_OVA_DISK),
                "kept_dir": self.workspace.path if self.workspace.keep else None}

    def close(self) -> None:
        if self.workspace is not None:
            self.reader.close()
            self.workspace.close()


class _Hashing:
    """``flow`` as a reader that also hashes ``algorithms`` of what is read (from the first byte:
    ``DataFlow.head`` keeps what it probed for the reads)."""

    def __init__(self, flow: DataFlow, algorithms: Iterable[str]) -> None:
        self.flow = flow
        self.hasher = MultiHasher(algorithms)

    def read(self, size: int = -1) -> bytes:
        data = self.flow.read(size)
        if data:
            self.hasher.update(data)
        return data

    def chunks(self) -> Iterator[bytes]:
        while True:
            data = self.read(1 << 20)
            if not data:
                return
            yield data


def prepare(flow: DataFlow, detected: str, source: str, expected: Expected, options: ConvertOptions,
            upload: FlowOptions) -> Prepared:
    """The stream to upload for a ``detected`` image (``flow`` as is when nothing is to be done).

    ``upload``: the FlowOptions of a converted image's own flow (the target's algorithms).
    """
    to = _convert.target_format(detected, options) if detected != "ova" else None
    if detected != "ova" and to is None:
        return Prepared(flow, detected)
    workspace = Workspace(options)
    reader = _Hashing(flow, flow.result.deferred)
    try:
        if detected == "ova":
            fmt, spool, props = _take_ova(reader, source, options, workspace)
        else:
            fmt, spool, props = detected, _take_disk(reader, flow, source, options, workspace), {}
        _judge_deferred(flow, reader.hasher, expected, source)
        return _finish(flow, fmt, spool, props, source, options, workspace, upload)
    except BaseException:
        reader.hasher.close()
        workspace.close()  # -k keeps a refused disk too, for inspection
        raise


def _take_disk(reader: _Hashing, flow: DataFlow, source: str, options: ConvertOptions,
               workspace: Workspace) -> str:
    """Spool a plain disk (after the free-space and virtual-size checks); returns the spool's path."""
    found = probe.inspect(flow.head(), source=source)
    _convert.check_virtual_size(found.virtual_size, options, source)
    known = flow.stream.size if flow.result.compression is None else None
    need = (known or found.virtual_size or 0) + (found.virtual_size or known or 0)
    _convert.check_free_space(workspace.path, need, f"converting {source}")
    path = workspace.file("source")
    _convert.spool(reader.chunks(), path)
    flow.join()
    return path


def _take_ova(reader: _Hashing, source: str, options: ConvertOptions,
              workspace: Workspace) -> Tuple[str, str, Dict[str, str]]:
    """Read the OVA: the chosen disk spooled, every disk guarded; (its format, spool, properties)."""
    path = workspace.file("source")
    formats: Dict[str, str] = {}

    def take(disk: _ova.OvfDisk, member: Member, chunks: Iterator[bytes]) -> None:
        head, rest = _head(chunks)
        found = probe.inspect(head, source=f"{source}: {disk.href}")
        if found.format == "ova":
            raise _convert.ConversionError(f"{source}: disk {disk.href} is itself a tar archive")
        _convert.check_virtual_size(found.virtual_size or disk.capacity, options, source)
        need = member.size + (found.virtual_size or disk.capacity or member.size)
        _convert.check_free_space(workspace.path, need, f"the disk {disk.href} of {source}")
        _convert.spool(_prepend(head, rest), path)
        formats["disk"] = found.format

    def guard(chunks: Iterator[bytes], what: str) -> None:
        head, _ = _head(chunks)
        probe.inspect(head, source=what)

    chosen = _ova.read_ova(reader, source, options.ova_disk, take, guard)
    reader.flow.join()
    log.info("%s: took disk %d of %d, %s (%s)", source, chosen.disk.index, len(chosen.disks), chosen.disk.href,
             formats["disk"])
    return formats["disk"], path, {**chosen.hints, PROP_OVA_DISK: chosen.disk.href}


def _head(chunks: Iterator[bytes]) -> Tuple[bytes, Iterator[bytes]]:
    """The first PROBE_BYTES (fewer for a small disk) and the rest of ``chunks``."""
    parts, got = [], 0
    for chunk in chunks:
        parts.append(chunk)
        got += len(chunk)
        if got >= probe.PROBE_BYTES:
            break
    return b"".join(parts), chunks


def _prepend(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


def _judge_deferred(flow: DataFlow, hasher: MultiHasher, expected: Expected, source: str) -> None:
    result = flow.result
    for alg, value in hasher.hexdigests().items():
        if value != expected.digests[alg]:
            raise DigestMismatch({alg: expected.digests[alg]}, {alg: value}, source)
        result.digests[alg] = value
        if result.compression is None:
            result.given_digests[alg] = value
        result.verified.append(alg)


def _finish(flow: DataFlow, fmt: str, spool: str, props: Dict[str, str], source: str, options: ConvertOptions,
            workspace: Workspace, upload: FlowOptions) -> Prepared:
    found = probe.inspect_file(spool, fmt, source)
    _convert.check_virtual_size(found.virtual_size, options, source)
    to = _convert.target_format(fmt, options)
    path = spool
    if to is not None:
        _convert.check_free_space(workspace.path, found.virtual_size or 0, f"converting {source} to {to}")
        path = workspace.file(f"converted.{to}")
        _convert.convert(spool, fmt, path, to, found.virtual_size, source)
        log.info("converted %s from %s to %s", source, fmt, to)
    if to is not None:
        props = {**props, PROP_CONVERTED_FROM: fmt}
    props.update({PROP_ORIGINAL_PREFIX + alg: value for alg, value in flow.result.given_digests.items()})
    # The converted bytes are glancing's own: never sniffed for compression (a raw disk may begin
    # with any bytes).
    reader = DataFlow(LocalStream(path), Expected(), replace(upload, sniff_compression=False))
    return Prepared(reader, to or fmt, props, fmt if to else None, workspace, path)
