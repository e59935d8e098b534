# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Staging a verified image in a target and judging what it stored, for every way of importing
(the pipeline, web-download, fan-out): the same rules, one copy.

A target that takes a stream gets the bytes as they are verified; one that registers a file or
a URL (OpenNebula) is handed one only after the whole verdict. Either way the target's own
account of what it stored (status, size, digests) must match what was sent before anything is
released, and the images a release replaces are retired after it, never before.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import tempfile
from typing import Any, Mapping, Optional, Sequence

from glancing.dataflow import DataFlow, FlowResult
from glancing.errors import DigestMismatch, GlanceError, GlancingError, ServerDigestMismatch, UsageError
from glancing.fetch import local_path
from glancing.model import ImageSpec
from glancing.retire import backup as _backup
from glancing.targets.base import LeftoverPolicy, Payload, PayloadKind, StageRequest, Staged, StoredCopy, Target
from glancing.verify.digests import hash_chunks

log = logging.getLogger(__name__)


def stage(target: Target, request: StageRequest, reader: DataFlow, spool_dir: Optional[str],
          transformed: bool = False) -> Staged:
    """``reader`` staged in ``target`` as its ``accepts`` allows; ``transformed``: the bytes are
    glancing's own (converted, taken out of an OVA), not the source's."""
    if PayloadKind.STREAM in target.accepts:
        return _stage_stream(target, request, reader)
    return _stage_by_reference(target, request, reader, spool_dir, transformed)


def _stage_stream(target: Target, request: StageRequest, flow: DataFlow) -> Staged:
    try:
        staged = target.stage(request, Payload(stream=flow))
    except GlanceError:
        # A failed verdict aborts the upload from inside read(): report the verdict, not the
        # connection error the client makes of it.
        if flow.error is not None:
            raise flow.error from None
        raise
    try:
        if flow.error is not None:
            raise flow.error
        flow.join()
    except BaseException:
        target.discard(staged.id)
        raise
    return staged


def _stage_by_reference(target: Target, request: StageRequest, flow: DataFlow, spool_dir: Optional[str],
                        transformed: bool) -> Staged:
    """The verified bytes themselves (the local source or cache file when it holds exactly them,
    else a copy spooled to the target's ``spool_dir``, removed once the target has its own), or,
    for a target that takes only URLs, the source URL they were verified from."""
    source = flow.stream.url
    local = None if transformed or ("://" in source and not source.startswith("file:")) else local_path(source)
    spooled: Optional[str] = None
    if PayloadKind.PATH not in target.accepts:
        if transformed or flow.result.compression is not None or local is not None:
            raise UsageError(f"{source}: this target downloads the image itself, from an uncompressed http(s) "
                             "or ftp source only, and takes it as it is (no conversion, no OVA)")
        flow.drain()
        payload = Payload(url=source, size=flow.result.size)
    elif local is not None and flow.result.compression is None and os.path.isfile(local):
        flow.drain()
        payload = Payload(path=os.path.abspath(local), size=flow.result.size)
    else:
        spooled = _spool(flow, getattr(target, "spool_dir", None) or spool_dir or tempfile.gettempdir())
        payload = Payload(path=spooled, size=flow.result.size)
    try:
        return target.stage(request, payload)
    finally:
        if spooled is not None:
            os.unlink(spooled)


def _spool(flow: DataFlow, directory: str) -> str:
    """The verified bytes in a new file in ``directory`` (readable by the front-end's user); the
    file is removed again when the verdict fails."""
    fd, path = tempfile.mkstemp(prefix=".glancing-", suffix=".img", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = flow.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
        flow.join()
        if flow.error is not None:
            raise flow.error
        os.chmod(path, 0o644)
    except BaseException:
        os.unlink(path)
        raise
    return path


def clean_leftovers(target: Target, policy: LeftoverPolicy) -> None:
    """Remove staged uploads dead runs of ``policy.owner`` left behind; never fails the caller
    (it runs beside an upload: a failure here is only logged)."""
    try:
        for image, verdict in target.clean_leftovers(policy):
            if verdict.startswith("failed"):
                log.warning("could not remove %s, an unfinished upload of a dead run: %s", image["id"], verdict)
    except Exception as e:  # noqa: BLE001 - best effort beside the upload, which must not suffer
        log.warning("could not look for unfinished uploads of dead runs: %s", e,
                    exc_info=not isinstance(e, GlanceError) and log.isEnabledFor(logging.DEBUG))


def check_stored_copy(target: Target, copy: StoredCopy, flow: FlowResult, spec: ImageSpec) -> None:
    """The target's own digests must describe exactly the bytes we streamed, and the expected ones.

    A digest computed here is compared with the target's (a difference is a transfer or storage
    fault: ServerDigestMismatch). An expected digest left to the target (flow.deferred) is
    compared with its value directly (a difference is a bad image: DigestMismatch); one it did not
    compute (another os_hash_algo) is checked on a download of the stored image.
    """
    if copy.status != "active":
        raise GlanceError(f"image {copy.id} is {copy.status!r} after upload, not active")
    if copy.size != flow.size:
        raise ServerDigestMismatch(f"the target stored {copy.size} bytes for {copy.id}, we sent {flow.size}")
    expected = spec.expected.digests
    for alg, value in copy.digests.items():
        if alg in flow.digests:
            if value != flow.digests[alg]:
                raise ServerDigestMismatch(f"the target's {alg} of image {copy.id} ({value}) differs from that of "
                                           f"the bytes we sent ({flow.digests[alg]})")
        elif alg in flow.deferred:
            _judge_stored(flow, {alg: value}, expected, f"{spec.source} as stored by the target")
        else:
            log.warning("the target hashes with %s, which glancing did not compute: checked md5 only", alg)
    unchecked = [alg for alg in flow.deferred if alg not in flow.digests]
    if unchecked:
        _, stored = hash_chunks(target.download(copy.id), unchecked)
        _judge_stored(flow, stored, expected, f"{spec.source} as downloaded back from the target")


def _judge_stored(flow: FlowResult, stored: Mapping[str, str], expected: Mapping[str, str], what: str) -> None:
    for alg, value in stored.items():
        if value != expected[alg]:
            raise DigestMismatch({alg: expected[alg]}, {alg: value}, what)
        flow.digests[alg] = value
        if flow.compression is None:  # the bytes as given are the bytes stored
            flow.given_digests[alg] = value
        flow.verified.append(alg)


def retire_all(target: Target, old: Sequence[Mapping[str, Any]], new_id: str, options: Any, result: Any) -> None:
    """Retire ``old`` now that ``new_id`` is released (``options.backup_dir``: download each
    first); fills ``result.backups`` and ``result.retired``."""
    now = _dt.datetime.now(_dt.timezone.utc)
    for image in old:
        if image["id"] == new_id:
            continue
        try:
            if options.backup_dir:
                result.backups.append(_backup.download(target, image, options.backup_dir))
            target.retire(image, new_id, when=now)
        except GlancingError as e:
            raise GlanceError(f"new image {new_id} is published, but the previous one {image['id']} "
                              f"could not be retired and is still visible: {e}") from e
        result.retired.append({"id": image["id"], "name": image.get("name") or ""})
        log.info("retired %s (%s) as a hidden backup", image["id"], image.get("name"))


__all__ = ["check_stored_copy", "clean_leftovers", "retire_all", "stage"]
