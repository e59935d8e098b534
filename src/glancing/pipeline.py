# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""import_image(): fetch -> verify -> transform -> stage -> release -> retire, for one ImageSpec.

Both CLIs call this one function; it talks to the target only through ``targets.base.Target``.
The order is the safety argument:

1. the new image is staged hidden, under a temporary name, private, marked with this run;
2. the stream's own verdict (size, every digest, identifier) ends the upload: a bad image never
   becomes usable;
3. the digests the target computed itself must equal what we computed on the bytes we sent;
4. only then is it released (name, visibility), and only after that is the old image retired
   (renamed, hidden, tagged, still usable). Any failure before step 4 discards the new upload
   and leaves the old image exactly as it was.

The name, the properties and the container format are judged against the target's limits
before anything is read, in a dry run too: a dry run's verdict is the import's.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import tempfile
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import requests

from glancing import __version__
from glancing.dataflow import DataFlow, FlowOptions, FlowResult
from glancing.errors import DigestMismatch, FormatMismatch, GlanceError, GlancingError, ServerDigestMismatch, UsageError
from glancing.fetch import HttpSettings, new_session, open_first
from glancing.model import ImageSpec, Origin
from glancing.retire import backup as _backup
from glancing.targets import names
from glancing.targets.base import (LeftoverPolicy, Limits, Payload, PayloadKind, PendingMark, Release, Staged,
                                   StageRequest, StoredCopy, Target)
from glancing.targets.glance.target import COMPUTES as GLANCE_COMPUTES, LIMITS as GLANCE_LIMITS
from glancing.transform import probe
from glancing.verify.digests import hash_chunks

log = logging.getLogger(__name__)

_IMAGE_SUFFIXES = re.compile(r"(\.(img|raw|qcow2?|vmdk|vdi|vhdx?|iso|dsk|disk))?(\.(gz|bz2|xz|zip))?$", re.I)


@dataclass(frozen=True)
class ImportOptions:
    """How to import: the command-line flags of ``glancing``, as data."""

    name: Optional[str] = None
    dry_run: bool = False
    force: bool = False
    check_digests: bool = True
    keep_temps: bool = False
    tmp_dir: Optional[str] = None  # where -k keeps the bytes ([fetch] tmp_dir); None: the system's
    backup_dir: Optional[str] = None
    disk_format: Optional[str] = None
    container_format: str = "bare"
    visibility: Optional[str] = None
    properties: Mapping[str, str] = field(default_factory=dict)
    allow_unverified: bool = False
    # Marks the staged upload (with host, pid and start) until it is released: a later run of the
    # same owner removes it if this run died, never while this run lives.
    pending_owner: str = names.OWNER_GLANCING
    # After a publish, remove staged uploads dead runs of pending_owner left ([glance] clean_leftovers).
    clean_leftovers: bool = True
    # Another host's staged upload is presumed dead after this ([glance] stale_upload_after).
    stale_upload_after: _dt.timedelta = _dt.timedelta(days=1)
    http: HttpSettings = HttpSettings()
    # upload (through this host), web-download (the target fetches the URL) or auto (webdownload.py)
    method: str = "upload"
    progress: Optional[Callable[[int, Optional[int]], None]] = None


@dataclass
class ImportResult:
    """What an import did; ``as_json()`` is the --json output."""

    name: str
    source: str
    disk_format: str
    container_format: str
    size: int
    digests: Dict[str, str]
    flow: FlowResult
    dry_run: bool
    image_id: Optional[str] = None
    visibility: Optional[str] = None
    retired: List[Dict[str, str]] = field(default_factory=list)
    backups: List[str] = field(default_factory=list)
    method: str = "upload"  # how the bytes reached the target

    def as_json(self) -> Dict[str, Any]:
        return {
            "status": "dry-run" if self.dry_run else "imported",
            "image_id": self.image_id, "name": self.name, "source": self.source,
            "disk_format": self.disk_format, "container_format": self.container_format,
            "visibility": self.visibility, "size": self.size, "source_size": self.flow.given_size,
            "compression": self.flow.compression, "digests": self.digests,
            "source_digests": self.flow.given_digests, "verified": self.flow.verified,
            "forced": self.flow.forced, "retired": self.retired, "backups": self.backups,
            "kept_file": self.flow.kept_file, "method": self.method,
        }


def default_name(spec: ImageSpec) -> str:
    """The Glance name: the source's own, else the file name without image and compression suffixes."""
    if spec.name:
        return spec.name
    base = os.path.basename(spec.source.split("?", 1)[0].rstrip("/"))
    return _IMAGE_SUFFIXES.sub("", base) or base or "image"


