# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""make bench: a no-op ``glance_manager`` run over N managed images against the lab Glance.

Builds N appliances directly in Glance (tiny distinct images, tagged and labelled as
glance_manager leaves them) and their signed records on a loopback marketplace, then runs
``glance_manager`` over the N IDs through a request-counting proxy and prints the wall time and
the Glance API requests. Target: a few seconds, and a request count that grows with the listing
pages (200 images a page), not with N. Keystone traffic is not counted.

Each N is timed twice: with an empty database (every record fetched and verified: signature,
chain, CRL, as without a database) and with the database a first run filled: the no-op run then
costs one conditional GET per ID (issue 11: 800 IDs in at most 5 s). The images are
deleted at the end, also on failure. Needs the lab (`make lab-up`).

First, for each N, the records' share alone (no Glance): N signed records fetched and verified
with an empty database, then again with the database that pass filled. On a lab other test
sessions share, their cleanup may delete the fleet mid-run: the run then fails naming the
vanished images' dead locations.

    .venv/bin/python bench/manager.py [--count 200 800] [--jobs 1 4] [--records-only]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(TOP / "test"), str(TOP / "test" / "lab")]
import labconf  # noqa: E402  (stdlib-only lab settings)
from manager_helpers import CountingProxy, build_fleet  # noqa: E402
from marketplace import MarketplaceServer  # noqa: E402
from trustkit import make_pki  # noqa: E402


def glance_client() -> Any:
    """A glanceclient v2 client as the lab's demo user (the user glance_manager runs as)."""
    from glanceclient import Client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    who = labconf.DEMO
    auth = v3.Password(auth_url=labconf.AUTH_URL, username=who["username"], password=who["password"],
                       project_name=who["project"], user_domain_name="Default", project_domain_name="Default")
    return Client("2", session=session.Session(auth=auth))


