# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""``glance_manager --os-cloud A --os-cloud B`` (or ``[glance] clouds``): the marketplace lists
synced into every cloud, one after the other, each with its own report; one cloud failing does
not stop the others. Subscriptions keep one Glance id per image, so they follow one cloud only."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any, Callable, Dict, List, Sequence

from glancing import errors
from glancing.cli import common
from glancing.errors import UsageError


def sync_each(args: argparse.Namespace, clouds: Sequence[str], request: Any,
              connect_to: Callable[[str], Any], fetcher: Any) -> int:
    """Run ``request`` against each cloud in turn; the run's code is the clouds' combined one
    (0, the one failure's code, or 8 when several parts failed)."""
    from glancing.cli.manager_sync import combined_code
    from glancing.manager import service

    if request.subscriptions is not None:
        raise UsageError("subscriptions follow one cloud: run `glance_manager sync` with one --os-cloud "
                         "(several clouds are for the -l marketplace lists)")
    if not request.lists:
        raise UsageError("several clouds: give the marketplace lists to sync (-l LIST)")
    reports: Dict[str, Any] = {}
    codes: List[int] = []
    for cloud in clouds:
        metrics = request.metrics_file and f"{request.metrics_file}.{cloud}"
        report = service.run_sync(replace(request, metrics_file=metrics), connect_to(cloud), fetcher)
        reports[cloud] = report
        codes.append(report.exit_code())
    # A cloud that failed beside one that did not is a partial failure, whatever its own code.
    code = combined_code(codes) if errors.OK not in codes else combined_code([c and errors.PARTIAL for c in codes])
    if args.json:
        common.print_json({"clouds": {c: r.to_dict() for c, r in reports.items()},
                           "failed": [c for c, r in reports.items() if r.exit_code() != errors.OK],
                           "exit_code": code})
    elif not args.quiet:
        for cloud, report in reports.items():
            print(f"cloud {cloud}:")
            print(report.summary())
    return code


__all__ = ["sync_each"]
