# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The optional image cache, laid out as vmcatcher's (vmcatcher.md section 4) so glancepush and
other handlers can read it.

``DIR/partial/<uuid>`` while downloading (kept between runs: the next run resumes it), verified
(size and every digest of the list entry) and moved to ``DIR/<uuid>``, then uploaded from there.
Expired files move to ``DIR/expired/<uuid>.<local %Y-%m-%d_%H-%M-%S>``; only the last
``keep_expired`` stay. Each directory has vmcatcher's ``cache.index``: JSON, sorted keys, indent
4, keyed by the file name.

Re-verifying a cached file costs a stat, not a read: its size is checked every run, its sha512
only when the size or mtime differ from what was recorded when it was verified, or with
``verify``. What was verified is kept in ``DIR/.glancing-verified`` (not in ``cache.index``, whose
keys are vmcatcher's).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

import requests

from glancing.errors import DigestMismatch, EnvironmentProblem, SizeMismatch, SourceError
from glancing.fetch import HttpSettings, new_session, open_location
from glancing.fetch.http import HttpStream
from glancing.model import ImageSpec, Location, Origin
from glancing.targets import names

log = logging.getLogger(__name__)

INDEX = "cache.index"
VERIFIED = ".glancing-verified"
STAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"  # local time, as vmcatcher names expired files
MAX_TRIES = 5  # downloads per list version, as vmcatcher


@dataclass(frozen=True)
class CacheSettings:
    """[cache] dir, keep_expired, verify."""

    dir: str
    keep_expired: int = 3
    verify: bool = False


def read_index(directory: Path) -> Dict[str, Any]:
    try:
        data = json.loads((directory / INDEX).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("%s is unreadable (%s): rewritten", directory / INDEX, e)
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically, in vmcatcher's layout: sorted keys, indent 4."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True, indent=4), encoding="utf-8")
    os.replace(tmp, path)


def index_entry(entry: Mapping[str, Any], list_identifier: str, vo: Optional[str], message: bytes,
                filename: str, tries: int = 1) -> Dict[str, Any]:
    """One ``cache.index`` entry, with exactly vmcatcher's keys (section 4)."""
    text = message.decode("utf-8", "replace")
    msg_hash = hashlib.sha512(message).hexdigest()
    record: Dict[str, Any] = {k: v for k, v in entry.items() if k.split(":", 1)[0] in ("dc", "hv", "sl")}
    record.update({f"hv:image.{k}": v for k, v in entry.items()})
    record.update({"uuid": entry.get("dc:identifier"), "sha512": entry.get("sl:checksum:sha512"),
                   "uri": entry.get("hv:uri"), "size": entry.get("hv:size"),
                   "hv:imagelist.dc:identifier": list_identifier, "message": text, "msgHash": msg_hash,
                   "filename": filename, "DownLoadTrys": {"count": tries, "msgHash": msg_hash}})
    if vo:
        record["hv:imagelist.ad:vo"] = vo
    return record


def _local_stamp() -> str:
    return _dt.datetime.now().strftime(STAMP_FORMAT)


class Cache:
    """One cache directory. ``now_stamp`` names expired files (local time; injected by tests)."""

    def __init__(self, settings: CacheSettings, http: HttpSettings = HttpSettings(),
                 session: Optional[requests.Session] = None, now_stamp: Callable[[], str] = _local_stamp) -> None:
        self.settings, self.http, self.now_stamp = settings, http, now_stamp
        self.root = Path(settings.dir)
        self.partial, self.expired = self.root / "partial", self.root / "expired"
        self._session = session
        self.checked: Dict[str, str] = {}  # uuid -> "ok" | "rehashed" | "removed: why", this run

    def prepare(self) -> None:
        """Create the three directories (vmcatcher made users do it). Raises EnvironmentProblem."""
        for directory in (self.root, self.partial, self.expired):
            try:
                directory.mkdir(mode=0o755, parents=True, exist_ok=True)
            except OSError as e:
                raise EnvironmentProblem(f"cannot create the cache directory {directory}: {e.strerror}") from e

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = new_session(self.http)
        return self._session

    def filename(self, uuid: str) -> str:
        return uuid

    def has(self, uuid: str) -> bool:
        return (self.root / uuid).is_file()

    def provide(self, uuid: str, spec: ImageSpec, record: Mapping[str, Any]) -> ImageSpec:
        """The spec read from the cached file: verified now, else downloaded (resumed), verified and
        moved in. ``record`` is its ``cache.index`` entry. Raises SourceError, VerificationError,
        EnvironmentProblem (no space)."""
        self.prepare()
        path = self.root / uuid
        expected = spec.expected
        if not (path.is_file() and self.check(uuid, expected.size, expected.digests.get("sha512"))):
            record = self._count_try(uuid, record)
            self._index(self.partial, uuid, record)  # written first, as vmcatcher does
            self._download(uuid, spec)
            os.replace(self.partial / uuid, path)
            self._remember(uuid, path, spec.expected.digests.get("sha512"))
            self._drop_index(self.partial, uuid)
        self._index(self.root, uuid, record)
        # Read from the cache, but the image's "source" stays where it came from, for auditors.
        return replace(spec, locations=(Location(str(path)),), origin=Origin.USER,
                       properties={**spec.properties, names.PROP_SOURCE: spec.source})

    def _count_try(self, uuid: str, record: Mapping[str, Any]) -> Dict[str, Any]:
        """vmcatcher's DownLoadTrys: at most MAX_TRIES downloads per list version (its msgHash),
        counted across runs in the partial directory's index. Raises SourceError past that."""
        tries = dict(record.get("DownLoadTrys") or {})
        before = (read_index(self.partial).get(uuid) or {}).get("DownLoadTrys") or {}
        if tries.get("msgHash") and before.get("msgHash") == tries.get("msgHash"):
            tries["count"] = int(before.get("count") or 0) + 1
        if int(tries.get("count") or 1) > MAX_TRIES:
            raise SourceError(f"image {uuid}: {MAX_TRIES} downloads of it failed for this list version; "
                              "the next list version is tried again")
        return {**record, "DownLoadTrys": tries} if tries else dict(record)

    def check(self, uuid: str, size: Optional[int], want: Optional[str]) -> bool:
        """True when the cached file ``uuid`` is there and has that size and sha512; a bad file is
        deleted (as vmcatcher does)."""
        path = self.root / uuid
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if size is not None and st.st_size != size:
            return self._reject(uuid, f"size {st.st_size}, expected {size}")
        seen = self._verified().get(uuid)
        if (not self.settings.verify and seen and seen.get("size") == st.st_size
                and seen.get("mtime_ns") == st.st_mtime_ns and seen.get("sha512") == want):
            self.checked[uuid] = "ok"
            return True
        digest = hashlib.sha512()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        if want and digest.hexdigest() != want:
            return self._reject(uuid, "sha512 differs from the list's")
        self._remember(uuid, path, want)
        self.checked[uuid] = "rehashed"
        return True

    def _reject(self, uuid: str, why: str) -> bool:
        log.warning("cached %s is bad (%s): deleted", uuid, why)
        (self.root / uuid).unlink(missing_ok=True)
        self._drop_index(self.root, uuid)
        self.checked[uuid] = f"removed: {why}"
        return False

    def _download(self, uuid: str, spec: ImageSpec) -> None:
        partial = self.partial / uuid
        have = partial.stat().st_size if partial.exists() else 0
        size = spec.expected.size
        if size is not None and have > size:
            partial.unlink()
            have = 0
        if size is not None:
            free = shutil.disk_usage(self.partial).free
            if free < size - have:
                raise EnvironmentProblem(f"cache {self.partial}: {free} bytes free, image {uuid} needs {size - have}")
        hasher = hashlib.sha512()
        if have:
            with open(partial, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    hasher.update(chunk)
        stream, have = self._open(spec, have, partial)
        try:
            with open(partial, "ab" if have else "wb") as out:
                for chunk in stream.chunks():
                    hasher.update(chunk)
                    out.write(chunk)
                    have += len(chunk)
                    if size is not None and have > size:
                        break
        finally:
            stream.close()
        self._judge(uuid, spec, partial, have, hasher.hexdigest())

    def _open(self, spec: ImageSpec, have: int, partial: Path) -> Any:
        url = spec.source
        if have and url.split(":", 1)[0].lower() in ("http", "https"):
            log.info("%s: resuming at byte %d", url, have)
            return HttpStream.open_at(url, have, self.session, self.http), have
        if have:
            partial.unlink()
        return open_location(spec.locations[0], self.session, self.http, allow_local=spec.origin is not Origin.REMOTE), 0

    def _judge(self, uuid: str, spec: ImageSpec, partial: Path, have: int, sha512: str) -> None:
        expected = spec.expected
        if expected.size is not None and have != expected.size:
            partial.unlink(missing_ok=True)
            raise SizeMismatch(expected.size, have, spec.source)
        want = expected.digests.get("sha512")
        if want and sha512 != want:
            partial.unlink(missing_ok=True)
            raise DigestMismatch({"sha512": want}, {"sha512": sha512}, spec.source)

    def expire(self, uuid: str) -> str:
        """Move the cached file to the expired directory; its new name. Keeps the last
        ``keep_expired`` there."""
        self.prepare()
        name = f"{uuid}.{self.now_stamp()}"
        os.replace(self.root / uuid, self.expired / name)
        record = read_index(self.root).get(uuid) or {"uuid": uuid}
        self._drop_index(self.root, uuid)
        self._index(self.expired, name, {**record, "filename": name})
        self._trim()
        return name

    def _trim(self) -> None:
        index = read_index(self.expired)
        files = sorted((p for p in self.expired.iterdir() if p.is_file() and p.name not in (INDEX,)
                        and not p.name.endswith(".tmp")), key=lambda p: (p.stat().st_mtime_ns, p.name))
        doomed = files[:max(len(files) - self.settings.keep_expired, 0)]
        for path in doomed:
            path.unlink(missing_ok=True)
            index.pop(path.name, None)
        if doomed:
            write_json(self.expired / INDEX, index)

    def _index(self, directory: Path, key: str, record: Mapping[str, Any]) -> None:
        index = read_index(directory)
        index[key] = {**record, "filename": key} if directory != self.expired else dict(record)
        write_json(directory / INDEX, index)

    def _drop_index(self, directory: Path, key: str) -> None:
        index = read_index(directory)
        if index.pop(key, None) is not None:
            write_json(directory / INDEX, index)

    def _verified(self) -> Dict[str, Any]:
        try:
            data = json.loads((self.root / VERIFIED).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _remember(self, uuid: str, path: Path, sha512: Optional[str]) -> None:
        st = path.stat()
        seen = self._verified()
        seen[uuid] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha512": sha512}
        write_json(self.root / VERIFIED, seen)


__all__ = ["Cache", "CacheSettings", "INDEX", "STAMP_FORMAT", "index_entry", "read_index", "write_json"]
