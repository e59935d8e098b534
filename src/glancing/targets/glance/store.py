# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""GlanceStore: the only module that calls python-glanceclient. Every failure becomes a GlanceError.

Which layer retries what (attempts never multiply):

- every idempotent request here (list, get, create, update, tag, delete, deactivate) is retried
  by the store's one ``RetryPolicy`` on transient answers: HTTP 500/502/503/504 or a lost
  connection (a database deadlock under parallel writes, a restarting API, a keep-alive
  connection the server closed);
- an upload is never retried here (its stream is consumed): it fails as ``UploadInterrupted``,
  and only the manager's whole-image policy (``manager.run``) may send the image again;
- deleting a discarded upload (``GlanceTarget.discard``) has its own deadline-bound policy that
  also waits out 409 (Glance still finishing the aborted upload).
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar

from glancing.errors import GlanceError
from glancing.retry import NO_RETRY, RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
# Attributes every image has: a JSON patch replaces them (custom properties are added).
BASE_ATTRIBUTES = frozenset({"name", "visibility", "os_hidden", "protected", "min_disk", "min_ram",
                             "disk_format", "container_format", "owner"})


@contextlib.contextmanager
def _calling(what: str) -> Iterator[None]:
    """Translate glanceclient and keystoneauth exceptions into one-line GlanceErrors."""
    import glanceclient.exc
    import keystoneauth1.exceptions as ksa

    try:
        yield
    except glanceclient.exc.HTTPException as e:
        detail = (getattr(e, "details", None) or str(e)).strip().splitlines()[0]
        raise GlanceError(f"Glance refused to {what}: HTTP {e.code}: {detail}") from e
    except glanceclient.exc.BaseException as e:  # CommunicationError, SSL errors, ...
        raise GlanceError(f"failed to {what}: {_short(e)}") from e
    except ksa.http.HttpError as e:
        raise GlanceError(f"Glance refused to {what}: HTTP {e.http_status}: {e.message}") from e
    except ksa.connection.ConnectFailure as e:
        raise GlanceError(f"cannot reach Glance or Keystone to {what}: {_short(e)}") from e
    except ksa.ClientException as e:
        raise GlanceError(f"failed to {what}: {_short(e)}") from e


