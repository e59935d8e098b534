# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""GlanceStore: the only module that calls python-glanceclient. Every failure becomes a GlanceError."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
import logging
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from glancing.errors import GlanceError

log = logging.getLogger(__name__)

MANAGED_TAG = "glancing"
BACKUP_TAG = "glancing-backup"
PENDING_TAG = "glancing-pending"  # an upload not yet verified; a later run may delete it
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


class GlanceStore:
    """Images in one Glance, as plain dicts. ``client`` is a glanceclient v2 client."""

    def __init__(self, client: Any) -> None:
        self._images = client.images
        self._tags = client.image_tags
        self._http = client.http_client

    def project_id(self) -> Optional[str]:
        """The Keystone project this client works for; None without one (a bare token)."""
        getter = getattr(self._http, "get_project_id", None)
        with _calling("find the project of the session"):
            return getter() if getter else None

    def list(self, filters: Optional[Mapping[str, Any]] = None, hidden: Optional[bool] = False) -> List[Dict[str, Any]]:
        """Images matching server-side ``filters`` (paginated); hidden=None lists hidden and visible."""
        wanted = [False, True] if hidden is None else [hidden]
        found: List[Dict[str, Any]] = []
        for hide in wanted:
            query = dict(filters or {})
            if hide:
                query["os_hidden"] = True
            found.extend(self._pages(query))
        return found

    def _pages(self, query: Mapping[str, Any]) -> Iterator[Dict[str, Any]]:
        """GET /v2/images page by page (glanceclient's list() also fetches the schema first)."""
        params: List[Any] = [("limit", 200)]
        for key, value in query.items():
            for one in value if isinstance(value, (list, tuple)) else [value]:
                params.append((key, str(one).lower() if isinstance(one, bool) else one))
        url: Optional[str] = "/v2/images?" + urllib.parse.urlencode(params)
        while url:
            with _calling("list images"):
                _, body = self._http.get(url)
            yield from (dict(image) for image in body.get("images", []))
            url = body.get("next")

    def get(self, image_id: str) -> Dict[str, Any]:
        with _calling(f"show image {image_id}"):
            _, body = self._http.get(f"/v2/images/{image_id}")
        return dict(body)

    def create(self, **fields: Any) -> Dict[str, Any]:
        """POST the image record as given (glanceclient's create() first fetches the schema)."""
        with _calling("create an image"):
            _, body = self._http.post("/v2/images", data=fields)
        return dict(body)

    def upload(self, image_id: str, data: Any, size: Optional[int] = None) -> None:
        """Stream ``data`` (an object with read(n)) into the image; chunked transfer when size is None."""
        with _calling(f"upload image data to {image_id}"):
            self._images.upload(image_id, data, image_size=size)

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
        with _calling(f"update image {image_id}"):
            _, body = self._http.patch(f"/v2/images/{image_id}", data=json.dumps(ops),
                                       headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
        return dict(body)

    def add_tag(self, image_id: str, tag: str) -> None:
        with _calling(f"tag image {image_id}"):
            self._tags.update(image_id, tag)

    def remove_tag(self, image_id: str, tag: str) -> None:
        with _calling(f"untag image {image_id}"):
            self._tags.delete(image_id, tag)

    def delete(self, image_id: str) -> None:
        with _calling(f"delete image {image_id}"):
            self._images.delete(image_id)

    def deactivate(self, image_id: str) -> None:
        with _calling(f"deactivate image {image_id}"):
            self._images.deactivate(image_id)

    def reactivate(self, image_id: str) -> None:
        with _calling(f"reactivate image {image_id}"):
            self._images.reactivate(image_id)

    def download(self, image_id: str) -> Iterator[bytes]:
        with _calling(f"download image {image_id}"):
            body = self._images.data(image_id)
        if body is None:
            raise GlanceError(f"image {image_id} has no data to download")
        with _calling(f"download image {image_id}"):
            yield from body

    def discard(self, image_id: str) -> None:
        """Delete an image we created and will not publish; a failure is logged, not raised."""
        try:
            self.delete(image_id)
        except GlanceError as e:
            log.error("could not remove the unfinished upload %s: %s (glance_manager removes it later)", image_id, e)
