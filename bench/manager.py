# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""make bench: a no-op ``glance_manager`` run over N managed images against the lab Glance.

Builds N appliances directly in Glance (tiny distinct images, tagged and labelled as
glance_manager leaves them) and their signed records on a loopback marketplace, then runs
``glance_manager`` over the N IDs through a request-counting proxy and prints the wall time and
the Glance API requests. Target: a few seconds, and a request count that grows with the listing
pages (200 images a page), not with N. Keystone traffic is not counted. The images are deleted
at the end, also on failure. Needs the lab (`make lab-up`).

    .venv/bin/python bench/manager.py [--count 200] [--jobs 1 4]
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


def run_noop(work: Path, ids: List[str], market: MarketplaceServer, pki: Any, jobs: int) -> Tuple[float, List]:
    """One glance_manager run over ``ids`` through a counting proxy: (wall seconds, requests)."""
    image_list = work / "img_list.txt"
    image_list.write_text("".join(f"{i}\n" for i in ids))
    trust_file = work / "no-trust-file"
    trust_file.write_text("")
    proxy = CountingProxy(labconf.GLANCE_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(labconf.demo_env(), OS_IMAGE_ENDPOINT_OVERRIDE=proxy.url)
    argv = [str(BIN / "glance_manager"), "-q", "-l", str(image_list), "-u", market.base,
            "--ca-dir", str(pki.ca_dirs["valid"]), "--endorser", pki.good.subject_openssl,
            "--trust", str(trust_file), "--lock", str(work / "manager.lock"), "--jobs", str(jobs)]
    try:
        started = time.perf_counter()
        res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        proxy.stop()
    if res.returncode != 0:
        sys.exit(f"bench: glance_manager failed ({res.returncode}): {res.stderr.strip()[-800:]}")
    return elapsed, list(proxy.requests)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="managed images (default 200)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 4], help="--jobs values to time")
    args = parser.parse_args()
    glance = glance_client()
    prefix = f"bench-manager-{uuid.uuid4().hex[:8]}"
    market = MarketplaceServer()
    with tempfile.TemporaryDirectory(prefix="glancing-bench-") as tmp:
        work = Path(tmp)
        try:
            pki = make_pki(work / "pki")
            started = time.perf_counter()
            ids = build_fleet(glance, market, pki.good, work / "fleet", args.count, prefix)
            print(f"glance_manager no-op: built {args.count} managed images in {time.perf_counter() - started:.1f} s")
            for jobs in args.jobs:
                elapsed, requests = run_noop(work, ids, market, pki, jobs)
                print(f"glance_manager no-op over {args.count} images, --jobs {jobs}: {elapsed:.2f} s wall, "
                      f"{len(requests)} Glance API requests ({describe(requests)})")
        finally:
            removed = delete_fleet(glance, prefix)
            market.stop()
            print(f"glance_manager no-op: removed {removed} bench images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
