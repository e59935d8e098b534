# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""RetryingStore: transient Glance failures are retried, everything else passes through."""

from __future__ import annotations

import glanceclient.exc
import keystoneauth1.exceptions as ksa
import pytest

from glancing.errors import GlanceError
from glancing.manager.retry import RetryingStore, is_transient


def failure(cause: BaseException) -> GlanceError:
    try:
        raise GlanceError("Glance refused") from cause
    except GlanceError as e:
        return e


class Flaky:
    """Fails each call with the queued errors first, then succeeds."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def _next(self, value):
        self.calls += 1
        if self.errors:
            raise failure(self.errors.pop(0))
        return value

    def get(self, image_id):
        return self._next({"id": image_id})

    def delete(self, image_id):
        return self._next(None)

    def upload(self, image_id, data, size=None):
        return self._next(None)


def store(inner):
    return RetryingStore(inner, attempts=3, pause=0.01, sleep=lambda s: None)


def test_transient_errors_are_retried_until_success():
    inner = Flaky(glanceclient.exc.HTTPInternalServerError(), ksa.ConnectFailure("reset"))
    assert store(inner).get("x") == {"id": "x"} and inner.calls == 3


def test_permanent_errors_and_exhausted_retries_raise():
    inner = Flaky(glanceclient.exc.HTTPForbidden())
    with pytest.raises(GlanceError):
        store(inner).get("x")
    assert inner.calls == 1
    inner = Flaky(*[glanceclient.exc.HTTPServiceUnavailable()] * 3)
    with pytest.raises(GlanceError):
        store(inner).get("x")
    assert inner.calls == 3


def test_delete_whose_answer_was_lost_is_done_when_the_retry_finds_nothing():
    inner = Flaky(glanceclient.exc.HTTPBadGateway(), glanceclient.exc.HTTPNotFound())
    store(inner).delete("x")
    assert inner.calls == 2
    with pytest.raises(GlanceError):  # a 404 on the first attempt is a real answer
        store(Flaky(glanceclient.exc.HTTPNotFound())).delete("x")


def test_uploads_are_never_retried():
    inner = Flaky(glanceclient.exc.HTTPInternalServerError())
    with pytest.raises(GlanceError):
        store(inner).upload("x", b"")
    assert inner.calls == 1


def test_is_transient_needs_a_cause():
    assert not is_transient(GlanceError("no cause"))
    assert is_transient(failure(glanceclient.exc.HTTPBadGateway()))
    assert not is_transient(failure(glanceclient.exc.HTTPConflict()))


def test_delete_applied_despite_an_error_answer_counts_as_done():
    class Applied(Flaky):
        def get(self, image_id):
            return {"id": image_id, "status": "deleted"}
    inner = Applied(glanceclient.exc.HTTPInternalServerError(), glanceclient.exc.HTTPBadRequest())
    store(inner).delete("x")
    with pytest.raises(GlanceError):  # still there: the error stands
        store(Flaky(glanceclient.exc.HTTPForbidden())).delete("x")
