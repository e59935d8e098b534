# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""One read, many clouds: the verified stream teed to every target, each with its own hidden
upload, digest cross-check, release and retirement.

The source is read and verified once (one ``DataFlow``); a pump hands every chunk to one bounded
queue per cloud, and each cloud's upload reads its own queue in its own thread. The verdict is
raised inside every reader at the end of the stream, so a bad image aborts every upload. A cloud
that fails (refused credentials, a refused upload, a digest its Glance disagrees with) is dropped
from the tee and reported; the others go on. Memory stays flat: the slowest cloud sets the pace.

With ``--method web-download``/``auto`` and a source that allows it, each cloud fetches the URL
itself instead (nothing is teed: the bytes never cross this host).
"""

from __future__ import annotations

import collections
import logging
import queue
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import requests

from glancing import errors, pipeline
from glancing.dataflow import DataFlow, FlowOptions
from glancing.errors import GlanceError, GlancingError, UsageError
from glancing.fetch import new_session, open_first
from glancing.model import ImageSpec, Origin
from glancing.targets.base import LeftoverPolicy, Payload, PendingMark, Release, Staged, StageRequest, Target
from glancing.transform.convert import target_format

log = logging.getLogger(__name__)

PUMP_CHUNK = 1 << 20
_END = object()


@dataclass
class CloudOutcome:
    """What happened in one cloud: its result, or the error that stopped it there."""

    cloud: str
    result: Optional[pipeline.ImportResult] = None
    error: Optional[BaseException] = None

    def as_json(self) -> Dict[str, Any]:
        if self.error is not None:
            return {"cloud": self.cloud, "status": "error", "error": str(self.error),
                    "exit_code": errors.exit_code(self.error)}
        assert self.result is not None
        return {"cloud": self.cloud, **self.result.as_json()}


@dataclass
class FanoutResult:
    outcomes: List[CloudOutcome] = field(default_factory=list)

    @property
    def failed(self) -> List[str]:
        return [o.cloud for o in self.outcomes if o.error is not None]

    def exit_code(self) -> int:
        """0 when every cloud has the image; the error's own code when every cloud failed alike;
        8 (partial) when some have it, or the failures differ."""
        codes = {errors.exit_code(o.error) for o in self.outcomes if o.error is not None}
        if not codes:
            return errors.OK
        if len(codes) == 1 and len(self.failed) == len(self.outcomes):
            return codes.pop()
        return errors.PARTIAL

    def as_json(self) -> Dict[str, Any]:
        done = [o for o in self.outcomes if o.error is None]
        status = "imported" if not self.failed else "partial" if done else "error"
        return {"status": status, "failed": self.failed, "exit_code": self.exit_code(),
                "clouds": [o.as_json() for o in self.outcomes]}


class TeeReader:
    """One cloud's view of the stream: ``read(n)`` from its own bounded queue."""

    def __init__(self, depth: int = 8) -> None:
        self.queue: "queue.Queue[Any]" = queue.Queue(maxsize=depth)
        self.closed = threading.Event()  # set by the consumer's side when its upload ended
        self._buffer: Deque[bytes] = collections.deque()
        self._offset = 0  # already read from self._buffer[0]
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        while not self._buffer and not self._eof:
            item = self.queue.get()
            if item is _END:
                self._eof = True
            elif isinstance(item, BaseException):
                self._eof = True
                raise item
            else:
                self._buffer.append(item)
        if not self._buffer:
            return b""
        # A reader asking for less than a chunk (glanceclient reads 64 KiB) gets slices from an
        # offset: one copy per byte, not a copy of the rest of the chunk per call.
        chunk = self._buffer[0]
        end = min(len(chunk), self._offset + size)
        piece = chunk if self._offset == 0 and end == len(chunk) else chunk[self._offset:end]
        if end == len(chunk):
            self._buffer.popleft()
            self._offset = 0
        else:
            self._offset = end
        return piece