def _is_remote(spec: ImageSpec) -> bool:
    return spec.origin is Origin.REMOTE or any(
        loc.url.split(":", 1)[0].lower() in ("http", "https", "ftp") for loc in spec.locations)


def _refuse_unverified(spec: ImageSpec, options: ImportOptions) -> None:
    if spec.expected.digests or spec.expected.identifier:
        return
    if not options.check_digests:
        logging.getLogger("glancing.unsafe").warning("-D: the image digests will not be checked")
        return
    if _is_remote(spec) and not options.allow_unverified:
        raise UsageError(f"{spec.source}: no expected digest to verify the download against; give -s, "
                         "--digest or -S, or accept the risk with --allow-unverified")
    log.warning("%s: no expected digest: the image is not verified, only measured", spec.source)


def import_image(spec: ImageSpec, options: ImportOptions, target: Optional[Target] = None,
                 replace: Optional[Sequence[Mapping[str, Any]]] = None,
                 session: Optional[requests.Session] = None,
                 extra_properties: Optional[Mapping[str, str]] = None) -> ImportResult:
    """Import ``spec`` into ``target`` (or only check it when ``options.dry_run``; a dry run without
    a target is judged by Glance's limits, the default target's).

    ``replace``: the images the new one retires; None means every visible image of the same name.
    Raises VerificationError, SourceError, RecordError, UsageError or GlanceError.
    """
    if spec.disk_format and spec.disk_format.lower() == "ova":
        raise FormatMismatch(f"{spec.source}: the source declares an OVA; OVA import is not supported yet")
    if not options.dry_run and target is None:
        raise UsageError("no Glance to import into")
    if target is not None and PayloadKind.STREAM not in target.accepts:
        # A target that registers a URL or a file (OpenNebula) gets its own payload path here.
        raise UsageError("this target cannot take the verified image as a stream")
    limits = target.limits if target is not None else GLANCE_LIMITS
    computes = tuple(target.computes) if target is not None else GLANCE_COMPUTES
    _refuse_unverified(spec, options)
    name = options.name or default_name(spec)
    _judge_names(limits, name, options, spec, extra_properties or {})
    if options.method != "upload":
        from glancing import webdownload

        fetched = webdownload.try_import(spec, options, target, name, replace, extra_properties or {}, session)
        if fetched is not None:
            return fetched
    stream = open_first(spec.locations, session or new_session(), options.http,
                        allow_local=spec.origin is not Origin.REMOTE)
    flow = DataFlow(stream, spec.expected, FlowOptions(
        check_digests=options.check_digests, force=options.force,
        keep_dir=(options.tmp_dir or tempfile.gettempdir()) if options.keep_temps else None,
        progress=options.progress, upload_algorithms=computes,
        server_checks=() if options.dry_run or options.force else computes))
    try:
        disk_format = _disk_format(flow, spec, options)
        if options.dry_run:
            flow.drain()
            return _result(name, spec, disk_format, options, flow.result, dry_run=True)
        assert target is not None
        return _publish(target, flow, spec, name, disk_format, options, replace, extra_properties or {})
    finally:
        flow.close()
        if flow.result.kept_file:
            log.info("kept the downloaded bytes in %s", flow.result.kept_file)


def _judge_names(limits: Limits, name: str, options: ImportOptions, spec: ImageSpec,
                 extra: Mapping[str, str]) -> None:
    """What the target would refuse at release, refused now: before any byte is read."""
    limits.check_name(name)
    limits.check_container_format(options.container_format)
    limits.fit({**spec.properties, **extra, **options.properties})


def _disk_format(flow: DataFlow, spec: ImageSpec, options: ImportOptions) -> str:
    head = flow.head()
    if not head:
        flow.drain()  # an empty source: let the size check speak first when it applies
        raise FormatMismatch(f"{spec.source} is empty")
    detected = probe.detect(head, source=spec.source)
    log.debug("qemu-img detected %s", detected)
    return probe.reconcile(detected, options.disk_format, spec.disk_format, options.force)


def _result(name: str, spec: ImageSpec, disk_format: str, options: ImportOptions, flow: FlowResult,
            dry_run: bool) -> ImportResult:
    return ImportResult(name=name, source=spec.source, disk_format=disk_format,
                        container_format=options.container_format, size=flow.size,
                        digests=flow.digests, flow=flow, dry_run=dry_run)


