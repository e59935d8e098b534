# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The run report: counts, exit status, JSON, human summary, and no credentials."""

from __future__ import annotations

import datetime as dt
import json

from glancing.errors import SourceError
from glancing.manager.images import Snapshot
from glancing.manager.plan import Candidate, plan_image
from glancing.errors import PARTIAL
from glancing.manager.report import (ImageOutcome, PruneOutcome, RunReport, Status,
                                     human_bytes, redact)
from manager_helpers import image, mpid, when

A, B, C = mpid("a"), mpid("b"), mpid("c")


def report_with(*outcomes, dry_run=False):
    report = RunReport(started=when(1), dry_run=dry_run)
    for o in outcomes:
        report.add(o)
    report.finish(when(1) + dt.timedelta(seconds=90))
    return report


def imported():
    decision = plan_image(Candidate(A, "Alpine", "3.19"), Snapshot([]))
    return ImageOutcome.from_decision(decision, "l.txt:1", image_id="new1", bytes_uploaded=3 * 1024**2)


def unchanged():
    decision = plan_image(Candidate(B, "Debian"), Snapshot([image("d1", "Debian", mpid=B)]))
    return ImageOutcome.from_decision(decision, "l.txt:2")


def failed():
    error = SourceError("every location failed: https://user:s3cret@mirror.example/x.img?token=abc")
    return ImageOutcome.from_error(C, error, "l.txt:3")


def test_counts_and_exit_status():
    ok = report_with(imported(), unchanged())
    assert ok.exit_code() == 0 and ok.succeeded and not ok.had_failures
    assert ok.counts()["imported"] == 1 and ok.counts()["unchanged"] == 1
    bad = report_with(imported(), failed())
    assert bad.exit_code() == PARTIAL and bad.had_failures
    assert bad.counts()["failed"] == 1 and bad.counts()["checked"] == 2


def test_refusal_fails_the_run_but_does_not_hold_back_pruning():
    decision = plan_image(Candidate(A, "Debian", "1"), Snapshot([image("d1", "Debian", mpid=B, version="2")]))
    report = report_with(ImageOutcome.from_decision(decision))
    assert report.outcomes[0].status is Status.REFUSED
    assert report.exit_code() == PARTIAL and not report.had_failures


def test_failed_prune_fails_the_run():
    report = report_with(unchanged())
    report.add_prune(PruneOutcome("old", "Debian", "deactivated", "in use"))
    assert report.exit_code() == 0
    report.add_prune(PruneOutcome("older", "Debian", "failed", "403 Forbidden"))
    assert report.exit_code() == PARTIAL
    assert "FAILED prune of older (Debian): 403 Forbidden" in report.summary()


def test_json_report():
    data = json.loads(report_with(imported(), failed()).to_json())
    assert data["ok"] is False and data["exit_code"] == PARTIAL and data["duration_seconds"] == 90.0
    assert data["started"] == "2024-01-01T00:00:00Z" and data["bytes_uploaded"] == 3 * 1024**2
    first, second = data["images"]
    assert (first["action"], first["status"], first["image_id"]) == ("import", "ok", "new1")
    assert (second["status"], second["error_code"], second["where"]) == ("failed", 3, "l.txt:3")


def test_summary_lists_failures_and_skipped_pruning():
    report = report_with(imported(), failed())
    report.pruning_skipped = "1 image failed; backups are pruned after a clean run"
    text = report.summary()
    assert text.splitlines()[0].startswith("2 checked, 1 imported, 0 restored, 0 adopted, 0 unchanged")
    assert "3.0 MiB uploaded in 90.0s" in text
    assert "pruning skipped: 1 image failed" in text
    assert f"FAILED {C} [l.txt:3]: every location failed" in text
    assert report_with(unchanged(), dry_run=True).summary().startswith("dry run, nothing changed; the plan: ")


def test_credentials_never_reach_the_report():
    report = report_with(failed())
    report.warn("retrying ftp://anonymous:me@example.org/pub and ?password=hunter2&x=1")
    dumped = report.to_json() + report.summary()
    for secret in ("s3cret", "token=abc", "hunter2", "anonymous:me"):
        assert secret not in dumped
    assert "https://***@mirror.example/x.img?token=***" in dumped


def test_redact_leaves_plain_text_alone():
    assert redact("image user@example.org endorsed") == "image user@example.org endorsed"


def test_unexpected_error_is_named():
    outcome = ImageOutcome.from_error(A, ValueError("boom"))
    assert outcome.message == "ValueError: boom" and outcome.error_code == 70


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 1536, 5 * 1024**3)] == ["0 B", "1.5 KiB", "5.0 GiB"]


def test_aborted_run_keeps_the_error_code():
    from glancing.errors import GlanceError
    report = report_with()
    report.abort(GlanceError("cannot reach Glance at https://admin:pw@cloud/"))
    assert report.exit_code() == 4 and not report.succeeded
    assert "run aborted: cannot reach Glance" in report.summary() and "pw@" not in report.to_json()
