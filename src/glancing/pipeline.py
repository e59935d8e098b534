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

import dataclasses
import datetime as _dt
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import requests

from glancing import __version__, sharing, staging
from glancing.dataflow import DataFlow, FlowOptions, FlowResult
from glancing.errors import FormatMismatch, UsageError
from glancing.fetch import HttpSettings, new_session, open_first
from glancing.model import ImageSpec, Origin
from glancing.quarantine import gate
from glancing.quarantine.gate import Held, QuarantinePolicy, local_copy
from glancing.quarantine.verdict import QuarantineRejected
from glancing.retire import backup as _backup
from glancing.staging import check_stored_copy, clean_leftovers, retire_all
from glancing.targets import names
from glancing.targets.base import LeftoverPolicy, Limits, PendingMark, Release, StageRequest, Target
from glancing.targets.glance.target import COMPUTES as GLANCE_COMPUTES, LIMITS as GLANCE_LIMITS
from glancing.transform import probe
from glancing.transform.convert import ConvertOptions, check_formats, check_virtual_size
from glancing.transform.prepare import Prepared, prepare

log = logging.getLogger(__name__)

_IMAGE_SUFFIXES = re.compile(r"(\.(img|raw|qcow2?|vmdk|vdi|vhdx?|iso|ova|dsk|disk))?(\.(gz|bz2|xz|zip))?$", re.I)


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
    # The site's disk formats, --convert-to, --ova-disk, [glance] max_virtual_size (tmp_dir and
    # keep_temps above say where the spool goes and whether it stays).
    conversion: ConvertOptions = ConvertOptions()
    # upload (through this host), web-download (the target fetches the URL) or auto (webdownload.py)
    method: str = "upload"
    progress: Optional[Callable[[int, Optional[int]], None]] = None
    # Issue 14: the checks an image must pass before release (None: released at once), the
    # projects it is shared with (ids), Glance's protected flag on release.
    quarantine: Optional[QuarantinePolicy] = None
    share: Tuple[str, ...] = ()  # project ids
    protected: bool = False
    # Resolves the projects an image is shared with (names, the VO map) and accepts their
    # memberships after the release: ``members_for(target, properties)``, ``test_project(target, name)``,
    # ``accept(target, image_id, members)`` (see cli.gating.Sharing).
    sharing: Any = None


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
    members: List[str] = field(default_factory=list)
    checks: Optional[Dict[str, Any]] = None  # the quarantine's verdict when there was one
    acceptance: Dict[str, str] = field(default_factory=dict)  # member -> accepted, or why not
    converted: Optional[Dict[str, Any]] = None  # what the transform step did (OVA, conversion)
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
            "kept_file": self.flow.kept_file, "converted": self.converted,
            "members": self.members, "acceptance": self.acceptance, "checks": self.checks,
            "method": self.method,
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
    if not options.dry_run and target is None:
        raise UsageError("no Glance to import into")
    check_formats(options.conversion)
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
        unpacked_later=None if options.force else probe.is_archive,  # -f may upload a tar as it is
        server_checks=() if options.dry_run or options.force else computes))
    try:
        disk_format = _disk_format(flow, spec, options)
        upload = _transform(flow, disk_format, spec, options, computes)
        try:
            if options.dry_run:
                upload.reader.drain()
                flow.join()
                return _result(name, spec, upload, options, flow.result, dry_run=True)
            assert target is not None
            return _publish(target, flow, upload, spec, name, options, replace, extra_properties or {})
        finally:
            upload.close()
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
    found = probe.inspect(head, source=spec.source)
    log.debug("qemu-img detected %s", found.format)
    # A raw image's virtual size is its length (known in advance when not compressed); a disk
    # converted or taken from an OVA is measured again on the whole disk.
    raw_size = flow.stream.size if found.format == "raw" and flow.result.compression is None else None
    check_virtual_size(found.virtual_size or raw_size, options.conversion, spec.source)
    return probe.reconcile(found.format, options.disk_format, spec.disk_format, options.force)


def _transform(flow: DataFlow, disk_format: str, spec: ImageSpec, options: ImportOptions,
               computes: Sequence[str]) -> Prepared:
    """The stream to upload: ``flow`` itself, or the disk taken out of an OVA and/or converted to
    the site's format (transform.prepare), with the properties that say so."""
    conversion = dataclasses.replace(options.conversion, tmp_dir=options.tmp_dir, keep=options.keep_temps)
    uploaded = FlowOptions(upload_algorithms=computes, server_checks=(), force=options.force)
    return prepare(flow, disk_format, spec.source, spec.expected, conversion, uploaded)