def image_properties(spec: ImageSpec, options: ImportOptions, flow: FlowResult,
                     extra: Mapping[str, str]) -> Dict[str, str]:
    """The properties a released image carries: its source, what was verified, the record's and
    the user's (later ones win); empty values left out. The target fits them to its limits."""
    props: Dict[str, str] = {names.PROP_SOURCE: spec.source, names.PROP_GLANCING_VERSION: __version__,
                             names.PROP_DIGEST_SCOPE: spec.expected.scope.value}
    verified = flow.scope_digests(spec.expected.scope)
    for alg in flow.verified:
        if alg in verified:
            props[names.PROP_DIGEST_PREFIX + alg] = verified[alg]
    props.update(spec.properties)
    props.update(extra)
    props.update(options.properties)
    return {k: str(v) for k, v in props.items() if v is not None and str(v) != ""}


def _publish(target: Target, flow: DataFlow, spec: ImageSpec, name: str, disk_format: str,
             options: ImportOptions, replace: Optional[Sequence[Mapping[str, Any]]],
             extra: Mapping[str, str]) -> ImportResult:
    if options.backup_dir:
        _backup.prepare_dir(options.backup_dir)  # a bad -b fails now, before anything changes
    old = list(replace) if replace is not None else target.current(name)
    request = StageRequest(name, disk_format, options.container_format, PendingMark.here(options.pending_owner))
    # Dead runs' leftovers are looked for while this upload runs: no time added to the import.
    sweeper = threading.Thread(target=clean_leftovers, name="glancing-leftovers", daemon=True,
                               args=(target, LeftoverPolicy(options.pending_owner, options.stale_upload_after)))
    if options.clean_leftovers:
        sweeper.start()
    try:
        staged = _stage(target, request, flow)
        try:
            check_stored_copy(target, target.stored(staged), flow.result, spec)
            visibility = options.visibility or (old[0].get("visibility") if old else None) or "private"
            target.release(staged, Release(name, visibility, image_properties(spec, options, flow.result, extra)))
        except BaseException:
            target.discard(staged.id)
            raise
        result = _result(name, spec, disk_format, options, flow.result, dry_run=False)
        result.image_id, result.visibility = staged.id, visibility
        log.info("published %s as %s (%s, %d bytes)", name, staged.id, disk_format, result.size)
        _retire_all(target, old, staged.id, options, result)
    finally:
        if sweeper.is_alive():
            sweeper.join()
    return result


def _stage(target: Target, request: StageRequest, flow: DataFlow) -> Staged:
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
        raise ServerDigestMismatch(f"Glance stored {copy.size} bytes for {copy.id}, we sent {flow.size}")
    expected = spec.expected.digests
    for alg, value in copy.digests.items():
        if alg in flow.digests:
            if value != flow.digests[alg]:
                raise ServerDigestMismatch(f"Glance's {alg} of image {copy.id} ({value}) differs from that of "
                                           f"the bytes we sent ({flow.digests[alg]})")
        elif alg in flow.deferred:
            _judge_stored(flow, {alg: value}, expected, f"{spec.source} as stored by Glance")
        else:
            log.warning("Glance hashes with %s, which glancing did not compute: checked md5 only", alg)
    unchecked = [alg for alg in flow.deferred if alg not in flow.digests]
    if unchecked:
        _, stored = hash_chunks(target.download(copy.id), unchecked)
        _judge_stored(flow, stored, expected, f"{spec.source} as downloaded back from Glance")


def _judge_stored(flow: FlowResult, stored: Mapping[str, str], expected: Mapping[str, str], what: str) -> None:
    for alg, value in stored.items():
        if value != expected[alg]:
            raise DigestMismatch({alg: expected[alg]}, {alg: value}, what)
        flow.digests[alg] = value
        if flow.compression is None:  # the bytes as given are the bytes stored
            flow.given_digests[alg] = value
        flow.verified.append(alg)


def _retire_all(target: Target, old: Sequence[Mapping[str, Any]], new_id: str, options: ImportOptions,
                result: ImportResult) -> None:
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


# Public for the other ways of staging an image (webdownload, fanout): the same rules, not copies.
retire_all = _retire_all
refuse_unverified = _refuse_unverified
judge_names = _judge_names
detect_format = _disk_format

__all__ = ["ImportOptions", "ImportResult", "check_stored_copy", "clean_leftovers", "default_name",
           "detect_format", "image_properties", "import_image", "judge_names", "refuse_unverified", "retire_all"]
