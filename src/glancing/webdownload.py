# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``--method web-download``: the target fetches the URL itself, so the image never crosses this host.

It applies only when what the target stores can be judged without our own read of the bytes:

* the source's first location is an http(s) URL whose bytes are the image as stored (no
  compression: told from the head, not the name; nothing to convert);
* an expected md5 or sha512 of exactly those bytes is known, and every expected digest is one
  the target computes itself (the verdict is its checksum / os_hash_value), no marketplace
  identifier (it needs a SHA-1), no -f, -D or -k.

This host reads only the head of the image (a bounded HTTP Range request): the hostile-disk
guard and the format probe run on it as for an upload. The staged image stays hidden until the
target's size and digests match the expected ones; then the usual release and retirement.
``--method auto`` takes this path when it applies and the upload path otherwise; ``web-download``
refuses with the reason.
"""

from __future__ import annotations

import logging
import re
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import requests

from glancing.errors import DigestMismatch, FormatMismatch, GlanceError, SizeMismatch, SourceError, UsageError
from glancing import sharing
from glancing.dataflow import FlowResult
from glancing.fetch import HttpSettings, new_session
from glancing.model import ImageSpec
from glancing.targets.base import LeftoverPolicy, Payload, PayloadKind, PendingMark, Release, StageRequest, Target
from glancing.transform import decompress, probe
from glancing.transform.convert import ConvertOptions, check_virtual_size, target_format

log = logging.getLogger(__name__)

METHODS = ("upload", "web-download", "auto")
# What a target's own digests can vouch for (Glance: checksum and os_hash_value).
JUDGED_BY_TARGET = ("md5", "sha512")


def static_reason(spec: ImageSpec, options: Any, target: Optional[Target]) -> Optional[str]:
    """Why web-download cannot be used, known before any byte is read; None when it can."""
    url = spec.locations[0].url if spec.locations else ""
    if not re.match(r"(?i)https?://", url):
        return "the source is not an http(s) URL the target could fetch"
    if target is not None and PayloadKind.URL not in target.accepts:
        return "the target cannot fetch a URL itself"
    for flag, why in ((options.force, "-f"), (not options.check_digests, "-D"), (options.keep_temps, "-k")):
        if flag:
            return f"{why} needs the bytes to pass through this host"
    if getattr(options, "quarantine", None) is not None:
        return "the quarantine holds an uploaded image for its checks (not a web-download yet)"
    if spec.compression:
        return f"the source is declared {spec.compression}-compressed: the target would store the compressed bytes"
    if spec.expected.identifier:
        return "the marketplace identifier is the SHA-1 of the image, which the target does not compute"
    computes = tuple(target.computes) if target is not None else JUDGED_BY_TARGET
    judged = [a for a in spec.expected.digests if a in JUDGED_BY_TARGET and a in computes]
    if not judged:
        return "no expected md5 or sha512 of the bytes is known: the target's digests could not be judged"
    others = sorted(set(spec.expected.digests) - set(judged))
    if others:
        return f"the target does not compute {', '.join(others)}, so the expected {others[0]} could not be checked"
    return None


def read_head(url: str, http: HttpSettings, session: Optional[requests.Session] = None) -> Tuple[bytes, Optional[int]]:
    """The first ``probe.PROBE_BYTES`` of ``url`` (one Range request) and the whole size when the
    server tells it. Raises SourceError."""
    session = session or new_session(http)
    wanted = probe.PROBE_BYTES
    try:
        with session.get(url, headers={"Range": f"bytes=0-{wanted - 1}"}, stream=True,
                         **http.request_kwargs()) as answer:
            if answer.status_code >= 400:
                raise SourceError(f"{url}: HTTP {answer.status_code} {answer.reason}")
            head = bytearray()
            for chunk in answer.iter_content(1 << 20):
                head += chunk
                if len(head) >= wanted:
                    break
            return bytes(head[:wanted]), _total(answer)
    except requests.RequestException as e:
        raise SourceError(f"{url}: cannot read the head of the image: {type(e).__name__}") from e


def _total(answer: requests.Response) -> Optional[int]:
    span = answer.headers.get("Content-Range", "")
    if answer.status_code == 206 and "/" in span and span.rsplit("/", 1)[1].isdigit():
        return int(span.rsplit("/", 1)[1])
    length = answer.headers.get("Content-Length", "")
    return int(length) if answer.status_code == 200 and length.isdigit() else None


def head_reason(head: bytes, conversion: Optional[ConvertOptions] = None) -> Optional[str]:
    """Why the bytes the head begins cannot be stored as they are, None when they can."""
    kind = decompress.sniff(head)
    if kind:
        return f"the source is {decompress.NAMES.get(kind, kind)}-compressed: the target would store the compressed bytes"
    if conversion is not None and head:
        found = probe.detect(head, source="the head")
        if found == "ova":
            return "the source is an OVA: its disk is taken out of it here"
        to = target_format(found, conversion)
        if to is not None:
            return f"the image is {found}, which this site converts to {to}: conversion needs the bytes here"
    return None


def judge(copy: Any, spec: ImageSpec, url: str) -> FlowResult:
    """The target's size and digests against the expected ones: the verdict, as a FlowResult."""
    what = f"{url} as downloaded by Glance"
    if copy.status != "active":
        raise GlanceError(f"image {copy.id} is {copy.status!r} after the web-download, not active")
    expected = spec.expected
    flow = FlowResult(given_size=copy.size or 0, size=copy.size or 0, given_digests=dict(copy.digests),
                      digests=dict(copy.digests))
    if expected.size is not None:
        if copy.size != expected.size:
            raise SizeMismatch(expected.size, copy.size or 0, what)
        flow.verified.append("size")
    missing = [a for a in expected.digests if a not in copy.digests]
    if missing:
        raise GlanceError(f"Glance did not compute {', '.join(missing)} of image {copy.id} (its os_hash_algo is "
                          "another): the web-download cannot be judged; use --method upload")
    if any(copy.digests[a] != v for a, v in expected.digests.items()):
        raise DigestMismatch(dict(expected.digests), dict(copy.digests), what)
    flow.verified.extend(sorted(expected.digests))
    return flow


