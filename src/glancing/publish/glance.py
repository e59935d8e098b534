# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""GlanceStore: the only module that calls python-glanceclient. Every failure becomes a GlanceError."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from glancing.errors import GlanceError

log = logging.getLogger(__name__)

MANAGED_TAG = "glancing"
BACKUP_TAG = "glancing-backup"
PENDING_TAG = "glancing-pending"  # an upload not yet verified; a later run may delete it


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


def as_dict(image: Any) -> Dict[str, Any]:
    """A plain dict of a glanceclient image (a warlock model)."""
    return dict(image)


class GlanceStore:
    """Images in one Glance, as plain dicts. ``client`` is a glanceclient v2 client."""

    def __init__(self, client: Any) -> None:
        self._images = client.images
        self._tags = client.image_tags

    def list(self, filters: Optional[Mapping[str, Any]] = None, hidden: Optional[bool] = False) -> List[Dict[str, Any]]:
        """Images matching server-side ``filters`` (paginated); hidden=None lists hidden and visible."""
        wanted = [False, True] if hidden is None else [hidden]
        found: List[Dict[str, Any]] = []
        for hide in wanted:
            query = dict(filters or {})
            if hide:
                query["os_hidden"] = True
            with _calling("list images"):
                found.extend(as_dict(i) for i in self._images.list(filters=query, page_size=200))
        return found

    def get(self, image_id: str) -> Dict[str, Any]:
        with _calling(f"show image {image_id}"):
            return as_dict(self._images.get(image_id))

    def create(self, **fields: Any) -> Dict[str, Any]:
        with _calling("create an image"):
            return as_dict(self._images.create(**fields))

    def upload(self, image_id: str, data: Any, size: Optional[int] = None) -> None:
        """Stream ``data`` (an object with read(n)) into the image; chunked transfer when size is None."""
        with _calling(f"upload image data to {image_id}"):
            self._images.upload(image_id, data, image_size=size)

    def update(self, image_id: str, remove: Sequence[str] = (), **fields: Any) -> Dict[str, Any]:
        with _calling(f"update image {image_id}"):
            if remove and fields:
                # glanceclient diffs with jsonpatch, which turns "remove a, add b with a's value"
                # into a `move` op that Glance rejects (400): add first, remove in a second patch.
                self._images.update(image_id, **fields)
                fields = {}
            return as_dict(self._images.update(image_id, remove_props=list(remove) or None, **fields))

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