class Tee:
    """Pumps the flow into every live reader; a reader whose upload ended is skipped from then on."""

    def __init__(self, flow: DataFlow, count: int) -> None:
        self.flow = flow
        self.readers = [TeeReader() for _ in range(count)]

    def _put(self, reader: TeeReader, item: Any) -> None:
        while not reader.closed.is_set():
            try:
                reader.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def pump(self) -> bool:
        """Feed every reader to the end; True when the flow was read to its end (its verdict
        given), False when every upload ended before. Ctrl-C is handed to the uploads (each
        discards its copy), then raised here."""
        item: Any = _END
        whole = False
        try:
            while any(not r.closed.is_set() for r in self.readers):
                chunk = self.flow.read(PUMP_CHUNK)
                if not chunk:
                    whole = True
                    break
                for reader in self.readers:
                    self._put(reader, chunk)
        except Exception as e:  # noqa: BLE001 - the verdict, handed to every upload
            item, whole = e, True
        except BaseException:
            # Ctrl-C: every upload fails (and discards its copy) on an ordinary error.
            for reader in self.readers:
                self._put(reader, GlancingError("interrupted"))
            raise
        for reader in self.readers:
            self._put(reader, item)
        return whole


def _stage_one(target: Target, request: StageRequest, reader: TeeReader, flow: DataFlow) -> Staged:
    try:
        staged = target.stage(request, Payload(stream=reader))
    except GlanceError:
        if flow.error is not None:  # a failed verdict aborted the upload: report the verdict
            raise flow.error from None
        raise
    finally:
        reader.closed.set()
    if flow.error is not None:
        target.discard(staged.id)
        raise flow.error
    return staged


def _flow_options(options: Any, targets: Sequence[Target]) -> FlowOptions:
    computes = [set(t.computes) for t in targets]
    shared = set.intersection(*computes) if computes else set()
    return FlowOptions(
        check_digests=options.check_digests, force=options.force,
        keep_dir=(options.tmp_dir or tempfile.gettempdir()) if options.keep_temps else None,
        progress=options.progress, upload_algorithms=sorted(set().union(*computes)),
        server_checks=() if options.force else sorted(shared))


def import_everywhere(spec: ImageSpec, options: Any, targets: Mapping[str, Union[Target, BaseException]],
                      session: Optional[requests.Session] = None) -> FanoutResult:
    """Import ``spec`` into every target (a cloud name -> its target, or the error connecting to
    it raised). Never raises for one cloud's failure; raises what fails before any cloud is
    touched (usage, an unverifiable source, an unreadable or hostile head)."""
    outcomes = {name: CloudOutcome(name) for name in targets}
    live = {n: t for n, t in targets.items() if not isinstance(t, BaseException)}
    for name, target in targets.items():
        if isinstance(target, BaseException):
            outcomes[name].error = target
    if not live:
        return FanoutResult(list(outcomes.values()))
    pipeline.refuse_unverified(spec, options)
    name = options.name or pipeline.default_name(spec)
    for target in live.values():
        pipeline.judge_names(target.limits, name, options, spec, {})
    head = _web_download_head(spec, options, next(iter(live.values())), session)
    if head is not None:
        from glancing import webdownload

        for cloud, target in live.items():
            _each(outcomes[cloud], lambda t=target: webdownload.try_import(spec, options, t, name, None, {}, session,
                                                                           known=head))
        return FanoutResult(list(outcomes.values()))
    _stream_to_all(spec, options, name, live, outcomes, session)
    return FanoutResult(list(outcomes.values()))


def _web_download_head(spec: ImageSpec, options: Any, target: Target,
                       session: Optional[requests.Session]) -> Optional[Tuple[bytes, Optional[int]]]:
    """The head (and announced size) every cloud's web-download is judged on; None to upload.
    Decided once for every cloud: ``auto`` never falls back to one read per cloud, and the head
    is read once."""
    from glancing import webdownload

    if options.method == "upload":
        return None
    why, head, total = webdownload.reason(spec, options, target, session)
    if why is not None and options.method == "web-download":
        raise UsageError(f"--method web-download cannot import {spec.source}: {why}")
    if why is not None:
        log.info("uploading through this host: web-download does not apply (%s)", why)
        return None
    return head, total


