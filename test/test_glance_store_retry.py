# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""GlanceStore's one retry layer: transient answers are retried, everything else passes through;
a discarded upload's delete waits out 5xx and 409 within a deadline. The client below is a small
stand-in raising glanceclient's own exceptions (pure logic; the real Glance cases are in
test_leftovers_glance.py); what is counted is the store's own behaviour."""

from __future__ import annotations

import datetime as dt
import os
import socket

import glanceclient.exc
import keystoneauth1.exceptions as ksa
import pytest

from glancing.errors import GlanceError
from glancing.retry import RetryPolicy
from glancing.targets import names
from glancing.targets.base import LeftoverPolicy, judge_leftover
from glancing.targets.glance import GlanceStore
from glancing.targets.glance.store import is_transient


class Flaky:
    """A glanceclient v2 client whose calls fail with the queued errors first, then succeed."""

    def __init__(self, *errors: BaseException, status: str = "active") -> None:
        self.errors = list(errors)
        self.sent = []
        self.status = status
        self.images = self.image_tags = self.http_client = self

    def _next(self, what, value=None):
        self.sent.append(what)
        if self.errors:
            raise self.errors.pop(0)
        return value

    def get(self, url):
        return self._next("get", (None, {"id": url.rsplit("/", 1)[-1], "status": self.status}))

    def delete(self, image_id, tag=None):
        return self._next("delete")

    def upload(self, image_id, data, image_size=None):
        return self._next("upload")


def store(client, retries=2):
    return GlanceStore(client, RetryPolicy(retries=retries, backoff=0.01, sleep=lambda s: None))


def test_transient_errors_are_retried_until_success():
    client = Flaky(glanceclient.exc.HTTPInternalServerError(), ksa.ConnectFailure("reset"))
    assert store(client).get("x")["id"] == "x" and client.sent == ["get"] * 3


def test_permanent_errors_and_exhausted_retries_raise():
    client = Flaky(glanceclient.exc.HTTPForbidden())
    with pytest.raises(GlanceError, match="HTTP 403"):
        store(client).get("x")
    assert client.sent == ["get"]
    client = Flaky(*[glanceclient.exc.HTTPServiceUnavailable()] * 3)
    with pytest.raises(GlanceError):
        store(client).get("x")
    assert client.sent == ["get"] * 3


def test_a_delete_whose_answer_was_lost_is_done_when_the_retry_finds_nothing():
    client = Flaky(glanceclient.exc.HTTPBadGateway(), glanceclient.exc.HTTPNotFound(),
                   glanceclient.exc.HTTPNotFound())
    store(client).delete("x")
    assert client.sent[:2] == ["delete", "delete"]


def test_uploads_are_never_retried():
    client = Flaky(glanceclient.exc.HTTPInternalServerError())
    with pytest.raises(GlanceError):
        store(client).upload("x", b"")
    assert client.sent == ["upload"]


def test_is_transient_needs_a_cause():
    def failure(cause):
        try:
            raise GlanceError("Glance refused") from cause
        except GlanceError as e:
            return e
    assert not is_transient(GlanceError("no cause"))
    assert is_transient(failure(glanceclient.exc.HTTPBadGateway()))
    assert not is_transient(failure(glanceclient.exc.HTTPConflict()))


def test_removing_an_upload_waits_out_500_and_409_within_the_deadline():
    client = Flaky(glanceclient.exc.HTTPInternalServerError(), glanceclient.exc.HTTPInternalServerError(),
                   glanceclient.exc.HTTPConflict(), glanceclient.exc.HTTPConflict(), status="saving")
    policy = RetryPolicy(retries=10, backoff=0.01, sleep=lambda s: None)
    assert store(client, retries=0).remove("x", policy) is True
    assert client.sent.count("delete") == 3  # each refusal was followed by "is it gone?"
    # A Glance that never lets go: the deadline (30 s on a clock that moves 10 s a call) ends it.
    clock = iter(range(0, 1000, 10))
    stubborn = Flaky(*[glanceclient.exc.HTTPInternalServerError()] * 100, status="saving")
    bounded = RetryPolicy(retries=50, backoff=1.0, jitter=False, deadline=30.0, sleep=lambda s: None,
                          clock=lambda: float(next(clock)))
    assert store(stubborn, retries=0).remove("x", bounded) is False
    assert 1 < stubborn.sent.count("delete") < 10


def test_judging_leftovers():
    now = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    policy = LeftoverPolicy("glancing", host="here", alive=lambda pid: pid == 42)

    def pending(owner="glancing", host="here", pid="7", started=now):
        return {names.PROP_PENDING_NAME: "n", names.PROP_PENDING_OWNER: owner, names.PROP_PENDING_HOST: host,
                names.PROP_PENDING_PID: pid, names.PROP_PENDING_STARTED: names.stamp(started)}
    assert judge_leftover(pending(), policy, now) == "remove"  # this host, pid 7 is dead
    assert judge_leftover(pending(pid="42"), policy, now) == "live"
    assert judge_leftover(pending(pid="42", started=now - dt.timedelta(days=9)), policy, now) == "live"
    assert judge_leftover(pending(host="there"), policy, now) == "live"
    assert judge_leftover(pending(host="there", started=now - dt.timedelta(days=2)), policy, now) == "remove"
    assert judge_leftover(pending(owner="glance_manager"), policy, now) == "other"
    assert judge_leftover(pending(owner="glance_manager", started=now - dt.timedelta(days=2)), policy,
                          now) == "stale-other"
    mine = LeftoverPolicy("glancing")
    assert judge_leftover(pending(host=socket.gethostname(), pid=str(os.getpid())), mine, now) == "live"


class Patching(Flaky):
    """The first PATCH is applied but answered 500 (a lost answer); the image is then as patched."""

    def __init__(self) -> None:
        super().__init__(glanceclient.exc.HTTPInternalServerError(), glanceclient.exc.HTTPConflict())
        self.image = {"id": "x", "name": "n", "tags": ["glancing"]}

    def patch(self, url, data=None, headers=None):
        return self._next("patch", (None, self.image))

    def get(self, url):
        self.sent.append("get")
        return None, dict(self.image)


def test_an_update_applied_despite_its_error_answer_is_done():
    client = Patching()
    assert store(client).update("x", remove=["gone"], tags=["glancing"], name="n")["name"] == "n"
    assert client.sent == ["patch", "patch", "get"]
    client = Patching()
    client.image = {"id": "x", "name": "other", "tags": []}
    with pytest.raises(GlanceError, match="409"):  # not as asked: the conflict stands
        store(client).update("x", remove=["gone"], name="n")
