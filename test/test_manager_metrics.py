# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The Prometheus text-file metrics: content, atomic replacement, last success kept on failure."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat

import pytest

from glancing.errors import SourceError, UsageError
from glancing.manager.metrics import parse_last_success, render_metrics, RunMetrics, write_metrics
from glancing.manager.report import ImageOutcome, RunReport, Status
from manager_helpers import mpid, when

SAMPLE = re.compile(r"^[a-z_]+(\{\})? -?[0-9.e+]+$")


def run(ok: bool, day: int) -> RunReport:
    report = RunReport(started=when(day))
    report.add(ImageOutcome(mpid("a"), Status.OK, "import", bytes_uploaded=2048))
    if not ok:
        report.add(ImageOutcome.from_error(mpid("b"), SourceError("dead")))
    report.finish(when(day) + dt.timedelta(seconds=12.5))
    return report


def samples(text):
    return dict(line.split(" ") for line in text.splitlines() if not line.startswith("#"))


def test_rendered_text_is_valid_exposition_format():
    text = render_metrics(RunMetrics.from_report(run(True, 2)))
    assert text.endswith("\n")
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    values = samples(text)
    assert values["glance_manager_images_checked"] == "1"
    assert values["glance_manager_images_imported"] == "1"
    assert values["glance_manager_images_failed"] == "0"
    assert values["glance_manager_uploaded_bytes"] == "2048"
    assert values["glance_manager_run_duration_seconds"] == "12.5"
    assert values["glance_manager_last_run_success"] == "1"
    assert float(values["glance_manager_last_success_timestamp_seconds"]) == (
        when(2) + dt.timedelta(seconds=12.5)).timestamp()


def test_failed_run_keeps_the_previous_success_time(tmp_path):
    path = str(tmp_path / "glance_manager.prom")
    good = write_metrics(path, run(True, 2))
    bad = write_metrics(path, run(False, 3))
    assert bad.last_success_timestamp == good.last_success_timestamp
    values = samples(open(path, encoding="utf-8").read())
    assert values["glance_manager_images_failed"] == "1"
    assert values["glance_manager_last_run_success"] == "0"
    assert float(values["glance_manager_last_success_timestamp_seconds"]) == good.run_timestamp
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(tmp_path) == ["glance_manager.prom"]  # no temp file left behind


def test_first_run_failing_has_no_success_sample(tmp_path):
    path = str(tmp_path / "m.prom")
    write_metrics(path, run(False, 3))
    assert parse_last_success(open(path, encoding="utf-8").read()) is None


def test_unwritable_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot write metrics file"):
        write_metrics(str(tmp_path / "missing" / "m.prom"), run(True, 2))
