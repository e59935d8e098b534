# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""import_image(): fetch -> verify -> transform -> publish -> retire, for one ImageSpec.

Both CLIs call this one function. The order is the safety argument:

1. the new image is uploaded hidden, under a temporary name, private;
2. the stream's own verdict (size, every digest, identifier) ends the upload: a bad image never
   becomes active;
3. Glance's own checksum and os_hash_value must equal what we computed on the bytes we sent;
4. only then does it get its name and visibility, and only after that is the old image retired
   (renamed, hidden, tagged, still active). Any failure before step 4 removes the new upload and
   leaves the old image exactly as it was.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import requests

from glancing import __version__
from glancing.dataflow import GLANCE_ALGORITHMS, DataFlow, FlowOptions, FlowResult
from glancing.errors import (DigestMismatch, FormatMismatch, GlanceError, GlancingError, ServerDigestMismatch,
                             UsageError)
from glancing.fetch import HttpSettings, new_session, open_first
from glancing.model import ImageSpec, Origin
from glancing.publish.glance import MANAGED_TAG, PENDING_TAG, GlanceStore
from glancing.retire import backup as _backup
from glancing.retire.retire import retire
from glancing.transform import probe
from glancing.verify.digests import hash_chunks

log = logging.getLogger(__name__)

GLANCE_PROPERTY_MAX = 255
_IMAGE_SUFFIXES = re.compile(r"(\.(img|raw|qcow2?|vmdk|vdi|vhdx?|iso|dsk|disk))?(\.(gz|bz2|xz|zip))?$", re.I)


