# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The run's numbers in the Prometheus text exposition format, for node_exporter's text-file
collector. The file is replaced atomically (temp file + rename in the same directory), so the
collector never reads half a file. The last success time survives failed runs: it is read back
from the previous file.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from typing import List, Optional, Tuple

from glancing.errors import UsageError
from glancing.manager.report import RunReport

PREFIX = "glance_manager"
_LAST_SUCCESS = f"{PREFIX}_last_success_timestamp_seconds"
_SAMPLE = re.compile(rf"^{_LAST_SUCCESS}(?:\{{\}})?\s+(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class RunMetrics:
    """The values written to the metrics file."""

    checked: int
    imported: int
    failed: int
    refused: int
    bytes_uploaded: int
    duration_seconds: float
    run_timestamp: float
    success: bool
    last_success_timestamp: Optional[float]

    @classmethod
    def from_report(cls, report: RunReport, previous_success: Optional[float] = None) -> "RunMetrics":
        """Metrics of a finished report; a failed run keeps ``previous_success``."""
        counts = report.counts()
        end = (report.finished or report.started).timestamp()
        return cls(
            checked=counts["checked"], imported=counts["imported"], failed=counts["failed"],
            refused=counts["refused"], bytes_uploaded=report.bytes_uploaded,
            duration_seconds=report.duration, run_timestamp=end, success=report.succeeded,
            last_success_timestamp=end if report.succeeded else previous_success)


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) and not value.is_integer() else str(int(value))


def render_metrics(m: RunMetrics) -> str:
    """The exposition text (HELP, TYPE and one sample per metric, newline-terminated)."""
    rows: List[Tuple[str, str, float]] = [
        ("images_checked", "Listed marketplace IDs checked in the last run.", m.checked),
        ("images_imported", "Images uploaded (first imports and upgrades) in the last run.", m.imported),
        ("images_failed", "Listed IDs that failed in the last run.", m.failed),
        ("images_refused", "Listed IDs refused in the last run (downgrade, conflict).", m.refused),
        ("uploaded_bytes", "Bytes uploaded to Glance in the last run.", m.bytes_uploaded),
        ("run_duration_seconds", "Wall time of the last run.", m.duration_seconds),
        ("last_run_timestamp_seconds", "Unix time the last run finished.", m.run_timestamp),
        ("last_run_success", "1 when the last run had no failure or refusal, else 0.", 1 if m.success else 0),
    ]
    if m.last_success_timestamp is not None:
        rows.append(("last_success_timestamp_seconds", "Unix time the last successful run finished.",
                     m.last_success_timestamp))
    out = []
    for name, help_text, value in rows:
        full = f"{PREFIX}_{name}"
        out += [f"# HELP {full} {help_text}", f"# TYPE {full} gauge", f"{full} {_number(value)}"]
    return "\n".join(out) + "\n"


def parse_last_success(text: str) -> Optional[float]:
    """The last success time in a previous metrics file's text, or None. Raises nothing."""
    match = _SAMPLE.search(text)
    if not match:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


def read_last_success(path: str) -> Optional[float]:
    """The last success time from the metrics file at ``path``; None when absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_last_success(handle.read())
    except (OSError, UnicodeDecodeError):
        return None


def write_atomically(path: str, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` via a temp file in the same directory and a rename.

    Raises UsageError when the directory is missing or not writable.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".glance_manager-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UsageError(f"cannot write metrics file {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; the collector may run as another user
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise UsageError(f"cannot write metrics file {path}: {exc.strerror or exc}") from exc


def check_metrics_path(path: str) -> None:
    """Refuse, before a run, a metrics file that could not be written after it: the run's own exit
    code must not be hidden by a usage error at the end. Raises UsageError."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--metrics {path}: is a directory")
    if not os.path.isdir(directory):
        raise UsageError(f"--metrics {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"--metrics {path}: directory {directory} is not writable")


def write_metrics(path: str, report: RunReport) -> RunMetrics:
    """Write the metrics of ``report`` to ``path`` (keeping the previous last success time on a
    failed run) and return them. Raises UsageError when the file cannot be written."""
    metrics = RunMetrics.from_report(report, read_last_success(path))
    write_atomically(path, render_metrics(metrics))
    return metrics