def _short(error: BaseException) -> str:
    """The last clause of a nested requests/keystoneauth message (the part that says why)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) < 200 else text[:200] + "..."


def status_of(error: BaseException) -> Optional[int]:
    """The HTTP status behind a GlanceError (or a client exception), None without one."""
    cause = error.__cause__ if isinstance(error, GlanceError) else error
    code = getattr(cause, "code", None) or getattr(cause, "http_status", None)
    return code if isinstance(code, int) else None


def is_transient(error: BaseException) -> bool:
    """True when the Glance request behind ``error`` may succeed if sent again. Raises nothing."""
    import glanceclient.exc
    import keystoneauth1.exceptions as ksa

    cause = error.__cause__ if isinstance(error, GlanceError) else None
    if cause is None:
        return False
    status = status_of(error)
    if status is not None:
        return status in TRANSIENT_STATUS
    return isinstance(cause, (ksa.ConnectFailure, ksa.ConnectionError, glanceclient.exc.CommunicationError))


def is_not_found(error: BaseException) -> bool:
    return isinstance(error, GlanceError) and status_of(error) == 404


class GlanceStore:
    """Images in one Glance, as plain dicts. ``client`` is a glanceclient v2 client."""

    def __init__(self, client: Any, retry: RetryPolicy = NO_RETRY) -> None:
        self._images = client.images
        self._http = client.http_client
        self.retry = retry

    def _call(self, what: str, call: Callable[[], T], gone_is_done: bool = False,
              applied: Optional[Callable[[], Optional[T]]] = None) -> Optional[T]:
        """``call()`` under the store's retry policy. An error on a later attempt may mean an
        earlier one was applied although its answer was lost: with ``gone_is_done`` a 404 is
        success (a delete); ``applied()`` returns the result when a 409 says so."""
        attempts = [0]

        def once() -> Optional[T]:
            attempts[0] += 1
            try:
                with _calling(what):
                    return call()
            except GlanceError as e:
                if attempts[0] > 1 and gone_is_done and is_not_found(e):
                    return None
                if attempts[0] > 1 and applied is not None and status_of(e) == 409:
                    done = applied()
                    if done is not None:
                        return done
                raise
        return self.retry.call(once, is_transient, what)

    @property
    def session(self) -> Any:
        """The keystoneauth1 session behind the client (None for a bare endpoint and token)."""
        return getattr(self._http, "session", None)

    def project_id(self) -> Optional[str]:
        """The Keystone project this client works for; None without one (a bare token)."""
        getter = getattr(self._http, "get_project_id", None)
        return self._call("find the project of the session", getter) if getter else None

    def list(self, filters: Optional[Mapping[str, Any]] = None, hidden: Optional[bool] = False) -> List[Dict[str, Any]]:
        """Images matching server-side ``filters`` (paginated); hidden=None lists hidden and visible."""
        wanted = [False, True] if hidden is None else [hidden]
        found: List[Dict[str, Any]] = []
        for hide in wanted:
            query = dict(filters or {})
            if hide:
                query["os_hidden"] = True
            found.extend(self._call("list images", lambda q=query: list(self._pages(q))) or [])
        return found

    def _pages(self, query: Mapping[str, Any]) -> Iterator[Dict[str, Any]]:
        """GET /v2/images page by page (glanceclient's list() also fetches the schema first)."""
        params: List[Any] = [("limit", 200)]
        for key, value in query.items():
            for one in value if isinstance(value, (list, tuple)) else [value]:
                params.append((key, str(one).lower() if isinstance(one, bool) else one))
        url: Optional[str] = "/v2/images?" + urllib.parse.urlencode(params)
        while url:
            _, body = self._http.get(url)
            yield from (dict(image) for image in body.get("images", []))
            url = body.get("next")

    def get(self, image_id: str) -> Dict[str, Any]:
        body = self._call(f"show image {image_id}", lambda: self._http.get(f"/v2/images/{image_id}")[1])
        return dict(body or {})

    def create(self, **fields: Any) -> Dict[str, Any]:
        """POST the image record as given (glanceclient's create() first fetches the schema).

        Retried: a create that succeeded but lost its answer leaves a hidden pending upload,
        marked with this run's pid, which a later run removes."""
        body = self._call("create an image", lambda: self._http.post("/v2/images", data=fields)[1])
        return dict(body or {})

    def upload(self, image_id: str, data: Any, size: Optional[int] = None, store: Optional[str] = None) -> None:
        """Stream ``data`` (an object with read(n)) into the image; chunked transfer when size is None.
        ``store``: the multi-store backend to write to (None: Glance's default). Never retried:
        the stream is consumed."""
        with _calling(f"upload image data to {image_id}"):
            self._images.upload(image_id, data, image_size=size, **({"backend": store} if store else {}))

    def start_import(self, image_id: str, method: str, uri: Optional[str] = None,
                     stores: Sequence[str] = ()) -> None:
        """Ask Glance to move the bytes itself (interoperable import: web-download, copy-image).
        Not retried: a second request for a running import is refused (409), and the caller's
        wait reports what Glance did."""
        body: Dict[str, Any] = {"method": {"name": method, **({"uri": uri} if uri else {})}}
        if stores:
            body.update(stores=list(stores), all_stores_must_succeed=True)
        with _calling(f"start the {method} import of image {image_id}"):
            self._http.post(f"/v2/images/{image_id}/import", data=body)

    def tasks(self, image_id: str) -> List[Dict[str, Any]]:
        """The import tasks Glance ran for the image (newest first as Glance lists them)."""
        body = self._call(f"list the tasks of image {image_id}",
                          lambda: self._http.get(f"/v2/images/{image_id}/tasks")[1])
        return [dict(t) for t in (body or {}).get("tasks", [])]

    def stores(self) -> List[Dict[str, Any]]:
        """The multi-store backends (GET /v2/info/stores); [] when Glance has a single store."""
        try:
            body = self._call("list the Glance stores", lambda: self._http.get("/v2/info/stores")[1])
        except GlanceError as e:
            if status_of(e) in (404, 410):  # multi-store not enabled
                return []
            raise
        return [dict(s) for s in (body or {}).get("stores", [])]

    def update(self, image_id: str, remove: Sequence[str] = (), tags: Optional[Sequence[str]] = None,
               **fields: Any) -> Dict[str, Any]:
        """Set ``fields``, remove properties ``remove``, replace the tags with ``tags``: ONE request.

        The JSON patch is written here rather than diffed by glanceclient, which costs a GET
        before and after each update, and turns "remove a, add b with a's value" into a `move`
        op that Glance rejects.
        """
        ops: List[Dict[str, Any]] = [
            {"op": "replace" if key in BASE_ATTRIBUTES else "add", "path": f"/{key}", "value": value}
            for key, value in fields.items()]
        ops += [{"op": "remove", "path": f"/{key}"} for key in remove]
        if tags is not None:
            ops.append({"op": "replace", "path": "/tags", "value": list(dict.fromkeys(tags))})
        def applied() -> Optional[Dict[str, Any]]:
            # Removing a property twice is a 409: was the whole patch in fact applied?
            now = self.get(image_id)
            done = all(k not in now for k in remove) and all(now.get(k) == v for k, v in fields.items())
            return now if done and (tags is None or list(now.get("tags") or ()) == list(dict.fromkeys(tags))) else None

        body = self._call(f"update image {image_id}", lambda: self._http.patch(
            f"/v2/images/{image_id}", data=json.dumps(ops),
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})[1], applied=applied)
        return dict(body or {})

    def delete(self, image_id: str) -> None:
        try:
            self._call(f"delete image {image_id}", lambda: self._images.delete(image_id), gone_is_done=True)
        except GlanceError:
            # A delete can be applied although its answer was an error (then a retry gets 400
            # "deleted to deleted"): what counts is whether the image is gone.
            if not self.gone(image_id):
                raise

    def remove(self, image_id: str, policy: RetryPolicy) -> bool:
        """Delete under ``policy`` (not the store's), also waiting out 409: Glance answers 409 or
        500 while it is still finishing an aborted upload. True once the image is gone."""
        def once() -> None:
            try:
                with _calling(f"delete image {image_id}"):
                    self._images.delete(image_id)
            except GlanceError:
                if not self.gone(image_id):
                    raise

        try:
            policy.call(once, lambda e: is_transient(e) or status_of(e) == 409, f"remove upload {image_id}")
        except GlanceError:
            return self.gone(image_id)
        return True

    def gone(self, image_id: str) -> bool:
        """True when the image no longer exists (or is being deleted). Raises nothing."""
        try:
            with _calling(f"show image {image_id}"):
                _, body = self._http.get(f"/v2/images/{image_id}")
        except GlanceError as e:
            return is_not_found(e)
        return dict(body).get("status") in ("deleted", "pending_delete")

    def deactivate(self, image_id: str) -> None:
        self._call(f"deactivate image {image_id}", lambda: self._images.deactivate(image_id))

    def reactivate(self, image_id: str) -> None:
        self._call(f"reactivate image {image_id}", lambda: self._images.reactivate(image_id))

    def download(self, image_id: str) -> Iterator[bytes]:
        with _calling(f"download image {image_id}"):
            body = self._images.data(image_id)
        if body is None:
            raise GlanceError(f"image {image_id} has no data to download")
        with _calling(f"download image {image_id}"):
            yield from body


class MemberStore:
    """An image's members (the projects it is shared with), over a GlanceStore's client."""

    def __init__(self, store: GlanceStore) -> None:
        self.store = store

    def list(self, image_id: str) -> List[Dict[str, Any]]:
        body = self.store._call(f"list the members of {image_id}",
                                lambda: self.store._http.get(f"/v2/images/{image_id}/members")[1])
        return [dict(m) for m in (body or {}).get("members", [])]

    def add(self, image_id: str, project: str) -> None:
        """Add ``project``; one already a member is fine (409)."""
        try:
            with _calling(f"share {image_id} with {project}"):
                self.store._http.post(f"/v2/images/{image_id}/members", data={"member": project})
        except GlanceError as e:
            if status_of(e) != 409:
                raise

    def remove(self, image_id: str, project: str) -> None:
        self.store._call(f"unshare {image_id} from {project}", gone_is_done=True, call=lambda: self.store._http.delete(
            f"/v2/images/{image_id}/members/{project}"))

    def set_status(self, image_id: str, project: str, status: str) -> None:
        self.store._call(f"{status} membership of {project} in {image_id}", lambda: self.store._http.put(
            f"/v2/images/{image_id}/members/{project}", data={"status": status}))