@dataclass(frozen=True)
class ImportOptions:
    """How to import: the command-line flags of ``glancing``, as data."""

    name: Optional[str] = None
    dry_run: bool = False
    force: bool = False
    check_digests: bool = True
    keep_temps: bool = False
    backup_dir: Optional[str] = None
    disk_format: Optional[str] = None
    container_format: str = "bare"
    visibility: Optional[str] = None
    properties: Mapping[str, str] = field(default_factory=dict)
    allow_unverified: bool = False
    # Marks the hidden upload until it is published: glance_manager, holding its lock, may delete
    # leftovers of its own killed runs, never a concurrent `glancing` command's upload.
    pending_owner: str = "glancing"
    http: HttpSettings = HttpSettings()
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

    def as_json(self) -> Dict[str, Any]:
        return {
            "status": "dry-run" if self.dry_run else "imported",
            "image_id": self.image_id, "name": self.name, "source": self.source,
            "disk_format": self.disk_format, "container_format": self.container_format,
            "visibility": self.visibility, "size": self.size, "source_size": self.flow.given_size,
            "compression": self.flow.compression, "digests": self.digests,
            "source_digests": self.flow.given_digests, "verified": self.flow.verified,
            "forced": self.flow.forced, "retired": self.retired, "backups": self.backups,
            "kept_file": self.flow.kept_file,
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
        log.warning("-D: the image digests will not be checked")
        return
    if _is_remote(spec) and not options.allow_unverified:
        raise UsageError(f"{spec.source}: no expected digest to verify the download against; give -s, "
                         "--digest or -S, or accept the risk with --allow-unverified")
    log.warning("%s: no expected digest: the image is not verified, only measured", spec.source)


def import_image(spec: ImageSpec, options: ImportOptions, store: Optional[GlanceStore] = None,
                 replace: Optional[Sequence[Mapping[str, Any]]] = None,
                 session: Optional[requests.Session] = None,
                 extra_properties: Optional[Mapping[str, str]] = None) -> ImportResult:
    """Import ``spec`` into ``store`` (or only check it when ``options.dry_run``).

    ``replace``: the images the new one retires; None means every visible image of the same name.
    Raises VerificationError, SourceError, RecordError, UsageError or GlanceError.
    """
    if spec.disk_format and spec.disk_format.lower() == "ova":
        raise FormatMismatch(f"{spec.source}: the source declares an OVA; OVA import is not supported yet")
    if not options.dry_run and store is None:
        raise UsageError("no Glance to import into")
    _refuse_unverified(spec, options)
    name = options.name or default_name(spec)
    stream = open_first(spec.locations, session or new_session(), options.http,
                        allow_local=spec.origin is not Origin.REMOTE)
    flow = DataFlow(stream, spec.expected, FlowOptions(
        check_digests=options.check_digests, force=options.force,
        keep_dir=(os.environ.get("TMPDIR") or "/tmp") if options.keep_temps else None,
        progress=options.progress,
        server_checks=() if options.dry_run or options.force else GLANCE_ALGORITHMS))
    try:
        disk_format = _disk_format(flow, spec, options)
        if options.dry_run:
            flow.drain()
            return _result(name, spec, disk_format, options, flow.result, dry_run=True)
        assert store is not None
        return _publish(store, flow, spec, name, disk_format, options, replace, extra_properties or {})
    finally:
        flow.close()
        if flow.result.kept_file:
            log.info("kept the downloaded bytes in %s", flow.result.kept_file)


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


def _properties(spec: ImageSpec, options: ImportOptions, flow: FlowResult,
                extra: Mapping[str, str]) -> Dict[str, str]:
    props: Dict[str, str] = {"source": spec.source, "glancing_version": __version__,
                             "glancing_digest_scope": spec.expected.scope.value}
    verified = flow.scope_digests(spec.expected.scope)
    for alg in flow.verified:
        if alg in verified:
            props[f"glancing_{alg}"] = verified[alg]
    props.update(spec.properties)
    props.update(extra)
    props.update(options.properties)
    return {k: _fit(str(v)) for k, v in props.items() if v is not None and str(v) != ""}


def _fit(value: str) -> str:
    """Glance's image schema caps property values at 255 characters (a long DN or summary)."""
    return value if len(value) <= GLANCE_PROPERTY_MAX else value[:GLANCE_PROPERTY_MAX - 1] + "\u2026"


def _publish(store: GlanceStore, flow: DataFlow, spec: ImageSpec, name: str, disk_format: str,
             options: ImportOptions, replace: Optional[Sequence[Mapping[str, Any]]],
             extra: Mapping[str, str]) -> ImportResult:
    if options.backup_dir:
        _backup.prepare_dir(options.backup_dir)  # a bad -b fails now, before anything changes
    old = list(replace) if replace is not None else _same_name(store, name)
    pending = store.create(
        name=f"{name} [glancing upload {uuid.uuid4().hex[:8]}]", disk_format=disk_format,
        container_format=options.container_format, visibility="private", os_hidden=True,
        tags=[MANAGED_TAG, PENDING_TAG], glancing_pending_name=name, glancing_pending_owner=options.pending_owner)
    image_id = pending["id"]
    try:
        _upload(store, image_id, flow)
        _check_server_copy(store, store.get(image_id), flow.result, spec)
        visibility = options.visibility or (old[0].get("visibility") if old else None) or "private"
        store.update(image_id, remove=["glancing_pending_name", "glancing_pending_owner"],
                     tags=[t for t in pending.get("tags", ()) if t != PENDING_TAG], name=name,
                     visibility=visibility, os_hidden=False, **_properties(spec, options, flow.result, extra))
    except BaseException:
        store.discard(image_id)
        raise
    result = _result(name, spec, disk_format, options, flow.result, dry_run=False)
    result.image_id, result.visibility = image_id, visibility
    log.info("published %s as %s (%s, %d bytes)", name, image_id, disk_format, result.size)
    _retire_all(store, old, image_id, options, result)
    return result


def _same_name(store: GlanceStore, name: str) -> List[Dict[str, Any]]:
    """The visible images of that name this project owns: another project's public image of the
    same name is not ours to retire (and Glance would refuse)."""
    project = store.project_id()
    return store.list({"name": name, **({"owner": project} if project else {})})


def _upload(store: GlanceStore, image_id: str, flow: DataFlow) -> None:
    try:
        store.upload(image_id, flow)
    except GlanceError:
        # A failed verdict aborts the upload from inside read(): report the verdict, not the
        # connection error glanceclient makes of it.
        if flow.error is not None:
            raise flow.error from None
        raise
    if flow.error is not None:
        raise flow.error
    flow.join()


def _check_server_copy(store: GlanceStore, image: Mapping[str, Any], flow: FlowResult, spec: ImageSpec) -> None:
    """Glance's own digests must describe exactly the bytes we streamed, and the expected ones.

    A digest computed here is compared with Glance's (a difference is a transfer or storage
    fault: ServerDigestMismatch). An expected digest left to Glance (flow.deferred) is compared
    with Glance's value directly (a difference is a bad image: DigestMismatch); one Glance did not
    compute (another os_hash_algo) is checked on a download of the stored image.
    """
    image_id = image["id"]
    if image.get("status") != "active":
        raise GlanceError(f"image {image_id} is {image.get('status')!r} after upload, not active")
    if image.get("size") != flow.size:
        raise ServerDigestMismatch(f"Glance stored {image.get('size')} bytes for {image_id}, we sent {flow.size}")
    server = {"md5": image.get("checksum")}
    if image.get("os_hash_algo") and image.get("os_hash_value"):
        server[image["os_hash_algo"]] = image["os_hash_value"]
    expected = spec.expected.digests
    for alg, value in server.items():
        if not value:
            continue
        if alg in flow.digests:
            if value != flow.digests[alg]:
                raise ServerDigestMismatch(f"Glance's {alg} of image {image_id} ({value}) differs from that of "
                                           f"the bytes we sent ({flow.digests[alg]})")
        elif alg in flow.deferred:
            _judge_stored(flow, {alg: value}, expected, f"{spec.source} as stored by Glance")
        else:
            log.warning("Glance hashes with %s, which glancing did not compute: checked md5 only", alg)
    unchecked = [alg for alg in flow.deferred if alg not in flow.digests]
    if unchecked:
        _, stored = hash_chunks(store.download(image_id), unchecked)
        _judge_stored(flow, stored, expected, f"{spec.source} as downloaded back from Glance")


def _judge_stored(flow: FlowResult, stored: Mapping[str, str], expected: Mapping[str, str], what: str) -> None:
    for alg, value in stored.items():
        if value != expected[alg]:
            raise DigestMismatch({alg: expected[alg]}, {alg: value}, what)
        flow.digests[alg] = value
        if flow.compression is None:  # the bytes as given are the bytes stored
            flow.given_digests[alg] = value
        flow.verified.append(alg)


def _retire_all(store: GlanceStore, old: Sequence[Mapping[str, Any]], new_id: str, options: ImportOptions,
                result: ImportResult) -> None:
    now = _dt.datetime.now(_dt.timezone.utc)
    for image in old:
        if image["id"] == new_id:
            continue
        try:
            if options.backup_dir:
                result.backups.append(_backup.download(store, image, options.backup_dir))
            retire(store, image, new_id, now)
        except GlancingError as e:
            raise GlanceError(f"new image {new_id} is published, but the previous one {image['id']} "
                              f"could not be retired and is still visible: {e}") from e
        result.retired.append({"id": image["id"], "name": image.get("name") or ""})
        log.info("retired %s (%s) as a hidden backup", image["id"], image.get("name"))


__all__ = ["ImportOptions", "ImportResult", "default_name", "import_image"]
