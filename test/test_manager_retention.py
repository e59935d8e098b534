# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Backups: retired names, pruning beyond --keep (never after a failure), rollback choice."""

from __future__ import annotations

import pytest

from glancing.errors import UsageError
from glancing.manager.images import Snapshot
from glancing.manager.retention import plan_retention, plan_rollback
from glancing.retire.naming import backup_name
from manager_helpers import backup, image

T = "CentOS-7"


def test_backup_name():
    assert backup_name({"id": "abcdef123", "name": T, "version": "1.10", "created_at": "2024-01-03T00:00:00Z"}) \
        == "CentOS-7 (1.10)"
    assert backup_name({"id": "abcdef123", "name": T, "version": " ", "created_at": "2024-01-03T00:00:00Z"}) \
        == "CentOS-7 (2024-01-03)"
    assert backup_name({"id": "abcdef123", "name": T}) == "CentOS-7 (abcdef12)"


@pytest.mark.parametrize("keep,kept,deleted", [
    (0, [], ["b1", "b2", "b3"]),
    (1, ["b3"], ["b1", "b2"]),
    (2, ["b2", "b3"], ["b1"]),
    (5, ["b1", "b2", "b3"], []),
])
def test_oldest_beyond_keep_are_deleted(keep, kept, deleted):
    backups = [backup("b3", T, "3", day=9), backup("b1", T, "1", day=1), backup("b2", T, "2", day=5)]
    got_kept, got_deleted = plan_retention(backups, keep, run_had_failures=False)
    assert [b.id for b in got_kept] == kept
    assert [b.id for b in got_deleted] == deleted


def test_nothing_is_deleted_in_a_run_with_failures():
    backups = [backup("b1", T, "1", day=1), backup("b2", T, "2", day=5)]
    kept, deleted = plan_retention(backups, 0, run_had_failures=True)
    assert deleted == [] and [b.id for b in kept] == ["b1", "b2"]


def test_negative_keep_is_a_usage_error():
    with pytest.raises(UsageError, match="--keep"):
        plan_retention([], -1, False)


def snapshot(*extra):
    cur = image("cur", T, mpid="m3", version="3", created_at="2024-01-09T00:00:00Z")
    return Snapshot([cur, backup("b1", T, "1", day=1), backup("b2", T, "2", day=5), *extra])


def test_rollback_promotes_the_newest_backup_and_demotes_current():
    plan = plan_rollback(snapshot(), T)
    assert (plan.promote.id, plan.demote.id) == ("b2", "cur")


def test_rollback_skips_rolled_back_and_inactive_backups():
    rolled = backup("b4", T, "4", day=20, glancing_rolled_back="2024-01-21T00:00:00Z")
    dead = backup("b5", T, "5", day=21, status="deactivated")
    assert plan_rollback(snapshot(rolled, dead), T).promote.id == "b2"


def test_rollback_errors():
    with pytest.raises(UsageError, match="no managed appliance named 'nope'.*CentOS-7"):
        plan_rollback(snapshot(), "nope")
    only_current = Snapshot([image("cur", T, mpid="m3")])
    with pytest.raises(UsageError, match="no active backup"):
        plan_rollback(only_current, T)