def _each(outcome: CloudOutcome, work: Any) -> None:
    try:
        outcome.result = work()
    except Exception as e:  # noqa: BLE001 - one cloud's failure, bug or not, never stops the others
        # Told once, by the caller's summary; a bug gets its traceback here.
        if isinstance(e, GlancingError):
            log.debug("cloud %s: %s", outcome.cloud, e, exc_info=True)
        else:
            log.error("cloud %s: internal error", outcome.cloud, exc_info=True)
        outcome.error = e


def _stream_to_all(spec: ImageSpec, options: Any, name: str, live: Dict[str, Target],
                   outcomes: Dict[str, CloudOutcome], session: Optional[requests.Session]) -> None:
    old: Dict[str, List[Mapping[str, Any]]] = {}
    for cloud, target in list(live.items()):
        _each(outcomes[cloud], lambda t=target: old.__setitem__(cloud, t.current(name)))
        if outcomes[cloud].error is not None:
            del live[cloud]
    if not live:
        return
    stream = open_first(spec.locations, session or new_session(), options.http,
                        allow_local=spec.origin is not Origin.REMOTE)
    flow = DataFlow(stream, spec.expected, _flow_options(options, list(live.values())))
    try:
        disk_format = pipeline.detect_format(flow, spec, options)
        to = "a disk of its own" if disk_format == "ova" else target_format(disk_format, options.conversion)
        if to is not None:
            raise UsageError(f"{spec.source} is {disk_format}, which this site converts to {to}: several clouds "
                             "at once take images as they are; import it into one cloud at a time (--os-cloud NAME)")
        staged, whole = _upload_all(flow, live, outcomes, StageRequest(
            name, disk_format, options.container_format, PendingMark.here(options.pending_owner)))
        if whole:
            flow.join()
        for cloud, target in live.items():
            if cloud in staged:
                _each(outcomes[cloud], lambda t=target, s=staged[cloud], o=old[cloud]: _publish(
                    t, s, o, flow, spec, name, disk_format, options))
    finally:
        flow.close()
    flow.result.verified[:] = list(dict.fromkeys(flow.result.verified))


def _upload_all(flow: DataFlow, live: Dict[str, Target], outcomes: Dict[str, CloudOutcome],
                request: StageRequest) -> Tuple[Dict[str, Staged], bool]:
    """Every cloud's hidden upload, in parallel, from one tee of the flow."""
    tee = Tee(flow, len(live))
    staged: Dict[str, Staged] = {}
    workers = []
    for (cloud, target), reader in zip(live.items(), tee.readers):
        def upload(c: str = cloud, t: Target = target, r: TeeReader = reader) -> None:
            _each(outcomes[c], lambda: staged.__setitem__(c, _stage_one(t, request, r, flow)))
        workers.append(threading.Thread(target=upload, name=f"glancing-upload-{cloud}", daemon=True))
    for worker in workers:
        worker.start()
    try:
        whole = tee.pump()
    finally:
        for worker in workers:
            worker.join()
    return staged, whole


def _publish(target: Target, staged: Staged, old: Sequence[Mapping[str, Any]], flow: DataFlow, spec: ImageSpec,
             name: str, disk_format: str, options: Any) -> pipeline.ImportResult:
    """One cloud's cross-check, release and retirement (the pipeline's own rules)."""
    try:
        pipeline.check_stored_copy(target, target.stored(staged), flow.result, spec)
        visibility = options.visibility or (old[0].get("visibility") if old else None) or "private"
        target.release(staged, Release(name, visibility, pipeline.image_properties(spec, options, flow.result, {}),
                                       protected=options.protected))
    except BaseException:
        target.discard(staged.id)
        raise
    result = pipeline.ImportResult(name=name, source=spec.source, disk_format=disk_format,
                                   container_format=options.container_format, size=flow.result.size,
                                   digests=flow.result.digests, flow=flow.result, dry_run=False)
    result.image_id, result.visibility = staged.id, visibility
    log.info("published %s as %s", name, staged.id)
    pipeline.retire_all(target, old, staged.id, options, result)
    if options.clean_leftovers:
        pipeline.clean_leftovers(target, LeftoverPolicy(options.pending_owner, options.stale_upload_after))
    return result


__all__ = ["CloudOutcome", "FanoutResult", "Tee", "TeeReader", "import_everywhere"]