def run_noop(work: Path, ids: List[str], market: MarketplaceServer, pki: Any, jobs: int,
             db: Path) -> Tuple[float, List]:
    """One glance_manager run over ``ids`` with database ``db`` through a counting proxy: (wall
    seconds, requests). A new, empty database costs what a run without one costs."""
    image_list = work / "img_list.txt"
    image_list.write_text("".join(f"{i}\n" for i in ids))
    trust_file = work / "no-trust-file"
    if not trust_file.exists():  # written once: its mtime is one of a kept verdict's inputs
        trust_file.write_text("")
    proxy = CountingProxy(labconf.GLANCE_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    # A no-op run downloads nothing; should an image have vanished (another lab user's cleanup),
    # its record's dead location fails at once instead of after every retry.
    env.update(labconf.demo_env(), OS_IMAGE_ENDPOINT_OVERRIDE=proxy.url, GLANCING_FETCH_RETRIES="0")
    argv = [str(BIN / "glance_manager"), "-q", "-l", str(image_list), "-u", market.base,
            "--ca-dir", str(pki.ca_dirs["valid"]), "--endorser", pki.good.subject_openssl,
            "--trust", str(trust_file), "--lock", str(work / "manager.lock"), "--jobs", str(jobs),
            "--db", str(db)]
    res, elapsed = timed_run(argv, env, proxy)
    if res.returncode != 0:
        sys.exit(f"bench: glance_manager failed ({res.returncode}): {res.stderr.strip()[-800:]}")
    return elapsed, list(proxy.requests)


def timed_run(argv: List[str], env: Dict[str, str], proxy: Any) -> Tuple[subprocess.CompletedProcess, float]:
    """Run ``argv`` once, timed; the counting ``proxy`` is stopped whatever happens."""
    try:
        started = time.perf_counter()
        res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        return res, time.perf_counter() - started
    finally:
        proxy.stop()


def delete_fleet(glance: Any, prefix: str) -> int:
    mine = [i["id"] for hidden in (False, True)
            for i in glance.images.list(filters={"tag": ["glancing"], "os_hidden": hidden})
            if str(i.get("name", "")).startswith(prefix)]
    for image_id in mine:
        glance.images.delete(image_id)
    return len(mine)


def describe(requests: List[Tuple[str, str]]) -> str:
    kinds: Dict[str, int] = {}
    for method, path in requests:
        key = f"{method} {path.split('?')[0]}"
        kinds[key] = kinds.get(key, 0) + 1
    return ", ".join(f"{n}x {k}" for k, n in sorted(kinds.items()))


def bench_count(glance: Any, count: int, jobs_values: List[int]) -> None:
    """Build ``count`` managed images, time the no-op runs, remove the images."""
    prefix = f"bench-manager-{uuid.uuid4().hex[:8]}"
    market = MarketplaceServer()
    with tempfile.TemporaryDirectory(prefix="glancing-bench-") as tmp:
        work = Path(tmp)
        try:
            pki = make_pki(work / "pki")
            started = time.perf_counter()
            ids = build_fleet(glance, market, pki.good, work / "fleet", count, prefix)
            print(f"glance_manager no-op: built {count} managed images in {time.perf_counter() - started:.1f} s")
            kept = work / "kept.db"
            run_noop(work, ids, market, pki, max(jobs_values), kept)  # verifies and keeps every record
            for jobs in jobs_values:
                for label, db in (("every record verified", work / f"empty-{jobs}.db"), ("records kept", kept)):
                    elapsed, requests = run_noop(work, ids, market, pki, jobs, db)
                    print(f"glance_manager no-op over {count} images, --jobs {jobs}, {label}: {elapsed:.2f} s wall "
                          f"({1000 * elapsed / count:.1f} ms per ID), {len(requests)} Glance API requests "
                          f"({describe(requests)})")
        finally:
            removed = delete_fleet(glance, prefix)
            market.stop()
            print(f"glance_manager no-op: removed {removed} bench images")


def time_records(count: int) -> None:
    """The records' share of a no-op run, without Glance: ``count`` signed records fetched and
    verified (empty database), then reused (the database the first pass filled)."""
    import hashlib

    from glancing.manager.verified import VerifiedRecords
    from glancing.sources import SourceSettings
    from glancing.subscriptions.db import Database
    from glancing.trust.policy import TrustPolicy
    from marketplace import signed_record

    market = MarketplaceServer()
    with tempfile.TemporaryDirectory(prefix="glancing-bench-") as tmp:
        work = Path(tmp)
        try:
            pki = make_pki(work / "pki")
            ids = []
            for n in range(count):
                path = work / f"{n}.img"
                path.write_bytes(hashlib.sha512(f"records/{n}".encode()).digest() * 64)
                ids.append(market.publish(signed_record(pki.good, path, ["http://127.0.0.1:9/x"], title=f"r{n}")))
            (work / "trust").write_text("")
            policy = TrustPolicy.from_options(ca_dir=str(pki.ca_dirs["valid"]), trust_file=str(work / "trust"),
                                              endorsers=[pki.good.subject_openssl])
            settings = SourceSettings(policy=policy, marketplace_url=market.base)
            db = Database.open(str(work / "glancing.db"))
            for label in ("every record verified", "records kept"):
                started = time.perf_counter()
                records = VerifiedRecords(db.conn, settings)
                for mpid in ids:
                    records(mpid)
                records.close()
                elapsed = time.perf_counter() - started
                print(f"marketplace records of a no-op run, {count} IDs, {label}: {elapsed:.2f} s "
                      f"({1000 * elapsed / count:.1f} ms per ID; {records.counts})")
            db.conn.close()
        finally:
            market.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, nargs="+", default=[200, 800], help="managed images (default 200 800)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 4], help="--jobs values to time")
    parser.add_argument("--records-only", action="store_true", help="time the records' share only (no Glance)")
    args = parser.parse_args()
    for count in args.count:
        time_records(count)
    if args.records_only:
        return 0
    glance = glance_client()
    for count in args.count:
        bench_count(glance, count, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