def _result(name: str, spec: ImageSpec, upload: Prepared, options: ImportOptions, flow: FlowResult,
            dry_run: bool) -> ImportResult:
    sent = upload.reader.result
    return ImportResult(name=name, source=spec.source, disk_format=upload.disk_format,
                        container_format=options.container_format, size=sent.size,
                        digests=sent.digests, flow=flow, dry_run=dry_run, converted=upload.describe())


def image_properties(spec: ImageSpec, options: ImportOptions, flow: FlowResult,
                     extra: Mapping[str, str], derived: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The properties a released image carries: its source, what the transform step derived (OVF
    hints, conversion), what was verified, the record's and the user's (later ones win); empty
    values left out. The target fits them to its limits."""
    props: Dict[str, str] = {names.PROP_SOURCE: spec.source, names.PROP_GLANCING_VERSION: __version__,
                             names.PROP_DIGEST_SCOPE: spec.expected.scope.value, **(derived or {})}
    verified = flow.scope_digests(spec.expected.scope)
    for alg in flow.verified:
        if alg in verified:
            props[names.PROP_DIGEST_PREFIX + alg] = verified[alg]
    props.update(spec.properties)
    props.update(extra)
    props.update(options.properties)
    return {k: str(v) for k, v in props.items() if v is not None and str(v) != ""}


def _publish(target: Target, flow: DataFlow, upload: Prepared, spec: ImageSpec, name: str,
             options: ImportOptions, replace: Optional[Sequence[Mapping[str, Any]]],
             extra: Mapping[str, str]) -> ImportResult:
    if options.backup_dir:
        _backup.prepare_dir(options.backup_dir)  # a bad -b fails now, before anything changes
    if options.quarantine is not None and not hasattr(target, "hold"):
        raise UsageError("this target cannot hold images in quarantine")
    old = list(replace) if replace is not None else target.current(name)
    options = sharing.resolved(target, {**spec.properties, **extra}, options)  # unknown projects fail now
    request = StageRequest(name, upload.disk_format, options.container_format, PendingMark.here(options.pending_owner))
    # Dead runs' leftovers are looked for while this upload runs: no time added to the import.
    sweeper = threading.Thread(target=clean_leftovers, name="glancing-leftovers", daemon=True,
                               args=(target, LeftoverPolicy(options.pending_owner, options.stale_upload_after)))
    if options.clean_leftovers:
        sweeper.start()
    try:
        staged = staging.stage(target, request, upload.reader, options.tmp_dir, upload.transformed)
        try:
            check_stored_copy(target, target.stored(staged), upload.reader.result, spec)
            props = image_properties(spec, options, flow.result, extra, derived=upload.properties)
            local = upload.path if upload.transformed else local_copy(spec, flow.result)
            verdict = gate.quarantine(target, Held(staged.id, name, upload.disk_format, props, local),
                                      options.quarantine)
            visibility = options.visibility or (old[0].get("visibility") if old else None) or "private"
            members = sharing.members(target, old, options.share, visibility)
            target.release(staged, Release(name, visibility, props, members, options.protected))
        except QuarantineRejected:
            raise  # held hidden in quarantine for a person to look at: not discarded
        except BaseException:
            target.discard(staged.id)
            raise
        result = _result(name, spec, upload, options, flow.result, dry_run=False)
        result.image_id, result.visibility = staged.id, visibility
        result.members, result.checks = list(members), verdict.to_json() if verdict else None
        if members and options.sharing is not None:
            result.acceptance = options.sharing.accept(target, staged.id, members)
        log.info("published %s as %s (%s, %d bytes)", name, staged.id, upload.disk_format, result.size)
        retire_all(target, old, staged.id, options, result)
    finally:
        if sweeper.is_alive():
            sweeper.join()
    return result


# Public for the other ways of staging an image (webdownload, fanout): the same rules, not copies.
refuse_unverified = _refuse_unverified
judge_names = _judge_names
detect_format = _disk_format

__all__ = ["ImportOptions", "ImportResult", "check_stored_copy", "clean_leftovers", "default_name",
           "detect_format", "image_properties", "import_image", "judge_names", "refuse_unverified", "retire_all"]