def reason(spec: ImageSpec, options: Any, target: Optional[Target],
           session: Optional[requests.Session] = None) -> Tuple[Optional[str], bytes, Optional[int]]:
    """(why web-download does not apply or None, the head read to tell, the size the server
    announced). The head is read only when nothing known beforehand rules web-download out."""
    why = static_reason(spec, options, target)
    if why is not None:
        return why, b"", None
    head, total = read_head(spec.locations[0].url, options.http, session)
    return head_reason(head, options.conversion), head, total


def try_import(spec: ImageSpec, options: Any, target: Optional[Target], name: str,
               replace: Optional[Sequence[Mapping[str, Any]]], extra: Mapping[str, str],
               session: Optional[requests.Session] = None,
               known: Optional[Tuple[bytes, Optional[int]]] = None) -> Any:
    """Import by web-download when ``options.method`` asks for it and it applies; None to use the
    upload path (``auto`` when it does not apply, and every dry run once the method is judged:
    a dry run verifies the bytes itself). ``known``: the head and announced size already read (one
    read for several clouds). Raises UsageError when ``web-download`` was asked for and cannot be used."""
    if options.method not in METHODS:
        raise UsageError(f"--method {options.method!r}: expected one of {', '.join(METHODS)}")
    url = spec.locations[0].url if spec.locations else ""
    if known is not None:
        head, total = known
        why = static_reason(spec, options, target) or head_reason(head, options.conversion)
    else:
        why, head, total = reason(spec, options, target, session)
    if why is not None:
        if options.method == "web-download":
            raise UsageError(f"--method web-download cannot import {spec.source}: {why}")
        log.info("uploading through this host: web-download does not apply (%s)", why)
        return None
    if options.dry_run:
        log.info("web-download applies; the dry run checks the bytes through this host")
        return None
    if not head:
        raise FormatMismatch(f"{spec.source} is empty")
    if total is not None and spec.expected.size is not None and total != spec.expected.size:
        raise SizeMismatch(spec.expected.size, total, f"{url} (announced by the server)")
    found = probe.inspect(head, source=spec.source)
    check_virtual_size(found.virtual_size or total, options.conversion, spec.source)
    disk_format = probe.reconcile(found.format, options.disk_format, spec.disk_format, options.force)
    assert target is not None
    return _publish(spec, options, target, name, disk_format, url, replace, extra)


def _publish(spec: ImageSpec, options: Any, target: Target, name: str, disk_format: str, url: str,
             replace: Optional[Sequence[Mapping[str, Any]]], extra: Mapping[str, str]) -> Any:
    from glancing import pipeline  # the release and retirement rules are the pipeline's own
    from glancing.retire import backup

    if options.backup_dir:
        backup.prepare_dir(options.backup_dir)
    old = list(replace) if replace is not None else target.current(name)
    options = sharing.resolved(target, {**spec.properties, **extra}, options)
    request = StageRequest(name, disk_format, options.container_format, PendingMark.here(options.pending_owner))
    staged = target.stage(request, Payload(url=url, size=spec.expected.size))
    try:
        flow = judge(target.stored(staged), spec, url)
        visibility = options.visibility or (old[0].get("visibility") if old else None) or "private"
        members = sharing.members(target, old, options.share, visibility)
        target.release(staged, Release(name, visibility, pipeline.image_properties(spec, options, flow, extra),
                                       members, options.protected))
    except BaseException:
        target.discard(staged.id)
        raise
    result = pipeline.ImportResult(name=name, source=spec.source, disk_format=disk_format,
                                   container_format=options.container_format, size=flow.size,
                                   digests=flow.digests, flow=flow, dry_run=False, method="web-download")
    result.image_id, result.visibility, result.members = staged.id, visibility, list(members)
    if members and options.sharing is not None:
        result.acceptance = options.sharing.accept(target, staged.id, members)
    log.info("published %s as %s (%s, %d bytes, fetched by Glance)", name, staged.id, disk_format, result.size)
    pipeline.retire_all(target, old, staged.id, options, result)
    if options.clean_leftovers:
        pipeline.clean_leftovers(target, LeftoverPolicy(options.pending_owner, options.stale_upload_after))
    return result


__all__: List[str] = ["METHODS", "head_reason", "judge", "read_head", "reason", "static_reason", "try_import"]
